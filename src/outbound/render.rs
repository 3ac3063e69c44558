//! Rendering a queued mail: templates for the bodies, lettre for the message,
//! with the Message-ID, recipients and threading headers the pipeline recorded.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::config::Config;
use crate::error::Result;
use crate::mail::Mailbox;
use crate::mail::compose::{OutAttachment, Outgoing, compose};
use crate::store::{AttachmentData, DueMail, TicketRow, TriggerMail};
use crate::templates::Templates;
use crate::tickets;

pub struct Rendered {
    pub raw: Vec<u8>,
    pub text: String,
    pub html: String,
}

pub struct Renderer {
    templates: Templates,
    support: Mailbox,
    support_name: String,
    prefix: String,
    /// Roster names, to greet the owner by name.
    agents: Vec<(String, Option<String>)>,
}

impl Renderer {
    pub fn new(cfg: &Config) -> Result<Renderer> {
        Ok(Renderer {
            templates: Templates::load(&cfg.mailroom.templates_dir)?,
            support: Mailbox {
                name: Some(cfg.mailroom.support_name.clone()),
                email: cfg.mailroom.support_address.to_ascii_lowercase(),
            },
            support_name: cfg.mailroom.support_name.clone(),
            prefix: cfg.mailroom.ticket_prefix.clone(),
            agents: cfg
                .agent
                .iter()
                .map(|a| (a.email.to_ascii_lowercase(), a.name.clone()))
                .collect(),
        })
    }

    /// Renders `mail`. An error is a reason the mail can never be sent as is
    /// (a template error, an address lettre refuses).
    pub fn render(
        &self,
        mail: &DueMail,
        ticket: &TicketRow,
        trigger: Option<&TriggerMail>,
        attachments: Vec<AttachmentData>,
        now: DateTime<Utc>,
    ) -> std::result::Result<Rendered, String> {
        let context: Value = serde_json::from_str(&mail.context).unwrap_or(Value::Null);
        let ticket_ref = tickets::format_ref(&self.prefix, ticket.id);
        let text_of_trigger = match trigger {
            Some(t) if t.text_body.is_empty() => match (&t.raw, t.raw_codec.as_deref()) {
                (Some(raw), codec_name) => crate::store::codec::unpack(codec_name, raw)
                    .map(|raw| crate::mail::parse::bodies(&raw).0)
                    .map_err(|e| e.to_string())?,
                (None, _) => String::new(),
            },
            Some(t) => t.text_body.clone(),
            None => String::new(),
        };
        let to_email = mail.to_addrs.trim().to_string();
        let (to_name, from, attachments, auto, template) = if mail.kind == "ack" {
            let to_name = context["to_name"].as_str().map(str::to_string);
            (
                to_name,
                self.support.clone(),
                Vec::new(),
                "auto-replied",
                "ack",
            )
        } else {
            let to_name = self
                .agents
                .iter()
                .find(|(e, _)| *e == to_email)
                .and_then(|(_, n)| n.clone());
            // "Alice via Example Support": the owner sees who wrote at a glance.
            let who = ticket.customer_name.as_deref().unwrap_or(&ticket.customer);
            let from = Mailbox {
                name: Some(format!("{who} via {}", self.support_name)),
                email: self.support.email.clone(),
            };
            let files = attachments
                .into_iter()
                .map(|a| OutAttachment {
                    filename: a.filename.unwrap_or_else(|| "attachment.bin".into()),
                    content_type: a.content_type,
                    data: a.data,
                })
                .collect();
            (to_name, from, files, "auto-generated", "notification")
        };
        let ctx = json!({
            "event": context["event"],
            "reason": context["reason"],
            "reopened": context["reopened"],
            "ticket_ref": ticket_ref,
            "subject": ticket.subject,
            "customer": ticket.customer,
            "customer_name": if mail.kind == "ack" { json!(to_name) } else { json!(ticket.customer_name) },
            "area": ticket.area,
            "priority": ticket.priority,
            "status": ticket.status,
            "sla_due": Value::Null,
            "text": text_of_trigger,
            "attachments": attachments.iter().map(|a: &OutAttachment| a.filename.clone()).collect::<Vec<_>>(),
            "support_name": self.support_name,
            "support_address": self.support.email,
        });
        let text = self
            .templates
            .render(&format!("{template}.txt"), &ctx)
            .map_err(|e| e.to_string())?;
        let html = self
            .templates
            .render(&format!("{template}.html"), &ctx)
            .map_err(|e| e.to_string())?;
        let out = Outgoing {
            from,
            reply_to: Some(Mailbox {
                name: None,
                email: self.support.email.clone(),
            }),
            to: vec![Mailbox {
                name: to_name,
                email: to_email,
            }],
            cc: Vec::new(),
            subject: mail.subject.clone(),
            message_id: mail.message_id.clone(),
            in_reply_to: (!mail.in_reply_to.is_empty()).then(|| mail.in_reply_to.clone()),
            references: mail.refs.split_whitespace().map(str::to_string).collect(),
            auto_submitted: Some(auto),
            loop_id: self.support.email.clone(),
            extra_headers: vec![("X-Mailroom-Ticket", ticket_ref)],
            date: now,
            text: text.clone(),
            html: Some(html.clone()),
            attachments,
        };
        let raw = compose(out).map_err(|e| e.to_string())?;
        Ok(Rendered { raw, text, html })
    }
}
