//! How one process writes SQLite: its writers queue in order (`WriteGate`),
//! and `serve` writes on a pool of one connection (`Store::writer`) whose
//! page cache stays valid and whose commits are fsynced.

use std::sync::Arc;

use super::{Pool, SqliteUse, Store};
use crate::error::Result;

/// SQLite writes one transaction at a time. The writers of one process queue
/// here, in order, rather than in SQLite's busy handler, which sleeps 1, 2,
/// 5, 10… ms between tries: a mail handed over by `ingest -` that met the
/// outbox worker's write waited 10-15 ms instead of about one. Taken before
/// a connection, so a waiting writer holds none. None on PostgreSQL.
/// `Store::begin` takes it, and so does each write outside a transaction
/// (`gate.enter()` before the statement); a write that did not would still be
/// correct, waiting in SQLite's busy handler instead.
#[derive(Clone, Default)]
pub(super) struct WriteGate(pub(super) Option<Arc<tokio::sync::Mutex<()>>>);

/// A writer's place at the gate, held until its transaction ends.
pub(crate) type GateGuard = Option<tokio::sync::OwnedMutexGuard<()>>;

impl Store {
    /// `serve`'s writer, for work that answers someone who then forgets the
    /// mail (`ingest -`, the MTA behind it): each commit is on the disk when it
    /// returns. On SQLite a second pool, of one connection with
    /// synchronous=FULL, to the same file and in the same write queue. SQLite
    /// drops a connection's page cache whenever another connection wrote; with
    /// the frequent writes on this one (piped mail, the outbox worker) a mail's
    /// transaction finds its pages in memory. On PostgreSQL this store (a
    /// commit there is durable already).
    pub async fn writer(&self, url: &str) -> Result<Store> {
        match &self.pool {
            Pool::Sqlite(_) => {
                let writer = Store::connect(url, 1, SqliteUse::Writer).await?;
                Ok(Store {
                    gate: self.gate.clone(),
                    ..writer
                })
            }
            Pool::Postgres(_) => Ok(self.clone()),
        }
    }
}

impl WriteGate {
    pub(super) async fn enter(&self) -> GateGuard {
        match &self.0 {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn synchronous(store: &Store) -> i64 {
        let Pool::Sqlite(p) = &store.pool else {
            panic!("sqlite")
        };
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(p)
            .await
            .expect("pragma")
    }

    #[tokio::test]
    async fn the_writer_fsyncs_its_commits_and_queues_with_the_main_pool() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("m.db").display());
        // One connection, so a writer waiting on it would starve every reader.
        let main = Store::connect(&url, 1, SqliteUse::Long)
            .await
            .expect("main");
        main.migrate().await.expect("migrate");
        let writer = main.writer(&url).await.expect("writer");
        // SQLite's synchronous levels: 1 = NORMAL, 2 = FULL.
        assert_eq!(
            synchronous(&writer).await,
            2,
            "the writer's commits are fsynced"
        );
        assert_eq!(synchronous(&main).await, 1, "the main pool keeps NORMAL");
        // One queue: a writer of the main pool waits for the open transaction,
        // and waits at the gate, holding no connection (in SQLite's busy handler
        // it would hold the main pool's only one, and the read below would wait).
        let open = writer.begin().await.expect("begin");
        let waiting = tokio::spawn({
            let main = main.clone();
            async move { main.begin().await.map(|_| ()) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "entered while the other wrote");
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            main.list_tickets(&Default::default()),
        )
        .await;
        assert!(
            matches!(read, Ok(Ok(_))),
            "a read waited behind the queued writer"
        );
        open.commit().await.expect("commit");
        waiting.await.expect("join").expect("then it enters");
        writer.close().await;
        main.close().await;
    }
}
