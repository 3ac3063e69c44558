//! The lifecycle step: `[lifecycle]` and the areas' calendars, which a
//! `#pending` wait, the reopen window and the scheduler's reminders and
//! auto-close read (the rules themselves are `sla::lifecycle`'s).

use chrono::{DateTime, Duration, Utc};

use crate::sla::Calendars;
use crate::sla::lifecycle::{Autoclose, Policy, Wait, wait_ends};
use crate::tickets::{self, Status, Ticket};

pub(crate) struct Lifecycle {
    policy: Policy,
    calendars: Calendars,
    ticket_prefix: String,
    /// `[lifecycle] merge_notifies_customer`.
    merge_notice: bool,
}

impl Lifecycle {
    pub(crate) fn new(
        policy: Policy,
        calendars: Calendars,
        ticket_prefix: String,
        merge_notice: bool,
    ) -> Lifecycle {
        Lifecycle {
            policy,
            calendars,
            ticket_prefix,
            merge_notice,
        }
    }

    /// Whether a merge tells the merged ticket's customer.
    pub(crate) fn tells_customer_of_merges(&self) -> bool {
        self.merge_notice
    }

    fn calendar(&self, t: &Ticket) -> &crate::sla::Calendar {
        self.calendars.for_area(t.area.as_deref())
    }

    /// `[lifecycle] satisfaction`: each resolution asks the customer.
    pub(crate) fn asks_satisfaction(&self) -> bool {
        self.policy.satisfaction
    }

    /// When an agent's `#pending` wait on `t`, written at `now`, ends.
    pub(crate) fn wait_ends(&self, t: &Ticket, wait: Wait, now: DateTime<Utc>) -> DateTime<Utc> {
        wait_ends(wait, &self.policy, self.calendar(t), now)
    }

    /// When `t` (pending since its last relayed answer) is warned and closed.
    pub(crate) fn autoclose(&self, t: &Ticket) -> Option<Autoclose> {
        let answered = t.answered_at?;
        self.policy.autoclose(self.calendar(t), answered)
    }

    /// The scan's bound: without a wait, only tickets last answered at or
    /// before this may be due a warning or a close (wall time; business time
    /// passes no faster; two hours for a clock change). None: no auto-close.
    pub(crate) fn answered_by(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let after = self.policy.autoclose_after?;
        let lead = after - self.policy.autoclose_warning.unwrap_or_else(Duration::zero);
        Some(now - lead.max(Duration::zero()) + Duration::hours(2))
    }

    /// Why a customer's mail at `now` on `t` opens a new ticket instead of
    /// reopening it (resolved longer ago than the reopen window); None: it
    /// reopens as usual.
    pub(crate) fn reopens_as_new(&self, t: &Ticket, now: DateTime<Utc>) -> Option<String> {
        let resolved = t.resolved_at.filter(|_| t.status == Status::Resolved)?;
        if !self
            .policy
            .past_reopen_window(self.calendar(t), resolved, now)
        {
            return None;
        }
        Some(format!(
            "{} was resolved on {}, longer ago than [lifecycle] reopen_window: a new ticket, linked to it",
            tickets::format_ref(&self.ticket_prefix, t.id),
            resolved.format("%Y-%m-%d %H:%M UTC")
        ))
    }
}
