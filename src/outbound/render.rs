//! Rendering a queued mail: templates for the bodies, lettre for the message,
//! with the Message-ID, recipients and threading headers the pipeline recorded.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::config::Config;
use crate::error::Result;
use crate::mail::Mailbox;
use crate::mail::address::Recipients;
use crate::mail::compose::{OutAttachment, Outgoing, compose};
use crate::mail::reply::{self, Cut, marker_line};
use crate::store::{AttachmentData, DueMail, TriggerMail};
use crate::templates::Templates;
use crate::tickets::{self, MessageKind, Ticket};

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
    /// Time zones to show times in: per agent, else mailroom.time_zone.
    zones: Vec<(String, chrono_tz::Tz)>,
    default_zone: chrono_tz::Tz,
}

/// What the templates of one kind of mail get besides the common fields.
struct Parts {
    template: &'static str,
    to_name: Option<String>,
    from: Mailbox,
    auto: Option<&'static str>,
    attachments: Vec<OutAttachment>,
    extra: Vec<(&'static str, String)>,
    /// Whether the mail gets an HTML part (a relay only when the agent wrote HTML).
    html: bool,
}

/// The trigger mail's text, derived from its stored raw bytes.
fn trigger_text(trigger: Option<&TriggerMail>) -> std::result::Result<String, String> {
    Ok(match trigger {
        Some(t) if t.text_body.is_empty() => match (&t.raw, t.raw_codec.as_deref()) {
            (Some(raw), codec_name) => crate::store::codec::unpack(codec_name, raw)
                .map(|raw| crate::mail::parse::bodies(&raw).0)
                .map_err(|e| e.to_string())?,
            (None, _) => String::new(),
        },
        Some(t) => t.text_body.clone(),
        None => String::new(),
    })
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
            // Zones were validated with the config; an unknown one shows UTC.
            zones: cfg
                .agent
                .iter()
                .filter_map(|a| {
                    let tz = crate::sla::calendar::parse_time_zone(a.time_zone.as_deref()?).ok()?;
                    Some((a.email.to_ascii_lowercase(), tz))
                })
                .collect(),
            default_zone: crate::sla::calendar::parse_time_zone(&cfg.mailroom.time_zone)
                .unwrap_or(chrono_tz::UTC),
        })
    }

    /// `2026-11-30 11:00 CET (first response)`: the ticket's next due time in
    /// the reader's time zone.
    fn sla_due(&self, ticket: &Ticket, reader: &str) -> Option<String> {
        let (target, at) = ticket.next_due()?;
        let tz = self
            .zones
            .iter()
            .find(|(e, _)| e == reader)
            .map(|(_, z)| *z)
            .unwrap_or(self.default_zone);
        Some(format!(
            "{} ({})",
            at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
            target.as_str().replace('_', " ")
        ))
    }

    pub(crate) fn templates(&self) -> &Templates {
        &self.templates
    }

    pub(crate) fn support(&self) -> &Mailbox {
        &self.support
    }

    fn agent_name(&self, email: &str) -> Option<String> {
        self.agents
            .iter()
            .find(|(e, _)| e == email)
            .and_then(|(_, n)| n.clone())
    }

    /// Renders `mail`. An error is a reason the mail can never be sent as is
    /// (a template error, an address lettre refuses).
    pub fn render(
        &self,
        mail: &DueMail,
        ticket: &Ticket,
        trigger: Option<&TriggerMail>,
        attachments: Vec<AttachmentData>,
        now: DateTime<Utc>,
    ) -> std::result::Result<Rendered, String> {
        let context: Value = serde_json::from_str(&mail.context).unwrap_or(Value::Null);
        let ticket_ref = tickets::format_ref(&self.prefix, ticket.id);
        let to_email = mail.to_addrs.trim().to_string();
        let mut ctx = self.common_context(ticket, &ticket_ref, &to_email);
        let parts = match mail.kind {
            MessageKind::Ack => self.ack_parts(&context, &mut ctx),
            MessageKind::Notice | MessageKind::Survey => self.notice_parts(&context, &mut ctx)?,
            MessageKind::Relay => self.relay_parts(mail, &context, &mut ctx, attachments),
            MessageKind::System => self.explain_parts(&to_email, &context, &mut ctx, trigger)?,
            _ => {
                self.notification_parts(mail, &to_email, &context, &mut ctx, trigger, attachments)?
            }
        };
        let (text, html) = self.bodies(&parts, &mut ctx)?;
        let cc = Recipients::read_stored(&mail.cc_addrs)
            .usable
            .as_slice()
            .iter()
            .map(|c| Mailbox {
                name: None,
                email: c.to_string(),
            })
            .collect();
        let mut extra_headers = vec![("X-Mailroom-Ticket", ticket_ref)];
        extra_headers.extend(parts.extra);
        let out = Outgoing {
            from: parts.from,
            // Mail to an agent: the support address with its reply token
            // (the agent's answer proves itself through it).
            reply_to: Some(Mailbox {
                name: None,
                email: context["reply_to"]
                    .as_str()
                    .unwrap_or(&self.support.email)
                    .to_string(),
            }),
            to: vec![Mailbox {
                name: parts.to_name,
                email: to_email,
            }],
            cc,
            subject: mail.subject.clone(),
            message_id: mail.message_id.clone(),
            in_reply_to: (!mail.in_reply_to.is_empty()).then(|| mail.in_reply_to.clone()),
            references: mail.refs.split_whitespace().map(str::to_string).collect(),
            auto_submitted: parts.auto,
            loop_id: self.support.email.clone(),
            extra_headers,
            date: now,
            text: text.clone(),
            html: parts.html.then(|| html.clone()),
            attachments: parts.attachments,
        };
        let raw = compose(out).map_err(|e| e.to_string())?;
        Ok(Rendered { raw, text, html })
    }

    /// The text and HTML bodies from `parts`' templates.
    fn bodies(
        &self,
        parts: &Parts,
        ctx: &mut Value,
    ) -> std::result::Result<(String, String), String> {
        ctx["to_name"] = json!(parts.to_name);
        ctx["attachments"] = json!(
            parts
                .attachments
                .iter()
                .map(|a| a.filename.clone())
                .collect::<Vec<_>>()
        );
        let text = self
            .templates
            .render(&format!("{}.txt", parts.template), ctx)
            .map_err(|e| e.to_string())?;
        let html = self
            .templates
            .render(&format!("{}.html", parts.template), ctx)
            .map_err(|e| e.to_string())?;
        Ok((text, html))
    }

    /// What every template gets: the ticket, its next due time for the
    /// reader, the support desk.
    fn common_context(&self, ticket: &Ticket, ticket_ref: &str, to_email: &str) -> Value {
        json!({
            "ticket_ref": ticket_ref,
            "marker": marker_line(ticket_ref),
            "subject": ticket.subject,
            "customer": ticket.customer,
            "customer_name": ticket.customer_name,
            "area": ticket.area,
            "priority": ticket.priority,
            "status": ticket.status,
            "owner": ticket.owner,
            "sla_due": self.sla_due(ticket, to_email),
            "support_name": self.support_name,
            "support_address": self.support.email,
        })
    }

    /// The support address, under `name` if the mail was queued with one.
    fn support_as(&self, name: Option<String>) -> Mailbox {
        Mailbox {
            name: name.or_else(|| Some(self.support_name.clone())),
            email: self.support.email.clone(),
        }
    }

    /// An acknowledgement to the customer.
    fn ack_parts(&self, context: &Value, ctx: &mut Value) -> Parts {
        let to_name = context["to_name"].as_str().map(str::to_string);
        ctx["customer_name"] = json!(to_name);
        Parts {
            template: "ack",
            to_name,
            from: self.support.clone(),
            auto: Some("auto-replied"),
            attachments: Vec::new(),
            extra: Vec::new(),
            html: true,
        }
    }

    /// An automatic notice to the customer about their ticket: the template
    /// the pipeline named, e.g. the auto-close warning or the satisfaction
    /// question.
    fn notice_parts(&self, context: &Value, ctx: &mut Value) -> std::result::Result<Parts, String> {
        let template = match context["template"].as_str() {
            Some("autoclose_warning") => "autoclose_warning",
            Some("merged") => "merged",
            Some("satisfaction") => "satisfaction",
            other => return Err(format!("no notice template {other:?}")),
        };
        let mut parts = self.ack_parts(context, ctx);
        for key in ["close_on", "old_ref", "old_subject"] {
            ctx[key] = context[key].clone();
        }
        // Greeted as the customer it was queued for.
        if let Some(to) = context["to"].as_str() {
            ctx["customer"] = json!(to);
        }
        parts.template = template;
        Ok(parts)
    }

    /// An agent's answer relayed to the customer, with the files it kept.
    fn relay_parts(
        &self,
        mail: &DueMail,
        context: &Value,
        ctx: &mut Value,
        attachments: Vec<AttachmentData>,
    ) -> Parts {
        let wanted: Vec<Value> = context["attachments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let files = attachments
            .into_iter()
            .filter_map(|a| {
                let w = wanted.iter().find(|w| w["sha256"] == a.sha256)?;
                Some(OutAttachment {
                    filename: a.filename.unwrap_or_else(|| "attachment.bin".into()),
                    content_type: a.content_type,
                    data: a.data,
                    content_id: w["content_id"].as_str().map(str::to_string),
                })
            })
            .collect();
        for key in ["agent_name", "text", "html"] {
            ctx[key] = context[key].clone();
        }
        let mut extra = vec![(
            "Thread-Topic",
            context["thread_topic"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )];
        if let Some(ti) = &mail.thread_index {
            extra.push(("Thread-Index", ti.clone()));
        }
        Parts {
            template: "relay",
            to_name: context["to_name"].as_str().map(str::to_string),
            from: self.support_as(mail.from_name.clone()),
            auto: None,
            attachments: files,
            extra,
            html: context["html"].is_string(),
        }
    }

    /// An explanation to an agent: "relay_result", a relay that did not reach
    /// everyone (pipeline/relay_result.rs); else a reply that needs another look.
    fn explain_parts(
        &self,
        to_email: &str,
        context: &Value,
        ctx: &mut Value,
        trigger: Option<&TriggerMail>,
    ) -> std::result::Result<Parts, String> {
        for key in [
            "event",
            "problems",
            "accepted",
            "delivered",
            "refused",
            "relay_id",
            "text",
            "carried_out",
            "relayed",
        ] {
            ctx[key] = context[key].clone();
        }
        ctx["agent_text"] = json!(trigger_text(trigger)?);
        Ok(Parts {
            template: "explain",
            to_name: self.agent_name(to_email),
            from: self.support.clone(),
            auto: Some("auto-generated"),
            attachments: Vec::new(),
            extra: Vec::new(),
            html: true,
        })
    }

    /// A notification to staff about the trigger mail, with its files.
    fn notification_parts(
        &self,
        mail: &DueMail,
        to_email: &str,
        context: &Value,
        ctx: &mut Value,
        trigger: Option<&TriggerMail>,
        attachments: Vec<AttachmentData>,
    ) -> std::result::Result<Parts, String> {
        let whole = trigger_text(trigger)?;
        // A follow-up shows the customer's new words first; the quoted
        // history is hidden, and a line says so.
        let (text, hidden) = if context["event"] == "new" {
            (whole, false)
        } else {
            let r = reply::strip_text(&whole);
            let hidden = r.kept_whole.is_none() && r.cut != Cut::None;
            (r.text, hidden)
        };
        for key in ["event", "reason", "reopened", "by", "role"] {
            ctx[key] = context[key].clone();
        }
        ctx["text"] = json!(text);
        ctx["quoted_hidden"] = json!(hidden);
        let files = attachments
            .into_iter()
            .map(|a| OutAttachment {
                filename: a.filename.unwrap_or_else(|| "attachment.bin".into()),
                content_type: a.content_type,
                data: a.data,
                content_id: None,
            })
            .collect();
        Ok(Parts {
            template: "notification",
            to_name: self.agent_name(to_email),
            from: self.support_as(mail.from_name.clone()),
            auto: Some("auto-generated"),
            attachments: files,
            extra: Vec::new(),
            html: true,
        })
    }
}
