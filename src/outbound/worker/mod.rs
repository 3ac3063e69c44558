//! The outbox worker owns sending what the pipeline queued: claiming rows
//! (flush.rs), one mail's send (send.rs), what an attempt makes of its row
//! (account.rs) and when it is tried again (retry.rs). Must not import
//! `inbound`, `digest` or `server`, nor `pipeline` beyond its fault hooks.
//!
//! It claims due mail a few rows at a time (a unique token,
//! a short lease renewed while a send is under way), renders a mail on its
//! first attempt and keeps the bytes (a retry sends the very same mail), and
//! marks each result under its token. Shutdown gives back what was not sent.
//!
//! Results are per recipient: the row records who got the mail and who was
//! refused (with the server's reply). Temporarily refused recipients are
//! tried again with the usual backoff, and only they: those who got it never
//! get it twice. Permanently refused ones are final. A row is `sent` once
//! every recipient is settled and someone got it, `failed` when nobody did.
//! What a relay's result means for its ticket is the pipeline's to decide
//! (`Pipeline::report_relays`), not this worker's.

mod account;
mod flush;
mod retry;
mod send;

use std::time::Duration;

use tokio::sync::watch;

pub use flush::flush;
pub(super) use retry::DEFAULT_RETRY_FIRST;
pub use retry::{MAX_ATTEMPTS, retry_delay};

/// A claim lasts this long unless renewed; a dead sender's mail is taken over
/// by whoever runs next within this time.
pub const LEASE: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// Rows claimed (and bytes held) at a time: a backlog of big mail stays flat.
const CLAIM_BATCH: i64 = 4;

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct FlushReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Claimed but given back untried (shutdown) or lost to another sender.
    pub released: usize,
    /// Stopped after handing the mail to the server, before its answer:
    /// counted as sent, with the doubt noted (handover.rs).
    pub in_doubt: usize,
    /// Relays whose result the pipeline has to look at now (someone got one
    /// for the first time, or its result is final): `Pipeline::report_relays`.
    pub relay_results: usize,
}

impl FlushReport {
    /// Adds another flush's counts.
    pub fn add(&mut self, o: &FlushReport) {
        self.sent += o.sent;
        self.retrying += o.retrying;
        self.failed += o.failed;
        self.released += o.released;
        self.in_doubt += o.in_doubt;
        self.relay_results += o.relay_results;
    }
}

/// Tells a flush to stop (SIGTERM); `Stop::never()` for callers without one.
#[derive(Clone)]
pub struct Stop(Option<watch::Receiver<bool>>);

impl Stop {
    pub fn new(rx: watch::Receiver<bool>) -> Stop {
        Stop(Some(rx))
    }

    pub fn never() -> Stop {
        Stop(None)
    }

    pub fn is_set(&self) -> bool {
        self.0.as_ref().is_some_and(|r| *r.borrow())
    }

    async fn wait(&self) {
        match &self.0 {
            Some(r) => {
                let mut r = r.clone();
                let _ = r.wait_for(|v| *v).await;
            }
            None => std::future::pending::<()>().await,
        }
    }
}
