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
//!
//! The view's facts are read in `read.rs`; what deciding changes, and the
//! writes it collects, in `write.rs`.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::store::{Asked, CustomerMail, Loaded, SentNotification, SplitMail, StoredRef, Writes};
use crate::tickets::{MessageKind, ParticipantRole, Priority, Ticket};

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
    /// The older ticket a mail after the reopen window continues.
    pub linked_to: Option<i64>,
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
    split_mail: HashMap<String, SplitMail>,
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
            split_mail: l.split_mail,
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

mod read;
#[cfg(test)]
mod tests;
mod write;
