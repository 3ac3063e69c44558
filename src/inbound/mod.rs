//! Where raw messages come from. Every source hands `Inbound` items to the
//! pipeline in bounded batches and learns the outcomes after commit. Must not
//! import `outbound`, `digest` or `server`.

pub mod files;
pub mod handoff;
pub mod imap;
pub mod maildir;
pub mod poll;
mod report;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::pipeline::{Inbound, Outcome, Pipeline, Prepared};
use crate::store::Store;

pub use report::{
    LeaseState, SourceReport, SourceState, Unreported, record_notify_to_commit, record_sync_lag,
};

/// A batch closes at this many bytes of raw mail even if it has fewer messages
/// than the configured batch size, to bound memory.
pub const BATCH_BYTES: usize = 2 * 1024 * 1024;

/// Groups items into batches bounded by count and bytes.
pub struct Batcher {
    max_items: usize,
    items: Vec<Inbound>,
    bytes: usize,
}

impl Batcher {
    pub fn new(max_items: usize) -> Batcher {
        Batcher {
            max_items: max_items.max(1),
            items: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds an item; returns true when the batch should be processed now.
    pub fn push(&mut self, item: Inbound) -> bool {
        self.bytes += item.raw.len();
        self.items.push(item);
        self.items.len() >= self.max_items || self.bytes >= BATCH_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn take(&mut self) -> Vec<Inbound> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }
}

/// A batch prepared ahead, with what its reader tagged each message with.
pub type Ahead<T, E> = std::result::Result<(Vec<T>, Prepared), E>;

/// Reads and prepares (parses) batches on a blocking thread while the caller
/// commits the previous ones: the Maildir source and `ingest FILE…` use a
/// second core this way. `read` hands each message to `push` with a tag (a
/// path, say) and stops early when `push` returns false (the receiver is
/// gone). A slot in the channel is reserved before a batch is read, so at
/// most three batches are in memory: one committing, two prepared. When
/// `read` fails, the batch in hand is sent first, then the error.
pub fn prepare_ahead<T, E>(
    pipeline: Arc<Pipeline>,
    batch_size: usize,
    read: impl FnOnce(&mut dyn FnMut(Inbound, T) -> bool) -> std::result::Result<(), E> + Send + 'static,
) -> (mpsc::Receiver<Ahead<T, E>>, tokio::task::JoinHandle<()>)
where
    T: Send + 'static,
    E: Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Ahead<T, E>>(2);
    let runtime = tokio::runtime::Handle::current();
    let reader = tokio::task::spawn_blocking(move || {
        let mut slot = runtime.block_on(tx.reserve()).ok();
        let mut batcher = Batcher::new(batch_size);
        let mut tags = Vec::new();
        let result = read(&mut |item, tag| {
            tags.push(tag);
            if batcher.push(item) {
                let Some(permit) = slot.take() else {
                    return false;
                };
                permit.send(Ok((
                    std::mem::take(&mut tags),
                    pipeline.prepare(batcher.take()),
                )));
                slot = runtime.block_on(tx.reserve()).ok();
            }
            slot.is_some()
        });
        if !batcher.is_empty()
            && let Some(permit) = slot.take()
        {
            permit.send(Ok((tags, pipeline.prepare(batcher.take()))));
            slot = runtime.block_on(tx.reserve()).ok();
        }
        if let (Err(e), Some(permit)) = (result, slot) {
            permit.send(Err(e));
        }
    });
    (rx, reader)
}

/// Commits the batches `prepare_ahead` sends, in order, and hands each one's
/// tags and outcomes to `committed` (false: stop after this batch). Stops at
/// the first error, the reader's or a commit's, and waits for the reader
/// before it returns. Returns how many messages were committed.
pub async fn commit_ahead<T>(
    pipeline: &Pipeline,
    store: &Store,
    mut rx: mpsc::Receiver<Ahead<T, Error>>,
    reader: tokio::task::JoinHandle<()>,
    clock: fn() -> DateTime<Utc>,
    mut committed: impl AsyncFnMut(Vec<T>, Vec<Outcome>) -> bool,
) -> Result<usize> {
    let mut done = 0;
    let mut result = Ok(());
    while let Some(ahead) = rx.recv().await {
        let (tags, prepared) = match ahead {
            Ok(a) => a,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let outcomes = match pipeline.commit(store, &prepared, clock()).await {
            Ok(o) => o,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        done += prepared.len();
        if !committed(tags, outcomes).await {
            break;
        }
    }
    drop(rx);
    let _ = reader.await;
    result.map(|()| done)
}

/// A message read with a size limit: whole, or (over the limit) only its
/// header block, so a huge file or pipe never sits in memory.
pub enum Capped {
    Whole(Vec<u8>),
    TooBig { size: u64, head: Vec<u8> },
}

impl Capped {
    /// The size of a message over the limit.
    pub fn too_big(&self) -> Option<u64> {
        match self {
            Capped::Whole(_) => None,
            Capped::TooBig { size, .. } => Some(*size),
        }
    }

    /// The message as the pipeline takes it. One over the limit is its header,
    /// to be quarantined with the reason; `kept` says where the rest went.
    pub fn into_inbound(self, origin: String, limit: usize, kept: &str) -> Inbound {
        match self {
            Capped::Whole(raw) => Inbound::new(origin, raw),
            Capped::TooBig { size, head } => {
                let mut item = Inbound::new(origin, head);
                item.rejected = Some(too_big_reason(size, limit, kept));
                item
            }
        }
    }
}

/// What a command keeps of a message over the limit (`Capped::into_inbound`).
pub const HEADER_KEPT: &str = "only its header is kept here";

/// At most this much of an oversized message is kept: its header block.
const HEAD_LIMIT: usize = 256 * 1024;

/// The header block at the start of `buf` (up to and including the blank
/// line), bounded by `HEAD_LIMIT`.
fn header_block(buf: &[u8]) -> Vec<u8> {
    let window = &buf[..buf.len().min(HEAD_LIMIT)];
    let end = window
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| window.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(window.len());
    window[..end].to_vec()
}

/// Reads `r` up to `limit` bytes; past that, keeps the header block and only
/// counts the rest (read and dropped in small steps).
pub fn read_capped(mut r: impl std::io::Read, limit: usize) -> std::io::Result<Capped> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut size: u64 = 0;
    let mut head: Option<Vec<u8>> = None;
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        size += n as u64;
        match &head {
            Some(_) => {}
            None if buf.len() + n > limit => {
                buf.extend_from_slice(&chunk[..n.min(HEAD_LIMIT)]);
                head = Some(header_block(&buf));
                buf = Vec::new();
            }
            None => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(match head {
        Some(head) => Capped::TooBig { size, head },
        None => Capped::Whole(buf),
    })
}

/// Reads a file with a size limit, looking at its size first: an oversized
/// file is never read past its header block.
pub fn read_file_capped(path: &std::path::Path, limit: usize) -> std::io::Result<Capped> {
    let f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    if size > limit as u64 {
        let mut head = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, HEAD_LIMIT as u64), &mut head)?;
        return Ok(Capped::TooBig {
            size,
            head: header_block(&head),
        });
    }
    read_capped(f, limit)
}

/// The quarantine reason of a message over `mailroom.max_message_size`.
pub fn too_big_reason(size: u64, limit: usize, kept: &str) -> String {
    format!(
        "message is {size} bytes, over the limit of {limit} bytes (mailroom.max_message_size); {kept}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_input_keeps_only_its_header() {
        let mail = format!(
            "From: a@b.test\r\nSubject: big\r\n\r\n{}",
            "x".repeat(500_000)
        );
        match read_capped(mail.as_bytes(), 100_000).unwrap() {
            Capped::TooBig { size, head } => {
                assert_eq!(size, mail.len() as u64);
                assert_eq!(head, b"From: a@b.test\r\nSubject: big\r\n\r\n");
            }
            Capped::Whole(_) => panic!("not capped"),
        }
        match read_capped(&b"From: a@b.test\n\nsmall"[..], 100).unwrap() {
            Capped::Whole(b) => assert_eq!(b, b"From: a@b.test\n\nsmall"),
            Capped::TooBig { .. } => panic!("capped"),
        }
    }
}
