//! Ingest benchmark (DESIGN §11): Maildir backlog -> committed tickets in SQLite.
//!
//! ```text
//! cargo bench --bench ingest -- [--messages N] [--files] [--onto FILE] [--db-connections C] [--keep DIR]
//! cargo bench --bench ingest -- --messages N --piped N [--serve] [--parallel K]
//! ```
//!
//! `--files` times `mailroom ingest FILE…` over the generated files (in name
//! order) instead of `poll --once` over the Maildir.
//!
//! 1. Generates N deterministic messages (default 10,000) into a fresh Maildir
//!    (`<dir>/mail/inbox/new/`, one file each, written one at a time): 1-50 KiB
//!    plain-text mail from ~200 customers at ~40 domains, ~30% follow-ups that
//!    answer an earlier message of the same customer (In-Reply-To/References,
//!    "Re: <subject>"), ~10% with an attachment (base64 binary or a text .log).
//! 2. Writes `<dir>/mailroom.toml`: SQLite in `<dir>`, that Maildir as the only
//!    inbound source, a file outbox, one agent as `default_owner` (so every mail
//!    also queues an owner notification, and every new ticket an acknowledgement).
//! 3. Runs the real binary: `migrate` (not timed), then `poll --once` (timed;
//!    peak RSS of that child from `wait4`).
//! 4. Verifies: every message processed, none quarantined, created + appended =
//!    N, `tickets list --json` count = created, outbox = acks + notifications.
//!    Exits non-zero when anything is off.
//! 5. Prints one metric per line and a one-line summary for the README.
//!
//! `--onto FILE` starts from a copy of the SQLite database FILE instead of an
//! empty one (the backlog a team has after years: `cargo bench --bench sla --
//! --sqlite --tickets 770000 --mail-kib 1 --keep DIR` leaves ~1,000,000
//! messages in DIR/sqlite/mailroom.db). The copy is not timed; the checks
//! that list every ticket and outgoing mail are replaced by the counts of
//! the poll's own summary.
//!
//! `--piped N` pipes the first N mails into `mailroom ingest -`, one process
//! each (`--parallel K` at a time), and reports the wall time per mail;
//! `--serve` runs `mailroom serve` meanwhile, which takes them over its
//! ingest socket.
//!
//! `--keep DIR` generates into DIR (created; must be empty) and leaves it there
//! for inspection; otherwise a temporary directory is removed at the end.

#[path = "common/corpus.rs"]
mod corpus;
#[path = "common/proc.rs"]
mod proc;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use corpus::{SUPPORT, generate};
use proc::{
    check_ingested, json_array_len, machine, mailroom, mib, migrate, thousands, timed_poll,
    toml_str, work_dir,
};

/// `cargo bench --bench ingest -- [--messages N] [--keep DIR]`
#[derive(clap::Parser)]
struct Args {
    /// Mails to generate and ingest.
    #[arg(long, short = 'n', default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    messages: u64,
    /// Generate into DIR (created, must be empty) and leave it there.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Time `mailroom ingest FILE…` over the generated files instead of
    /// `poll --once` over the Maildir (the files stay where they are).
    #[arg(long)]
    files: bool,
    /// Start from a copy of this SQLite database (a big backlog).
    #[arg(long)]
    onto: Option<PathBuf>,
    /// Pipe the first N generated mails one process each (`mailroom ingest -`,
    /// as an MTA does) and report the wall time per mail instead.
    #[arg(long)]
    piped: Option<usize>,
    /// With --piped: run `mailroom serve` meanwhile, so `ingest -` hands each
    /// mail to it over the ingest socket.
    #[arg(long, requires = "piped")]
    serve: bool,
    /// With --piped: K deliveries at once, as an MTA runs them.
    #[arg(long, default_value_t = 1, requires = "piped", value_parser = clap::value_parser!(u64).range(1..=64))]
    parallel: u64,
    /// `database.max_connections` for mailroom (default: mailroom's own).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    db_connections: Option<u32>,
    /// Passed by `cargo bench` to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn parse_args() -> Result<Args, String> {
    Ok(<Args as clap::Parser>::parse())
}

fn main() -> ExitCode {
    proc::bench_main("ingest", parse_args, run)
}

fn run(args: &Args) -> Result<(), String> {
    // Keep the TempDir alive until the end of `run`.
    let (_temp, dir) = work_dir(
        args.keep.as_deref(),
        "mailroom-ingest-bench-",
        &std::env::temp_dir(),
    )?;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mailroom"));
    eprintln!("ingest bench: binary {}", bin.display());
    eprintln!("ingest bench: work dir {}", dir.display());

    // 1. Generate the Maildir.
    let inbox = dir.join("mail/inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(inbox.join(sub))
            .map_err(|e| format!("cannot create maildir: {e}"))?;
    }
    let t0 = Instant::now();
    let made = generate(&inbox.join("new"), args.messages as usize)
        .map_err(|e| format!("generating messages: {e}"))?;
    eprintln!(
        "ingest bench: generated {} messages ({:.1} MiB; {} follow-ups, {} with attachment, largest {} bytes) in {:.1} s",
        made.messages,
        mib(made.bytes),
        made.followups,
        made.attachments,
        made.largest,
        t0.elapsed().as_secs_f64()
    );

    // 2. Config.
    let config = dir.join("mailroom.toml");
    let mut toml = config_toml(&dir);
    if let Some(n) = args.db_connections {
        toml = toml.replacen(
            "[database]\n",
            &format!("[database]\nmax_connections = {n}\n"),
            1,
        );
    }
    std::fs::write(&config, toml).map_err(|e| format!("writing {}: {e}", config.display()))?;

    // 3. Migrate (not timed), flush the generated files to disk, then the timed run.
    if let Some(onto) = &args.onto {
        let t = Instant::now();
        std::fs::copy(onto, dir.join("mailroom.db"))
            .map_err(|e| format!("copying {}: {e}", onto.display()))?;
        eprintln!(
            "ingest bench: starting from a copy of {} ({:.1} s)",
            onto.display(),
            t.elapsed().as_secs_f64()
        );
    }
    migrate(&bin, &config, &dir)?;
    // SAFETY: sync(2) has no preconditions; it keeps writeback of the generated
    // files from running during the timed section.
    unsafe { libc::sync() };
    if let Some(n) = args.piped {
        return piped(&bin, &config, &dir, n, args.serve, args.parallel as usize);
    }
    let (poll, summary_line) = if args.files {
        let mut files: Vec<String> = std::fs::read_dir(inbox.join("new"))
            .map_err(|e| format!("listing the generated files: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
            .collect();
        // Generated in order: a follow-up's file sorts after its original.
        files.sort();
        let mut argv = vec!["ingest"];
        argv.extend(files.iter().map(String::as_str));
        let run = proc::timed(&bin, &config, &dir, "ingest", &argv)?;
        let line = ingest_summary(&run.stdout);
        (run, Some(line))
    } else {
        (timed_poll(&bin, &config, &dir, "ingest")?, None)
    };
    let elapsed = poll.elapsed;

    // 4. Verify.
    let (summary, counts) = match &summary_line {
        Some(line) => (
            line.as_str(),
            proc::parse_summary(line).ok_or_else(|| format!("cannot parse {line:?}"))?,
        ),
        None => poll.summary()?,
    };
    let (created, appended) = (counts.count("created"), counts.count("appended"));

    let (tickets, outbox) = if args.onto.is_some() {
        // Listing a million tickets checks nothing the summary does not.
        (created, created * 2 + appended)
    } else {
        (
            json_array_len(
                &mailroom(&bin, &config, &dir, &["tickets", "list", "--json"])?,
                "tickets list --json",
            )?,
            json_array_len(
                &mailroom(&bin, &config, &dir, &["outbox", "list", "--json"])?,
                "outbox list --json",
            )?,
        )
    };
    let left_in_new = std::fs::read_dir(inbox.join("new"))
        .map(|d| d.count())
        .unwrap_or(usize::MAX);

    let mut problems = Vec::new();
    problems.extend(check_ingested(
        &made, summary, &counts, tickets, outbox, &dir,
    ));
    if left_in_new != 0 && !args.files {
        problems.push(format!("{left_in_new} file(s) still in the Maildir's new/"));
    }

    // 5. Report.
    let secs = elapsed.as_secs_f64();
    let rate = made.messages as f64 / secs;
    let mib_total = mib(made.bytes);
    let rss_mib = poll.peak_rss_mib();
    let tv = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    let cpu_percent =
        100.0 * (tv(poll.rusage.ru_utime) + tv(poll.rusage.ru_stime)) / secs.max(1e-9);
    let (nproc, cpu) = machine();
    println!("messages:            {}", made.messages);
    println!("total MiB:           {mib_total:.1}");
    println!("seconds:             {secs:.3}");
    println!("messages/s:          {rate:.0}");
    println!("MiB/s:               {:.1}", mib_total / secs);
    println!("peak RSS MiB:        {rss_mib:.1}");
    println!("tickets created:     {created}");
    println!("follow-ups appended: {appended}");
    println!("outbox queued:       {outbox}");
    println!("machine:             nproc {nproc}, {cpu}");
    println!(
        "summary: ingest {} {} ({mib_total:.1} MiB, {} follow-ups) -> SQLite{}: {secs:.2} s, {} msg/s, {:.1} MiB/s, CPU {:.0} %, peak RSS {rss_mib:.1} MiB, {created} tickets + {outbox} outbound queued ({nproc} cores, {cpu}; `cargo bench --bench ingest -- --messages {}{}{}{}`)",
        thousands(made.messages as u64),
        if args.files {
            "files (`mailroom ingest FILE…`)"
        } else {
            "Maildir messages"
        },
        thousands(made.followups as u64),
        if args.onto.is_some() {
            " (onto a copied database)"
        } else {
            ""
        },
        thousands(rate.round() as u64),
        mib_total / secs,
        cpu_percent,
        made.messages,
        if args.files { " --files" } else { "" },
        args.onto
            .as_ref()
            .map(|o| format!(" --onto {}", o.display()))
            .unwrap_or_default(),
        args.db_connections
            .map(|n| format!(" --db-connections {n}"))
            .unwrap_or_default(),
    );
    proc::conclude(
        "ingest",
        args.keep.is_some().then_some(dir.as_path()),
        &problems,
    )
}

/// `--piped N`: one `mailroom ingest -` process per mail, stdin from the
/// file, `parallel` at a time; the wall time of each, from spawn to exit.
/// The files are moved out of the Maildir first, so that a `serve` started
/// for `--serve` takes them only from the pipe.
fn piped(
    bin: &Path,
    config: &Path,
    dir: &Path,
    n: usize,
    serve: bool,
    parallel: usize,
) -> Result<(), String> {
    let new = dir.join("mail/inbox/new");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
        .map_err(|e| format!("listing the generated files: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let aside = dir.join("piped");
    std::fs::create_dir_all(&aside).map_err(|e| format!("{}: {e}", aside.display()))?;
    for f in &mut files {
        let to = aside.join(f.file_name().unwrap_or_default());
        std::fs::rename(&*f, &to).map_err(|e| format!("{}: {e}", f.display()))?;
        *f = to;
    }
    files.truncate(n);
    let server = if serve {
        Some(Serving::start(
            bin,
            config,
            dir,
            &dir.join("mailroom.db.sock"),
        )?)
    } else {
        None
    };
    let t0 = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<Vec<f64>, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                scope.spawn(|| {
                    let mut times = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(f) = files.get(i) else {
                            return Ok(times);
                        };
                        times.push(pipe_one(bin, config, f)?);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect()
    });
    let wall = t0.elapsed().as_secs_f64();
    let serve_rss = match server {
        Some(s) => {
            let rss = s.peak_rss_mib();
            s.stop()?;
            rss
        }
        None => None,
    };
    let mut times = Vec::with_capacity(files.len());
    for r in results {
        times.extend(r?);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let (nproc, cpu) = machine();
    let how = if serve {
        "handed to a running serve"
    } else {
        "no serve running"
    };
    println!(
        "summary: `mailroom ingest -`, one process per mail, {} mails into SQLite, {how}, {parallel} at a time: median {:.1} ms, p90 {:.1} ms, min {:.1} ms, {:.0} mails/s{} ({nproc} cores, {cpu}; `cargo bench --bench ingest -- --piped {n}{}{}`)",
        times.len(),
        at(0.5),
        at(0.9),
        times[0],
        times.len() as f64 / wall,
        serve_rss
            .map(|r| format!(", serve's peak RSS {r:.1} MiB"))
            .unwrap_or_default(),
        if serve { " --serve" } else { "" },
        if parallel > 1 {
            format!(" --parallel {parallel}")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `mailroom serve` for `--piped --serve`, stopped by SIGTERM.
struct Serving(std::process::Child);

impl Serving {
    /// Starts serve and waits until it listens on `socket`.
    fn start(bin: &Path, config: &Path, dir: &Path, socket: &Path) -> Result<Serving, String> {
        let log = dir.join("serve.log");
        let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = std::process::Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {} serve: {e}", bin.display()))?;
        let mut serving = Serving(child);
        let t = Instant::now();
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            if t.elapsed().as_secs() > 30 || serving.0.try_wait().ok().flatten().is_some() {
                let _ = serving.stop();
                return Err(format!(
                    "serve did not listen on {} (log: {})",
                    socket.display(),
                    log.display()
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(serving)
    }

    /// serve's VmHWM so far.
    fn peak_rss_mib(&self) -> Option<f64> {
        proc::peak_rss_mib_of(self.0.id())
    }

    fn stop(mut self) -> Result<(), String> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let status = self
            .0
            .wait()
            .map_err(|e| format!("waiting for serve: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("serve exited with {status}"))
        }
    }
}

/// Runs `mailroom ingest -` with `f` as stdin; its wall time in ms.
fn pipe_one(bin: &Path, config: &Path, f: &Path) -> Result<f64, String> {
    let stdin = std::fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?;
    let t = Instant::now();
    let out = std::process::Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(["ingest", "-"])
        .stdin(stdin)
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let said = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !(said.contains("created") || said.contains("appended")) {
        return Err(format!(
            "ingest - of {} failed ({}): {said} {}",
            f.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(ms)
}

/// `ingest`'s per-file lines (`path: created MR-1`) as `poll --once`'s
/// summary line, `processed N message(s): created X, appended Y`.
fn ingest_summary(stdout: &str) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut total = 0;
    for line in stdout.lines() {
        if let Some((_, rest)) = line.rsplit_once(": ")
            && let Some(outcome) = rest.split_whitespace().next()
        {
            *counts.entry(outcome).or_default() += 1;
            total += 1;
        }
    }
    let list: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("processed {total} message(s): {}", list.join(", "))
}

fn config_toml(dir: &Path) -> String {
    let inbox = toml_str(&dir.join("mail/inbox").display().to_string());
    let inbound = format!("name = \"bench\"\nkind = \"maildir\"\npath = {inbox}\n");
    proc::bench_config(
        "ingest",
        dir,
        "mailroom.db",
        "mail/outbox",
        SUPPORT,
        &inbound,
        "off",
    )
}
