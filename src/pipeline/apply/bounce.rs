//! Bounces carried out: one of mail to the customer's side is shown to the
//! ticket's owner; one of mail to staff holds the address back (nothing goes
//! there for a day, DESIGN §6), whether the bounced mail was about a ticket
//! or a manager's digest. One hold for both, so digests and notifications to
//! a manager stop together.

use super::inbound::store_inbound;
use super::{Apply, Incoming};
use crate::pipeline::events::Events;
use crate::pipeline::outgoing::Notify;
use crate::pipeline::source::{Outcome, OutcomeKind};
use crate::pipeline::unit::UnitOfWork;
use crate::store::NewEvent;
use crate::tickets::hold::STAFF_BOUNCE_HOLD_HOURS;
use crate::tickets::{EventKind, MessageKind, Role, Ticket};

impl Apply {
    /// A bounce on a ticket: stored, shown to the owner; a bounce of staff
    /// mail holds the address back instead.
    pub(super) fn apply_bounce<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        ticket: &Ticket,
        reason: &str,
        via: &str,
        staff: Option<String>,
    ) {
        let row = store_inbound(
            u,
            m,
            Some(ticket.id),
            (MessageKind::Bounce, Some(Role::System)),
            Some(reason.to_string()),
        );
        let mut ev = Events::new(ticket.id, row, Vec::new());
        match staff {
            Some(addr) => self.staff_bounced(u, ticket, &addr, reason, via, &mut ev),
            None => {
                ev.push(
                    EventKind::Bounce,
                    format!("{reason}; {via}; shown to the owner, never answered"),
                );
                self.queue
                    .notify_owner(u, ticket, &mut ev, Notify::Bounce(reason));
            }
        }
        u.add_events(ev.list);
    }

    /// Mail to a staff address bounced (about a ticket, or a digest): nothing
    /// goes there for a day, so a bounce can never cause the next mail, and
    /// its bounce, … The one place that holds staff mail back; `what` names
    /// the mail that bounced in the hold's reason.
    fn hold_staff(
        &self,
        u: &mut UnitOfWork<'_>,
        addr: &str,
        reason: &str,
        what: &str,
    ) -> StaffHeld {
        let until = u.now() + chrono::Duration::hours(STAFF_BOUNCE_HOLD_HOURS);
        let fresh = u.suppress(addr, until, format!("{reason} ({what})"));
        StaffHeld {
            until: until.format("%Y-%m-%d %H:%M UTC").to_string(),
            fresh,
        }
    }

    /// A ticket's mail to a staff address bounced: held back
    /// ([`Self::hold_staff`]), and the area's escalation contact hears of it once.
    fn staff_bounced(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        addr: &str,
        reason: &str,
        via: &str,
        ev: &mut Events,
    ) {
        let held = self.hold_staff(u, addr, reason, &self.ticket_ref(ticket.id));
        ev.push(
            EventKind::Bounce,
            format!(
                "{reason}; {via}; mail to {addr} bounced: nothing is sent to {addr} until {}, never answered",
                held.until
            ),
        );
        let contact = self.staff.escalation_contact(ticket.area.as_deref());
        match contact {
            Some(c) if held.fresh && c != addr => {
                self.queue
                    .notify(u, ticket, &c, ev, Notify::StaffBounced(addr));
            }
            Some(_) if !held.fresh => ev.push(
                EventKind::Notification,
                format!("{addr} was already held back: the escalation contact was told before"),
            ),
            _ => {}
        }
    }

    /// A bounce of a digest (mail without a ticket) to `staff`: stored
    /// without a ticket, with an event on its message; the address is held
    /// back like any staff address ([`Self::hold_staff`]), digests included.
    pub(super) fn digest_bounced<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        staff: &str,
        reason: String,
    ) -> Outcome {
        let held = self.hold_staff(u, staff, &reason, "a digest");
        let why = format!(
            "{reason}; a digest to {staff} bounced: nothing is sent to {staff} until {}{}; stored, no ticket, never answered",
            held.until,
            if held.fresh {
                ""
            } else {
                " (held back already)"
            }
        );
        let origin = m.item.origin.clone();
        let row = store_inbound(
            u,
            m,
            None,
            (MessageKind::Bounce, Some(Role::System)),
            Some(why.clone()),
        );
        u.add_events([NewEvent {
            ticket_id: None,
            message_row: Some(row),
            kind: EventKind::Bounce,
            detail: why.clone(),
        }]);
        tracing::warn!(manager = staff, "{why}");
        Outcome {
            file: origin,
            outcome: OutcomeKind::Bounce,
            ticket_ref: None,
            reason: Some(why),
        }
    }
}

/// A staff address held back after a bounce ([`Apply::hold_staff`]).
struct StaffHeld {
    /// Until when, as the events say it.
    until: String,
    /// False when it was held back already.
    fresh: bool,
}
