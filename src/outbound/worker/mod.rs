//! The outbox worker: claims due mail a few rows at a time (a unique token,
//! a short lease renewed while a send is under way), renders a mail on its
//! first attempt and keeps the bytes (a retry sends the very same mail), and
//! marks each result under its token. Shutdown gives back what was not sent.
//!
//! Results are per recipient: the row records who got the mail and who was
//! refused (with the server's reply). Temporarily refused recipients are
//! tried again with the usual backoff, and only they: those who got it never
//! get it twice. Permanently refused ones are final. A row is `sent` once
//! every recipient is settled and someone got it, `failed` when nobody did.
//! What a relay's result means for its ticket is the pipeline's to decide
//! (`Pipeline::report_relays`), not this worker's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use tokio::sync::watch;

use super::{
    Delivery, MAX_ATTEMPTS, Refusal, Renderer, SendError, Transport, envelope_recipients,
    retry_delay,
};
use crate::error::Result;
use crate::store::{Attempt, DueMail, Store};
use crate::tickets::{EventKind, MessageKind, OutboxStatus};

/// A claim lasts this long unless renewed; a dead sender's mail is taken over
/// by whoever runs next within this time.
pub const LEASE: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// Rows claimed (and bytes held) at a time: a backlog of big mail stays flat.
const CLAIM_BATCH: i64 = 4;

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct FlushReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Claimed but given back untried (shutdown) or lost to another sender.
    pub released: usize,
    /// Stopped after handing the mail to the server, before its answer:
    /// counted as sent, with the doubt noted (handover.rs).
    pub in_doubt: usize,
    /// Relays whose result the pipeline has to look at now (someone got one
    /// for the first time, or its result is final): `Pipeline::report_relays`.
    pub relay_results: usize,
}

impl FlushReport {
    /// Adds another flush's counts.
    pub fn add(&mut self, o: &FlushReport) {
        self.sent += o.sent;
        self.retrying += o.retrying;
        self.failed += o.failed;
        self.released += o.released;
        self.in_doubt += o.in_doubt;
        self.relay_results += o.relay_results;
    }
}

/// Tells a flush to stop (SIGTERM); `Stop::never()` for callers without one.
#[derive(Clone)]
pub struct Stop(Option<watch::Receiver<bool>>);

impl Stop {
    pub fn new(rx: watch::Receiver<bool>) -> Stop {
        Stop(Some(rx))
    }

    pub fn never() -> Stop {
        Stop(None)
    }

    pub fn is_set(&self) -> bool {
        self.0.as_ref().is_some_and(|r| *r.borrow())
    }

    async fn wait(&self) {
        match &self.0 {
            Some(r) => {
                let mut r = r.clone();
                let _ = r.wait_for(|v| *v).await;
            }
            None => std::future::pending::<()>().await,
        }
    }
}

/// Sends everything that is due now, then returns. With `take_over`, rows
/// another sender holds are waited for (at most one lease): those of a sender
/// that died are taken over and sent; this is what a one-shot `outbox flush`
/// does, so a crash never leaves mail waiting for a later run.
pub async fn flush(
    store: &Store,
    transport: &Transport,
    renderer: &Renderer,
    now: impl Fn() -> DateTime<Utc>,
    stop: &Stop,
    take_over: bool,
) -> Result<FlushReport> {
    let mut report = FlushReport::default();
    let mut waiting_since: Option<DateTime<Utc>> = None;
    while !stop.is_set() {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let due = store
            .claim_due_outbox(now(), LEASE, CLAIM_BATCH, &token)
            .await?;
        if due.is_empty() {
            let in_flight = store.next_lease_expiry(now()).await?;
            let since = *waiting_since.get_or_insert_with(&now);
            let limit = chrono::Duration::from_std(LEASE + RENEW_EVERY).unwrap_or_default();
            match in_flight {
                Some(_) if take_over && now() - since < limit => {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                        _ = stop.wait() => {}
                    }
                    continue;
                }
                _ => return Ok(report),
            }
        }
        waiting_since = None;
        let mut rows = due.into_iter();
        while let Some(mail) = rows.next() {
            if stop.is_set() {
                release(store, &mail, &token, &mut report).await?;
                for rest in rows.by_ref() {
                    release(store, &rest, &token, &mut report).await?;
                }
                break;
            }
            // The last line, never the fix: a panic while sending one mail
            // (a bug) fails that mail alone, with the reason; the rest go on.
            let one = std::panic::AssertUnwindSafe(send_one(
                store,
                transport,
                renderer,
                &now,
                stop,
                &mail,
                &token,
                &mut report,
            ))
            .catch_unwind()
            .await;
            match one {
                Ok(result) => result?,
                Err(panic) => {
                    let reason = format!(
                        "internal error: {}",
                        crate::pipeline::fault::describe(&*panic)
                    );
                    tracing::error!(outbox = mail.id, %reason, "sending one mail panicked; it is given up");
                    metrics::counter!("mailroom_outbox_panics_total").increment(1);
                    // Accounted like any permanent failure: whoever got the
                    // mail in an earlier attempt keeps it, the rest are refused.
                    let recipients = envelope_recipients(&mail.recipients);
                    let before = Progress::of(&mail);
                    let asked = before.pending(&recipients);
                    let failed = Err(SendError::permanent(reason.clone()));
                    let o = account(&recipients, before, &asked, failed, false);
                    if record(store, transport, &mail, &token, &o, now(), &mut report).await?
                        && mail.kind != MessageKind::Relay
                    {
                        note_undeliverable(store, &mail, &reason, now()).await?;
                    }
                }
            }
        }
    }
    Ok(report)
}

async fn release(store: &Store, mail: &DueMail, token: &str, r: &mut FlushReport) -> Result<()> {
    if store.release_claim(mail.id, token).await? {
        r.released += 1;
    } else if store.mark_in_doubt(mail.id, token).await? {
        tracing::warn!(
            outbox = mail.id,
            "shutting down after handing the mail to the server, before its answer: counted as sent"
        );
        r.in_doubt += 1;
    } else {
        r.released += 1;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn send_one(
    store: &Store,
    transport: &Transport,
    renderer: &Renderer,
    now: &impl Fn() -> DateTime<Utc>,
    stop: &Stop,
    mail: &DueMail,
    token: &str,
    report: &mut FlushReport,
) -> Result<()> {
    let stored = if mail.rendered {
        store.raw_message(mail.message_row).await?
    } else {
        None
    };
    let raw = match stored {
        Some(raw) => raw,
        None => match render(store, renderer, mail, now()).await? {
            Ok(raw) => raw,
            Err(reason) => {
                tracing::error!(outbox = mail.id, %reason, "cannot render; giving up on this mail");
                let reason = format!("cannot render: {reason}");
                if store.mark_failed(mail.id, token, &reason).await? {
                    // A relay's failure is reported by the pipeline, once.
                    if mail.kind == MessageKind::Relay {
                        report.relay_results += 1;
                    } else {
                        note_undeliverable(store, mail, &reason, now()).await?;
                    }
                }
                report.failed += 1;
                return Ok(());
            }
        },
    };
    // An agent's answer errs on the side of arriving (twice, at worst): a
    // relay is never held for a hand-over mark, so a killed sender's relay is
    // sent again. Automatic mail errs on the side of silence (handover.rs).
    let handover: super::Handover = if mail.kind == MessageKind::Relay {
        Box::pin(std::future::ready(true))
    } else {
        let (store, token, id, at) = (store.clone(), token.to_string(), mail.id, now());
        Box::pin(async move {
            store
                .mark_handed_over(id, &token, at)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(outbox = id, error = %e, "cannot record the hand-over; mail withheld");
                    false
                })
        })
    };
    crate::pipeline::fault::check("send", mail.subject.as_bytes());
    let recipients = envelope_recipients(&mail.recipients);
    let before = Progress::of(mail);
    // A retry goes only to those still waiting for the mail.
    let asked = before.pending(&recipients);
    let sent = {
        let send = transport.send(mail, &asked, &raw, handover);
        tokio::pin!(send);
        let mut renew =
            tokio::time::interval_at(tokio::time::Instant::now() + RENEW_EVERY, RENEW_EVERY);
        loop {
            tokio::select! {
                r = &mut send => break Some(r),
                _ = renew.tick() => {
                    let until = now() + chrono::Duration::from_std(LEASE).unwrap_or_default();
                    if !store.renew_claim(mail.id, token, until).await? {
                        tracing::warn!(outbox = mail.id, "lease lost while sending; another sender may send it too");
                    }
                }
                // A slow SMTP session must not hold up shutdown: the mail goes
                // back to the queue, unless it was handed over (handover.rs).
                _ = stop.wait() => break None,
            }
        }
    };
    drop(raw);
    let Some(result) = sent else {
        tracing::info!(
            outbox = mail.id,
            "shutting down mid-send: mail given back to the queue"
        );
        return release(store, mail, token, report).await;
    };
    let can_retry = mail.attempts < MAX_ATTEMPTS;
    let o = account(&recipients, before, &asked, result, can_retry);
    record(store, transport, mail, token, &o, now(), report).await?;
    Ok(())
}

/// Writes what an attempt made of the row (`account`) and counts it; false
/// when the claim had passed to another sender (its result stands).
async fn record(
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
            let waiting = o.progress.pending(&envelope_recipients(&mail.recipients));
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

impl Progress {
    fn of(mail: &DueMail) -> Progress {
        Progress {
            delivered: envelope_recipients(&mail.delivered_to),
            // Written by this worker; unreadable only if edited by hand.
            refused: serde_json::from_str(&mail.refused).unwrap_or_default(),
        }
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
    pub(crate) fn pending(&self, recipients: &[String]) -> Vec<String> {
        recipients
            .iter()
            .filter(|r| !self.has(r) && !self.refusal(r).is_some_and(|x| x.permanent))
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
pub(crate) fn account(
    recipients: &[String],
    before: Progress,
    asked: &[String],
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
            if p.has(a) || p.refusal(a).is_some() {
                continue;
            }
            let (code, text, permanent) = match &whole {
                Some(e) => (e.code(), e.failure().text.clone(), e.is_permanent()),
                None => (None, "not accepted in any attempt".to_string(), false),
            };
            p.refused.push(Refusal {
                address: a.clone(),
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
        (_, false) => Some(format!("refused: {}", super::describe_refusals(&p.refused))),
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
async fn note_undeliverable(
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
    // Whatever a mail gave is made safe before it reaches a header
    // (mail::compose); should rendering still panic, this mail fails alone.
    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::pipeline::fault::check("render", mail.subject.as_bytes());
        renderer.render(mail, &ticket, trigger.as_ref(), attachments, now)
    }))
    .unwrap_or_else(|panic| {
        metrics::counter!("mailroom_outbox_panics_total").increment(1);
        Err(format!(
            "internal error: {}",
            crate::pipeline::fault::describe(&*panic)
        ))
    });
    match rendered {
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
    use super::super::Failure;
    use super::*;

    fn to(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn refusal(address: &str, code: u16) -> Refusal {
        Refusal {
            address: address.into(),
            code: Some(code),
            text: format!("{code} reply for {address}"),
            permanent: code >= 500,
        }
    }

    fn delivered(
        accepted: &[&str],
        refused: Vec<Refusal>,
    ) -> std::result::Result<Delivery, SendError> {
        Ok(Delivery {
            accepted: to(accepted),
            refused,
        })
    }

    #[test]
    fn a_permanent_refusal_is_final_and_the_others_get_it() {
        let all = to(&["a@x.test", "b@y.test"]);
        let o = account(
            &all,
            Progress::default(),
            &all,
            delivered(&["a@x.test"], vec![refusal("b@y.test", 550)]),
            true,
        );
        assert_eq!(o.next, Next::Sent);
        assert!(o.delivered_now);
        assert_eq!(o.progress.delivered, to(&["a@x.test"]));
        assert_eq!(o.progress.refused, vec![refusal("b@y.test", 550)]);
        assert!(o.progress.pending(&all).is_empty());
        let e = o.error.expect("the refusal is the row's error");
        assert!(e.contains("b@y.test (550 550 reply for b@y.test)"), "{e}");
    }

    #[test]
    fn a_temporary_refusal_is_retried_for_that_recipient_only() {
        let all = to(&["a@x.test", "b@y.test", "c@z.test"]);
        let first = account(
            &all,
            Progress::default(),
            &all,
            delivered(
                &["a@x.test"],
                vec![refusal("b@y.test", 450), refusal("c@z.test", 550)],
            ),
            true,
        );
        assert_eq!(first.next, Next::Retry, "b is still waiting");
        assert!(first.delivered_now);
        let asked = first.progress.pending(&all);
        assert_eq!(asked, to(&["b@y.test"]), "only b is asked again");
        let second = account(
            &all,
            first.progress,
            &asked,
            delivered(&["b@y.test"], Vec::new()),
            true,
        );
        assert_eq!(second.next, Next::Sent);
        assert_eq!(second.progress.delivered, to(&["a@x.test", "b@y.test"]));
        assert_eq!(
            second.progress.refused,
            vec![refusal("c@z.test", 550)],
            "b's temporary refusal is gone, c's stays"
        );
    }

    #[test]
    fn attempts_running_out_settle_the_waiting_ones_as_refused() {
        let all = to(&["a@x.test", "b@y.test"]);
        let before = Progress {
            delivered: to(&["a@x.test"]),
            refused: vec![refusal("b@y.test", 450)],
        };
        let o = account(
            &all,
            before,
            &to(&["b@y.test"]),
            Err(SendError::transient("connection refused")),
            false,
        );
        assert_eq!(o.next, Next::Sent, "a has it");
        assert!(!o.delivered_now);
        assert_eq!(
            o.progress.refused,
            vec![refusal("b@y.test", 450)],
            "b keeps the server's own reply, not the last connection error"
        );
    }

    #[test]
    fn nobody_reached_is_failed_with_every_reason() {
        let all = to(&["a@x.test", "b@y.test"]);
        // Every recipient refused, one of them temporarily: a temporary error.
        let e = SendError::Transient(Failure {
            code: Some(550),
            text: "every recipient was refused".into(),
            refused: vec![refusal("a@x.test", 550), refusal("b@y.test", 451)],
        });
        let o = account(&all, Progress::default(), &all, Err(e), true);
        assert_eq!(o.next, Next::Retry);
        assert_eq!(o.progress.pending(&all), to(&["b@y.test"]));
        let again = account(
            &all,
            o.progress,
            &to(&["b@y.test"]),
            Err(SendError::transient("timed out")),
            false,
        );
        assert_eq!(again.next, Next::Failed);
        assert!(again.progress.delivered.is_empty());
        assert_eq!(again.progress.refused.len(), 2);
        // A permanent failure of the whole transaction (DATA refused) is
        // every asked recipient's answer at once.
        let data = SendError::Permanent(Failure::new(Some(554), "5.6.0 message refused"));
        let o = account(&all, Progress::default(), &all, Err(data), true);
        assert_eq!(o.next, Next::Failed);
        assert!(
            o.progress
                .refused
                .iter()
                .all(|r| r.permanent && r.code == Some(554) && r.text == "5.6.0 message refused")
        );
        assert_eq!(o.progress.refused.len(), 2);
    }

    #[test]
    fn a_connection_failure_with_attempts_left_changes_nobody() {
        let all = to(&["a@x.test"]);
        let o = account(
            &all,
            Progress::default(),
            &all,
            Err(SendError::transient("connect: refused")),
            true,
        );
        assert_eq!(o.next, Next::Retry);
        assert!(
            o.progress.refused.is_empty(),
            "no refusal: the server never answered"
        );
        assert_eq!(o.error.as_deref(), Some("temporary: connect: refused"));
        let ok = account(
            &all,
            o.progress,
            &all,
            delivered(&["a@x.test"], Vec::new()),
            true,
        );
        assert_eq!((ok.next, ok.error), (Next::Sent, None));
    }
}
