//! Listing and fetching new mail by UID: a batch with BODY.PEEK[] (nothing is
//! marked read by fetching), a message over the size limit as its header only.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use futures_util::TryStreamExt;

use crate::pipeline::Inbound;

use super::connect::{ImapSession, timed};
use super::plan::uid_set;
use super::{ImapError, ImapSource};

impl ImapSource {
    /// UIDs above `last_uid` with their sizes, ascending. `n:*` also returns
    /// the last message when n is past the end, hence the filter.
    pub(super) async fn list_new(
        &self,
        session: &mut ImapSession,
        last_uid: u32,
    ) -> Result<Vec<(u32, u32)>, ImapError> {
        let from = last_uid.saturating_add(1);
        let mut out: Vec<(u32, u32)> = timed("UID FETCH", async {
            let mut s = session
                .uid_fetch(format!("{from}:*"), "(UID RFC822.SIZE)")
                .await?;
            let mut out = Vec::new();
            while let Some(f) = s.try_next().await? {
                if let Some(uid) = f.uid
                    && uid > last_uid
                {
                    out.push((uid, f.size.unwrap_or(0)));
                }
            }
            Ok::<_, async_imap::error::Error>(out)
        })
        .await?;
        out.sort_unstable();
        out.dedup_by_key(|c| c.0);
        Ok(out)
    }

    /// Fetches one batch. A message over the size limit is fetched as its
    /// header only, and the pipeline quarantines it with that header.
    pub(super) async fn fetch(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        chunk: &[(u32, u32)],
        max_size: u64,
    ) -> Result<(Vec<Inbound>, Option<DateTime<FixedOffset>>, Vec<u32>), ImapError> {
        let poisoned = self.poisoned(uidvalidity, chunk);
        let is_big = |size: u32| u64::from(size) > max_size;
        let fetchable = |c: &&(u32, u32)| !poisoned.iter().any(|(u, _)| *u == c.0);
        let big: Vec<u32> = chunk
            .iter()
            .filter(fetchable)
            .filter(|c| is_big(c.1))
            .map(|c| c.0)
            .collect();
        let normal: Vec<u32> = chunk
            .iter()
            .filter(fetchable)
            .filter(|c| !is_big(c.1))
            .map(|c| c.0)
            .collect();
        let (bodies, newest) = self
            .fetch_bodies(session, uidvalidity, &normal, &big)
            .await?;
        let (items, missing) = self.items(uidvalidity, chunk, &poisoned, bodies, max_size);
        Ok((items, newest, missing))
    }

    /// The whole mails `normal` and the headers of `big`, by UID, and the
    /// newest INTERNALDATE among them.
    async fn fetch_bodies(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        normal: &[u32],
        big: &[u32],
    ) -> Result<(HashMap<u32, Vec<u8>>, Option<DateTime<FixedOffset>>), ImapError> {
        let mut bodies: HashMap<u32, Vec<u8>> = HashMap::with_capacity(normal.len() + big.len());
        let mut newest: Option<DateTime<FixedOffset>> = None;
        for (uids, query, header_only) in [
            (normal, "(UID INTERNALDATE BODY.PEEK[])", false),
            (big, "(UID BODY.PEEK[HEADER])", true),
        ] {
            if uids.is_empty() {
                continue;
            }
            let fetched = timed("UID FETCH", async {
                let mut s = session.uid_fetch(uid_set(uids), query).await?;
                // Copied out one response at a time, so a batch is held once.
                while let Some(f) = s.try_next().await? {
                    let Some(uid) = f.uid else { continue };
                    let data = if header_only { f.header() } else { f.body() };
                    if let Some(d) = data {
                        bodies.insert(uid, d.to_vec());
                    }
                    if let Some(t) = f.internal_date() {
                        newest = Some(newest.map_or(t, |n| n.max(t)));
                    }
                }
                Ok::<_, async_imap::error::Error>(())
            })
            .await;
            if let Err(e) = fetched {
                self.suspect(uidvalidity, uids, &e);
                return Err(e);
            }
        }
        Ok((bodies, newest))
    }

    /// The batch's items in `chunk`'s order (a poisoned message as its
    /// quarantine row, a big one as its header), and the UIDs the answer left out.
    fn items(
        &self,
        uidvalidity: u32,
        chunk: &[(u32, u32)],
        poisoned: &[(u32, String)],
        mut bodies: HashMap<u32, Vec<u8>>,
        max_size: u64,
    ) -> (Vec<Inbound>, Vec<u32>) {
        let is_big = |size: u32| u64::from(size) > max_size;
        let mut items = Vec::with_capacity(chunk.len());
        let mut missing = Vec::new();
        for &(uid, size) in chunk {
            let origin = format!("imap:{}:{uidvalidity}:{uid}", self.name);
            if let Some((_, reason)) = poisoned.iter().find(|(u, _)| *u == uid) {
                // The mail stays on the server; the quarantine row says where.
                items.push(Inbound {
                    raw: format!("{origin}: {reason}").into_bytes(),
                    origin,
                    rejected: Some(reason.clone()),
                    adopt: None,
                });
                continue;
            }
            match bodies.remove(&uid) {
                Some(raw) => items.push(Inbound {
                    origin,
                    raw,
                    rejected: is_big(size).then(|| {
                        format!(
                            "message is {size} bytes, over the limit of {max_size} bytes \
                             (mailroom.max_message_size); only its header was fetched and is kept here"
                        )
                    }),
                    adopt: None,
                }),
                // No body in the answer: expunged by another client since the
                // listing (the next listing will not have it), or a server
                // fault. Never skipped: fetched again, quarantined after
                // repeated failures.
                None => {
                    // The target this line had in sync.rs, which `MAILROOM_LOG` may name.
                    tracing::warn!(target: "mailroom::inbound::imap::sync", source = %self.name, uid, "the FETCH answer has no body for this message; it is fetched again");
                    let e = ImapError::Protocol(format!("the FETCH answer carried no body for UID {uid}"));
                    self.suspect(uidvalidity, &[uid], &e);
                    missing.push(uid);
                }
            }
        }
        (items, missing)
    }
}
