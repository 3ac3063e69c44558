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
use crate::mail::address::EmailAddress;
use crate::store::DueMail;

pub use crate::mail::delivery::{Refusal, describe_refusals, write_reply};
pub use file::FileTransport;
pub use handover::Handover;
pub use render::{Rendered, Renderer};
pub use smtp::SmtpTransport;
use worker::DEFAULT_RETRY_FIRST;
pub use worker::{FlushReport, MAX_ATTEMPTS, Stop, flush, retry_delay};

/// How a transport failed: worth retrying, or never going to work. With a
/// server's reply the class follows its code, as lettre's does (4xx
/// transient, 5xx permanent); the worker retries or gives up on that alone.
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
        write_reply(f, self.code, &self.text)
    }
}

impl SendError {
    pub fn transient(text: impl Into<String>) -> SendError {
        SendError::Transient(Failure::new(None, text))
    }

    pub fn permanent(text: impl Into<String>) -> SendError {
        SendError::Permanent(Failure::new(None, text))
    }

    /// A server's negative reply: permanent for 5xx, else transient.
    pub fn reply(code: u16, text: impl Into<String>) -> SendError {
        let f = Failure::new(Some(code), text);
        if code >= 500 {
            SendError::Permanent(f)
        } else {
            SendError::Transient(f)
        }
    }

    pub fn failure(&self) -> &Failure {
        match self {
            SendError::Transient(f) | SendError::Permanent(f) => f,
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }

    /// Worth trying again later (a 4xx reply, or no answer at all).
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }

    /// The SMTP reply code, when the server gave one.
    pub fn code(&self) -> Option<u16> {
        self.failure().code
    }

    /// The RFC 3463 enhanced status code of the reply ("5.1.1"), when the
    /// server gave one.
    pub fn enhanced_status(&self) -> Option<&str> {
        self.failure().enhanced_status()
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

    /// The enhanced status code a reply's text starts with ("5.1.1 …",
    /// RFC 3463: class 2, 4 or 5, then two numbers of up to 3 digits); only
    /// with a reply code, and only when its class agrees with the code's.
    pub fn enhanced_status(&self) -> Option<&str> {
        let code = self.code?;
        enhanced_status(code, &self.text)
    }
}

fn enhanced_status(code: u16, text: &str) -> Option<&str> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let class = parts.next()?;
    let numbers: Vec<&str> = parts.collect();
    let number = |n: &str| (1..=3).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit());
    let ok = matches!(class, "2" | "4" | "5")
        && u16::from(class.as_bytes()[0] - b'0') == code / 100
        && numbers.len() == 2
        && numbers.iter().all(|n| number(n));
    ok.then_some(word)
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
    /// (no hand-over needed) and refuses nobody. With no recipient left that
    /// is an address (the row's others refused alone), nothing is sent.
    pub async fn send(
        &self,
        mail: &DueMail,
        recipients: &[EmailAddress],
        raw: &[u8],
        handover: Handover,
    ) -> std::result::Result<Delivery, SendError> {
        if recipients.is_empty() {
            return Err(SendError::permanent(
                "no recipient that can be written in an envelope".to_string(),
            ));
        }
        match &self.channel {
            Channel::File(t) => {
                t.send(mail, raw).await?;
                Ok(Delivery {
                    accepted: recipients.iter().map(EmailAddress::to_string).collect(),
                    refused: Vec::new(),
                })
            }
            Channel::Smtp(t) => t.send(mail, recipients, raw, handover).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_keeps_its_code_and_class() {
        let e = SendError::reply(550, "5.1.1 <b@x.test>: Recipient address rejected");
        assert!(e.is_permanent() && !e.is_transient());
        assert_eq!(e.code(), Some(550));
        assert_eq!(e.enhanced_status(), Some("5.1.1"));
        assert_eq!(
            e.to_string(),
            "permanent: 550 5.1.1 <b@x.test>: Recipient address rejected"
        );
        let e = SendError::reply(451, "4.3.0 try again");
        assert!(e.is_transient() && !e.is_permanent());
        assert_eq!((e.code(), e.enhanced_status()), (Some(451), Some("4.3.0")));
        // No enhanced code, one of another class, or no reply at all.
        assert_eq!(SendError::reply(554, "no thanks").enhanced_status(), None);
        assert_eq!(SendError::reply(550, "4.1.1 odd").enhanced_status(), None);
        assert_eq!(SendError::reply(550, "5.1 short").enhanced_status(), None);
        assert_eq!(
            SendError::reply(550, "5.1.1234 long").enhanced_status(),
            None
        );
        let e = SendError::transient("5.1.1 connect: refused");
        assert_eq!((e.code(), e.enhanced_status()), (None, None));
        assert!(e.is_transient());
    }

    #[test]
    fn a_refusal_reads_the_same_wherever_it_is_shown() {
        let r = Refusal {
            address: "b@x.test".into(),
            code: Some(450),
            text: "4.2.0 later".into(),
            permanent: false,
        };
        assert_eq!(r.to_string(), "b@x.test (450 4.2.0 later)");
        assert_eq!(
            r.describe(3),
            "b@x.test: 450 4.2.0 later (temporary; not tried again after 3 attempt(s))"
        );
        let r = Refusal {
            code: None,
            text: "not a valid address".into(),
            permanent: true,
            ..r
        };
        assert_eq!(r.describe(1), "b@x.test: not a valid address");
        assert_eq!(
            describe_refusals(&[r.clone(), r]),
            "b@x.test (not a valid address); b@x.test (not a valid address)"
        );
    }
}
