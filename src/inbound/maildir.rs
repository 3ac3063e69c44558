//! A local Maildir inbox. New mail is taken from `new/` (and from `cur/` when a
//! mail client moved it there unread); after the transaction commits, each file
//! is renamed into `cur/` with the Seen flag. A crash between commit and rename
//! only means the file is read again and reported as a duplicate. A file over
//! `max_message_size` is never read past its header block: it is quarantined
//! with that header and moved, untouched, to `.quarantine/` in the Maildir.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use crate::error::{Error, Result};
use crate::pipeline::{Inbound, Outcome, Pipeline};
use crate::store::Store;

use super::{Capped, prepare_ahead, read_file_capped, too_big_reason};

/// Where oversized files go (a Maildir++ folder name: mail clients show it).
pub const QUARANTINE_DIR: &str = ".quarantine";

pub struct Maildir {
    pub name: String,
    pub path: PathBuf,
}

impl Maildir {
    pub fn new(name: &str, path: &Path) -> Maildir {
        Maildir {
            name: name.to_string(),
            path: path.to_path_buf(),
        }
    }

    pub fn ensure_dirs(&self) -> Result<()> {
        for sub in ["new", "cur", "tmp"] {
            let d = self.path.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| Error::io(d, e))?;
        }
        Ok(())
    }

    /// Files waiting to be processed, oldest name first.
    pub fn pending(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.path.join(sub);
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(dir, e)),
            };
            for entry in rd {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                if sub == "cur" && has_seen_flag(&name) {
                    continue;
                }
                out.push(entry.path());
            }
        }
        out.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        Ok(out)
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
        let files = self.pending()?;
        if files.is_empty() {
            return Ok(0);
        }
        let limit = pipeline.max_message_size();
        let maildir = self.path.clone();
        let name = self.name.clone();
        let (mut rx, reader) = prepare_ahead(pipeline.clone(), batch_size, move |push| {
            for file in files {
                let (item, big) = match read_file_capped(&file, limit) {
                    Ok(Capped::Whole(raw)) => (Inbound::new(origin(&name, &file), raw), false),
                    Ok(Capped::TooBig { size, head }) => {
                        let to = quarantine_path(&maildir, &file);
                        let mut item = Inbound::new(origin(&name, &file), head);
                        item.rejected = Some(too_big_reason(
                            size,
                            limit,
                            &format!(
                                "only its header is kept here; the file is moved to {}",
                                to.display()
                            ),
                        ));
                        (item, true)
                    }
                    // Gone meanwhile (another instance took it) or unreadable:
                    // skip, never stall the rest of the mailbox on it.
                    Err(e) => {
                        tracing::warn!(file = %file.display(), error = %e, "cannot read maildir file; skipping");
                        continue;
                    }
                };
                if !push(item, (file, big)) {
                    break; // the committer stopped
                }
            }
            Ok::<(), std::convert::Infallible>(())
        });

        let mut done = 0;
        let mut moving: Option<tokio::task::JoinHandle<()>> = None;
        let mut result = Ok(());
        while let Some(Ok((paths, prepared))) = rx.recv().await {
            let outcomes = match pipeline.commit(store, &prepared, Utc::now()).await {
                Ok(o) => o,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            if let Some(h) = moving.take() {
                let _ = h.await;
            }
            let dir = self.path.clone();
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
            done += prepared.len();
            if stop() {
                break;
            }
        }
        drop(rx);
        if let Some(h) = moving {
            let _ = h.await;
        }
        let _ = reader.await;
        result.map(|()| done)
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
        let p = md.pending().unwrap();
        assert_eq!(p.len(), 2);
        for f in &p {
            md.mark_processed(f).unwrap();
        }
        assert!(md.pending().unwrap().is_empty());
        assert!(dir.path().join("cur/1.a:2,S").exists());
        assert!(dir.path().join("cur/2.b:2,FS").exists());
    }
}
