//! Draining a folder by UID. New mail is listed with its size, fetched in
//! batches with BODY.PEEK[] (fetch.rs; nothing is marked read by fetching),
//! prepared on a blocking thread while the previous batch commits, and
//! committed together with the folder position. Only after the commit is a
//! message moved to the processed folder or flagged \Seen; a crash in between
//! is repaired on the next connect (`sweep`).

use std::time::Instant;

use chrono::{DateTime, FixedOffset, Utc};
use futures_util::TryStreamExt;
use tokio::sync::watch;

use crate::pipeline::{Inbound, Outcome, Prepared, SourcePosition};

use super::connect::{ImapSession, timed};
use super::plan::{chunks, uid_set};
use super::{Context, ImapError, ImapSource};

/// The selected folder and where its committed position is.
pub(super) struct Folder {
    pub uidvalidity: u32,
    pub last_uid: u32,
    pub can_idle: bool,
    can_move: bool,
    uidplus: bool,
    /// Committed-but-not-moved mail has been looked for on this connection.
    swept: bool,
}

/// A batch whose transaction is running while the next one is fetched.
struct InFlight {
    uids: Vec<u32>,
    /// The position this batch commits (never past a message that is
    /// neither stored nor quarantined).
    last_uid: u32,
    newest: Option<DateTime<FixedOffset>>,
    commit: tokio::task::JoinHandle<crate::Result<Vec<Outcome>>>,
}

impl InFlight {
    /// Starts the commit of a prepared batch: `chunk`'s messages but the
    /// `missing` ones, up to the position `last_uid`.
    fn start(
        ctx: &Context,
        chunk: &[(u32, u32)],
        missing: &[u32],
        last_uid: u32,
        newest: Option<DateTime<FixedOffset>>,
        prepared: Prepared,
    ) -> InFlight {
        let (pipeline, store) = (ctx.pipeline.clone(), ctx.store.clone());
        InFlight {
            uids: chunk
                .iter()
                .map(|c| c.0)
                .filter(|u| !missing.contains(u))
                .collect(),
            last_uid,
            newest,
            commit: tokio::spawn(
                async move { pipeline.commit(&store, &prepared, Utc::now()).await },
            ),
        }
    }
}

impl ImapSource {
    /// Selects the folder and resumes from the stored position. A changed
    /// UIDVALIDITY means the folder was recreated: it is read again from the
    /// start, and Message-ID + content de-duplication keeps every mail once.
    pub(super) async fn select(
        &self,
        session: &mut ImapSession,
        ctx: &Context,
    ) -> Result<Folder, ImapError> {
        let caps = timed("CAPABILITY", session.capabilities()).await?;
        let mailbox = timed("SELECT", session.select(&self.folder))
            .await
            .map_err(|e| ImapError::Protocol(format!("cannot select {:?}: {e}", self.folder)))?;
        let uidvalidity = mailbox.uid_validity.ok_or_else(|| {
            ImapError::Protocol(format!(
                "the server sent no UIDVALIDITY for {:?}",
                self.folder
            ))
        })?;
        let last_uid = match ctx.store.source_position(&self.position_key).await? {
            Some((v, uid)) if v == i64::from(uidvalidity) => u32::try_from(uid).unwrap_or(0),
            Some((v, uid)) => {
                tracing::warn!(source = %self.name, folder = %self.folder, old = v, new = uidvalidity,
                    old_last_uid = uid,
                    "UIDVALIDITY changed (folder recreated): reading it again; duplicates are recognised and skipped");
                0
            }
            None => 0,
        };
        if let Some(dest) = &self.processed_folder {
            // Creating an existing folder fails with NO [ALREADYEXISTS]: fine.
            if let Err(e) = timed("CREATE", session.create(dest)).await {
                tracing::debug!(source = %self.name, folder = %dest, error = %e, "processed folder not created");
            }
        }
        ctx.health.connected(&self.name, uidvalidity);
        Ok(Folder {
            uidvalidity,
            last_uid,
            can_idle: caps.has_str("IDLE"),
            can_move: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
            swept: false,
        })
    }

    /// Processes everything above the committed UID; returns how many
    /// messages were committed. `stop` is checked between batches: the batch
    /// in hand is always committed first.
    pub(super) async fn drain(
        &self,
        session: &mut ImapSession,
        folder: &mut Folder,
        ctx: &Context,
        stop: &mut watch::Receiver<bool>,
        notified: Option<Instant>,
        on_outcome: &mut (dyn FnMut(&Outcome) + Send),
    ) -> Result<usize, ImapError> {
        if !folder.swept {
            self.sweep(session, folder).await?;
            folder.swept = true;
        }
        let mut total = 0;
        loop {
            let listing = self.list_new(session, folder.last_uid).await?;
            if listing.is_empty() {
                return Ok(total);
            }
            let mut inflight: Option<InFlight> = None;
            // A batch that failed to fetch before is retried one message at a
            // time, so the one the server can't deliver is found and set aside.
            let plan = self.plan(folder, &listing, ctx.batch_size);
            // The first UID of this listing that is neither stored nor
            // quarantined yet: no later batch may move the position past it.
            let mut hold: Option<u32> = None;
            for chunk in plan {
                if *stop.borrow() {
                    break;
                }
                let fetched = self
                    .fetch(session, folder.uidvalidity, chunk, ctx.max_message_size)
                    .await;
                let (items, newest, missing) = match fetched {
                    Ok(f) => f,
                    Err(e) => {
                        // The batch already committing still counts; its move or
                        // flag waits for the next session (the connection is suspect).
                        if let Some(prev) = inflight.take() {
                            self.settle(folder, ctx, prev, notified, on_outcome).await?;
                        }
                        return Err(e);
                    }
                };
                let last_uid = position_after(&mut hold, &missing, chunk, folder.last_uid);
                let prepared = self.prepare(ctx, folder, items, last_uid).await?;
                let settled = match inflight.take() {
                    Some(prev) => Some(self.settle(folder, ctx, prev, notified, on_outcome).await?),
                    None => None,
                };
                // The next commit starts before the previous batch is moved or
                // flagged, so the database writer never waits for the server.
                inflight = Some(InFlight::start(
                    ctx, chunk, &missing, last_uid, newest, prepared,
                ));
                if let Some((n, uids)) = settled {
                    total += n;
                    if let Err(e) = self.after_commit(session, folder, &uids).await {
                        if let Some(prev) = inflight.take() {
                            self.settle(folder, ctx, prev, notified, on_outcome).await?;
                        }
                        return Err(e);
                    }
                }
            }
            if let Some(prev) = inflight.take() {
                total += self
                    .finish(session, folder, ctx, prev, notified, on_outcome)
                    .await?;
            }
            if *stop.borrow() {
                return Ok(total);
            }
        }
    }

    /// The listing in batches; a batch that failed to fetch before is split
    /// into single messages.
    fn plan<'a>(
        &self,
        folder: &Folder,
        listing: &'a [(u32, u32)],
        batch_size: usize,
    ) -> Vec<&'a [(u32, u32)]> {
        chunks(listing, batch_size)
            .into_iter()
            .flat_map(|c| {
                if self.has_suspect(folder.uidvalidity, c) {
                    c.chunks(1).collect()
                } else {
                    vec![c]
                }
            })
            .collect()
    }

    /// Prepares a fetched batch on a blocking thread, with the position
    /// `last_uid` it commits.
    async fn prepare(
        &self,
        ctx: &Context,
        folder: &Folder,
        items: Vec<Inbound>,
        last_uid: u32,
    ) -> Result<Prepared, ImapError> {
        let position = SourcePosition {
            source: self.position_key.clone(),
            uidvalidity: i64::from(folder.uidvalidity),
            last_uid: i64::from(last_uid),
        };
        let pipeline = ctx.pipeline.clone();
        tokio::task::spawn_blocking(move || pipeline.prepare(items).at_position(position))
            .await
            .map_err(|e| ImapError::Protocol(format!("preparing a batch: {e}")))
    }

    /// Waits for a batch's commit, then moves or flags its messages.
    async fn finish(
        &self,
        session: &mut ImapSession,
        folder: &mut Folder,
        ctx: &Context,
        batch: InFlight,
        notified: Option<Instant>,
        on_outcome: &mut (dyn FnMut(&Outcome) + Send),
    ) -> Result<usize, ImapError> {
        let (n, uids) = self
            .settle(folder, ctx, batch, notified, on_outcome)
            .await?;
        self.after_commit(session, folder, &uids).await?;
        Ok(n)
    }

    /// Waits for a batch's commit and reports its outcomes; returns how many
    /// and the batch's UIDs.
    async fn settle(
        &self,
        folder: &mut Folder,
        ctx: &Context,
        batch: InFlight,
        notified: Option<Instant>,
        on_outcome: &mut (dyn FnMut(&Outcome) + Send),
    ) -> Result<(usize, Vec<u32>), ImapError> {
        let InFlight {
            uids,
            last_uid,
            newest,
            commit,
        } = batch;
        let outcomes = commit
            .await
            .map_err(|e| ImapError::Protocol(format!("commit task: {e}")))??;
        folder.last_uid = folder.last_uid.max(last_uid);
        // Failure counts of committed (stored or quarantined) mail are done with.
        self.forget_suspects(folder.uidvalidity, folder.last_uid);
        ctx.committed.notify_one();
        ctx.health.ingested(&self.name, &outcomes);
        if let Some(t) = notified {
            super::super::record_notify_to_commit(&self.name, t.elapsed().as_secs_f64());
        }
        if let Some(newest) = newest {
            let lag = Utc::now().signed_duration_since(newest.with_timezone(&Utc));
            super::super::record_sync_lag(&self.name, lag.num_milliseconds() as f64 / 1000.0);
        }
        outcomes.iter().for_each(&mut *on_outcome);
        Ok((outcomes.len(), uids))
    }

    /// Mail at or below the committed UID that is still in the folder (or,
    /// without a processed folder, still unseen) was committed, but the move or
    /// flag was cut short (crash, lost connection): do it now.
    async fn sweep(&self, session: &mut ImapSession, folder: &Folder) -> Result<(), ImapError> {
        let query = match (&self.processed_folder, self.mark_seen) {
            _ if folder.last_uid == 0 => return Ok(()),
            (Some(_), _) => format!("UID 1:{}", folder.last_uid),
            (None, true) => format!("UID 1:{} UNSEEN", folder.last_uid),
            (None, false) => return Ok(()),
        };
        let found = timed("UID SEARCH", session.uid_search(query)).await?;
        let mut uids: Vec<u32> = found
            .into_iter()
            .filter(|u| *u <= folder.last_uid)
            .collect();
        if uids.is_empty() {
            return Ok(());
        }
        uids.sort_unstable();
        tracing::info!(source = %self.name, count = uids.len(),
            "finishing the move/flag of mail committed before the last disconnect");
        for part in uids.chunks(1000) {
            self.after_commit(session, folder, part).await?;
        }
        Ok(())
    }

    async fn after_commit(
        &self,
        session: &mut ImapSession,
        folder: &Folder,
        uids: &[u32],
    ) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        if let Some(dest) = &self.processed_folder {
            if folder.can_move {
                timed("UID MOVE", session.uid_mv(&set, dest)).await?;
            } else {
                // RFC 3501 without MOVE: copy, mark deleted, expunge exactly
                // these UIDs (UIDPLUS) so a user's own \Deleted mail is untouched.
                timed("UID COPY", session.uid_copy(&set, dest)).await?;
                store_flags(session, &set, "+FLAGS.SILENT (\\Deleted)").await?;
                if folder.uidplus {
                    timed("UID EXPUNGE", async {
                        let s = session.uid_expunge(&set).await?;
                        s.try_collect::<Vec<_>>().await
                    })
                    .await?;
                } else {
                    tracing::warn!(source = %self.name, "server lacks MOVE and UIDPLUS: using EXPUNGE");
                    timed("EXPUNGE", async {
                        let s = session.expunge().await?;
                        s.try_collect::<Vec<_>>().await
                    })
                    .await?;
                }
            }
        } else if self.mark_seen {
            store_flags(session, &set, "+FLAGS.SILENT (\\Seen)").await?;
        }
        Ok(())
    }
}

/// The position a batch commits: its last UID, but never past `hold`, the
/// first message of the listing left out of an answer so far. A message the
/// answer left out is fetched again (and set aside after repeated failures):
/// the position stops before it.
fn position_after(
    hold: &mut Option<u32>,
    missing: &[u32],
    chunk: &[(u32, u32)],
    committed: u32,
) -> u32 {
    if let Some(first) = missing.iter().min() {
        *hold = Some(hold.map_or(*first, |h| h.min(*first)));
    }
    match *hold {
        Some(first) => first.saturating_sub(1).max(committed),
        None => chunk.last().map(|c| c.0).unwrap_or(committed),
    }
}

async fn store_flags(session: &mut ImapSession, set: &str, flags: &str) -> Result<(), ImapError> {
    timed("UID STORE", async {
        let s = session.uid_store(set, flags).await?;
        s.try_collect::<Vec<_>>().await
    })
    .await?;
    Ok(())
}
