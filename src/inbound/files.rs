//! Files and stdin as a source (`mailroom ingest FILE… | -`): read with the
//! size limit, batched, committed; the command only prints the outcomes.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::pipeline::{Outcome, Pipeline};
use crate::store::Store;

use super::{Batcher, HEADER_KEPT, commit_ahead, prepare_ahead, read_capped, read_file_capped};

/// The instant a batch is committed at (the CLI's clock: `MAILROOM_NOW` in
/// debug builds).
pub type Clock = fn() -> DateTime<Utc>;

/// `ingest FILE…` like the Maildir path: the next batches are read and parsed
/// on a blocking thread (another core) while the current one commits; at most
/// three batches are in memory. A file that cannot be read ends the run after
/// the batches before it are committed.
pub async fn ingest_files(
    pipeline: Arc<Pipeline>,
    store: &Store,
    batch_size: usize,
    files: Vec<PathBuf>,
    clock: Clock,
    on_outcome: &mut dyn FnMut(&Outcome),
) -> Result<()> {
    let limit = pipeline.max_message_size();
    let (rx, reader) = prepare_ahead(pipeline.clone(), batch_size, move |push| {
        for f in files {
            let read = read_file_capped(&f, limit).map_err(|e| Error::io(&f, e))?;
            if !push(
                read.into_inbound(f.display().to_string(), limit, HEADER_KEPT),
                (),
            ) {
                break; // the committer stopped
            }
        }
        Ok(())
    });
    commit_ahead(&pipeline, store, rx, reader, clock, async |_, outcomes| {
        outcomes.iter().for_each(&mut *on_outcome);
        true
    })
    .await
    .map(|_| ())
}

/// `ingest` with `-` among its names: read one after the other (stdin cannot
/// be read ahead), committed in batches. Returns the size of a piped mail over
/// `max_message_size` (its header was quarantined), for the exit code.
pub async fn ingest_in_order(
    pipeline: &Pipeline,
    store: &Store,
    batch_size: usize,
    files: Vec<PathBuf>,
    clock: Clock,
    on_outcome: &mut dyn FnMut(&Outcome),
) -> Result<Option<u64>> {
    let mut batcher = Batcher::new(batch_size);
    let total = files.len();
    let limit = pipeline.max_message_size();
    let mut stdin_too_big = None;
    for (i, f) in files.into_iter().enumerate() {
        let stdin = f.as_os_str() == "-";
        // The size is looked at before the message is read whole.
        let read = if stdin {
            read_capped(std::io::stdin().lock(), limit).map_err(|e| Error::io("stdin", e))?
        } else {
            read_file_capped(&f, limit).map_err(|e| Error::io(&f, e))?
        };
        if stdin {
            stdin_too_big = stdin_too_big.or(read.too_big());
        }
        let full = batcher.push(read.into_inbound(f.display().to_string(), limit, HEADER_KEPT));
        if full || i + 1 == total {
            for o in pipeline
                .process_batch(store, batcher.take(), clock())
                .await?
            {
                on_outcome(&o);
            }
        }
    }
    Ok(stdin_too_big)
}
