//! SQLite: how the pool is opened (WAL, durability per use, caches, page
//! size, the folder created, a busy first open tried again) and how its WAL
//! is checkpointed and kept small.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Pool, Store, unavailable};
use crate::error::{Error, Result};

/// SQLite page cache of a write transaction, in KiB (negative: KiB, not
/// pages). 4 MiB: ingest onto a million stored messages ran as fast as with
/// 8 MiB (2,208 / 2,255 msg/s, medians of 5 alternating runs) and peaked
/// 6-7 MiB lower; 16 MiB only filled with index pages.
pub(super) const WRITER_CACHE: &str = "-4096";
/// SQLite page cache of every other use of a connection: SQLite's default.
const READER_CACHE: &str = "-2048";

/// How long a SQLite statement waits for another connection's lock.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How a process uses a SQLite database; PostgreSQL ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteUse {
    /// A process that runs for a while or stores many mails (serve, poll,
    /// `ingest FILE…`): commits reach the disk at the checkpoints a background
    /// task runs, and the last connection out checkpoints and removes the WAL.
    Long,
    /// One mail, then exit (`ingest -`, which an MTA runs once per mail): each
    /// commit is fsynced before the MTA is told (synchronous=FULL), closing
    /// checkpoints nothing and keeps the WAL for the next process, and
    /// `Store::trim_wal` checkpoints it once it is big. Closing with a
    /// checkpoint cost 4 fsyncs per mail (WAL re-created, checkpoint).
    OneShot,
    /// `serve`'s writer (`Store::writer`): one connection that keeps
    /// WRITER_CACHE and its pages, each commit fsynced (synchronous=FULL).
    Writer,
}

/// Turns off SQLite's memory statistics, which guard every allocation with one
/// process-wide mutex: sqlx copies each value of a row on its worker thread and
/// frees it on another, and the two fought over that lock (about a fifth of a
/// big digest's time). Call it first thing in `main`, before any thread can use
/// SQLite: `sqlite3_config` is only valid then (later calls fail harmlessly).
pub fn configure_sqlite() {
    // SAFETY: called once, before SQLite is initialized or used by any thread;
    // SQLITE_CONFIG_MEMSTATUS takes one int argument.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_config(
            libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
            0 as std::ffi::c_int,
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK {
        tracing::debug!(
            rc,
            "SQLite was initialized already: memory statistics stay on"
        );
    }
}

/// Closing `c` checkpoints nothing and keeps the WAL file
/// (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE): see `SqliteUse::OneShot`.
async fn keep_wal_at_close(c: &mut sqlx::SqliteConnection) -> sqlx::Result<()> {
    let mut handle = c.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: db is a valid connection locked for this thread (lock_handle);
    // this option takes an int (1 = on) and an int pointer that may be null.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK {
        return Err(sqlx::Error::Configuration(
            format!("SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE failed with code {rc}").into(),
        ));
    }
    Ok(())
}

/// How each SQLite connection is opened: WAL, the durability `usage` needs,
/// caches and page size.
fn sqlite_options(url: &str, usage: SqliteUse) -> Result<SqliteConnectOptions> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| unavailable(url, e))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL + NORMAL: durable across process crashes (kill -9), fast;
        // on the disk at the next checkpoint. FULL: on the disk at commit.
        .synchronous(if usage != SqliteUse::Long {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        })
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        // Statement journals in memory: every INSERT into a table with a
        // UNIQUE index or a foreign key keeps one, and on disk it grows
        // through the whole transaction of a batch (pwrite per page).
        .pragma("temp_store", "memory")
        // Checkpoints are run by `Store::checkpoint` from a background task
        // on its own connection (another core), not inside the committing
        // writer; this high mark only bounds the WAL if none runs.
        .pragma("wal_autocheckpoint", "16384")
        // Readers get SQLite's default 2 MiB page cache; a write
        // transaction gets WRITER_CACHE (`begin`) until its connection
        // goes back to the pool (`after_release`), so idle connections
        // never hold big caches of a big database.
        .pragma(
            "cache_size",
            if usage == SqliteUse::Writer {
                WRITER_CACHE
            } else {
                READER_CACHE
            },
        )
        // Mail is mostly blobs of tens of KiB: bigger pages mean fewer WAL
        // frames, syscalls and overflow pages per message.
        .page_size(16384);
    Ok(opts)
}

/// The SQLite pool (its folder created first). Opening sets journal_mode=WAL,
/// which SQLite answers with "database is locked" (no busy wait) while
/// another process is creating the same file: two MTA deliveries on a first
/// run. Tried again shortly.
pub(super) async fn connect_sqlite(
    url: &str,
    max_connections: u32,
    usage: SqliteUse,
) -> Result<SqlitePool> {
    let one_shot = usage == SqliteUse::OneShot;
    let opts = sqlite_options(url, usage)?;
    if let Some(parent) = sqlite_parent_dir(url) {
        std::fs::create_dir_all(&parent).map_err(|e| {
            Error::DatabaseUnavailable(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let mut attempt = 0u64;
    let pool = loop {
        let options = SqlitePoolOptions::new()
            // One mail needs one connection; a second costs an open.
            .max_connections(if one_shot { 1 } else { max_connections.max(1) })
            .after_connect(move |c, _| {
                Box::pin(async move {
                    if one_shot {
                        keep_wal_at_close(c).await?;
                    }
                    Ok(())
                })
            });
        // The writer's one connection writes all the time: it keeps
        // WRITER_CACHE (set at connect) and its pages.
        let options = if usage == SqliteUse::Writer {
            options
        } else {
            options.after_release(|c, _| {
                Box::pin(async move {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "PRAGMA cache_size = {READER_CACHE}"
                    )))
                    .execute(c)
                    .await?;
                    Ok(true)
                })
            })
        };
        match options
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await
        {
            Ok(pool) => break pool,
            Err(e) if attempt < 10 && is_busy(&e) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(unavailable(url, e)),
        }
    };
    Ok(pool)
}

impl Store {
    /// Copies committed WAL pages into the SQLite database file (PASSIVE: never
    /// waits for or blocks writers). No-op on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<()> {
        if let Pool::Sqlite(p) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(p)
                .await?;
        }
        Ok(())
    }

    /// Checkpoints the SQLite WAL and truncates it to nothing when it has grown
    /// past `limit` bytes (`SqliteUse::OneShot`). A process that opens the
    /// database while no other has it open reads the whole WAL back, so one-shot
    /// processes keep it small; TRUNCATE, not PASSIVE, because that read-back
    /// forgets what was checkpointed and the next writer would append, not
    /// start over. No-op on PostgreSQL.
    pub async fn trim_wal(&self, limit: u64) -> Result<()> {
        let Pool::Sqlite(p) = &self.pool else {
            return Ok(());
        };
        let file: String =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(p)
                .await?;
        let wal_len = std::fs::metadata(format!("{file}-wal")).map_or(0, |m| m.len());
        if wal_len <= limit {
            return Ok(());
        }
        // No waiting: while another process reads or writes, this checkpoint
        // copies what it can and leaves the WAL to that process (a `serve`
        // checkpoints it); the mail is stored either way.
        let mut c = p.acquire().await?;
        sqlx::query("PRAGMA busy_timeout = 0")
            .execute(&mut *c)
            .await?;
        let checkpoint = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *c)
            .await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA busy_timeout = {}",
            BUSY_TIMEOUT.as_millis()
        )))
        .execute(&mut *c)
        .await?;
        checkpoint?;
        Ok(())
    }

    /// Runs `checkpoint` every `every` until the returned handle is aborted.
    pub fn spawn_checkpointer(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        if !matches!(self.pool, Pool::Sqlite(_)) {
            return None;
        }
        let store = self.clone();
        Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = store.checkpoint().await {
                    tracing::debug!(error = %e, "background checkpoint failed; will retry");
                }
            }
        }))
    }
}

/// SQLITE_BUSY / SQLITE_LOCKED (and their extended codes).
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

fn sqlite_parent_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = crate::config::sqlite_file(url)?;
    let parent = path.parent()?;
    (!parent.as_os_str().is_empty()).then(|| parent.to_path_buf())
}
