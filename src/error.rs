//! Library error type. The CLI edge wraps these in `anyhow`.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("config {file}: {message}")]
    Config { file: String, message: String },

    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),

    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("template {name}: {message}")]
    Template { name: String, message: String },

    #[error("composing outgoing mail: {0}")]
    Compose(String),

    #[error("ticket {0} not found")]
    TicketNotFound(String),

    #[error("{0}")]
    Invalid(String),

    /// A piped message over `mailroom.max_message_size` (`ingest -` exits 65).
    #[error(
        "message is {size} bytes, over the limit of {limit} bytes (mailroom.max_message_size); its header was kept in the quarantine"
    )]
    MessageTooBig { size: u64, limit: usize },

    /// `serve` took a piped mail but could not commit it (`ingest -` exits
    /// 75, and the MTA delivers it again later).
    #[error("serve could not store the mail: {0}")]
    HandOffLater(String),

    /// A bug met while processing a message (a caught panic): that message is
    /// quarantined with it, the source goes on.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Two PostgreSQL transactions waited for each other in a circle (one was
    /// chosen to fail) or could not be serialised: running it again succeeds.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Database(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("40P01" | "40001")))
    }

    /// True when retrying later may succeed (an MTA should requeue, exit 75).
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::DatabaseUnavailable(_) | Error::HandOffLater(_) => true,
            Error::Database(e) => is_connection_error(e),
            Error::Migrate(
                sqlx::migrate::MigrateError::Execute(e)
                | sqlx::migrate::MigrateError::ExecuteMigration(e, _),
            ) => is_connection_error(e),
            // The disk or the file system, not the mail: try again later.
            Error::Io { source, .. } => is_resource_error(source),
            _ => false,
        }
    }
}

/// Out of space or an I/O failure of the machine: temporary for mail.
fn is_resource_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::StorageFull | K::QuotaExceeded | K::ResourceBusy | K::Interrupted | K::TimedOut
    ) || matches!(e.raw_os_error(), Some(5 | 28 | 122)) // EIO, ENOSPC, EDQUOT
}

/// Errors that go away by themselves: the database is busy, locked, out of
/// space or unreachable, or the disk failed an I/O. The mail is fine; an MTA
/// should try again later (exit 75), a source retries its batch.
pub fn is_connection_error(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    ) || match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            match code.parse::<i32>() {
                // SQLite primary codes (the low byte of extended ones): BUSY,
                // LOCKED, IOERR, FULL, CANTOPEN, PROTOCOL.
                Ok(n) => matches!(n & 0xff, 5 | 6 | 10 | 13 | 14 | 15),
                // PostgreSQL SQLSTATE classes: connection exception, insufficient
                // resources (disk full), operator intervention, system error (I/O).
                Err(_) => {
                    code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57P")
                        || code.starts_with("58")
                }
            }
        }
        _ => false,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disks_are_temporary() {
        let full = std::io::Error::from_raw_os_error(28);
        assert!(Error::io("/x", full).is_temporary());
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(!Error::io("/x", missing).is_temporary());
        assert!(Error::DatabaseUnavailable("x".into()).is_temporary());
        assert!(!Error::Invalid("x".into()).is_temporary());
    }
}
