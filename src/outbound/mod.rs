//! Sending what the pipeline queued: the outbox worker and its transports.

mod file;
mod render;
mod smtp;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, OutboundKind};
use crate::error::{Error, Result};
use crate::store::{DueMail, Store};

pub use file::FileTransport;
pub use render::{Rendered, Renderer};
pub use smtp::SmtpTransport;

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
    retry_first: Duration,
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

    pub async fn send(&self, mail: &DueMail, raw: &[u8]) -> std::result::Result<(), SendError> {
        match &self.channel {
            Channel::File(t) => t.send(mail, raw).await,
            Channel::Smtp(t) => t.send(mail, raw).await,
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

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct FlushReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Sends everything that is due now, then returns. A mail is rendered on its
/// first attempt and the bytes are kept, so a retry sends the very same mail.
pub async fn flush(
    store: &Store,
    transport: &Transport,
    renderer: &Renderer,
    now: impl Fn() -> DateTime<Utc>,
) -> Result<FlushReport> {
    flush_until(store, transport, renderer, now, || false).await
}

/// `flush`, stopping between two mails once `stop()` says so (shutdown).
pub async fn flush_until(
    store: &Store,
    transport: &Transport,
    renderer: &Renderer,
    now: impl Fn() -> DateTime<Utc>,
    stop: impl Fn() -> bool,
) -> Result<FlushReport> {
    let mut report = FlushReport::default();
    while !stop() {
        let due = store
            .claim_due_outbox(now(), Duration::from_secs(300), 100)
            .await?;
        if due.is_empty() {
            return Ok(report);
        }
        for mail in due {
            if stop() {
                // Claimed but not sent: the lease runs out and the next run sends it.
                break;
            }
            let raw = match &mail.raw {
                Some(raw) => raw.clone(),
                None => match render(store, renderer, &mail, now()).await? {
                    Ok(raw) => raw,
                    Err(reason) => {
                        tracing::error!(outbox = mail.id, %reason, "cannot render; giving up on this mail");
                        store
                            .mark_failed(mail.id, &format!("cannot render: {reason}"), None)
                            .await?;
                        report.failed += 1;
                        continue;
                    }
                },
            };
            match transport.send(&mail, &raw).await {
                Ok(()) => {
                    store.mark_sent(mail.id, now()).await?;
                    report.sent += 1;
                    tracing::info!(outbox = mail.id, kind = %mail.kind, to = %mail.recipients, "sent");
                }
                Err(SendError::Transient(e)) if mail.attempts < MAX_ATTEMPTS => {
                    let at = now()
                        + chrono::Duration::from_std(retry_delay(
                            transport.retry_first,
                            mail.attempts,
                        ))
                        .unwrap_or_default();
                    tracing::warn!(outbox = mail.id, error = %e, retry_at = %at, "send failed, will retry");
                    store.mark_failed(mail.id, &e, Some(at)).await?;
                    report.retrying += 1;
                }
                Err(e) => {
                    tracing::error!(outbox = mail.id, error = %e, "send failed permanently");
                    store.mark_failed(mail.id, &e.to_string(), None).await?;
                    report.failed += 1;
                }
            }
        }
    }
    Ok(report)
}

/// Renders and stores a mail; the inner error is why it can never be sent.
async fn render(
    store: &Store,
    renderer: &Renderer,
    mail: &DueMail,
    now: DateTime<Utc>,
) -> Result<std::result::Result<Vec<u8>, String>> {
    let Some(ticket_id) = mail.ticket_id else {
        return Ok(Err("outbox row without a ticket".into()));
    };
    let (ticket, trigger, attachments) = store.render_inputs(ticket_id, mail.trigger_row).await?;
    match renderer.render(mail, &ticket, trigger.as_ref(), attachments, now) {
        Ok(r) => {
            store
                .save_rendered(mail.message_row, &r.raw, &r.text, Some(&r.html))
                .await?;
            Ok(Ok(r.raw))
        }
        Err(reason) => Ok(Err(reason)),
    }
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
