//! Acknowledgements to customers and notifications to owners. The pipeline
//! decides and records them — Message-ID, recipients, subject, threading
//! headers — and queues them; the outbox worker renders the bodies from the
//! templates when it sends (`outbound::render`). Ingest stays cheap, and a
//! Message-ID exists from the start, so replies and bounces thread even before
//! the mail has left.

use serde_json::json;

use super::apply::event;
use super::{Applied, Pipeline, Ticket};
use crate::mail::compose::{new_message_id, reply_references};
use crate::mail::parse::ParsedMail;
use crate::store::{Batch, NewMessage, NewOutbox};

pub(super) const RATE_WINDOW_HOURS: i64 = 1;

/// What the batch records for one outgoing mail.
struct Planned<'s> {
    kind: &'static str,
    to: &'s str,
    recipient: Option<&'s str>,
    subject: String,
    context: serde_json::Value,
}

impl Pipeline {
    /// Queues the acknowledgement for a new ticket, unless the RFC 3834 rate
    /// limit for this recipient is reached.
    pub(crate) fn acknowledge(
        &self,
        b: &mut Batch<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        row: i64,
        st: &mut Applied,
    ) {
        let to = mail.reply_address();
        if self.classifier.is_own_address(&to.email) {
            st.events.push(event(
                ticket.id,
                row,
                "ack",
                format!(
                    "no acknowledgement: the reply address {} is mailroom's own",
                    to.email
                ),
            ));
            return;
        }
        let limit = i64::from(self.cfg.mailroom.ack_limit_per_hour);
        let recent = b.auto_replies_recently(&to.email);
        if recent >= limit {
            st.events.push(event(
                ticket.id,
                row,
                "ack",
                format!(
                    "no acknowledgement: {recent} automatic replies to {} in the last hour (limit {limit}, RFC 3834)",
                    to.email
                ),
            ));
            return;
        }
        let ticket_ref = self.ticket_ref(ticket.id);
        let planned = Planned {
            kind: "ack",
            to: &to.email,
            recipient: None,
            subject: format!("Re: {} [{ticket_ref}]", ticket.normalized_subject),
            context: json!({ "to_name": to.name.as_ref().or(mail.from.name.as_ref()) }),
        };
        let mid = self.queue(b, ticket, mail, row, planned);
        st.events.push(event(
            ticket.id,
            row,
            "ack",
            format!("acknowledgement queued to {} as <{mid}>", to.email),
        ));
    }

    /// Tells the ticket's owner what happened; the notification carries the
    /// customer's text and attachments and a Message-ID the owner's reply will
    /// reference (the proof that makes it an agent reply).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn notify_owner(
        &self,
        b: &mut Batch<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        row: i64,
        what: &str,
        reason: Option<&str>,
        reopened: bool,
        st: &mut Applied,
    ) {
        let Some(owner) = ticket.owner.clone() else {
            return;
        };
        self.notify(b, ticket, mail, row, &owner, what, reason, reopened, st);
    }

    /// A notification to `to` (the owner, or an area's escalation contact).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn notify(
        &self,
        b: &mut Batch<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        row: i64,
        to: &str,
        what: &str,
        reason: Option<&str>,
        reopened: bool,
        st: &mut Applied,
    ) {
        let ticket_ref = self.ticket_ref(ticket.id);
        let planned = Planned {
            kind: "notification",
            to,
            recipient: Some(to),
            subject: format!("[{ticket_ref}] {}", ticket.normalized_subject),
            context: json!({ "event": what, "reason": reason, "reopened": reopened }),
        };
        let mid = self.queue(b, ticket, mail, row, planned);
        let whom = if ticket.owner.as_deref() == Some(to) {
            "owner"
        } else {
            "escalation contact"
        };
        st.events.push(event(
            ticket.id,
            row,
            "notification",
            format!("{what} notification queued to {whom} {to} as <{mid}>"),
        ));
    }

    /// Records the outbound message (not rendered yet) and its outbox row.
    fn queue(
        &self,
        b: &mut Batch<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        trigger_row: i64,
        p: Planned<'_>,
    ) -> String {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let message_id = new_message_id(
            if p.kind == "ack" { "ack" } else { "n" },
            &unique,
            &self.support.email,
        );
        let message_row = b.insert_message(NewMessage {
            ticket_id: Some(ticket.id),
            direction: "out",
            kind: p.kind,
            message_id: message_id.clone(),
            content_hash: String::new(),
            from_addr: self.support.email.clone(),
            from_name: self.support.name.clone(),
            to_addrs: p.to.to_string(),
            cc_addrs: String::new(),
            recipient: p.recipient.map(str::to_string),
            subject: p.subject,
            sent_at: None,
            in_reply_to: mail.message_id.clone(),
            refs: reply_references(&mail.references, &mail.message_id).join(" "),
            text_body: "",
            html_body: None,
            origin: None,
            reason: None,
            raw: None,
            raw_codec: None,
        });
        b.enqueue(NewOutbox {
            message_row,
            ticket_id: ticket.id,
            kind: p.kind,
            trigger_row,
            context: p.context.to_string(),
            sender: self.support.email.clone(),
            recipients: p.to.to_string(),
        });
        message_id
    }
}
