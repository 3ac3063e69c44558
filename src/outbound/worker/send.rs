//! One mail's send: its bytes (stored, or rendered on its first attempt and
//! kept), the hand-over mark, the claim renewed while the transport works,
//! and the result accounted (account.rs).

use std::future::Future;

use chrono::{DateTime, Utc};

use super::account::{Progress, account, envelope, note_undeliverable, record};
use super::flush::release;
use super::{FlushReport, LEASE, MAX_ATTEMPTS, RENEW_EVERY, Stop};
use crate::error::Result;
use crate::outbound::{Handover, Renderer, Transport};
use crate::store::{DueMail, Store};
use crate::tickets::MessageKind;

/// Sends one claimed mail and records what became of it.
#[allow(clippy::too_many_arguments)]
pub(super) async fn send_one(
    store: &Store,
    transport: &Transport,
    renderer: &Renderer,
    now: &impl Fn() -> DateTime<Utc>,
    stop: &Stop,
    mail: &DueMail,
    token: &str,
    report: &mut FlushReport,
) -> Result<()> {
    let Some(raw) = stored_or_rendered(store, renderer, now, mail, token, report).await? else {
        return Ok(());
    };
    let handover = handover(store, now, mail, token);
    crate::pipeline::fault::check("send", mail.subject.as_bytes());
    let recipients = envelope(mail);
    let before = Progress::of(mail);
    // A retry goes only to those still waiting for the mail.
    let asked = before.pending(&recipients);
    let send = transport.send(mail, &asked, &raw, handover);
    let sent = renewing_claim(store, now, stop, mail, token, send).await?;
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

/// The mail's bytes: those kept from its first attempt, else rendered now.
/// None: it cannot be rendered, and is failed and counted.
async fn stored_or_rendered(
    store: &Store,
    renderer: &Renderer,
    now: &impl Fn() -> DateTime<Utc>,
    mail: &DueMail,
    token: &str,
    report: &mut FlushReport,
) -> Result<Option<Vec<u8>>> {
    let stored = if mail.rendered {
        store.raw_message(mail.message_row).await?
    } else {
        None
    };
    Ok(Some(match stored {
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
                return Ok(None);
            }
        },
    }))
}

/// What the transport calls just before the final dot. An agent's answer
/// errs on the side of arriving (twice, at worst): a relay is never held for
/// a hand-over mark, so a killed sender's relay is sent again. Automatic mail
/// errs on the side of silence (handover.rs).
fn handover(
    store: &Store,
    now: &impl Fn() -> DateTime<Utc>,
    mail: &DueMail,
    token: &str,
) -> Handover {
    if mail.kind == MessageKind::Relay {
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
    }
}

/// Runs `send`, renewing the claim every RENEW_EVERY. None: a stop came
/// first — a slow SMTP session must not hold up shutdown: the mail goes back
/// to the queue, unless it was handed over (handover.rs).
async fn renewing_claim<T>(
    store: &Store,
    now: &impl Fn() -> DateTime<Utc>,
    stop: &Stop,
    mail: &DueMail,
    token: &str,
    send: impl Future<Output = T>,
) -> Result<Option<T>> {
    tokio::pin!(send);
    let mut renew =
        tokio::time::interval_at(tokio::time::Instant::now() + RENEW_EVERY, RENEW_EVERY);
    loop {
        tokio::select! {
            r = &mut send => break Ok(Some(r)),
            _ = renew.tick() => {
                let until = now() + chrono::Duration::from_std(LEASE).unwrap_or_default();
                if !store.renew_claim(mail.id, token, until).await? {
                    tracing::warn!(outbox = mail.id, "lease lost while sending; another sender may send it too");
                }
            }
            _ = stop.wait() => break Ok(None),
        }
    }
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
