//! The one place that decides what a message causes (DESIGN §1). A batch of raw
//! messages is processed in one transaction; a message that breaks the batch is
//! isolated and quarantined, so one poison mail never stalls a mailbox.

mod outgoing;
mod thread;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::error::Result;
use crate::mail::parse::ParsedMail;
use crate::mail::{Class, Classifier, Mailbox, ThreadKeys};
use crate::rules::{DefaultRouter, Router};
use crate::store::{NewEvent, NewMessage, NewTicket, Store, TicketRow, Tx};
use crate::templates::Templates;
use crate::tickets::{self, Status};

pub use thread::ThreadMatch;

/// One raw message and where it came from (file path, maildir entry, …).
#[derive(Debug, Clone)]
pub struct Inbound {
    pub origin: String,
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    Created,
    Appended,
    AgentReply,
    Duplicate,
    Bounce,
    Autoreply,
    Ignored,
    Quarantined,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Created => "created",
            OutcomeKind::Appended => "appended",
            OutcomeKind::AgentReply => "agent_reply",
            OutcomeKind::Duplicate => "duplicate",
            OutcomeKind::Bounce => "bounce",
            OutcomeKind::Autoreply => "autoreply",
            OutcomeKind::Ignored => "ignored",
            OutcomeKind::Quarantined => "quarantined",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub file: String,
    pub outcome: OutcomeKind,
    #[serde(rename = "ref")]
    pub ticket_ref: Option<String>,
    pub reason: Option<String>,
}

pub struct Pipeline {
    pub(crate) cfg: Arc<Config>,
    pub(crate) classifier: Classifier,
    pub(crate) keys: ThreadKeys,
    pub(crate) router: Box<dyn Router>,
    pub(crate) templates: Templates,
    pub(crate) support: Mailbox,
    pub(crate) loop_id: String,
    max_size: usize,
}

/// Per-message working state while it is applied.
pub(crate) struct Applied {
    events: Vec<NewEvent>,
}

impl Pipeline {
    pub fn new(cfg: Arc<Config>) -> Result<Pipeline> {
        let templates = Templates::load(&cfg.mailroom.templates_dir)?;
        let roster = cfg
            .agent
            .iter()
            .map(|a| a.email.to_ascii_lowercase())
            .collect();
        let loop_id = cfg.mailroom.support_address.to_ascii_lowercase();
        Ok(Pipeline {
            classifier: Classifier::new(cfg.own_addresses(), &loop_id, roster),
            keys: ThreadKeys::new(&cfg.mailroom.ticket_prefix),
            router: Box::new(DefaultRouter::from_config(&cfg)),
            templates,
            support: Mailbox {
                name: Some(cfg.mailroom.support_name.clone()),
                email: cfg.mailroom.support_address.to_ascii_lowercase(),
            },
            loop_id,
            max_size: cfg.max_message_size(),
            cfg,
        })
    }

    pub fn ticket_ref(&self, id: i64) -> String {
        tickets::format_ref(&self.cfg.mailroom.ticket_prefix, id)
    }

    /// Processes `batch` in one transaction. If the batch fails for a reason other
    /// than the database being unavailable, each message is retried alone and a
    /// message that still fails is quarantined with the error.
    pub async fn process_batch(
        &self,
        store: &Store,
        batch: &[Inbound],
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        match self.try_batch(store, batch, now).await {
            Ok(v) => Ok(v),
            Err(e) if e.is_temporary() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, size = batch.len(), "batch failed; isolating messages");
                let mut out = Vec::with_capacity(batch.len());
                for item in batch {
                    match self.try_batch(store, std::slice::from_ref(item), now).await {
                        Ok(mut v) => out.append(&mut v),
                        Err(e) if e.is_temporary() => return Err(e),
                        Err(e) => {
                            let reason = format!("processing failed: {e}");
                            tracing::error!(origin = %item.origin, %reason, "quarantining message");
                            let mut tx = store.begin().await?;
                            tx.quarantine(&item.origin, &reason, &item.raw, now).await?;
                            tx.commit().await?;
                            out.push(Outcome {
                                file: item.origin.clone(),
                                outcome: OutcomeKind::Quarantined,
                                ticket_ref: None,
                                reason: Some(reason),
                            });
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    async fn try_batch(
        &self,
        store: &Store,
        batch: &[Inbound],
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let mut tx = store.begin().await?;
        let mut out = Vec::with_capacity(batch.len());
        for item in batch {
            match self.process(&mut tx, item, now).await {
                Ok(o) => out.push(o),
                Err(e) => {
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn quarantine(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        tx.quarantine(&item.origin, &reason, &item.raw, now).await?;
        Ok(Outcome {
            file: item.origin.clone(),
            outcome: OutcomeKind::Quarantined,
            ticket_ref: None,
            reason: Some(reason),
        })
    }

    async fn process(&self, tx: &mut Tx, item: &Inbound, now: DateTime<Utc>) -> Result<Outcome> {
        if item.raw.len() > self.max_size {
            let reason = format!(
                "message is {} bytes, over the limit of {} bytes (mailroom.max_message_size)",
                item.raw.len(),
                self.max_size
            );
            return self.quarantine(tx, item, reason, now).await;
        }
        let mail = match crate::mail::parse(&item.raw) {
            Ok(m) => m,
            Err(f) => return self.quarantine(tx, item, f.to_string(), now).await,
        };

        if let Some((_, ticket)) = tx
            .find_message(&mail.message_id, &mail.content_hash)
            .await?
        {
            if let Some(t) = ticket {
                let ev = NewEvent {
                    ticket_id: Some(t),
                    message_row: None,
                    kind: "duplicate",
                    detail: format!(
                        "mail <{}> arrived again via {}: same content as the stored copy, ignored",
                        mail.message_id, item.origin
                    ),
                };
                tx.add_events(&[ev], now).await?;
            }
            return Ok(Outcome {
                file: item.origin.clone(),
                outcome: OutcomeKind::Duplicate,
                ticket_ref: ticket.map(|t| self.ticket_ref(t)),
                reason: Some(format!(
                    "already stored: Message-ID <{}> with the same content",
                    mail.message_id
                )),
            });
        }

        let class = self.classifier.classify(&mail);
        let thread = self.find_thread(tx, &mail, &class).await?;
        let mut st = Applied { events: Vec::new() };
        let outcome = match &class {
            Class::OwnLoop { reason } => {
                self.store_unthreaded(tx, item, &mail, "ignored", reason, now)
                    .await?;
                Outcome {
                    file: item.origin.clone(),
                    outcome: OutcomeKind::Ignored,
                    ticket_ref: None,
                    reason: Some(reason.clone()),
                }
            }
            Class::Bounce { reason } => {
                self.apply_bounce(tx, item, &mail, thread, reason, &mut st, now)
                    .await?
            }
            Class::AutoReply { reason } => {
                self.apply_autoreply(tx, item, &mail, thread, reason, &mut st, now)
                    .await?
            }
            Class::AgentCandidate if thread.agent_proof.is_some() => {
                self.apply_agent_reply(tx, item, &mail, thread, &mut st, now)
                    .await?
            }
            Class::AgentCandidate | Class::Customer => {
                if matches!(class, Class::AgentCandidate) {
                    st.events.push(NewEvent {
                        ticket_id: None,
                        message_row: None,
                        kind: "classification",
                        detail: format!(
                            "{} is on the roster, but the mail answers no notification sent to them: handled as customer mail",
                            mail.from.email
                        ),
                    });
                }
                match thread.ticket {
                    Some(_) => {
                        self.apply_followup(tx, item, &mail, thread, &mut st, now)
                            .await?
                    }
                    None => {
                        self.apply_new_ticket(tx, item, &mail, thread, &mut st, now)
                            .await?
                    }
                }
            }
        };
        tx.add_events(&st.events, now).await?;
        Ok(outcome)
    }

    /// Stores an inbound mail with its attachments; returns the message row.
    #[allow(clippy::too_many_arguments)]
    async fn store_inbound(
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

    async fn store_unthreaded(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        mail: &ParsedMail,
        kind: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.store_inbound(tx, item, mail, None, kind, Some(reason), now)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_bounce(
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
            self.store_unthreaded(tx, item, mail, "bounce", &why, now)
                .await?;
            return Ok(Outcome {
                file: item.origin.clone(),
                outcome: OutcomeKind::Bounce,
                ticket_ref: None,
                reason: Some(why),
            });
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
        Ok(Outcome {
            file: item.origin.clone(),
            outcome: OutcomeKind::Bounce,
            ticket_ref: Some(self.ticket_ref(ticket.id)),
            reason: Some(reason.to_string()),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_autoreply(
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
            self.store_unthreaded(tx, item, mail, "autoreply", &why, now)
                .await?;
            return Ok(Outcome {
                file: item.origin.clone(),
                outcome: OutcomeKind::Autoreply,
                ticket_ref: None,
                reason: Some(why),
            });
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
        Ok(Outcome {
            file: item.origin.clone(),
            outcome: OutcomeKind::Autoreply,
            ticket_ref: Some(self.ticket_ref(ticket.id)),
            reason: Some(reason.to_string()),
        })
    }

    async fn apply_agent_reply(
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
        Ok(Outcome {
            file: item.origin.clone(),
            outcome: OutcomeKind::AgentReply,
            ticket_ref: Some(self.ticket_ref(ticket_id)),
            reason: None,
        })
    }

    async fn apply_followup(
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
        Ok(Outcome {
            file: item.origin.clone(),
            outcome: OutcomeKind::Appended,
            ticket_ref: Some(self.ticket_ref(ticket.id)),
            reason: None,
        })
    }

    async fn apply_new_ticket(
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
        let id = tx
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

        let ticket = tx
            .ticket(id)
            .await?
            .ok_or_else(|| crate::Error::TicketNotFound(self.ticket_ref(id)))?;
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
        Ok(Outcome {
            file: item.origin.clone(),
            outcome: OutcomeKind::Created,
            ticket_ref: Some(self.ticket_ref(id)),
            reason: None,
        })
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
fn attach_pending_events(st: &mut Applied, ticket_id: i64, row: i64) {
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

/// Re-exported so the outgoing module can name the ticket row.
pub(crate) type Ticket = TicketRow;
