//! The only place with SQL. One code path for SQLite and PostgreSQL: each query
//! is written once and expanded for both backends by `on_conn!`/`on_pool!`
//! (runtime queries with `$n` placeholders work on both). Must not import
//! `pipeline`, `digest`, `outbound` or `inbound`: it loads facts and writes
//! what others decided.

mod batch;
mod blob;
pub mod codec;
mod contention;
pub mod digest;
mod lease;
mod lifecycle;
mod load;
mod mail_bytes;
mod merge;
mod outbox;
mod relay_result;
mod rows;
mod sla;
mod split;
mod sql;
mod sqlite;
#[cfg(test)]
mod tests;
mod text;
mod ticket_view;
mod tx;
mod write;
mod writer;

use sqlite::{WRITER_CACHE, connect_sqlite};
pub(crate) use writer::GateGuard;
use writer::WriteGate;

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, SqlitePool};

use crate::error::{Error, Result, is_connection_error};
use crate::tickets::{EventKind, OutboxStatus, Ticket};

pub use batch::{
    Asked, BatchKeys, CustomerMail, Loaded, Merged, NewEvent, NewMessage, NewOutbox, Participant,
    SentNotification, SplitMail, SplitOff, StoredRef, Writes,
};
pub use contention::lock_key;
pub use lease::Lease;
pub use lifecycle::{ActionsTaken, LifecyclePage};
pub use load::threading_lookup_sql;
pub use outbox::Attempt;
pub use relay_result::{RelayResult, UnreportedRelays, unreported_relays};
pub use rows::*;
pub use sqlite::{SqliteUse, configure_sqlite};
pub use ticket_view::{MessageView, TicketView};
pub use tx::Tx;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool of either backend.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::store::Pool::Sqlite($p) => $body,
            $crate::store::Pool::Postgres($p) => $body,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_pool;

/// `tickets list`'s query and its arguments ($1, $2, … in order). Public for
/// the SLA bench, which times it at a million messages.
pub fn list_tickets_sql(f: &TicketFilter) -> (String, Vec<String>) {
    let mut sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE 1=1");
    let mut args: Vec<String> = Vec::new();
    // Areas keep the case they were configured with; a filter matches any case.
    let status = f.status.map(|s| s.as_str().to_string());
    for (col, val) in [
        ("status", &status),
        ("LOWER(area)", &f.area),
        ("owner", &f.owner),
    ] {
        if let Some(v) = val {
            args.push(v.to_lowercase());
            sql.push_str(&format!(" AND {col} = ${}", args.len()));
        }
    }
    sql.push_str(" ORDER BY id");
    if let Some(l) = f.limit {
        sql.push_str(&format!(" LIMIT {}", l.max(0)));
    }
    (sql, args)
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    gate: WriteGate,
    /// `SqliteUse::Writer`: the connection has WRITER_CACHE for good.
    writer_cache_kept: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<crate::tickets::Status>,
    pub area: Option<String>,
    pub owner: Option<String>,
    pub limit: Option<i64>,
}

fn unavailable(url: &str, e: sqlx::Error) -> Error {
    if is_connection_error(&e) || matches!(e, sqlx::Error::Configuration(_)) {
        Error::DatabaseUnavailable(format!("{}: {e}", crate::config::redact_url(url)))
    } else {
        Error::Database(e)
    }
}

impl Store {
    pub async fn connect(url: &str, max_connections: u32, usage: SqliteUse) -> Result<Store> {
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(connect_sqlite(url, max_connections, usage).await?)
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|e| unavailable(url, e))?;
            Pool::Postgres(pool)
        };
        let gate = match pool {
            Pool::Sqlite(_) => WriteGate(Some(Arc::default())),
            Pool::Postgres(_) => WriteGate(None),
        };
        Ok(Store {
            pool,
            gate,
            writer_cache_kept: usage == SqliteUse::Writer,
        })
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            // PostgreSQL's migrator takes an advisory lock; SQLite's has none, so two
            // processes starting at once race: the loser's CREATE waits for the
            // winner's commit and then fails. Running again sees the recorded
            // version and skips it.
            Pool::Sqlite(p) => {
                let mut attempt = 0;
                loop {
                    match SQLITE_MIGRATOR.run(p).await {
                        Ok(()) => break,
                        Err(e) if attempt < 3 => {
                            attempt += 1;
                            tracing::debug!(error = %e, attempt, "migration raced another process; retrying");
                            tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Pool::Postgres(p) => POSTGRES_MIGRATOR.run(p).await?,
        }
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(&self.pool, p => p.close().await)
    }

    /// A write transaction. SQLite takes the write lock up front (BEGIN IMMEDIATE),
    /// so two writers wait for each other instead of failing on lock upgrade.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                let gate = self.gate.enter().await;
                let mut t = p.begin_with("BEGIN IMMEDIATE").await?;
                if !self.writer_cache_kept {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "PRAGMA cache_size = {WRITER_CACHE}"
                    )))
                    .execute(&mut *t)
                    .await?;
                }
                Tx::Sqlite(t, gate)
            }
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub async fn list_tickets(&self, f: &TicketFilter) -> Result<Vec<Ticket>> {
        let (sql, args) = list_tickets_sql(f);
        let rows = on_pool!(&self.pool, p => {
            let mut q = sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql));
            for a in &args {
                q = q.bind(a.clone());
            }
            q.fetch_all(p).await?
        });
        Ok(rows.into_iter().map(Ticket::from).collect())
    }

    pub async fn ticket(&self, id: i64) -> Result<Option<Ticket>> {
        let row = on_pool!(&self.pool, p => sqlx::query_as::<_, TicketRow>(
            sqlx::AssertSqlSafe(format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1")))
            .bind(id).fetch_optional(p).await?);
        Ok(row.map(Ticket::from))
    }

    pub async fn ticket_messages(&self, ticket_id: i64) -> Result<Vec<MessageRow>> {
        Ok(on_pool!(&self.pool, p => sqlx::query_as::<_, MessageRow>(
            sqlx::AssertSqlSafe(format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE ticket_id = $1 ORDER BY id")))
            .bind(ticket_id).fetch_all(p).await?))
    }

    pub async fn message_attachments(&self, message_row: i64) -> Result<Vec<AttachmentRow>> {
        Ok(
            on_pool!(&self.pool, p => sqlx::query_as::<_, AttachmentRow>(
            "SELECT ma.filename, ma.content_type, a.size, a.sha256 FROM message_attachments ma \
             JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_row = $1 ORDER BY ma.id")
            .bind(message_row).fetch_all(p).await?),
        )
    }

    pub async fn ticket_events(&self, ticket_id: i64) -> Result<Vec<EventRow>> {
        Ok(on_pool!(&self.pool, p => sqlx::query_as::<_, EventRow>(
            "SELECT id, ticket_id, message_row, kind, detail, created_at FROM events WHERE ticket_id = $1 ORDER BY id")
            .bind(ticket_id).fetch_all(p).await?))
    }

    pub async fn ticket_participants(&self, ticket_id: i64) -> Result<Vec<Participant>> {
        Ok(on_pool!(&self.pool, p => sqlx::query_as::<_, Participant>(
            "SELECT ticket_id, email, role FROM participants WHERE ticket_id = $1 ORDER BY role, email")
            .bind(ticket_id).fetch_all(p).await?))
    }

    pub async fn outbox_list(&self) -> Result<Vec<OutboxRow>> {
        Ok(on_pool!(&self.pool, p => sqlx::query_as::<_, OutboxRow>(
            sqlx::AssertSqlSafe(format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id")))
            .fetch_all(p).await?))
    }

    pub async fn quarantine_list(&self) -> Result<Vec<QuarantineRow>> {
        Ok(
            on_pool!(&self.pool, p => sqlx::query_as::<_, QuarantineRow>(
            "SELECT id, origin, reason, sha256, size, created_at, released_at, released_as FROM quarantine ORDER BY id")
            .fetch_all(p).await?),
        )
    }

    /// Open tickets past a due time, per SLA target (for /metrics).
    pub async fn sla_breached_counts(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(&'static str, i64)>> {
        let mut out = Vec::new();
        for (target, col) in [
            ("first_response", "first_response_due"),
            ("next_response", "next_response_due"),
            ("resolution", "resolution_due"),
        ] {
            let sql = format!("SELECT COUNT(*) FROM tickets WHERE {col} <= $1");
            let n = on_pool!(&self.pool, p => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .bind(now).fetch_one(p).await?);
            out.push((target, n));
        }
        Ok(out)
    }

    /// Ticket-less inbound mail, oldest first.
    pub async fn suspended_list(&self) -> Result<Vec<SuspendedRow>> {
        Ok(on_pool!(&self.pool, p => sqlx::query_as::<_, SuspendedRow>(
            "SELECT id, kind, from_addr, subject, sent_at AS date, created_at AS received_at, reason, origin \
             FROM messages WHERE ticket_id IS NULL AND direction = 'in' ORDER BY id")
            .fetch_all(p).await?))
    }

    /// An inbound message's ticket (None: ticket-less), if the row exists.
    pub async fn inbound_message_ticket(&self, id: i64) -> Result<Option<Option<i64>>> {
        Ok(
            on_pool!(&self.pool, p => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT ticket_id FROM messages WHERE id = $1 AND direction = 'in'")
            .bind(id).fetch_optional(p).await?),
        )
    }

    /// A quarantined mail's raw bytes, and what it was released as (if it was).
    pub async fn quarantined(&self, id: i64) -> Result<Option<(Vec<u8>, Option<String>)>> {
        Ok(
            on_pool!(&self.pool, p => sqlx::query_as::<_, (Vec<u8>, Option<String>)>(
            "SELECT raw, released_as FROM quarantine WHERE id = $1")
            .bind(id).fetch_optional(p).await?),
        )
    }

    /// Marks a quarantined mail released; false when it was released already.
    pub async fn mark_quarantine_released(
        &self,
        id: i64,
        released_as: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let _gate = self.gate.enter().await;
        let done = on_pool!(&self.pool, p => sqlx::query(
            "UPDATE quarantine SET released_at = $1, released_as = $2 WHERE id = $3 AND released_at IS NULL")
            .bind(now).bind(released_as).bind(id).execute(p).await?.rows_affected());
        Ok(done == 1)
    }

    /// Records an event on a ticket outside a batch (an operator's action).
    pub async fn add_event(
        &self,
        ticket_id: i64,
        kind: EventKind,
        detail: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let _gate = self.gate.enter().await;
        on_pool!(&self.pool, p => sqlx::query(
            "INSERT INTO events (ticket_id, message_row, kind, detail, created_at) VALUES ($1, NULL, $2, $3, $4)")
            .bind(ticket_id).bind(kind.as_str()).bind(detail).bind(now).execute(p).await.map(|_| ())?);
        Ok(())
    }

    /// The committed position of an IMAP folder: (UIDVALIDITY, last UID).
    pub async fn source_position(&self, source: &str) -> Result<Option<(i64, i64)>> {
        Ok(on_pool!(&self.pool, p => sqlx::query_as::<_, (i64, i64)>(
            "SELECT uidvalidity, last_uid FROM source_positions WHERE source = $1")
            .bind(source).fetch_optional(p).await?))
    }

    /// Outgoing mail not yet sent or given up on (queued or being sent).
    pub async fn outbox_depth(&self) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM outbox WHERE status IN ('{}', '{}')",
            OutboxStatus::Queued,
            OutboxStatus::Sending
        );
        Ok(
            on_pool!(&self.pool, p => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .fetch_one(p).await?),
        )
    }

    pub async fn count(&self, table: Table) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        Ok(
            on_pool!(&self.pool, p => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(p).await?),
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Table {
    Tickets,
    Messages,
    Outbox,
    Quarantine,
    Attachments,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Tickets => "tickets",
            Table::Messages => "messages",
            Table::Outbox => "outbox",
            Table::Quarantine => "quarantine",
            Table::Attachments => "attachments",
        }
    }
}
