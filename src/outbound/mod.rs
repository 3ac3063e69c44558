//! Sending what the pipeline queued: the outbox worker and its transports.

pub mod digest;
mod file;
mod handover;
mod render;
mod smtp;
mod worker;

use std::time::Duration;

use crate::config::{Config, OutboundKind};
use crate::error::{Error, Result};
use crate::store::DueMail;

pub use file::FileTransport;
pub use handover::Handover;
pub use render::{Rendered, Renderer};
pub use smtp::SmtpTransport;
pub use worker::{FlushReport, Stop, flush};

/// How a transport failed: worth retrying, or never going to work.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("temporary: {0}")]
    Transient(String),
    #[error("permanent: {0}")]
    Permanent(String),
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

    /// Sends one mail. SMTP calls `handover` just before the mail's final dot;
    /// a file is written whole under a name of its own, so writing it again
    /// after a crash replaces it (no hand-over needed).
    pub async fn send(
        &self,
        mail: &DueMail,
        raw: &[u8],
        handover: Handover,
    ) -> std::result::Result<(), SendError> {
        match &self.channel {
            Channel::File(t) => t.send(mail, raw).await,
            Channel::Smtp(t) => t.send(mail, raw, handover).await,
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
