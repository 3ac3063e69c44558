//! `mailroom inspect`: what the pipeline reads in a mail, storing nothing —
//! classification with the reason, thread keys, sender, the reply text after
//! quote stripping, and the commands an agent's reply would carry.

use serde::Serialize;

use super::Pipeline;
use crate::mail::parse::ParsedMail;
use crate::mail::reply::{self, HtmlReply, Reply};
use crate::mail::thread::referenced_ids;
use crate::tickets::commands::{self, Commands};

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
    /// On the roster: an agent reply if it also answers a notification sent to them.
    pub roster_sender: bool,
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

impl Pipeline {
    pub fn inspect(&self, mail: &ParsedMail) -> Inspection {
        let class = self.classifier.classify(mail);
        let r = mail.reply().clone();
        let commands = commands::parse(&r.text, &self.directory());
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
            roster_sender: self.classifier.is_agent(&mail.from.email),
        }
    }
}
