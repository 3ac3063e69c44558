//! One transaction per batch, and what happens when it fails: run again when
//! PostgreSQL broke a deadlock with it, else each message alone (`isolate`),
//! where one that still fails is quarantined. One poison mail never stalls a
//! mailbox; a database that is down stops the source instead.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::mail::parse::ParsedMail;
use crate::store::{BatchKeys, Store, codec};

use super::source::{Inbound, Outcome, OutcomeKind, Prepared, SourcePosition};
use super::{Pipeline, fault, outgoing, settle};

/// How often a batch runs when PostgreSQL keeps choosing it to break deadlocks.
const CONFLICT_ATTEMPTS: u32 = 5;

/// The slice of a prepared batch one transaction handles (all of it, or one
/// message when a failing batch is isolated).
#[derive(Clone, Copy)]
pub(super) struct Part<'a> {
    items: &'a [Inbound],
    parsed: &'a [std::result::Result<ParsedMail, String>],
    packed: &'a [codec::Stored],
    keys: &'a BatchKeys,
    position: Option<&'a SourcePosition>,
}

impl Pipeline {
    /// Processes `batch` in one transaction (see `commit`).
    pub async fn process_batch(
        &self,
        store: &Store,
        batch: Vec<Inbound>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let prepared = self.prepare(batch);
        self.commit(store, &prepared, now).await
    }

    /// Processes one message in one transaction and returns the error instead
    /// of quarantining on failure: for operators' releases, where a failure
    /// must leave everything as it was.
    pub async fn process_once(
        &self,
        store: &Store,
        item: Inbound,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let prepared = self.prepare(vec![item]);
        let part = Part {
            items: &prepared.items,
            parsed: &prepared.parsed,
            packed: &prepared.packed,
            keys: &prepared.keys,
            position: None,
        };
        let mut out = self.try_batch(store, part, now).await?;
        out.pop()
            .ok_or_else(|| crate::Error::Invalid("no outcome for the message".into()))
    }

    /// Decides and commits a prepared batch in one transaction. If the batch fails
    /// for a reason other than the database being unavailable, each message is
    /// retried alone (`isolate`): one poison mail never stalls a mailbox.
    pub async fn commit(
        &self,
        store: &Store,
        batch: &Prepared,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let whole = Part {
            items: &batch.items,
            parsed: &batch.parsed,
            packed: &batch.packed,
            keys: &batch.keys,
            position: batch.position.as_ref(),
        };
        match self.try_batch_again(store, whole, now).await {
            Ok(v) => Ok(v),
            Err(e) if e.is_temporary() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, size = batch.items.len(), "batch failed; isolating messages");
                self.isolate(store, batch, now).await
            }
        }
    }

    /// Commits each message of a failed batch alone; one that still fails is
    /// quarantined with the error. The source position is written last.
    async fn isolate(
        &self,
        store: &Store,
        batch: &Prepared,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let mut out = Vec::with_capacity(batch.items.len());
        let each = batch.items.iter().zip(&batch.parsed).zip(&batch.packed);
        for ((item, parsed), packed) in each {
            let one = std::slice::from_ref(parsed);
            let keys = self.prepare.batch_keys(one);
            let part = Part {
                items: std::slice::from_ref(item),
                parsed: one,
                packed: std::slice::from_ref(packed),
                keys: &keys,
                position: None,
            };
            match self.try_batch_again(store, part, now).await {
                Ok(mut v) => out.append(&mut v),
                Err(e) if e.is_temporary() => return Err(e),
                Err(e) => out.push(self.quarantine_one(store, item, packed, e, now).await?),
            }
        }
        // Every message is now stored or quarantined; a crash before this
        // line only means the source offers them again as duplicates.
        if let Some(p) = &batch.position {
            let mut tx = store.begin().await?;
            tx.set_source_position(&p.source, p.uidvalidity, p.last_uid, now)
                .await?;
            tx.commit().await?;
        }
        Ok(out)
    }

    /// Keeps a message that could not be processed, with the error as reason.
    async fn quarantine_one(
        &self,
        store: &Store,
        item: &Inbound,
        packed: &codec::Stored,
        error: crate::Error,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let reason = format!("processing failed: {error}");
        tracing::error!(origin = %item.origin, %reason, "quarantining message");
        let raw = if packed.bytes.is_empty() {
            item.raw.clone()
        } else {
            codec::unpack(packed.codec, &packed.bytes)?
        };
        let mut tx = store.begin().await?;
        tx.quarantine(&item.origin, &reason, &raw, now).await?;
        tx.commit().await?;
        Ok(Outcome {
            file: item.origin.clone(),
            outcome: OutcomeKind::Quarantined,
            ticket_ref: None,
            reason: Some(reason),
        })
    }

    /// `try_batch`, run again when PostgreSQL chose it to break a deadlock
    /// with another instance's batch (store/contention.rs makes that rare).
    async fn try_batch_again(
        &self,
        store: &Store,
        part: Part<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let mut attempt = 1;
        loop {
            match self.try_batch(store, part, now).await {
                Err(e) if e.is_conflict() && attempt < CONFLICT_ATTEMPTS => {
                    tracing::info!(error = %e, attempt, "batch conflicted with another instance's; running it again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Loads what the batch reads in a few queries, decides message by message
    /// in memory, writes in a few statements, commits.
    async fn try_batch(
        &self,
        store: &Store,
        part: Part<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let Part {
            items,
            parsed,
            packed,
            keys,
            position,
        } = part;
        let mut tx = store.begin().await?;
        let result = async {
            let rate_since = now - chrono::Duration::hours(outgoing::RATE_WINDOW_HOURS);
            let loaded = tx.load_batch(keys, rate_since, now).await?;
            let (outcomes, writes) = settle::settle(&mut tx, loaded, now, |u| {
                let mut outcomes: Vec<Outcome> = Vec::with_capacity(items.len());
                for ((item, p), raw) in items.iter().zip(parsed).zip(packed) {
                    // A panic deciding one message leaves the batch's view half
                    // updated: the whole batch is rolled back and retried message
                    // by message (`isolate`), where this one is quarantined.
                    let one = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.process(u, item, p, raw)
                    }));
                    match one {
                        Ok(o) => outcomes.push(o),
                        Err(panic) => {
                            return Err(crate::Error::Internal(format!(
                                "{} while processing {}",
                                fault::describe(&*panic),
                                item.origin
                            )));
                        }
                    }
                }
                Ok(outcomes)
            })
            .await?;
            tx.write_batch(&writes, now).await?;
            if let Some(p) = position {
                tx.set_source_position(&p.source, p.uidvalidity, p.last_uid, now)
                    .await?;
            }
            Ok::<_, crate::Error>(outcomes)
        }
        .await;
        match result {
            Ok(outcomes) => {
                tx.commit().await?;
                Ok(outcomes)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}
