//! The CLI edge: runs commands, prints results, maps errors to exit codes.
//! May import every module; no library module imports `cli`.
//! (`anyhow` lives here only.) Commands by topic: `mail_in` (ingest, poll),
//! `show` (tickets, outbox, quarantine), `rules`, `replies`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

mod command;
mod digest;
mod inspect;
mod mail_in;
mod merge;
mod outbox;
mod release;
mod replies;
mod rules;
mod show;

use mail_in::{hand_off, ingest, ingest_piped, poll_once, read_piped};
use rules::rules_command;
use show::{outbox_list, print_ticket_list, quarantine_list, show_ticket};

use crate::config::Config;
use crate::error::Error;
use crate::outbound;
use crate::store::{SqliteUse, Store, TicketFilter};
use crate::tickets;

/// WAL size at which a one-shot `ingest -` checkpoints (`Store::trim_wal`):
/// a mail adds about 300 KiB, and each process reads the WAL back at open.
const ONE_SHOT_WAL_LIMIT: u64 = 2 << 20;

/// EX_TEMPFAIL: an MTA piping into `ingest` requeues and retries.
pub const EXIT_TEMPFAIL: u8 = 75;
/// EX_DATAERR: an MTA piping into `ingest` bounces the mail (too big).
pub const EXIT_DATAERR: u8 = 65;

pub use command::{Command, OutboxCmd, RepliesCmd, RulesCmd, TicketsCmd};
pub use digest::Preview as DigestPreview;

pub fn run(config: Option<&Path>, command: Command) -> ExitCode {
    let default_level = if matches!(command, Command::Serve) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Colours only on a terminal: log files and journald get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    // `ingest -`: the config, the mail and the hand-off to a running serve
    // need no runtime and no database; only a mail no serve took does.
    let mut early = None;
    if let Command::Ingest { json, files } = &command
        && files.len() <= 1
        && is_one_shot(&command)
    {
        let loaded = Config::load(config)
            .map_err(anyhow::Error::from)
            .and_then(|cfg| {
                let mail = read_piped(&cfg)?;
                Ok((cfg, mail))
            });
        match loaded {
            Err(e) => return exit_code(Err(e)),
            Ok((cfg, mail)) => match hand_off(&cfg, &mail, *json) {
                Some(done) => return exit_code(done),
                None => early = Some((Arc::new(cfg), mail)),
            },
        }
    }

    // One mail piped by an MTA needs no second core: one thread starts faster
    // and hands no work between threads.
    let runtime = if is_one_shot(&command) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mailroom: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_TEMPFAIL);
        }
    };
    exit_code(runtime.block_on(execute(config, command, early)))
}

/// The exit code for a command's result, with its error on stderr: 75 when
/// retrying later may succeed, 65 for a mail over the size limit.
fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailroom: {e:#}");
            let ours = || e.chain().filter_map(|c| c.downcast_ref::<Error>());
            let code = if ours().any(Error::is_temporary) {
                EXIT_TEMPFAIL
            } else if ours().any(|e| matches!(e, Error::MessageTooBig { .. })) {
                EXIT_DATAERR
            } else {
                1
            };
            ExitCode::from(code)
        }
    }
}

/// `ingest` of stdin only: a mail piped by an MTA, one process per mail.
fn is_one_shot(command: &Command) -> bool {
    matches!(command, Command::Ingest { files, .. }
        if files.iter().all(|f| f.as_os_str() == "-"))
}

/// After `outbox flush`: the pipeline reports the relay results not reported
/// yet (this run's, and a crashed run's). Whether there are any is one read
/// on the pool (the partial index of unreported relays): with none, neither
/// the pipeline (rules, templates) is built nor a write transaction opened.
/// Rules that do not load must not stop mail from going out: then the next
/// run (or the scheduler) reports them, and the error is logged.
async fn report_relays(cfg: &Arc<Config>, store: &Store) -> Option<crate::pipeline::RelayReports> {
    let reported = match store.has_unreported_relays().await {
        Ok(false) => Ok(crate::pipeline::RelayReports::default()),
        Ok(true) => match crate::pipeline::Pipeline::new(cfg.clone()) {
            Ok(p) => p.report_relays(store, now()).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    reported
        .inspect_err(|e| tracing::error!(error = %e, "relay results not reported; the next run or the scheduler does it"))
        .ok()
}

/// The current time. Debug builds (what the test suite runs) take a fixed
/// instant from MAILROOM_NOW (RFC 3339), so clock-driven behaviour — SLA
/// reminders, digests — is tested without sleeping; release builds ignore it.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    #[cfg(debug_assertions)]
    if let Some(t) = std::env::var("MAILROOM_NOW")
        .ok()
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
    {
        return t.with_timezone(&chrono::Utc);
    }
    chrono::Utc::now()
}

/// Prints the process's peak RSS (`VmHWM`, in KiB) to stderr at exit when
/// MAILROOM_REPORT_PEAK_RSS is set, for the tests' and benches' memory checks:
/// a child's `wait4` figure also counts its parent's memory (Linux keeps the
/// larger of the two when a spawned child execs), and a test process is big.
pub fn report_peak_rss() {
    if std::env::var_os("MAILROOM_REPORT_PEAK_RSS").is_some() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(kib) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            eprintln!("mailroom peak RSS: {kib} KiB");
        }
    }
}

/// A stop flag set by SIGTERM or SIGINT: the command finishes cleanly.
fn stop_on_signal() -> anyhow::Result<outbound::Stop> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tx.send_replace(true);
    });
    Ok(outbound::Stop::new(rx))
}

async fn open_store(cfg: &Config, usage: SqliteUse) -> anyhow::Result<Store> {
    let url = cfg.database_url()?;
    let store = Store::connect(&url, cfg.database.pool_size(&url), usage).await?;
    store.migrate().await?;
    Ok(store)
}

/// Runs `command`. `early`: the config and mail `ingest -` read before it
/// found no serve to take the mail.
async fn execute(
    config: Option<&Path>,
    command: Command,
    early: Option<(Arc<Config>, mail_in::Piped)>,
) -> anyhow::Result<()> {
    let (cfg, piped) = match early {
        Some((cfg, mail)) => (cfg, Some(mail)),
        None => (Arc::new(Config::load(config)?), None),
    };
    // The rules commands need no database; inspect opens one only if it exists.
    let command = match command {
        Command::Rules(cmd @ (RulesCmd::Check { .. } | RulesCmd::Explain { .. })) => {
            return rules_command(&cfg, cmd);
        }
        Command::Inspect { file, json } => return inspect::inspect(&cfg, &file, json).await,
        Command::Replies(RepliesCmd::List { json }) => return replies::list(&cfg, json),
        other => other,
    };
    let usage = if is_one_shot(&command) {
        SqliteUse::OneShot
    } else {
        SqliteUse::Long
    };
    let store = open_store(&cfg, usage).await?;
    // Every 2 s: each checkpoint ends with an fsync of the database file, and
    // at a million stored messages the 200 ms it was halved ingest throughput
    // (`cargo bench --bench ingest -- --onto DB`: 1,950 -> 4,100 msg/s).
    let checkpointer = store.spawn_checkpointer(std::time::Duration::from_secs(2));
    let result = dispatch(&cfg, &store, command, piped).await;
    if let Some(c) = checkpointer {
        c.abort();
    }
    if usage == SqliteUse::OneShot
        && let Err(e) = store.trim_wal(ONE_SHOT_WAL_LIMIT).await
    {
        // The mail is stored; the next process checkpoints.
        tracing::warn!(error = %e, "checkpoint of the WAL failed");
    }
    store.close().await;
    result
}

/// The commands that use the database, on the store `execute` opened.
async fn dispatch(
    cfg: &Arc<Config>,
    store: &Store,
    command: Command,
    piped: Option<mail_in::Piped>,
) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            println!("database schema is up to date ({})", store.backend());
            Ok(())
        }
        Command::Ingest { json, files } => match piped {
            Some(mail) => ingest_piped(cfg, store, json, mail).await,
            None => ingest(cfg, store, json, files).await,
        },
        Command::PollOnce => poll_once(cfg, store).await,
        Command::Serve => crate::server::serve(cfg.clone(), store.clone())
            .await
            .map_err(Into::into),
        Command::Tickets(cmd) => tickets_command(cfg, store, cmd).await,
        Command::Outbox(OutboxCmd::List { json }) => outbox_list(store, json).await,
        Command::Outbox(OutboxCmd::Flush) => outbox::flush(cfg, store).await,
        Command::Quarantine { json } => quarantine_list(store, json).await,
        Command::ScheduleOnce { dry_run } => schedule_once(cfg, store, dry_run).await,
        Command::DigestPreview(p) => digest::preview(cfg, store, p).await,
        Command::DigestSend { manager } => digest::send(cfg, store, &manager).await,
        Command::Stats { since, area, json } => digest::stats(cfg, store, &since, area, json).await,
        Command::QuarantineRelease { id } => release::quarantine_release(cfg, store, id).await,
        Command::SuspendedList { json } => release::suspended_list(store, json).await,
        Command::SuspendedRelease { id } => release::suspended_release(cfg, store, id).await,
        Command::Rules(RulesCmd::Backtest { rules, since, json }) => {
            rules::backtest(cfg, store, &rules, &since, json).await
        }
        Command::Replies(RepliesCmd::Preview {
            name,
            ticket,
            agent,
        }) => replies::preview(cfg, store, &name, &ticket, agent.as_deref()).await,
        Command::Rules(_) | Command::Inspect { .. } | Command::Replies(_) => Ok(()),
    }
}

/// `tickets list`, `tickets show`, `tickets merge` and `tickets split`.
async fn tickets_command(cfg: &Arc<Config>, store: &Store, cmd: TicketsCmd) -> anyhow::Result<()> {
    match cmd {
        TicketsCmd::List {
            status,
            area,
            owner,
            limit,
            json,
        } => {
            let status = match &status {
                Some(s) => Some(s.parse::<tickets::Status>().map_err(anyhow::Error::msg)?),
                None => None,
            };
            let rows = store
                .list_tickets(&TicketFilter {
                    status,
                    area,
                    owner,
                    limit,
                })
                .await?;
            print_ticket_list(cfg, &rows, json)
        }
        TicketsCmd::Show { reference, json } => show_ticket(cfg, store, &reference, json).await,
        TicketsCmd::Merge {
            source,
            into,
            force,
            dry_run,
        } => merge::merge(cfg, store, (&source, &into), force, dry_run).await,
        TicketsCmd::Split {
            reference,
            message,
            dry_run,
        } => merge::split(cfg, store, (&reference, &message), dry_run).await,
    }
}

/// `schedule --once`: the scheduler's steps, each printed; `--dry-run`:
/// what the SLA and lifecycle steps would do, nothing changed.
async fn schedule_once(cfg: &Arc<Config>, store: &Store, dry_run: bool) -> anyhow::Result<()> {
    let pipeline = crate::pipeline::Pipeline::new(cfg.clone())?;
    if dry_run {
        println!("dry run: nothing is written or sent");
        for line in pipeline.sla_scan_dry_run(store, now()).await? {
            println!("sla: {line}");
        }
        for line in pipeline.lifecycle_scan(store, now(), true).await?.actions {
            println!("lifecycle: {line}");
        }
        println!(
            "digests and relay results are not looked at in a dry run (`digest preview` shows a digest)"
        );
        return Ok(());
    }
    let alerts = pipeline.sla_scan(store, now()).await?;
    println!("sla: {alerts} reminder(s) and escalation(s) queued");
    let life = pipeline.lifecycle_scan(store, now(), false).await?;
    println!("lifecycle: {} action(s)", life.actions.len());
    for line in &life.actions {
        println!("lifecycle: {line}");
    }
    let relays = pipeline.report_relays(store, now()).await?;
    println!("relays: {} result(s) reported", relays.reported);
    let digests = crate::digest::Digests::new(cfg.clone(), outbound::Renderer::new(cfg)?)?;
    let digests = digests.due(store, now()).await;
    println!("digests: {} queued", digests.queued);
    for (manager, hold) in &digests.held {
        println!("digest for {manager} held back: {hold}; it goes out at a later run");
    }
    for (manager, error) in &digests.failed {
        println!("digest for {manager} failed: {error}; it is tried again at the next run");
    }
    if !digests.failed.is_empty() {
        anyhow::bail!("{} digest(s) failed", digests.failed.len());
    }
    Ok(())
}
