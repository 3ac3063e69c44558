//! Leases: which instance syncs a mailbox (DESIGN §3). On PostgreSQL a lease is
//! a session-level advisory lock held on a connection of its own, taken out of
//! the pool: PostgreSQL releases it the moment that session ends (the process
//! died, the connection broke, the server restarted), so no expiry has to be
//! guessed. On SQLite every process on the host shares one file and the lease
//! is always granted: several instances need PostgreSQL.

use sha2::{Digest, Sha256};
use sqlx::Connection;

use super::{Pool, Store};
use crate::error::Result;

/// The advisory-lock class of mailbox leases (the two-key form, so it never
/// meets the single-key lock batches take).
const LEASE_CLASS: i32 = 7_305_502;

/// A lease this process holds until it is dropped or released.
pub enum Lease {
    /// SQLite: nothing to coordinate with.
    Local,
    Postgres {
        conn: sqlx::PgConnection,
        key: i32,
    },
}

/// The lock key of a lease name: stable across processes and versions.
fn lease_key(name: &str) -> i32 {
    let d = Sha256::digest(name.as_bytes());
    i32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

impl Store {
    /// Takes the lease `name` when nobody holds it: `None` when another
    /// instance does (it never waits).
    pub async fn try_lease(&self, name: &str) -> Result<Option<Lease>> {
        let p = match &self.pool {
            Pool::Sqlite(_) => return Ok(Some(Lease::Local)),
            Pool::Postgres(p) => p,
        };
        // Detached: the pool must neither reuse nor close this session.
        let mut conn = p.acquire().await?.detach();
        let key = lease_key(name);
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LEASE_CLASS)
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        if got {
            Ok(Some(Lease::Postgres { conn, key }))
        } else {
            conn.close().await.ok();
            Ok(None)
        }
    }
}

impl Lease {
    /// True while the lease is held: its session still answers. A session
    /// that fails to answer may already be gone on the server, and the lock
    /// with it, so the caller must stop using the lease at once.
    pub async fn still_held(&mut self) -> bool {
        match self {
            Lease::Local => true,
            Lease::Postgres { conn, .. } => conn.ping().await.is_ok(),
        }
    }

    /// Gives the lease back at once (a clean shutdown), instead of leaving it
    /// to the end of the session.
    pub async fn release(self) {
        if let Lease::Postgres { mut conn, key } = self {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                .bind(LEASE_CLASS)
                .bind(key)
                .execute(&mut conn)
                .await;
            conn.close().await.ok();
        }
    }
}
