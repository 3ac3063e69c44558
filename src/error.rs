//! Library error type. The CLI edge wraps these in `anyhow`.

use std::path::PathBuf;

use crate::text_enum::UnknownValue;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("config {file}: {message}")]
    Config { file: String, message: String },

    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),

    #[error("database error: {0}")]
    Database(sqlx::Error),

    /// A stored value this version does not know (`text_enum`), with the
    /// table and column it was read from.
    #[error("database error: {0}")]
    UnknownValue(#[from] UnknownValue),

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

impl From<sqlx::Error> for Error {
    /// A row's enum column that failed to read (sqlx wraps the parser's
    /// error) is the `UnknownValue` it was, not an opaque decode error.
    fn from(e: sqlx::Error) -> Error {
        match e {
            sqlx::Error::ColumnDecode { index, source } => {
                match source.downcast::<UnknownValue>() {
                    Ok(unknown) => Error::UnknownValue(*unknown),
                    Err(source) => Error::Database(sqlx::Error::ColumnDecode { index, source }),
                }
            }
            e => Error::Database(e),
        }
    }
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
    /// A conflict counts too: it reaches a caller only after its retries.
    pub fn is_temporary(&self) -> bool {
        if self.is_conflict() {
            return true;
        }
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
        // By backend: a SQLSTATE can be all digits (53100 disk full, 08006
        // connection failure), which must never be read as a SQLite code.
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                sqlstate_is_temporary(&code)
            } else {
                code.parse::<i32>().is_ok_and(sqlite_code_is_temporary)
            }
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATE classes that pass: connection exception (08),
/// insufficient resources (53: disk full, too many connections, out of
/// memory), operator intervention (57P: the server shutting down, a
/// terminated backend), system error (58: I/O).
pub fn sqlstate_is_temporary(code: &str) -> bool {
    ["08", "53", "57P", "58"]
        .iter()
        .any(|class| code.starts_with(class))
}

/// SQLite primary result codes (the low byte of extended ones) that pass:
/// BUSY, LOCKED, IOERR, FULL, CANTOPEN, PROTOCOL.
pub fn sqlite_code_is_temporary(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 10 | 13 | 14 | 15)
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

    #[test]
    fn codes_are_read_by_backend() {
        // All-digit SQLSTATEs of passing faults (issue 20): disk full, too many
        // connections, connection failure, I/O error.
        for code in [
            "53100", "53300", "08006", "58030", "57P01", "08001", "53200",
        ] {
            assert!(sqlstate_is_temporary(code), "{code}");
        }
        // A constraint or a syntax error is the statement's, not the moment's.
        for code in ["23505", "42601", "22P02", "40001"] {
            assert!(!sqlstate_is_temporary(code), "{code}");
        }
        // SQLITE_BUSY, SQLITE_IOERR_WRITE (778), SQLITE_FULL; not CONSTRAINT.
        assert!(
            sqlite_code_is_temporary(5)
                && sqlite_code_is_temporary(778)
                && sqlite_code_is_temporary(13)
        );
        assert!(!sqlite_code_is_temporary(19) && !sqlite_code_is_temporary(2067));
        // 53100 read as a SQLite code was CONSTRAINT-like garbage: the reason for the split.
        assert!(!sqlite_code_is_temporary(53100));
    }
}
