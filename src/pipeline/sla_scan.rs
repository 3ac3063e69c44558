//! The scheduler's SLA scan (DESIGN §9): the reminders and escalations due
//! now, each once, for the tickets whose next check has come.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::events::Events;
use super::outgoing::{Notify, Queue};
use super::sla::Clocks;
use super::staff::Staff;
use super::unit::UnitOfWork;
use crate::sla::alerts::{Alert, Level};
use crate::tickets::EventKind;

/// Tickets looked at per scheduler transaction.
const SLA_BATCH: i64 = 200;

/// What the scan reads: the clocks, the mail it queues, the staff it
/// notifies (and whose counts it loads).
pub(super) struct SlaScan {
    clocks: Arc<Clocks>,
    queue: Arc<Queue>,
    staff: Arc<Staff>,
}

impl SlaScan {
    pub(super) fn new(clocks: Arc<Clocks>, queue: Arc<Queue>, staff: Arc<Staff>) -> SlaScan {
        SlaScan {
            clocks,
            queue,
            staff,
        }
    }

    /// What the scan would do at `now`, for the first page of due tickets:
    /// the events it would write ("MR-3: …"); nothing is written or sent.
    pub(super) async fn dry_run(
        &self,
        store: &crate::store::Store,
        now: DateTime<Utc>,
        ticket_prefix: &str,
    ) -> crate::Result<Vec<String>> {
        let mut tx = store.begin().await?;
        let rate_since = now - Duration::hours(super::outgoing::RATE_WINDOW_HOURS);
        let staff = self.staff.addresses();
        let mut loaded = tx.load_sla_due(now, SLA_BATCH, staff, rate_since).await?;
        let sent = std::mem::take(&mut loaded.sla_alerts);
        let mut ids: Vec<i64> = loaded.tickets.keys().copied().collect();
        ids.sort_unstable();
        let none = HashSet::new();
        let (_, writes) = super::settle::settle(&mut tx, loaded, now, |u| {
            for id in &ids {
                self.sla_alert_ticket(u, *id, sent.get(id).unwrap_or(&none), now);
            }
            Ok(())
        })
        .await?;
        tx.rollback().await?;
        Ok(writes
            .events
            .iter()
            .map(|e| {
                let t = e
                    .ticket_id
                    .map(|id| crate::tickets::format_ref(ticket_prefix, id));
                format!("{}: {}", t.unwrap_or_default(), e.detail)
            })
            .collect())
    }

    /// Sends the SLA reminders and escalations due at `now`, each once: a
    /// transaction per batch of due tickets records the alerts (sla_alerts),
    /// queues the mails and moves each ticket's next check. Returns how many
    /// alerts were decided.
    pub(super) async fn run(
        &self,
        store: &crate::store::Store,
        now: DateTime<Utc>,
    ) -> crate::Result<usize> {
        let mut total = 0;
        let staff = self.staff.addresses();
        loop {
            let mut tx = store.begin().await?;
            let rate_since = now - Duration::hours(super::outgoing::RATE_WINDOW_HOURS);
            let mut loaded = tx.load_sla_due(now, SLA_BATCH, staff, rate_since).await?;
            let sent = std::mem::take(&mut loaded.sla_alerts);
            let mut ids: Vec<i64> = loaded.tickets.keys().copied().collect();
            ids.sort_unstable();
            if ids.is_empty() {
                tx.rollback().await?;
                return Ok(total);
            }
            let none = HashSet::new();
            let (alerts, writes) = super::settle::settle(&mut tx, loaded, now, |u| {
                Ok(ids
                    .iter()
                    .map(|id| self.sla_alert_ticket(u, *id, sent.get(id).unwrap_or(&none), now))
                    .sum::<usize>())
            })
            .await?;
            total += alerts;
            tx.write_batch(&writes, now).await?;
            tx.commit().await?;
            if (ids.len() as i64) < SLA_BATCH {
                return Ok(total);
            }
        }
    }

    fn sla_alert_ticket(
        &self,
        u: &mut UnitOfWork<'_>,
        id: i64,
        sent: &HashSet<Alert>,
        now: DateTime<Utc>,
    ) -> usize {
        let Some(t) = u.ticket(id).cloned() else {
            return 0;
        };
        let plan = self.clocks.plan(&t, sent, now);
        // Never look again at the same instant: a plan always moves forward.
        let next = plan.next_check.map(|n| n.max(now + Duration::seconds(1)));
        u.set_next_check(id, next);
        let Some(row) = u.latest_customer_mail(id).map(|m| m.row) else {
            return 0;
        };
        let mut ev = Events::new(id, row, Vec::new());
        for a in &plan.now {
            u.record_alert(id, *a);
            let what = format!(
                "{} due {}",
                a.target.as_str().replace('_', " "),
                a.due.format("%Y-%m-%d %H:%M UTC")
            );
            match a.level {
                Level::Warning => {
                    ev.push(
                        EventKind::Sla,
                        format!(
                            "reminder: {WARN}% of the {what} used; the owner is reminded",
                            WARN = crate::sla::alerts::WARN_PERCENT
                        ),
                    );
                    self.queue
                        .notify_owner(u, &t, &mut ev, Notify::SlaWarning(&what));
                }
                Level::Breach => {
                    ev.push(
                        EventKind::Sla,
                        format!("breached: {what}; the owner and the escalation contact are told"),
                    );
                    self.queue
                        .notify_owner(u, &t, &mut ev, Notify::SlaBreach(&what));
                    let contact = self.staff.escalation_contact(t.area.as_deref());
                    match contact {
                        Some(c) if Some(c.as_str()) != t.owner.as_deref() => {
                            self.queue
                                .notify(u, &t, &c, &mut ev, Notify::SlaBreach(&what));
                        }
                        Some(_) => {}
                        None => {
                            ev.push(EventKind::Sla, "no escalation contact for this area".into())
                        }
                    }
                }
            }
        }
        u.add_events(ev.list);
        plan.now.len()
    }
}
