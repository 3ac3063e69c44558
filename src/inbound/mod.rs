//! Where raw messages come from. Every source hands `Inbound` items to the
//! pipeline in bounded batches and learns the outcomes after commit.

pub mod imap;
pub mod maildir;

use crate::pipeline::Inbound;

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
