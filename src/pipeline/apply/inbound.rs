//! The inbound mail recorded: its row and attachments, and the people it
//! makes participants of its ticket.

use std::borrow::Cow;

use super::{Apply, Incoming};
use crate::mail::parse::ParsedMail;
use crate::mail::thread::{MAX_REFERENCES, capped_references};
use crate::pipeline::events::{Events, event};
use crate::pipeline::unit::UnitOfWork;
use crate::store::NewMessage;
use crate::tickets::{Direction, EventKind, MessageKind, ParticipantRole, Role};

/// Addresses recorded as participants from one mail's To/Cc: a mail to a
/// thousand recipients must not make every answer go to all of them.
const MAX_PARTICIPANTS_PER_MAIL: usize = 100;

/// Records an inbound mail with its attachments; returns the message row.
pub(super) fn store_inbound<'a>(
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

impl Apply {
    /// The customer, their Reply-To and everyone they Cc'd (except mailroom and
    /// agents). On the mail that opens a ticket the sender is the customer; on
    /// a follow-up, a new sender joins the Cc of the conversation. At most
    /// `MAX_PARTICIPANTS_PER_MAIL` addresses of one mail; the event says how
    /// many were left out.
    pub(super) fn add_participants(
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
