//! The outbox worker: claims due mail a few rows at a time (a unique token,
//! a short lease renewed while a send is under way), renders a mail on its
//! first attempt and keeps the bytes (a retry sends the very same mail), and
//! marks each result under its token. Shutdown gives back what was not sent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{MAX_ATTEMPTS, Renderer, SendError, Transport, retry_delay};
use crate::error::Result;
use crate::store::{DueMail, Store};
use crate::tickets::MessageKind;

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
            send_one(
                store,
                transport,
                renderer,
                &now,
                stop,
                &mail,
                &token,
                &mut report,
            )
            .await?;
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
                store.mark_failed(mail.id, token, &reason, None).await?;
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
    let sent = {
        let send = transport.send(mail, &raw, handover);
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
    let lost = |what: &str| {
        tracing::warn!(
            outbox = mail.id,
            "{what}, but the claim had passed to another sender: its result stands"
        );
    };
    match result {
        Ok(()) => {
            if store.mark_sent(mail.id, token, now()).await? {
                report.sent += 1;
                tracing::info!(outbox = mail.id, kind = %mail.kind, to = %mail.recipients, "sent");
            } else {
                lost("sent");
                report.released += 1;
            }
        }
        Err(SendError::Transient(e)) if mail.attempts < MAX_ATTEMPTS => {
            let delay = retry_delay(transport.retry_first, mail.attempts);
            let at = now() + chrono::Duration::from_std(delay).unwrap_or_default();
            tracing::warn!(outbox = mail.id, error = %e, retry_at = %at, "send failed, will retry");
            if store.mark_failed(mail.id, token, &e, Some(at)).await? {
                report.retrying += 1;
            } else {
                lost("failed (temporarily)");
                report.released += 1;
            }
        }
        Err(e) => {
            tracing::error!(outbox = mail.id, error = %e, "send failed permanently");
            if store
                .mark_failed(mail.id, token, &e.to_string(), None)
                .await?
            {
                report.failed += 1;
            } else {
                lost("failed");
                report.released += 1;
            }
        }
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
