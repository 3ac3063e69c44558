//! The satisfaction question (`[lifecycle] satisfaction`): when a ticket is
//! resolved — an agent's `#close`, the scheduler's auto-close — its customer
//! is asked to reply with a score from 1 to 5 and a comment (template
//! `satisfaction`, a `survey` mail whose replies threading recognises; the
//! rating itself is applied in `apply/rating.rs`). Once per resolution: only
//! when the ticket became resolved now, never when it was merged away.

use serde_json::json;

use super::events::Events;
use super::lifecycle::Lifecycle;
use super::outgoing::{Notice, Queue};
use super::unit::UnitOfWork;
use crate::tickets::{EventKind, MessageKind, Status};

/// The question as the outgoing step queues it.
const QUESTION: Notice<'static> = Notice {
    kind: MessageKind::Survey,
    template: "satisfaction",
    what: "satisfaction question",
    event: EventKind::Satisfaction,
};

/// Asks the customer of ticket `id` (its status was `before`) how satisfied
/// they are, when the ticket is resolved now and was not before, and the
/// config asks; `how` says what resolved it, for the event. True when the
/// question was queued.
pub(super) fn ask_after_resolution(
    (lifecycle, queue): (&Lifecycle, &Queue),
    u: &mut UnitOfWork<'_>,
    (id, before): (i64, Status),
    how: &str,
    ev: &mut Events,
) -> bool {
    if !lifecycle.asks_satisfaction() || before == Status::Resolved {
        return false;
    }
    // A ticket merged (or reopened) in the same step is not resolved now.
    let Some(ticket) = u
        .ticket(id)
        .filter(|t| t.status == Status::Resolved)
        .cloned()
    else {
        return false;
    };
    ev.push(
        EventKind::Satisfaction,
        format!(
            "resolved ({how}) and [lifecycle] satisfaction is on: the customer is asked to reply with a score from 1 to 5"
        ),
    );
    queue.notice(u, &ticket, QUESTION, json!({}), ev)
}
