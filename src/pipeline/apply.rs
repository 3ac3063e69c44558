//! Carrying out a [`Decision`]: the one place that writes what a message
//! causes — tickets, messages, participants, events, outgoing mail — into the
//! batch's unit of work.

use std::borrow::Cow;

use super::agent::{AgentPlan, RelayPlan};
use super::decide::{Decision, FollowUpPlan, NewTicketPlan, NotePlan};
use super::events::{Events, event};
use super::outgoing::Notify;
use super::sla::ClockEvent;
use super::unit::{NewTicket, UnitOfWork};
use super::{Incoming, Outcome, OutcomeKind, Pipeline};
use crate::mail::parse::ParsedMail;
use crate::mail::thread::{MAX_REFERENCES, capped_references};
use crate::store::{NewEvent, NewMessage};

/// Addresses recorded as participants from one mail's To/Cc: a mail to a
/// thousand recipients must not make every answer go to all of them.
const MAX_PARTICIPANTS_PER_MAIL: usize = 100;

use crate::tickets::Commands;
use crate::tickets::transitions::Change;
use crate::tickets::{Direction, EventKind, MessageKind, ParticipantRole, Role, Status, Ticket};

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
                self.notify_owner(u, ticket, &mut ev, Notify::Bounce(reason));
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

    fn apply_new_ticket<'a>(
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
            // The area's cursor and its agents' open tickets decided this:
            // every instance assigning in the area shares them.
            u.contend(format!("area:{area}"));
            for agent in self.assigner.members(area) {
                u.contend(format!("owner:{agent}"));
            }
            if let Some(c) = a.cursor {
                u.set_cursor(area, c);
            }
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
        });
        let id = ticket.id;
        let row = self.store_inbound(
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
        ev.push(EventKind::Routing, routing.trace.clone());
        if let Some(a) = &assignment {
            ev.push(EventKind::Assignment, a.reason.clone());
            if let Some(contact) = &a.escalate_to {
                self.notify(u, &ticket, contact, &mut ev, Notify::Unassigned);
            }
        }
        if routing.suppress_ack {
            ev.push(
                EventKind::Ack,
                "no acknowledgement: a rule suppressed it".into(),
            );
        } else if let Some(why) = &bulk {
            ev.push(
                EventKind::Ack,
                format!("no acknowledgement: bulk mail ({why}), tagged bulk"),
            );
        } else {
            self.acknowledge(u, &ticket, mail, &mut ev);
        }
        let watchers = self.cfg.area_watchers(ticket.area.as_deref());
        if ticket.owner.is_some() {
            self.notify_owner(u, &ticket, &mut ev, Notify::New);
        } else if watchers.is_empty() {
            ev.push(EventKind::Notification, "no owner: nobody notified".into());
        }
        // `notify = "area"`: every available agent of the area hears of it,
        // and any of them may answer (their notification is their proof).
        for agent in watchers {
            if ticket.owner.as_deref() != Some(agent.as_str()) {
                self.notify(u, &ticket, &agent, &mut ev, Notify::New);
            }
        }
        self.refresh_sla(u, id, None, ClockEvent::Changed);
        u.add_events(ev.list);
        id
    }

    fn apply_followup<'a>(&self, u: &mut UnitOfWork<'a>, m: Incoming<'a>, plan: FollowUpPlan) {
        let FollowUpPlan {
            mut ticket,
            thread,
            role,
            why: _,
            reopen,
            notes,
        } = plan;
        let mail = m.mail;
        let row = self.store_inbound(
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
        self.refresh_sla(u, ticket.id, Some(before), ClockEvent::CustomerWrote);
        let reopened = before == Status::Resolved && reopen.is_some();
        let by = (role != Role::Customer).then_some(mail.from.email.as_str());
        self.notify_owner(u, &ticket, &mut ev, Notify::FollowUp { reopened, by });
        u.add_events(ev.list);
    }

    /// Staff or an outsider wrote on the ticket without an agent's proof:
    /// kept as an internal note and shown to the owner; nothing else moves.
    /// Returns the outcome's reason.
    fn apply_internal_note<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        plan: NotePlan,
    ) -> String {
        let NotePlan {
            ticket,
            thread,
            role,
            why,
            tell_agent,
        } = plan;
        let mail = m.mail;
        let from = mail.from.email.clone();
        let reason = format!("internal note by {from} ({role}): {why}");
        let row = self.store_inbound(
            u,
            m,
            Some(ticket.id),
            (MessageKind::Note, Some(role)),
            Some(reason.clone()),
        );
        let mut ev = Events::new(ticket.id, row, Vec::new());
        ev.push(
            EventKind::Threading,
            format!("{from} ({role}): {}", thread.via),
        );
        for note in thread.notes {
            ev.push(EventKind::Threading, note);
        }
        ev.push(
            EventKind::Note,
            format!(
                "{reason}; never relayed, no command runs, status stays {} and no SLA clock moves",
                ticket.status
            ),
        );
        // Bookkeeping only: the ticket was written on.
        u.update_ticket(ticket.id, |_| {});
        if let Some(problem) = &tell_agent {
            let text = format!(
                "{problem}. Your mail is kept on the ticket as an internal note and was not sent to the customer; to answer the customer, reply to the notification itself (Reply or Reply All keeps its reply address)."
            );
            self.explain(u, &ticket, mail, &[text], &mut ev);
        }
        // The owner hears who wrote — unless the owner is the sender and was
        // just told directly.
        let told = tell_agent.is_some() && ticket.owner.as_deref() == Some(from.as_str());
        if !told {
            self.notify_owner(u, &ticket, &mut ev, Notify::Note { by: &from, role });
        }
        u.add_events(ev.list);
        reason
    }

    /// Returns the outcome's reason when nothing was relayed.
    fn apply_agent_reply<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        plan: AgentPlan,
    ) -> Option<String> {
        let AgentPlan {
            ticket,
            proof,
            role,
            kind,
            reply,
            commands,
            next,
            changes,
            relay,
            no_relay,
            explain,
        } = plan;
        let mail = m.mail;
        // first_response_at is set when the relay is delivered, not here
        // (pipeline/relay_result.rs): an answer nobody got is no response.
        let row = self.store_inbound(u, m, Some(ticket.id), (kind, Some(role)), no_relay.clone());
        let mut ev = Events::new(ticket.id, row, Vec::new());
        ev.push(
            EventKind::AgentReply,
            format!("{proof} ({role}); quoted history: {}", reply.detail),
        );
        command_events(&commands, &changes, &mail.from.email, &mut ev);
        for c in &changes {
            if let Change::Cc(addr) = c {
                u.add_participant(ticket.id, addr, ParticipantRole::Cc);
            }
        }
        let reassigned = changes.iter().find_map(|c| match c {
            Change::Owner { to, .. } => Some(to.clone()),
            _ => None,
        });
        let relayed = relay.is_some();
        let before = ticket.status;
        u.update_ticket(ticket.id, |t| {
            t.status = next.status;
            t.priority = next.priority;
            t.area = next.area.clone();
            t.owner = next.owner.clone();
            t.tags = next.tags.join(",");
        });
        let clock = if relayed {
            ClockEvent::Answered
        } else {
            ClockEvent::Changed
        };
        self.refresh_sla(u, ticket.id, Some(before), clock);
        let updated = u.ticket(ticket.id).cloned().unwrap_or(ticket);
        let answer = Answer {
            relay,
            no_relay: no_relay.as_deref(),
            explain: &explain,
            reassigned,
        };
        self.send_answer(u, &updated, mail, answer, &mut ev);
        u.add_events(ev.list);
        no_relay
    }

    /// The mail an agent's answer causes: the relay (or why none), the
    /// explanation to the agent, the new owner's notification.
    fn send_answer(
        &self,
        u: &mut UnitOfWork<'_>,
        updated: &Ticket,
        mail: &ParsedMail,
        answer: Answer<'_>,
        ev: &mut Events,
    ) {
        if let Some(r) = answer.relay {
            self.relay(u, updated, mail, r, ev);
        } else if let Some(why) = answer.no_relay {
            ev.push(
                EventKind::Relay,
                format!("nothing relayed to the customer: {why}"),
            );
        }
        if !answer.explain.is_empty() {
            self.explain(u, updated, mail, answer.explain, ev);
        }
        if let Some(new_owner) = answer.reassigned
            && new_owner != mail.from.email
        {
            self.notify(
                u,
                updated,
                &new_owner,
                ev,
                Notify::Assigned(&mail.from.email),
            );
        }
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

/// Whether `change` is what `command` did.
fn change_of(command: &crate::tickets::Command, change: &Change) -> bool {
    use crate::tickets::Command as C;
    matches!(
        (command, change),
        (C::Resolve | C::Pending | C::Open, Change::Status { .. })
            | (C::Assign(_) | C::Take, Change::Owner { .. })
            | (C::Area(_), Change::Area { .. })
            | (C::Priority(_), Change::Priority { .. })
            | (C::Cc(_), Change::Cc(_))
    ) || matches!((command, change), (C::Tag(a), Change::Tagged(b)) | (C::Untag(a), Change::Untagged(b)) if a == b)
}

/// What an agent's answer sends once the ticket is updated.
struct Answer<'p> {
    relay: Option<RelayPlan>,
    no_relay: Option<&'p str>,
    explain: &'p [String],
    reassigned: Option<String>,
}

/// One event per command (what it changed, or no change), and one for a
/// status change no command made (the relay's: waiting for the customer).
fn command_events(commands: &Commands, changes: &[Change], from: &str, ev: &mut Events) {
    for c in &commands.commands {
        let said = c.text();
        let effect: Vec<String> = changes
            .iter()
            .filter(|ch| change_of(c, ch))
            .map(Change::describe)
            .collect();
        ev.push(
            EventKind::Command,
            if effect.is_empty() {
                format!("{said} by {}: no change", from)
            } else {
                format!("{said} by {}: {}", from, effect.join(", "))
            },
        );
    }
    // A status change no command made is the relay's: waiting for the customer.
    if let Some(ch) = changes.iter().find(|c| matches!(c, Change::Status { .. }))
        && !commands.commands.iter().any(|c| change_of(c, ch))
    {
        ev.push(
            EventKind::Status,
            format!("{}: the answer went to the customer", ch.describe()),
        );
    }
}
