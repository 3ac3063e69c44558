//! `serve`: runs the inbound sources and the outbox worker until SIGTERM/SIGINT.
//! Shutdown is checked between batches, so the batch in hand is committed
//! before the process exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::{Config, InboundKind, parse_duration};
use crate::error::{Error, Result};
use crate::inbound::maildir::Maildir;
use crate::outbound::{self, Transport};
use crate::pipeline::Pipeline;
use crate::store::Store;

const DEFAULT_MAILDIR_INTERVAL: Duration = Duration::from_millis(500);
const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

pub async fn serve(cfg: Arc<Config>, store: Store) -> Result<()> {
    let pipeline = Arc::new(Pipeline::new(cfg.clone())?);
    let transport = Transport::from_config(&cfg)?;
    let renderer = outbound::Renderer::new(&cfg)?;
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    spawn_signal_handler(stop.clone(), wake.clone())?;
    let reload = Arc::new(AtomicBool::new(false));
    spawn_hangup_handler(reload.clone(), wake.clone())?;
    let rules_file = cfg.rules.as_ref().map(|r| r.file.clone());
    let mut rules_mtime = rules_file.as_deref().and_then(modified);

    let mut maildirs = Vec::new();
    let mut interval = DEFAULT_FLUSH_INTERVAL;
    for ib in &cfg.inbound {
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
                interval = interval.min(iv);
                maildirs.push(md);
            }
            InboundKind::Imap => {
                return Err(Error::Invalid(format!(
                    "inbound {:?}: kind = \"imap\" is not in this build yet",
                    ib.name
                )));
            }
        }
    }
    if let Some(f) = cfg
        .outbound
        .flush_interval
        .as_deref()
        .and_then(|s| parse_duration(s).ok())
    {
        interval = interval.min(f);
    }
    tracing::info!(
        sources = maildirs.len(),
        backend = store.backend(),
        "mailroom serving"
    );

    let stopped = || stop.load(Ordering::SeqCst);
    while !stopped() {
        // Rules reload on SIGHUP or when the file changes; bad rules keep the old set.
        let now_mtime = rules_file.as_deref().and_then(modified);
        if reload.swap(false, Ordering::SeqCst) || now_mtime != rules_mtime {
            rules_mtime = now_mtime;
            match pipeline.reload_rules() {
                Ok(n) => tracing::info!(rules = n, "rules reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "rules not reloaded; the previous rules stay in force")
                }
            }
        }
        for md in &maildirs {
            let result = md
                .drain(&pipeline, &store, cfg.mailroom.batch_size, &stopped, &mut |o| {
                    tracing::info!(origin = %o.file, outcome = o.outcome.as_str(), ticket = o.ticket_ref.as_deref().unwrap_or("-"), "processed");
                })
                .await;
            if let Err(e) = result {
                // A broken source or a database hiccup: log, keep serving, retry next round.
                tracing::error!(source = %md.name, error = %e, "inbound source failed");
            }
        }
        if !stopped()
            && let Err(e) = outbound::flush(&store, &transport, &renderer, chrono::Utc::now).await
        {
            tracing::error!(error = %e, "outbox flush failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = wake.notified() => {}
        }
    }
    tracing::info!("shutting down: in-flight work committed");
    store.close().await;
    Ok(())
}

fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn spawn_hangup_handler(reload: Arc<AtomicBool>, wake: Arc<tokio::sync::Notify>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).map_err(|e| Error::io("SIGHUP handler", e))?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading rules");
            reload.store(true, Ordering::SeqCst);
            wake.notify_one();
        }
    });
    Ok(())
}

fn spawn_signal_handler(stop: Arc<AtomicBool>, wake: Arc<tokio::sync::Notify>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| Error::io("SIGTERM handler", e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::io("SIGINT handler", e))?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
        stop.store(true, Ordering::SeqCst);
        wake.notify_one();
    });
    Ok(())
}
