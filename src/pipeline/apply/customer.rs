//! A customer's mail carried out: a new ticket, or a follow-up on one.

use super::inbound::store_inbound;
use super::{Apply, Incoming};
use crate::pipeline::decide::{FollowUpPlan, NewTicketPlan};
use crate::pipeline::events::Events;
use crate::pipeline::outgoing::Notify;
use crate::pipeline::sla::ClockEvent;
use crate::pipeline::unit::{NewTicket, UnitOfWork};

use crate::mail::parse::ParsedMail;
use crate::store::NewEvent;
use crate::tickets::{EventKind, MessageKind, Role, Status, Ticket};

impl Apply {
    pub(super) fn apply_new_ticket<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        plan: NewTicketPlan,
    ) -> i64 {
        let NewTicketPlan {
            routing,
            bulk,
            assignment,
            owner,
            customer,
            thread,
            notes,
            linked_to,
        } = plan;
        let mail = m.mail;
        let subject = if mail.subject.is_empty() {
            "(no subject)"
        } else {
            mail.subject.as_str()
        };
        let normalized = self.keys.normalize_subject(subject);
        let tags = routing.tags.join(",");
        if let (Some(a), Some(area)) = (&assignment, &routing.area) {
            self.contend_area(u, area, a.cursor);
        }
        let ticket = u.insert_ticket(&NewTicket {
            subject,
            normalized_subject: &normalized,
            priority: routing.priority,
            area: routing.area.as_deref(),
            owner: owner.as_deref(),
            customer: &customer.email,
            customer_name: customer.name.as_deref().or(mail.from.name.as_deref()),
            tags: &tags,
            sla_policy: routing.sla.as_deref(),
            linked_to,
        });
        let id = ticket.id;
        let row = store_inbound(
            u,
            m,
            Some(id),
            (MessageKind::Customer, Some(Role::Customer)),
            None,
        );
        let mut ev = Events::new(id, row, notes);
        self.add_participants(u, id, mail, true, &mut ev);
        ev.push(EventKind::Threading, thread.via.clone());
        for note in &thread.notes {
            ev.push(EventKind::Threading, note.clone());
        }
        if let Some(old) = linked_to {
            self.note_continued(u, (old, row), mail, id);
        }
        ev.push(EventKind::Routing, routing.trace.clone());
        if let Some(a) = &assignment {
            ev.push(EventKind::Assignment, a.reason.clone());
            if let Some(contact) = &a.escalate_to {
                self.queue
                    .notify(u, &ticket, contact, &mut ev, Notify::Unassigned);
            }
        }
        let ack = if routing.suppress_ack {
            Err("no acknowledgement: a rule suppressed it".to_string())
        } else if let Some(why) = &bulk {
            Err(format!(
                "no acknowledgement: bulk mail ({why}), tagged bulk"
            ))
        } else {
            Ok(())
        };
        self.announce_new(u, &ticket, mail, ack, &mut ev);
        self.clocks.refresh(u, id, None, ClockEvent::Changed);
        u.add_events(ev.list);
        id
    }

    /// The old ticket says where its conversation went on (a mail after the
    /// reopen window opened `new`).
    fn note_continued(
        &self,
        u: &mut UnitOfWork<'_>,
        (old, row): (i64, i64),
        mail: &ParsedMail,
        new: i64,
    ) {
        u.add_events([NewEvent {
            ticket_id: Some(old),
            message_row: Some(row),
            kind: EventKind::Threading,
            detail: format!(
                "{} wrote after the reopen window: continued as {}",
                mail.from.email,
                self.ticket_ref(new)
            ),
        }]);
    }

    /// The area's cursor and its agents' open tickets decided an assignment:
    /// every instance assigning in the area shares them.
    fn contend_area(&self, u: &mut UnitOfWork<'_>, area: &str, cursor: Option<i64>) {
        u.contend(format!("area:{area}"));
        for agent in self.assigner.members(area) {
            u.contend(format!("owner:{agent}"));
        }
        if let Some(c) = cursor {
            u.set_cursor(area, c);
        }
    }

    /// A new ticket's mail: the acknowledgement (or why none, `ack`), the
    /// owner's notification, and with `notify = "area"` every available
    /// agent of the area's (any of them may answer: their notification is
    /// their proof).
    fn announce_new(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        ack: Result<(), String>,
        ev: &mut Events,
    ) {
        match ack {
            Ok(()) => self.queue.acknowledge(u, ticket, mail, ev),
            Err(why) => ev.push(EventKind::Ack, why),
        }
        let watchers = self.staff.area_watchers(ticket.area.as_deref());
        if ticket.owner.is_some() {
            self.queue.notify_owner(u, ticket, ev, Notify::New);
        } else if watchers.is_empty() {
            ev.push(EventKind::Notification, "no owner: nobody notified".into());
        }
        for agent in watchers {
            if ticket.owner.as_deref() != Some(agent.as_str()) {
                self.queue.notify(u, ticket, agent, ev, Notify::New);
            }
        }
    }

    pub(super) fn apply_followup<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        plan: FollowUpPlan,
    ) {
        let FollowUpPlan {
            mut ticket,
            thread,
            role,
            why: _,
            reopen,
            notes,
        } = plan;
        let mail = m.mail;
        let row = store_inbound(
            u,
            m,
            Some(ticket.id),
            (MessageKind::Customer, Some(role)),
            None,
        );
        let mut ev = Events::new(ticket.id, row, notes);
        // Whoever a mail that refers to internal mail went to is not thereby
        // part of the customer's conversation.
        if !thread.answers_internal {
            self.add_participants(u, ticket.id, mail, false, &mut ev);
        }
        ev.push(
            EventKind::Threading,
            format!(
                "follow-up from {} ({role}): {}",
                mail.from.email, thread.via
            ),
        );
        for note in thread.notes {
            ev.push(EventKind::Threading, note);
        }
        let before = ticket.status;
        match reopen {
            Some(next) => {
                u.update_ticket(ticket.id, |t| t.status = next);
                let who = if role == Role::Customer {
                    "the customer".to_string()
                } else {
                    format!("{} ({role})", mail.from.email)
                };
                ev.push(
                    EventKind::Status,
                    format!("{before} -> {next}: {who} wrote again"),
                );
                ticket.status = next;
            }
            None => u.update_ticket(ticket.id, |_| {}),
        }
        self.clocks
            .refresh(u, ticket.id, Some(before), ClockEvent::CustomerWrote);
        let reopened = before == Status::Resolved && reopen.is_some();
        let by = (role != Role::Customer).then_some(mail.from.email.as_str());
        self.queue
            .notify_owner(u, &ticket, &mut ev, Notify::FollowUp { reopened, by });
        u.add_events(ev.list);
    }
}
