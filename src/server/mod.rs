//! `serve`: runs every inbound source, the outbox worker, the scheduler and
//! the HTTP endpoint until SIGTERM/SIGINT; only `cli` imports `server`. IMAP
//! sources run in their own tasks, and so does the outbox worker (a slow SMTP
//! server never holds up ingest or shutdown); Maildir sources and rules reload
//! share the main loop. On shutdown each source finishes and commits the
//! batch in hand, logs out, and serve exits 0.

mod health;
mod http;
mod main_loop;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::Config;
use crate::digest::Digests;
use crate::error::{Error, Result};
use crate::inbound::handoff;
use crate::inbound::imap::Context as ImapContext;
use crate::outbound::{self, Transport};
use crate::pipeline::Pipeline;
use crate::store::Store;
use health::Health;
use main_loop::{MainLoop, Sources, Tasks, flush_interval};

const DEFAULT_MAILDIR_INTERVAL: Duration = Duration::from_millis(500);
const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How long shutdown waits for IMAP sources to commit and log out.
const SOURCE_STOP_GRACE: Duration = Duration::from_secs(60);
/// How often scheduled work (SLA reminders and escalations) is looked at.
const SCHEDULE_EVERY: Duration = Duration::from_secs(15);
/// How long shutdown waits for the mail being sent; a mail cut off is sent
/// again by the next run (its claim expires).
const OUTBOX_STOP_GRACE: Duration = Duration::from_secs(10);

pub async fn serve(cfg: Arc<Config>, store: Store) -> Result<()> {
    let pipeline = Arc::new(Pipeline::new(cfg.clone())?);
    let transport = Transport::from_config(&cfg)?;
    let renderer = outbound::Renderer::new(&cfg)?;
    let health = Arc::new(Health::new());
    let stop = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let wake = Arc::new(tokio::sync::Notify::new());
    // Woken by every commit, so an acknowledgement leaves at once.
    let outbox_wake = Arc::new(tokio::sync::Notify::new());
    spawn_signal_handler(
        stop.clone(),
        stop_tx,
        vec![wake.clone(), outbox_wake.clone()],
    )?;
    let reload = Arc::new(AtomicBool::new(false));
    spawn_hangup_handler(reload.clone(), wake.clone())?;

    let sources = Sources::of(&cfg, &health)?;
    let http = if cfg.http.listen == "off" {
        None
    } else {
        Some(http::start(&cfg.http.listen, health.clone(), stop_rx.clone()).await?)
    };
    let ctx = ImapContext::new(
        &cfg,
        pipeline.clone(),
        store.clone(),
        health.clone(),
        outbox_wake.clone(),
    );
    let scheduler = tokio::spawn(scheduler(
        pipeline.clone(),
        Digests::new(cfg.clone(), outbound::Renderer::new(&cfg)?)?,
        store.clone(),
        outbox_wake.clone(),
        stop_rx.clone(),
    ));
    let handoff = start_handoff(&cfg, &store, &pipeline, &health, &outbox_wake, &stop_rx).await;
    let outbox = tokio::spawn(outbox_worker(
        outbox_store(&store, handoff.as_ref()),
        transport,
        renderer,
        pipeline.clone(),
        health.clone(),
        (flush_interval(&cfg), outbox_wake.clone()),
        outbound::Stop::new(stop_rx.clone()),
    ));
    let imap: Vec<_> = sources
        .imap
        .into_iter()
        .map(|s| tokio::spawn(s.run(ctx.clone(), stop_rx.clone())))
        .collect();
    tracing::info!(
        maildir_sources = sources.maildirs.len(),
        imap_sources = imap.len(),
        backend = store.backend(),
        "mailroom serving"
    );

    MainLoop {
        pipeline: &pipeline,
        store: &store,
        health: &health,
        batch_size: cfg.mailroom.batch_size,
        rules_file: cfg.rules.as_ref().map(|r| r.file.clone()),
        outbox_wake: &outbox_wake,
    }
    .run(&sources.maildirs, sources.interval, &stop, &reload, &wake)
    .await;
    let tasks = Tasks {
        imap,
        handoff,
        scheduler,
        outbox,
        http,
    };
    tasks.shut_down(&outbox_wake).await;
    tracing::info!("shutting down: in-flight work committed");
    store.close().await;
    Ok(())
}

/// Where the outbox worker writes. It writes after every commit (claims,
/// marks): on the hand-off's writer its writes leave that connection's page
/// cache valid, where another connection's would make the next hand-off read
/// its pages again (`Store::writer`). `ingest -` through serve: 5.1-5.4 ->
/// 4.4-4.6 ms per mail. (Its commits are fsynced too: switching the writer to
/// synchronous=NORMAL for them cost more than it saved.)
fn outbox_store(store: &Store, handoff: Option<&(tokio::task::JoinHandle<()>, Store)>) -> Store {
    handoff.map_or_else(|| store.clone(), |(_, writer)| writer.clone())
}

/// Starts taking piped mail from `ingest -` on `Config::ingest_socket`,
/// committed on `Store::writer` (fsynced commits). Without the socket (off,
/// or it cannot be bound) serve runs on and `ingest -` stores mail itself.
async fn start_handoff(
    cfg: &Config,
    store: &Store,
    pipeline: &Arc<Pipeline>,
    health: &Arc<Health>,
    outbox_wake: &Arc<tokio::sync::Notify>,
    stop: &watch::Receiver<bool>,
) -> Option<(tokio::task::JoinHandle<()>, Store)> {
    let path = cfg.ingest_socket()?;
    let started = async {
        let listener = handoff::bind(&path)?;
        let writer = store.writer(&cfg.database_url()?).await?;
        Ok::<_, Error>((listener, writer))
    };
    let (listener, writer) = match started.await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(socket = %path.display(), error = %e, "not taking piped mail over a socket; ingest - stores mail itself");
            return None;
        }
    };
    let committer = handoff::Committer {
        pipeline: pipeline.clone(),
        store: writer.clone(),
        health: health.clone(),
        outbox_wake: outbox_wake.clone(),
        batch_size: cfg.mailroom.batch_size,
    };
    let task = tokio::spawn(handoff::serve_handoff(listener, committer, stop.clone()));
    Some((task, writer))
}

/// Runs the scheduled work that is due (SLA reminders and escalations,
/// `#pending` waits that ended and auto-closes, managers' digests) every
/// `SCHEDULE_EVERY`, waking the outbox when it queued mail.
async fn scheduler(
    pipeline: Arc<Pipeline>,
    digests: Digests,
    store: Store,
    outbox_wake: Arc<tokio::sync::Notify>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        match pipeline.sla_scan(&store, chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(alerts = n, "SLA reminders and escalations queued");
                outbox_wake.notify_one();
            }
            Err(e) => tracing::error!(error = %e, "SLA scan failed; will retry"),
        }
        match pipeline
            .lifecycle_scan(&store, chrono::Utc::now(), false)
            .await
        {
            Ok(r) if r.actions.is_empty() => {}
            Ok(r) => {
                tracing::info!(
                    actions = r.actions.len(),
                    "lifecycle: waits ended, warnings, auto-closes"
                );
                outbox_wake.notify_one();
            }
            Err(e) => tracing::error!(error = %e, "lifecycle scan failed; will retry"),
        }
        // Failures are logged per manager inside; the others' digests went on.
        let d = digests.due(&store, chrono::Utc::now()).await;
        if d.queued > 0 {
            tracing::info!(digests = d.queued, "digests queued");
            outbox_wake.notify_one();
        }
        // Normally done right after the flush that sent the relay; here it
        // repairs a crash between the outbox mark and the report.
        match pipeline.report_relays(&store, chrono::Utc::now()).await {
            Ok(r) if r.explained > 0 => outbox_wake.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "relay results not reported; will retry"),
        }
        match store.sla_breached_counts(chrono::Utc::now()).await {
            Ok(counts) => {
                for (target, n) in counts {
                    metrics::gauge!("mailroom_sla_breached_tickets", "target" => target)
                        .set(n as f64);
                }
            }
            Err(e) => tracing::debug!(error = %e, "SLA counts unavailable"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SCHEDULE_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Sends due mail whenever woken (a commit) or every `every`, until stopped;
/// after a flush that recorded relay results, the pipeline reports them
/// (and the explanations it queued go out at once).
async fn outbox_worker(
    store: Store,
    transport: Transport,
    renderer: outbound::Renderer,
    pipeline: Arc<Pipeline>,
    health: Arc<Health>,
    (every, wake): (Duration, Arc<tokio::sync::Notify>),
    stop_flush: outbound::Stop,
) {
    while !stop_flush.is_set() {
        let flushed = outbound::flush(
            &store,
            &transport,
            &renderer,
            chrono::Utc::now,
            &stop_flush,
            false,
        )
        .await;
        let mut again = false;
        if let Ok(r) = &flushed
            && r.relay_results > 0
        {
            match pipeline.report_relays(&store, chrono::Utc::now()).await {
                Ok(rep) => {
                    if rep.partly_refused + rep.undelivered > 0 {
                        tracing::warn!(
                            partly_refused = rep.partly_refused,
                            undelivered = rep.undelivered,
                            agents_told = rep.explained,
                            "relays that did not reach everyone"
                        );
                    }
                    again = rep.explained > 0;
                }
                // The scheduler reports them later.
                Err(e) => tracing::error!(error = %e, "relay results not reported; will retry"),
            }
        }
        let depth = store.outbox_depth().await.ok();
        match flushed {
            Ok(_) => health.outbox(depth, None),
            Err(e) => {
                tracing::error!(error = %e, "outbox flush failed");
                health.outbox(depth, Some(e.to_string()));
            }
        }
        if again {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = wake.notified() => {}
        }
    }
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

fn spawn_signal_handler(
    stop: Arc<AtomicBool>,
    stop_tx: watch::Sender<bool>,
    wake: Vec<Arc<tokio::sync::Notify>>,
) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| Error::io("SIGTERM handler", e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::io("SIGINT handler", e))?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
        stop.store(true, Ordering::SeqCst);
        stop_tx.send_replace(true);
        for w in &wake {
            w.notify_one();
        }
    });
    Ok(())
}
