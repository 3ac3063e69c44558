//! Acknowledgements to customers and notifications to owners: rendered from
//! templates, composed, stored as outbound messages and queued in the outbox.

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Applied, Pipeline, Ticket};
use crate::error::Result;
use crate::mail::Mailbox;
use crate::mail::compose::{OutAttachment, Outgoing, compose, new_message_id, reply_references};
use crate::mail::parse::ParsedMail;
use crate::store::{NewEvent, NewMessage, Tx};

const RATE_WINDOW_HOURS: i64 = 1;

impl Pipeline {
    /// Queues the acknowledgement for a new ticket, unless the RFC 3834 rate
    /// limit for this recipient is reached.
    pub(crate) async fn acknowledge(
        &self,
        tx: &mut Tx,
        ticket: &Ticket,
        mail: &ParsedMail,
        row: i64,
        st: &mut Applied,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let to = mail.reply_address().clone();
        let ev = |detail: String| NewEvent {
            ticket_id: Some(ticket.id),
            message_row: Some(row),
            kind: "ack",
            detail,
        };
        if self.classifier.is_own_address(&to.email) {
            st.events.push(ev(format!(
                "no acknowledgement: the reply address {} is mailroom's own",
                to.email
            )));
            return Ok(());
        }
        let limit = i64::from(self.cfg.mailroom.ack_limit_per_hour);
        let recent = tx
            .auto_replies_since(&to.email, now - chrono::Duration::hours(RATE_WINDOW_HOURS))
            .await?;
        if recent >= limit {
            st.events.push(ev(format!(
                "no acknowledgement: {recent} automatic replies to {} in the last hour (limit {limit}, RFC 3834)",
                to.email
            )));
            return Ok(());
        }
        let ticket_ref = self.ticket_ref(ticket.id);
        let ctx = json!({
            "ticket_ref": ticket_ref,
            "subject": ticket.subject,
            "customer": to.email,
            "customer_name": to.name.as_ref().or(mail.from.name.as_ref()),
            "support_name": self.cfg.mailroom.support_name,
            "support_address": self.support.email,
        });
        let out = Outgoing {
            from: self.support.clone(),
            reply_to: Some(Mailbox {
                name: None,
                email: self.support.email.clone(),
            }),
            to: vec![to.clone()],
            cc: Vec::new(),
            subject: format!("Re: {} [{ticket_ref}]", ticket.normalized_subject),
            message_id: new_message_id(
                "ack",
                &uuid::Uuid::new_v4().simple().to_string(),
                &self.support.email,
            ),
            in_reply_to: Some(mail.message_id.clone()),
            references: reply_references(&mail.references, &mail.message_id),
            auto_submitted: Some("auto-replied"),
            loop_id: self.loop_id.clone(),
            extra_headers: vec![("X-Mailroom-Ticket", ticket_ref.clone())],
            date: now,
            text: self.templates.render("ack.txt", &ctx)?,
            html: Some(self.templates.render("ack.html", &ctx)?),
            attachments: Vec::new(),
        };
        match self.queue(tx, ticket.id, "ack", None, &out, now).await? {
            Ok(mid) => st.events.push(ev(format!(
                "acknowledgement queued to {} as <{mid}>",
                to.email
            ))),
            Err(reason) => st.events.push(ev(format!(
                "no acknowledgement: cannot compose it ({reason})"
            ))),
        }
        Ok(())
    }

    /// Tells the ticket's owner what happened, carrying the customer's text and
    /// attachments, with a Message-ID the owner's reply will reference.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn notify_owner(
        &self,
        tx: &mut Tx,
        ticket: &Ticket,
        mail: &ParsedMail,
        row: i64,
        event: &str,
        reason: Option<&str>,
        reopened: bool,
        st: &mut Applied,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some(owner) = &ticket.owner else {
            return Ok(());
        };
        let agent_name = self
            .cfg
            .agent
            .iter()
            .find(|a| a.email.eq_ignore_ascii_case(owner))
            .and_then(|a| a.name.clone());
        let ticket_ref = self.ticket_ref(ticket.id);
        let attachments: Vec<OutAttachment> = mail
            .attachments
            .iter()
            .map(|a| OutAttachment {
                filename: a
                    .filename
                    .clone()
                    .unwrap_or_else(|| "attachment.bin".into()),
                content_type: a.content_type.clone(),
                data: a.data.clone(),
            })
            .collect();
        let ctx = json!({
            "event": event,
            "reason": reason,
            "reopened": reopened,
            "ticket_ref": ticket_ref,
            "subject": ticket.subject,
            "customer": ticket.customer,
            "customer_name": ticket.customer_name,
            "area": ticket.area,
            "priority": ticket.priority,
            "status": ticket.status,
            "sla_due": serde_json::Value::Null,
            "text": mail.text,
            "attachments": attachments.iter().map(|a| a.filename.clone()).collect::<Vec<_>>(),
            "support_address": self.support.email,
        });
        let sender_name = match &ticket.customer_name {
            Some(n) => format!("{n} via {}", self.cfg.mailroom.support_name),
            None => format!("{} via {}", ticket.customer, self.cfg.mailroom.support_name),
        };
        let out = Outgoing {
            from: Mailbox {
                name: Some(sender_name),
                email: self.support.email.clone(),
            },
            reply_to: Some(Mailbox {
                name: None,
                email: self.support.email.clone(),
            }),
            to: vec![Mailbox {
                name: agent_name,
                email: owner.clone(),
            }],
            cc: Vec::new(),
            subject: format!("[{ticket_ref}] {}", ticket.normalized_subject),
            message_id: new_message_id(
                "n",
                &uuid::Uuid::new_v4().simple().to_string(),
                &self.support.email,
            ),
            in_reply_to: Some(mail.message_id.clone()),
            references: reply_references(&mail.references, &mail.message_id),
            auto_submitted: Some("auto-generated"),
            loop_id: self.loop_id.clone(),
            extra_headers: vec![("X-Mailroom-Ticket", ticket_ref.clone())],
            date: now,
            text: self.templates.render("notification.txt", &ctx)?,
            html: Some(self.templates.render("notification.html", &ctx)?),
            attachments,
        };
        let detail = match self
            .queue(tx, ticket.id, "notification", Some(owner), &out, now)
            .await?
        {
            Ok(mid) => format!("{event} notification queued to owner {owner} as <{mid}>"),
            Err(reason) => {
                format!("owner {owner} not notified: cannot compose the notification ({reason})")
            }
        };
        st.events.push(NewEvent {
            ticket_id: Some(ticket.id),
            message_row: Some(row),
            kind: "notification",
            detail,
        });
        Ok(())
    }

    /// Stores the composed mail as an outbound message and queues it. A compose
    /// failure (say, an address lettre rejects) comes back as `Ok(Err(text))` for
    /// the event; database errors abort the transaction as usual.
    async fn queue(
        &self,
        tx: &mut Tx,
        ticket_id: i64,
        kind: &str,
        recipient: Option<&str>,
        out: &Outgoing,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<String, String>> {
        let raw = match compose(out) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let to = out
            .to
            .iter()
            .map(|m| m.email.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let hash = hex::encode(Sha256::digest(&raw));
        let refs = out.references.join(" ");
        let msg = NewMessage {
            ticket_id: Some(ticket_id),
            direction: "out",
            kind,
            message_id: &out.message_id,
            content_hash: &hash,
            from_addr: &out.from.email,
            from_name: out.from.name.as_deref(),
            to_addrs: &to,
            cc_addrs: "",
            recipient,
            subject: &out.subject,
            sent_at: Some(now),
            in_reply_to: out.in_reply_to.as_deref().unwrap_or(""),
            refs: &refs,
            text_body: &out.text,
            html_body: out.html.as_deref(),
            origin: None,
            reason: None,
            raw: &raw,
            now,
        };
        tx.insert_outbound(&msg, &out.from.email, &to).await?;
        Ok(Ok(out.message_id.clone()))
    }
}
