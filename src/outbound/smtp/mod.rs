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
//!
//! mailroom speaks the transaction itself (lettre's `send` gives up on the
//! first refused RCPT): one RCPT per recipient, the refused ones noted with
//! the server's reply, and the data goes to those the server took
//! (transaction.rs).

mod transaction;

use transaction::Recipient;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::handover::{self, Gate, Gated, Handover};
use super::{Delivery, Failure, Refusal, SendError};
use crate::config::{Endpoint, TlsMode};
use crate::mail::address::EmailAddress;
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
        // May carry a server's words (STARTTLS, a reply lettre could not parse).
        let msg = clean(&format!("{}: {e}", self.endpoint.address()));
        if permanent {
            SendError::permanent(msg)
        } else {
            SendError::transient(msg)
        }
    }

    /// A lettre error: the server's reply (code and its own words) when it
    /// answered, else what went wrong where.
    fn lettre_failed(&self, e: &lettre::transport::smtp::Error) -> SendError {
        match e.status() {
            Some(code) => SendError::reply(u16::from(code), reply_text(e)),
            None => self.failed(e, false),
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
        let lettre_err = |e: lettre::transport::smtp::Error| self.lettre_failed(&e);
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
                        SendError::transient(crate::net::describe_tls_error(&ep.address(), &e))
                    })?;
                Box::new(Gated::new(TlsStream(tls), gate))
            }
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(lettre_err)?;
        if let (Some(user), Some(password)) = (
            &ep.username,
            SmtpTransport::password(ep).map_err(SendError::transient)?,
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

    /// Sends one mail to `recipients`; `handover` records it as handed over
    /// just before its final dot (handover.rs). Recipients the server refuses
    /// are returned with its reply; the others get the mail. When it refuses
    /// every one: a permanent error if every refusal is permanent (5xx), else
    /// a temporary one; each refusal is in the error's `refused`.
    pub async fn send(
        &self,
        mail: &DueMail,
        recipients: &[EmailAddress],
        raw: &[u8],
        handover: Handover,
    ) -> Result<Delivery, SendError> {
        let from: Address = mail
            .sender
            .parse()
            .map_err(|e| SendError::permanent(format!("sender {:?}: {e}", mail.sender)))?;
        let (to, mut refused) = envelope_addresses(recipients);
        if to.is_empty() {
            return Err(none_accepted(refused));
        }

        let mut idle = self.idle.lock().await;
        let mut conn = self.connection(&mut idle).await?;
        self.gate.arm(handover);
        let sent =
            tokio::time::timeout(SEND_TIMEOUT, self.transaction(&mut conn, &from, &to, raw)).await;
        self.gate.disarm();
        let attempt = match sent {
            Ok(a) => a,
            Err(_) => {
                conn.abort().await;
                return Err(self.failed("the server did not answer within 5 minutes", false));
            }
        };
        refused.extend(attempt.refused);
        match attempt.error {
            None => {
                *idle = Some(conn);
                if attempt.accepted.is_empty() {
                    return Err(none_accepted(refused));
                }
                Ok(Delivery {
                    accepted: attempt.accepted,
                    refused,
                })
            }
            Some(mut e) => {
                conn.abort().await;
                // Those refused at RCPT keep their own reply; the error is
                // the others'.
                match &mut e {
                    SendError::Transient(f) | SendError::Permanent(f) => f.refused = refused,
                }
                Err(e)
            }
        }
    }

    /// The kept connection, checked (NOOP) first: the server may have closed
    /// it while idle; else a new one.
    async fn connection(
        &self,
        idle: &mut Option<AsyncSmtpConnection>,
    ) -> Result<AsyncSmtpConnection, SendError> {
        let kept = match idle.take() {
            Some(mut c) if !c.has_broken() => c.test_connected().await.then_some(c),
            _ => None,
        };
        match kept {
            Some(c) => Ok(c),
            None => self.connect().await,
        }
    }
}

/// The recipients as envelope addresses. An address that cannot go into an
/// envelope is refused alone; the others are still sent to.
fn envelope_addresses(recipients: &[EmailAddress]) -> (Vec<Recipient>, Vec<Refusal>) {
    let mut refused = Vec::new();
    let mut to = Vec::with_capacity(recipients.len());
    for r in recipients {
        match r.as_str().parse::<Address>() {
            Ok(a) => to.push((r.to_string(), a)),
            Err(e) => refused.push(Refusal {
                address: r.to_string(),
                code: None,
                text: format!("not a valid address: {e}"),
                permanent: true,
            }),
        }
    }
    (to, refused)
}

/// The server's own words of a negative reply ("5.1.1 <b@x.test>: …"),
/// cleaned (`clean`).
fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    clean(
        &std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string()),
    )
}

/// Longest server text kept (a reply may run to several KB).
const MAX_REPLY_CHARS: usize = 1000;

/// What a server says goes on into events, `last_error`, logs and the mail
/// that tells an agent: cleaned where it enters mailroom, so no bare CR, LF
/// or ESC (a forged line, a terminal escape) gets through.
fn clean(text: &str) -> String {
    crate::mail::compose::header_text(text, MAX_REPLY_CHARS)
}

/// Every recipient refused: permanent only when every refusal is.
fn none_accepted(refused: Vec<Refusal>) -> SendError {
    let text = format!(
        "every recipient was refused: {}",
        super::describe_refusals(&refused)
    );
    let permanent = refused.iter().all(|r| r.permanent);
    // Each refusal keeps its own reply code.
    let f = Failure {
        code: None,
        text,
        refused,
    };
    if permanent {
        SendError::Permanent(f)
    } else {
        SendError::Transient(f)
    }
}
