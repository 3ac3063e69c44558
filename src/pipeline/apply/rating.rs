//! A rating carried out: the customer's side answered the satisfaction
//! question with a score. The mail is kept on the ticket like a follow-up,
//! the score, the comment and the time are written on the ticket (a later
//! rating replaces an earlier one), and the owner is told. The status and
//! the SLA clocks stay as they are: a rating reopens nothing.

use super::inbound::store_inbound;
use super::{Apply, Incoming};
use crate::pipeline::decide::RatingPlan;
use crate::pipeline::events::Events;
use crate::pipeline::outgoing::Notify;
use crate::pipeline::unit::UnitOfWork;
use crate::tickets::{EventKind, MessageKind, Role, Satisfaction};

/// How much of a comment an event quotes, in characters.
const QUOTED_CHARS: usize = 200;

impl Apply {
    /// Returns the outcome's reason.
    pub(super) fn apply_rating<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        plan: RatingPlan,
    ) -> String {
        let RatingPlan {
            ticket,
            thread,
            role,
            why: _,
            rating,
            notes,
        } = plan;
        let from = m.mail.from.email.clone();
        let row = store_inbound(
            u,
            m,
            Some(ticket.id),
            (MessageKind::Customer, Some(role)),
            None,
        );
        let mut ev = Events::new(ticket.id, row, notes);
        ev.push(
            EventKind::Threading,
            format!("rating from {from} ({role}): {}", thread.via),
        );
        for note in thread.notes {
            ev.push(EventKind::Threading, note);
        }
        let score = format!("{}/5", rating.score);
        let replaces = ticket
            .satisfaction
            .as_ref()
            .map(|old| {
                format!(
                    "; replaces the earlier {}/5 of {}",
                    old.score,
                    old.at.format("%Y-%m-%d %H:%M UTC")
                )
            })
            .unwrap_or_default();
        ev.push(
            EventKind::Satisfaction,
            format!(
                "satisfaction {score} from {from} ({role}){}{replaces}; status stays {}, nothing reopens, no SLA clock moves",
                quoted(&rating.comment),
                ticket.status
            ),
        );
        let now = u.now();
        u.update_ticket(ticket.id, |t| {
            t.satisfaction = Some(Satisfaction {
                score: rating.score,
                comment: rating.comment,
                at: now,
            });
        });
        let updated = u.ticket(ticket.id).cloned().unwrap_or(ticket);
        let by = (role != Role::Customer).then_some(from.as_str());
        self.queue
            .notify_owner(u, &updated, &mut ev, Notify::Rated { score: &score, by });
        u.add_events(ev.list);
        format!("satisfaction {score} recorded")
    }
}

/// `: "quick and kind"` — the comment's start, on one line; nothing when empty.
fn quoted(comment: &str) -> String {
    if comment.is_empty() {
        return String::new();
    }
    let line = comment.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = line.chars().take(QUOTED_CHARS).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    format!(": {cut:?}")
}
