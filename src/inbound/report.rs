//! How a source tells what it is doing: `serve` shows it on /healthz and
//! /metrics (`server::health` implements [`SourceReport`]); `poll --once`
//! tells nobody ([`Unreported`]). Defined here so that `inbound` imports
//! nothing above it.

use crate::pipeline::Outcome;
use crate::text_enum::{text_enum, text_from_str};

/// What sources report as they go. Every method is cheap and never fails.
pub trait SourceReport: Send + Sync {
    /// A source starts (`kind`: imap, maildir, socket).
    fn register(&self, name: &str, kind: &'static str);
    fn state(&self, name: &str, state: SourceState);
    /// An IMAP session is open on a mailbox with this UIDVALIDITY.
    fn connected(&self, name: &str, uidvalidity: u32);
    /// A sync committed everything up to `last_uid` (IMAP).
    fn synced(&self, name: &str, last_uid: Option<u32>);
    fn failed(&self, name: &str, error: &str);
    fn stopped(&self, name: &str);
    /// This instance's hold on the mailbox's lease changed (`key`: the lease).
    fn lease(&self, name: &str, key: &str, state: LeaseState);
    /// A batch was committed.
    fn ingested(&self, name: &str, outcomes: &[Outcome]);
}

/// Reports to nobody (`poll --once`).
pub struct Unreported;

impl SourceReport for Unreported {
    fn register(&self, _: &str, _: &'static str) {}
    fn state(&self, _: &str, _: SourceState) {}
    fn connected(&self, _: &str, _: u32) {}
    fn synced(&self, _: &str, _: Option<u32>) {}
    fn failed(&self, _: &str, _: &str) {}
    fn stopped(&self, _: &str) {}
    fn lease(&self, _: &str, _: &str, _: LeaseState) {}
    fn ingested(&self, _: &str, _: &[Outcome]) {}
}

/// Where an instance stands with a mailbox's lease (store::Lease).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Taken; syncing starts after the grace period.
    Starting,
    Held,
    /// Another instance holds it.
    Standby,
    /// The lease's database session broke: syncing stopped.
    Lost,
    /// Given back at shutdown.
    Released,
}

impl LeaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseState::Starting => "starting",
            LeaseState::Held => "held",
            LeaseState::Standby => "standby",
            LeaseState::Lost => "lost",
            LeaseState::Released => "released",
        }
    }
}

text_enum!(
    /// What a source is doing, as /healthz shows it.
    SourceState {
        Connecting => "connecting",
        Syncing => "syncing",
        /// IMAP IDLE: waiting for the server to tell of new mail.
        Idle => "idle",
        /// Waiting for the next poll (no IDLE).
        Polling => "polling",
        /// Failed: waiting before the next try.
        Backoff => "backoff",
        Stopped => "stopped",
        /// IMAP: another instance holds the mailbox's lease.
        Standby => "standby",
        /// IMAP: the lease was taken; syncing starts after the grace period.
        Starting => "starting",
    } "source state"
);

impl Default for SourceState {
    /// A source is connecting until it says otherwise.
    fn default() -> SourceState {
        SourceState::Connecting
    }
}

text_from_str!(SourceState, exact);

/// Latency of the last hop, for the ingest-lag metric: from the server telling
/// mailroom about new mail (IDLE) to the batch being committed.
pub fn record_notify_to_commit(source: &str, seconds: f64) {
    metrics::histogram!("mailroom_idle_to_commit_seconds", "source" => source.to_string())
        .record(seconds);
}

/// Age of the newest committed message (commit time minus the server's arrival
/// time): how far behind the mailbox mailroom is.
pub fn record_sync_lag(source: &str, seconds: f64) {
    metrics::gauge!("mailroom_sync_lag_seconds", "source" => source.to_string())
        .set(seconds.max(0.0));
}
