//! Serve's own loop (rules reload, the Maildir sources), the sources it
//! starts from the config, and the order of shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::health::Health;
use crate::config::{Config, InboundKind, parse_duration};
use crate::error::{Error, Result};
use crate::inbound::SourceReport;
use crate::inbound::imap::ImapSource;
use crate::inbound::maildir::Maildir;
use crate::pipeline::Pipeline;
use crate::store::Store;

use super::{
    DEFAULT_FLUSH_INTERVAL, DEFAULT_MAILDIR_INTERVAL, OUTBOX_STOP_GRACE, SOURCE_STOP_GRACE,
};

/// The `[[inbound]]` sources: Maildirs (serve's main loop polls them, at the
/// shortest of their intervals) and IMAP mailboxes (a task each).
pub(super) struct Sources {
    pub maildirs: Vec<Maildir>,
    pub imap: Vec<ImapSource>,
    pub interval: Duration,
}

impl Sources {
    pub fn of(cfg: &Config, health: &Health) -> Result<Sources> {
        let mut sources = Sources {
            maildirs: Vec::new(),
            imap: Vec::new(),
            interval: DEFAULT_MAILDIR_INTERVAL,
        };
        for (i, ib) in cfg.inbound.iter().enumerate() {
            match ib.kind {
                InboundKind::Maildir => {
                    let path = ib
                        .path
                        .as_deref()
                        .ok_or_else(|| Error::Invalid(format!("inbound {:?}: no path", ib.name)))?;
                    let md = Maildir::new(&ib.name, path);
                    md.ensure_dirs()?;
                    let iv = ib
                        .poll_interval
                        .as_deref()
                        .and_then(|s| parse_duration(s).ok())
                        .unwrap_or(DEFAULT_MAILDIR_INTERVAL);
                    sources.interval = sources.interval.min(iv);
                    health.register(&ib.name, "maildir");
                    sources.maildirs.push(md);
                }
                InboundKind::Imap => {
                    let source = ImapSource::from_config(ib, format!("inbound[{i}]"))
                        .map_err(|e| Error::Invalid(format!("inbound {:?}: {e}", ib.name)))?;
                    sources.imap.push(source);
                }
            }
        }
        Ok(sources)
    }
}

pub(super) fn flush_interval(cfg: &Config) -> Duration {
    cfg.outbound
        .flush_interval
        .as_deref()
        .and_then(|s| parse_duration(s).ok())
        .unwrap_or(DEFAULT_FLUSH_INTERVAL)
}

/// Serve's own loop: rules reload and the Maildir sources.
pub(super) struct MainLoop<'a> {
    pub pipeline: &'a Arc<Pipeline>,
    pub store: &'a Store,
    pub health: &'a Health,
    pub batch_size: usize,
    pub rules_file: Option<std::path::PathBuf>,
    pub outbox_wake: &'a tokio::sync::Notify,
}

impl MainLoop<'_> {
    pub async fn run(
        &self,
        maildirs: &[Maildir],
        interval: Duration,
        stop: &AtomicBool,
        reload: &AtomicBool,
        wake: &tokio::sync::Notify,
    ) {
        let mut rules_mtime = self.rules_file.as_deref().and_then(modified);
        let stopped = || stop.load(Ordering::SeqCst);
        while !stopped() {
            // Rules reload on SIGHUP or when the file changes; bad rules keep the old set.
            let now_mtime = self.rules_file.as_deref().and_then(modified);
            if reload.swap(false, Ordering::SeqCst) || now_mtime != rules_mtime {
                rules_mtime = now_mtime;
                match self.pipeline.reload_rules() {
                    Ok(n) => tracing::info!(rules = n, "rules reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "rules not reloaded; the previous rules stay in force")
                    }
                }
            }
            for md in maildirs {
                self.drain(md, &stopped).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = wake.notified() => {}
            }
        }
    }

    async fn drain(&self, md: &Maildir, stopped: &dyn Fn() -> bool) {
        let health = self.health;
        let result = md
            .drain(self.pipeline, self.store, self.batch_size, stopped, &mut |o| {
                health.ingested(&md.name, std::slice::from_ref(o));
                tracing::info!(origin = %o.file, outcome = o.outcome.as_str(), ticket = o.ticket_ref.as_deref().unwrap_or("-"), "processed");
            })
            .await;
        match result {
            Ok(n) => {
                if n > 0 {
                    self.outbox_wake.notify_one();
                }
                health.synced(&md.name, None)
            }
            Err(e) => {
                // A broken source or a database hiccup: log, keep serving, retry next round.
                tracing::error!(source = %md.name, error = %e, "inbound source failed");
                health.failed(&md.name, &e.to_string());
            }
        }
    }
}

/// What serve waits for at shutdown, in this order.
pub(super) struct Tasks {
    pub imap: Vec<tokio::task::JoinHandle<()>>,
    pub handoff: Option<(tokio::task::JoinHandle<()>, Store)>,
    pub scheduler: tokio::task::JoinHandle<()>,
    pub outbox: tokio::task::JoinHandle<()>,
    pub http: Option<tokio::task::JoinHandle<()>>,
}

impl Tasks {
    pub async fn shut_down(self, outbox_wake: &tokio::sync::Notify) {
        for task in self.imap {
            if tokio::time::timeout(SOURCE_STOP_GRACE, task).await.is_err() {
                tracing::error!("an imap source did not stop within {SOURCE_STOP_GRACE:?}");
            }
        }
        let writer = match self.handoff {
            Some((task, writer)) => {
                if tokio::time::timeout(SOURCE_STOP_GRACE, task).await.is_err() {
                    tracing::error!("the ingest socket did not stop within {SOURCE_STOP_GRACE:?}");
                }
                Some(writer)
            }
            None => None,
        };
        // A scan in progress finishes its transaction (seconds at most).
        let _ = self.scheduler.await;
        outbox_wake.notify_one();
        if tokio::time::timeout(OUTBOX_STOP_GRACE, self.outbox)
            .await
            .is_err()
        {
            tracing::warn!(
                "the outbox worker did not stop within {OUTBOX_STOP_GRACE:?}; unsent mail is sent by the next run"
            );
        }
        if let Some(h) = self.http {
            let _ = h.await;
        }
        // The outbox worker wrote on it until now. Before the main pool: the
        // last SQLite connection out removes the WAL.
        if let Some(w) = writer {
            w.close().await;
        }
    }
}

fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
