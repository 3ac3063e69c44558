//! `mailroom inspect`: what the pipeline reads in a mail, storing nothing —
//! classification with the reason, thread keys, sender, the reply text after
//! quote stripping, and the commands an agent's reply would carry.

use std::sync::Arc;

use serde::Serialize;

use super::decide::{Decide, Decision};
use super::prepare::Prepare;
use super::unit::UnitOfWork;
use crate::mail::parse::{ParsedMail, PartFate};
use crate::mail::reply::{self, HtmlReply, Reply};
use crate::mail::thread::referenced_ids;
use crate::mail::{Classifier, ThreadKeys};
use crate::tickets::commands::{self, Commands, Directory};
use crate::tickets::{self, MessageKind, Role};

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub kind: &'static str,
    pub reason: Option<String>,
    pub message_id: String,
    pub from: String,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub date: Option<chrono::DateTime<chrono::Utc>>,
    pub thread_keys: ThreadKeysSeen,
    /// The whole text body.
    pub text: String,
    /// The new words, after the marker cut and quote stripping.
    pub reply_text: String,
    pub reply: Reply,
    pub html_reply: Option<HtmlReply>,
    /// Commands at the top of the reply text (acted on only in an agent's reply).
    pub commands: Commands,
    pub attachments: Vec<String>,
    /// Which charset read the text where it was not plain UTF-8 (the same
    /// notes become a `charset` event on the ticket).
    pub charset_notes: Vec<String>,
    /// Every leaf MIME part: its type, size, charset, and where it went
    /// (text, html, attachment, unpacked, dropped) with the reason.
    pub parts: Vec<PartFate>,
    /// On the roster: an agent reply if it also answers a notification sent to them.
    pub roster_sender: bool,
    /// The role the mail would get on its ticket, against the database's
    /// current state (`inspect_role`); None without a database.
    pub role: Option<Role>,
    /// What the mail would cause and why it gets that role.
    pub role_reason: Option<String>,
    /// The ticket it would land on.
    pub ticket: Option<String>,
}

/// What `inspect_role` found.
pub struct RoleSeen {
    pub role: Option<Role>,
    pub reason: String,
    pub ticket: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ThreadKeysSeen {
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// What threading looks up, most specific first.
    pub lookup: Vec<String>,
    pub subject_tag: Option<String>,
    pub normalized_subject: String,
}

/// What `mailroom inspect` shows a mail against: the classifier, the thread
/// keys and ticket prefix, the names commands may use.
pub(super) struct Inspect {
    classifier: Arc<Classifier>,
    keys: Arc<ThreadKeys>,
    ticket_prefix: String,
    directory: Directory,
}

impl Inspect {
    pub(super) fn new(
        classifier: Arc<Classifier>,
        keys: Arc<ThreadKeys>,
        ticket_prefix: String,
        directory: Directory,
    ) -> Inspect {
        Inspect {
            classifier,
            keys,
            ticket_prefix,
            directory,
        }
    }

    fn ticket_ref(&self, id: i64) -> String {
        tickets::format_ref(&self.ticket_prefix, id)
    }

    pub(super) fn mail(&self, mail: &ParsedMail) -> Inspection {
        let class = self.classifier.classify(mail);
        let r = mail.reply().clone();
        let commands = commands::parse(&r.text, &self.directory);
        Inspection {
            kind: class.label(),
            reason: class.reason().map(str::to_string),
            message_id: mail.message_id.clone(),
            from: mail.from.email.clone(),
            from_name: mail.from.name.clone(),
            reply_to: mail.reply_to.as_ref().map(|m| m.email.clone()),
            to: mail.to.iter().map(|m| m.email.clone()).collect(),
            cc: mail.cc.iter().map(|m| m.email.clone()).collect(),
            subject: mail.subject.clone(),
            date: mail.date,
            thread_keys: ThreadKeysSeen {
                in_reply_to: mail.in_reply_to.clone(),
                references: mail.references.clone(),
                lookup: referenced_ids(&mail.in_reply_to, &mail.references),
                subject_tag: self
                    .keys
                    .subject_tag(&mail.subject)
                    .map(|n| self.ticket_ref(n)),
                normalized_subject: self.keys.normalize_subject(&mail.subject),
            },
            text: mail.text.clone(),
            reply_text: r.text.clone(),
            html_reply: mail.html_source.as_deref().map(reply::strip_html),
            reply: r,
            commands,
            attachments: mail
                .attachments
                .iter()
                .map(|a| {
                    format!(
                        "{} ({}, {} bytes)",
                        a.filename.as_deref().unwrap_or("(no name)"),
                        a.content_type,
                        a.data.len()
                    )
                })
                .collect(),
            charset_notes: mail.charset_notes.clone(),
            parts: mail.parts.clone(),
            roster_sender: self.classifier.is_agent(&mail.from.email),
            role: None,
            role_reason: None,
            ticket: None,
        }
    }

    /// Decides `mail` against the database as it is, in a transaction that is
    /// rolled back: the role it would get, where, and why. Nothing is stored.
    pub(super) async fn role(
        &self,
        prepare: &Prepare,
        decide: &Decide,
        store: &crate::store::Store,
        mail: &ParsedMail,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::Result<RoleSeen> {
        let keys = prepare.batch_keys(std::slice::from_ref(&Ok(mail.clone())));
        let mut tx = store.begin().await?;
        let rate_since = now - chrono::Duration::hours(super::outgoing::RATE_WINDOW_HOURS);
        let loaded = tx.load_batch(&keys, rate_since, now).await;
        tx.rollback().await?;
        let u = UnitOfWork::new(loaded?, now);
        let reference = |id: i64| Some(self.ticket_ref(id));
        Ok(match decide.decide(&u, mail) {
            Decision::Duplicate { ticket, message_id } => RoleSeen {
                role: None,
                reason: format!(
                    "already stored: <{message_id}> with the same content (a duplicate)"
                ),
                ticket: ticket.and_then(reference),
            },
            Decision::Unthreaded { kind, why, .. } => RoleSeen {
                role: matches!(kind, MessageKind::Bounce | MessageKind::Autoreply)
                    .then_some(Role::System),
                reason: why,
                ticket: None,
            },
            Decision::NewTicket(p) => RoleSeen {
                role: Some(Role::Customer),
                reason: format!("opens a new ticket: {}", p.thread.via),
                ticket: None,
            },
            Decision::FollowUp(p) => RoleSeen {
                role: Some(p.role),
                reason: format!("{}; {}", p.why, p.thread.via),
                ticket: reference(p.ticket.id),
            },
            Decision::Rating(p) => RoleSeen {
                role: Some(p.role),
                reason: format!(
                    "a rating ({}/5) answering the satisfaction question: {}; {}",
                    p.rating.score, p.why, p.thread.via
                ),
                ticket: reference(p.ticket.id),
            },
            Decision::InternalNote(p) => RoleSeen {
                role: Some(p.role),
                reason: format!("an internal note: {}", p.why),
                ticket: reference(p.ticket.id),
            },
            Decision::AgentReply(p) => RoleSeen {
                role: Some(p.role),
                reason: p.proof,
                ticket: reference(p.ticket.id),
            },
            Decision::DigestBounce { staff, reason } => RoleSeen {
                role: Some(Role::System),
                reason: format!("{reason}; a bounce of the digest to {staff}"),
                ticket: None,
            },
            Decision::Bounce { ticket, reason, .. }
            | Decision::AutoReply { ticket, reason, .. } => RoleSeen {
                role: Some(Role::System),
                reason,
                ticket: reference(ticket.id),
            },
        })
    }
}
