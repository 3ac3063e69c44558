//! SLA benchmark (DESIGN §11): a manager's digest and the SLA scan over a big
//! database, on SQLite and on PostgreSQL. Targets: a digest over 100,000
//! tickets < 1 s; the SLA scan over 100,000 open tickets < 100 ms.
//!
//! ```text
//! cargo bench --bench sla -- [--tickets N] [--sqlite] [--postgres] [--runs R]
//!                            [--resolved-percent P] [--mail-kib K] [--keep DIR]
//! ```
//!
//! Per backend (both unless one is named):
//! 1. A fresh database: a SQLite file, or a uniquely named PostgreSQL database
//!    on the server of `MAILROOM_BENCH_PG_URL` (admin URL, default
//!    postgres://postgres@127.0.0.1:5432/postgres), dropped at the end, also
//!    after a failure. `mailroom migrate`, then N tickets (default 100,000)
//!    written with sqlx (multi-row INSERTs), spread over the 30 days before a
//!    fixed Monday (the anchor): 5 areas (2 with an office calendar), 50
//!    owners, ~5,000 customers at ~300 domains, ~P % resolved (default 60),
//!    the rest open or pending with due times after the wall clock, and
//!    N × 0.3 % open tickets due now (`sla_next_check` up to 6 h ago); each
//!    ticket with its customer's mail (raw 0.6-K KiB, default K = 8), ~30 %
//!    with a relayed answer, status changes for resolutions (5 % reopened
//!    first) and 1 % with a first-response breach (`sla_alerts`).
//! 2. A config: the database, an `[[area]]` and 10 `[[agent]]`s per area,
//!    `[sla.normal]`, one `[[manager]]` (all areas, weekly digest cron, UTC).
//! 3. Waits (up to a minute) for the CPU to be calm, then times the real
//!    binary (release builds use the wall clock; `--at` for the digest), wall
//!    and CPU: `digest preview --text --period week --at <anchor + 8 h>` (the
//!    digest due then: the week since the Monday 08:00 before, against the
//!    week before that) R times (default 5); `schedule --once` once with the due tickets (it
//!    queues their reminders and this week's digest), then R times with
//!    nothing due (the scan alone); `tickets list --status open --limit 50`
//!    and `tickets show` of the middle ticket R times. PostgreSQL: both again with
//!    `sslmode=disable` (sqlx otherwise negotiates TLS on every connection).
//!    With the bench's own sqlx connection (PostgreSQL: without TLS, which
//!    it also loads with): the scan query (nothing due, and a full batch of
//!    200), the digest's queries, the threading lookup (64 stored and 64
//!    unknown Message-IDs) and the list query, and their query plans.
//!    With `--tickets 770000 --mail-kib 1` the database holds ~1,000,000
//!    messages (issue: lookups < 50 ms at a million messages).
//! 4. Verifies: the digest's `New` count (and the week before) as generated,
//!    the first scan reminded every due ticket (`outbox` notifications to
//!    owner and area lead per alert), queued one digest and left nothing due;
//!    later runs queue nothing. Exits non-zero when a check fails (a missed
//!    target only prints MISSED).
//! 5. Prints one metric per line and a `summary:` line per backend.
//!
//! `--keep DIR` works in DIR (created, must be empty) and keeps it and the
//! PostgreSQL database; otherwise both are removed at the end.

#[path = "common/corpus.rs"]
mod corpus;
#[path = "sla/data.rs"]
mod data;
#[path = "sla/db.rs"]
mod db;
#[path = "sla/load.rs"]
mod load;
#[path = "common/pg.rs"]
mod pg;
#[path = "common/proc.rs"]
mod proc;
#[path = "sla/report.rs"]
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Datelike, Duration, SecondsFormat, TimeZone, Utc, Weekday};

use data::Shape;
use db::{Db, digest_queries, list_sql, scan_sql, threading_sql};
use proc::{migrate, thousands};
use report::{Lookups, MANAGER, calm_cpu, median, ms, runs};

/// Timed runs of each query (after one untimed).
const QUERY_RUNS: usize = 20;

/// `cargo bench --bench sla -- [--tickets N] [--sqlite] [--postgres] …`
#[derive(clap::Parser)]
struct Args {
    /// Tickets to write.
    #[arg(long, short = 'n', default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1000..=10_000_000))]
    tickets: u64,
    /// Only SQLite (with --postgres: both).
    #[arg(long)]
    sqlite: bool,
    /// Only PostgreSQL (with --sqlite: both).
    #[arg(long)]
    postgres: bool,
    /// Timed runs of each command.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    runs: u64,
    /// Share of resolved tickets, in percent (0: all open).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=90))]
    resolved_percent: u64,
    /// Largest raw mail, in KiB (sizes skew small).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    mail_kib: u64,
    /// Work in DIR (created, must be empty); keep it and the PostgreSQL database.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Passed by `cargo bench` to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

fn parse_args() -> Result<Args, String> {
    Ok(<Args as clap::Parser>::parse())
}

fn main() -> ExitCode {
    proc::bench_main("sla", parse_args, run)
}

/// The digest's "now": a Monday, 00:00 UTC; the data ends here.
fn anchor() -> Result<DateTime<Utc>, String> {
    let a = Utc
        .with_ymd_and_hms(2026, 11, 2, 0, 0, 0)
        .single()
        .ok_or("bad anchor date")?;
    if a.weekday() != Weekday::Mon {
        return Err("the anchor must be a Monday".into());
    }
    Ok(a)
}

fn run(args: &Args) -> Result<(), String> {
    let backends = match (args.sqlite, args.postgres) {
        (true, false) => vec![Backend::Sqlite],
        (false, true) => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    let tmp = std::env::temp_dir();
    let (_temp, dir) = proc::work_dir(args.keep.as_deref(), "mailroom-sla-bench-", &tmp)?;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mailroom"));
    eprintln!("sla bench: binary {}", bin.display());
    eprintln!("sla bench: work dir {}", dir.display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let mut problems = Vec::new();
    for b in backends {
        let label = match b {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        match measure(&rt, b, args, &bin, &dir) {
            Ok(p) => problems.extend(p.into_iter().map(|p| format!("{label}: {p}"))),
            Err(e) => problems.push(format!("{label}: {e}")),
        }
    }
    proc::conclude(
        "sla",
        args.keep.is_some().then_some(dir.as_path()),
        &problems,
    )
}

/// One backend, start to end; the failed checks.
fn measure(
    rt: &tokio::runtime::Runtime,
    backend: Backend,
    args: &Args,
    bin: &Path,
    dir: &Path,
) -> Result<Vec<String>, String> {
    let anchor = anchor()?;
    // The binary runs on the wall clock (release builds ignore MAILROOM_NOW):
    // a digest preview counts only up to it, so before the anchor's digest is
    // due its `New` count would be short for no fault of the code.
    if Utc::now() < anchor + Duration::hours(8) {
        return Err(format!(
            "the wall clock is before {}, when the anchor's digest is due; the digest check cannot run",
            anchor + Duration::hours(8)
        ));
    }
    let flag = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let bdir = dir.join(flag);
    std::fs::create_dir_all(&bdir).map_err(|e| format!("{}: {e}", bdir.display()))?;
    // Dropped (the database with it) when this function returns, however.
    let mut scratch = match backend {
        Backend::Postgres => Some(rt.block_on(pg::ScratchDb::create("mailroom_bench_sla"))?),
        Backend::Sqlite => None,
    };
    if let (Some(s), Some(_)) = (scratch.as_mut(), &args.keep) {
        s.keep();
    }
    let db_file = bdir.join("mailroom.db");
    let url = match &scratch {
        Some(s) => s.url.clone(),
        None => format!("sqlite://{}", db_file.display()),
    };
    let write_config = |name: &str, url: &str| -> Result<PathBuf, String> {
        let path = bdir.join(name);
        std::fs::write(&path, report::config_toml(&bdir, url))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(path)
    };
    let config = write_config("mailroom.toml", &url)?;
    migrate(bin, &config, &bdir)?;

    // 1. The data (not timed).
    let data = data::generate(&Shape {
        tickets: args.tickets as usize,
        resolved_percent: args.resolved_percent,
        mail_kib: args.mail_kib as usize,
        anchor,
        wall: Utc::now(),
    });
    // The bench's own connection skips TLS: sqlx 0.9 does not set
    // TCP_NODELAY, and each big INSERT over TLS waited ~40 ms for an ACK.
    let own_url = match backend {
        Backend::Postgres => pg::without_tls(&url).unwrap_or_else(|| url.clone()),
        Backend::Sqlite => url.clone(),
    };
    let db = rt.block_on(Db::connect(&own_url))?;
    let name = db.name();
    let (raw_bytes, mut phases) = rt.block_on(data.insert(&db))?;
    let settled = std::time::Instant::now();
    rt.block_on(db.settle())?;
    phases.push(("settle", settled.elapsed()));
    let size = rt.block_on(db.size(&db_file))?;
    let load: StdDuration = phases.iter().map(|(_, d)| *d).sum();
    let phases = phases
        .iter()
        .map(|(what, d)| format!("{what} {:.1} s", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "sla bench: {name} loaded in {:.1} s ({phases})",
        load.as_secs_f64()
    );
    let pressure = calm_cpu();
    let mut problems = Vec::new();

    // 2. The digest, as a manager would preview it.
    let at = (anchor + Duration::hours(8)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let digest_args = [
        "digest",
        "preview",
        "--manager",
        MANAGER,
        "--text",
        "--period",
        "week",
        "--at",
        &at,
    ];
    let digest = runs(bin, &config, &bdir, &digest_args, args.runs, |_| {})?;
    std::fs::write(bdir.join("digest.txt"), &digest.stdout).ok();
    // The digest due Monday 08:00 covers the week since the Monday 08:00
    // before (the data ends at the anchor, Monday 00:00), compared with the
    // same hours a week earlier.
    let due = anchor + Duration::hours(8);
    let week = due - Duration::days(7);
    let expected = (
        data.created_between(week, due),
        data.created_between(week - Duration::days(7), week),
    );
    let new = report::new_count(&digest.stdout);
    if new != Some(expected) {
        problems.push(format!(
            "digest `New` (this week, the week before) is {new:?}, expected {expected:?} (see {})",
            bdir.join("digest.txt").display()
        ));
    }

    // 3. The scheduler: once with tickets due, then with nothing due.
    let due_before = rt.block_on(db.due_at(Utc::now()))?;
    if due_before != data.due as i64 {
        problems.push(format!(
            "{due_before} tickets due before the scan, generated {}",
            data.due
        ));
    }
    let schedule = ["schedule", "--once"];
    let first = runs(bin, &config, &bdir, &schedule, 1, |_| {})?;
    let first_counts = report::parse_schedule(&first.stdout);
    let notes = rt.block_on(db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'notification'"))?;
    let noted = rt.block_on(
        db.count("SELECT COUNT(DISTINCT ticket_id) FROM outbox WHERE kind = 'notification'"),
    )?;
    let outbox_after_first = rt.block_on(db.count("SELECT COUNT(*) FROM outbox"))?;
    let left = rt.block_on(db.due_at(Utc::now()))?;
    match first_counts {
        Some((alerts, 1)) if alerts > 0 && notes == 2 * alerts as i64 => {}
        other => problems.push(format!(
            "first `schedule --once`: (alerts, digests) {other:?}, {notes} notifications queued \
             (expected 2 per alert: owner and area lead, and 1 digest); stdout: {}",
            first.stdout.trim()
        )),
    }
    if noted != data.due as i64 || left != 0 {
        problems.push(format!(
            "the first scan reminded {noted} of {} due tickets; {left} still due after it",
            data.due
        ));
    }
    let mut queued_later = Vec::new();
    let mut idle_check = |out: &str| {
        if report::parse_schedule(out) != Some((0, 0)) {
            queued_later.push(out.trim().to_string());
        }
    };
    let idle = runs(bin, &config, &bdir, &schedule, args.runs, &mut idle_check)?;
    // PostgreSQL without TLS: what the connection's handshake costs.
    let plain = match (backend, pg::without_tls(&url)) {
        (Backend::Postgres, Some(u)) => {
            let c = write_config("mailroom-no-tls.toml", &u)?;
            let d = runs(bin, &c, &bdir, &digest_args, args.runs, |_| {})?;
            let s = runs(bin, &c, &bdir, &schedule, args.runs, &mut idle_check)?;
            Some((d, s))
        }
        _ => None,
    };
    problems.extend(
        queued_later
            .into_iter()
            .map(|o| format!("a `schedule --once` with nothing due queued something: {o}")),
    );
    let outbox_end = rt.block_on(db.count("SELECT COUNT(*) FROM outbox"))?;
    if outbox_end != outbox_after_first {
        problems.push(format!(
            "the outbox grew from {outbox_after_first} to {outbox_end} rows in the runs with nothing due"
        ));
    }

    // 3b. What an agent or the pipeline looks up, whatever the backlog. On
    // PostgreSQL without TLS: sqlx 0.9's TLS handshake alone takes 100-190 ms
    // per process (README), which would hide what the lookup costs.
    let lookup_config = match (backend, pg::without_tls(&url)) {
        (Backend::Postgres, Some(u)) => write_config("mailroom-no-tls.toml", &u)?,
        _ => config.clone(),
    };
    let config = &lookup_config;
    let list_args = ["tickets", "list", "--status", "open", "--limit", "50"];
    let list = runs(bin, config, &bdir, &list_args, args.runs, |_| {})?;
    if list.stdout.lines().filter(|l| l.starts_with("MR-")).count() != 50 {
        problems.push(format!(
            "`tickets list --status open --limit 50` did not list 50 tickets:\n{}",
            list.stdout
        ));
    }
    let middle = format!("MR-{}", data.tickets.len() / 2);
    let show = runs(
        bin,
        config,
        &bdir,
        &["tickets", "show", &middle],
        args.runs,
        |_| {},
    )?;
    if !show.stdout.contains(&middle) {
        problems.push(format!(
            "`tickets show {middle}` did not show it:\n{}",
            show.stdout
        ));
    }
    let sample = rt.block_on(db.sample_message_ids(64))?;
    let threading = threading_sql(&sample);
    let (q_thread, rows_thread) = rt.block_on(db.time_query(&threading, &[], QUERY_RUNS))?;
    if rows_thread != 64 {
        problems.push(format!(
            "the threading lookup found {rows_thread} of 64 stored Message-IDs"
        ));
    }
    let (q_list, _) = rt.block_on(db.time_query(&list_sql(), &[], QUERY_RUNS))?;

    // 4. The queries alone, and their plans.
    let now = Utc::now();
    let scan = scan_sql();
    let (q_idle, rows_idle) = rt.block_on(db.time_query(&scan, &[now], QUERY_RUNS))?;
    let later = now + Duration::days(30);
    let (q_full, rows_full) = rt.block_on(db.time_query(&scan, &[later], QUERY_RUNS))?;
    let window = [week - Duration::days(7), anchor];
    let mut digest_times = Vec::new();
    for (what, sql) in digest_queries() {
        let (t, rows) = rt.block_on(db.time_query(&sql, &window, args.runs as usize))?;
        digest_times.push(format!(
            "{what} {:.0} ms ({} rows)",
            ms(median(&t)),
            thousands(rows as u64)
        ));
    }
    let mut plans = vec![
        ("scan", rt.block_on(db.explain(&scan, &[now]))?),
        (
            "threading lookup (64 found, 64 not)",
            rt.block_on(db.explain(&threading, &[]))?,
        ),
        (
            "tickets list --status open --limit 50",
            rt.block_on(db.explain(&list_sql(), &[]))?,
        ),
    ];
    for (what, sql) in digest_queries() {
        plans.push((what, rt.block_on(db.explain(&sql, &window))?));
    }
    rt.block_on(db.close());

    // 5. Report.
    // The admin URL when it is not the default (password hidden).
    let env = match (backend, std::env::var("MAILROOM_BENCH_PG_URL")) {
        (Backend::Postgres, Ok(u)) => format!("MAILROOM_BENCH_PG_URL={} ", pg::redact(&u)),
        _ => String::new(),
    };
    let mut command = format!("{env}cargo bench --bench sla -- --{flag}");
    for (opt, v, default) in [
        ("tickets", args.tickets, 100_000),
        ("resolved-percent", args.resolved_percent, 60),
        ("mail-kib", args.mail_kib, 8),
    ] {
        if v != default {
            command.push_str(&format!(" --{opt} {v}"));
        }
    }
    report::Outcome {
        name,
        command,
        data: &data,
        raw_bytes,
        size,
        load: format!("{:.1} s ({phases})", load.as_secs_f64()),
        pressure,
        digest,
        new,
        expected,
        first,
        first_counts,
        notes: (notes, noted),
        idle,
        plain,
        scan: [(q_idle, rows_idle), (q_full, rows_full)],
        lookups: Lookups {
            list,
            show,
            threading: median(&q_thread),
            list_query: median(&q_list),
        },
        digest_queries: digest_times,
        plans,
    }
    .print();
    drop(scratch);
    Ok(problems)
}
