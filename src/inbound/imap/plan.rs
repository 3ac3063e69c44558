//! Planning a drain: batches bounded by count and bytes, compact UID sets,
//! and the bookkeeping that isolates a message the server cannot deliver
//! (fetched alone after a failed batch, quarantined after repeated failures).

use crate::inbound::BATCH_BYTES;

use super::{ImapError, ImapSource};

/// A message whose fetch failed this many times is quarantined without its
/// bytes instead of being fetched again: the mailbox never stalls on it.
const POISON_AFTER: u32 = 3;

impl ImapSource {
    pub(super) fn has_suspect(&self, uidvalidity: u32, chunk: &[(u32, u32)]) -> bool {
        let map = self.suspects.lock().unwrap_or_else(|p| p.into_inner());
        chunk.iter().any(|c| map.contains_key(&(uidvalidity, c.0)))
    }

    /// Records a failed fetch against every UID it asked for.
    pub(super) fn suspect(&self, uidvalidity: u32, uids: &[u32], e: &ImapError) {
        let mut map = self.suspects.lock().unwrap_or_else(|p| p.into_inner());
        for uid in uids {
            let entry = map.entry((uidvalidity, *uid)).or_insert((0, String::new()));
            entry.0 += 1;
            entry.1 = e.to_string();
        }
    }

    /// Drops the failure counts of everything committed up to `last_uid`, and of
    /// other UIDVALIDITYs: the map stays as small as the failures in flight.
    pub(super) fn forget_suspects(&self, uidvalidity: u32, last_uid: u32) {
        let mut map = self.suspects.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|(v, uid), _| *v == uidvalidity && *uid > last_uid);
    }

    #[cfg(test)]
    fn suspect_count(&self) -> usize {
        self.suspects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// UIDs of this chunk that failed too often, with the reason to quarantine them.
    pub(super) fn poisoned(&self, uidvalidity: u32, chunk: &[(u32, u32)]) -> Vec<(u32, String)> {
        let map = self.suspects.lock().unwrap_or_else(|p| p.into_inner());
        chunk
            .iter()
            .filter_map(|c| {
                let (n, err) = map.get(&(uidvalidity, c.0))?;
                (*n >= POISON_AFTER).then(|| {
                    (
                        c.0,
                        format!(
                            "the IMAP server's response for UID {} (UIDVALIDITY {uidvalidity}) could not be read \
                             {n} times (last: {err}); the mail was left on the server",
                            c.0
                        ),
                    )
                })
            })
            .collect()
    }
}

/// Splits a listing into batches bounded by count and by bytes; a message
/// bigger than the byte bound travels alone.
pub(super) fn chunks(listing: &[(u32, u32)], max_items: usize) -> Vec<&[(u32, u32)]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (i, &(_, size)) in listing.iter().enumerate() {
        let n = i - start;
        if n > 0 && (n >= max_items.max(1) || bytes + size as usize > BATCH_BYTES) {
            out.push(&listing[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size as usize;
    }
    if start < listing.len() {
        out.push(&listing[start..]);
    }
    out
}

/// A compact UID set: `1:5,7,9:12` for sorted or unsorted UIDs.
pub(super) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8, 9, 12]), "1:3,5,7:9,12");
        assert_eq!(uid_set(&[9, 1, 2]), "1:2,9");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn failure_counts_are_pruned_once_committed() {
        let mut ib = crate::config::InboundConfig::new("t", crate::config::InboundKind::Imap);
        ib.server.host = Some("127.0.0.1".into());
        ib.server.tls = Some(crate::config::TlsMode::None);
        let src = ImapSource::from_config(&ib, "inbound[0]".into()).expect("source");
        let e = ImapError::Protocol("broken".into());
        src.suspect(7, &[3, 4, 5], &e);
        src.suspect(6, &[9], &e);
        assert_eq!(src.suspect_count(), 4);
        src.forget_suspects(7, 4);
        assert_eq!(
            src.suspect_count(),
            1,
            "only UID 5 of the current UIDVALIDITY is left"
        );
        assert!(src.has_suspect(7, &[(5, 1)]));
    }

    #[test]
    fn chunks_respect_count_and_bytes() {
        let listing: Vec<(u32, u32)> = (1..=10).map(|u| (u, 1000)).collect();
        let c = chunks(&listing, 4);
        assert_eq!(c.iter().map(|c| c.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
        let big = BATCH_BYTES as u32;
        let listing = vec![(1, 10), (2, big), (3, 10), (4, 10)];
        let c = chunks(&listing, 100);
        assert_eq!(c.iter().map(|c| c.len()).collect::<Vec<_>>(), vec![1, 1, 2]);
    }
}
