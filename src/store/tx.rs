//! The write transaction the pipeline runs each batch of messages in.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};

use super::rows::{RefHit, TICKET_COLUMNS, TicketRow};
use crate::error::Result;
use crate::mail::parse::Attachment;

/// Columns and placeholders ($1-$20) of a message row, shared by `insert_message`
/// and `insert_outbound`.
const INSERT_MESSAGE: &str = "INSERT INTO messages (ticket_id, direction, kind, message_id, content_hash, from_addr, from_name, \
     to_addrs, cc_addrs, recipient, subject, sent_at, in_reply_to, refs, text_body, html_body, origin, reason, raw, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";

/// Events per INSERT: 4 parameters each plus one, under SQLite's old limit of 999.
const EVENTS_PER_STATEMENT: usize = 200;

pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$c` bound to the transaction's concrete connection.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

// Silence "unused import" for the connection types named inside the macro.
#[allow(dead_code)]
type _Conns = (SqliteConnection, PgConnection);

pub struct NewTicket<'a> {
    pub subject: &'a str,
    pub normalized_subject: &'a str,
    pub status: &'a str,
    pub priority: &'a str,
    pub area: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub customer: &'a str,
    pub customer_name: Option<&'a str>,
    pub tags: &'a str,
    pub now: DateTime<Utc>,
}

pub struct NewMessage<'a> {
    pub ticket_id: Option<i64>,
    pub direction: &'a str,
    pub kind: &'a str,
    pub message_id: &'a str,
    pub content_hash: &'a str,
    pub from_addr: &'a str,
    pub from_name: Option<&'a str>,
    pub to_addrs: &'a str,
    pub cc_addrs: &'a str,
    pub recipient: Option<&'a str>,
    pub subject: &'a str,
    pub sent_at: Option<DateTime<Utc>>,
    pub in_reply_to: &'a str,
    pub refs: &'a str,
    pub text_body: &'a str,
    pub html_body: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub raw: &'a [u8],
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub ticket_id: Option<i64>,
    pub message_row: Option<i64>,
    pub kind: &'static str,
    pub detail: String,
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// The stored copy of this exact mail: (row, ticket).
    pub async fn find_message(
        &mut self,
        message_id: &str,
        content_hash: &str,
    ) -> Result<Option<(i64, Option<i64>)>> {
        Ok(on_tx!(self, c => sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT id, ticket_id FROM messages WHERE message_id = $1 AND content_hash = $2")
            .bind(message_id).bind(content_hash).fetch_optional(&mut *c).await?))
    }

    /// Stored messages (in or out) with one of these Message-IDs that belong to a ticket.
    pub async fn find_by_message_ids(&mut self, ids: &[String]) -> Result<Vec<RefHit>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT message_id, ticket_id, kind, recipient FROM messages \
             WHERE ticket_id IS NOT NULL AND message_id IN ({}) ORDER BY id",
            placeholders.join(",")
        );
        Ok(on_tx!(self, c => {
            let mut q = sqlx::query_as::<_, RefHit>(sqlx::AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(id.as_str());
            }
            q.fetch_all(&mut *c).await?
        }))
    }

    pub async fn ticket(&mut self, id: i64) -> Result<Option<TicketRow>> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1");
        Ok(
            on_tx!(self, c => sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql))
            .bind(id).fetch_optional(&mut *c).await?),
        )
    }

    pub async fn is_participant(&mut self, ticket_id: i64, email: &str) -> Result<bool> {
        let n: i64 = on_tx!(self, c => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM participants WHERE ticket_id = $1 AND email = $2")
            .bind(ticket_id).bind(email).fetch_one(&mut *c).await?);
        Ok(n > 0)
    }

    /// Inserts the ticket and returns the stored row (no second query to read it back).
    pub async fn insert_ticket(&mut self, t: &NewTicket<'_>) -> Result<TicketRow> {
        let sql = format!(
            "INSERT INTO tickets (subject, normalized_subject, status, priority, area, owner, customer, customer_name, tags, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {TICKET_COLUMNS}"
        );
        let row = on_tx!(self, c => sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql))
            .bind(t.subject).bind(t.normalized_subject).bind(t.status).bind(t.priority)
            .bind(t.area).bind(t.owner).bind(t.customer).bind(t.customer_name).bind(t.tags).bind(t.now)
            .fetch_one(&mut *c).await?);
        Ok(row)
    }

    pub async fn set_ticket_status(
        &mut self,
        id: i64,
        status: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_tx!(self, c => sqlx::query(
            "UPDATE tickets SET status = $1, updated_at = $2, \
             resolved_at = CASE WHEN $1 = 'resolved' THEN $2 ELSE NULL END WHERE id = $3")
            .bind(status).bind(now).bind(id).execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }

    pub async fn touch_ticket(&mut self, id: i64, now: DateTime<Utc>) -> Result<()> {
        on_tx!(self, c => sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
            .bind(now).bind(id).execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }

    pub async fn record_first_response(&mut self, id: i64, now: DateTime<Utc>) -> Result<()> {
        on_tx!(self, c => sqlx::query(
            "UPDATE tickets SET updated_at = $1, first_response_at = COALESCE(first_response_at, $1) WHERE id = $2")
            .bind(now).bind(id).execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }

    pub async fn insert_message(&mut self, m: &NewMessage<'_>) -> Result<i64> {
        Ok(on_tx!(self, c => sqlx::query_scalar::<_, i64>(
            sqlx::AssertSqlSafe(format!("{INSERT_MESSAGE} RETURNING id")))
            .bind(m.ticket_id).bind(m.direction).bind(m.kind).bind(m.message_id).bind(m.content_hash)
            .bind(m.from_addr).bind(m.from_name).bind(m.to_addrs).bind(m.cc_addrs).bind(m.recipient)
            .bind(m.subject).bind(m.sent_at).bind(m.in_reply_to).bind(m.refs).bind(m.text_body)
            .bind(m.html_body).bind(m.origin).bind(m.reason).bind(m.raw).bind(m.now)
            .fetch_one(&mut *c).await?))
    }

    /// Stores an outgoing message and queues it in the outbox (`insert_message` +
    /// `enqueue`); returns the message row. On SQLite both inserts go to the
    /// database worker as one two-statement query: sqlx runs every SQLite
    /// statement through a worker thread, and the round trip costs more than
    /// the insert itself.
    pub async fn insert_outbound(
        &mut self,
        m: &NewMessage<'_>,
        sender: &str,
        recipients: &str,
    ) -> Result<i64> {
        let Tx::Sqlite(t) = self else {
            let row = self.insert_message(m).await?;
            self.enqueue(row, m.ticket_id, m.kind, sender, recipients, m.now)
                .await?;
            return Ok(row);
        };
        // Same columns and values as `insert_message` ($1-$20) and `enqueue`.
        let sql = format!(
            "{INSERT_MESSAGE}; \
             INSERT INTO outbox (message_row, ticket_id, kind, sender, recipients, status, attempts, next_attempt_at, created_at) \
             VALUES (last_insert_rowid(), $1, $3, $21, $22, 'queued', 0, $20, $20) RETURNING message_row"
        );
        let c: &mut SqliteConnection = t;
        Ok(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .bind(m.ticket_id)
            .bind(m.direction)
            .bind(m.kind)
            .bind(m.message_id)
            .bind(m.content_hash)
            .bind(m.from_addr)
            .bind(m.from_name)
            .bind(m.to_addrs)
            .bind(m.cc_addrs)
            .bind(m.recipient)
            .bind(m.subject)
            .bind(m.sent_at)
            .bind(m.in_reply_to)
            .bind(m.refs)
            .bind(m.text_body)
            .bind(m.html_body)
            .bind(m.origin)
            .bind(m.reason)
            .bind(m.raw)
            .bind(m.now)
            .bind(sender)
            .bind(recipients)
            .fetch_one(&mut *c)
            .await?)
    }

    /// Stores the attachment's bytes once per SHA-256 and links it to the message.
    pub async fn attach(&mut self, message_row: i64, a: &Attachment) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("INSERT INTO attachments (sha256, size, data) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING")
                .bind(a.sha256.as_str()).bind(a.data.len() as i64).bind(a.data.as_slice())
                .execute(&mut *c).await?;
            sqlx::query(
                "INSERT INTO message_attachments (message_row, attachment_id, filename, content_type) \
                 SELECT $1, id, $2, $3 FROM attachments WHERE sha256 = $4")
                .bind(message_row).bind(a.filename.as_deref()).bind(a.content_type.as_str()).bind(a.sha256.as_str())
                .execute(&mut *c).await?;
        });
        Ok(())
    }

    pub async fn add_participant(&mut self, ticket_id: i64, email: &str, role: &str) -> Result<()> {
        on_tx!(self, c => sqlx::query(
            "INSERT INTO participants (ticket_id, email, role) VALUES ($1, $2, $3) ON CONFLICT (ticket_id, email) DO NOTHING")
            .bind(ticket_id).bind(email).bind(role).execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }

    /// Inserts events in multi-row statements of at most `EVENTS_PER_STATEMENT` rows.
    pub async fn add_events(&mut self, events: &[NewEvent], now: DateTime<Utc>) -> Result<()> {
        for chunk in events.chunks(EVENTS_PER_STATEMENT) {
            self.add_events_once(chunk, now).await?;
        }
        Ok(())
    }

    async fn add_events_once(&mut self, events: &[NewEvent], now: DateTime<Utc>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut sql = String::from(
            "INSERT INTO events (ticket_id, message_row, kind, detail, created_at) VALUES ",
        );
        for i in 0..events.len() {
            let b = i * 4;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                events.len() * 4 + 1
            ));
        }
        on_tx!(self, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in events {
                q = q.bind(e.ticket_id).bind(e.message_row).bind(e.kind).bind(e.detail.as_str());
            }
            q.bind(now).execute(&mut *c).await?;
        });
        Ok(())
    }

    pub async fn enqueue(
        &mut self,
        message_row: i64,
        ticket_id: Option<i64>,
        kind: &str,
        sender: &str,
        recipients: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        Ok(on_tx!(self, c => sqlx::query_scalar::<_, i64>(
            "INSERT INTO outbox (message_row, ticket_id, kind, sender, recipients, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $6) RETURNING id")
            .bind(message_row).bind(ticket_id).bind(kind).bind(sender).bind(recipients).bind(now)
            .fetch_one(&mut *c).await?))
    }

    /// Automatic replies queued to `recipient` since `since` (RFC 3834 rate limit).
    pub async fn auto_replies_since(
        &mut self,
        recipient: &str,
        since: DateTime<Utc>,
    ) -> Result<i64> {
        Ok(on_tx!(self, c => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM outbox WHERE recipients = $1 AND kind = 'ack' AND created_at > $2")
            .bind(recipient).bind(since).fetch_one(&mut *c).await?))
    }

    /// Keeps the raw bytes of a mail that could not be processed, once per content.
    pub async fn quarantine(
        &mut self,
        origin: &str,
        reason: &str,
        raw: &[u8],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sha = hex::encode(Sha256::digest(raw));
        on_tx!(self, c => sqlx::query(
            "INSERT INTO quarantine (origin, reason, sha256, size, raw, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (sha256) DO NOTHING")
            .bind(origin).bind(reason).bind(sha).bind(raw.len() as i64).bind(raw).bind(now)
            .execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }

    pub async fn source_position(&mut self, source: &str) -> Result<Option<(i64, i64)>> {
        Ok(on_tx!(self, c => sqlx::query_as::<_, (i64, i64)>(
            "SELECT uidvalidity, last_uid FROM source_positions WHERE source = $1")
            .bind(source).fetch_optional(&mut *c).await?))
    }

    pub async fn set_source_position(
        &mut self,
        source: &str,
        uidvalidity: i64,
        last_uid: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_tx!(self, c => sqlx::query(
            "INSERT INTO source_positions (source, uidvalidity, last_uid, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (source) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, updated_at = excluded.updated_at")
            .bind(source).bind(uidvalidity).bind(last_uid).bind(now).execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }
}
