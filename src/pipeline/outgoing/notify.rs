//! Notifications to owners and agents: why (`Notify`), to whom, threaded
//! under the previous one to the same agent on the ticket.

use serde_json::json;

use crate::mail::compose::reply_references;
use crate::pipeline::events::Events;
use crate::pipeline::unit::UnitOfWork;
use crate::tickets::{EventKind, MessageKind, Role, Ticket};

use super::{Planned, Queue, display_name, envelope_of};

/// Why an owner (or another agent) is notified.
pub(crate) enum Notify<'r> {
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
    /// `by` merged the ticket `from` into this one.
    Merged {
        by: &'r str,
        from: &'r str,
    },
    /// An agent's `#pending` wait ended (the text says when) without an
    /// answer from the customer's side: the ticket is open again.
    WaitOver(&'r str),
    /// The customer's side answered the satisfaction question with `score`
    /// ("4/5"); `by` is the participant who did (None: the customer).
    Rated {
        score: &'r str,
        by: Option<&'r str>,
    },
}

impl Notify<'_> {
    /// The notification template's context: what happened and why.
    fn context(&self) -> serde_json::Value {
        let (reason, reopened, by) = match self {
            Notify::Bounce(r) => (Some(*r), false, None),
            Notify::FollowUp { reopened, by } => (None, *reopened, *by),
            Notify::Note { by, .. } => (None, false, Some(*by)),
            Notify::Assigned(by) => (None, false, Some(*by)),
            Notify::Merged { by, from } => (Some(*from), false, Some(*by)),
            Notify::WaitOver(when) => (Some(*when), true, None),
            Notify::Rated { score, by } => (Some(*score), false, *by),
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
            Notify::Merged { .. } => "merged",
            Notify::WaitOver(_) => "wait_over",
            Notify::Rated { .. } => "satisfaction",
        }
    }
}

impl Queue {
    /// Tells the ticket's owner what happened.
    pub(crate) fn notify_owner(
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
    pub(crate) fn notify(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        to: &str,
        ev: &mut Events,
        what: Notify<'_>,
    ) {
        let label = format!("{} notification", what.event());
        let Some(envelope) = envelope_of(to, (EventKind::Notification, &label), ev) else {
            return;
        };
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
            envelope,
            to_addrs: to.to_string(),
            cc_addrs: String::new(),
            recipient: Some(to),
            // "Alice via Example Support": the owner sees who wrote at a glance.
            from_name: Some(format!("{who} via {}", self.support_name)),
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
            Notify::Note { by, .. } => (self.staff.agent_name(by), *by),
            _ => (ticket.customer_name.as_deref(), ticket.customer.as_str()),
        };
        display_name(name)
            .unwrap_or_else(|| address.split('@').next().unwrap_or("customer").to_string())
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
