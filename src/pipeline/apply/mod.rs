//! Carrying out a [`Decision`]: the one place that writes what a message
//! causes — tickets, messages, participants, events, outgoing mail — into the
//! batch's unit of work. A customer's mail (a new ticket, a follow-up) in
//! `customer.rs`, an agent's (an answer, an internal note) in `agent.rs`, a
//! rating (the answer to the satisfaction question) in `rating.rs`,
//! bounces (and holding staff addresses back) in `bounce.rs`, the inbound
//! mail and its participants recorded in `inbound.rs`; duplicates and
//! auto-replies here.

mod agent;
mod bounce;
mod customer;
mod inbound;
mod rating;

use std::sync::Arc;

use super::decide::Decision;
use super::events::event;
use super::lifecycle::Lifecycle;
use super::merge::Merging;
use super::outgoing::Queue;
use super::sla::Clocks;
use super::source::{Inbound, Outcome, OutcomeKind};
use super::split::Splitting;
use super::staff::Staff;
use super::unit::UnitOfWork;
use crate::mail::parse::ParsedMail;
use crate::mail::{Classifier, ThreadKeys};
use crate::rules::assign::Assigner;
use crate::store::{NewEvent, codec};
use crate::tickets::{self, EventKind, MessageKind, Role, Ticket};
use inbound::store_inbound;

/// The message being applied: the input, its parse, and its bytes as stored.
#[derive(Clone, Copy)]
pub(super) struct Incoming<'a> {
    pub(super) item: &'a Inbound,
    pub(super) mail: &'a ParsedMail,
    pub(super) packed: &'a codec::Stored,
}

/// What carrying out a decision reads, and the steps it calls: the mail it
/// queues and the clocks it moves.
pub(super) struct Apply {
    /// mailroom's and the agents' addresses never join a customer's Cc.
    classifier: Arc<Classifier>,
    /// A new ticket's subject is stored normalized.
    keys: Arc<ThreadKeys>,
    /// An assignment depends on its area's agents (their locks).
    assigner: Arc<Assigner>,
    /// Each area's watchers and escalation contact.
    staff: Arc<Staff>,
    queue: Arc<Queue>,
    clocks: Arc<Clocks>,
    lifecycle: Arc<Lifecycle>,
    merging: Arc<Merging>,
    splitting: Arc<Splitting>,
    ticket_prefix: String,
}

/// The steps applying calls: the mail it queues, the SLA clocks and the
/// lifecycle's waits it moves.
pub(super) struct Below {
    pub queue: Arc<Queue>,
    pub clocks: Arc<Clocks>,
    pub lifecycle: Arc<Lifecycle>,
}

impl Apply {
    pub(super) fn new(
        classifier: Arc<Classifier>,
        keys: Arc<ThreadKeys>,
        assigner: Arc<Assigner>,
        staff: Arc<Staff>,
        below: Below,
        ticket_prefix: String,
    ) -> Apply {
        let Below {
            queue,
            clocks,
            lifecycle,
        } = below;
        let merging = Arc::new(Merging::new(
            (queue.clone(), clocks.clone()),
            ticket_prefix.clone(),
            lifecycle.tells_customer_of_merges(),
        ));
        let splitting = Arc::new(Splitting::new(
            keys.clone(),
            clocks.clone(),
            ticket_prefix.clone(),
        ));
        Apply {
            classifier,
            keys,
            assigner,
            staff,
            queue,
            clocks,
            lifecycle,
            merging,
            splitting,
            ticket_prefix,
        }
    }

    /// The merge step `#merge` runs (`tickets merge` runs it too).
    pub(super) fn merging(&self) -> Arc<Merging> {
        self.merging.clone()
    }

    /// The split step `#split` runs (`tickets split` runs it too).
    pub(super) fn splitting(&self) -> Arc<Splitting> {
        self.splitting.clone()
    }

    fn ticket_ref(&self, id: i64) -> String {
        tickets::format_ref(&self.ticket_prefix, id)
    }

    /// Writes what `d` decided for the message `m`; returns its outcome.
    pub(super) fn apply<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        d: Decision,
    ) -> Outcome {
        let origin = m.item.origin.clone();
        let outcome = |kind: OutcomeKind, ticket: Option<i64>, reason: Option<String>| Outcome {
            file: origin.clone(),
            outcome: kind,
            ticket_ref: ticket.map(|t| self.ticket_ref(t)),
            reason,
        };
        match d {
            Decision::Duplicate { ticket, message_id } => {
                let reason = self.apply_duplicate(u, m, ticket, &message_id);
                outcome(OutcomeKind::Duplicate, ticket, Some(reason))
            }
            Decision::Unthreaded {
                kind,
                outcome: o,
                why,
            } => {
                let role = matches!(kind, MessageKind::Bounce | MessageKind::Autoreply)
                    .then_some(Role::System);
                store_inbound(u, m, None, (kind, role), Some(why.clone()));
                outcome(o, None, Some(why))
            }
            Decision::Bounce {
                ticket,
                reason,
                via,
                staff,
            } => {
                self.apply_bounce(u, m, &ticket, &reason, &via, staff);
                outcome(OutcomeKind::Bounce, Some(ticket.id), Some(reason))
            }
            Decision::DigestBounce { staff, reason } => self.digest_bounced(u, m, &staff, reason),
            Decision::AutoReply {
                ticket,
                reason,
                via,
            } => {
                self.apply_autoreply(u, m, &ticket, &reason, &via);
                outcome(OutcomeKind::Autoreply, Some(ticket.id), Some(reason))
            }
            Decision::NewTicket(plan) => {
                let id = self.apply_new_ticket(u, m, *plan);
                outcome(OutcomeKind::Created, Some(id), None)
            }
            Decision::FollowUp(plan) => {
                let id = plan.ticket.id;
                self.apply_followup(u, m, *plan);
                outcome(OutcomeKind::Appended, Some(id), None)
            }
            Decision::Rating(plan) => {
                let id = plan.ticket.id;
                let reason = self.apply_rating(u, m, *plan);
                outcome(OutcomeKind::Appended, Some(id), Some(reason))
            }
            Decision::InternalNote(plan) => {
                let id = plan.ticket.id;
                let reason = self.apply_internal_note(u, m, *plan);
                outcome(OutcomeKind::Appended, Some(id), Some(reason))
            }
            Decision::AgentReply(plan) => {
                let id = plan.ticket.id;
                let reason = self.apply_agent_reply(u, m, *plan);
                outcome(OutcomeKind::AgentReply, Some(id), reason)
            }
        }
    }

    /// The same mail again: an event on its ticket; returns the reason.
    fn apply_duplicate(
        &self,
        u: &mut UnitOfWork<'_>,
        m: Incoming<'_>,
        ticket: Option<i64>,
        message_id: &str,
    ) -> String {
        if let Some(t) = ticket {
            u.add_events([NewEvent {
                ticket_id: Some(t),
                message_row: None,
                kind: EventKind::Duplicate,
                detail: format!(
                    "mail <{message_id}> arrived again via {}: same content as the stored copy, ignored",
                    m.item.origin
                ),
            }]);
        }
        format!("already stored: Message-ID <{message_id}> with the same content")
    }

    /// An auto-reply on a ticket: appended, changes nothing.
    fn apply_autoreply<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        ticket: &Ticket,
        reason: &str,
        via: &str,
    ) {
        let row = store_inbound(
            u,
            m,
            Some(ticket.id),
            (MessageKind::Autoreply, Some(Role::System)),
            Some(reason.to_string()),
        );
        u.add_events([event(
            ticket.id,
            row,
            EventKind::Autoreply,
            format!(
                "automatic mail ({reason}); {via}; appended, status stays {}, not acknowledged",
                ticket.status
            ),
        )]);
    }
}
