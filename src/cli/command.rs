//! The commands `src/main.rs` parses its arguments into.

use std::path::PathBuf;

use super::digest;

pub enum Command {
    Serve,
    PollOnce,
    Ingest {
        json: bool,
        files: Vec<PathBuf>,
    },
    Tickets(TicketsCmd),
    Outbox(OutboxCmd),
    Quarantine {
        json: bool,
    },
    QuarantineRelease {
        id: i64,
    },
    ScheduleOnce {
        dry_run: bool,
    },
    DigestPreview(digest::Preview),
    DigestSend {
        manager: String,
    },
    Stats {
        since: String,
        area: Option<String>,
        json: bool,
    },
    SuspendedList {
        json: bool,
    },
    SuspendedRelease {
        id: i64,
    },
    Inspect {
        file: PathBuf,
        json: bool,
    },
    Rules(RulesCmd),
    Replies(RepliesCmd),
    Migrate,
}

pub enum RepliesCmd {
    List {
        json: bool,
    },
    Preview {
        name: String,
        ticket: String,
        agent: Option<String>,
    },
}

pub enum RulesCmd {
    Check {
        rules: Option<PathBuf>,
    },
    Backtest {
        rules: PathBuf,
        since: String,
        json: bool,
    },
    Explain {
        file: PathBuf,
        json: bool,
        rules: Option<PathBuf>,
    },
}

pub enum TicketsCmd {
    List {
        status: Option<String>,
        area: Option<String>,
        owner: Option<String>,
        limit: Option<i64>,
        json: bool,
    },
    Show {
        reference: String,
        json: bool,
    },
    Merge {
        source: String,
        into: String,
        force: bool,
        dry_run: bool,
    },
    Split {
        reference: String,
        message: String,
        dry_run: bool,
    },
}

pub enum OutboxCmd {
    List { json: bool },
    Flush,
}
