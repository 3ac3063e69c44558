//! The scheduler's lifecycle scan: pending tickets whose `#pending` wait
//! ended (the owner is reminded, the ticket reopens), and, with `[lifecycle]
//! autoclose_pending_after`, those the customer has not answered since the
//! last relayed answer (warned once, then resolved). Each action once per
//! ticket and due time (`lifecycle_actions`), across restarts and instances.
//! Only the customer's side answering ends a wait: auto-replies and bounces
//! change neither the status nor the last answer.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::events::Events;
use super::lifecycle::Lifecycle;
use super::outgoing::{Notice, Notify, Queue};
use super::satisfaction::ask_after_resolution;
use super::sla::{ClockEvent, Clocks};
use super::staff::Staff;
use super::unit::UnitOfWork;
use crate::store::{ActionsTaken, LifecyclePage, NewEvent, Store};
use crate::tickets::{self, EventKind, MessageKind, Status, Ticket};

/// Tickets looked at per scheduler transaction.
const PAGE: i64 = 200;

/// What one action does, in `lifecycle_actions.action`.
const WAIT_OVER: &str = "wait_over";
const WARNING: &str = "autoclose_warning";
const CLOSE: &str = "autoclose";

pub(super) struct LifecycleScan {
    lifecycle: Arc<Lifecycle>,
    clocks: Arc<Clocks>,
    queue: Arc<Queue>,
    staff: Arc<Staff>,
    ticket_prefix: String,
}

/// What a scan did (or, dry, would do): one line per action.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LifecycleReport {
    pub actions: Vec<String>,
}

impl LifecycleScan {
    pub(super) fn new(
        lifecycle: Arc<Lifecycle>,
        (clocks, queue): (Arc<Clocks>, Arc<Queue>),
        staff: Arc<Staff>,
        ticket_prefix: String,
    ) -> LifecycleScan {
        LifecycleScan {
            lifecycle,
            clocks,
            queue,
            staff,
            ticket_prefix,
        }
    }

    /// Takes every action due at `now`, a transaction per page of tickets;
    /// `dry_run`: decides the same, writes nothing.
    pub(super) async fn run(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> crate::Result<LifecycleReport> {
        let mut report = LifecycleReport::default();
        let rate_since = now - Duration::hours(super::outgoing::RATE_WINDOW_HOURS);
        let mut page = LifecyclePage {
            after_id: 0,
            limit: PAGE,
            now,
            answered_by: self.lifecycle.answered_by(now),
        };
        loop {
            let mut tx = store.begin().await?;
            let (loaded, taken) = tx
                .load_lifecycle_due(page, self.staff.addresses(), rate_since)
                .await?;
            let mut ids: Vec<i64> = loaded.tickets.keys().copied().collect();
            ids.sort_unstable();
            let Some(&last) = ids.last() else {
                tx.rollback().await?;
                return Ok(report);
            };
            let (lines, writes) = super::settle::settle(&mut tx, loaded, now, |u| {
                Ok(ids
                    .iter()
                    .filter_map(|id| self.act(u, *id, &taken))
                    .collect::<Vec<String>>())
            })
            .await?;
            report.actions.extend(lines);
            if dry_run {
                tx.rollback().await?;
            } else {
                tx.write_batch(&writes, now).await?;
                tx.commit().await?;
            }
            if (ids.len() as i64) < PAGE {
                return Ok(report);
            }
            page.after_id = last;
        }
    }

    /// The action due on ticket `id` now, if any, taken; its line.
    fn act(&self, u: &mut UnitOfWork<'_>, id: i64, taken: &ActionsTaken) -> Option<String> {
        let t = u.ticket(id).cloned()?;
        let now = u.now();
        if t.status != Status::Pending {
            return None;
        }
        let done =
            |action: &str, due: DateTime<Utc>| taken.contains(&(id, action.to_string(), due));
        if let Some(until) = t.pending_until {
            return (until <= now && !done(WAIT_OVER, until)).then(|| self.wait_over(u, &t, until));
        }
        let a = self.lifecycle.autoclose(&t)?;
        // The customer hears before the close, however late the scan runs.
        let warned = a.warn_at.is_none() || done(WARNING, a.close_at);
        if !warned && a.warn_at.is_some_and(|w| w <= now) {
            return Some(self.warn(u, &t, a.close_at));
        }
        (warned && a.close_at <= now && !done(CLOSE, a.close_at))
            .then(|| self.close(u, &t, a.close_at))
    }

    fn name(&self, id: i64) -> String {
        tickets::format_ref(&self.ticket_prefix, id)
    }

    /// The wait ended with no answer from the customer's side: open again,
    /// and the owner reminded (with the customer's latest mail).
    fn wait_over(&self, u: &mut UnitOfWork<'_>, t: &Ticket, until: DateTime<Utc>) -> String {
        let when = format!("on {}", until.format("%Y-%m-%d %H:%M UTC"));
        u.update_ticket(t.id, |x| x.status = Status::Open);
        self.clocks
            .refresh(u, t.id, Some(Status::Pending), ClockEvent::Changed);
        u.add_events([event(
            t.id,
            format!("the #pending wait ended {when} without an answer from the customer's side: status pending -> open"),
        )]);
        let row = u.latest_customer_mail(t.id).map(|m| m.row);
        if let (Some(row), Some(updated)) = (row, u.ticket(t.id).cloned()) {
            let mut ev = Events::new(t.id, row, Vec::new());
            self.queue
                .notify_owner(u, &updated, &mut ev, Notify::WaitOver(&when));
            u.add_events(ev.list);
        }
        u.record_action(t.id, WAIT_OVER, until);
        format!(
            "{}: wait ended {when}; reopened, owner reminded",
            self.name(t.id)
        )
    }

    /// The customer is told the ticket closes at `close_at` without an answer.
    fn warn(&self, u: &mut UnitOfWork<'_>, t: &Ticket, close_at: DateTime<Utc>) -> String {
        let context =
            serde_json::json!({ "close_on": close_at.format("%A, %-d %B %Y").to_string() });
        let what = Notice {
            kind: MessageKind::Notice,
            template: "autoclose_warning",
            what: "auto-close warning",
            event: EventKind::Status,
        };
        let sent = match u.latest_customer_mail(t.id).map(|m| m.row) {
            Some(row) => {
                let mut ev = Events::new(t.id, row, Vec::new());
                let sent = self.queue.notice(u, t, what, context, &mut ev);
                u.add_events(ev.list);
                sent
            }
            None => false,
        };
        // Recorded either way: a held-back warning is not retried every pass.
        u.record_action(t.id, WARNING, close_at);
        let close = close_at.format("%Y-%m-%d %H:%M UTC");
        if sent {
            format!(
                "{}: customer warned; closes {close} without an answer",
                self.name(t.id)
            )
        } else {
            format!(
                "{}: warning held back (see its events); closes {close}",
                self.name(t.id)
            )
        }
    }

    /// No answer from the customer's side since the last relayed answer:
    /// resolved.
    fn close(&self, u: &mut UnitOfWork<'_>, t: &Ticket, close_at: DateTime<Utc>) -> String {
        let answered = t
            .answered_at
            .map(|a| a.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        u.update_ticket(t.id, |x| x.status = Status::Resolved);
        self.clocks
            .refresh(u, t.id, Some(Status::Pending), ClockEvent::Changed);
        u.add_events([event(
            t.id,
            format!("closed automatically: no answer from the customer's side since the answer of {answered} ([lifecycle] autoclose_pending_after): status pending -> resolved"),
        )]);
        u.record_action(t.id, CLOSE, close_at);
        let asked = match u.latest_customer_mail(t.id).map(|m| m.row) {
            Some(row) => {
                let mut ev = Events::new(t.id, row, Vec::new());
                let asked = ask_after_resolution(
                    (&self.lifecycle, &self.queue),
                    u,
                    (t.id, t.status),
                    "closed automatically",
                    &mut ev,
                );
                u.add_events(ev.list);
                asked
            }
            None => false,
        };
        format!(
            "{}: closed (no answer since {answered}){}",
            self.name(t.id),
            if asked {
                "; satisfaction question queued"
            } else {
                ""
            }
        )
    }
}

/// A status event of the scan's (no mail caused it).
fn event(ticket: i64, detail: String) -> NewEvent {
    NewEvent {
        ticket_id: Some(ticket),
        message_row: None,
        kind: EventKind::Status,
        detail,
    }
}
