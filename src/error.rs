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

    /// True when retrying later may succeed (an MTA should requeue, exit 75).
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::DatabaseUnavailable(_) => true,
            Error::Database(e) => is_connection_error(e),
            _ => false,
        }
    }
}

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
            // SQLite: busy/locked/cannot open; PostgreSQL: connection and resource classes.
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            matches!(code.as_str(), "5" | "6" | "14" | "517" | "261")
                || code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
        }
        _ => false,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
