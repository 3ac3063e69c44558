//! The one place that decides what a message causes (DESIGN §1). A batch of raw
//! messages is processed in one transaction; a message that breaks the batch is
//! isolated and quarantined, so one poison mail never stalls a mailbox.

mod apply;
mod outgoing;
mod thread;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::error::Result;
use crate::mail::{Class, Classifier, Mailbox, ThreadKeys};
use crate::rules::{DefaultRouter, Router};
use crate::store::{NewEvent, Store, TicketRow, Tx};
use crate::templates::Templates;
use crate::tickets;

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
        // The events of the whole batch, inserted together before the commit
        // (a few statements per batch instead of one per message).
        let mut events = Vec::new();
        for item in batch {
            match self.process(&mut tx, item, &mut events, now).await {
                Ok(o) => out.push(o),
                Err(e) => {
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            }
        }
        if let Err(e) = tx.add_events(&events, now).await {
            let _ = tx.rollback().await;
            return Err(e);
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

    /// Applies one message; the events it causes are appended to `events`.
    async fn process(
        &self,
        tx: &mut Tx,
        item: &Inbound,
        events: &mut Vec<NewEvent>,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
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
                events.push(ev);
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
                let why = reason.clone();
                self.keep_unthreaded(tx, item, &mail, "ignored", OutcomeKind::Ignored, why, now)
                    .await?
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
        events.append(&mut st.events);
        Ok(outcome)
    }
}

/// Re-exported so the outgoing module can name the ticket row.
pub(crate) type Ticket = TicketRow;
