//! A batch's reads and writes, as data. Everything the pipeline needs to read
//! for a batch is loaded in a handful of queries ([`Loaded`]); the pipeline
//! decides message by message in memory (`pipeline::unit`), and what it
//! decided goes to the database as a few multi-row statements ([`Writes`]).
//! This keeps the statement count per batch, not per message: the difference
//! between hundreds and thousands of messages per second.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::blob::{self, BIG_BLOB, BlobAt};
use super::rows::{TICKET_COLUMNS, TicketRow};
use super::sql::{
    KEYS_PER_QUERY, MESSAGES_PER_STATEMENT, Params, ROWS_PER_STATEMENT, select_in, sorted,
};
use super::tx::{Tx, on_tx};
use crate::error::Result;
use crate::mail::parse::Attachment;
use crate::tickets::{Direction, MessageKind, Status};

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
}

/// A ticket's participant: the customer, or someone in the conversation's Cc.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Participant {
    pub ticket_id: i64,
    pub email: String,
    pub role: String,
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

/// Everything a batch reads, loaded under the batch's locks (contention.rs).
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub refs: HashMap<String, Vec<StoredRef>>,
    /// Message-ID -> tickets of stored customer mail that refers to it.
    pub referred_by: HashMap<String, Vec<i64>>,
    pub tickets: HashMap<i64, TicketRow>,
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
    pub kind: &'static str,
    pub detail: String,
}

/// A mail to send later; the outbox worker renders it from the rows.
#[derive(Debug, Clone)]
pub struct NewOutbox {
    pub message_row: i64,
    pub ticket_id: i64,
    pub kind: MessageKind,
    pub trigger_row: i64,
    pub context: String,
    pub sender: String,
    /// Envelope recipients, comma-separated.
    pub recipients: String,
}

/// Everything a batch decided, in the order it is written.
#[derive(Debug, Default)]
pub struct Writes<'a> {
    pub new_tickets: Vec<TicketRow>,
    pub changed_tickets: Vec<TicketRow>,
    pub messages: Vec<(i64, NewMessage<'a>)>,
    pub attachments: Vec<(i64, &'a Attachment)>,
    pub participants: Vec<(i64, String, &'static str)>,
    pub events: Vec<NewEvent>,
    pub outbox: Vec<NewOutbox>,
    pub cursors: Vec<(String, i64)>,
    pub quarantine: Vec<(String, String, &'a [u8])>,
    /// (address, until, reason): staff addresses to stop mailing.
    pub suppressions: Vec<(String, DateTime<Utc>, String)>,
    /// (row, ticket, kind): stored ticket-less messages released onto a ticket.
    pub adopted: Vec<(i64, i64, MessageKind)>,
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
        "SELECT message_id, content_hash, text_hash, ticket_id, kind, recipient FROM messages \
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
        let ids = sorted(keys.message_ids.iter().cloned());
        let refs = select_in!(self, StoredRef, ids, |list| threading_lookup_sql(&list));
        for r in refs {
            l.refs.entry(r.message_id.clone()).or_default().push(r);
        }

        let own = sorted(keys.own_ids.iter().cloned());
        let referring = select_in!(self, (String, i64), own, |list| format!(
            "SELECT r.ref_id, m.ticket_id FROM message_refs r JOIN messages m ON m.id = r.message_row \
             WHERE m.ticket_id IS NOT NULL AND r.ref_id IN ({list})"
        ));
        for (id, ticket) in referring {
            l.referred_by.entry(id).or_default().push(ticket);
        }

        let referenced: Vec<i64> = l
            .refs
            .values()
            .flatten()
            .filter_map(|r| r.ticket_id)
            .chain(l.referred_by.values().flatten().copied())
            .collect();
        let ticket_ids = sorted(keys.tag_tickets.iter().copied().chain(referenced));
        // PostgreSQL: the tickets the batch may change are locked, in id order.
        let lock = if self.is_shared() {
            " ORDER BY id FOR UPDATE"
        } else {
            ""
        };
        let tickets = select_in!(self, TicketRow, ticket_ids, |list| format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE id IN ({list}){lock}"
        ));
        l.tickets = tickets.into_iter().map(|t| (t.id, t)).collect();

        // The tickets agent mail answers: they may get a relay.
        let answered = sorted(
            keys.agent_refs
                .iter()
                .filter_map(|id| l.refs.get(id))
                .flatten()
                .filter_map(|r| r.ticket_id),
        );
        // Participants matter for subject tags and for a relay's Cc.
        let with_participants = sorted(
            keys.tag_tickets
                .iter()
                .copied()
                .chain(answered.iter().copied()),
        );
        l.participants = select_in!(self, Participant, with_participants, |list| format!(
            "SELECT ticket_id, email, role FROM participants WHERE ticket_id IN ({list}) ORDER BY ticket_id, email"
        ));
        let hashes = select_in!(self, (i64, String), answered, |list| format!(
            "SELECT DISTINCT m.ticket_id, a.sha256 FROM messages m \
             JOIN message_attachments ma ON ma.message_row = m.id \
             JOIN attachments a ON a.id = ma.attachment_id WHERE m.ticket_id IN ({list})"
        ));
        l.ticket_attachments = hashes.into_iter().collect();

        let recipients = sorted(keys.auto_recipients.iter().cloned());

        // Assignment: load per owner, continuity per customer and area, cursors.
        if keys.assignment {
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

    /// Writes everything the batch decided, in dependency order.
    pub async fn write_batch(&mut self, w: &Writes<'_>, now: DateTime<Utc>) -> Result<()> {
        let params = Params::of(self);
        for chunk in w.new_tickets.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO tickets ({TICKET_COLUMNS}) VALUES {}",
                params.rows(chunk.len(), 22)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for t in chunk {
                    q = q.bind(t.id).bind(t.subject.as_str()).bind(t.normalized_subject.as_str())
                        .bind(t.status.as_str()).bind(t.priority.as_str()).bind(t.area.as_deref())
                        .bind(t.owner.as_deref()).bind(t.customer.as_str()).bind(t.customer_name.as_deref())
                        .bind(t.tags.as_str()).bind(t.created_at).bind(t.updated_at)
                        .bind(t.first_response_at).bind(t.resolved_at).bind(t.sla_policy.as_deref())
                        .bind(t.first_response_due).bind(t.next_response_due).bind(t.resolution_due)
                        .bind(t.waiting_since).bind(t.pending_since).bind(t.sla_paused_secs).bind(t.sla_next_check);
                }
                q.execute(&mut *c).await?;
            });
        }
        for t in &w.changed_tickets {
            on_tx!(self, c => sqlx::query(
                "UPDATE tickets SET status = $1, priority = $2, area = $3, owner = $4, tags = $5, updated_at = $6, \
                 first_response_at = $7, resolved_at = $8, first_response_due = $9, next_response_due = $10, \
                 resolution_due = $11, waiting_since = $12, pending_since = $13, sla_paused_secs = $14, \
                 sla_next_check = $15 WHERE id = $16")
                .bind(t.status.as_str()).bind(t.priority.as_str()).bind(t.area.as_deref()).bind(t.owner.as_deref())
                .bind(t.tags.as_str()).bind(t.updated_at).bind(t.first_response_at).bind(t.resolved_at)
                .bind(t.first_response_due).bind(t.next_response_due).bind(t.resolution_due)
                .bind(t.waiting_since).bind(t.pending_since).bind(t.sla_paused_secs).bind(t.sla_next_check)
                .bind(t.id)
                .execute(&mut *c).await.map(|_| ())?);
        }

        // SQLite: big raw mail is streamed into its row after the insert (blob.rs).
        let sqlite = matches!(self, Tx::Sqlite(_));
        let streamed = move |raw: Option<&[u8]>| sqlite && raw.is_some_and(|r| r.len() >= BIG_BLOB);
        let streamed_rows: Vec<(i64, &[u8])> = w
            .messages
            .iter()
            .filter(|(_, m)| streamed(m.raw))
            .filter_map(|(id, m)| Some((*id, m.raw?)))
            .collect();
        for chunk in w.messages.chunks(MESSAGES_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO messages (id, ticket_id, direction, kind, message_id, content_hash, text_hash, from_addr, \
                 from_name, to_addrs, cc_addrs, recipient, subject, sent_at, in_reply_to, refs, thread_index, text_body, \
                 html_body, origin, reason, raw, raw_codec, created_at) VALUES {}",
                params.rows(chunk.len(), 24)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for (id, m) in chunk {
                    q = q.bind(*id).bind(m.ticket_id).bind(m.direction.as_str()).bind(m.kind.as_str())
                        .bind(m.message_id.as_str()).bind(m.content_hash.as_str()).bind(m.text_hash.as_deref())
                        .bind(m.from_addr.as_str())
                        .bind(m.from_name.as_deref()).bind(m.to_addrs.as_str()).bind(m.cc_addrs.as_str())
                        .bind(m.recipient.as_deref()).bind(m.subject.as_str()).bind(m.sent_at)
                        .bind(m.in_reply_to.as_str()).bind(m.refs.as_str()).bind(m.thread_index.as_deref())
                        .bind(m.text_body.as_ref()).bind(m.html_body.as_deref()).bind(m.origin.as_deref())
                        .bind(m.reason.as_deref()).bind(if streamed(m.raw) { None } else { m.raw })
                        .bind(m.raw_codec).bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }
        if let Tx::Sqlite(t) = self {
            for (id, raw) in streamed_rows {
                let blob_id = blob::insert_streamed(t, raw).await?;
                sqlx::query("UPDATE messages SET raw_blob = $1 WHERE id = $2")
                    .bind(blob_id)
                    .bind(id)
                    .execute(&mut **t)
                    .await?;
            }
        }

        // Ascending SHA-256: two batches inserting the same new attachments
        // wait for each other in one order, never in a circle.
        let mut attachments: Vec<&(i64, &Attachment)> = w.attachments.iter().collect();
        attachments.sort_by(|x, y| x.1.sha256.cmp(&y.1.sha256));
        for (row, a) in attachments {
            match self {
                Tx::Sqlite(t) if a.data.len() >= BIG_BLOB => {
                    let done = sqlx::query(
                        "INSERT INTO attachments (sha256, size, data) VALUES ($1, $2, zeroblob($2)) \
                         ON CONFLICT (sha256) DO NOTHING",
                    )
                    .bind(a.sha256.as_str())
                    .bind(a.data.len() as i64)
                    .execute(&mut **t)
                    .await?;
                    if done.rows_affected() == 1 {
                        let at = BlobAt {
                            table: c"attachments",
                            column: c"data",
                            rowid: done.last_insert_rowid(),
                        };
                        blob::write(t, at, &a.data).await?;
                    }
                }
                _ => on_tx!(self, c => {
                    sqlx::query("INSERT INTO attachments (sha256, size, data) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING")
                        .bind(a.sha256.as_str()).bind(a.data.len() as i64).bind(a.data.as_slice())
                        .execute(&mut *c).await.map(|_| ())?
                }),
            }
            on_tx!(self, c => {
                sqlx::query(
                    "INSERT INTO message_attachments (message_row, attachment_id, filename, content_type) \
                     SELECT $1, id, $2, $3 FROM attachments WHERE sha256 = $4")
                    .bind(*row).bind(a.filename.as_deref()).bind(a.content_type.as_str()).bind(a.sha256.as_str())
                    .execute(&mut *c).await?;
            });
        }

        for chunk in w.message_refs.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO message_refs (message_row, ref_id) VALUES {}",
                params.rows(chunk.len(), 2)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for (row, id) in chunk {
                    q = q.bind(*row).bind(id.as_str());
                }
                q.execute(&mut *c).await?;
            });
        }

        for chunk in w.participants.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO participants (ticket_id, email, role) VALUES {} ON CONFLICT (ticket_id, email) DO NOTHING",
                params.rows(chunk.len(), 3)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for (t, e, r) in chunk {
                    q = q.bind(*t).bind(e.as_str()).bind(*r);
                }
                q.execute(&mut *c).await?;
            });
        }

        for chunk in w.events.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO events (ticket_id, message_row, kind, detail, created_at) VALUES {}",
                params.rows(chunk.len(), 5)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for e in chunk {
                    q = q.bind(e.ticket_id).bind(e.message_row).bind(e.kind).bind(e.detail.as_str()).bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }

        for chunk in w.outbox.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO outbox (message_row, ticket_id, kind, trigger_row, context, sender, recipients, status, \
                 attempts, next_attempt_at, created_at) VALUES {}",
                params.rows(chunk.len(), 11)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for o in chunk {
                    q = q.bind(o.message_row).bind(o.ticket_id).bind(o.kind.as_str()).bind(o.trigger_row)
                        .bind(o.context.as_str()).bind(o.sender.as_str()).bind(o.recipients.as_str())
                        .bind("queued").bind(0i64).bind(now).bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }

        for (area, position) in &w.cursors {
            on_tx!(self, c => sqlx::query(
                "INSERT INTO assignment_cursors (area, position, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (area) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at")
                .bind(area.as_str()).bind(*position).bind(now)
                .execute(&mut *c).await.map(|_| ())?);
        }

        for chunk in w.status_changes.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO status_changes (ticket_id, from_status, to_status, at) VALUES {}",
                params.rows(chunk.len(), 4)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for (t, from, to) in chunk {
                    q = q.bind(*t).bind(from.as_str()).bind(to.as_str()).bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }

        for (ticket, a) in &w.sla_alerts {
            on_tx!(self, c => sqlx::query(
                "INSERT INTO sla_alerts (ticket_id, target, level, due, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(*ticket).bind(a.target.as_str()).bind(a.level.as_str()).bind(a.due).bind(now)
                .execute(&mut *c).await.map(|_| ())?);
        }

        for (row, ticket, kind) in &w.adopted {
            let done = on_tx!(self, c => sqlx::query(
                "UPDATE messages SET ticket_id = $1, kind = $2, reason = NULL WHERE id = $3 AND ticket_id IS NULL")
                .bind(*ticket).bind(kind.as_str()).bind(*row).execute(&mut *c).await?.rows_affected());
            if done != 1 {
                return Err(crate::Error::Invalid(format!(
                    "message {row} is no longer ticket-less: released already"
                )));
            }
        }

        for (address, until, reason) in &w.suppressions {
            on_tx!(self, c => sqlx::query(
                "INSERT INTO mail_suppressions (address, suppressed_until, reason, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (address) DO UPDATE SET suppressed_until = excluded.suppressed_until, \
                 reason = excluded.reason, created_at = excluded.created_at")
                .bind(address.as_str()).bind(*until).bind(reason.as_str()).bind(now)
                .execute(&mut *c).await.map(|_| ())?);
        }

        for (origin, reason, raw) in &w.quarantine {
            self.quarantine(origin, reason, raw, now).await?;
        }
        Ok(())
    }
}

impl Tx {
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
        l.latest_customer_mail = latest.into_iter().map(|m| (m.ticket_id, m)).collect();
        l.sent_notifications = select_in!(self, SentNotification, notified, |list| format!(
            "SELECT ticket_id, recipient, message_id, refs FROM messages WHERE id IN \
             (SELECT MAX(id) FROM messages WHERE ticket_id IN ({list}) AND kind = 'notification' \
              AND recipient IS NOT NULL GROUP BY ticket_id, recipient)"
        ));
        self.load_auto_counts(l, recipients, rate_since).await?;
        l.suppressions = on_tx!(self, c => sqlx::query_as::<_, (String, DateTime<Utc>)>(
            "SELECT address, suppressed_until FROM mail_suppressions WHERE suppressed_until > $1")
            .bind(now).fetch_all(&mut *c).await?)
        .into_iter()
        .collect();
        // SQLite: rows get their IDs after these, under the write lock, so the
        // batch can refer to them before anything is written. PostgreSQL
        // reserves them from the sequences once it knows how many.
        if let Tx::Sqlite(t) = self {
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
