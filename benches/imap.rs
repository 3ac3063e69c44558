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

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use corpus::{SUPPORT, generate_with};
use proc::{
    check_ingested, json_array_len, machine, mailroom, mib, migrate, thousands, timed_poll,
    toml_str,
};

/// Dovecot's users in a mailenv instance (scripts/README-mailenv.md).
const THROUGHPUT_USER: &str = "support@example.test";
const LATENCY_USER: &str = "sales@example.test";
const PASSWORD: &str = "secret";
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
/// `/proc/pressure/io` avg10 (%) above which the disk counts as busy.
const PRESSURE_LIMIT: f64 = 5.0;

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
    let (_temp, dir) = work_dir(args.keep.as_deref())?;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mailroom"));
    eprintln!("imap bench: binary {}", bin.display());
    eprintln!("imap bench: work dir {}", dir.display());
    let pressure = calm_disk();
    if let Some(p) = &pressure {
        eprintln!("imap bench: /proc/pressure/io before the run: {p}");
    }

    let ports = free_ports(6)?;
    let t = Instant::now();
    let env = MailEnv::start(&dir, [ports[0], ports[1], ports[2], ports[3]])?;
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

fn work_dir(keep: Option<&Path>) -> Result<(Option<tempfile::TempDir>, PathBuf), String> {
    // Short: Dovecot's and Postfix's unix sockets live below it.
    let (temp, dir) = proc::work_dir(keep, "mevb", Path::new("/tmp"))?;
    let len = dir.as_os_str().as_bytes().len();
    if len > 60 {
        return Err(format!(
            "work dir {} is {len} characters; mailenv.sh needs at most 60 (unix socket paths)",
            dir.display()
        ));
    }
    Ok((temp, dir))
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

async fn imap_login(
    port: u16,
    user: &str,
) -> Result<async_imap::Session<tokio::net::TcpStream>, String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect to Dovecot: {e}"))?;
    let mut client = async_imap::Client::new(tcp);
    client
        .read_response()
        .await
        .map_err(|e| format!("IMAP greeting: {e}"))?;
    client
        .login(user, PASSWORD)
        .await
        .map_err(|(e, _)| format!("IMAP login {user}: {e}"))
}

/// SELECT (which makes Dovecot sync the Maildir and assign UIDs); EXISTS.
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
    let idle = || {
        http_get(http_port, "/healthz")
            .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
            .is_some_and(|h| h["sources"][LATENCY_SOURCE]["state"] == "idle")
    };
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

    let db_url = format!("sqlite://{}", dir.join("latency.db").display());
    let mut db = rt.block_on(async {
        use sqlx::ConnectOptions;
        use std::str::FromStr;
        sqlx::sqlite::SqliteConnectOptions::from_str(&db_url)
            .map_err(|e| format!("{db_url}: {e}"))?
            .read_only(true)
            .connect()
            .await
            .map_err(|e| format!("open {db_url}: {e}"))
    })?;
    let mut find_ticket = |customer: &str| -> Result<bool, String> {
        rt.block_on(
            sqlx::query_scalar::<_, i64>("SELECT id FROM tickets WHERE customer = ?1")
                .bind(customer.to_string())
                .fetch_optional(&mut db),
        )
        .map(|r| r.is_some())
        .map_err(|e| format!("query tickets: {e}"))
    };
    let own_counter = || -> Option<(f64, f64)> {
        let text = http_get(http_port, "/metrics")?.1;
        let labels = [("source", LATENCY_SOURCE)];
        Some((
            metric(&text, &format!("{OWN_METRIC}_count"), &labels).unwrap_or(0.0),
            metric(&text, &format!("{OWN_METRIC}_sum"), &labels).unwrap_or(0.0),
        ))
    };

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
    let omean = if own.is_empty() {
        Duration::ZERO
    } else {
        own.iter().sum::<Duration>() / own.len() as u32
    };
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

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A sample of the Prometheus text format: `name{labels} value` whose labels
/// include all of `want`.
fn metric(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let (n, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        if n != name {
            return None;
        }
        let has = |k: &str, v: &str| {
            labels
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .any(|(lk, lv)| lk == k && lv.trim_matches('"') == v)
        };
        want.iter()
            .all(|(k, v)| has(k, v))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// Polls `f` every 10 ms until it returns true; an error or `limit` ends it.
fn wait_for(limit: Duration, mut f: impl FnMut() -> Result<bool, String>) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if f()? {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!("timed out after {:.0} s", limit.as_secs_f64()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// GET on serve's HTTP endpoint: (status code, body).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let code = resp.get(9..12)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

// ---------------------------------------------------------------------------
// Config, processes, servers

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

/// Free TCP ports on 127.0.0.1, all bound at once so none repeats.
fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("finding a free port: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("finding a free port: {e}"))
}

/// `/proc/pressure/io`'s "some" line and its avg10.
fn io_pressure() -> Option<(String, f64)> {
    let s = std::fs::read_to_string("/proc/pressure/io").ok()?;
    let some = s.lines().find(|l| l.starts_with("some"))?;
    let avg10: f64 = some
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()?;
    Some((some.trim().to_string(), avg10))
}

/// Waits up to 30 s for the disk to calm down (avg10 <= 5 %: another
/// process's I/O, or the cleanup of a previous run); returns the last reading,
/// marked when the disk is still under pressure.
fn calm_disk() -> Option<String> {
    let start = Instant::now();
    let mut reading = io_pressure()?;
    if reading.1 > PRESSURE_LIMIT {
        eprintln!(
            "imap bench: disk busy ({}); waiting up to 30 s for it to calm down",
            reading.0
        );
    }
    while reading.1 > PRESSURE_LIMIT && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_secs(1));
        reading = io_pressure()?;
    }
    Some(if reading.1 > PRESSURE_LIMIT {
        format!(
            "{}  (avg10 > 5: disk under outside pressure, numbers will be low)",
            reading.0
        )
    } else {
        reading.0
    })
}

/// A private Dovecot + Postfix (scripts/mailenv.sh); stopped on drop too.
struct MailEnv {
    dir: PathBuf,
    imap: u16,
    smtp: u16,
    stopped: bool,
}

impl MailEnv {
    fn start(dir: &Path, [imap, imaps, smtp, lmtp]: [u16; 4]) -> Result<MailEnv, String> {
        let mut env = MailEnv {
            dir: dir.to_path_buf(),
            imap,
            smtp,
            stopped: true,
        };
        let ports = [imap, imaps, smtp, lmtp].map(|p| p.to_string());
        let mut args = vec!["start", dir.to_str().ok_or("work dir is not UTF-8")?];
        args.extend(ports.iter().map(String::as_str));
        // From here on a half-started instance must be stopped too.
        env.stopped = false;
        env.script(&args)?;
        Ok(env)
    }

    fn script(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mailenv.sh"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run scripts/mailenv.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "scripts/mailenv.sh {} failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// CPU seconds (user + sys) of the Dovecot master's exited children, such
    /// as the imap process of a finished session.
    fn dovecot_children_cpu(&self) -> Option<f64> {
        let pid = std::fs::read_to_string(self.dir.join("run/master.pid")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
        // Fields after "(comm) " start at field 3 (state); cutime and cstime
        // are fields 16 and 17.
        let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
        let ticks: f64 =
            fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (hz > 0).then(|| ticks / hz as f64)
    }

    fn stop(mut self) -> Result<(), String> {
        self.stopped = true;
        let dir = self.dir.display().to_string();
        self.script(&["stop", &dir])
    }
}

impl Drop for MailEnv {
    fn drop(&mut self) {
        if !self.stopped {
            let dir = self.dir.display().to_string();
            if let Err(e) = self.script(&["stop", &dir]) {
                eprintln!("imap bench: {e}");
            }
        }
    }
}

/// `mailroom serve`, killed on drop unless terminated.
struct Serve {
    child: Option<Child>,
    log: PathBuf,
}

impl Serve {
    fn start(bin: &Path, config: &Path, dir: &Path, log: &Path) -> Result<Serve, String> {
        let stderr = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .current_dir(dir)
            .env_remove("MAILROOM_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("cannot start {} serve: {e}", bin.display()))?;
        Ok(Serve {
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn check_running(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => Ok(()),
            Some(Ok(Some(s))) => Err(format!("serve exited early ({s})")),
            Some(Err(e)) => Err(format!("waiting for serve: {e}")),
            None => Err("serve is not running".into()),
        }
    }

    /// VmHWM of the running process.
    fn peak_rss_mib(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }

    /// SIGTERM; Ok(true) when serve exits 0 within 20 s.
    fn terminate(&mut self) -> Result<bool, String> {
        let Some(mut child) = self.child.take() else {
            return Err("serve is not running".into());
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            return Err(format!(
                "SIGTERM to serve: {}",
                std::io::Error::last_os_error()
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait() {
                Ok(Some(s)) => return Ok(s.success()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("serve did not stop within 20 s of SIGTERM".into());
                }
                Err(e) => return Err(format!("waiting for serve: {e}")),
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A minimal SMTP client dialog, like a customer's MTA.
struct Dialog {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Dialog {
    fn open(port: u16, hello: &str) -> Result<Dialog, String> {
        let s = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("connect to Postfix on port {port}: {e}"))?;
        s.set_nodelay(true).ok();
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let mut d = Dialog {
            reader: BufReader::new(s.try_clone().map_err(|e| format!("clone socket: {e}"))?),
            writer: s,
        };
        d.expect("220")?;
        d.command(hello, "250")?;
        Ok(d)
    }

    /// Reads a (multi-line) reply and checks its code.
    fn expect(&mut self, code: &str) -> Result<String, String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader
                .read_line(&mut line)
                .map_err(|e| format!("SMTP: reading a reply: {e}"))?;
            all.push_str(&line);
            if !line.starts_with(code) {
                return Err(format!("SMTP: expected {code}, got: {all:?}"));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(all);
            }
        }
    }

    fn command(&mut self, cmd: &str, code: &str) -> Result<String, String> {
        self.writer
            .write_all(format!("{cmd}\r\n").as_bytes())
            .map_err(|e| format!("SMTP: writing {cmd}: {e}"))?;
        self.expect(code)
    }

    /// MAIL, RCPT, DATA; returns once the server accepted the message (250).
    fn transaction(&mut self, from: &str, to: &str, raw: &str) -> Result<(), String> {
        self.command(&format!("MAIL FROM:<{from}>"), "250")?;
        self.command(&format!("RCPT TO:<{to}>"), "250")?;
        self.command("DATA", "354")?;
        let mut body = String::with_capacity(raw.len() + 8);
        for line in raw.replace("\r\n", "\n").split('\n') {
            if line.starts_with('.') {
                body.push('.');
            }
            body.push_str(line);
            body.push_str("\r\n");
        }
        body.push_str(".\r\n");
        self.writer
            .write_all(body.as_bytes())
            .map_err(|e| format!("SMTP: writing DATA: {e}"))?;
        self.expect("250").map(drop)
    }

    fn quit(mut self) {
        let _ = self.writer.write_all(b"QUIT\r\n");
        let mut line = String::new();
        let _ = self.reader.read_line(&mut line);
    }
}
