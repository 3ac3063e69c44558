//! The batch's unit of work: the in-memory view the pipeline decides against
//! (loaded in a few queries, see `store::Loaded`) plus everything decided so
//! far. Later messages of a batch see the writes of earlier ones (a follow-up
//! threads onto a ticket created three mails before). The SQL is in `store`.
//!
//! Facts that cannot be silently missing: the loader records what it read
//! each fact for (`store::Asked`), and every accessor here checks the key was
//! asked for (`known`). A decision that reads a fact nobody loaded — a new
//! rule that checks a rate limit for an address the loader never counted —
//! panics in debug builds (every test runs them) and logs an error in a
//! release build, instead of reading "nothing there". What the batch creates
//! itself (tickets, messages) counts as asked.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::mail::parse::{Attachment, ParsedMail};
use crate::store::{
    Asked, CustomerMail, Loaded, NewEvent, NewMessage, NewOutbox, SentNotification, StoredRef,
    Writes,
};
use crate::tickets::{Direction, MessageKind, ParticipantRole, Priority, Role, Status, Ticket};

/// A ticket about to be created.
pub(crate) struct NewTicket<'s> {
    pub subject: &'s str,
    pub normalized_subject: &'s str,
    pub priority: Priority,
    pub area: Option<&'s str>,
    pub owner: Option<&'s str>,
    pub customer: &'s str,
    pub customer_name: Option<&'s str>,
    pub tags: &'s str,
    pub sla_policy: Option<&'s str>,
}

pub(crate) struct UnitOfWork<'a> {
    now: DateTime<Utc>,
    /// What each fact was loaded for.
    asked: Asked,
    refs: HashMap<String, Vec<StoredRef>>,
    tickets: HashMap<i64, Ticket>,
    /// ticket -> (email, role), for the tickets the batch loaded them for.
    participants: HashMap<i64, Vec<(String, ParticipantRole)>>,
    auto_counts: HashMap<(String, MessageKind), i64>,
    suppressions: HashMap<String, DateTime<Utc>>,
    open_counts: HashMap<String, i64>,
    continuity: HashMap<(String, String), String>,
    cursors: HashMap<String, i64>,
    latest_customer_mail: HashMap<i64, CustomerMail>,
    sent_notifications: HashMap<(i64, String), SentNotification>,
    ticket_attachments: HashSet<(i64, String)>,
    referred_by: HashMap<String, Vec<i64>>,
    ticket_ids: Ids,
    message_ids: Ids,
    /// Third-class lock names this decision depends on (store/contention.rs).
    contended: BTreeSet<String>,
    new_tickets: Vec<i64>,
    changed_tickets: BTreeSet<i64>,
    changed_cursors: BTreeSet<String>,
    writes: Writes<'a>,
}

impl<'a> UnitOfWork<'a> {
    pub fn new(l: Loaded, now: DateTime<Utc>) -> UnitOfWork<'a> {
        let mut participants: HashMap<i64, Vec<(String, ParticipantRole)>> = HashMap::new();
        for p in l.participants {
            participants
                .entry(p.ticket_id)
                .or_default()
                .push((p.email, p.role));
        }
        UnitOfWork {
            now,
            asked: l.asked,
            refs: l.refs,
            tickets: l.tickets,
            participants,
            auto_counts: l.auto_counts,
            suppressions: l.suppressions,
            open_counts: l.open_counts,
            continuity: l.continuity,
            cursors: l.cursors,
            latest_customer_mail: l.latest_customer_mail,
            sent_notifications: l
                .sent_notifications
                .into_iter()
                .map(|n| ((n.ticket_id, n.recipient.clone()), n))
                .collect(),
            ticket_attachments: l.ticket_attachments,
            referred_by: l.referred_by,
            ticket_ids: Ids::new(l.max_ticket, l.reserved.as_ref().map(|r| r.0.clone())),
            message_ids: Ids::new(l.max_message, l.reserved.map(|r| r.1)),
            contended: BTreeSet::new(),
            new_tickets: Vec::new(),
            changed_tickets: BTreeSet::new(),
            changed_cursors: BTreeSet::new(),
            writes: Writes::default(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The ticket of the stored copy of this mail: `Some(ticket)` when stored.
    /// A copy is the same Message-ID with the same content, or with the same
    /// sender, date, subject and decoded text (a relay re-encoded it). Another
    /// mail that reuses a Message-ID is not a copy.
    pub fn find_message(
        &self,
        message_id: &str,
        content_hash: &str,
        text_hash: &str,
    ) -> Option<Option<i64>> {
        known(
            self.asked.message_ids.contains(message_id),
            "stored messages",
            message_id,
        );
        self.refs
            .get(message_id)?
            .iter()
            .find(|r| r.content_hash == content_hash || r.text_hash.as_deref() == Some(text_hash))
            .map(|r| r.ticket_id)
    }

    /// Stored messages with one of these Message-IDs that belong to a ticket.
    pub fn on_tickets(&self, ids: &[String]) -> Vec<&StoredRef> {
        for id in ids {
            known(self.asked.message_ids.contains(id), "stored messages", id);
        }
        ids.iter()
            .filter_map(|id| self.refs.get(id))
            .flatten()
            .filter(|r| r.ticket_id.is_some())
            .collect()
    }

    /// The manager a stored digest with one of these Message-IDs went to.
    pub fn digest_recipient(&self, ids: &[String]) -> Option<String> {
        for id in ids {
            known(self.asked.message_ids.contains(id), "stored messages", id);
        }
        ids.iter()
            .filter_map(|id| self.refs.get(id))
            .flatten()
            .find(|r| r.kind == MessageKind::Digest && r.ticket_id.is_none())
            // Lower-cased like the config's managers (older rows kept the
            // config's spelling): the hold is on the address they compare.
            .and_then(|r| r.recipient.as_deref().map(str::to_ascii_lowercase))
    }

    /// Whether `message_id` is stored as internal mail (a notification, an
    /// explanation, an agent's reply or note): it must never reach a customer.
    pub fn is_internal_id(&self, message_id: &str) -> bool {
        known(
            self.asked.message_ids.contains(message_id),
            "stored messages",
            message_id,
        );
        self.refs
            .get(message_id)
            .is_some_and(|v| v.iter().any(|r| r.kind.is_internal()))
    }

    /// `ids` without the Message-IDs of internal mail: what goes back to the
    /// customer's side carries only IDs that side wrote or was sent.
    pub fn customer_chain(&self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .filter(|id| !self.is_internal_id(id))
            .cloned()
            .collect()
    }

    pub fn ticket(&self, id: i64) -> Option<&Ticket> {
        known(self.asked.tickets.contains(&id), "tickets", id);
        self.tickets.get(&id)
    }

    pub fn is_participant(&self, ticket_id: i64, email: &str) -> bool {
        known(
            self.asked.participants.contains(&ticket_id),
            "participants",
            ticket_id,
        );
        self.participants
            .get(&ticket_id)
            .is_some_and(|v| v.iter().any(|(e, _)| e == email))
    }

    pub fn participants(&self, ticket_id: i64) -> &[(String, ParticipantRole)] {
        known(
            self.asked.participants.contains(&ticket_id),
            "participants",
            ticket_id,
        );
        self.participants
            .get(&ticket_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn open_counts(&self) -> &HashMap<String, i64> {
        known(self.asked.assignment, "open counts", "");
        &self.open_counts
    }

    pub fn continuity(&self, customer: &str, area: &str) -> Option<&str> {
        known(self.asked.assignment, "continuity", customer);
        self.continuity
            .get(&(customer.to_string(), area.to_string()))
            .map(String::as_str)
    }

    pub fn cursor(&self, area: &str) -> Option<i64> {
        known(self.asked.assignment, "assignment cursors", area);
        self.cursors.get(area).copied()
    }

    pub fn set_cursor(&mut self, area: &str, position: i64) {
        self.cursors.insert(area.to_string(), position);
        self.changed_cursors.insert(area.to_string());
    }

    /// Mail of these kinds queued to `recipient` within the rate window,
    /// including this batch's own.
    pub fn sent_recently(&self, recipient: &str, kinds: &[MessageKind]) -> i64 {
        known(
            self.asked.recipients.contains(recipient),
            "automatic mail counts",
            recipient,
        );
        kinds
            .iter()
            .filter_map(|k| self.auto_counts.get(&(recipient.to_string(), *k)))
            .sum()
    }

    /// Until when mail to `address` is held back (it bounced), if it is.
    pub fn suppressed_until(&self, address: &str) -> Option<DateTime<Utc>> {
        self.suppressions
            .get(address)
            .copied()
            .filter(|until| *until > self.now)
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

    pub fn latest_customer_mail(&self, ticket_id: i64) -> Option<&CustomerMail> {
        known(
            self.asked.latest.contains(&ticket_id),
            "latest customer mail",
            ticket_id,
        );
        self.latest_customer_mail.get(&ticket_id)
    }

    pub fn last_notification(&self, ticket_id: i64, recipient: &str) -> Option<&SentNotification> {
        known(
            self.asked.notified.contains(&ticket_id),
            "notifications",
            ticket_id,
        );
        self.sent_notifications
            .get(&(ticket_id, recipient.to_string()))
    }

    /// Whether an attachment with this SHA-256 is already on the ticket.
    pub fn ticket_has_attachment(&self, ticket_id: i64, sha256: &str) -> bool {
        known(
            self.asked.attachments.contains(&ticket_id),
            "ticket attachments",
            ticket_id,
        );
        self.ticket_attachments
            .contains(&(ticket_id, sha256.to_string()))
    }

    /// Tickets of stored customer mail that refers to `message_id` (it came
    /// in after a follow-up to it).
    pub fn referred_by(&self, message_id: &str) -> &[i64] {
        known(
            self.asked.own_ids.contains(message_id),
            "referring mail",
            message_id,
        );
        self.referred_by
            .get(message_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Records that the decision depends on what the lock `name` guards.
    pub fn contend(&mut self, name: String) {
        self.contended.insert(name);
    }

    /// What a second decision on PostgreSQL needs (`pipeline::settle`).
    pub fn needs(&self) -> Needs {
        Needs {
            locks: self.contended.clone(),
            tickets: self.ticket_ids.used,
            messages: self.message_ids.used,
            overdrawn: self.ticket_ids.overdrawn || self.message_ids.overdrawn,
        }
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
            let was_open = t.status != Status::Resolved;
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
            t.updated_at = self.now;
            // Keep the load the assigner sees in step with the batch.
            let is_open = t.status != Status::Resolved;
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

/// Where new rows get their ids: after the highest stored one (SQLite), or
/// from ids reserved in the sequences (PostgreSQL). A decision that needs more
/// than were reserved goes on with provisional ids and is made again.
struct Ids {
    next: i64,
    pool: Option<std::collections::VecDeque<i64>>,
    used: usize,
    overdrawn: bool,
}

/// Provisional ids: far above any real one, never written.
const PROVISIONAL: i64 = 1 << 60;

impl Ids {
    fn new(max: i64, reserved: Option<Vec<i64>>) -> Ids {
        let next = if reserved.is_some() {
            PROVISIONAL
        } else {
            max + 1
        };
        Ids {
            next,
            pool: reserved.map(Into::into),
            used: 0,
            overdrawn: false,
        }
    }

    fn take(&mut self) -> i64 {
        self.used += 1;
        if let Some(pool) = &mut self.pool {
            if let Some(id) = pool.pop_front() {
                return id;
            }
            self.overdrawn = true;
        }
        let id = self.next;
        self.next += 1;
        id
    }
}

/// What a decision used that a concurrent one could change (`UnitOfWork::needs`).
#[derive(Debug)]
pub(crate) struct Needs {
    pub locks: BTreeSet<String>,
    pub tickets: usize,
    pub messages: usize,
    /// More ids were used than were reserved.
    pub overdrawn: bool,
}

/// Checks that a fact was loaded for the key a decision reads it for (see
/// the module's doc comment).
#[track_caller]
fn known(asked: bool, what: &str, key: impl std::fmt::Debug) {
    if !asked {
        debug_assert!(
            false,
            "{what} of {key:?} were not loaded for this batch (store::Asked): the loader must read them"
        );
        tracing::error!(
            "{what} of {key:?} were not loaded for this batch: read as nothing (a bug)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(asked: Asked) -> UnitOfWork<'static> {
        UnitOfWork::new(
            Loaded {
                asked,
                ..Loaded::default()
            },
            Utc::now(),
        )
    }

    #[test]
    fn facts_asked_for_read_as_loaded() {
        let mut asked = Asked::default();
        asked.recipients.insert("bob@example.test".into());
        asked.message_ids.insert("m1@x.test".into());
        asked.tickets.insert(7);
        asked.participants.insert(7);
        let u = unit(asked);
        assert_eq!(
            u.sent_recently("bob@example.test", &[MessageKind::Notification]),
            0
        );
        assert!(!u.is_internal_id("m1@x.test"));
        assert!(
            u.ticket(7).is_none(),
            "asked for and not found: there is none"
        );
        assert!(u.participants(7).is_empty());
    }

    #[test]
    #[should_panic(expected = "automatic mail counts of \"eve@evil.test\" were not loaded")]
    fn a_rate_limit_nobody_loaded_fails_loudly() {
        let u = unit(Asked::default());
        u.sent_recently("eve@evil.test", &[MessageKind::Ack]);
    }

    #[test]
    #[should_panic(expected = "stored messages of \"n1@example.test\" were not loaded")]
    fn an_id_nobody_looked_up_is_never_taken_for_customer_mail() {
        unit(Asked::default()).is_internal_id("n1@example.test");
    }

    #[test]
    #[should_panic(expected = "participants of 3 were not loaded")]
    fn participants_nobody_loaded_fail_loudly() {
        unit(Asked::default()).is_participant(3, "a@b.test");
    }

    #[test]
    fn what_the_batch_creates_is_known() {
        let mut u = unit(Asked::default());
        let t = u.insert_ticket(&NewTicket {
            subject: "s",
            normalized_subject: "s",
            priority: Priority::Normal,
            area: None,
            owner: None,
            customer: "a@b.test",
            customer_name: None,
            tags: "",
            sla_policy: None,
        });
        assert!(u.participants(t.id).is_empty());
        assert!(u.latest_customer_mail(t.id).is_none());
        assert!(u.last_notification(t.id, "bob@example.test").is_none());
        assert!(!u.ticket_has_attachment(t.id, "00"));
    }
}
