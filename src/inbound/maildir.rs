//! A local Maildir inbox. New mail is taken from `new/` (and from `cur/` when a
//! mail client moved it there unread); after the transaction commits, each file
//! is renamed into `cur/` with the Seen flag. A crash between commit and rename
//! only means the file is read again and reported as a duplicate.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::pipeline::{Inbound, Outcome, Pipeline};
use crate::store::Store;

use super::{Batcher, commit_batch};

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
        let dest = self.path.join("cur").join(format!(
            "{base}:2,{}",
            flags.into_iter().collect::<String>()
        ));
        std::fs::rename(file, &dest).map_err(|e| Error::io(file, e))
    }

    fn origin(&self, file: &Path) -> String {
        format!(
            "maildir:{}:{}",
            self.name,
            file.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        )
    }

    /// Processes everything pending now. `stop` is checked between batches.
    pub async fn drain(
        &self,
        pipeline: &Pipeline,
        store: &Store,
        batch_size: usize,
        stop: &dyn Fn() -> bool,
        on_outcome: &mut dyn FnMut(&Outcome),
    ) -> Result<usize> {
        self.ensure_dirs()?;
        let mut done = 0;
        let mut batcher = Batcher::new(batch_size);
        let mut paths: Vec<PathBuf> = Vec::new();
        for file in self.pending()? {
            let raw = match std::fs::read(&file) {
                Ok(raw) => raw,
                // Gone meanwhile (another instance took it) or unreadable: skip,
                // never stall the rest of the mailbox on it.
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "cannot read maildir file; skipping");
                    continue;
                }
            };
            let full = batcher.push(Inbound {
                origin: self.origin(&file),
                raw,
            });
            paths.push(file);
            if full {
                done += self
                    .commit(pipeline, store, &mut batcher, &mut paths, on_outcome)
                    .await?;
                if stop() {
                    return Ok(done);
                }
            }
        }
        if !batcher.is_empty() {
            done += self
                .commit(pipeline, store, &mut batcher, &mut paths, on_outcome)
                .await?;
        }
        Ok(done)
    }

    async fn commit(
        &self,
        pipeline: &Pipeline,
        store: &Store,
        batcher: &mut Batcher,
        paths: &mut Vec<PathBuf>,
        on_outcome: &mut dyn FnMut(&Outcome),
    ) -> Result<usize> {
        let batch = batcher.take();
        let outcomes = commit_batch(pipeline, store, &batch).await?;
        for (o, p) in outcomes.iter().zip(paths.drain(..)) {
            if let Err(e) = self.mark_processed(&p) {
                tracing::warn!(file = %p.display(), error = %e, "committed, but cannot move to cur/");
            }
            on_outcome(o);
        }
        Ok(batch.len())
    }
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
