//! SLA clocks in the pipeline (DESIGN §9, issue "timely, visibly"): whatever
//! changes a ticket — a new mail, a follow-up, an agent's answer, a command —
//! updates its due times here (`src/sla` computes them) and when the
//! scheduler must look at it again (`sla_next_check`, an indexed column).
//! The scheduler's scan of due tickets is `sla_scan.rs`.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::unit::UnitOfWork;
use crate::sla::alerts::{self, Alert, Plan};
use crate::sla::{Calendar, Calendars, ClockInput, SlaConfig, Targets, policy_for};
use crate::tickets::{Status, Ticket};

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
