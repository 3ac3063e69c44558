//! A batch's reads and writes, as data. Everything the pipeline needs to read
//! for a batch is loaded in a handful of queries ([`Loaded`]); the pipeline
//! decides message by message in memory (`pipeline::unit`), and what it
//! decided goes to the database as a few multi-row statements ([`Writes`],
//! written by `write.rs`).
//! This keeps the statement count per batch, not per message: the difference
//! between hundreds and thousands of messages per second.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::rows::{TICKET_COLUMNS, TicketRow};
use super::sql::{KEYS_PER_QUERY, Params, select_in, sorted};
use super::tx::{Tx, on_tx};
use crate::error::Result;
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
    /// SQLite: new rows get the ids after these.
    pub max_ticket: i64,
    pub max_message: i64,
    /// PostgreSQL: (ticket ids, message ids) reserved from the sequences; a
    /// decision that needs more than these is made again (`pipeline::settle`).
    pub reserved: Option<(Vec<i64>, Vec<i64>)>,
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
    /// Envelope recipients, comma-separated.
    pub recipients: String,
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
}

/// The threading and de-duplication lookup: the stored messages behind a
/// batch's Message-IDs and references (`list`: their placeholders). Public
/// for the SLA bench, which times it at a million messages.
pub fn threading_lookup_sql(list: &str) -> String {
    format!(
        "SELECT message_id, content_hash, text_hash, ticket_id, kind, recipient, reply_token FROM messages \
         WHERE message_id IN ({list})"
    )
}

impl Tx {
    /// Loads what the batch will read. On PostgreSQL it takes the batch's first-
    /// and second-class locks on the way (contention.rs): a batch never decides
    /// from a view another batch is about to change.
    pub async fn load_batch(
        &mut self,
        keys: &BatchKeys,
        rate_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Loaded> {
        self.lock_keys(keys.lock_names()).await?;
        let mut l = Loaded::default();
        self.load_threading(keys, &mut l).await?;
        self.load_tickets(keys, &mut l).await?;

        // The tickets agent mail answers: they may get a relay.
        let answered = sorted(
            keys.agent_refs
                .iter()
                .filter_map(|id| l.refs.get(id))
                .flatten()
                .filter_map(|r| r.ticket_id),
        );
        self.load_participants(&mut l).await?;
        self.load_ticket_attachments(&mut l, &answered).await?;

        // The loaded tickets' owners may be notified too (an owner no longer
        // on the roster still is).
        let recipients = sorted(
            keys.auto_recipients
                .iter()
                .cloned()
                .chain(l.tickets.values().filter_map(|t| t.owner.clone())),
        );

        // Assignment: load per owner, continuity per customer and area, cursors.
        if keys.assignment {
            l.asked.assignment = true;
            l.customers = recipients.clone();
            self.load_assignment_state(&mut l).await?;
        }

        let loaded_tickets = sorted(l.tickets.keys().copied());
        self.load_outgoing_context(
            &mut l,
            &answered,
            &loaded_tickets,
            &recipients,
            rate_since,
            now,
        )
        .await?;
        Ok(l)
    }

    /// The stored messages behind the batch's Message-IDs and references, and
    /// the tickets whose stored mail refers to the batch's own Message-IDs.
    async fn load_threading(&mut self, keys: &BatchKeys, l: &mut Loaded) -> Result<()> {
        let ids = sorted(keys.message_ids.iter().cloned());
        l.asked.message_ids.extend(ids.iter().cloned());
        let refs = select_in!(self, StoredRef, ids, |list| threading_lookup_sql(&list));
        for r in refs {
            l.refs.entry(r.message_id.clone()).or_default().push(r);
        }

        let own = sorted(keys.own_ids.iter().cloned());
        l.asked.own_ids.extend(own.iter().cloned());
        let referring = select_in!(self, (String, i64), own, |list| format!(
            "SELECT r.ref_id, m.ticket_id FROM message_refs r JOIN messages m ON m.id = r.message_row \
             WHERE m.ticket_id IS NOT NULL AND r.ref_id IN ({list})"
        ));
        for (id, ticket) in referring {
            l.referred_by.entry(id).or_default().push(ticket);
        }
        Ok(())
    }

    /// The tickets named by subject tags or behind the threading lookup.
    async fn load_tickets(&mut self, keys: &BatchKeys, l: &mut Loaded) -> Result<()> {
        let referenced: Vec<i64> = l
            .refs
            .values()
            .flatten()
            .filter_map(|r| r.ticket_id)
            .chain(l.referred_by.values().flatten().copied())
            .collect();
        let ticket_ids = sorted(keys.tag_tickets.iter().copied().chain(referenced));
        l.asked.tickets.extend(ticket_ids.iter().copied());
        // PostgreSQL: the tickets the batch may change are locked, in id order.
        let lock = if self.is_shared() {
            " ORDER BY id FOR UPDATE"
        } else {
            ""
        };
        let tickets = select_in!(self, TicketRow, ticket_ids, |list| format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE id IN ({list}){lock}"
        ));
        l.tickets = tickets.into_iter().map(|t| (t.id, t.into())).collect();
        Ok(())
    }

    /// Participants matter for subject tags, for a relay's Cc and for the
    /// role of every mail that threads onto a ticket: all loaded tickets.
    async fn load_participants(&mut self, l: &mut Loaded) -> Result<()> {
        let with_participants = sorted(l.tickets.keys().copied());
        l.asked
            .participants
            .extend(with_participants.iter().copied());
        l.participants = select_in!(self, Participant, with_participants, |list| format!(
            "SELECT ticket_id, email, role FROM participants WHERE ticket_id IN ({list}) ORDER BY ticket_id, email"
        ));
        Ok(())
    }

    /// (ticket, SHA-256) of every attachment already on the `answered` tickets.
    async fn load_ticket_attachments(&mut self, l: &mut Loaded, answered: &[i64]) -> Result<()> {
        let hashes = select_in!(self, (i64, String), answered, |list| format!(
            "SELECT DISTINCT m.ticket_id, a.sha256 FROM messages m \
             JOIN message_attachments ma ON ma.message_row = m.id \
             JOIN attachments a ON a.id = ma.attachment_id WHERE m.ticket_id IN ({list})"
        ));
        l.ticket_attachments = hashes.into_iter().collect();
        l.asked.attachments.extend(answered.iter().copied());
        Ok(())
    }
}

impl Tx {
    /// Automatic mail queued to each of `recipients` since `since`, per
    /// (recipient, kind): what the RFC 3834 rate limit counts (acks,
    /// explanations, notifications and managers' digests).
    pub(super) async fn auto_counts(
        &mut self,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> Result<HashMap<(String, MessageKind), i64>> {
        let counts = select_in!(
            self,
            (String, String, i64),
            recipients,
            |list| format!(
                "SELECT recipients, kind, COUNT(*) FROM outbox WHERE kind IN ('ack', 'system', 'notification', 'digest') \
                 AND created_at > {} AND recipients IN ({list}) GROUP BY recipients, kind",
                Params::of(self).list(1, 1)
            ),
            pre = [since]
        );
        Ok(counts
            .into_iter()
            .filter_map(|(to, kind, n)| Some(((to, kind.parse::<MessageKind>().ok()?), n)))
            .collect())
    }

    /// What mail about loaded tickets needs: the latest customer mail of the
    /// `answered` tickets (a relay threads under it), the latest notification per
    /// recipient of the `notified` ones, how much automatic mail each of
    /// `recipients` got since `rate_since`, the active suppressions and the
    /// highest ids so far.
    pub(super) async fn load_outgoing_context(
        &mut self,
        l: &mut Loaded,
        answered: &[i64],
        notified: &[i64],
        recipients: &[String],
        rate_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let latest = select_in!(self, CustomerMail, answered, |list| format!(
            "SELECT id AS row, ticket_id, message_id, refs, thread_index FROM messages WHERE id IN \
             (SELECT MAX(id) FROM messages WHERE ticket_id IN ({list}) AND direction = 'in' AND kind = 'customer' GROUP BY ticket_id)"
        ));
        // What a relay's References may carry is checked against what is
        // stored: the IDs in the customer's latest mail's chain are looked up.
        let chain = sorted(
            latest
                .iter()
                .flat_map(|m| m.refs.split_whitespace())
                .filter(|id| !l.refs.contains_key(*id))
                .map(str::to_string),
        );
        l.asked.message_ids.extend(chain.iter().cloned());
        let known = select_in!(self, StoredRef, chain, |list| threading_lookup_sql(&list));
        for r in known {
            l.refs.entry(r.message_id.clone()).or_default().push(r);
        }
        l.latest_customer_mail = latest.into_iter().map(|m| (m.ticket_id, m)).collect();
        l.asked.latest.extend(answered.iter().copied());
        l.asked.notified.extend(notified.iter().copied());
        l.asked.recipients.extend(recipients.iter().cloned());
        l.sent_notifications = select_in!(self, SentNotification, notified, |list| format!(
            "SELECT ticket_id, recipient, message_id, refs FROM messages WHERE id IN \
             (SELECT MAX(id) FROM messages WHERE ticket_id IN ({list}) AND kind = 'notification' \
              AND recipient IS NOT NULL GROUP BY ticket_id, recipient)"
        ));
        l.auto_counts = self.auto_counts(recipients, rate_since).await?;
        l.suppressions = on_tx!(self, c => sqlx::query_as::<_, (String, DateTime<Utc>)>(
            "SELECT address, suppressed_until FROM mail_suppressions WHERE suppressed_until > $1")
            .bind(now).fetch_all(&mut *c).await?)
        .into_iter()
        .collect();
        // SQLite: rows get their IDs after these, under the write lock, so the
        // batch can refer to them before anything is written. PostgreSQL
        // reserves them from the sequences once it knows how many.
        if let Tx::Sqlite(t, _) = self {
            (l.max_ticket, l.max_message) = sqlx::query_as::<_, (i64, i64)>(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM tickets), (SELECT COALESCE(MAX(id), 0) FROM messages)",
            )
            .fetch_one(&mut **t)
            .await?;
        } else {
            l.reserved = Some((Vec::new(), Vec::new()));
        }
        Ok(())
    }
}
