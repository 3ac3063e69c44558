//! A ticket for unit tests: open, normal priority, Bob's, in billing, every
//! clock and link unset; tests change what they are about.

use chrono::{DateTime, Utc};

use super::{Priority, Status, Ticket};

pub(crate) fn ticket(id: i64, customer: &str, at: DateTime<Utc>) -> Ticket {
    Ticket {
        id,
        subject: format!("Ticket {id}"),
        normalized_subject: format!("ticket {id}"),
        status: Status::Open,
        priority: Priority::Normal,
        area: Some("billing".into()),
        owner: Some("bob@example.test".into()),
        customer: customer.into(),
        customer_name: None,
        tags: String::new(),
        created_at: at,
        updated_at: at,
        first_response_at: None,
        resolved_at: None,
        sla_policy: None,
        first_response_due: None,
        next_response_due: None,
        resolution_due: None,
        waiting_since: None,
        pending_since: None,
        sla_paused_secs: 0,
        sla_next_check: None,
        merged_into: None,
        pending_until: None,
        answered_at: None,
        linked_to: None,
        satisfaction: None,
    }
}
