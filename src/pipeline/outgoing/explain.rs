//! Explanations to agents: why their answer did nothing, or did not reach
//! everyone (`RelayTrouble`); rate-limited, answerable like a notification.

use serde_json::json;

use crate::mail::compose::reply_references;
use crate::mail::parse::ParsedMail;
use crate::pipeline::events::Events;
use crate::pipeline::unit::UnitOfWork;
use crate::tickets::commands::ACCEPTED;
use crate::tickets::{EventKind, MessageKind, Ticket};

use super::{Planned, Queue, envelope_of};
use crate::mail::address::Recipients;

/// The commands an agent may write, as the explanation lists them.
fn accepted_commands() -> Vec<serde_json::Value> {
    ACCEPTED
        .iter()
        .map(|(c, what)| json!({ "command": c, "what": what }))
        .collect()
}

impl Queue {
    /// Mails the agent what was wrong with their reply (rate-limited like
    /// every automatic mail). Answering it works like answering the notification.
    pub(crate) fn explain(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        problems: &[String],
        ev: &mut Events,
    ) {
        let lead = "Your reply was not sent";
        self.mail_problems(u, ticket, mail, (lead, problems), json!({}), ev);
    }

    /// Mails the agent why a command of their reply (`#merge`, `#split`)
    /// was not carried out (`problem`, the subject's `lead`); the rest of
    /// the reply was, and `relayed` says whether their words went to the
    /// customer.
    pub(crate) fn explain_not_done(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        (lead, problem, relayed): (&str, String, bool),
        ev: &mut Events,
    ) {
        let done = json!({ "carried_out": true, "relayed": relayed });
        self.mail_problems(u, ticket, mail, (lead, &[problem]), done, ev);
    }

    /// The explanation of `problems` in `mail`, with the accepted commands
    /// and the `extra` keys its template reads; the event says where it went.
    fn mail_problems(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        mail: &ParsedMail,
        (lead, problems): (&str, &[String]),
        mut context: serde_json::Value,
        ev: &mut Events,
    ) {
        context["event"] = json!("explanation");
        context["problems"] = json!(problems);
        context["accepted"] = json!(accepted_commands());
        let sent = self.explanation(
            u,
            ticket,
            Explanation {
                to: &mail.from.email,
                lead,
                answers: (&mail.message_id, &mail.references),
                trigger_row: ev.row,
                context,
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
        let what = (EventKind::Explanation, "explanation mail");
        let envelope = envelope_of(&to, what, ev)?;
        if !self.may_send(u, &to, MessageKind::System, what, ev) {
            return None;
        }
        let (reply_id, reply_refs) = e.answers;
        let planned = Planned {
            kind: MessageKind::System,
            envelope,
            to_addrs: to.clone(),
            cc_addrs: String::new(),
            recipient: Some(&to),
            from_name: Some(self.support_name.clone()),
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
}

/// A relay that did not reach everyone, as its agent is told
/// (`relay_result`).
pub(crate) struct RelayTrouble<'r> {
    pub agent: &'r str,
    /// The relay's Message-ID.
    pub relay_id: &'r str,
    /// The agent's reply that was relayed: its row, Message-ID, References.
    pub reply_row: i64,
    pub reply_id: &'r str,
    pub reply_refs: Vec<String>,
    /// The relayed words.
    pub text: &'r str,
    pub delivered: &'r Recipients,
    pub refused: &'r [crate::mail::delivery::Refusal],
}

impl Queue {
    /// Mails the agent who did not get their answer, with the server's reply
    /// (one mail per relay, rate-limited like every explanation). Answering
    /// it works like answering the notification. False when not sent (the
    /// event says why).
    pub(crate) fn explain_relay(
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

/// An explanation to an agent (`Queue::explanation`).
struct Explanation<'e> {
    to: &'e str,
    /// The subject's lead: `[MR-7] <lead>: <subject>`.
    lead: &'e str,
    /// The agent's mail it answers: Message-ID and References.
    answers: (&'e str, &'e [String]),
    trigger_row: i64,
    context: serde_json::Value,
}
