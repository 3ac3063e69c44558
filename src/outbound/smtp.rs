//! The SMTP transport (lettre): a pooled connection to the configured relay,
//! STARTTLS or implicit TLS with certificate verification (never the
//! opportunistic mode that silently falls back to plaintext), AUTH when a
//! username is set. 4xx replies and connection trouble are retried by the
//! outbox; 5xx replies are permanent.

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
    mailer: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpTransport {
    /// Builds the transport; errors name the config key. The password is read
    /// here, once, and kept only inside lettre's credentials.
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
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)
            .port(endpoint.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(60)));
        if let Some(user) = &endpoint.username {
            let password = endpoint
                .password
                .read("outbound")?
                .ok_or_else(|| "key outbound.password_env: required with a username".to_string())?;
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(SmtpTransport {
            mailer: builder.build(),
            endpoint,
        })
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
        match self.mailer.send_raw(&envelope, raw).await {
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
