//! How batches on one PostgreSQL database stay correct side by side, without
//! one lock that serialises them all (DESIGN §3). A batch locks what it reads,
//! always in the same order, so batches that share nothing run in parallel
//! and batches that share something take turns:
//!
//! 1. advisory locks on its Message-IDs (its own and every one they reference)
//!    (`Tx::load_batch`): a follow-up and its first mail, or two copies of one
//!    mail from two mailboxes, are decided one after the other, the second
//!    seeing the first's rows;
//! 2. the rows of the tickets those lead to, `FOR UPDATE` in id order;
//! 3. after a first decision in memory, advisory locks on the areas it
//!    assigned new tickets in and on their agents (round-robin cursor, open
//!    counts, max_open, the customers' current owners for continuity); those
//!    are read again and the batch decided again
//!    (`pipeline::settle`). New tickets of one area are thus assigned one
//!    batch at a time; follow-ups, replies and other areas run side by side.
//!
//! The rate limit of automatic mail counts committed mail: it may be exceeded
//! by what concurrent batches queue for the same recipient at the same moment.
//! Senders are not locked: a customer writing through two mailboxes at once
//! would serialise every batch that shares a customer (most of them).
//!
//! New ticket and message ids come from the sequences (`Tx::reserve_ids`),
//! reserved after the locks, so a ticket's later rows always get higher ids.
//! Every lock here is transaction-level: commit or rollback releases it.
//! SQLite has one writer at a time (BEGIN IMMEDIATE); there all of this is a
//! no-op and ids follow the highest stored one.

use sha2::{Digest, Sha256};

use super::batch::Loaded;
use super::sql::{KEYS_PER_QUERY, Params, select_in, sorted};
use super::tx::{Tx, on_tx};
use crate::error::Result;

/// The 64-bit advisory lock key of a name ("m:<message-id>", "area:billing", …).
/// A collision only makes two unrelated batches take turns.
pub fn lock_key(name: &str) -> i64 {
    let d = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

impl Tx {
    /// Whether other transactions may run beside this one (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }

    /// PostgreSQL: transaction-level advisory locks on `names`, taken in key
    /// order so two batches never wait for each other in a circle.
    pub async fn lock_keys<S: AsRef<str>>(
        &mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<()> {
        let Tx::Postgres(t) = self else {
            return Ok(());
        };
        let keys = sorted(names.into_iter().map(|n| lock_key(n.as_ref())));
        if keys.is_empty() {
            return Ok(());
        }
        // unnest keeps the array's order; the locks are taken row by row.
        sqlx::query("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k")
            .bind(&keys[..])
            .execute(&mut **t)
            .await?;
        Ok(())
    }

    /// PostgreSQL: `tickets` ticket ids and `messages` message ids from the
    /// sequences, ascending. An id reserved by a batch that rolls back is
    /// never used (a gap, as with any sequence).
    pub async fn reserve_ids(
        &mut self,
        tickets: usize,
        messages: usize,
    ) -> Result<(Vec<i64>, Vec<i64>)> {
        let Tx::Postgres(t) = self else {
            return Ok((Vec::new(), Vec::new()));
        };
        let mut out = (Vec::new(), Vec::new());
        for (table, n, into) in [
            ("tickets", tickets, &mut out.0),
            ("messages", messages, &mut out.1),
        ] {
            if n == 0 {
                continue;
            }
            let sql = format!(
                "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)"
            );
            let mut ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(n as i64)
                .fetch_all(&mut **t)
                .await?;
            ids.sort_unstable();
            *into = ids;
        }
        Ok(out)
    }

    /// Open tickets per owner, the round-robin cursors and the owners of the
    /// open tickets of `l.customers` per area (continuity).
    /// Read with the batch and again by `pipeline::settle` under the locks of
    /// the areas a decision assigned in.
    pub async fn load_assignment_state(&mut self, l: &mut Loaded) -> Result<()> {
        l.open_counts = on_tx!(self, c => sqlx::query_as::<_, (String, i64)>(
            "SELECT owner, COUNT(*) FROM tickets WHERE status NOT IN ('resolved', 'merged') AND owner IS NOT NULL GROUP BY owner")
            .fetch_all(&mut *c).await?)
        .into_iter()
        .collect();
        l.cursors = on_tx!(self, c => sqlx::query_as::<_, (String, i64)>(
            "SELECT area, position FROM assignment_cursors")
            .fetch_all(&mut *c).await?)
        .into_iter()
        .collect();
        let customers = std::mem::take(&mut l.customers);
        let rows = select_in!(self, (String, String, String), customers, |list| format!(
            "SELECT customer, area, owner FROM tickets WHERE status NOT IN ('resolved', 'merged') AND owner IS NOT NULL \
             AND area IS NOT NULL AND customer IN ({list}) ORDER BY id"
        ));
        l.customers = customers;
        l.continuity.clear();
        // Newest last: it wins.
        for (customer, area, owner) in rows {
            l.continuity.insert((customer, area), owner);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("m:a@b"), lock_key("m:a@b"));
        assert_ne!(lock_key("m:a@b"), lock_key("c:a@b"));
        // Pinned: instances of different versions must agree on keys.
        assert_eq!(
            lock_key(""),
            i64::from_be_bytes(*b"\xe3\xb0\xc4\x42\x98\xfc\x1c\x14")
        );
    }
}
