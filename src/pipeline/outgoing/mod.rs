//! The mail mailroom sends: acknowledgements to customers, notifications to
//! owners, agents' answers relayed to customers, explanations to agents. The
//! pipeline decides and records them — Message-ID, recipients, subject,
//! threading headers, what the template needs — and queues them; the outbox
//! worker renders the bodies when it sends (`outbound::render`). Ingest stays
//! cheap, and a Message-ID exists from the start, so replies and bounces
//! thread even before the mail has left. Notifications in `notify.rs`,
//! explanations to agents in `explain.rs`, automatic notices and questions
//! to customers in `notice.rs`.

mod explain;
mod notice;
mod notify;

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::json;

use crate::config::Config;
use crate::mail::Classifier;
use crate::mail::address::{EmailAddress, Recipients, with_subaddress};
use crate::mail::compose::{new_message_id, reply_references};
use crate::mail::parse::ParsedMail;
use crate::pipeline::events::Events;
use crate::pipeline::relay_plan::RelayPlan;
use crate::pipeline::staff::Staff;
use crate::pipeline::unit::UnitOfWork;
use crate::store::{NewMessage, NewOutbox};
use crate::tickets::{self, Direction, EventKind, MessageKind, Ticket};

pub(super) use crate::tickets::hold::RATE_WINDOW_HOURS;
use crate::tickets::hold::{Hold, Limits, hold};
pub(crate) use explain::RelayTrouble;
pub(crate) use notice::Notice;
pub(crate) use notify::Notify;

/// The outgoing step: what queueing mail reads — who mailroom is, the
/// per-recipient limits, and what the mail it writes names.
pub(crate) struct Queue {
    /// mailroom's own address, lowercased: the From, the envelope sender,
    /// the domain of every Message-ID.
    support: String,
    /// `mailroom.support_name`, in the From.
    support_name: String,
    /// `[mailroom]`'s per-recipient limits (RFC 3834), for `tickets::hold`.
    limits: Limits,
    /// `security.reply_token`: mail to an agent gets a Reply-To of its own.
    reply_token: bool,
    ticket_prefix: String,
    /// mailroom's own addresses are never acknowledged.
    classifier: Arc<Classifier>,
    /// The roster's names: who wrote a note, in a notification's From.
    staff: Arc<Staff>,
}

/// A customer's display name as it may appear in a From we write: quotes,
/// angle brackets and `@` removed (they could fake an address), whitespace
/// collapsed, at most 64 characters. `None` when nothing is left.
pub(crate) fn display_name(name: Option<&str>) -> Option<String> {
    let cleaned: String = name?
        .chars()
        .filter(|c| !matches!(c, '"' | '<' | '>' | '@') && !c.is_control())
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let joined = words.join(" ");
    let cut: String = joined.chars().take(64).collect();
    let cut = cut.trim().to_string();
    (!cut.is_empty()).then_some(cut)
}

/// `to` as the one envelope recipient of automatic mail; None, and the
/// event says why, when it cannot be written in an envelope.
fn envelope_of(to: &str, (event, what): (EventKind, &str), ev: &mut Events) -> Option<Recipients> {
    match EmailAddress::parse(to) {
        Ok(a) => Some(Recipients::one(a)),
        Err(e) => {
            ev.push(event, format!("no {what}: {e}"));
            None
        }
    }
}

/// What the batch records for one outgoing mail.
struct Planned<'s> {
    kind: MessageKind,
    /// Envelope recipients, each checked once as an address.
    envelope: Recipients,
    to_addrs: String,
    cc_addrs: String,
    /// The agent or manager a mail went to (what proves a reply is theirs).
    recipient: Option<&'s str>,
    from_name: Option<String>,
    subject: String,
    in_reply_to: String,
    refs: Vec<String>,
    thread_index: Option<String>,
    text: Option<String>,
    html: Option<String>,
    context: serde_json::Value,
}

impl Queue {
    pub(crate) fn new(cfg: &Config, classifier: Arc<Classifier>, staff: Arc<Staff>) -> Queue {
        Queue {
            support: cfg.mailroom.support_address.to_ascii_lowercase(),
            support_name: cfg.mailroom.support_name.clone(),
            limits: Limits {
                ack_per_hour: cfg.mailroom.ack_limit_per_hour,
                notification_per_hour: cfg.mailroom.notification_limit_per_hour,
            },
            reply_token: cfg.security.reply_token,
            ticket_prefix: cfg.mailroom.ticket_prefix.clone(),
            classifier,
            staff,
        }
    }

    fn ticket_ref(&self, id: i64) -> String {
        tickets::format_ref(&self.ticket_prefix, id)
    }

    /// The RFC 3834 limit per recipient and hour for automatic mail of
    /// `kind`, and the kinds counted against it (`tickets::hold::Limits`).
    fn rate_limit(&self, kind: MessageKind) -> (i64, &'static [MessageKind]) {
        self.limits.for_kind(kind)
    }

    /// Whether automatic mail of `kind` may go to `to` now: within the RFC 3834
    /// rate limit and not held back after a bounce. The event says why not.
    fn may_send(
        &self,
        u: &UnitOfWork<'_>,
        to: &str,
        kind: MessageKind,
        (event, what): (EventKind, &str),
        ev: &mut Events,
    ) -> bool {
        let (limit, counted) = self.rate_limit(kind);
        let why = match hold(
            u.suppressed_until(to),
            u.now(),
            || u.sent_recently(to, counted),
            limit,
        ) {
            None => return true,
            Some(Hold::Bounced { until }) => format!(
                "no {what}: mail to {to} bounced; nothing is sent there until {}",
                until.format("%Y-%m-%d %H:%M UTC")
            ),
            Some(Hold::RateLimit { recent, limit }) => {
                let noun = if kind != MessageKind::Notification {
                    "automatic replies"
                } else if u.sent_recently(to, &[MessageKind::Digest]) > 0 {
                    "notifications and digests"
                } else {
                    "notifications"
                };
                format!(
                    "no {what}: {recent} {noun} to {to} in the last hour (limit {limit}, RFC 3834)"
                )
            }
        };
        ev.push(event, why);
        false
    }

    /// Queues the acknowledgement for a new ticket, unless the rate limit for
    /// this recipient is reached.
    pub(crate) fn acknowledge(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        ev: &mut Events,
    ) {
        let to = mail.reply_address();
        if self.classifier.is_own_address(&to.email) {
            ev.push(
                EventKind::Ack,
                format!(
                    "no acknowledgement: the reply address {} is mailroom's own",
                    to.email
                ),
            );
            return;
        }
        let what = (EventKind::Ack, "acknowledgement");
        let Some(envelope) = envelope_of(&to.email, what, ev) else {
            return;
        };
        if !self.may_send(u, &to.email, MessageKind::Ack, what, ev) {
            return;
        }
        let ticket_ref = self.ticket_ref(ticket.id);
        let planned = Planned {
            kind: MessageKind::Ack,
            envelope,
            to_addrs: to.email.clone(),
            cc_addrs: String::new(),
            recipient: None,
            from_name: Some(self.support_name.clone()),
            subject: format!("Re: {} [{ticket_ref}]", ticket.normalized_subject),
            in_reply_to: mail.message_id.clone(),
            // Bounded first (the root and the newest), then checked: the
            // batch looked up exactly those.
            refs: u.customer_chain(&reply_references(&mail.references, &mail.message_id)),
            thread_index: None,
            text: None,
            html: None,
            context: json!({ "to_name": to.name.as_ref().or(mail.from.name.as_ref()) }),
        };
        let mid = self.queue(u, ticket, ev.row, planned);
        ev.push(
            EventKind::Ack,
            format!("acknowledgement queued to {} as <{mid}>", to.email),
        );
    }

    /// Queues the agent's answer to the customer.
    pub(crate) fn relay(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        r: RelayPlan,
        ev: &mut Events,
    ) {
        let mut envelope = Recipients::default();
        let mut unusable = Vec::new();
        for address in std::iter::once(&r.to.email).chain(&r.cc) {
            match EmailAddress::parse(address) {
                Ok(a) => envelope.push(a),
                Err(e) => unusable.push(e.to_string()),
            }
        }
        if envelope.is_empty() {
            ev.push(
                EventKind::Relay,
                format!(
                    "answer by {} not relayed: {}",
                    mail.from.email,
                    unusable.join("; ")
                ),
            );
            return;
        }
        let from_name = format!("{} at {}", r.agent_name, self.support_name);
        let context = json!({
            "agent_name": r.agent_name,
            "agent": mail.from.email,
            "to_name": r.to.name,
            "text": r.text,
            "html": r.html,
            "attachments": r.attachments,
            "thread_topic": r.thread_topic,
        });
        let planned = Planned {
            kind: MessageKind::Relay,
            envelope: envelope.clone(),
            to_addrs: r.to.email.clone(),
            cc_addrs: r.cc.join(", "),
            recipient: None,
            from_name: Some(from_name.clone()),
            subject: r.subject,
            in_reply_to: r.in_reply_to.unwrap_or_default(),
            refs: r.references,
            thread_index: r.thread_index,
            text: Some(r.text),
            html: r.html,
            context,
        };
        let mid = self.queue(u, ticket, ev.row, planned);
        let mut detail = format!(
            "answer by {} relayed to {} as <{mid}> (From \"{from_name}\")",
            mail.from.email, envelope
        );
        if !r.attachments.is_empty() {
            let names: Vec<String> = r
                .attachments
                .iter()
                .map(|a| a.filename.clone().unwrap_or_else(|| a.content_type.clone()))
                .collect();
            detail.push_str(&format!("; attachments: {}", names.join(", ")));
        }
        if !r.held_back.is_empty() {
            detail.push_str(&format!("; not sent: {}", r.held_back.join(", ")));
        }
        if !unusable.is_empty() {
            detail.push_str(&format!("; not sent: {}", unusable.join("; ")));
        }
        ev.push(EventKind::Relay, detail);
    }

    /// Records the outbound message (not rendered yet) and its outbox row.
    fn queue(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        trigger_row: i64,
        p: Planned<'_>,
    ) -> String {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let tag = match p.kind {
            MessageKind::Ack => "ack",
            MessageKind::Relay => "r",
            MessageKind::System => "s",
            MessageKind::Survey => "q",
            _ => "n",
        };
        let message_id = new_message_id(tag, &unique, &self.support);
        // Mail to an agent gets a Reply-To of its own: the agent's answer
        // proves itself by coming back through it. Not in the Message-ID,
        // which forwards and References pass on.
        let mut context = p.context;
        let reply_token = match (p.recipient, self.reply_token) {
            (Some(_), true) => {
                let token = format!(
                    "{}-{}",
                    self.ticket_ref(ticket.id).to_ascii_lowercase(),
                    uuid::Uuid::new_v4().simple()
                );
                context["reply_to"] = json!(with_subaddress(&self.support, &token));
                Some(token)
            }
            _ => None,
        };
        let message_row = u.insert_message(NewMessage {
            ticket_id: Some(ticket.id),
            direction: Direction::Out,
            kind: p.kind,
            message_id: message_id.clone(),
            content_hash: String::new(),
            text_hash: None,
            from_addr: self.support.clone(),
            from_name: p.from_name,
            to_addrs: p.to_addrs,
            cc_addrs: p.cc_addrs,
            recipient: p.recipient.map(str::to_string),
            role: None,
            reply_token,
            subject: p.subject,
            sent_at: None,
            in_reply_to: p.in_reply_to,
            refs: p.refs.join(" "),
            thread_index: p.thread_index,
            text_body: p.text.map(Cow::Owned).unwrap_or(Cow::Borrowed("")),
            html_body: p.html.map(Cow::Owned),
            origin: None,
            reason: None,
            raw: None,
            raw_codec: None,
        });
        u.enqueue(NewOutbox {
            message_row,
            ticket_id: Some(ticket.id),
            kind: p.kind,
            trigger_row: Some(trigger_row),
            context: context.to_string(),
            sender: self.support.clone(),
            recipients: p.envelope,
        });
        message_id
    }
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn display_names_cannot_fake_an_address() {
        assert_eq!(
            display_name(Some("Alice Example")).as_deref(),
            Some("Alice Example")
        );
        assert_eq!(
            display_name(Some("\"ceo@bigco.test\" <ceo@bigco.test>")).as_deref(),
            Some("ceobigco.test ceobigco.test")
        );
        assert_eq!(display_name(Some("  <>@\"  ")), None);
        assert_eq!(display_name(None), None);
        let long = "x".repeat(200);
        assert_eq!(display_name(Some(&long)).map(|n| n.len()), Some(64));
    }
}
