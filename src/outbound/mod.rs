//! Sending what the pipeline queued: the outbox worker, its transports and the
//! templates' rendering. Must not import `inbound`, `digest` or `server`.

mod file;
mod handover;
mod render;
mod smtp;
mod worker;

use std::time::Duration;

use crate::config::{Config, OutboundKind};
use crate::error::{Error, Result};
use crate::store::DueMail;

pub use crate::mail::delivery::{Refusal, describe_refusals, envelope_recipients};
pub use file::FileTransport;
pub use handover::Handover;
pub use render::{Rendered, Renderer};
pub use smtp::SmtpTransport;
pub use worker::{FlushReport, Stop, flush};

/// How a transport failed: worth retrying, or never going to work.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("temporary: {0}")]
    Transient(Failure),
    #[error("permanent: {0}")]
    Permanent(Failure),
}

/// What went wrong, with the server's reply code when it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The SMTP reply code (550, 451, …); None for connection trouble.
    pub code: Option<u16>,
    /// The server's own words when it answered ("5.6.0 content refused"),
    /// else what went wrong and where.
    pub text: String,
    /// Recipients the server refused on their own at RCPT time, each with its
    /// reply (some may be temporary, some permanent). When it refused every
    /// one this is the whole story; otherwise the rest failed with `text`.
    pub refused: Vec<Refusal>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "{code} {}", self.text),
            None => f.write_str(&self.text),
        }
    }
}

impl SendError {
    pub fn transient(text: impl Into<String>) -> SendError {
        SendError::Transient(Failure::new(None, text))
    }

    pub fn permanent(text: impl Into<String>) -> SendError {
        SendError::Permanent(Failure::new(None, text))
    }

    pub fn failure(&self) -> &Failure {
        match self {
            SendError::Transient(f) | SendError::Permanent(f) => f,
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }

    /// The SMTP reply code, when the server gave one.
    pub fn code(&self) -> Option<u16> {
        self.failure().code
    }
}

impl Failure {
    pub fn new(code: Option<u16>, text: impl Into<String>) -> Failure {
        Failure {
            code,
            text: text.into(),
            refused: Vec::new(),
        }
    }
}

/// What one send did, per recipient: the mail's data went to `accepted`;
/// `refused` did not get it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub accepted: Vec<String>,
    pub refused: Vec<Refusal>,
}

enum Channel {
    File(FileTransport),
    Smtp(Box<SmtpTransport>),
}

/// Where outgoing mail goes, and how soon a failed send is tried again.
pub struct Transport {
    channel: Channel,
    /// Delay before the first retry; it doubles per attempt (`retry_delay`).
    pub(crate) retry_first: Duration,
}

impl Transport {
    pub fn from_config(cfg: &Config) -> Result<Transport> {
        let retry_first = cfg
            .outbound
            .retry_first
            .as_deref()
            .and_then(|s| crate::config::parse_duration(s).ok())
            .unwrap_or(DEFAULT_RETRY_FIRST);
        Ok(Transport {
            channel: Transport::channel(cfg)?,
            retry_first,
        })
    }

    fn channel(cfg: &Config) -> Result<Channel> {
        match cfg.outbound.kind {
            OutboundKind::File => {
                let path = cfg
                    .outbound
                    .path
                    .clone()
                    .unwrap_or_else(|| "./mail/outbox".into());
                Ok(Channel::File(FileTransport::new(path)))
            }
            OutboundKind::Smtp => {
                let fail = |message: String| Error::Config {
                    file: cfg.source_name(),
                    message,
                };
                let endpoint = cfg.outbound.endpoint().map_err(fail)?;
                Ok(Channel::Smtp(Box::new(
                    SmtpTransport::new(endpoint).map_err(fail)?,
                )))
            }
        }
    }

    /// Sends one mail to `recipients` (the row's envelope recipients, or
    /// those still waiting for it after a temporary refusal). SMTP calls
    /// `handover` just before the mail's final dot; a file is written whole
    /// under a name of its own, so writing it again after a crash replaces it
    /// (no hand-over needed) and refuses nobody.
    pub async fn send(
        &self,
        mail: &DueMail,
        recipients: &[String],
        raw: &[u8],
        handover: Handover,
    ) -> std::result::Result<Delivery, SendError> {
        match &self.channel {
            Channel::File(t) => {
                t.send(mail, raw).await?;
                Ok(Delivery {
                    accepted: recipients.to_vec(),
                    refused: Vec::new(),
                })
            }
            Channel::Smtp(t) => t.send(mail, recipients, raw, handover).await,
        }
    }
}

/// Exponential backoff: 1 min, 2, 4, … capped at 4 h; give up after 12 attempts
/// (about two days), like an MTA's queue lifetime.
pub const MAX_ATTEMPTS: i64 = 12;
const DEFAULT_RETRY_FIRST: Duration = Duration::from_secs(60);
const RETRY_CAP: Duration = Duration::from_secs(4 * 3600);

/// The wait before attempt `attempts + 1`: `first`, doubling, capped at 4 h.
pub fn retry_delay(first: Duration, attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 16) as u32 - 1;
    first.saturating_mul(1u32 << exp).min(RETRY_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let first = DEFAULT_RETRY_FIRST;
        assert_eq!(retry_delay(first, 1), Duration::from_secs(60));
        assert_eq!(retry_delay(first, 2), Duration::from_secs(120));
        assert_eq!(retry_delay(first, 5), Duration::from_secs(960));
        assert_eq!(retry_delay(first, 50), Duration::from_secs(4 * 3600));
        assert_eq!(
            retry_delay(Duration::from_secs(1), 3),
            Duration::from_secs(4)
        );
    }
}
