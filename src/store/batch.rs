//! A batch's reads and writes, as data. Everything the pipeline needs to read
//! for a batch is loaded in a handful of queries ([`Loaded`], read by
//! `load.rs`); the pipeline decides message by message in memory
//! (`pipeline::unit`), and what it decided goes to the database as a few
//! multi-row statements ([`Writes`], written by `write.rs`).
//! This keeps the statement count per batch, not per message: the difference
//! between hundreds and thousands of messages per second.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::mail::address::Recipients;
use crate::mail::parse::Attachment;
use crate::tickets::{Direction, EventKind, MessageKind, ParticipantRole, Role, Status, Ticket};

/// What a batch will look up.
#[derive(Debug, Default)]
pub struct BatchKeys {
    /// The batch's own Message-IDs and every ID they reference.
    pub message_ids: Vec<String>,
    /// The batch's own Message-IDs: stored mail may already refer to them.
    pub own_ids: Vec<String>,
    /// IDs referenced by mail from roster addresses: the tickets behind them
    /// may get a relay (participants, the customer's latest mail, attachments).
    pub agent_refs: Vec<String>,
    /// Tickets named by subject tags.
    pub tag_tickets: Vec<i64>,
    /// Addresses that may get automatic mail (rate limit); also the customers
    /// whose open tickets matter for assignment continuity.
    pub auto_recipients: Vec<String>,
    /// Load, continuity and cursors are only read when some area assigns owners.
    pub assignment: bool,
    /// IDs an agent's `#split` answer references: the customer mail behind
    /// each notification among them is loaded (`Loaded::split_mail`).
    pub split_refs: Vec<String>,
}

impl BatchKeys {
    /// The first-class lock names of the batch (contention.rs): its Message-IDs.
    pub fn lock_names(&self) -> impl Iterator<Item = String> + '_ {
        self.message_ids.iter().map(|id| format!("m:{id}"))
    }
}

/// A stored message as threading and de-duplication see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredRef {
    pub message_id: String,
    pub content_hash: String,
    pub text_hash: Option<String>,
    pub ticket_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub recipient: Option<String>,
    /// The Reply-To tag of a mail to an agent (the proof its answer needs).
    pub reply_token: Option<String>,
}

/// A ticket's participant: the customer, or someone in the conversation's Cc.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Participant {
    pub ticket_id: i64,
    pub email: String,
    pub role: ParticipantRole,
}

/// The customer's newest mail on a ticket: what a relay answers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerMail {
    /// Its message row (what an SLA reminder shows).
    pub row: i64,
    pub ticket_id: i64,
    pub message_id: String,
    pub refs: String,
    pub thread_index: Option<String>,
}

/// The newest notification sent to one recipient on a ticket: the next one
/// answers it, so the owner's mail client shows one thread per ticket.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SentNotification {
    pub ticket_id: i64,
    pub recipient: String,
    pub message_id: String,
    pub refs: String,
}

/// The keys each fact of a [`Loaded`] was read for. The pipeline may read a
/// fact only for these (`pipeline::unit` checks every access): a decision
/// that reads a fact nobody loaded fails loudly in tests — a debug assertion,
/// an error in the log of a release build — instead of seeing "nothing
/// there" (a rate limit that passes, a participant nobody knows).
#[derive(Debug, Default, Clone)]
pub struct Asked {
    /// Message-IDs looked up in `refs` (found or not).
    pub message_ids: HashSet<String>,
    /// Message-IDs whose referring tickets were read (`referred_by`).
    pub own_ids: HashSet<String>,
    /// Ticket ids looked up in `tickets` (found or not).
    pub tickets: HashSet<i64>,
    /// Tickets whose participants were read.
    pub participants: HashSet<i64>,
    /// Tickets whose latest customer mail was read.
    pub latest: HashSet<i64>,
    /// Tickets whose newest notification per recipient was read.
    pub notified: HashSet<i64>,
    /// Tickets whose attachments were read.
    pub attachments: HashSet<i64>,
    /// Addresses whose automatic mail was counted (`auto_counts`).
    pub recipients: HashSet<String>,
    /// Message-IDs whose split mail was looked up (`Loaded::split_mail`).
    pub split_refs: HashSet<String>,
    /// Open counts, cursors and continuity were read.
    pub assignment: bool,
}

/// Everything a batch reads, loaded under the batch's locks (contention.rs).
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    /// What each fact below was read for.
    pub asked: Asked,
    pub refs: HashMap<String, Vec<StoredRef>>,
    /// Message-ID -> tickets of stored customer mail that refers to it.
    pub referred_by: HashMap<String, Vec<i64>>,
    pub tickets: HashMap<i64, Ticket>,
    /// For tickets named by subject tags and tickets an agent answers.
    pub participants: Vec<Participant>,
    /// Automatic mail queued per (recipient, kind) within the rate window.
    pub auto_counts: HashMap<(String, MessageKind), i64>,
    /// Staff addresses that bounced: no mail to them until the time given.
    pub suppressions: HashMap<String, DateTime<Utc>>,
    /// SLA alerts sent before, per ticket (loaded by the scheduler's scan).
    pub sla_alerts: HashMap<i64, HashSet<crate::sla::alerts::Alert>>,
    /// Open tickets per owner (least-loaded, max_open).
    pub open_counts: HashMap<String, i64>,
    /// (customer, area) -> owner of the customer's newest open ticket there.
    pub continuity: HashMap<(String, String), String>,
    /// The customers `continuity` was read for (sorted).
    pub customers: Vec<String>,
    pub cursors: HashMap<String, i64>,
    pub latest_customer_mail: HashMap<i64, CustomerMail>,
    pub sent_notifications: Vec<SentNotification>,
    /// (ticket, SHA-256) of every attachment already on the tickets an agent answers.
    pub ticket_attachments: HashSet<(i64, String)>,
    /// The customer mail a notification showed (by the notification's
    /// Message-ID), or a mail named by its own Message-ID (`tickets split`):
    /// what `#split` moves to a new ticket.
    pub split_mail: HashMap<String, SplitMail>,
    /// SQLite: new rows get the ids after these.
    pub max_ticket: i64,
    pub max_message: i64,
    /// PostgreSQL: (ticket ids, message ids) reserved from the sequences; a
    /// decision that needs more than these is made again (`pipeline::settle`).
    pub reserved: Option<(Vec<i64>, Vec<i64>)>,
}

/// A customer's mail that a split may move to a ticket of its own.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SplitMail {
    /// The Message-ID it was looked up by (a notification's, or its own).
    pub looked_up: String,
    pub row: i64,
    pub message_id: String,
    pub ticket_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub from_addr: String,
    pub from_name: Option<String>,
    pub subject: String,
    /// The first message row of its ticket (the mail that opened it).
    pub first_row: Option<i64>,
}

/// A message row to insert. Bodies and raw bytes borrow from the batch's input.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub ticket_id: Option<i64>,
    pub direction: Direction,
    pub kind: MessageKind,
    pub message_id: String,
    pub content_hash: String,
    /// Inbound mail only (`ParsedMail::text_hash`).
    pub text_hash: Option<String>,
    pub from_addr: String,
    pub from_name: Option<String>,
    pub to_addrs: String,
    pub cc_addrs: String,
    pub recipient: Option<String>,
    /// Who wrote an inbound mail on its ticket.
    pub role: Option<Role>,
    /// The Reply-To tag of a mail to an agent (`support+<tag>@…`).
    pub reply_token: Option<String>,
    pub subject: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub in_reply_to: String,
    pub refs: String,
    pub thread_index: Option<String>,
    pub text_body: Cow<'a, str>,
    pub html_body: Option<Cow<'a, str>>,
    pub origin: Option<String>,
    pub reason: Option<String>,
    pub raw: Option<&'a [u8]>,
    /// How `raw` is encoded (`None`: as received).
    pub raw_codec: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub ticket_id: Option<i64>,
    pub message_row: Option<i64>,
    pub kind: EventKind,
    pub detail: String,
}

/// A mail to send later; the outbox worker renders it from the rows.
#[derive(Debug, Clone)]
pub struct NewOutbox {
    pub message_row: i64,
    /// None: a manager's digest (about no ticket).
    pub ticket_id: Option<i64>,
    pub kind: MessageKind,
    /// The message that caused it (None: a digest).
    pub trigger_row: Option<i64>,
    pub context: String,
    pub sender: String,
    /// Envelope recipients, each an address checked where it was planned.
    pub recipients: Recipients,
}

/// Everything a batch decided, in the order it is written.
#[derive(Debug, Default)]
pub struct Writes<'a> {
    pub new_tickets: Vec<Ticket>,
    pub changed_tickets: Vec<Ticket>,
    pub messages: Vec<(i64, NewMessage<'a>)>,
    pub attachments: Vec<(i64, &'a Attachment)>,
    pub participants: Vec<(i64, String, ParticipantRole)>,
    pub events: Vec<NewEvent>,
    pub outbox: Vec<NewOutbox>,
    pub cursors: Vec<(String, i64)>,
    pub quarantine: Vec<(String, String, &'a [u8])>,
    /// (address, until, reason): staff addresses to stop mailing.
    pub suppressions: Vec<(String, DateTime<Utc>, String)>,
    /// (row, ticket, kind, role): stored ticket-less messages released onto a ticket.
    pub adopted: Vec<(i64, i64, MessageKind, Role)>,
    /// (ticket, from, to): status changes, for the digests.
    pub status_changes: Vec<(i64, Status, Status)>,
    /// SLA alerts decided (sent once: the primary key refuses a second).
    pub sla_alerts: Vec<(i64, crate::sla::alerts::Alert)>,
    /// (message row, Message-ID it refers to) of stored customer mail.
    pub message_refs: Vec<(i64, String)>,
    /// (ticket, action, due): lifecycle actions taken (once each).
    pub lifecycle_actions: Vec<(i64, String, DateTime<Utc>)>,
    /// Mail split off to new tickets: moved before merges are written.
    pub splits: Vec<SplitOff>,
    /// Tickets merged into others: written last, so the batch's own rows
    /// on the source move with the rest (`merge.rs`).
    pub merges: Vec<Merged>,
}

/// A customer's mail (`row`, `message_id`) and the mail answering it move
/// from ticket `from` to the new ticket `to`, with their events and queued
/// mail.
#[derive(Debug, Clone)]
pub struct SplitOff {
    pub from: i64,
    pub to: i64,
    pub row: i64,
    pub message_id: String,
}

/// One ticket merged into another: every row of `source` (messages,
/// events, outbox) moves to `target`; then `alias_event` is written on the
/// source, the one thing it keeps besides its row (status `merged`).
#[derive(Debug, Clone)]
pub struct Merged {
    pub source: i64,
    pub target: i64,
    pub alias_event: NewEvent,
}
