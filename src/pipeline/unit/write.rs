//! What deciding changes in the batch's view, and the writes it collects
//! for `Tx::write_batch`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{NewTicket, UnitOfWork};
use crate::mail::parse::{Attachment, ParsedMail};
use crate::store::{
    CustomerMail, Merged, NewEvent, NewMessage, NewOutbox, SentNotification, SplitOff, StoredRef,
    Writes,
};
use crate::tickets::{Direction, MessageKind, ParticipantRole, Role, Status, Ticket};

impl<'a> UnitOfWork<'a> {
    pub fn set_cursor(&mut self, area: &str, position: i64) {
        self.cursors.insert(area.to_string(), position);
        self.changed_cursors.insert(area.to_string());
    }

    /// Stops mail to `address` until `until`; false when it was already stopped.
    pub fn suppress(&mut self, address: &str, until: DateTime<Utc>, reason: String) -> bool {
        let fresh = self.suppressed_until(address).is_none();
        self.suppressions.insert(address.to_string(), until);
        self.writes
            .suppressions
            .push((address.to_string(), until, reason));
        fresh
    }

    pub fn insert_ticket(&mut self, t: &NewTicket<'_>) -> Ticket {
        let id = self.ticket_ids.take();
        let row = Ticket {
            id,
            subject: t.subject.to_string(),
            normalized_subject: t.normalized_subject.to_string(),
            status: Status::Open,
            priority: t.priority,
            area: t.area.map(str::to_string),
            owner: t.owner.map(str::to_string),
            customer: t.customer.to_string(),
            customer_name: t.customer_name.map(str::to_string),
            tags: t.tags.to_string(),
            created_at: self.now,
            updated_at: self.now,
            first_response_at: None,
            resolved_at: None,
            sla_policy: t.sla_policy.map(str::to_string),
            first_response_due: None,
            next_response_due: None,
            resolution_due: None,
            waiting_since: None,
            pending_since: None,
            sla_paused_secs: 0,
            sla_next_check: None,
            merged_into: None,
            pending_until: None,
            answered_at: None,
            linked_to: t.linked_to,
            satisfaction: None,
        };
        if let Some(owner) = &row.owner {
            *self.open_counts.entry(owner.clone()).or_default() += 1;
            if let Some(area) = &row.area {
                self.continuity
                    .insert((row.customer.clone(), area.clone()), owner.clone());
            }
        }
        // A ticket the batch creates has no participants, mail or
        // notifications but its own: all known.
        for set in [
            &mut self.asked.tickets,
            &mut self.asked.participants,
            &mut self.asked.latest,
            &mut self.asked.notified,
            &mut self.asked.attachments,
        ] {
            set.insert(id);
        }
        self.tickets.insert(id, row.clone());
        self.new_tickets.push(id);
        row
    }

    /// Changes a ticket in the view; it is written at the end of the batch.
    pub fn update_ticket(&mut self, id: i64, f: impl FnOnce(&mut Ticket)) {
        if let Some(t) = self.tickets.get_mut(&id) {
            let was_open = !matches!(t.status, Status::Resolved | Status::Merged);
            let old_owner = t.owner.clone();
            let old_status = t.status;
            f(t);
            if t.status != old_status {
                self.writes.status_changes.push((id, old_status, t.status));
            }
            t.resolved_at = match t.status {
                Status::Resolved => t.resolved_at.or(Some(self.now)),
                _ => None,
            };
            // A wait ends with the pending status, whoever ends it.
            if t.status != Status::Pending {
                t.pending_until = None;
            }
            t.updated_at = self.now;
            // Keep the load the assigner sees in step with the batch.
            let is_open = !matches!(t.status, Status::Resolved | Status::Merged);
            if let Some(o) = &old_owner
                && was_open
            {
                *self.open_counts.entry(o.clone()).or_default() -= 1;
            }
            if let Some(o) = &t.owner
                && is_open
            {
                *self.open_counts.entry(o.clone()).or_default() += 1;
            }
            self.changed_tickets.insert(id);
        }
    }

    /// When the scheduler looks at a ticket next: bookkeeping, not a change
    /// anyone made (`updated_at` stays).
    pub fn set_next_check(&mut self, id: i64, at: Option<DateTime<Utc>>) {
        if let Some(t) = self.tickets.get_mut(&id) {
            t.sla_next_check = at;
            self.changed_tickets.insert(id);
        }
    }

    /// Buffers a message row; later messages of the batch can thread onto it.
    pub fn insert_message(&mut self, m: NewMessage<'a>) -> i64 {
        let id = self.message_ids.take();
        self.asked.message_ids.insert(m.message_id.clone());
        self.refs
            .entry(m.message_id.clone())
            .or_default()
            .push(StoredRef {
                message_id: m.message_id.clone(),
                content_hash: m.content_hash.clone(),
                text_hash: m.text_hash.clone(),
                ticket_id: m.ticket_id,
                kind: m.kind,
                recipient: m.recipient.clone(),
                reply_token: m.reply_token.clone(),
            });
        if let Some(t) = m.ticket_id {
            match (m.direction, m.kind) {
                (Direction::In, MessageKind::Customer) => {
                    for r in crate::mail::thread::stored_references(&m.in_reply_to, &m.refs) {
                        self.referred_by.entry(r.clone()).or_default().push(t);
                        self.writes.message_refs.push((id, r));
                    }
                    self.latest_customer_mail.insert(
                        t,
                        CustomerMail {
                            row: id,
                            ticket_id: t,
                            message_id: m.message_id.clone(),
                            refs: m.refs.clone(),
                            thread_index: m.thread_index.clone(),
                        },
                    );
                }
                (Direction::Out, MessageKind::Notification) => {
                    if let Some(r) = &m.recipient {
                        self.sent_notifications.insert(
                            (t, r.clone()),
                            SentNotification {
                                ticket_id: t,
                                recipient: r.clone(),
                                message_id: m.message_id.clone(),
                                refs: m.refs.clone(),
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        self.writes.messages.push((id, m));
        id
    }

    /// A stored ticket-less message joins `ticket_id` as `kind` (a release).
    pub fn adopt_message(
        &mut self,
        row: i64,
        ticket_id: i64,
        (kind, role): (MessageKind, Role),
        mail: &ParsedMail,
    ) {
        if kind == MessageKind::Customer {
            self.latest_customer_mail.insert(
                ticket_id,
                CustomerMail {
                    row,
                    ticket_id,
                    message_id: mail.message_id.clone(),
                    refs: mail.references.join(" "),
                    thread_index: mail.header("Thread-Index").map(str::to_string),
                },
            );
        }
        self.writes.adopted.push((row, ticket_id, kind, role));
    }

    pub fn attach(&mut self, message_row: i64, ticket_id: Option<i64>, a: &'a Attachment) {
        if let Some(t) = ticket_id {
            self.ticket_attachments.insert((t, a.sha256.clone()));
        }
        self.writes.attachments.push((message_row, a));
    }

    pub fn add_participant(&mut self, ticket_id: i64, email: &str, role: ParticipantRole) {
        let list = self.participants.entry(ticket_id).or_default();
        if !list.iter().any(|(e, _)| e == email) {
            list.push((email.to_string(), role));
            self.writes
                .participants
                .push((ticket_id, email.to_string(), role));
        }
    }

    /// A lifecycle action taken on a ticket (its row makes it once-only).
    pub fn record_action(&mut self, ticket_id: i64, action: &str, due: DateTime<Utc>) {
        self.writes
            .lifecycle_actions
            .push((ticket_id, action.to_string(), due));
    }

    /// Mail split off to a new ticket: its rows move when the batch is written.
    pub fn split_off(&mut self, s: SplitOff) {
        self.writes.splits.push(s);
    }

    /// A ticket merged into another: its rows move when the batch is
    /// written, after everything else (so the batch's own rows move too).
    pub fn merge(&mut self, m: Merged) {
        self.writes.merges.push(m);
    }

    pub fn add_events(&mut self, events: impl IntoIterator<Item = NewEvent>) {
        self.writes.events.extend(events);
    }

    pub fn enqueue(&mut self, o: NewOutbox) {
        *self
            .auto_counts
            .entry((o.recipients.to_stored(), o.kind))
            .or_default() += 1;
        self.writes.outbox.push(o);
    }

    /// An SLA alert decided now (its row makes it once-only).
    pub fn record_alert(&mut self, ticket_id: i64, a: crate::sla::alerts::Alert) {
        self.writes.sla_alerts.push((ticket_id, a));
    }

    pub fn quarantine(&mut self, origin: &str, reason: String, raw: &'a [u8]) {
        self.writes
            .quarantine
            .push((origin.to_string(), reason, raw));
    }

    /// Everything decided, ready for `Tx::write_batch`.
    pub fn into_writes(mut self) -> Writes<'a> {
        for id in &self.new_tickets {
            if let Some(t) = self.tickets.get(id) {
                self.writes.new_tickets.push(t.clone());
            }
        }
        let created: HashSet<i64> = self.new_tickets.iter().copied().collect();
        for id in &self.changed_tickets {
            if let (false, Some(t)) = (created.contains(id), self.tickets.get(id)) {
                self.writes.changed_tickets.push(t.clone());
            }
        }
        for area in &self.changed_cursors {
            if let Some(p) = self.cursors.get(area) {
                self.writes.cursors.push((area.clone(), *p));
            }
        }
        self.writes
    }
}
