//! A ticket as the rest of mailroom sees it: the store reads its row into
//! this and writes this back (`store::TicketRow` is the row). Its SLA methods
//! are in `sla/ticket.rs` (the SLA core knows tickets, not the reverse).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Priority, Satisfaction, Status};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    pub id: i64,
    pub subject: String,
    pub normalized_subject: String,
    pub status: Status,
    pub priority: Priority,
    pub area: Option<String>,
    pub owner: Option<String>,
    pub customer: String,
    pub customer_name: Option<String>,
    /// Comma-separated (`tag_list` splits them).
    pub tags: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub sla_policy: Option<String>,
    /// SLA due times (None: no clock runs for that target).
    pub first_response_due: Option<DateTime<Utc>>,
    pub next_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    /// The customer's oldest unanswered follow-up (the next-response clock).
    pub waiting_since: Option<DateTime<Utc>>,
    /// Set while pending: the resolution clock is paused.
    pub pending_since: Option<DateTime<Utc>>,
    /// Business seconds spent pending before (added to the resolution target).
    pub sla_paused_secs: i64,
    /// When the scheduler must look at this ticket again (a reminder or an
    /// escalation falls due).
    pub sla_next_check: Option<DateTime<Utc>>,
    /// The ticket this one was merged into (status `merged`).
    pub merged_into: Option<i64>,
    /// While pending: when the agent's `#pending 3d` (or `until`) ends.
    pub pending_until: Option<DateTime<Utc>>,
    /// The last answer relayed to the customer (auto-close counts from it).
    pub answered_at: Option<DateTime<Utc>>,
    /// The older ticket this one continues (a mail after the reopen window).
    pub linked_to: Option<i64>,
    /// The customer's latest rating (a reply to the satisfaction question).
    pub satisfaction: Option<Satisfaction>,
}

impl Ticket {
    pub fn tag_list(&self) -> Vec<String> {
        self.tags
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    }
}
