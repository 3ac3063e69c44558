//! Merging a ticket into another, by an agent's `#merge` or by an operator's
//! `tickets merge`: whether it may happen and what it makes of the tickets is
//! `tickets::merge`'s; this step writes it into the unit of work (the
//! source's rows move when the batch is written), leaves an event on both
//! tickets and tells the target's owner.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::events::Events;
use super::outgoing::{Notice, Notify, Queue};
use super::sla::{ClockEvent, Clocks};
use super::unit::UnitOfWork;
use crate::store::{Merged, NewEvent, Store};
use crate::tickets::merge::{MergeRefusal, plan};
use crate::tickets::{self, EventKind, MessageKind, Ticket};

/// What `tickets merge` did, or would do with `--dry-run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// Merged (or, dry, would be): the target's event.
    Merged(String),
    Refused(MergeRefusal),
}

/// An operator's merge (`tickets merge`): what `merge` decides, in one
/// transaction of its own, with the same reads a batch of mail has.
pub struct OperatorMerge {
    pub source: i64,
    pub target: i64,
    pub force: bool,
    pub dry_run: bool,
}

/// What merging reads, and the steps it calls.
pub(super) struct Merging {
    queue: Arc<Queue>,
    clocks: Arc<Clocks>,
    ticket_prefix: String,
    /// `[lifecycle] merge_notifies_customer`.
    tell_customer: bool,
}

/// One merge asked for: by whom (an agent's address, or the operator), and
/// the message that asked for it, if one did.
pub(super) struct MergeRequest<'r> {
    pub source: i64,
    pub target: i64,
    pub force: bool,
    pub by: &'r str,
    pub row: Option<i64>,
}

impl Merging {
    pub(super) fn new(
        (queue, clocks): (Arc<Queue>, Arc<Clocks>),
        ticket_prefix: String,
        tell_customer: bool,
    ) -> Merging {
        Merging {
            queue,
            clocks,
            ticket_prefix,
            tell_customer,
        }
    }

    fn name(&self, id: i64) -> String {
        tickets::format_ref(&self.ticket_prefix, id)
    }

    /// Merges `r.source` into `r.target`, or says why not. Returns what
    /// happened, as the target's event says it.
    pub(super) fn merge(
        &self,
        u: &mut UnitOfWork<'_>,
        r: MergeRequest<'_>,
    ) -> Result<String, MergeRefusal> {
        let unknown = |id| MergeRefusal::Unknown {
            ticket: self.name(id),
        };
        let source = u
            .ticket(r.source)
            .cloned()
            .ok_or_else(|| unknown(r.source))?;
        let target = u
            .ticket(r.target)
            .cloned()
            .ok_or_else(|| unknown(r.target))?;
        let participants = (u.participants(source.id), u.participants(target.id));
        let p = plan(
            &self.ticket_prefix,
            &source,
            &target,
            participants,
            r.force,
            u.now(),
        )?;
        let (from, to) = (self.name(source.id), self.name(target.id));
        u.update_ticket(source.id, |t| *t = p.source.clone());
        u.update_ticket(target.id, |t| *t = p.target.clone());
        if target.status != p.target.status {
            // Reopened: the source's customer is waiting for support.
            self.clocks
                .refresh(u, target.id, Some(target.status), ClockEvent::CustomerWrote);
        }
        for (email, role) in &p.joined {
            u.add_participant(target.id, email, *role);
        }
        let mut detail = format!(
            "{from} (\"{}\", {}) merged into {to} by {}: its mail, events and queued mail are here now, and mail for {from} lands here",
            source.subject, source.customer, r.by
        );
        if !p.changes.is_empty() {
            detail.push_str(&format!("; {}", p.changes.join(", ")));
        }
        u.add_events([NewEvent {
            ticket_id: Some(target.id),
            message_row: r.row,
            kind: EventKind::Merge,
            detail: detail.clone(),
        }]);
        u.merge(Merged {
            source: source.id,
            target: target.id,
            alias_event: NewEvent {
                ticket_id: Some(source.id),
                message_row: r.row,
                kind: EventKind::Merge,
                detail: format!(
                    "merged into {to} by {} (status was {}); {from} is an alias of {to} from now on",
                    r.by, source.status
                ),
            },
        });
        self.tell_owner(u, &r, &from, target.id);
        if self.tell_customer {
            self.tell_customer(u, &source, &to);
        }
        Ok(detail)
    }

    /// `merge_notifies_customer`: the source's customer learns which ticket
    /// goes on, threaded in their conversation (the mail moves with the
    /// source's rows, so it is rendered as the target's).
    fn tell_customer(&self, u: &mut UnitOfWork<'_>, source: &Ticket, to: &str) {
        let Some(row) = u.latest_customer_mail(source.id).map(|m| m.row) else {
            return;
        };
        let mut ev = Events::new(source.id, row, Vec::new());
        let context = serde_json::json!({
            "old_ref": self.name(source.id),
            "old_subject": source.subject,
        });
        let what = format!("notice of the merge into {to}");
        let notice = Notice {
            kind: MessageKind::Notice,
            template: "merged",
            what: &what,
            event: EventKind::Merge,
        };
        self.queue.notice(u, source, notice, context, &mut ev);
        u.add_events(ev.list);
    }

    /// The target's owner hears of it, unless they merged it themselves. The
    /// notification shows the source's latest customer mail.
    fn tell_owner(&self, u: &mut UnitOfWork<'_>, r: &MergeRequest<'_>, from: &str, target: i64) {
        let Some(updated) = u.ticket(target).cloned() else {
            return;
        };
        let Some(owner) = updated.owner.clone().filter(|o| o != r.by) else {
            return;
        };
        let Some(row) = u.latest_customer_mail(r.source).map(|m| m.row).or(r.row) else {
            return;
        };
        let mut ev = Events::new(target, row, Vec::new());
        let what = Notify::Merged { by: r.by, from };
        self.queue.notify(u, &updated, &owner, &mut ev, what);
        u.add_events(ev.list);
    }

    /// `tickets merge`: one transaction; nothing is written on a refusal or
    /// a dry run. `staff`: the addresses whose rate limits are loaded.
    pub(super) async fn by_operator(
        &self,
        store: &Store,
        m: OperatorMerge,
        staff: &[String],
        now: DateTime<Utc>,
    ) -> crate::Result<MergeOutcome> {
        let mut tx = store.begin().await?;
        let rate_since = now - Duration::hours(super::outgoing::RATE_WINDOW_HOURS);
        let loaded = tx
            .load_for_merge(&[m.source, m.target], staff, rate_since, now)
            .await?;
        let asked = |u: &mut UnitOfWork<'_>| {
            let r = MergeRequest {
                source: m.source,
                target: m.target,
                force: m.force,
                by: OPERATOR,
                row: None,
            };
            Ok(self.merge(u, r))
        };
        let outcome = super::settle::operator_command(tx, loaded, (now, m.dry_run), asked).await?;
        Ok(match outcome {
            Ok(detail) => MergeOutcome::Merged(detail),
            Err(why) => MergeOutcome::Refused(why),
        })
    }
}

/// Who merged, in events and the owner's notification, when an operator did.
const OPERATOR: &str = "an operator (mailroom tickets merge)";
