//! The SMTP transport: lettre's SMTP client over a connection mailroom opens
//! itself, so it can set TCP_NODELAY (lettre writes a mail's data and its
//! final dot separately; with Nagle's algorithm every mail then waits ~40 ms
//! for the server's delayed ACK). One connection is kept open and reused
//! between mails (the worker sends one at a time); a broken one is dropped.
//!
//! TLS is STARTTLS or implicit, always with certificate verification (never
//! the opportunistic mode that silently falls back to plaintext); AUTH when a
//! username is set, with the password read at each connect (a rotated secret
//! applies to the next connection). 4xx replies and connection trouble are
//! retried by the outbox; 5xx replies are permanent.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::Mailboxes;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::SendError;
use super::handover::{self, Gate, Gated, Handover};
use crate::config::{Endpoint, TlsMode};
use crate::store::DueMail;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// A whole transaction (MAIL … the final dot's reply) may take this long.
const SEND_TIMEOUT: Duration = Duration::from_secs(300);

enum Security {
    None,
    /// STARTTLS, required (no fallback); spoken by mailroom (handover.rs).
    StartTls(Arc<tokio_rustls::rustls::ClientConfig>),
    /// TLS from the first byte, through tokio-rustls.
    Implicit(Arc<tokio_rustls::rustls::ClientConfig>),
}

pub struct SmtpTransport {
    endpoint: Endpoint,
    security: Security,
    hello: ClientId,
    /// The open connection, reused between mails.
    idle: tokio::sync::Mutex<Option<AsyncSmtpConnection>>,
    /// Holds each mail's final dot until its hand-over is recorded.
    gate: Gate,
}

/// An implicit-TLS stream that lettre's client can talk over.
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl SmtpTransport {
    /// Builds the transport; errors name the config key. A missing secret
    /// stops start-up here.
    pub fn new(endpoint: Endpoint) -> Result<SmtpTransport, String> {
        let security = match endpoint.tls {
            TlsMode::None => Security::None,
            TlsMode::Implicit => Security::Implicit(crate::net::client_config(&endpoint)?),
            TlsMode::Starttls => Security::StartTls(crate::net::client_config(&endpoint)?),
        };
        SmtpTransport::password(&endpoint)?;
        Ok(SmtpTransport {
            endpoint,
            security,
            hello: ClientId::default(),
            idle: tokio::sync::Mutex::new(None),
            gate: Gate::default(),
        })
    }

    /// The password as configured now (None without a username).
    fn password(endpoint: &Endpoint) -> Result<Option<String>, String> {
        if endpoint.username.is_none() {
            return Ok(None);
        }
        let secret = endpoint
            .password
            .read("outbound")?
            .ok_or_else(|| "key outbound.password_env: required with a username".to_string())?;
        Ok(Some(secret.expose().to_string()))
    }

    fn failed(&self, e: impl std::fmt::Display, permanent: bool) -> SendError {
        let msg = format!("{}: {e}", self.endpoint.address());
        if permanent {
            SendError::Permanent(msg)
        } else {
            SendError::Transient(msg)
        }
    }

    /// Opens, secures and authenticates a new connection.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let ep = &self.endpoint;
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((ep.host.as_str(), ep.port)),
        )
        .await
        .map_err(|_| self.failed("connect timed out", false))?
        .map_err(|e| self.failed(format!("connect: {e}"), false))?;
        tcp.set_nodelay(true)
            .map_err(|e| self.failed(format!("TCP_NODELAY: {e}"), false))?;
        let lettre_err = |e: lettre::transport::smtp::Error| self.failed(&e, e.is_permanent());
        let gate = self.gate.clone();
        let stream: Box<dyn AsyncTokioStream> = match &self.security {
            Security::None => Box::new(Gated::new(tcp, gate)),
            Security::StartTls(config) => {
                let tls =
                    handover::starttls(tcp, config.clone(), &ep.host, &self.hello.to_string())
                        .await
                        .map_err(|e| self.failed(e, false))?;
                Box::new(Gated::after_starttls(TlsStream(tls), gate))
            }
            Security::Implicit(config) => {
                let name = crate::net::server_name(&ep.host).map_err(|e| self.failed(e, true))?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| {
                        SendError::Transient(crate::net::describe_tls_error(&ep.address(), &e))
                    })?;
                Box::new(Gated::new(TlsStream(tls), gate))
            }
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(lettre_err)?;
        if let (Some(user), Some(password)) = (
            &ep.username,
            SmtpTransport::password(ep).map_err(SendError::Transient)?,
        ) {
            conn.auth(
                &[Mechanism::Plain, Mechanism::Login],
                &Credentials::new(user.clone(), password),
            )
            .await
            .map_err(lettre_err)?;
        }
        Ok(conn)
    }

    /// Sends one mail; `handover` records it as handed over just before its
    /// final dot (handover.rs).
    pub async fn send(
        &self,
        mail: &DueMail,
        raw: &[u8],
        handover: Handover,
    ) -> Result<(), SendError> {
        let permanent = |m: String| SendError::Permanent(m);
        let to: Mailboxes = mail
            .recipients
            .parse()
            .map_err(|e| permanent(format!("recipients {:?}: {e}", mail.recipients)))?;
        let from = mail
            .sender
            .parse()
            .map_err(|e| permanent(format!("sender {:?}: {e}", mail.sender)))?;
        let to: Vec<_> = to.into_iter().map(|m| m.email).collect();
        let envelope =
            Envelope::new(Some(from), to).map_err(|e| permanent(format!("envelope: {e}")))?;

        let mut idle = self.idle.lock().await;
        // A kept connection is checked (NOOP) first: the server may have
        // closed it while idle.
        let kept = match idle.take() {
            Some(mut c) if !c.has_broken() => c.test_connected().await.then_some(c),
            _ => None,
        };
        let mut conn = match kept {
            Some(c) => c,
            None => self.connect().await?,
        };
        self.gate.arm(handover);
        let sent = tokio::time::timeout(SEND_TIMEOUT, conn.send(&envelope, raw)).await;
        self.gate.disarm();
        match sent {
            Ok(Ok(_)) => {
                *idle = Some(conn);
                Ok(())
            }
            Ok(Err(e)) => {
                conn.abort().await;
                Err(self.failed(&e, e.is_permanent()))
            }
            Err(_) => {
                conn.abort().await;
                Err(self.failed("the server did not answer within 5 minutes", false))
            }
        }
    }
}
