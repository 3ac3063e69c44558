//! The SLA bench's own connection (benches/sla.rs): either backend behind one
//! enum, the queries it times, counts and query plans.

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::Row as _;

pub use mailroom::store::TICKET_COLUMNS;

/// The scheduler's scan (src/store/sla.rs), with the batch size of
/// src/pipeline/sla_scan.rs (SLA_BATCH) written in.
pub fn scan_sql() -> String {
    format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE sla_next_check <= $1 ORDER BY sla_next_check LIMIT 200"
    )
}

/// The digest's queries, as src/store/digest.rs runs them for all areas (no
/// area filter), each bound to ($1 = from, $2 = end).
pub fn digest_queries() -> Vec<(&'static str, String)> {
    use mailroom::store::digest::{DIGEST_EVENT_QUERIES, digest_ticket_queries};
    let mut all: Vec<(&'static str, String)> = digest_ticket_queries("").into();
    all.extend(DIGEST_EVENT_QUERIES.map(|(what, sql)| (what, sql.to_string())));
    all
}

/// The pipeline's threading lookup (the store's own SQL), with `ids`
/// written in as literals (generated, quote-free).
pub fn threading_sql(ids: &[String]) -> String {
    let list: Vec<String> = ids
        .iter()
        .map(|i| format!("'{}'", i.replace('\'', "''")))
        .collect();
    mailroom::store::threading_lookup_sql(&list.join(", "))
}

/// `tickets list --status open --limit 50` (the store's own SQL), its one
/// argument written in.
pub fn list_sql() -> String {
    let filter = mailroom::store::TicketFilter {
        status: Some(mailroom::tickets::Status::Open),
        limit: Some(50),
        ..Default::default()
    };
    let (sql, args) = mailroom::store::list_tickets_sql(&filter);
    sql.replace(
        "$1",
        &format!("'{}'", args.first().map_or("open", String::as_str)),
    )
}

pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool and `DB` to its database.
macro_rules! on_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($p) => {
                #[allow(dead_code)]
                type DB = sqlx::Sqlite;
                $body
            }
            $crate::db::Db::Postgres($p) => {
                #[allow(dead_code)]
                type DB = sqlx::Postgres;
                $body
            }
        }
    };
}
pub(crate) use on_db;

pub fn err(what: &str) -> impl Fn(sqlx::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, String> {
        if url.starts_with("sqlite:") {
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .map_err(err("SQLite URL"))?
                .busy_timeout(Duration::from_secs(30))
                .pragma("cache_size", "-65536");
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await
                .map_err(err("connecting to SQLite"))?;
            Ok(Db::Sqlite(pool))
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .map_err(err("connecting to PostgreSQL"))?;
            Ok(Db::Postgres(pool))
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "SQLite",
            Db::Postgres(_) => "PostgreSQL",
        }
    }

    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }

    /// After the bulk load, what a database in use would have: SQLite's WAL
    /// checkpointed (mailroom never runs ANALYZE there, so neither does
    /// this); PostgreSQL's sequences past the rows and statistics gathered
    /// (autovacuum would do it within a minute of such a load).
    pub async fn settle(&self) -> Result<(), String> {
        match self {
            Db::Sqlite(p) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(p)
                    .await
                    .map_err(err("checkpoint"))?;
            }
            Db::Postgres(p) => {
                for t in ["tickets", "messages"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"
                    )))
                    .execute(p)
                    .await
                    .map_err(err("setval"))?;
                }
                sqlx::query("VACUUM ANALYZE")
                    .execute(p)
                    .await
                    .map_err(err("VACUUM ANALYZE"))?;
            }
        }
        Ok(())
    }

    pub async fn count(&self, sql: &'static str) -> Result<i64, String> {
        on_db!(self, p => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.map_err(err(sql)))
    }

    /// `n` stored Message-IDs from the middle of the table, and `n` that
    /// are not stored (a batch looks up both).
    pub async fn sample_message_ids(&self, n: i64) -> Result<Vec<String>, String> {
        let sql = "SELECT message_id FROM messages ORDER BY id LIMIT $1 OFFSET (SELECT COUNT(*) / 2 FROM messages)";
        let mut ids: Vec<String> = on_db!(self, p => sqlx::query_scalar::<_, String>(sql)
            .bind(n).fetch_all(p).await.map_err(err(sql)))?;
        ids.extend((0..n).map(|i| format!("not-stored-{i}@bench.test")));
        Ok(ids)
    }

    /// How many tickets the scan would pick up at `at`.
    pub async fn due_at(&self, at: DateTime<Utc>) -> Result<i64, String> {
        let sql = "SELECT COUNT(*) FROM tickets WHERE sla_next_check <= $1";
        on_db!(self, p => sqlx::query_scalar::<_, i64>(sql).bind(at).fetch_one(p).await.map_err(err(sql)))
    }

    /// Bytes on disk: the SQLite file (with its WAL), or pg_database_size.
    pub async fn size(&self, sqlite_file: &std::path::Path) -> Result<u64, String> {
        match self {
            Db::Sqlite(_) => {
                let wal = sqlite_file.with_extension("db-wal");
                let len = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
                Ok(len(sqlite_file) + len(&wal))
            }
            Db::Postgres(p) => {
                let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(p)
                    .await
                    .map_err(err("pg_database_size"))?;
                Ok(n.max(0) as u64)
            }
        }
    }

    /// Runs `sql` (bound to `binds`) `runs` times after one untimed run:
    /// the wall times and the number of rows of the last run.
    pub async fn time_query(
        &self,
        sql: &str,
        binds: &[DateTime<Utc>],
        runs: usize,
    ) -> Result<(Vec<Duration>, usize), String> {
        let mut times = Vec::with_capacity(runs);
        let mut rows = 0;
        for i in 0..=runs {
            let t = Instant::now();
            rows = on_db!(self, p => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_all(p).await.map_err(err(sql))?.len()
            });
            if i > 0 {
                times.push(t.elapsed());
            }
        }
        Ok((times, rows))
    }

    /// The plan of `sql`: SQLite's EXPLAIN QUERY PLAN as an indented tree,
    /// PostgreSQL's EXPLAIN text.
    pub async fn explain(&self, sql: &str, binds: &[DateTime<Utc>]) -> Result<Vec<String>, String> {
        match self {
            Db::Sqlite(p) => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
                for b in binds {
                    q = q.bind(*b);
                }
                let rows = q.fetch_all(p).await.map_err(err("EXPLAIN QUERY PLAN"))?;
                let mut depth: Vec<(i64, usize)> = Vec::new();
                let mut out = Vec::new();
                for r in rows {
                    let id: i64 = r.try_get(0).map_err(err("plan id"))?;
                    let parent: i64 = r.try_get(1).map_err(err("plan parent"))?;
                    let detail: String = r.try_get(3).map_err(err("plan detail"))?;
                    let d = depth
                        .iter()
                        .find(|(i, _)| *i == parent)
                        .map_or(0, |(_, d)| d + 1);
                    depth.push((id, d));
                    out.push(format!("{}{detail}", "  ".repeat(d)));
                }
                Ok(out)
            }
            Db::Postgres(p) => {
                let mut q =
                    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")));
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_all(p).await.map_err(err("EXPLAIN"))
            }
        }
    }
}
