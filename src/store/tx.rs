//! The write transaction a batch runs in (the batch's reads and writes are in
//! `batch.rs`, `load.rs` and `write.rs`).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};

use crate::error::Result;

pub enum Tx {
    /// With this process's place at SQLite's one writer (`WriteGate`),
    /// given up when the transaction ends.
    Sqlite(Transaction<'static, Sqlite>, super::GateGuard),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$c` bound to the transaction's concrete connection.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t, _) => {
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

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t, _gate) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(t, _gate) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// Keeps the raw bytes of a mail that could not be processed, once per
    /// content. On SQLite big mail is streamed into `raw_blobs` (blob.rs).
    pub async fn quarantine(
        &mut self,
        origin: &str,
        reason: &str,
        raw: &[u8],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sha = hex::encode(Sha256::digest(raw));
        let known: Option<i64> = on_tx!(self, c => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM quarantine WHERE sha256 = $1")
            .bind(&sha).fetch_optional(&mut *c).await?);
        if known.is_some() {
            return Ok(());
        }
        let (inline, blob_id) = match self {
            Tx::Sqlite(t, _) if raw.len() >= super::blob::BIG_BLOB => {
                (&[][..], Some(super::blob::insert_streamed(t, raw).await?))
            }
            _ => (raw, None),
        };
        on_tx!(self, c => sqlx::query(
            "INSERT INTO quarantine (origin, reason, sha256, size, raw, raw_blob, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (sha256) DO NOTHING")
            .bind(origin).bind(reason).bind(sha).bind(raw.len() as i64).bind(inline).bind(blob_id).bind(now)
            .execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }

    pub async fn source_position(&mut self, source: &str) -> Result<Option<(i64, i64)>> {
        Ok(on_tx!(self, c => sqlx::query_as::<_, (i64, i64)>(
            "SELECT uidvalidity, last_uid FROM source_positions WHERE source = $1")
            .bind(source).fetch_optional(&mut *c).await?))
    }

    /// Records how far a folder is committed. Within one UIDVALIDITY the
    /// position only moves forward, so two instances syncing the same folder
    /// can't move it back; a new UIDVALIDITY replaces it.
    pub async fn set_source_position(
        &mut self,
        source: &str,
        uidvalidity: i64,
        last_uid: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // SQLite's two-argument max() is PostgreSQL's GREATEST().
        let sql = |max: &str| {
            format!(
                "INSERT INTO source_positions (source, uidvalidity, last_uid, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (source) DO UPDATE SET \
                 last_uid = CASE WHEN source_positions.uidvalidity = excluded.uidvalidity \
                            THEN {max}(source_positions.last_uid, excluded.last_uid) ELSE excluded.last_uid END, \
                 uidvalidity = excluded.uidvalidity, updated_at = excluded.updated_at"
            )
        };
        let sql = match self {
            Tx::Sqlite(..) => sql("max"),
            Tx::Postgres(_) => sql("GREATEST"),
        };
        on_tx!(self, c => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(source).bind(uidvalidity).bind(last_uid).bind(now).execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }
}
