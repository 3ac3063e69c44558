//! Opening an authenticated IMAP session: TCP, then implicit TLS or STARTTLS
//! (never a silent fallback to plaintext), then LOGIN or AUTHENTICATE PLAIN.

use std::fmt;
use std::time::Duration;

use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{Endpoint, ImapAuth, Secret, TlsMode};

use super::ImapError;

/// Any byte stream the session runs over (plain TCP on loopback, or TLS).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}

pub type ImapSession = Session<Box<dyn Io>>;

/// Every network step is bounded: a server that stops answering is an error
/// (and a reconnect), never a poller hung forever.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn timed<T, E: Into<ImapError>>(
    what: &'static str,
    fut: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(ImapError::Timeout(what)),
    }
}

/// Connects and logs in. The password is read now (a rotated secret applies
/// on the next reconnect) and appears in no log or error.
pub async fn open(ep: &Endpoint, auth: ImapAuth) -> Result<ImapSession, ImapError> {
    let addr = ep.address();
    let user = ep.username.clone().unwrap_or_default();
    let password = ep
        .password
        .read(&ep.key)
        .map_err(ImapError::Config)?
        .ok_or_else(|| ImapError::Config(format!("key {}.password_env: not set", ep.key)))?;

    let tcp = connect_tcp(ep, &addr).await?;
    let client = start(ep, tcp, &addr).await?;
    login(client, auth, user, &password, addr).await
}

/// The TCP connection to the server, without Nagle's delay.
async fn connect_tcp(ep: &Endpoint, addr: &str) -> Result<TcpStream, ImapError> {
    let tcp = timed("connect", async {
        TcpStream::connect((
            ep.host.trim_start_matches('[').trim_end_matches(']'),
            ep.port,
        ))
        .await
        .map_err(|e| ImapError::Connect {
            addr: addr.to_string(),
            message: e.to_string(),
        })
    })
    .await?;
    tcp.set_nodelay(true).ok();
    Ok(tcp)
}

/// The client after the greeting, over TLS unless `tls = "none"`.
async fn start(
    ep: &Endpoint,
    tcp: TcpStream,
    addr: &str,
) -> Result<Client<Box<dyn Io>>, ImapError> {
    let client: Client<Box<dyn Io>> = match ep.tls {
        TlsMode::Implicit => {
            let tls = tls_wrap(ep, tcp).await?;
            let mut client = Client::new(Box::new(tls) as Box<dyn Io>);
            greeting(&mut client, addr).await?;
            client
        }
        TlsMode::Starttls => {
            let mut plain = Client::new(tcp);
            greeting(&mut plain, addr).await?;
            // A server that refuses STARTTLS is an error: falling back to
            // plaintext would hand the password to whoever stripped it.
            timed("STARTTLS", plain.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|e| ImapError::Tls {
                    message: format!(
                        "{addr} refused STARTTLS ({e}); not falling back to plaintext"
                    ),
                })?;
            let tls = tls_wrap(ep, plain.into_inner()).await?;
            // No greeting after STARTTLS (RFC 3501 §6.2.1).
            Client::new(Box::new(tls) as Box<dyn Io>)
        }
        TlsMode::None => {
            let mut client = Client::new(Box::new(tcp) as Box<dyn Io>);
            greeting(&mut client, addr).await?;
            client
        }
    };
    Ok(client)
}

/// LOGIN or AUTHENTICATE PLAIN; a refusal is `ImapError::Auth`.
async fn login(
    client: Client<Box<dyn Io>>,
    auth: ImapAuth,
    user: String,
    password: &Secret,
    addr: String,
) -> Result<ImapSession, ImapError> {
    let login = async {
        match auth {
            ImapAuth::Login => client.login(&user, password.expose()).await,
            ImapAuth::Plain => {
                client
                    .authenticate(
                        "PLAIN",
                        PlainAuth {
                            user: &user,
                            password: password.expose(),
                        },
                    )
                    .await
            }
        }
    };
    match tokio::time::timeout(COMMAND_TIMEOUT, login).await {
        Err(_) => Err(ImapError::Timeout("login")),
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _client))) => Err(match e {
            async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m) => ImapError::Auth {
                user,
                addr,
                message: m,
            },
            other => ImapError::from(other),
        }),
    }
}

async fn greeting<T: Io>(client: &mut Client<T>, addr: &str) -> Result<(), ImapError> {
    match timed("greeting", async {
        client.read_response().await.map_err(ImapError::from)
    })
    .await?
    {
        Some(_) => Ok(()),
        None => Err(ImapError::Connect {
            addr: addr.to_string(),
            message: "connection closed before the server greeting".into(),
        }),
    }
}

async fn tls_wrap(
    ep: &Endpoint,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let config = crate::net::client_config(ep).map_err(ImapError::Config)?;
    let name = crate::net::server_name(&ep.host).map_err(ImapError::Config)?;
    let connector = tokio_rustls::TlsConnector::from(config);
    timed("TLS handshake", async {
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| ImapError::Tls {
                message: crate::net::describe_tls_error(&ep.address(), &e),
            })
    })
    .await
}

/// SASL PLAIN (RFC 4616): authzid empty, then user and password.
struct PlainAuth<'a> {
    user: &'a str,
    password: &'a str,
}

impl async_imap::Authenticator for PlainAuth<'_> {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.user.len() + self.password.len() + 2);
        out.push(0);
        out.extend_from_slice(self.user.as_bytes());
        out.push(0);
        out.extend_from_slice(self.password.as_bytes());
        out
    }
}
