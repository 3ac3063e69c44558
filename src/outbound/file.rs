//! The file transport: one .eml per message, written atomically (temp file,
//! fsync, rename), named after the outbox row so a resend overwrites, never doubles.

use std::io::Write;
use std::path::PathBuf;

use super::SendError;
use crate::store::DueMail;

pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    pub fn new(dir: PathBuf) -> FileTransport {
        FileTransport { dir }
    }

    pub async fn send(&self, mail: &DueMail, raw: &[u8]) -> Result<(), SendError> {
        let dir = self.dir.clone();
        let name = format!("{:08}-{}.eml", mail.id, mail.kind);
        let raw = raw.to_vec();
        tokio::task::spawn_blocking(move || -> Result<(), SendError> {
            std::fs::create_dir_all(&dir)
                .map_err(|e| SendError::Transient(format!("{}: {e}", dir.display())))?;
            let tmp = dir.join(format!(".{name}.tmp"));
            let dest = dir.join(&name);
            let io = |e: std::io::Error| SendError::Transient(format!("{}: {e}", tmp.display()));
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&raw).map_err(io)?;
            f.sync_all().map_err(io)?;
            std::fs::rename(&tmp, &dest).map_err(io)?;
            Ok(())
        })
        .await
        .map_err(|e| SendError::Transient(format!("writer task: {e}")))?
    }
}
