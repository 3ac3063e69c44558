//! A batch's unit of work. Everything the pipeline needs to read for a batch is
//! loaded in a handful of queries; the pipeline then decides message by message
//! against this in-memory view (which sees the batch's own earlier writes), and
//! the writes go to the database as a few multi-row statements. This keeps the
//! statement count per batch, not per message: the difference between hundreds
//! and thousands of messages per second.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::blob::{self, BIG_BLOB, BlobAt};
use super::rows::{RefHit, TICKET_COLUMNS, TicketRow};
use super::tx::{Tx, on_tx};
use crate::error::Result;
use crate::mail::parse::Attachment;

// The statements here are built per batch, with as many rows as the batch
// has; they are not kept in the prepared-statement cache (`persistent(false)`),
// where every distinct row count would pin a large compiled statement.

/// Rows per multi-row INSERT: well below SQLite's and PostgreSQL's parameter limits.
const ROWS_PER_STATEMENT: usize = 400;
/// Message rows carry the raw bytes; SQLite copies bound blobs, so fewer rows
/// per statement keep the transient copies small.
const MESSAGES_PER_STATEMENT: usize = 32;
/// IDs per `IN (…)` lookup.
const KEYS_PER_QUERY: usize = 500;

/// What a batch will look up.
#[derive(Debug, Default)]
pub struct BatchKeys {
    /// The batch's own Message-IDs and every ID they reference.
    pub message_ids: Vec<String>,
    /// Tickets named by subject tags.
    pub tag_tickets: Vec<i64>,
    /// Addresses that may get an acknowledgement (rate limit); also the
    /// customers whose open tickets matter for assignment continuity.
    pub ack_recipients: Vec<String>,
    /// Load, continuity and cursors are only read when some area assigns owners.
    pub assignment: bool,
}

/// A stored message as threading and de-duplication see it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct StoredRef {
    message_id: String,
    content_hash: String,
    ticket_id: Option<i64>,
    kind: String,
    recipient: Option<String>,
}

/// A message row to insert. Bodies and raw bytes borrow from the batch's input.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub ticket_id: Option<i64>,
    pub direction: &'static str,
    pub kind: &'static str,
    pub message_id: String,
    pub content_hash: String,
    pub from_addr: String,
    pub from_name: Option<String>,
    pub to_addrs: String,
    pub cc_addrs: String,
    pub recipient: Option<String>,
    pub subject: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub in_reply_to: String,
    pub refs: String,
    pub text_body: &'a str,
    pub html_body: Option<&'a str>,
    pub origin: Option<String>,
    pub reason: Option<String>,
    pub raw: Option<&'a [u8]>,
    /// How `raw` is encoded (`None`: as received).
    pub raw_codec: Option<&'static str>,
}

pub struct NewTicket<'a> {
    pub subject: &'a str,
    pub normalized_subject: &'a str,
    pub priority: &'a str,
    pub area: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub customer: &'a str,
    pub customer_name: Option<&'a str>,
    pub tags: &'a str,
    pub sla_policy: Option<&'a str>,
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
    pub kind: &'static str,
    pub trigger_row: i64,
    pub context: String,
    pub sender: String,
    pub recipients: String,
}

pub struct Batch<'a> {
    now: DateTime<Utc>,
    refs: HashMap<String, Vec<StoredRef>>,
    tickets: HashMap<i64, TicketRow>,
    participants: HashSet<(i64, String)>,
    ack_counts: HashMap<String, i64>,
    /// Open tickets per owner (least-loaded, max_open).
    open_counts: HashMap<String, i64>,
    /// (customer, area) -> owner of the customer's newest open ticket there.
    continuity: HashMap<(String, String), String>,
    cursors: HashMap<String, i64>,
    changed_cursors: BTreeSet<String>,
    next_ticket: i64,
    next_message: i64,
    new_tickets: Vec<i64>,
    changed_tickets: BTreeSet<i64>,
    messages: Vec<(i64, NewMessage<'a>)>,
    attachments: Vec<(i64, &'a Attachment)>,
    new_participants: Vec<(i64, String, &'static str)>,
    events: Vec<NewEvent>,
    outbox: Vec<NewOutbox>,
    quarantine: Vec<(String, String, &'a [u8])>,
}

impl<'a> Batch<'a> {
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The ticket of the stored copy of this exact mail: `Some(ticket)` when stored.
    pub fn find_message(&self, message_id: &str, content_hash: &str) -> Option<Option<i64>> {
        self.refs
            .get(message_id)?
            .iter()
            .find(|r| r.content_hash == content_hash)
            .map(|r| r.ticket_id)
    }

    /// Stored messages with one of these Message-IDs that belong to a ticket.
    pub fn find_by_message_ids(&self, ids: &[String]) -> Vec<RefHit> {
        ids.iter()
            .filter_map(|id| self.refs.get(id))
            .flatten()
            .filter_map(|r| {
                Some(RefHit {
                    message_id: r.message_id.clone(),
                    ticket_id: r.ticket_id?,
                    kind: r.kind.clone(),
                    recipient: r.recipient.clone(),
                })
            })
            .collect()
    }

    pub fn open_counts(&self) -> &HashMap<String, i64> {
        &self.open_counts
    }

    pub fn continuity(&self, customer: &str, area: &str) -> Option<&str> {
        self.continuity
            .get(&(customer.to_string(), area.to_string()))
            .map(String::as_str)
    }

    pub fn cursor(&self, area: &str) -> Option<i64> {
        self.cursors.get(area).copied()
    }

    pub fn set_cursor(&mut self, area: &str, position: i64) {
        self.cursors.insert(area.to_string(), position);
        self.changed_cursors.insert(area.to_string());
    }

    pub fn ticket(&self, id: i64) -> Option<&TicketRow> {
        self.tickets.get(&id)
    }

    pub fn is_participant(&self, ticket_id: i64, email: &str) -> bool {
        self.participants.contains(&(ticket_id, email.to_string()))
    }

    pub fn insert_ticket(&mut self, t: &NewTicket<'_>) -> TicketRow {
        let id = self.next_ticket;
        self.next_ticket += 1;
        let row = TicketRow {
            id,
            subject: t.subject.to_string(),
            normalized_subject: t.normalized_subject.to_string(),
            status: "open".into(),
            priority: t.priority.to_string(),
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
        };
        if let Some(owner) = &row.owner {
            *self.open_counts.entry(owner.clone()).or_default() += 1;
            if let Some(area) = &row.area {
                self.continuity
                    .insert((row.customer.clone(), area.clone()), owner.clone());
            }
        }
        self.tickets.insert(id, row.clone());
        self.new_tickets.push(id);
        row
    }

    fn change_ticket(&mut self, id: i64, f: impl FnOnce(&mut TicketRow, DateTime<Utc>)) {
        let now = self.now;
        if let Some(t) = self.tickets.get_mut(&id) {
            f(t, now);
            t.updated_at = now;
            self.changed_tickets.insert(id);
        }
    }

    pub fn set_ticket_status(&mut self, id: i64, status: &str) {
        self.change_ticket(id, |t, now| {
            t.status = status.to_string();
            t.resolved_at = (status == "resolved").then_some(now);
        });
    }

    pub fn touch_ticket(&mut self, id: i64) {
        self.change_ticket(id, |_, _| {});
    }

    pub fn record_first_response(&mut self, id: i64) {
        self.change_ticket(id, |t, now| {
            t.first_response_at.get_or_insert(now);
        });
    }

    /// Buffers a message row; later messages of the batch can thread onto it.
    pub fn insert_message(&mut self, m: NewMessage<'a>) -> i64 {
        let id = self.next_message;
        self.next_message += 1;
        self.refs
            .entry(m.message_id.clone())
            .or_default()
            .push(StoredRef {
                message_id: m.message_id.clone(),
                content_hash: m.content_hash.clone(),
                ticket_id: m.ticket_id,
                kind: m.kind.to_string(),
                recipient: m.recipient.clone(),
            });
        self.messages.push((id, m));
        id
    }

    pub fn attach(&mut self, message_row: i64, a: &'a Attachment) {
        self.attachments.push((message_row, a));
    }

    pub fn add_participant(&mut self, ticket_id: i64, email: &str, role: &'static str) {
        if self.participants.insert((ticket_id, email.to_string())) {
            self.new_participants
                .push((ticket_id, email.to_string(), role));
        }
    }

    pub fn add_events(&mut self, events: impl IntoIterator<Item = NewEvent>) {
        self.events.extend(events);
    }

    pub fn enqueue(&mut self, o: NewOutbox) {
        if o.kind == "ack" {
            *self.ack_counts.entry(o.recipients.clone()).or_default() += 1;
        }
        self.outbox.push(o);
    }

    /// Acknowledgements queued to `recipient` within the rate window (loaded for
    /// the batch's candidate recipients, plus this batch's own).
    pub fn auto_replies_recently(&self, recipient: &str) -> i64 {
        self.ack_counts.get(recipient).copied().unwrap_or(0)
    }

    pub fn quarantine(&mut self, origin: &str, reason: String, raw: &'a [u8]) {
        self.quarantine.push((origin.to_string(), reason, raw));
    }
}

/// Bind-parameter syntax. SQLite gets anonymous `?`: sqlx resolves every named
/// parameter (`$7`) with sqlite3_bind_parameter_name, a linear scan, which made
/// multi-row statements quadratic (a third of the ingest time went there).
#[derive(Clone, Copy)]
enum Params {
    Dollar,
    Question,
}

impl Params {
    fn of(tx: &Tx) -> Params {
        match tx {
            Tx::Sqlite(_) => Params::Question,
            Tx::Postgres(_) => Params::Dollar,
        }
    }

    /// Placeholders for parameters `start..start + n` (1-based).
    fn list(self, start: usize, n: usize) -> String {
        (start..start + n)
            .map(|i| match self {
                Params::Dollar => format!("${i}"),
                Params::Question => "?".to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `($1,$2,$3),($4,$5,$6)…` for `rows` rows of `cols` columns.
    fn rows(self, rows: usize, cols: usize) -> String {
        (0..rows)
            .map(|r| format!("({})", self.list(r * cols + 1, cols)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Tx {
    /// Loads what the batch will read. PostgreSQL batches take a transaction-level
    /// advisory lock first, so two instances never decide threading or number
    /// tickets from the same stale view (SQLite's BEGIN IMMEDIATE already did).
    pub async fn load_batch<'a>(
        &mut self,
        keys: &BatchKeys,
        rate_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Batch<'a>> {
        let params = Params::of(self);
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT pg_advisory_xact_lock(7305501)")
                .execute(&mut **t)
                .await?;
        }
        let mut refs: HashMap<String, Vec<StoredRef>> = HashMap::new();
        let mut ids: Vec<&String> = keys.message_ids.iter().collect();
        ids.sort();
        ids.dedup();
        for chunk in ids.chunks(KEYS_PER_QUERY) {
            let sql = format!(
                "SELECT message_id, content_hash, ticket_id, kind, recipient FROM messages \
                 WHERE message_id IN ({})",
                params.list(1, chunk.len())
            );
            let rows: Vec<StoredRef> = on_tx!(self, c => {
                let mut q = sqlx::query_as::<_, StoredRef>(sqlx::AssertSqlSafe(sql)).persistent(false);
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(&mut *c).await?
            });
            for r in rows {
                refs.entry(r.message_id.clone()).or_default().push(r);
            }
        }

        let mut ticket_ids: BTreeSet<i64> = keys.tag_tickets.iter().copied().collect();
        ticket_ids.extend(refs.values().flatten().filter_map(|r| r.ticket_id));
        let ticket_ids: Vec<i64> = ticket_ids.into_iter().collect();
        let mut tickets = HashMap::new();
        for chunk in ticket_ids.chunks(KEYS_PER_QUERY) {
            let sql = format!(
                "SELECT {TICKET_COLUMNS} FROM tickets WHERE id IN ({})",
                params.list(1, chunk.len())
            );
            let rows: Vec<TicketRow> = on_tx!(self, c => {
                let mut q = sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql)).persistent(false);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await?
            });
            tickets.extend(rows.into_iter().map(|t| (t.id, t)));
        }

        // Participants matter for subject tags only (headers need no membership).
        let mut participants = HashSet::new();
        for chunk in keys.tag_tickets.chunks(KEYS_PER_QUERY) {
            let sql = format!(
                "SELECT ticket_id, email FROM participants WHERE ticket_id IN ({})",
                params.list(1, chunk.len())
            );
            let rows: Vec<(i64, String)> = on_tx!(self, c => {
                let mut q = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql)).persistent(false);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await?
            });
            participants.extend(rows);
        }

        let mut ack_counts = HashMap::new();
        let mut recipients: Vec<&String> = keys.ack_recipients.iter().collect();
        recipients.sort();
        recipients.dedup();
        for chunk in recipients.chunks(KEYS_PER_QUERY) {
            let sql = format!(
                "SELECT recipients, COUNT(*) FROM outbox WHERE kind = 'ack' AND created_at > {} \
                 AND recipients IN ({}) GROUP BY recipients",
                params.list(1, 1),
                params.list(2, chunk.len())
            );
            let rows: Vec<(String, i64)> = on_tx!(self, c => {
                let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql)).persistent(false).bind(rate_since);
                for r in chunk {
                    q = q.bind(r.as_str());
                }
                q.fetch_all(&mut *c).await?
            });
            ack_counts.extend(rows);
        }

        // Assignment: load per owner, continuity per customer and area, cursors.
        let mut open_counts = HashMap::new();
        let mut cursors = HashMap::new();
        if keys.assignment {
            open_counts = on_tx!(self, c => sqlx::query_as::<_, (String, i64)>(
                "SELECT owner, COUNT(*) FROM tickets WHERE status <> 'resolved' AND owner IS NOT NULL GROUP BY owner")
                .fetch_all(&mut *c).await?).into_iter().collect();
            cursors = on_tx!(self, c => sqlx::query_as::<_, (String, i64)>(
                "SELECT area, position FROM assignment_cursors")
                .fetch_all(&mut *c).await?)
            .into_iter()
            .collect();
        }
        let mut continuity = HashMap::new();
        let continuity_customers: &[&String] = if keys.assignment { &recipients } else { &[] };
        for chunk in continuity_customers.chunks(KEYS_PER_QUERY) {
            let sql = format!(
                "SELECT customer, area, owner FROM tickets WHERE status <> 'resolved' AND owner IS NOT NULL \
                 AND area IS NOT NULL AND customer IN ({}) ORDER BY id",
                params.list(1, chunk.len())
            );
            let rows: Vec<(String, String, String)> = on_tx!(self, c => {
                let mut q = sqlx::query_as::<_, (String, String, String)>(sqlx::AssertSqlSafe(sql)).persistent(false);
                for r in chunk {
                    q = q.bind(r.as_str());
                }
                q.fetch_all(&mut *c).await?
            });
            // Newest last: it wins.
            for (customer, area, owner) in rows {
                continuity.insert((customer, area), owner);
            }
        }

        // Rows get their IDs here, under the write lock, so the batch can refer to
        // them before anything is written.
        let (max_ticket, max_message): (i64, i64) = on_tx!(self, c => sqlx::query_as::<_, (i64, i64)>(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM tickets), (SELECT COALESCE(MAX(id), 0) FROM messages)")
            .fetch_one(&mut *c).await?);

        Ok(Batch {
            now,
            refs,
            tickets,
            participants,
            ack_counts,
            open_counts,
            continuity,
            cursors,
            changed_cursors: BTreeSet::new(),
            next_ticket: max_ticket + 1,
            next_message: max_message + 1,
            new_tickets: Vec::new(),
            changed_tickets: BTreeSet::new(),
            messages: Vec::new(),
            attachments: Vec::new(),
            new_participants: Vec::new(),
            events: Vec::new(),
            outbox: Vec::new(),
            quarantine: Vec::new(),
        })
    }

    /// Writes everything the batch decided, in dependency order.
    pub async fn write_batch(&mut self, b: &Batch<'_>) -> Result<()> {
        let params = Params::of(self);
        let now = b.now;
        let new: Vec<&TicketRow> = b
            .new_tickets
            .iter()
            .filter_map(|id| b.tickets.get(id))
            .collect();
        for chunk in new.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO tickets ({TICKET_COLUMNS}) VALUES {}",
                params.rows(chunk.len(), 15)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for t in chunk {
                    q = q.bind(t.id).bind(t.subject.as_str()).bind(t.normalized_subject.as_str())
                        .bind(t.status.as_str()).bind(t.priority.as_str()).bind(t.area.as_deref())
                        .bind(t.owner.as_deref()).bind(t.customer.as_str()).bind(t.customer_name.as_deref())
                        .bind(t.tags.as_str()).bind(t.created_at).bind(t.updated_at)
                        .bind(t.first_response_at).bind(t.resolved_at).bind(t.sla_policy.as_deref());
                }
                q.execute(&mut *c).await?;
            });
        }
        for id in &b.changed_tickets {
            if b.new_tickets.contains(id) {
                continue;
            }
            let Some(t) = b.tickets.get(id) else { continue };
            on_tx!(self, c => sqlx::query(
                "UPDATE tickets SET status = $1, updated_at = $2, first_response_at = $3, resolved_at = $4 WHERE id = $5")
                .bind(t.status.as_str()).bind(t.updated_at).bind(t.first_response_at).bind(t.resolved_at).bind(t.id)
                .execute(&mut *c).await.map(|_| ())?);
        }

        // SQLite: big raw mail is streamed into its row after the insert (blob.rs).
        let sqlite = matches!(self, Tx::Sqlite(_));
        let streamed = move |raw: Option<&[u8]>| sqlite && raw.is_some_and(|r| r.len() >= BIG_BLOB);
        let streamed_rows: Vec<(i64, &[u8])> = b
            .messages
            .iter()
            .filter(|(_, m)| streamed(m.raw))
            .filter_map(|(id, m)| Some((*id, m.raw?)))
            .collect();
        for chunk in b.messages.chunks(MESSAGES_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO messages (id, ticket_id, direction, kind, message_id, content_hash, from_addr, from_name, \
                 to_addrs, cc_addrs, recipient, subject, sent_at, in_reply_to, refs, text_body, html_body, origin, reason, raw, raw_codec, created_at) \
                 VALUES {}",
                params.rows(chunk.len(), 22)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for (id, m) in chunk {
                    q = q.bind(*id).bind(m.ticket_id).bind(m.direction).bind(m.kind).bind(m.message_id.as_str())
                        .bind(m.content_hash.as_str()).bind(m.from_addr.as_str()).bind(m.from_name.as_deref())
                        .bind(m.to_addrs.as_str()).bind(m.cc_addrs.as_str()).bind(m.recipient.as_deref())
                        .bind(m.subject.as_str()).bind(m.sent_at).bind(m.in_reply_to.as_str()).bind(m.refs.as_str())
                        .bind(m.text_body).bind(m.html_body).bind(m.origin.as_deref()).bind(m.reason.as_deref())
                        .bind(if streamed(m.raw) { None } else { m.raw }).bind(m.raw_codec).bind(now);
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

        for (row, a) in &b.attachments {
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

        for chunk in b.new_participants.chunks(ROWS_PER_STATEMENT) {
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

        for chunk in b.events.chunks(ROWS_PER_STATEMENT) {
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

        for chunk in b.outbox.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO outbox (message_row, ticket_id, kind, trigger_row, context, sender, recipients, status, \
                 attempts, next_attempt_at, created_at) VALUES {}",
                params.rows(chunk.len(), 11)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
                for o in chunk {
                    q = q.bind(o.message_row).bind(o.ticket_id).bind(o.kind).bind(o.trigger_row)
                        .bind(o.context.as_str()).bind(o.sender.as_str()).bind(o.recipients.as_str())
                        .bind("queued").bind(0i64).bind(now).bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }

        for area in &b.changed_cursors {
            let Some(position) = b.cursors.get(area) else {
                continue;
            };
            on_tx!(self, c => sqlx::query(
                "INSERT INTO assignment_cursors (area, position, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (area) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at")
                .bind(area.as_str()).bind(*position).bind(now)
                .execute(&mut *c).await.map(|_| ())?);
        }

        for (origin, reason, raw) in &b.quarantine {
            self.quarantine(origin, reason, raw, now).await?;
        }

        // Explicit IDs bypass PostgreSQL's sequences: move them past what we used.
        if let Tx::Postgres(t) = self {
            for table in ["tickets", "messages"] {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok(())
    }
}
