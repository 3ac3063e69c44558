//! The SMTP transport (lettre): a pooled connection to the configured relay,
//! STARTTLS or implicit TLS with certificate verification (never the
//! opportunistic mode that silently falls back to plaintext), AUTH when a
//! username is set. 4xx replies and connection trouble are retried by the
//! outbox; 5xx replies are permanent. The password is read again before each
//! send; when it changed (a rotated secret), the connection pool is rebuilt
//! with it, so the next connection logs in with the new one.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::Mailboxes;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::SendError;
use crate::config::{Endpoint, TlsMode};
use crate::store::DueMail;

pub struct SmtpTransport {
    endpoint: Endpoint,
    tls: Tls,
    /// The pool, and a digest of the password it logs in with.
    current: std::sync::Mutex<(Option<[u8; 32]>, AsyncSmtpTransport<Tokio1Executor>)>,
}

/// A digest, so the password itself is kept only inside lettre's credentials.
fn digest(password: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(password.as_bytes()).into()
}

impl SmtpTransport {
    /// Builds the transport; errors name the config key. A missing secret
    /// stops start-up here.
    pub fn new(endpoint: Endpoint) -> Result<SmtpTransport, String> {
        let tls = match endpoint.tls {
            TlsMode::None => Tls::None,
            mode => {
                let mut params = TlsParameters::builder(endpoint.host.clone());
                if let Some(ca) = &endpoint.ca_file {
                    let pem = std::fs::read(ca).map_err(|e| {
                        format!("key outbound.ca_file: cannot read {}: {e}", ca.display())
                    })?;
                    let cert = Certificate::from_pem(&pem).map_err(|e| {
                        format!(
                            "key outbound.ca_file: {} is not a PEM certificate: {e}",
                            ca.display()
                        )
                    })?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build_rustls()
                    .map_err(|e| format!("key outbound.tls: TLS setup failed: {e}"))?;
                if mode == TlsMode::Implicit {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let password = SmtpTransport::password(&endpoint)?;
        let mailer = SmtpTransport::build(&endpoint, tls.clone(), password.as_deref());
        Ok(SmtpTransport {
            current: std::sync::Mutex::new((password.as_deref().map(digest), mailer)),
            tls,
            endpoint,
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

    fn build(
        endpoint: &Endpoint,
        tls: Tls,
        password: Option<&str>,
    ) -> AsyncSmtpTransport<Tokio1Executor> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)
            .port(endpoint.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(60)));
        if let (Some(user), Some(password)) = (&endpoint.username, password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
        }
        builder.build()
    }

    /// The pool to send with, rebuilt when the password changed since.
    fn mailer(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let password = SmtpTransport::password(&self.endpoint).map_err(SendError::Transient)?;
        let wanted = password.as_deref().map(digest);
        let mut current = match self.current.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if current.0 != wanted {
            tracing::info!(server = %self.endpoint.address(), "SMTP password changed: reconnecting with the new one");
            *current = (
                wanted,
                SmtpTransport::build(&self.endpoint, self.tls.clone(), password.as_deref()),
            );
        }
        Ok(current.1.clone())
    }

    pub async fn send(&self, mail: &DueMail, raw: &[u8]) -> Result<(), SendError> {
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
        let mailer = self.mailer()?;
        match mailer.send_raw(&envelope, raw).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let msg = format!("{}: {e}", self.endpoint.address());
                if e.is_permanent() {
                    Err(SendError::Permanent(msg))
                } else {
                    Err(SendError::Transient(msg))
                }
            }
        }
    }
}
