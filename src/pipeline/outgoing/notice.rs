//! Automatic mail to a ticket's customer about their ticket: a notice (the
//! auto-close warning) or the satisfaction question, from a template,
//! threaded in their conversation and rate-limited like an acknowledgement.

use serde_json::json;

use crate::pipeline::events::Events;
use crate::pipeline::unit::UnitOfWork;
use crate::tickets::{EventKind, MessageKind, Ticket};

use super::{Planned, Queue, envelope_of};

/// What a notice to the customer is: its kind (`Notice`, or `Survey` for the
/// satisfaction question, which replies are recognised by), its template,
/// what its event calls it and under which event kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notice<'a> {
    pub kind: MessageKind,
    pub template: &'a str,
    pub what: &'a str,
    pub event: EventKind,
}

impl Queue {
    /// Queues `notice` (with `context` for its template) to the ticket's
    /// customer, threaded under their latest mail; rate-limited like an
    /// acknowledgement. The event says what was queued, or why not.
    pub(crate) fn notice(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        notice: Notice<'_>,
        mut context: serde_json::Value,
        ev: &mut Events,
    ) -> bool {
        let to = ticket.customer.clone();
        let label = (notice.event, notice.what);
        let Some(envelope) = envelope_of(&to, label, ev) else {
            return false;
        };
        if !self.may_send(u, &to, notice.kind, label, ev) {
            return false;
        }
        let (in_reply_to, refs, _) = crate::pipeline::relay_plan::customer_thread(u, ticket.id);
        context["template"] = json!(notice.template);
        context["to_name"] = json!(ticket.customer_name);
        // The mail may be rendered as another ticket's (a merge moves it).
        context["to"] = json!(to);
        let planned = Planned {
            kind: notice.kind,
            envelope,
            to_addrs: to.clone(),
            cc_addrs: String::new(),
            recipient: None,
            from_name: Some(self.support_name.clone()),
            subject: format!(
                "Re: {} [{}]",
                ticket.normalized_subject,
                self.ticket_ref(ticket.id)
            ),
            in_reply_to: in_reply_to.unwrap_or_default(),
            refs,
            thread_index: None,
            text: None,
            html: None,
            context,
        };
        let mid = self.queue(u, ticket, ev.row, planned);
        ev.push(
            notice.event,
            format!("{} queued to {to} as <{mid}>", notice.what),
        );
        true
    }
}
