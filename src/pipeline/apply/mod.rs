//! Carrying out a [`Decision`]: the one place that writes what a message
//! causes — tickets, messages, participants, events, outgoing mail — into the
//! batch's unit of work. A customer's mail (a new ticket, a follow-up) in
//! `customer.rs`, an agent's (an answer, an internal note) in `agent.rs`;
//! duplicates, bounces and auto-replies here.

mod agent;
mod customer;

use std::borrow::Cow;

use super::decide::Decision;
use super::events::{Events, event};
use super::outgoing::Notify;
use super::unit::UnitOfWork;
use super::{Incoming, Outcome, OutcomeKind, Pipeline};
use crate::mail::parse::ParsedMail;
use crate::mail::thread::{MAX_REFERENCES, capped_references};
use crate::store::{NewEvent, NewMessage};

/// Addresses recorded as participants from one mail's To/Cc: a mail to a
/// thousand recipients must not make every answer go to all of them.
const MAX_PARTICIPANTS_PER_MAIL: usize = 100;

use crate::tickets::{Direction, EventKind, MessageKind, ParticipantRole, Role, Ticket};

impl Pipeline {
    /// Writes what `d` decided for the message `m`; returns its outcome.
    pub(super) fn apply<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        d: Decision,
    ) -> Outcome {
        let origin = m.item.origin.clone();
        let outcome = |kind: OutcomeKind, ticket: Option<i64>, reason: Option<String>| Outcome {
            file: origin.clone(),
            outcome: kind,
            ticket_ref: ticket.map(|t| self.ticket_ref(t)),
            reason,
        };
        match d {
            Decision::Duplicate { ticket, message_id } => {
                let reason = self.apply_duplicate(u, m, ticket, &message_id);
                outcome(OutcomeKind::Duplicate, ticket, Some(reason))
            }
            Decision::Unthreaded {
                kind,
                outcome: o,
                why,
            } => {
                let role = matches!(kind, MessageKind::Bounce | MessageKind::Autoreply)
                    .then_some(Role::System);
                self.store_inbound(u, m, None, (kind, role), Some(why.clone()));
                outcome(o, None, Some(why))
            }
            Decision::Bounce {
                ticket,
                reason,
                via,
                staff,
            } => {
                self.apply_bounce(u, m, &ticket, &reason, &via, staff);
                outcome(OutcomeKind::Bounce, Some(ticket.id), Some(reason))
            }
            Decision::DigestBounce { staff, reason } => self.digest_bounced(u, m, &staff, reason),
            Decision::AutoReply {
                ticket,
                reason,
                via,
            } => {
                self.apply_autoreply(u, m, &ticket, &reason, &via);
                outcome(OutcomeKind::Autoreply, Some(ticket.id), Some(reason))
            }
            Decision::NewTicket(plan) => {
                let id = self.apply_new_ticket(u, m, *plan);
                outcome(OutcomeKind::Created, Some(id), None)
            }
            Decision::FollowUp(plan) => {
                let id = plan.ticket.id;
                self.apply_followup(u, m, *plan);
                outcome(OutcomeKind::Appended, Some(id), None)
            }
            Decision::InternalNote(plan) => {
                let id = plan.ticket.id;
                let reason = self.apply_internal_note(u, m, *plan);
                outcome(OutcomeKind::Appended, Some(id), Some(reason))
            }
            Decision::AgentReply(plan) => {
                let id = plan.ticket.id;
                let reason = self.apply_agent_reply(u, m, *plan);
                outcome(OutcomeKind::AgentReply, Some(id), reason)
            }
        }
    }

    /// The same mail again: an event on its ticket; returns the reason.
    fn apply_duplicate(
        &self,
        u: &mut UnitOfWork<'_>,
        m: Incoming<'_>,
        ticket: Option<i64>,
        message_id: &str,
    ) -> String {
        if let Some(t) = ticket {
            u.add_events([NewEvent {
                ticket_id: Some(t),
                message_row: None,
                kind: EventKind::Duplicate,
                detail: format!(
                    "mail <{message_id}> arrived again via {}: same content as the stored copy, ignored",
                    m.item.origin
                ),
            }]);
        }
        format!("already stored: Message-ID <{message_id}> with the same content")
    }

    /// A bounce on a ticket: stored, shown to the owner; a bounce of staff
    /// mail holds the address back instead.
    fn apply_bounce<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        ticket: &Ticket,
        reason: &str,
        via: &str,
        staff: Option<String>,
    ) {
        let row = self.store_inbound(
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

    /// An auto-reply on a ticket: appended, changes nothing.
    fn apply_autoreply<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        ticket: &Ticket,
        reason: &str,
        via: &str,
    ) {
        let row = self.store_inbound(
            u,
            m,
            Some(ticket.id),
            (MessageKind::Autoreply, Some(Role::System)),
            Some(reason.to_string()),
        );
        u.add_events([event(
            ticket.id,
            row,
            EventKind::Autoreply,
            format!(
                "automatic mail ({reason}); {via}; appended, status stays {}, not acknowledged",
                ticket.status
            ),
        )]);
    }

    /// Records an inbound mail with its attachments; returns the message row.
    pub(super) fn store_inbound<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        ticket_id: Option<i64>,
        (kind, role): (MessageKind, Option<Role>),
        reason: Option<String>,
    ) -> i64 {
        let mail = m.mail;
        if let Some(row) = m.item.adopt {
            // A released suspended mail: its stored row (bytes, attachments)
            // joins the ticket instead of being stored again.
            if let Some(t) = ticket_id {
                u.adopt_message(row, t, (kind, role.unwrap_or(Role::Customer)), mail);
            }
            return row;
        }
        let join = |v: &[crate::mail::Mailbox]| {
            v.iter()
                .map(|m| m.email.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let row = u.insert_message(NewMessage {
            ticket_id,
            direction: Direction::In,
            kind,
            message_id: mail.message_id.clone(),
            content_hash: mail.content_hash.clone(),
            text_hash: Some(mail.text_hash.clone()),
            from_addr: mail.from.email.clone(),
            from_name: mail.from.name.clone(),
            to_addrs: join(&mail.to),
            cc_addrs: join(&mail.cc),
            recipient: None,
            role,
            reply_token: None,
            subject: mail.subject.clone(),
            sent_at: mail.date,
            in_reply_to: capped_references(&mail.in_reply_to, MAX_REFERENCES).join(" "),
            refs: capped_references(&mail.references, MAX_REFERENCES).join(" "),
            thread_index: mail.header("Thread-Index").map(str::to_string),
            // The text and HTML are derived from the stored raw bytes when read
            // (`mail::parse::bodies`): storing them again would more than double
            // what every message writes, and writes bound ingest speed.
            text_body: Cow::Borrowed(""),
            html_body: None,
            origin: Some(m.item.origin.clone()),
            reason,
            raw: Some(&m.packed.bytes),
            raw_codec: m.packed.codec,
        });
        for a in &mail.attachments {
            u.attach(row, ticket_id, a);
        }
        if let (Some(t), Some(via)) = (ticket_id, &mail.sender_via) {
            u.add_events([event(
                t,
                row,
                EventKind::Sender,
                format!("{}: {via}", mail.from.email),
            )]);
        }
        if let Some(t) = ticket_id.filter(|_| !mail.charset_notes.is_empty()) {
            u.add_events([event(
                t,
                row,
                EventKind::Charset,
                mail.charset_notes.join("; "),
            )]);
        }
        row
    }

    /// The customer, their Reply-To and everyone they Cc'd (except mailroom and
    /// agents). On the mail that opens a ticket the sender is the customer; on
    /// a follow-up, a new sender joins the Cc of the conversation. At most
    /// `MAX_PARTICIPANTS_PER_MAIL` addresses of one mail; the event says how
    /// many were left out.
    fn add_participants(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket_id: i64,
        mail: &ParsedMail,
        first: bool,
        ev: &mut Events,
    ) {
        let internal = |e: &str| self.classifier.is_own_address(e) || self.classifier.is_agent(e);
        let reply = mail.reply_address();
        if first {
            u.add_participant(ticket_id, &reply.email, ParticipantRole::Customer);
            if reply.email != mail.from.email {
                // Allowed to write on the ticket (subject tag), not copied on answers.
                u.add_participant(ticket_id, &mail.from.email, ParticipantRole::Sender);
            }
        } else if !internal(&reply.email) {
            u.add_participant(ticket_id, &reply.email, ParticipantRole::Cc);
        }
        let others: Vec<&str> = mail
            .cc
            .iter()
            .chain(mail.to.iter())
            .map(|m| m.email.as_str())
            .filter(|e| !internal(e))
            .collect();
        for e in others.iter().take(MAX_PARTICIPANTS_PER_MAIL) {
            u.add_participant(ticket_id, e, ParticipantRole::Cc);
        }
        if others.len() > MAX_PARTICIPANTS_PER_MAIL {
            ev.push(
                EventKind::Participants,
                format!(
                    "{} more addresses in To/Cc were not recorded (at most {MAX_PARTICIPANTS_PER_MAIL} per mail)",
                    others.len() - MAX_PARTICIPANTS_PER_MAIL
                ),
            );
        }
    }
}
