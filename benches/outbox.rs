//! Outbox flush benchmark (DESIGN §11): queued acknowledgements and
//! notifications -> sent, through the file or the SMTP transport.
//!
//! ```text
//! cargo bench --bench outbox -- [--messages N] [--smtp] [--keep DIR]
//! ```
//!
//! 1. Generates N deterministic messages (default 10,000) into a fresh Maildir
//!    with the corpus of `benches/ingest.rs` (`benches/common/corpus.rs`).
//! 2. Untimed: `mailroom migrate` and `poll --once` into SQLite, checked like
//!    the ingest bench. One agent owns every ticket, so the outbox holds an
//!    acknowledgement per new ticket and a notification per mail (17,011 mails
//!    for 10,000).
//! 3. `sync(2)`, then the timed `mailroom outbox flush` (renders each mail from
//!    the templates and sends it, one at a time); peak RSS of that child from
//!    `wait4`.
//!    - Default: the file transport, one .eml per mail (temp file, fsync,
//!      rename).
//!    - `--smtp`: the SMTP transport to a private Postfix (`scripts/mailenv.sh`
//!      on 127.0.0.1, plain SMTP; mailroom keeps one connection open between
//!      mails, with TCP_NODELAY). The customers' domains are outside
//!      example.test, so Postfix delivers their acknowledgements to
//!      catchall@example.test; the agent is the mailenv user sales@example.test.
//! 4. Verifies: the flush reports every row sent and none retrying or failed,
//!    `outbox list --json` shows every row `sent`; file: as many .eml files as
//!    rows; SMTP: once Postfix has delivered (IMAP STATUS every 0.25 s until
//!    the counts are reached, or 30 s without growth), catchall's and the
//!    agent's INBOX hold one message per row addressed to them. Exits
//!    non-zero when anything is off.
//! 5. Prints one metric per line and a one-line summary for the README.
//!
//! `--keep DIR` works in DIR (created; must be empty; at most 60 characters
//! with `--smtp`: mailenv's unix sockets live below it) and leaves it there;
//! otherwise a temporary directory is removed at the end.

#[path = "common/corpus.rs"]
mod corpus;
#[path = "common/proc.rs"]
mod proc;
#[path = "common/servers.rs"]
mod servers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use corpus::{SUPPORT, generate};
use proc::{check_ingested, json_array_len, machine, mailroom, mib, migrate, thousands, toml_str};
use servers::{MailEnv, calm_disk, free_ports, imap_login};

/// With `--smtp`: the agent (a mailenv user), and where everything outside
/// example.test lands (scripts/README-mailenv.md).
const SMTP_AGENT: &str = "sales@example.test";
const CATCHALL: &str = "catchall@example.test";
const MAILENV_DOMAIN: &str = "@example.test";
/// Delivery counts that stop growing this long end the wait for Postfix.
const DELIVERY_STALL: Duration = Duration::from_secs(30);

/// `cargo bench --bench outbox -- [--messages N] [--smtp] [--keep DIR]`
#[derive(clap::Parser)]
struct Args {
    /// Mails to generate and ingest (each queues one or two outgoing mails).
    #[arg(long, short = 'n', default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    messages: u64,
    /// Flush over SMTP through a private Postfix instead of into files.
    #[arg(long)]
    smtp: bool,
    /// Work in DIR (created, must be empty) and leave it there.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Passed by `cargo bench` to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn parse_args() -> Result<Args, String> {
    Ok(<Args as clap::Parser>::parse())
}

fn main() -> ExitCode {
    proc::bench_main("outbox", parse_args, run)
}

fn run(args: &Args) -> Result<(), String> {
    // Drop order matters: the mail servers (declared later) stop before the
    // temporary directory (declared first) is removed.
    let (_temp, dir) = if args.smtp {
        servers::work_dir(args.keep.as_deref(), "mevo")?
    } else {
        let tmp = std::env::temp_dir();
        proc::work_dir(args.keep.as_deref(), "mailroom-outbox-bench-", &tmp)?
    };
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mailroom"));
    eprintln!("outbox bench: binary {}", bin.display());
    eprintln!("outbox bench: work dir {}", dir.display());
    let pressure = calm_disk("outbox");
    let env = if args.smtp {
        let ports = free_ports(4)?;
        let env = MailEnv::start("outbox", &dir, [ports[0], ports[1], ports[2], ports[3]])?;
        eprintln!(
            "outbox bench: Dovecot + Postfix up (IMAP {}, SMTP {})",
            env.imap, env.smtp
        );
        Some(env)
    } else {
        None
    };

    // 1. Generate the Maildir.
    let inbox = dir.join("mail/inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(inbox.join(sub))
            .map_err(|e| format!("cannot create maildir: {e}"))?;
    }
    let made = generate(&inbox.join("new"), args.messages as usize)
        .map_err(|e| format!("generating messages: {e}"))?;
    eprintln!(
        "outbox bench: generated {} messages ({:.1} MiB)",
        made.messages,
        mib(made.bytes)
    );

    // 2. Config, migrate, ingest (none of it timed): fills the outbox.
    let config = dir.join("mailroom.toml");
    let text = config_toml(&dir, env.as_ref().map(|e| e.smtp))?;
    std::fs::write(&config, text).map_err(|e| format!("writing {}: {e}", config.display()))?;
    migrate(&bin, &config, &dir)?;
    let poll = proc::timed_poll(&bin, &config, &dir, "outbox")?;
    let (summary, counts) = poll.summary()?;
    let queued = outbox_rows(&bin, &config, &dir)?;
    let tickets = json_array_len(
        &mailroom(&bin, &config, &dir, &["tickets", "list", "--json"])?,
        "tickets list --json",
    )?;
    let mut problems = check_ingested(&made, summary, &counts, tickets, queued.len(), &dir);
    if !problems.is_empty() {
        return Err(format!(
            "ingest before the flush:\n  {}",
            problems.join("\n  ")
        ));
    }
    eprintln!(
        "outbox bench: ingested in {:.1} s; {} outgoing mails queued",
        poll.elapsed.as_secs_f64(),
        queued.len()
    );

    // 3. The timed flush.
    // SAFETY: sync(2) has no preconditions; it keeps writeback of the database
    // and the generated files from running during the timed section.
    unsafe { libc::sync() };
    let flush = proc::timed(&bin, &config, &dir, "outbox", &["outbox", "flush"])?;
    let flushed_at = Instant::now();

    // 4. Verify.
    let rows = outbox_rows(&bin, &config, &dir)?;
    match parse_flush(&flush.stdout) {
        Some((sent, 0, 0)) if sent == rows.len() => {}
        Some((sent, retrying, failed)) => problems.push(format!(
            "flush: sent {sent}, retrying {retrying}, failed {failed}; {} rows queued",
            rows.len()
        )),
        None => problems.push(format!("no `sent N, …` line in: {}", flush.stdout.trim())),
    }
    let unsent = rows.iter().filter(|r| r["status"] != "sent").count();
    if unsent > 0 {
        problems.push(format!("{unsent} outbox row(s) not `sent` after the flush"));
    }
    let checked = match &env {
        None => check_files(&dir.join("mail/outbox"), rows.len(), &mut problems),
        Some(env) => check_inboxes(env, &rows, flushed_at, &mut problems)?,
    };

    // 5. Report.
    let n = rows.len();
    let secs = flush.elapsed.as_secs_f64();
    let rate = n as f64 / secs;
    let rss = flush.peak_rss_mib();
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu_secs = cpu(flush.rusage.ru_utime) + cpu(flush.rusage.ru_stime);
    let kinds = rows
        .iter()
        .fold(BTreeMap::<&str, usize>::new(), |mut m, r| {
            *m.entry(r["kind"].as_str().unwrap_or("?")).or_default() += 1;
            m
        });
    let kinds = kinds
        .iter()
        .map(|(k, v)| format!("{} {k}", thousands(*v as u64)))
        .collect::<Vec<_>>()
        .join(" + ");
    let transport = match &env {
        None => "file transport (one fsync'd .eml per mail)".to_string(),
        // The port is random: not in the summary.
        Some(_) => "SMTP to a private Postfix on loopback (plain SMTP, one connection)".into(),
    };
    let (nproc, cpu_name) = machine();
    println!("transport:           {transport}");
    println!("messages ingested:   {}", made.messages);
    println!("mails:               {n} ({kinds})");
    println!("seconds:             {secs:.3}");
    println!("mails/s:             {rate:.0}");
    println!("peak RSS MiB:        {rss:.1}");
    println!(
        "CPU s:               {cpu_secs:.2} ({:.0} % of one core)",
        100.0 * cpu_secs / secs
    );
    println!("{checked}");
    println!(
        "verified:            {}",
        if problems.is_empty() { "yes" } else { "NO" }
    );
    println!("machine:             nproc {nproc}, {cpu_name}");
    if let Some(p) = pressure {
        println!("io pressure before:  {p}");
    }
    let command = match (args.smtp, args.messages) {
        (false, 10_000) => "cargo bench --bench outbox".to_string(),
        (false, m) => format!("cargo bench --bench outbox -- --messages {m}"),
        (true, 10_000) => "cargo bench --bench outbox -- --smtp".to_string(),
        (true, m) => format!("cargo bench --bench outbox -- --smtp --messages {m}"),
    };
    println!(
        "summary: outbox flush, {transport}: {} mails ({kinds}; from {} ingested mails) in {secs:.2} s, {} mails/s, peak RSS {rss:.1} MiB ({nproc} cores, {cpu_name}; `{command}`)",
        thousands(n as u64),
        thousands(made.messages as u64),
        thousands(rate.round() as u64),
    );

    if let Some(env) = env
        && let Err(e) = env.stop()
    {
        problems.push(e);
    }
    proc::conclude(
        "outbox",
        args.keep.is_some().then_some(dir.as_path()),
        &problems,
    )
}

/// The rows of `outbox list --json`.
fn outbox_rows(bin: &Path, config: &Path, dir: &Path) -> Result<Vec<serde_json::Value>, String> {
    let out = mailroom(bin, config, dir, &["outbox", "list", "--json"])?;
    if !out.status_ok {
        return Err(format!(
            "`mailroom outbox list --json` failed:\n{}",
            out.stderr
        ));
    }
    serde_json::from_str(&out.stdout)
        .map_err(|e| format!("`mailroom outbox list --json` printed no JSON array: {e}"))
}

/// `sent 17011, retrying 0, failed 0` -> (sent, retrying, failed).
fn parse_flush(stdout: &str) -> Option<(usize, usize, usize)> {
    let line = stdout.lines().find(|l| l.starts_with("sent "))?;
    let mut parts = line.split([',', ';']).map(str::trim);
    let mut field =
        |name: &str| -> Option<usize> { parts.next()?.strip_prefix(name)?.trim().parse().ok() };
    Some((field("sent")?, field("retrying")?, field("failed")?))
}

/// File transport: one finished .eml per row (temp files start with a dot).
fn check_files(outbox: &Path, rows: usize, problems: &mut Vec<String>) -> String {
    let files = std::fs::read_dir(outbox).map(|d| {
        d.filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".eml") && !name.starts_with('.')
            })
            .count()
    });
    let shown = match &files {
        Ok(f) => f.to_string(),
        Err(_) => "-".into(),
    };
    match files {
        Ok(f) if f == rows => {}
        Ok(f) => problems.push(format!("{f} .eml files, {rows} rows")),
        Err(e) => problems.push(format!("{}: {e}", outbox.display())),
    }
    format!("eml files:           {shown}")
}

/// SMTP: waits until Postfix has delivered everything, then compares the
/// INBOX counts of catchall and the agent with the rows addressed to them.
fn check_inboxes(
    env: &MailEnv,
    rows: &[serde_json::Value],
    flushed_at: Instant,
    problems: &mut Vec<String>,
) -> Result<String, String> {
    // Postfix rewrites every recipient outside example.test to catchall, and
    // drops the duplicates that makes: one delivery per row at most.
    let (mut to_catchall, mut to_agent) = (0u32, 0u32);
    for r in rows {
        let recipients = r["recipients"].as_str().unwrap_or_default();
        let addrs: Vec<String> = recipients
            .split([',', ' ', ';'])
            .map(|a| a.trim().trim_matches(['<', '>']).to_ascii_lowercase())
            .filter(|a| a.contains('@'))
            .collect();
        if addrs.is_empty() {
            problems.push(format!(
                "outbox row {} has no recipient: {recipients:?}",
                r["id"]
            ));
        }
        to_catchall += u32::from(addrs.iter().any(|a| !a.ends_with(MAILENV_DOMAIN)));
        to_agent += u32::from(addrs.iter().any(|a| a == SMTP_AGENT));
        if let Some(a) = addrs
            .iter()
            .find(|a| a.ends_with(MAILENV_DOMAIN) && *a != SMTP_AGENT)
        {
            problems.push(format!(
                "outbox row {} goes to {a}, not a bench mailbox",
                r["id"]
            ));
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let count = |user: &str| rt.block_on(inbox_messages(env.imap, user));
    let expected = (to_catchall, to_agent);
    let mut got = (count(CATCHALL)?, count(SMTP_AGENT)?);
    let mut last_growth = Instant::now();
    while got.0 < expected.0 || got.1 < expected.1 {
        if last_growth.elapsed() > DELIVERY_STALL {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        let now = (count(CATCHALL)?, count(SMTP_AGENT)?);
        if now != got {
            last_growth = Instant::now();
        }
        got = now;
    }
    let delivered = flushed_at.elapsed();
    if got != expected {
        problems.push(format!(
            "INBOX counts catchall {}, {SMTP_AGENT} {}; expected {} and {} (the rows addressed to them)",
            got.0, got.1, expected.0, expected.1
        ));
    }
    Ok(format!(
        "delivered:           catchall INBOX {} (expected {}), {SMTP_AGENT} INBOX {} (expected {}); counted {:.1} s after the flush ended",
        got.0,
        expected.0,
        got.1,
        expected.1,
        delivered.as_secs_f64()
    ))
}

/// MESSAGES of `user`'s INBOX (IMAP STATUS).
async fn inbox_messages(port: u16, user: &str) -> Result<u32, String> {
    let mut s = imap_login(port, user).await?;
    let mb = s
        .status("INBOX", "(MESSAGES)")
        .await
        .map_err(|e| format!("STATUS INBOX of {user}: {e}"))?;
    s.logout().await.ok();
    Ok(mb.exists)
}

/// The ingest bench's config (SQLite, the Maildir, a file outbox); with an
/// SMTP port, the outbound section goes to Postfix there and the agent is
/// the mailenv user SMTP_AGENT.
fn config_toml(dir: &Path, smtp: Option<u16>) -> Result<String, String> {
    let inbox = toml_str(&dir.join("mail/inbox").display().to_string());
    let inbound = format!("name = \"bench\"\nkind = \"maildir\"\npath = {inbox}\n");
    let text = proc::bench_config(
        "outbox",
        dir,
        "mailroom.db",
        "mail/outbox",
        SUPPORT,
        &inbound,
        "off",
    );
    let Some(port) = smtp else {
        return Ok(text);
    };
    let mut t: toml::Table = text.parse().map_err(|e| format!("bench config: {e}"))?;
    let mut outbound = toml::Table::new();
    outbound.insert("kind".into(), "smtp".into());
    outbound.insert("host".into(), "127.0.0.1".into());
    outbound.insert("port".into(), i64::from(port).into());
    outbound.insert("tls".into(), "none".into());
    t.insert("outbound".into(), outbound.into());
    let owner = t.get_mut("mailroom").and_then(toml::Value::as_table_mut);
    owner
        .ok_or("bench config has no [mailroom]")?
        .insert("default_owner".into(), SMTP_AGENT.into());
    let agent = t
        .get_mut("agent")
        .and_then(toml::Value::as_array_mut)
        .and_then(|a| a.first_mut())
        .and_then(toml::Value::as_table_mut)
        .ok_or("bench config has no [[agent]]")?;
    agent.insert("email".into(), SMTP_AGENT.into());
    let text = toml::to_string(&t).map_err(|e| format!("bench config: {e}"))?;
    Ok(format!("# Written by benches/outbox.rs (--smtp).\n{text}"))
}
