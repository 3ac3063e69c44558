//! Applying a classified, threaded message: what each kind of mail does to
//! tickets, messages, participants and the outbox.

use chrono::{DateTime, Utc};

use super::{Applied, Inbound, Outcome, OutcomeKind, Pipeline, ThreadMatch};
use crate::error::Result;
use crate::mail::Mailbox;
use crate::mail::parse::ParsedMail;
use crate::store::{NewEvent, NewMessage, NewTicket, Tx};
use crate::tickets::{self, Status};

impl Pipeline {
    /// Stores an inbound mail with its attachments; returns the message row.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn store_inbound(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        mail: &ParsedMail,
        ticket_id: Option<i64>,
        kind: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let joined = JoinedAddrs::of(mail);
        let row = tx
            .insert_message(&NewMessage {
                ticket_id,
                kind,
                reason,
                ..inbound_message(item, mail, &joined, now)
            })
            .await?;
        for a in &mail.attachments {
            tx.attach(row, a).await?;
        }
        Ok(row)
    }

    /// Keeps a mail that belongs to no ticket (stored with the reason, never answered).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn keep_unthreaded(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        mail: &ParsedMail,
        kind: &str,
        outcome: OutcomeKind,
        why: String,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        self.store_inbound(tx, item, mail, None, kind, Some(&why), now)
            .await?;
        Ok(self.outcome(item, outcome, None, Some(why)))
    }

    pub(super) fn outcome(
        &self,
        item: &Inbound,
        outcome: OutcomeKind,
        ticket: Option<i64>,
        reason: Option<String>,
    ) -> Outcome {
        Outcome {
            file: item.origin.clone(),
            outcome,
            ticket_ref: ticket.map(|t| self.ticket_ref(t)),
            reason,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn apply_bounce(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        mail: &ParsedMail,
        thread: ThreadMatch,
        reason: &str,
        st: &mut Applied,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let Some(ticket) = thread.ticket else {
            let why = format!(
                "{reason}; the bounced message is not one of ours: stored, no ticket, not answered"
            );
            return self
                .keep_unthreaded(tx, item, mail, "bounce", OutcomeKind::Bounce, why, now)
                .await;
        };
        let row = self
            .store_inbound(tx, item, mail, Some(ticket.id), "bounce", Some(reason), now)
            .await?;
        st.events.push(NewEvent {
            ticket_id: Some(ticket.id),
            message_row: Some(row),
            kind: "bounce",
            detail: format!(
                "{reason}; {}; shown to the owner, never answered",
                thread.via
            ),
        });
        if ticket.owner.is_some() {
            self.notify_owner(
                tx,
                &ticket,
                mail,
                row,
                "bounce",
                Some(reason),
                false,
                st,
                now,
            )
            .await?;
        }
        Ok(self.outcome(
            item,
            OutcomeKind::Bounce,
            Some(ticket.id),
            Some(reason.to_string()),
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn apply_autoreply(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        mail: &ParsedMail,
        thread: ThreadMatch,
        reason: &str,
        st: &mut Applied,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let Some(ticket) = thread.ticket else {
            let why =
                format!("{reason}; answers no known message: stored, no ticket, not acknowledged");
            return self
                .keep_unthreaded(
                    tx,
                    item,
                    mail,
                    "autoreply",
                    OutcomeKind::Autoreply,
                    why,
                    now,
                )
                .await;
        };
        let row = self
            .store_inbound(
                tx,
                item,
                mail,
                Some(ticket.id),
                "autoreply",
                Some(reason),
                now,
            )
            .await?;
        st.events.push(NewEvent {
            ticket_id: Some(ticket.id),
            message_row: Some(row),
            kind: "autoreply",
            detail: format!(
                "automatic mail ({reason}); {}; appended, status stays {}, not acknowledged",
                thread.via, ticket.status
            ),
        });
        Ok(self.outcome(
            item,
            OutcomeKind::Autoreply,
            Some(ticket.id),
            Some(reason.to_string()),
        ))
    }

    pub(super) async fn apply_agent_reply(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        mail: &ParsedMail,
        thread: ThreadMatch,
        st: &mut Applied,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let (ticket_id, notification_id) = thread.agent_proof.clone().unwrap_or_default();
        let row = self
            .store_inbound(tx, item, mail, Some(ticket_id), "agent", None, now)
            .await?;
        tx.record_first_response(ticket_id, now).await?;
        st.events.push(NewEvent {
            ticket_id: Some(ticket_id),
            message_row: Some(row),
            kind: "agent_reply",
            detail: format!(
                "agent reply from {}: answers notification <{notification_id}> that was sent to them",
                mail.from.email
            ),
        });
        Ok(self.outcome(item, OutcomeKind::AgentReply, Some(ticket_id), None))
    }

    pub(super) async fn apply_followup(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        mail: &ParsedMail,
        thread: ThreadMatch,
        st: &mut Applied,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let Some(mut ticket) = thread.ticket else {
            return Err(crate::Error::Invalid("follow-up without a ticket".into()));
        };
        let row = self
            .store_inbound(tx, item, mail, Some(ticket.id), "customer", None, now)
            .await?;
        self.add_participants(tx, ticket.id, mail).await?;
        attach_pending_events(st, ticket.id, row);
        st.events.push(NewEvent {
            ticket_id: Some(ticket.id),
            message_row: Some(row),
            kind: "threading",
            detail: format!("follow-up from {}: {}", mail.from.email, thread.via),
        });
        for note in thread.notes {
            st.events.push(NewEvent {
                ticket_id: Some(ticket.id),
                message_row: Some(row),
                kind: "threading",
                detail: note,
            });
        }
        let current: Status = ticket.status.parse().unwrap_or(Status::Open);
        let reopened = match tickets::after_customer_followup(current) {
            Some(next) => {
                tx.set_ticket_status(ticket.id, next.as_str(), now).await?;
                st.events.push(NewEvent {
                    ticket_id: Some(ticket.id),
                    message_row: Some(row),
                    kind: "status",
                    detail: format!("{current} -> {next}: the customer wrote again"),
                });
                ticket.status = next.as_str().to_string();
                current == Status::Resolved
            }
            None => {
                tx.touch_ticket(ticket.id, now).await?;
                false
            }
        };
        if ticket.owner.is_some() {
            self.notify_owner(tx, &ticket, mail, row, "followup", None, reopened, st, now)
                .await?;
        }
        Ok(self.outcome(item, OutcomeKind::Appended, Some(ticket.id), None))
    }

    pub(super) async fn apply_new_ticket(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        mail: &ParsedMail,
        thread: ThreadMatch,
        st: &mut Applied,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let routing = self.router.route(mail);
        let subject = if mail.subject.is_empty() {
            "(no subject)".to_string()
        } else {
            mail.subject.clone()
        };
        let normalized = self.keys.normalize_subject(&subject);
        let customer = mail.reply_address();
        let tags = routing.tags.join(",");
        let ticket = tx
            .insert_ticket(&NewTicket {
                subject: &subject,
                normalized_subject: &normalized,
                status: Status::Open.as_str(),
                priority: routing.priority.as_str(),
                area: routing.area.as_deref(),
                owner: routing.owner.as_deref(),
                customer: &customer.email,
                customer_name: customer.name.as_deref().or(mail.from.name.as_deref()),
                tags: &tags,
                now,
            })
            .await?;
        let id = ticket.id;
        let row = self
            .store_inbound(tx, item, mail, Some(id), "customer", None, now)
            .await?;
        self.add_participants(tx, id, mail).await?;
        attach_pending_events(st, id, row);
        st.events.push(NewEvent {
            ticket_id: Some(id),
            message_row: Some(row),
            kind: "threading",
            detail: thread.via.clone(),
        });
        for note in &thread.notes {
            st.events.push(NewEvent {
                ticket_id: Some(id),
                message_row: Some(row),
                kind: "threading",
                detail: note.clone(),
            });
        }
        st.events.push(NewEvent {
            ticket_id: Some(id),
            message_row: Some(row),
            kind: "routing",
            detail: routing.trace.clone(),
        });

        if routing.suppress_ack {
            st.events.push(NewEvent {
                ticket_id: Some(id),
                message_row: Some(row),
                kind: "ack",
                detail: "no acknowledgement: a rule suppressed it".into(),
            });
        } else {
            self.acknowledge(tx, &ticket, mail, row, st, now).await?;
        }
        if ticket.owner.is_some() {
            self.notify_owner(tx, &ticket, mail, row, "new", None, false, st, now)
                .await?;
        } else {
            st.events.push(NewEvent {
                ticket_id: Some(id),
                message_row: Some(row),
                kind: "notification",
                detail: "no owner: nobody notified".into(),
            });
        }
        Ok(self.outcome(item, OutcomeKind::Created, Some(id), None))
    }

    /// The customer, their Reply-To and everyone they Cc'd (except mailroom and agents).
    async fn add_participants(&self, tx: &mut Tx, ticket_id: i64, mail: &ParsedMail) -> Result<()> {
        tx.add_participant(ticket_id, &mail.from.email, "customer")
            .await?;
        if let Some(r) = &mail.reply_to
            && !self.classifier.is_own_address(&r.email)
        {
            tx.add_participant(ticket_id, &r.email, "customer").await?;
        }
        for cc in mail.cc.iter().chain(mail.to.iter()) {
            if !self.classifier.is_own_address(&cc.email) && !self.classifier.is_agent(&cc.email) {
                tx.add_participant(ticket_id, &cc.email, "cc").await?;
            }
        }
        Ok(())
    }
}

/// The stored form of an inbound mail; the caller sets ticket, kind and reason.
fn inbound_message<'a>(
    item: &'a Inbound,
    mail: &'a ParsedMail,
    joined: &'a JoinedAddrs,
    now: DateTime<Utc>,
) -> NewMessage<'a> {
    NewMessage {
        ticket_id: None,
        direction: "in",
        kind: "customer",
        message_id: &mail.message_id,
        content_hash: &mail.content_hash,
        from_addr: &mail.from.email,
        from_name: mail.from.name.as_deref(),
        to_addrs: &joined.to,
        cc_addrs: &joined.cc,
        recipient: None,
        subject: &mail.subject,
        sent_at: mail.date,
        in_reply_to: &joined.in_reply_to,
        refs: &joined.refs,
        text_body: &mail.text,
        html_body: mail.html.as_deref(),
        origin: Some(&item.origin),
        reason: None,
        raw: &item.raw,
        now,
    }
}

/// Events noted before the ticket was known (classification) belong to it now.
pub(super) fn attach_pending_events(st: &mut Applied, ticket_id: i64, row: i64) {
    for e in st.events.iter_mut().filter(|e| e.ticket_id.is_none()) {
        e.ticket_id = Some(ticket_id);
        e.message_row = Some(row);
    }
}

/// Address and ID lists joined for storage.
struct JoinedAddrs {
    to: String,
    cc: String,
    in_reply_to: String,
    refs: String,
}

impl JoinedAddrs {
    fn of(mail: &ParsedMail) -> JoinedAddrs {
        let join = |v: &[Mailbox]| {
            v.iter()
                .map(|m| m.email.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        JoinedAddrs {
            to: join(&mail.to),
            cc: join(&mail.cc),
            in_reply_to: mail.in_reply_to.join(" "),
            refs: mail.references.join(" "),
        }
    }
}
