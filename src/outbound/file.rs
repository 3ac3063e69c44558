//! The file transport: one .eml per message, written atomically (temp file,
//! fsync, rename), named after the outbox row so a resend overwrites, never doubles.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;

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
        let name = format!("{:08}-{}.eml", mail.id, mail.kind);
        let dir = &self.dir;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| SendError::transient(format!("{}: {e}", dir.display())))?;
        let tmp = dir.join(format!(".{name}.tmp"));
        let io = |e: std::io::Error| SendError::transient(format!("{}: {e}", tmp.display()));
        // Written from the caller's buffer in chunks: a big mail is not copied whole.
        let mut f = tokio::fs::File::create(&tmp).await.map_err(io)?;
        f.write_all(raw).await.map_err(io)?;
        f.sync_all().await.map_err(io)?;
        drop(f);
        tokio::fs::rename(&tmp, dir.join(&name)).await.map_err(io)?;
        Ok(())
    }
}
