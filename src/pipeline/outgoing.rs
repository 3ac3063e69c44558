//! The mail mailroom sends: acknowledgements to customers, notifications to
//! owners, agents' answers relayed to customers, explanations to agents. The
//! pipeline decides and records them — Message-ID, recipients, subject,
//! threading headers, what the template needs — and queues them; the outbox
//! worker renders the bodies when it sends (`outbound::render`). Ingest stays
//! cheap, and a Message-ID exists from the start, so replies and bounces
//! thread even before the mail has left.

use std::borrow::Cow;

use serde_json::json;

use super::Pipeline;
use super::agent::RelayPlan;
use super::events::Events;
use super::unit::UnitOfWork;
use crate::mail::address::with_subaddress;
use crate::mail::compose::{new_message_id, reply_references};
use crate::mail::parse::ParsedMail;
use crate::store::{NewMessage, NewOutbox};
use crate::tickets::commands::ACCEPTED;
use crate::tickets::{Direction, EventKind, MessageKind, Role, Ticket};

pub(super) use crate::tickets::hold::RATE_WINDOW_HOURS;
use crate::tickets::hold::{Hold, Limits, hold};

/// Why an owner (or another agent) is notified.
pub(super) enum Notify<'r> {
    New,
    /// The customer's side wrote again; `by` is the participant who did
    /// (None: the customer).
    FollowUp {
        reopened: bool,
        by: Option<&'r str>,
    },
    /// A colleague or an outsider wrote an internal note on the ticket.
    Note {
        by: &'r str,
        role: Role,
    },
    Bounce(&'r str),
    /// Nobody in the area could take the ticket: its escalation contact hears.
    Unassigned,
    /// An agent handed the ticket over with `#assign`.
    Assigned(&'r str),
    /// Mail to this staff address bounced (told to the escalation contact).
    StaffBounced(&'r str),
    /// 80 % of a response target used, nobody answered yet.
    SlaWarning(&'r str),
    /// A target passed (owner and escalation contact).
    SlaBreach(&'r str),
}

impl Notify<'_> {
    /// The notification template's context: what happened and why.
    fn context(&self) -> serde_json::Value {
        let (reason, reopened, by) = match self {
            Notify::Bounce(r) => (Some(*r), false, None),
            Notify::FollowUp { reopened, by } => (None, *reopened, *by),
            Notify::Note { by, .. } => (None, false, Some(*by)),
            Notify::Assigned(by) => (None, false, Some(*by)),
            Notify::StaffBounced(addr) | Notify::SlaWarning(addr) | Notify::SlaBreach(addr) => {
                (Some(*addr), false, None)
            }
            Notify::New | Notify::Unassigned => (None, false, None),
        };
        json!({
            "event": self.event(),
            "reason": reason,
            "reopened": reopened,
            "by": by,
            "role": match self { Notify::Note { role, .. } => Some(role.as_str()), _ => None },
        })
    }

    fn event(&self) -> &'static str {
        match self {
            Notify::New => "new",
            Notify::FollowUp { .. } => "followup",
            Notify::Note { .. } => "note",
            Notify::Bounce(_) => "bounce",
            Notify::Unassigned => "unassigned",
            Notify::Assigned(_) => "assigned",
            Notify::StaffBounced(_) => "staff_bounced",
            Notify::SlaWarning(_) => "sla_warning",
            Notify::SlaBreach(_) => "sla_breach",
        }
    }
}

/// The config's per-recipient limits (`[mailroom]`), for `tickets::hold`.
fn limits(cfg: &crate::config::Config) -> Limits {
    Limits {
        ack_per_hour: cfg.mailroom.ack_limit_per_hour,
        notification_per_hour: cfg.mailroom.notification_limit_per_hour,
    }
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

/// What the batch records for one outgoing mail.
struct Planned<'s> {
    kind: MessageKind,
    /// Envelope recipients, comma-separated.
    envelope: String,
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

impl Pipeline {
    /// The RFC 3834 limit per recipient and hour for automatic mail of
    /// `kind`, and the kinds counted against it (`tickets::hold::Limits`).
    pub(super) fn rate_limit(&self, kind: MessageKind) -> (i64, &'static [MessageKind]) {
        limits(&self.cfg).for_kind(kind)
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
    pub(super) fn acknowledge(
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
        if !self.may_send(
            u,
            &to.email,
            MessageKind::Ack,
            (EventKind::Ack, "acknowledgement"),
            ev,
        ) {
            return;
        }
        let ticket_ref = self.ticket_ref(ticket.id);
        let planned = Planned {
            kind: MessageKind::Ack,
            envelope: to.email.clone(),
            to_addrs: to.email.clone(),
            cc_addrs: String::new(),
            recipient: None,
            from_name: Some(self.cfg.mailroom.support_name.clone()),
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

    /// Tells the ticket's owner what happened.
    pub(super) fn notify_owner(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        ev: &mut Events,
        what: Notify<'_>,
    ) {
        if let Some(owner) = ticket.owner.clone() {
            self.notify(u, ticket, &owner, ev, what);
        }
    }

    /// A notification to `to`: the customer's text and attachments, the
    /// reply marker on top, and a Message-ID the agent's reply will reference
    /// (the proof that makes it an agent reply). It answers the previous
    /// notification to `to` on this ticket, so each ticket is one thread in
    /// the agent's mail client.
    pub(super) fn notify(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        to: &str,
        ev: &mut Events,
        what: Notify<'_>,
    ) {
        let label = format!("{} notification", what.event());
        if !self.may_send(
            u,
            to,
            MessageKind::Notification,
            (EventKind::Notification, &label),
            ev,
        ) {
            return;
        }
        let ticket_ref = self.ticket_ref(ticket.id);
        let (in_reply_to, refs) = previous_notification(u, ticket.id, to);
        let who = self.who_wrote(ticket, &what);
        let planned = Planned {
            kind: MessageKind::Notification,
            envelope: to.to_string(),
            to_addrs: to.to_string(),
            cc_addrs: String::new(),
            recipient: Some(to),
            // "Alice via Example Support": the owner sees who wrote at a glance.
            from_name: Some(format!("{who} via {}", self.cfg.mailroom.support_name)),
            subject: format!("[{ticket_ref}] {}", ticket.normalized_subject),
            in_reply_to,
            refs,
            thread_index: None,
            text: None,
            html: None,
            context: what.context(),
        };
        let mid = self.queue(u, ticket, ev.row, planned);
        let whom = whom(ticket, to, &what);
        ev.push(
            EventKind::Notification,
            format!(
                "{} notification queued to {whom} {to} as <{mid}>",
                what.event()
            ),
        );
    }

    /// Who wrote, at a glance: the customer, or the note's author. No usable
    /// name: the address's local part (an `@` would look like a second
    /// address in the From).
    fn who_wrote(&self, ticket: &Ticket, what: &Notify<'_>) -> String {
        let (name, address) = match what {
            Notify::Note { by, .. } => (self.cfg.agent_name(by), *by),
            _ => (ticket.customer_name.as_deref(), ticket.customer.as_str()),
        };
        display_name(name)
            .unwrap_or_else(|| address.split('@').next().unwrap_or("customer").to_string())
    }

    /// Queues the agent's answer to the customer.
    pub(super) fn relay(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        r: RelayPlan,
        ev: &mut Events,
    ) {
        let mut envelope = vec![r.to.email.clone()];
        envelope.extend(r.cc.iter().cloned());
        let from_name = format!("{} at {}", r.agent_name, self.cfg.mailroom.support_name);
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
            envelope: envelope.join(", "),
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
            mail.from.email,
            envelope.join(", ")
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
        ev.push(EventKind::Relay, detail);
    }

    /// Mails the agent what was wrong with their reply (rate-limited like
    /// every automatic mail). Answering it works like answering the notification.
    pub(super) fn explain(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        problems: &[String],
        ev: &mut Events,
    ) {
        let accepted: Vec<serde_json::Value> = ACCEPTED
            .iter()
            .map(|(c, what)| json!({ "command": c, "what": what }))
            .collect();
        let sent = self.explanation(
            u,
            ticket,
            Explanation {
                to: &mail.from.email,
                lead: "Your reply was not sent",
                answers: (&mail.message_id, &mail.references),
                trigger_row: ev.row,
                context: json!({ "event": "explanation", "problems": problems, "accepted": accepted }),
            },
            ev,
        );
        if let Some((to, mid)) = sent {
            ev.push(
                EventKind::Explanation,
                format!(
                    "explanation mailed to {to} as <{mid}>: {}",
                    problems.join("; ")
                ),
            );
        }
    }

    /// Queues an explanation to an agent (rate-limited like every automatic
    /// reply; a Reply-To token of its own, so answering it works like
    /// answering the notification). Returns (recipient, Message-ID), or None
    /// when it may not be sent (the event says why).
    fn explanation(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        e: Explanation<'_>,
        ev: &mut Events,
    ) -> Option<(String, String)> {
        let to = e.to.to_ascii_lowercase();
        if !self.may_send(
            u,
            &to,
            MessageKind::System,
            (EventKind::Explanation, "explanation mail"),
            ev,
        ) {
            return None;
        }
        let (reply_id, reply_refs) = e.answers;
        let planned = Planned {
            kind: MessageKind::System,
            envelope: to.clone(),
            to_addrs: to.clone(),
            cc_addrs: String::new(),
            recipient: Some(&to),
            from_name: Some(self.cfg.mailroom.support_name.clone()),
            subject: format!(
                "[{}] {}: {}",
                self.ticket_ref(ticket.id),
                e.lead,
                ticket.normalized_subject
            ),
            in_reply_to: reply_id.to_string(),
            refs: reply_references(reply_refs, reply_id),
            thread_index: None,
            text: None,
            html: None,
            context: e.context,
        };
        let mid = self.queue(u, ticket, e.trigger_row, planned);
        Some((to, mid))
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
            _ => "n",
        };
        let message_id = new_message_id(tag, &unique, &self.support.email);
        // Mail to an agent gets a Reply-To of its own: the agent's answer
        // proves itself by coming back through it. Not in the Message-ID,
        // which forwards and References pass on.
        let mut context = p.context;
        let reply_token = match (p.recipient, self.cfg.security.reply_token) {
            (Some(_), true) => {
                let token = format!(
                    "{}-{}",
                    self.ticket_ref(ticket.id).to_ascii_lowercase(),
                    uuid::Uuid::new_v4().simple()
                );
                context["reply_to"] = json!(with_subaddress(&self.support.email, &token));
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
            from_addr: self.support.email.clone(),
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
            sender: self.support.email.clone(),
            recipients: p.envelope,
        });
        message_id
    }
}

/// The previous notification to `to` on the ticket, which the next one
/// answers: each ticket is one thread in the agent's mail client.
fn previous_notification(u: &UnitOfWork<'_>, ticket_id: i64, to: &str) -> (String, Vec<String>) {
    match u.last_notification(ticket_id, to) {
        Some(prev) => {
            let chain: Vec<String> = prev.refs.split_whitespace().map(str::to_string).collect();
            (
                prev.message_id.clone(),
                reply_references(&chain, &prev.message_id),
            )
        }
        None => (String::new(), Vec::new()),
    }
}

/// Whom a notification went to, as its event says.
fn whom(ticket: &Ticket, to: &str, what: &Notify<'_>) -> &'static str {
    if ticket.owner.as_deref() == Some(to) {
        return "owner";
    }
    match what {
        Notify::Unassigned | Notify::StaffBounced(_) | Notify::SlaBreach(_) => "escalation contact",
        _ => "agent",
    }
}

/// A relay that did not reach everyone, as its agent is told
/// (`Pipeline::report_relays`).
pub(super) struct RelayTrouble<'r> {
    pub agent: &'r str,
    /// The relay's Message-ID.
    pub relay_id: &'r str,
    /// The agent's reply that was relayed: its row, Message-ID, References.
    pub reply_row: i64,
    pub reply_id: &'r str,
    pub reply_refs: Vec<String>,
    /// The relayed words.
    pub text: &'r str,
    pub delivered: &'r [String],
    pub refused: &'r [crate::mail::delivery::Refusal],
}

impl Pipeline {
    /// Mails the agent who did not get their answer, with the server's reply
    /// (one mail per relay, rate-limited like every explanation). Answering
    /// it works like answering the notification. False when not sent (the
    /// event says why).
    pub(super) fn explain_relay(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        t: RelayTrouble<'_>,
        ev: &mut Events,
    ) -> bool {
        let lead = if t.delivered.is_empty() {
            "Your answer reached nobody"
        } else {
            "Your answer did not reach everyone"
        };
        let sent = self.explanation(
            u,
            ticket,
            Explanation {
                to: t.agent,
                lead,
                answers: (t.reply_id, &t.reply_refs),
                trigger_row: t.reply_row,
                context: json!({
                    "event": "relay_result",
                    "relay_id": t.relay_id,
                    "delivered": t.delivered,
                    "refused": t.refused,
                    "text": t.text,
                }),
            },
            ev,
        );
        let Some((to, mid)) = sent else {
            return false;
        };
        let whom: Vec<&str> = t.refused.iter().map(|r| r.address.as_str()).collect();
        ev.push(
            EventKind::Explanation,
            format!(
                "explanation mailed to {to} as <{mid}>: the answer did not reach {}",
                whom.join(", ")
            ),
        );
        true
    }
}

/// An explanation to an agent (`Pipeline::explanation`).
struct Explanation<'e> {
    to: &'e str,
    /// The subject's lead: `[MR-7] <lead>: <subject>`.
    lead: &'e str,
    /// The agent's mail it answers: Message-ID and References.
    answers: (&'e str, &'e [String]),
    trigger_row: i64,
    context: serde_json::Value,
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
