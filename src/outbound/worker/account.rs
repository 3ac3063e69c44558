//! What an attempt makes of its row: who has the mail and who was refused
//! (`account`, pure), written under the claim's token and counted (`record`).

use chrono::{DateTime, Utc};

use super::FlushReport;
use super::retry::retry_delay;
use crate::error::Result;
use crate::mail::address::{EmailAddress, Recipients};
use crate::outbound::{Delivery, Refusal, SendError, Transport};
use crate::store::{Attempt, DueMail, Store};
use crate::tickets::{EventKind, MessageKind, OutboxStatus};

/// Writes what an attempt made of the row (`account`) and counts it; false
/// when the claim had passed to another sender (its result stands).
pub(super) async fn record(
    store: &Store,
    transport: &Transport,
    mail: &DueMail,
    token: &str,
    o: &Accounted,
    at: DateTime<Utc>,
    report: &mut FlushReport,
) -> Result<bool> {
    let retry_at = (o.next == Next::Retry).then(|| {
        let delay = retry_delay(transport.retry_first, mail.attempts);
        at + chrono::Duration::from_std(delay).unwrap_or_default()
    });
    let refused_json = serde_json::to_string(&o.progress.refused).unwrap_or_else(|_| "[]".into());
    let delivered_to = o.progress.delivered.join(", ");
    let attempt = Attempt {
        status: o.next.status(),
        retry_at,
        delivered_to: &delivered_to,
        refused: &refused_json,
        delivered_at: o.delivered_now.then_some(at),
        last_error: o.error.as_deref(),
        now: at,
    };
    if !store.record_attempt(mail.id, token, &attempt).await? {
        tracing::warn!(
            outbox = mail.id,
            "{}, but the claim had passed to another sender: its result stands",
            attempt.status.as_str()
        );
        report.released += 1;
        return Ok(false);
    }
    if mail.kind == MessageKind::Relay && (o.next != Next::Retry || o.delivered_now) {
        report.relay_results += 1;
    }
    let error = o.error.as_deref().unwrap_or_default();
    match o.next {
        Next::Sent if o.progress.refused.is_empty() => {
            report.sent += 1;
            tracing::info!(outbox = mail.id, kind = %mail.kind, to = %mail.recipients, "sent");
        }
        Next::Sent => {
            report.sent += 1;
            let refused: Vec<&str> = o
                .progress
                .refused
                .iter()
                .map(|r| r.address.as_str())
                .collect();
            tracing::warn!(outbox = mail.id, kind = %mail.kind, to = %delivered_to, refused = ?refused, "sent, but some recipients were refused");
        }
        Next::Retry => {
            report.retrying += 1;
            let waiting = o.progress.pending(&envelope(mail));
            tracing::warn!(outbox = mail.id, error, waiting = ?waiting, retry_at = ?retry_at, "not sent to everyone yet, will retry");
        }
        Next::Failed => {
            report.failed += 1;
            tracing::error!(outbox = mail.id, kind = %mail.kind, error, "send failed for good: nobody got it");
        }
    }
    Ok(true)
}

/// Who has a mail and who was refused, as its outbox row records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    pub delivered: Vec<String>,
    pub refused: Vec<Refusal>,
}

/// The row's envelope recipients, each read once as an address.
pub(super) fn envelope(mail: &DueMail) -> Vec<EmailAddress> {
    Recipients::read_stored(&mail.recipients)
        .usable
        .as_slice()
        .to_vec()
}

impl Progress {
    /// The row's progress so far. A stored recipient that is not an address
    /// (a row from an older version, or edited by hand) is refused for good,
    /// alone: the others are still sent to and the outbox goes on.
    pub(super) fn of(mail: &DueMail) -> Progress {
        let mut p = Progress {
            delivered: Recipients::read_stored(&mail.delivered_to)
                .usable
                .as_slice()
                .iter()
                .map(EmailAddress::to_string)
                .collect(),
            // Written by this worker; unreadable only if edited by hand.
            refused: serde_json::from_str(&mail.refused).unwrap_or_default(),
        };
        for bad in Recipients::read_stored(&mail.recipients).unusable {
            if p.refusal(&bad.address).is_none() {
                p.refused.push(Refusal {
                    code: None,
                    text: format!("not a valid address: {}", bad.reason),
                    permanent: true,
                    address: bad.address,
                });
            }
        }
        p
    }

    fn has(&self, address: &str) -> bool {
        self.delivered
            .iter()
            .any(|d| d.eq_ignore_ascii_case(address))
    }

    fn refusal(&self, address: &str) -> Option<&Refusal> {
        self.refused
            .iter()
            .find(|r| r.address.eq_ignore_ascii_case(address))
    }

    /// Recipients still waiting: not delivered to, not refused for good.
    pub(crate) fn pending<A: AsRef<str> + Clone>(&self, recipients: &[A]) -> Vec<A> {
        recipients
            .iter()
            .filter(|r| {
                let r = r.as_ref();
                !self.has(r) && !self.refusal(r).is_some_and(|x| x.permanent)
            })
            .cloned()
            .collect()
    }
}

/// What becomes of the row after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Every recipient settled, someone got it.
    Sent,
    /// Every recipient settled, nobody got it.
    Failed,
    /// Someone is still waiting: again later.
    Retry,
}

impl Next {
    fn status(self) -> OutboxStatus {
        match self {
            Next::Sent => OutboxStatus::Sent,
            Next::Failed => OutboxStatus::Failed,
            Next::Retry => OutboxStatus::Queued,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Accounted {
    pub progress: Progress,
    /// Someone got the mail in this attempt.
    pub delivered_now: bool,
    pub next: Next,
    /// The row's `last_error`: the failure, or who was refused and why.
    pub error: Option<String>,
}

/// What one attempt to `asked` makes of the row (pure: the worker writes it).
/// `can_retry`: attempts are left. Once the row is final, everyone who did
/// not get the mail has a refusal with the reason.
pub(crate) fn account<A: AsRef<str> + Clone>(
    recipients: &[A],
    before: Progress,
    asked: &[A],
    result: std::result::Result<Delivery, SendError>,
    can_retry: bool,
) -> Accounted {
    let mut p = before;
    let (accepted, refused, whole) = match result {
        Ok(d) => (d.accepted, d.refused, None),
        Err(e) => {
            let refused = e.failure().refused.clone();
            (Vec::new(), refused, Some(e))
        }
    };
    let delivered_now = !accepted.is_empty();
    for a in accepted {
        if !p.has(&a) {
            p.delivered.push(a);
        }
    }
    for r in refused {
        p.refused
            .retain(|x| !x.address.eq_ignore_ascii_case(&r.address));
        p.refused.push(r);
    }
    let delivered = p.delivered.clone();
    p.refused
        .retain(|x| !delivered.iter().any(|d| d.eq_ignore_ascii_case(&x.address)));
    // A failure of the whole attempt is the answer for every recipient asked
    // that has none of its own: final when permanent, else when out of attempts.
    let pending = p.pending(recipients);
    let done = pending.is_empty() || !can_retry || whole.as_ref().is_some_and(|e| e.is_permanent());
    if done {
        for a in asked.iter().chain(&pending) {
            let a = a.as_ref();
            if p.has(a) || p.refusal(a).is_some() {
                continue;
            }
            let (code, text, permanent) = match &whole {
                Some(e) => (e.code(), e.failure().text.clone(), e.is_permanent()),
                None => (None, "not accepted in any attempt".to_string(), false),
            };
            p.refused.push(Refusal {
                address: a.to_string(),
                code,
                text,
                permanent,
            });
        }
    }
    let next = match (done, p.delivered.is_empty()) {
        (false, _) => Next::Retry,
        (true, false) => Next::Sent,
        (true, true) => Next::Failed,
    };
    let error = match (&whole, p.refused.is_empty()) {
        (Some(e), true) => Some(e.to_string()),
        (Some(e), false) if p.refused.iter().all(|r| r.text == e.failure().text) => {
            Some(e.to_string())
        }
        (_, false) => Some(format!(
            "refused: {}",
            crate::outbound::describe_refusals(&p.refused)
        )),
        (None, true) => None,
    };
    Accounted {
        progress: p,
        delivered_now,
        next,
        error,
    }
}

/// Automatic mail that will never be sent leaves an event on its ticket. (An
/// agent's answer is not: `Pipeline::report_relays` reports it, on the
/// ticket and to the agent, once.)
pub(super) async fn note_undeliverable(
    store: &Store,
    mail: &DueMail,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(ticket) = mail.ticket_id {
        let detail = format!(
            "the {} to {} will not be sent: {reason}",
            mail.kind, mail.recipients
        );
        store
            .add_event(ticket, EventKind::Outbox, &detail, now)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
