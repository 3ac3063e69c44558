//! `mailroom poll --once`: every source drained once, IMAP mailboxes
//! concurrently (each on its own connection), Maildirs one after the other.
//! A failing source does not stop the others; the report says which failed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::config::{Config, InboundKind};
use crate::error::{Error, Result};
use crate::pipeline::{Outcome, Pipeline};
use crate::store::Store;

use super::imap::{Context as ImapContext, ImapError, ImapSource};
use super::maildir::Maildir;

/// What one pass over every source did.
#[derive(Debug, Default)]
pub struct PollReport {
    /// Messages per outcome (`created`, `duplicate`, …).
    pub counts: BTreeMap<&'static str, usize>,
    /// "source: error" for each source that failed.
    pub failed: Vec<String>,
    /// "source: why" for each IMAP mailbox another instance's `serve` holds:
    /// skipped, nothing lost.
    pub standby: Vec<String>,
}

impl PollReport {
    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }
}

type Counts = Arc<Mutex<BTreeMap<&'static str, usize>>>;

fn count(counts: &Counts, o: &Outcome) {
    if let Ok(mut c) = counts.lock() {
        *c.entry(o.outcome.as_str()).or_default() += 1;
    }
}

pub async fn poll_once(cfg: &Config, pipeline: Arc<Pipeline>, store: &Store) -> Result<PollReport> {
    let counts = Counts::default();
    let ctx = ImapContext::new(
        cfg,
        pipeline.clone(),
        store.clone(),
        Arc::new(super::Unreported),
        Arc::new(tokio::sync::Notify::new()),
    );
    let mut imap = Vec::new();
    for (i, ib) in cfg.inbound.iter().enumerate() {
        if ib.kind != InboundKind::Imap {
            continue;
        }
        let source = ImapSource::from_config(ib, format!("inbound[{i}]"))
            .map_err(|e| Error::Invalid(format!("inbound {:?}: {e}", ib.name)))?;
        let (ctx, counts) = (ctx.clone(), counts.clone());
        imap.push(tokio::spawn(async move {
            let r = source.sync_once(&ctx, &mut |o| count(&counts, o)).await;
            (source.name, r)
        }));
    }
    let mut report = PollReport::default();
    for ib in &cfg.inbound {
        if ib.kind != InboundKind::Maildir {
            continue;
        }
        let path = ib.path.as_deref().ok_or_else(|| {
            Error::Invalid(format!(
                "inbound {:?}: maildir source without path",
                ib.name
            ))
        })?;
        let md = Maildir::new(&ib.name, path);
        let drained = md
            .drain(
                &pipeline,
                store,
                cfg.mailroom.batch_size,
                &|| false,
                &mut |o| count(&counts, o),
            )
            .await;
        if let Err(e) = drained {
            tracing::error!(source = %ib.name, error = %e, "inbound source failed");
            report.failed.push(format!("{}: {e}", ib.name));
        }
    }
    for task in imap {
        let (name, result) = task
            .await
            .map_err(|e| Error::Internal(format!("imap task: {e}")))?;
        match result {
            Ok(_) => {}
            Err(e @ ImapError::LeaseHeld) => {
                // `serve` on another instance syncs it: nothing is lost by skipping.
                tracing::warn!(source = %name, "{e}");
                report.standby.push(format!("{name}: {e}"));
            }
            Err(e) => {
                tracing::error!(source = %name, error = %e, "inbound source failed");
                report.failed.push(format!("{name}: {e}"));
            }
        }
    }
    report.counts = counts.lock().map(|c| c.clone()).unwrap_or_default();
    Ok(report)
}
