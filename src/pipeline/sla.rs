//! SLA clocks in the pipeline (DESIGN §9, issue "timely, visibly"): whatever
//! changes a ticket — a new mail, a follow-up, an agent's answer, a command —
//! updates its due times here (`src/sla` computes them) and when the
//! scheduler must look at it again (`sla_next_check`, an indexed column).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::Pipeline;
use super::unit::UnitOfWork;
use crate::sla::alerts::{self, Alert, Plan};
use crate::sla::{Calendar, Calendars, ClockInput, SlaConfig, Targets, policy_for};
use crate::tickets::{EventKind, Status, Ticket};

/// What happened to the ticket's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClockEvent {
    /// Created, or changed by a command.
    Changed,
    /// The customer wrote a follow-up: the next-response clock starts (once
    /// the ticket has had its first response).
    CustomerWrote,
    /// An agent's answer went to the customer: response clocks stop.
    Answered,
}

pub(crate) fn clock_input(t: &Ticket) -> ClockInput {
    ClockInput {
        created_at: t.created_at,
        first_response_at: t.first_response_at,
        waiting_since: t.waiting_since,
        pending_since: t.pending_since,
        paused: Duration::seconds(t.sla_paused_secs),
        resolved_at: (t.status == Status::Resolved)
            .then_some(t.resolved_at.unwrap_or(t.updated_at)),
    }
}

/// The SLA step: the `[sla]` policies and the areas' business hours, which
/// every change to a ticket's clock reads.
pub(crate) struct Clocks {
    policies: BTreeMap<String, SlaConfig>,
    calendars: Calendars,
}

impl Clocks {
    pub(crate) fn new(policies: BTreeMap<String, SlaConfig>, calendars: Calendars) -> Clocks {
        Clocks {
            policies,
            calendars,
        }
    }

    /// The policy and calendar a ticket's clock runs on (None: no policy).
    pub(crate) fn sla_of(&self, t: &Ticket) -> Option<(Targets, &Calendar)> {
        let (_, targets) =
            policy_for(&self.policies, t.sla_policy.as_deref(), t.priority.as_str())?;
        Some((targets, self.calendars.for_area(t.area.as_deref())))
    }

    /// Updates ticket `id`'s clock after a change; `before` is its status before.
    pub(super) fn refresh(
        &self,
        u: &mut UnitOfWork<'_>,
        id: i64,
        before: Option<Status>,
        event: ClockEvent,
    ) {
        let Some(t) = u.ticket(id).cloned() else {
            return;
        };
        let now = u.now();
        let cal = self.calendars.for_area(t.area.as_deref());
        let mut pending_since = t.pending_since;
        let mut paused = Duration::seconds(t.sla_paused_secs);
        let mut waiting_since = t.waiting_since;
        match (before, t.status) {
            (Some(b), Status::Pending) if b != Status::Pending => pending_since = Some(now),
            (None, Status::Pending) => pending_since = Some(now),
            (_, s) if s != Status::Pending => {
                // Leaving pending: the time spent waiting for the customer is
                // added to the resolution target.
                if let Some(since) = pending_since.take() {
                    paused = crate::sla::clock::end_pause(cal, paused, since, now);
                }
            }
            _ => {}
        }
        match event {
            ClockEvent::CustomerWrote if t.first_response_at.is_some() => {
                waiting_since.get_or_insert(now);
            }
            ClockEvent::Answered => waiting_since = None,
            _ => {}
        }
        let mut next = t.clone();
        next.pending_since = pending_since;
        next.sla_paused_secs = paused.num_seconds();
        next.waiting_since = waiting_since;
        let (due, check) = match self.sla_of(&next) {
            Some((targets, cal)) => {
                let input = clock_input(&next);
                let due = crate::sla::due(cal, &targets, &input);
                // The scheduler looks again at the next reminder or breach;
                // one already sent is skipped there (sla_alerts).
                let plan = alerts::plan(
                    cal,
                    &targets,
                    &input,
                    &due,
                    &HashSet::new(),
                    DateTime::<Utc>::MIN_UTC,
                );
                (due, plan.next_check)
            }
            None => (crate::sla::Due::default(), None),
        };
        u.update_ticket(id, |t| {
            t.pending_since = next.pending_since;
            t.sla_paused_secs = next.sla_paused_secs;
            t.waiting_since = next.waiting_since;
            t.first_response_due = due.first_response;
            t.next_response_due = due.next_response;
            t.resolution_due = due.resolution;
            t.sla_next_check = check;
        });
    }

    /// The alerts of a ticket now, given those sent before.
    pub(crate) fn plan(&self, t: &Ticket, sent: &HashSet<Alert>, now: DateTime<Utc>) -> Plan {
        match self.sla_of(t) {
            Some((targets, cal)) => {
                let input = clock_input(t);
                let due = crate::sla::due(cal, &targets, &input);
                alerts::plan(cal, &targets, &input, &due, sent, now)
            }
            None => Plan::default(),
        }
    }
}

/// Tickets looked at per scheduler transaction.
const SLA_BATCH: i64 = 200;

impl Pipeline {
    /// Sends the SLA reminders and escalations due at `now`, each once: a
    /// transaction per batch of due tickets records the alerts (sla_alerts),
    /// queues the mails and moves each ticket's next check. Returns how many
    /// alerts were decided.
    pub async fn sla_scan(
        &self,
        store: &crate::store::Store,
        now: DateTime<Utc>,
    ) -> crate::Result<usize> {
        let mut total = 0;
        let staff = self.staff.addresses();
        loop {
            let mut tx = store.begin().await?;
            let rate_since = now - Duration::hours(super::outgoing::RATE_WINDOW_HOURS);
            let mut loaded = tx.load_sla_due(now, SLA_BATCH, &staff, rate_since).await?;
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
        use super::events::Events;
        use super::outgoing::Notify;
        use crate::sla::alerts::Level;
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
