//! What a relay's result causes (issue 19, "relay failures are never
//! silent"). The outbox worker only records who got an agent's answer and
//! who was refused; the pipeline decides what follows, like everything else
//! (DESIGN §1), in one transaction per batch of results, once each:
//!
//! - someone got it: the ticket's first response counts from then (never
//!   from the moment the answer came in), and the SLA clock follows;
//! - some recipients were refused for good: an event names them with the
//!   server's reply, and the agent gets one explanation mail;
//! - nobody got it: a pending ticket is open again, an event says why, and
//!   the agent is told.
//!
//! A delivery is reported as soon as the first recipient has the mail (a
//! greylisted Cc must not hold up the first response); the rest when the
//! row is final. It runs after every flush that recorded a relay result, and
//! in the scheduler, which repairs a crash between the mark and the report.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::events::Events;
use super::outgoing::{Queue, RelayTrouble};
use super::sla::{ClockEvent, Clocks};
use super::staff::Staff;
use super::unit::UnitOfWork;
use crate::mail::address::Recipients;
use crate::mail::delivery::Refusal;
use crate::store::{RelayResult, Store};
use crate::tickets::{EventKind, Status, Ticket};

/// Relays reported per transaction.
const RELAY_BATCH: i64 = 100;

/// What `Pipeline::report_relays` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RelayReports {
    /// Relay results reported (deliveries and final results).
    pub reported: usize,
    /// Relays that reached some of their recipients, not all.
    pub partly_refused: usize,
    /// Relays that reached nobody.
    pub undelivered: usize,
    /// Explanation mails queued to agents.
    pub explained: usize,
}

impl RelayReports {
    fn add(&mut self, o: RelayReports) {
        self.reported += o.reported;
        self.partly_refused += o.partly_refused;
        self.undelivered += o.undelivered;
        self.explained += o.explained;
    }
}

/// What reporting relay results reads: the clocks a delivery starts or a
/// failure restarts, the explanations it queues, the staff whose mail
/// counts it loads.
pub(super) struct RelayResults {
    clocks: Arc<Clocks>,
    queue: Arc<Queue>,
    staff: Arc<Staff>,
}

impl RelayResults {
    pub(super) fn new(clocks: Arc<Clocks>, queue: Arc<Queue>, staff: Arc<Staff>) -> RelayResults {
        RelayResults {
            clocks,
            queue,
            staff,
        }
    }

    /// Reports every relay result not reported yet (see the module).
    pub(super) async fn report(
        &self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> crate::Result<RelayReports> {
        let mut total = RelayReports::default();
        // Most flushes and scheduler ticks have nothing to report: a read
        // decides that before any write transaction is opened.
        if !store.has_unreported_relays().await? {
            return Ok(total);
        }
        let staff = self.staff.addresses();
        loop {
            let mut tx = store.begin().await?;
            let rate_since = now - Duration::hours(super::outgoing::RATE_WINDOW_HOURS);
            let batch = tx
                .load_relay_results(RELAY_BATCH, staff, rate_since, now)
                .await?;
            let taken = batch.len();
            if batch.is_empty() {
                tx.commit().await?;
                return Ok(total);
            }
            let rows = batch.rows;
            let (done, writes) = super::settle::settle(&mut tx, batch.loaded, now, |u| {
                let mut r = RelayReports::default();
                for row in &rows {
                    self.report_relay(u, row, &mut r);
                }
                Ok(r)
            })
            .await?;
            tx.write_batch(&writes, now).await?;
            for row in &rows {
                tx.mark_relay_reported(row.id, row.is_final(), now).await?;
            }
            // A relay row without a ticket has nobody to report to (the
            // pipeline never writes one): it leaves the index as reported.
            for &id in &batch.without_ticket {
                tracing::warn!(outbox = id, "relay without a ticket: nothing to report");
                tx.mark_relay_reported(id, true, now).await?;
            }
            tx.commit().await?;
            total.add(done);
            if (taken as i64) < RELAY_BATCH {
                return Ok(total);
            }
        }
    }

    fn report_relay(&self, u: &mut UnitOfWork<'_>, row: &RelayResult, r: &mut RelayReports) {
        let Some(ticket) = u.ticket(row.ticket_id).cloned() else {
            return;
        };
        r.reported += 1;
        let id = ticket.id;
        let mut ev = Events::new(id, row.message_row, Vec::new());
        let mid = &row.message_id;
        self.first_response(u, &ticket, row, &mut ev);
        if !row.is_final() {
            u.add_events(ev.list);
            return;
        }
        let context: Value = serde_json::from_str(&row.context).unwrap_or(Value::Null);
        let agent = context["agent"].as_str().unwrap_or_default();
        let delivered = Recipients::read_stored(&row.delivered_to).usable;
        let refused = refusals(row, &delivered);
        if refused.is_empty() {
            u.add_events(ev.list);
            return;
        }
        let by = if agent.is_empty() {
            String::new()
        } else {
            format!(" by {agent}")
        };
        let not = refused
            .iter()
            .map(|f| f.describe(row.attempts))
            .collect::<Vec<_>>()
            .join("; ");
        if delivered.is_empty() {
            r.undelivered += 1;
            ev.push(
                EventKind::Relay,
                format!("answer <{mid}>{by} reached nobody: {not}"),
            );
            if ticket.status == Status::Pending {
                u.update_ticket(id, |t| t.status = Status::Open);
                ev.push(
                    EventKind::Status,
                    "pending -> open: the answer reached nobody".into(),
                );
                // The customer is still waiting: their clock runs again.
                self.clocks
                    .refresh(u, id, Some(Status::Pending), ClockEvent::CustomerWrote);
            }
        } else {
            r.partly_refused += 1;
            ev.push(
                EventKind::Relay,
                format!("answer <{mid}>{by} reached {delivered}, but not {not}"),
            );
        }
        let trouble = RelayTrouble {
            agent,
            relay_id: mid,
            reply_row: row.trigger_row.unwrap_or(row.message_row),
            reply_id: row.trigger_message_id.as_deref().unwrap_or(mid),
            reply_refs: row
                .trigger_refs
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            text: context["text"].as_str().unwrap_or_default(),
            delivered: &delivered,
            refused: &refused,
        };
        self.tell_agent(u, id, ticket, trouble, &mut ev, r);
        u.add_events(ev.list);
    }

    /// Once a delivery is reported the ticket has its first response, so a
    /// later report of the same relay changes nothing here.
    fn first_response(
        &self,
        u: &mut UnitOfWork<'_>,
        ticket: &Ticket,
        row: &RelayResult,
        ev: &mut Events,
    ) {
        if let Some(at) = row.delivered_at
            && ticket.first_response_at.is_none()
        {
            u.update_ticket(ticket.id, |t| t.first_response_at = Some(at));
            self.clocks
                .refresh(u, ticket.id, Some(ticket.status), ClockEvent::Changed);
            ev.push(
                EventKind::Relay,
                format!(
                    "answer <{}> delivered at {}: the first response",
                    row.message_id,
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            );
        }
    }

    /// The agent whose answer did not reach everyone is told (one
    /// explanation, rate-limited); a relay without an agent tells nobody.
    fn tell_agent(
        &self,
        u: &mut UnitOfWork<'_>,
        id: i64,
        ticket: Ticket,
        trouble: RelayTrouble<'_>,
        ev: &mut Events,
        r: &mut RelayReports,
    ) {
        if trouble.agent.is_empty() {
            ev.push(
                EventKind::Explanation,
                "no agent recorded on the relay: nobody told".into(),
            );
            return;
        }
        let updated = u.ticket(id).cloned().unwrap_or(ticket);
        if self.queue.explain_relay(u, &updated, trouble, ev) {
            r.explained += 1;
        }
    }
}

/// Who did not get a final relay. One that failed before any server answered
/// (it could not be rendered) has the row's error for everyone.
fn refusals(row: &RelayResult, delivered: &Recipients) -> Vec<Refusal> {
    let refused: Vec<Refusal> = serde_json::from_str(&row.refused).unwrap_or_default();
    if !delivered.is_empty() || !refused.is_empty() {
        return refused;
    }
    let why = row.last_error.clone().unwrap_or_else(|| "not sent".into());
    let stored = Recipients::read_stored(&row.recipients);
    let usable = stored.usable.as_slice().iter().map(|a| a.to_string());
    usable
        .chain(stored.unusable.into_iter().map(|u| u.address))
        .map(|address| Refusal {
            address,
            code: None,
            text: why.clone(),
            permanent: true,
        })
        .collect()
}
