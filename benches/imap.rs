//! IMAP benchmarks (DESIGN §11) against a real Dovecot + Postfix
//! (`scripts/mailenv.sh`, a private instance on 127.0.0.1 for this run).
//!
//! ```text
//! cargo bench --bench imap -- [--messages N] [--latency M] [--keep DIR]
//! ```
//!
//! Throughput (`--messages`, default 10,000; 0 skips it):
//! 1. Generates N messages with the corpus of `benches/ingest.rs`
//!    (`benches/common/corpus.rs`) straight into Dovecot's Maildir for
//!    support@example.test, like an MDA: written to `tmp/`, owned by the `mail`
//!    user, renamed into `new/` with Dovecot's `,S=<size>,W=<vsize>` name suffix.
//! 2. Untimed: an IMAP SELECT lets Dovecot index them; the count must be N.
//! 3. `mailroom migrate` (untimed), `sync(2)`, then the timed `mailroom poll
//!    --once` with the IMAP source (plain IMAP on loopback), peak RSS of that
//!    child from `wait4`.
//! 4. Verifies: N processed, none quarantined, created + appended = N (and the
//!    generator's split), `tickets list` = created, outbox = acks +
//!    notifications, nothing unseen left in INBOX, a second `poll --once`
//!    processes 0.
//!
//! Latency (`--latency`, default 200; 0 skips it):
//! 1. A fresh SQLite database and `mailroom serve` on sales@example.test with
//!    `idle = true`, `poll_interval = "1h"`; waits until /healthz shows the
//!    source in IDLE.
//! 2. One untimed warm-up mail (Postfix and Dovecot spawn their delivery
//!    processes on first use), then M times: a small unique customer mail over
//!    SMTP to Postfix (-> LMTP -> Dovecot -> IDLE -> mailroom); t0 is taken
//!    when Postfix answers 250 to the end of DATA; the database is polled
//!    every 2 ms until the ticket of that sender exists. 50 ms between mails.
//! 3. mailroom's own share, IDLE notification -> commit, as mailroom measures
//!    it: `mailroom_idle_to_commit_seconds` from /metrics. The exporter's
//!    summary quantiles cover a rolling window of the last ~60 s only, so the
//!    bench also reads /metrics after every mail and takes the per-mail value
//!    from the growth of `_sum` (one commit per mail): that distribution covers
//!    all M mails. Both are printed.
//! 4. SIGTERM to serve; it must exit 0.
//!
//! Prints one metric per line and one summary line per part, compares with
//! the targets (a miss prints MISSED but does not fail the run), and exits
//! non-zero only when a verification fails. The mail servers are always
//! stopped at the end. `--keep DIR` (at most 60 characters, must be empty or
//! missing) keeps the work dir; otherwise a short temp dir under /tmp is used.

#[path = "common/corpus.rs"]
mod corpus;
#[path = "common/proc.rs"]
mod proc;
#[path = "common/servers.rs"]
mod servers;

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use corpus::{SUPPORT, generate_with};
use proc::{
    check_ingested, json_array_len, machine, mailroom, mib, migrate, thousands, timed_poll,
    toml_str,
};
use servers::{
    Dialog, MailEnv, PASSWORD, Serve, calm_disk, free_ports, http_get, imap_login, mean, metric,
    metric_count_sum, ms, pct, read_only_db, source_idle, wait_for,
};

/// Dovecot's users in a mailenv instance (scripts/README-mailenv.md).
const THROUGHPUT_USER: &str = "support@example.test";
const LATENCY_USER: &str = "sales@example.test";
/// Dovecot runs mail processes as the stock `mail` user.
const MAIL_UID: libc::uid_t = 8;
const MAIL_GID: libc::gid_t = 8;

const TARGET_RATE: f64 = 1500.0;
const TARGET_P50: Duration = Duration::from_millis(600);
const TARGET_P99: Duration = Duration::from_secs(1);
const TARGET_OWN: Duration = Duration::from_millis(50);
/// The IDLE-notification-to-commit histogram mailroom exports.
const OWN_METRIC: &str = "mailroom_idle_to_commit_seconds";
const LATENCY_SOURCE: &str = "sales";

/// `cargo bench --bench imap -- [--messages N] [--latency M] [--keep DIR]`
#[derive(clap::Parser)]
struct Args {
    /// Mails for the throughput part (0 skips it).
    #[arg(long, short = 'n', default_value_t = 10_000)]
    messages: usize,
    /// Mails for the latency part, sent one at a time (0 skips it).
    #[arg(long, short = 'l', default_value_t = 200)]
    latency: usize,
    /// Work in DIR (created, must be empty) and leave it there.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Passed by `cargo bench` to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn parse_args() -> Result<Args, String> {
    let args = <Args as clap::Parser>::parse();
    if args.messages == 0 && args.latency == 0 {
        return Err("--messages 0 and --latency 0: nothing to do".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    proc::bench_main("imap", parse_args, run)
}

/// What a part found wrong (the run goes on; the exit code says it at the end).
type Problems = Vec<String>;

fn run(args: &Args) -> Result<(), String> {
    // Drop order matters: the mail servers (declared later) stop before the
    // temporary directory (declared first) is removed.
    let (_temp, dir) = servers::work_dir(args.keep.as_deref(), "mevb")?;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mailroom"));
    eprintln!("imap bench: binary {}", bin.display());
    eprintln!("imap bench: work dir {}", dir.display());
    let pressure = calm_disk("imap");
    if let Some(p) = &pressure {
        eprintln!("imap bench: /proc/pressure/io before the run: {p}");
    }

    let ports = free_ports(6)?;
    let t = Instant::now();
    let env = MailEnv::start("imap", &dir, [ports[0], ports[1], ports[2], ports[3]])?;
    eprintln!(
        "imap bench: Dovecot + Postfix up in {:.2} s (IMAP {}, SMTP {})",
        t.elapsed().as_secs_f64(),
        env.imap,
        env.smtp
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;

    let mut problems = Problems::new();
    let mut summaries = Vec::new();
    let (nproc, cpu) = machine();
    let machine_line = format!("{nproc} cores, {cpu}");

    if args.messages > 0 {
        match throughput(
            &bin,
            &dir,
            &env,
            &rt,
            args.messages,
            ports[4],
            &mut problems,
        ) {
            Ok(s) => summaries.push(s),
            Err(e) => problems.push(format!("throughput: {e}")),
        }
    }
    if args.latency > 0 {
        match latency(&bin, &dir, &env, &rt, args.latency, ports[5], &mut problems) {
            Ok(s) => summaries.push(s),
            Err(e) => problems.push(format!("latency: {e}")),
        }
    }

    println!("machine:                 nproc {nproc}, {cpu}");
    if let Some(p) = pressure {
        println!("io pressure before:      {p}");
    }
    let mut command = String::from("cargo bench --bench imap");
    if args.messages != 10_000 || args.latency != 200 {
        let _ = write!(
            command,
            " -- --messages {} --latency {}",
            args.messages, args.latency
        );
    }
    for s in &summaries {
        println!("summary: {s} ({machine_line}; `{command}`)");
    }
    let stopped = env.stop();
    if let Err(e) = stopped {
        problems.push(e);
    }
    if args.keep.is_some() {
        eprintln!("imap bench: kept {}", dir.display());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("verification failed:\n  {}", problems.join("\n  ")))
    }
}

// ---------------------------------------------------------------------------
// Throughput: 10,000 messages from Dovecot into SQLite

fn throughput(
    bin: &Path,
    dir: &Path,
    env: &MailEnv,
    rt: &tokio::runtime::Runtime,
    n: usize,
    http_port: u16,
    problems: &mut Problems,
) -> Result<String, String> {
    // 1. Into Dovecot's Maildir, the way an MDA delivers.
    let maildir = dir.join("mail").join(THROUGHPUT_USER);
    for sub in ["", "new", "cur", "tmp"] {
        let d = maildir.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        chown_mail(&d)?;
    }
    let (tmp, new) = (maildir.join("tmp"), maildir.join("new"));
    let t0 = Instant::now();
    let made = generate_with(n, |name, raw| {
        // Stored the way Dovecot stores what it delivers itself: LF line ends
        // (IMAP clients get CRLF again, so mailroom sees the generated bytes),
        // the file size and the CRLF size in the name.
        let lf = crlf_to_lf(raw);
        let vsize = lf.len() + lf.iter().filter(|&&b| b == b'\n').count();
        let file = format!("{name},S={},W={vsize}", lf.len());
        let (t, f) = (tmp.join(&file), new.join(&file));
        std::fs::write(&t, &lf)?;
        chown_mail(&t).map_err(std::io::Error::other)?;
        std::fs::rename(&t, &f)
    })
    .map_err(|e| format!("generating messages: {e}"))?;
    eprintln!(
        "imap bench: generated {} messages into {} ({:.1} MiB; {} follow-ups, {} with attachment, largest {} bytes) in {:.1} s",
        made.messages,
        new.display(),
        mib(made.bytes),
        made.followups,
        made.attachments,
        made.largest,
        t0.elapsed().as_secs_f64()
    );

    // 2. Dovecot indexes them (untimed): SELECT syncs the Maildir.
    let t0 = Instant::now();
    let exists = rt.block_on(imap_select_count(env.imap, THROUGHPUT_USER, "INBOX"))?;
    eprintln!(
        "imap bench: Dovecot indexed INBOX ({exists} messages) in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    if exists as usize != made.messages {
        return Err(format!(
            "Dovecot sees {exists} messages in INBOX, {} were delivered",
            made.messages
        ));
    }

    // 3. Config, migrate, then the timed `poll --once`.
    let password = dir.join("imap-password");
    std::fs::write(&password, format!("{PASSWORD}\n"))
        .map_err(|e| format!("{}: {e}", password.display()))?;
    let config = dir.join("mailroom.toml");
    let inbound = format!(
        "name = \"support\"\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{THROUGHPUT_USER}\"\npassword_file = {}\n",
        env.imap,
        toml_str(&password.display().to_string())
    );
    std::fs::write(
        &config,
        config_toml(
            dir,
            "mailroom.db",
            "mail/outbox",
            SUPPORT,
            &inbound,
            http_port,
        ),
    )
    .map_err(|e| format!("writing {}: {e}", config.display()))?;
    migrate(bin, &config, dir)?;
    // SAFETY: sync(2) has no preconditions; it keeps writeback of the generated
    // files from running during the timed section.
    unsafe { libc::sync() };

    let dovecot_cpu_before = env.dovecot_children_cpu();
    let poll = timed_poll(bin, &config, dir, "imap")?;
    let (elapsed, rusage) = (poll.elapsed, poll.rusage);
    let rss_mib = poll.peak_rss_mib();
    let cpu_secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let (user_secs, sys_secs) = (cpu_secs(rusage.ru_utime), cpu_secs(rusage.ru_stime));

    // 4. Verify.
    let (summary, counts) = poll.summary()?;
    let (created, appended) = (counts.count("created"), counts.count("appended"));
    let tickets = json_array_len(
        &mailroom(bin, &config, dir, &["tickets", "list", "--json"])?,
        "tickets list --json",
    )?;
    let outbox = json_array_len(
        &mailroom(bin, &config, dir, &["outbox", "list", "--json"])?,
        "outbox list --json",
    )?;
    // The session's imap process has exited and been reaped by now (the
    // commands above took a while): its CPU time is in the master's children.
    let dovecot_cpu = match (dovecot_cpu_before, env.dovecot_children_cpu()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let again = mailroom(bin, &config, dir, &["poll", "--once"])?;
    let unseen = rt.block_on(imap_unseen(env.imap, THROUGHPUT_USER, "INBOX"));
    // For reference: what the same IMAP client library takes to fetch every
    // body, nothing else (after the timed run, so it cannot warm anything up).
    let bare = rt.block_on(imap_fetch_all(env.imap, THROUGHPUT_USER, "INBOX"));

    let before = problems.len();
    problems.extend(check_ingested(
        &made, summary, &counts, tickets, outbox, dir,
    ));
    if !again.status_ok || !again.stdout.contains("processed 0 message(s)") {
        problems.push(format!(
            "a second `poll --once` should process nothing; got: {}{}",
            again.stdout.trim(),
            again.stderr.trim()
        ));
    }
    match unseen {
        Ok(0) => {}
        Ok(u) => problems.push(format!(
            "{u} message(s) still unseen in INBOX after the commit"
        )),
        Err(e) => problems.push(format!("IMAP STATUS after the run: {e}")),
    }
    let ok = problems.len() == before;

    // 5. Report.
    let secs = elapsed.as_secs_f64();
    let rate = made.messages as f64 / secs;
    let mib_total = mib(made.bytes);
    let verdict = if rate >= TARGET_RATE { "met" } else { "MISSED" };
    println!("imap messages:           {}", made.messages);
    println!("imap total MiB:          {mib_total:.1}");
    println!("imap seconds:            {secs:.3}");
    println!("imap messages/s:         {rate:.0}");
    println!("imap MiB/s:              {:.1}", mib_total / secs);
    println!("imap peak RSS MiB:       {rss_mib:.1}");
    println!(
        "imap mailroom CPU s:     {:.2} ({user_secs:.2} user + {sys_secs:.2} sys; {:.0} % of one core)",
        user_secs + sys_secs,
        100.0 * (user_secs + sys_secs) / secs
    );
    match dovecot_cpu {
        Some(c) => println!(
            "imap Dovecot CPU s:      {c:.2} (its imap process serving the poll; {:.0} % of one core)",
            100.0 * c / secs
        ),
        None => println!("imap Dovecot CPU s:      - (not readable)"),
    }
    match &bare {
        Ok((count, bytes, t)) => println!(
            "imap bare fetch s:       {:.3} (async-imap alone, UID FETCH of all {count} bodies, {:.1} MiB, batches of 256: {:.0} msg/s)",
            t.as_secs_f64(),
            mib(*bytes),
            *count as f64 / t.as_secs_f64()
        ),
        Err(e) => println!("imap bare fetch s:       - ({e})"),
    }
    println!("imap tickets created:    {created}");
    println!("imap follow-ups:         {appended}");
    println!("imap outbox queued:      {outbox}");
    println!("imap verified:           {}", if ok { "yes" } else { "NO" });
    println!("imap target >= 1,500/s:  {verdict}");
    Ok(format!(
        "imap throughput: {} messages ({mib_total:.1} MiB, {} follow-ups) Dovecot IMAP -> SQLite via `poll --once`: {secs:.2} s, {} msg/s, {:.1} MiB/s, peak RSS {rss_mib:.1} MiB, {created} tickets + {outbox} outbound queued; target >= 1,500 msg/s {verdict}",
        thousands(made.messages as u64),
        thousands(made.followups as u64),
        thousands(rate.round() as u64),
        mib_total / secs,
    ))
}

fn crlf_to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, &b) in raw.iter().enumerate() {
        if !(b == b'\r' && raw.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

fn chown_mail(path: &Path) -> Result<(), String> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: NUL in path", path.display()))?;
    // SAFETY: a valid NUL-terminated path; chown(2) has no other preconditions.
    if unsafe { libc::chown(c.as_ptr(), MAIL_UID, MAIL_GID) } != 0 {
        return Err(format!(
            "chown {} to {MAIL_UID}:{MAIL_GID}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

async fn imap_select_count(port: u16, user: &str, folder: &str) -> Result<u32, String> {
    let mut s = imap_login(port, user).await?;
    let mb = s
        .select(folder)
        .await
        .map_err(|e| format!("SELECT {folder}: {e}"))?;
    s.logout().await.ok();
    Ok(mb.exists)
}

/// Fetches every body of `folder` (read-only: EXAMINE, BODY.PEEK) in batches
/// of 256 UIDs, as mailroom does: (messages, bytes, time from connect).
async fn imap_fetch_all(
    port: u16,
    user: &str,
    folder: &str,
) -> Result<(usize, u64, Duration), String> {
    use futures_util::TryStreamExt;
    let start = Instant::now();
    let mut s = imap_login(port, user).await?;
    s.examine(folder)
        .await
        .map_err(|e| format!("EXAMINE {folder}: {e}"))?;
    let mut uids: Vec<u32> = s
        .uid_fetch("1:*", "(UID RFC822.SIZE)")
        .await
        .map_err(|e| format!("UID FETCH: {e}"))?
        .try_filter_map(|f| async move { Ok(f.uid) })
        .try_collect()
        .await
        .map_err(|e| format!("UID FETCH: {e}"))?;
    uids.sort_unstable();
    let (mut count, mut bytes) = (0, 0u64);
    for chunk in uids.chunks(256) {
        let set = format!("{}:{}", chunk[0], chunk[chunk.len() - 1]);
        let mut stream = s
            .uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
            .await
            .map_err(|e| format!("UID FETCH {set}: {e}"))?;
        while let Some(f) = stream
            .try_next()
            .await
            .map_err(|e| format!("UID FETCH {set}: {e}"))?
        {
            if let Some(b) = f.body() {
                count += 1;
                bytes += b.len() as u64;
            }
        }
    }
    let took = start.elapsed();
    s.logout().await.ok();
    Ok((count, bytes, took))
}

async fn imap_unseen(port: u16, user: &str, folder: &str) -> Result<u32, String> {
    let mut s = imap_login(port, user).await?;
    let mb = s
        .status(folder, "(MESSAGES UNSEEN)")
        .await
        .map_err(|e| format!("STATUS {folder}: {e}"))?;
    s.logout().await.ok();
    Ok(mb.unseen.unwrap_or(0))
}

// ---------------------------------------------------------------------------
// Latency: SMTP delivery -> committed ticket under IDLE

fn latency(
    bin: &Path,
    dir: &Path,
    env: &MailEnv,
    rt: &tokio::runtime::Runtime,
    m: usize,
    http_port: u16,
    problems: &mut Problems,
) -> Result<String, String> {
    let password = dir.join("imap-password-sales");
    std::fs::write(&password, format!("{PASSWORD}\n"))
        .map_err(|e| format!("{}: {e}", password.display()))?;
    let inbound = format!(
        "name = \"{LATENCY_SOURCE}\"\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{LATENCY_USER}\"\npassword_file = {}\nidle = true\npoll_interval = \"1h\"\n",
        env.imap,
        toml_str(&password.display().to_string())
    );
    let config = dir.join("mailroom-latency.toml");
    std::fs::write(
        &config,
        config_toml(
            dir,
            "latency.db",
            "mail/outbox-latency",
            LATENCY_USER,
            &inbound,
            http_port,
        ),
    )
    .map_err(|e| format!("writing {}: {e}", config.display()))?;
    migrate(bin, &config, dir)?;

    let log = dir.join("serve.log");
    let mut serve = Serve::start(bin, &config, dir, &log)?;
    let idle = || source_idle(http_port, LATENCY_SOURCE);
    let t0 = Instant::now();
    wait_for(Duration::from_secs(30), || {
        serve.check_running()?;
        Ok(idle())
    })
    .map_err(|e| format!("waiting for the source to enter IDLE: {e}\n{}", serve.log()))?;
    eprintln!(
        "imap bench: serve up and in IDLE after {:.2} s",
        t0.elapsed().as_secs_f64()
    );

    let mut db = read_only_db(rt, &dir.join("latency.db"))?;
    let mut find_ticket = |customer: &str| -> Result<bool, String> {
        rt.block_on(
            sqlx::query_scalar::<_, i64>("SELECT id FROM tickets WHERE customer = ?1")
                .bind(customer.to_string())
                .fetch_optional(&mut db),
        )
        .map(|r| r.is_some())
        .map_err(|e| format!("query tickets: {e}"))
    };
    let own_counter = || metric_count_sum(http_port, OWN_METRIC, LATENCY_SOURCE);

    let run_id = std::process::id();
    let mut smtp = Dialog::open(env.smtp, "EHLO bench.example")?;
    let mut total = Vec::with_capacity(m);
    let mut own = Vec::with_capacity(m);
    let mut ambiguous = 0usize;
    let mut lost = 0usize;
    let (mut last_count, mut last_sum) = own_counter().unwrap_or((0.0, 0.0));
    // Index 0 is the untimed warm-up.
    for i in 0..=m {
        let sender = format!("lat{run_id}-{i}@customer{}.test", i % 7);
        let raw = latency_mail(&sender, i, run_id);
        smtp.transaction(&sender, LATENCY_USER, &raw)?;
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(15);
        let mut found = false;
        while Instant::now() < deadline {
            if find_ticket(&sender)? {
                found = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let took = t0.elapsed();
        if !found {
            lost += 1;
            eprintln!("imap bench: mail {i} from {sender} has no ticket after 15 s");
            continue;
        }
        // The histogram is recorded right after the commit we just saw.
        let mut grown = None;
        let _ = wait_for(Duration::from_secs(2), || {
            grown = own_counter().filter(|(c, _)| *c > last_count);
            Ok(grown.is_some())
        });
        if let Some((c, s)) = grown {
            if i > 0 {
                if c - last_count == 1.0 {
                    own.push(Duration::from_secs_f64((s - last_sum).max(0.0)));
                } else {
                    ambiguous += 1;
                }
            }
            (last_count, last_sum) = (c, s);
        } else if i > 0 {
            ambiguous += 1;
        }
        if i > 0 {
            total.push(took);
        } else {
            eprintln!(
                "imap bench: warm-up mail: {:.0} ms SMTP -> ticket",
                ms(took)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
        let _ = wait_for(Duration::from_secs(5), || Ok(idle()));
    }
    smtp.quit();

    // The exporter's own view (a rolling window of the last ~60 s).
    let metrics = http_get(http_port, "/metrics")
        .map(|r| r.1)
        .unwrap_or_default();
    let q = |quantile: &str| {
        metric(
            &metrics,
            OWN_METRIC,
            &[("source", LATENCY_SOURCE), ("quantile", quantile)],
        )
    };
    let (prom_p50, prom_p99) = (q("0.5"), q("0.99"));
    let labels = [("source", LATENCY_SOURCE)];
    let prom_sum = metric(&metrics, &format!("{OWN_METRIC}_sum"), &labels);
    let prom_count = metric(&metrics, &format!("{OWN_METRIC}_count"), &labels);
    let prom_mean = match (prom_sum, prom_count) {
        (Some(s), Some(c)) if c > 0.0 => Some(s / c),
        _ => None,
    };
    let serve_rss = serve.peak_rss_mib();
    let status = serve.terminate();
    let serve_log = std::fs::read_to_string(&log).unwrap_or_default();
    let errors = serve_log
        .lines()
        // The level may be wrapped in ANSI colour codes.
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .count();

    let before = problems.len();
    if lost > 0 {
        problems.push(format!("{lost} of {m} latency mails produced no ticket"));
    }
    match status {
        Ok(true) => {}
        Ok(false) => problems.push(format!(
            "serve did not exit 0 after SIGTERM; log {}",
            log.display()
        )),
        Err(e) => problems.push(e),
    }
    if prom_count.is_none() {
        problems.push(format!("/metrics has no {OWN_METRIC} for {LATENCY_SOURCE}"));
    }
    if own.is_empty() {
        problems.push("no per-mail own-share values (IDLE -> commit) were measured".into());
    }
    let tickets = rt
        .block_on(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tickets").fetch_one(&mut db))
        .map_err(|e| format!("count tickets: {e}"))?;
    if tickets as usize != m + 1 - lost {
        problems.push(format!(
            "{tickets} tickets in the latency database, expected {}",
            m + 1 - lost
        ));
    }
    let ok = problems.len() == before;

    total.sort_unstable();
    own.sort_unstable();
    let (p50, p90, p99, max) = (
        pct(&total, 0.5),
        pct(&total, 0.9),
        pct(&total, 0.99),
        total.last().copied().unwrap_or_default(),
    );
    let (o50, o90, o99, omax) = (
        pct(&own, 0.5),
        pct(&own, 0.9),
        pct(&own, 0.99),
        own.last().copied().unwrap_or_default(),
    );
    let omean = mean(&own);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let v_total = verdict(p50 < TARGET_P50 && p99 < TARGET_P99);
    let v_own = verdict(o99 < TARGET_OWN);
    let opt_ms = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{:.1}", s * 1000.0));
    println!(
        "latency mails:           {} (+1 untimed warm-up)",
        total.len()
    );
    println!("latency p50 ms:          {:.0}", ms(p50));
    println!("latency p90 ms:          {:.0}", ms(p90));
    println!("latency p99 ms:          {:.0}", ms(p99));
    println!("latency max ms:          {:.0}", ms(max));
    println!(
        "latency min ms:          {:.0}",
        ms(total.first().copied().unwrap_or_default())
    );
    println!(
        "own share mails:         {} ({ambiguous} not attributable)",
        own.len()
    );
    println!("own share p50 ms:        {:.1}", ms(o50));
    println!("own share p90 ms:        {:.1}", ms(o90));
    println!("own share p99 ms:        {:.1}", ms(o99));
    println!("own share max ms:        {:.1}", ms(omax));
    println!("own share mean ms:       {:.1}", ms(omean));
    println!(
        "own share /metrics:      p50 {} ms, p99 {} ms (summary window: last ~60 s), mean {} ms over {} commits",
        opt_ms(prom_p50),
        opt_ms(prom_p99),
        opt_ms(prom_mean),
        prom_count.unwrap_or(0.0)
    );
    println!(
        "outside mailroom p50 ms: {:.0} (SMTP accepted -> IDLE notification: Postfix, LMTP, Dovecot's notify delay)",
        ms(p50.saturating_sub(o50))
    );
    println!(
        "serve peak RSS MiB:      {}",
        serve_rss.map_or("-".into(), |r| format!("{r:.1}"))
    );
    println!("serve log WARN/ERROR:    {errors}");
    println!("latency verified:        {}", if ok { "yes" } else { "NO" });
    println!("latency target p50 < 600 ms, p99 < 1 s: {v_total}");
    println!("own share target p99 < 50 ms:           {v_own}");
    Ok(format!(
        "IDLE latency over {} mails, SMTP accepted -> committed ticket: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (target p50 < 600 ms, p99 < 1 s: {v_total}); mailroom's own share, IDLE notification -> commit: p50 {:.1} ms, p99 {:.1} ms, mean {:.1} ms (target < 50 ms: {v_own})",
        total.len(),
        ms(p50),
        ms(p90),
        ms(p99),
        ms(max),
        ms(o50),
        ms(o99),
        ms(omean),
    ))
}

fn latency_mail(sender: &str, i: usize, run_id: u32) -> String {
    let now = chrono::Utc::now();
    format!(
        "From: \"Latency Customer {i}\" <{sender}>\r\n\
         To: Sales <{LATENCY_USER}>\r\n\
         Subject: Latency probe {i} of run {run_id}\r\n\
         Date: {}\r\n\
         Message-ID: <lat.{run_id}.{i}.{}@customer.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello,\r\n\r\nour export has stopped working since this morning (probe {i}).\r\n\
         Could you have a look?\r\n\r\nThanks,\r\nLatency Customer {i}\r\n",
        now.to_rfc2822(),
        now.timestamp_micros(),
    )
}

// ---------------------------------------------------------------------------
// Config

fn config_toml(
    dir: &Path,
    db: &str,
    outbox: &str,
    support: &str,
    inbound: &str,
    http_port: u16,
) -> String {
    let listen = format!("127.0.0.1:{http_port}");
    proc::bench_config("imap", dir, db, outbox, support, inbound, &listen)
}
