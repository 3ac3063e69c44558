//! The flush loop: claims due mail a few rows at a time under a unique
//! token, sends each (send.rs), and gives back what a shutdown left unsent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;

use super::account::{Progress, account, envelope, note_undeliverable, record};
use super::send::send_one;
use super::{CLAIM_BATCH, FlushReport, LEASE, RENEW_EVERY, Stop};
use crate::error::Result;
use crate::outbound::{Renderer, SendError, Transport};
use crate::store::{DueMail, Store};
use crate::tickets::MessageKind;

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
            if waited_for_others(store, &now, stop, take_over, &mut waiting_since).await? {
                continue;
            }
            return Ok(report);
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
                    give_up_after_panic(store, transport, &mail, &token, panic, &now, &mut report)
                        .await?
                }
            }
        }
    }
    Ok(report)
}

/// Nothing to claim: with `take_over`, waits a moment while rows another
/// sender holds are in flight (at most a lease and a renewal since
/// `waiting_since`). False: the flush is done.
async fn waited_for_others(
    store: &Store,
    now: &impl Fn() -> DateTime<Utc>,
    stop: &Stop,
    take_over: bool,
    waiting_since: &mut Option<DateTime<Utc>>,
) -> Result<bool> {
    let in_flight = store.next_lease_expiry(now()).await?;
    let since = *waiting_since.get_or_insert_with(now);
    let limit = chrono::Duration::from_std(LEASE + RENEW_EVERY).unwrap_or_default();
    match in_flight {
        Some(_) if take_over && now() - since < limit => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = stop.wait() => {}
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Sending `mail` panicked: it is given up, with the panic as the reason.
async fn give_up_after_panic(
    store: &Store,
    transport: &Transport,
    mail: &DueMail,
    token: &str,
    panic: Box<dyn std::any::Any + Send>,
    now: &impl Fn() -> DateTime<Utc>,
    report: &mut FlushReport,
) -> Result<()> {
    let reason = format!(
        "internal error: {}",
        crate::pipeline::fault::describe(&*panic)
    );
    tracing::error!(outbox = mail.id, %reason, "sending one mail panicked; it is given up");
    metrics::counter!("mailroom_outbox_panics_total").increment(1);
    // Accounted like any permanent failure: whoever got the
    // mail in an earlier attempt keeps it, the rest are refused.
    let recipients = envelope(mail);
    let before = Progress::of(mail);
    let asked = before.pending(&recipients);
    let failed = Err(SendError::permanent(reason.clone()));
    let o = account(&recipients, before, &asked, failed, false);
    if record(store, transport, mail, token, &o, now(), report).await?
        && mail.kind != MessageKind::Relay
    {
        note_undeliverable(store, mail, &reason, now()).await?;
    }
    Ok(())
}

pub(super) async fn release(
    store: &Store,
    mail: &DueMail,
    token: &str,
    r: &mut FlushReport,
) -> Result<()> {
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
