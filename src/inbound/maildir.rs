//! A local Maildir inbox. New mail is taken from `new/` (and from `cur/` when a
//! mail client moved it there unread); after the transaction commits, each file
//! is renamed into `cur/` with the Seen flag. A crash between commit and rename
//! only means the file is read again and reported as a duplicate. A file over
//! `max_message_size` is never read past its header block: it is quarantined
//! with that header and moved, untouched, to `.quarantine/` in the Maildir.

use std::collections::BinaryHeap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use crate::error::{Error, Result};
use crate::pipeline::{Inbound, Outcome, Pipeline};
use crate::store::Store;

use super::{HEADER_KEPT, commit_ahead, prepare_ahead, read_file_capped};

/// How many file names `drain` lists at a time (about 100 bytes each): a
/// backlog of a million files is read in chunks, each listing the directory
/// again for the next names in order.
const LISTING_CHUNK: usize = 10_000;

/// Where oversized files go (a Maildir++ folder name: mail clients show it).
pub const QUARANTINE_DIR: &str = ".quarantine";

#[derive(Clone)]
pub struct Maildir {
    pub name: String,
    pub path: PathBuf,
    listing_chunk: usize,
}

/// `LISTING_CHUNK`, or in debug builds (what the test suite runs)
/// MAILROOM_MAILDIR_CHUNK, so a test walks many chunks with a few files.
fn listing_chunk() -> usize {
    #[cfg(debug_assertions)]
    if let Some(n) = std::env::var("MAILROOM_MAILDIR_CHUNK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    LISTING_CHUNK
}

impl Maildir {
    pub fn new(name: &str, path: &Path) -> Maildir {
        Maildir {
            name: name.to_string(),
            path: path.to_path_buf(),
            listing_chunk: listing_chunk(),
        }
    }

    pub fn ensure_dirs(&self) -> Result<()> {
        for sub in ["new", "cur", "tmp"] {
            let d = self.path.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| Error::io(d, e))?;
        }
        Ok(())
    }

    /// Up to `max` files waiting to be processed whose names sort after
    /// `after`, oldest name first. A bounded heap keeps the `max` smallest
    /// names, so a backlog of any size costs the same memory.
    pub fn pending(&self, after: Option<&OsStr>, max: usize) -> Result<Vec<PathBuf>> {
        let mut heap: BinaryHeap<(OsString, PathBuf)> = BinaryHeap::with_capacity(max + 1);
        for sub in ["new", "cur"] {
            let dir = self.path.join(sub);
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(dir, e)),
            };
            for entry in rd {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                let name = entry.file_name();
                if name.as_encoded_bytes().starts_with(b".")
                    || after.is_some_and(|a| name.as_os_str() <= a)
                    || heap.len() == max && heap.peek().is_some_and(|(top, _)| name >= *top)
                {
                    continue;
                }
                if sub == "cur" && has_seen_flag(&name.to_string_lossy()) {
                    continue;
                }
                heap.push((name, entry.path()));
                if heap.len() > max {
                    heap.pop();
                }
            }
        }
        Ok(heap.into_sorted_vec().into_iter().map(|(_, p)| p).collect())
    }

    /// Moves a committed file to `cur/` with the Seen flag.
    pub fn mark_processed(&self, file: &Path) -> Result<()> {
        mark_processed(&self.path, file)
    }

    /// Processes everything pending now. A blocking thread reads and parses the
    /// next batch while the current one commits, and files move to `cur/` while
    /// the next batch commits: the two cores overlap file I/O, parsing and the
    /// database. `stop` is checked between batches.
    pub async fn drain(
        &self,
        pipeline: &Arc<Pipeline>,
        store: &Store,
        batch_size: usize,
        stop: &dyn Fn() -> bool,
        on_outcome: &mut dyn FnMut(&Outcome),
    ) -> Result<usize> {
        self.ensure_dirs()?;
        let chunk = self.listing_chunk;
        let mut files = self.pending(None, chunk)?;
        if files.is_empty() {
            return Ok(0);
        }
        let limit = pipeline.max_message_size();
        let source = self.clone();
        let (rx, reader) = prepare_ahead(pipeline.clone(), batch_size, move |push| {
            // Chunk after chunk, each listed after the one before was read: a
            // cursor, not the set of seen names, so memory stays flat and a
            // file that cannot be read or moved is not taken again here.
            loop {
                let complete = files.len() < chunk;
                let last = files
                    .last()
                    .and_then(|f| f.file_name())
                    .map(OsStr::to_owned);
                if !source.read_chunk(files, limit, push) {
                    break; // the committer stopped
                }
                if complete {
                    break; // the next drain lists what arrived meanwhile
                }
                files = source.pending(last.as_deref(), chunk)?;
                if files.is_empty() {
                    break;
                }
            }
            Ok::<(), Error>(())
        });

        // Files move to `cur/` on a blocking thread while the next batch
        // commits; one move at a time.
        let mut moving: Option<tokio::task::JoinHandle<()>> = None;
        let dir = self.path.clone();
        let done = commit_ahead(pipeline, store, rx, reader, Utc::now, async |paths, outcomes| {
            if let Some(h) = moving.take() {
                let _ = h.await;
            }
            let dir = dir.clone();
            moving = Some(tokio::task::spawn_blocking(move || {
                for (p, big) in paths {
                    let moved = if big {
                        move_to_quarantine(&dir, &p)
                    } else {
                        mark_processed(&dir, &p)
                    };
                    if let Err(e) = moved {
                        tracing::warn!(file = %p.display(), error = %e, "committed, but cannot move the file");
                    }
                }
            }));
            outcomes.iter().for_each(&mut *on_outcome);
            !stop()
        })
        .await;
        if let Some(h) = moving {
            let _ = h.await;
        }
        done
    }

    /// Reads `files` and hands each to `push`, tagged with its path and whether
    /// it was too big; false when `push` refused one (the committer stopped).
    fn read_chunk(
        &self,
        files: Vec<PathBuf>,
        limit: usize,
        push: &mut dyn FnMut(Inbound, (PathBuf, bool)) -> bool,
    ) -> bool {
        for file in files {
            let (item, big) = match read_file_capped(&file, limit) {
                Ok(read) => {
                    let big = read.too_big().is_some();
                    let kept = if big {
                        format!(
                            "{HEADER_KEPT}; the file is moved to {}",
                            quarantine_path(&self.path, &file).display()
                        )
                    } else {
                        String::new()
                    };
                    (
                        read.into_inbound(origin(&self.name, &file), limit, &kept),
                        big,
                    )
                }
                // Gone meanwhile (another instance took it) or unreadable:
                // skip, never stall the rest of the mailbox on it.
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "cannot read maildir file; skipping");
                    continue;
                }
            };
            if !push(item, (file, big)) {
                return false;
            }
        }
        true
    }
}

fn origin(source: &str, file: &Path) -> String {
    format!(
        "maildir:{source}:{}",
        file.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    )
}

fn quarantine_path(maildir: &Path, file: &Path) -> PathBuf {
    maildir
        .join(QUARANTINE_DIR)
        .join("cur")
        .join(file.file_name().unwrap_or_default())
}

/// Moves an oversized file, untouched, into the Maildir's `.quarantine/` folder.
fn move_to_quarantine(maildir: &Path, file: &Path) -> Result<()> {
    for sub in ["cur", "new", "tmp"] {
        let d = maildir.join(QUARANTINE_DIR).join(sub);
        std::fs::create_dir_all(&d).map_err(|e| Error::io(d, e))?;
    }
    let dest = quarantine_path(maildir, file);
    std::fs::rename(file, &dest).map_err(|e| Error::io(file, e))
}

/// Moves `file` to `<maildir>/cur/` with the Seen flag added.
fn mark_processed(maildir: &Path, file: &Path) -> Result<()> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (base, flags) = match name.split_once(":2,") {
        Some((b, f)) => (b.to_string(), f.to_string()),
        None => (name.clone(), String::new()),
    };
    let mut flags: Vec<char> = flags.chars().collect();
    if !flags.contains(&'S') {
        flags.push('S');
    }
    flags.sort_unstable();
    let dest = maildir.join("cur").join(format!(
        "{base}:2,{}",
        flags.into_iter().collect::<String>()
    ));
    std::fs::rename(file, &dest).map_err(|e| Error::io(file, e))
}

fn has_seen_flag(name: &str) -> bool {
    name.split_once(":2,").is_some_and(|(_, f)| f.contains('S'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_flag() {
        assert!(has_seen_flag("123.abc:2,S"));
        assert!(has_seen_flag("123.abc:2,FS"));
        assert!(!has_seen_flag("123.abc:2,F"));
        assert!(!has_seen_flag("123.abc"));
    }

    #[test]
    fn pending_and_mark_processed() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::new("t", dir.path());
        md.ensure_dirs().unwrap();
        std::fs::write(dir.path().join("new/1.a"), b"x").unwrap();
        std::fs::write(dir.path().join("cur/2.b:2,F"), b"x").unwrap();
        std::fs::write(dir.path().join("cur/3.c:2,S"), b"x").unwrap();
        let p = md.pending(None, 10).unwrap();
        assert_eq!(p.len(), 2);
        for f in &p {
            md.mark_processed(f).unwrap();
        }
        assert!(md.pending(None, 10).unwrap().is_empty());
        assert!(dir.path().join("cur/1.a:2,S").exists());
        assert!(dir.path().join("cur/2.b:2,FS").exists());
    }

    #[test]
    fn pending_lists_the_smallest_names_after_the_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::new("t", dir.path());
        md.ensure_dirs().unwrap();
        for n in [7, 3, 9, 1, 5, 8] {
            std::fs::write(dir.path().join(format!("new/{n}.m")), b"x").unwrap();
        }
        std::fs::write(dir.path().join("cur/4.m:2,"), b"x").unwrap();
        std::fs::write(dir.path().join("cur/2.m:2,S"), b"x").unwrap();
        std::fs::write(dir.path().join("new/.hidden"), b"x").unwrap();
        let names = |after: Option<&str>, max| -> Vec<String> {
            md.pending(after.map(OsStr::new), max)
                .unwrap()
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(None, 3), ["1.m", "3.m", "4.m:2,"]);
        assert_eq!(names(Some("4.m:2,"), 3), ["5.m", "7.m", "8.m"]);
        assert_eq!(names(Some("8.m"), 3), ["9.m"]);
        assert!(names(Some("9.m"), 3).is_empty());
        assert_eq!(names(None, 100).len(), 7);
    }
}
