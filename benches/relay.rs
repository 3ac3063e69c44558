//! Relay latency benchmark (DESIGN §11) against a real Dovecot + Postfix
//! (`scripts/mailenv.sh`, a private instance on 127.0.0.1 for this run).
//!
//! ```text
//! cargo bench --bench relay -- [--relay M] [--keep DIR]
//! ```
//!
//! Measures how long an agent's answer takes to reach the customer: from
//! Postfix accepting the agent's reply (SMTP 250 to the end of DATA) to the
//! relay of it being in the customer's INBOX, with `mailroom serve` watching
//! support@example.test over IMAP IDLE and sending through Postfix by SMTP.
//! Target: p50 < 1.5 s, mailroom's own share < 50 ms (p99).
//!
//! 1. A fresh SQLite database and `mailroom serve`: IMAP source "support" on
//!    support@example.test (`idle = true`, `poll_interval = "1h"`), outbound
//!    SMTP to Postfix (`flush_interval = "100ms"`), one agent, Sally
//!    (sales@example.test), owner of every new ticket; waits until /healthz
//!    shows the source in IDLE.
//! 2. For i = 0..=M (i = 0 is an untimed warm-up; M = 50 by default):
//!    a customer mail from `relay-<run>-<i>@customer.test` to support@ (one
//!    ticket per customer); the bench waits for the notification to Sally in
//!    the database, then until the ticket's outgoing mail is sent, the
//!    acknowledgement is in the customer's INBOX and the source is back in
//!    IDLE (so nothing else is in flight). Then Sally's answer, built as a
//!    mail client would (Re: subject, In-Reply-To/References = the
//!    notification, her words on top, the notification quoted below its
//!    `##- Reply above this line -##` marker), goes to support@ by SMTP:
//!    t0 when Postfix answers 250. Anything outside example.test lands in
//!    catchall@example.test's INBOX, watched over one IMAP session (NOOP
//!    every 5 ms, `UID SEARCH HEADER In-Reply-To <customer's Message-ID>
//!    NOT HEADER Auto-Submitted ""` when EXISTS grows: the acknowledgement
//!    has the same In-Reply-To but is Auto-Submitted): t1 when the NOOP that
//!    revealed the relay returned. t1 - t0 is the latency.
//! 3. mailroom's own share per reply, two parts: IDLE notification -> commit
//!    of the reply, the growth of `mailroom_idle_to_commit_seconds_sum` on
//!    /metrics (used only when `_count` grew by exactly 1); and the relay's
//!    outbox row `sent_at - created_at` (Postfix accepted the relay, minus
//!    the batch's start). The batch's start precedes its commit, so the sum
//!    counts the batch's processing twice: an upper bound.
//! 4. Verifies: M+1 relays sent (outbox 'sent'), each in catchall exactly
//!    once with Sally's words and without the quoted notification, every
//!    ticket `pending`, serve exits 0 on SIGTERM.
//!
//! Prints one metric per line and a summary line, compares with the targets
//! (a miss prints MISSED but does not fail the run), and exits non-zero only
//! when a verification fails. The mail servers are always stopped at the end.
//! `--keep DIR` (at most 60 characters, must be empty or missing) keeps the
//! work dir; otherwise a short temp dir under /tmp is used.

// Unused here, but proc.rs refers to it.
#[path = "common/corpus.rs"]
mod corpus;
#[path = "common/proc.rs"]
mod proc;
#[path = "relay/rounds.rs"]
mod rounds;
#[path = "common/servers.rs"]
mod servers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use proc::{machine, toml_str};
use servers::{MailEnv, calm_disk, free_ports, mean, ms, pct};

/// Dovecot's users in a mailenv instance (scripts/README-mailenv.md).
const SUPPORT_USER: &str = "support@example.test";
const AGENT: &str = "sales@example.test";
const AGENT_NAME: &str = "Sally";
/// Every recipient outside example.test is delivered here.
const CATCHALL: &str = "catchall@example.test";
const SOURCE: &str = "support";
/// The IDLE-notification-to-commit histogram mailroom exports.
const OWN_METRIC: &str = "mailroom_idle_to_commit_seconds";
const TARGET_P50: Duration = Duration::from_millis(1500);
const TARGET_OWN: Duration = Duration::from_millis(50);
/// How long one step may take before the reply counts as lost.
const STEP_LIMIT: Duration = Duration::from_secs(15);
/// Only in the quoted notification: a relay holding it was not cut.
const MARKER_WORDS: &str = "Reply above this line";

/// `cargo bench --bench relay -- [--relay M] [--keep DIR]`
#[derive(clap::Parser)]
struct Args {
    /// Timed agent replies, one at a time (after one untimed warm-up).
    #[arg(long, short = 'r', default_value_t = 50)]
    relay: usize,
    /// Work in DIR (created, must be empty) and leave it there.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Passed by `cargo bench` to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn parse_args() -> Result<Args, String> {
    let args = <Args as clap::Parser>::parse();
    if args.relay == 0 {
        return Err("--relay 0: nothing to measure".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    proc::bench_main("relay", parse_args, run)
}

fn run(args: &Args) -> Result<(), String> {
    // Drop order matters: the mail servers (declared later) stop before the
    // temporary directory (declared first) is removed.
    let (_temp, dir) = servers::work_dir(args.keep.as_deref(), "mevr")?;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mailroom"));
    eprintln!("relay bench: binary {}", bin.display());
    eprintln!("relay bench: work dir {}", dir.display());
    let pressure = calm_disk("relay");
    let ports = free_ports(5)?;
    let t = Instant::now();
    let env = MailEnv::start("relay", &dir, [ports[0], ports[1], ports[2], ports[3]])?;
    eprintln!(
        "relay bench: Dovecot + Postfix up in {:.2} s (IMAP {}, SMTP {})",
        t.elapsed().as_secs_f64(),
        env.imap,
        env.smtp
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;

    let mut problems = Vec::new();
    let summary = match rounds::run(&bin, &dir, &env, &rt, args.relay, ports[4], &mut problems) {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let (nproc, cpu) = machine();
    println!("machine:                 nproc {nproc}, {cpu}");
    if let Some(p) = pressure {
        println!("io pressure before:      {p}");
    }
    let mut command = String::from("cargo bench --bench relay");
    if args.relay != 50 {
        command.push_str(&format!(" -- --relay {}", args.relay));
    }
    if let Some(s) = summary {
        println!("summary: {s} ({nproc} cores, {cpu}; `{command}`)");
    }
    if let Err(e) = env.stop() {
        problems.push(e);
    }
    proc::conclude(
        "relay",
        args.keep.is_some().then_some(dir.as_path()),
        &problems,
    )
}

/// The config: SQLite, the IMAP source under IDLE, SMTP to Postfix, Sally.
fn config_toml(dir: &Path, imap: u16, smtp: u16, http_port: u16) -> String {
    let templates = toml_str(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .display()
            .to_string(),
    );
    let db = toml_str(&format!("sqlite://{}", dir.join("relay.db").display()));
    let password = toml_str(&dir.join("imap-password").display().to_string());
    format!(
        r#"# Written by benches/relay.rs.
[mailroom]
support_address = "{SUPPORT_USER}"
support_name = "Bench Support"
default_owner = "{AGENT}"
templates_dir = {templates}
# Sally gets one notification per customer: with --relay 100 or more the
# per-agent limit (default 100 per hour) would skip some.
notification_limit_per_hour = 1000000

[database]
url = {db}

[[inbound]]
name = "{SOURCE}"
kind = "imap"
host = "127.0.0.1"
port = {imap}
tls = "none"
username = "{SUPPORT_USER}"
password_file = {password}
idle = true
poll_interval = "1h"

[outbound]
kind = "smtp"
host = "127.0.0.1"
port = {smtp}
tls = "none"
flush_interval = "100ms"

[http]
listen = "127.0.0.1:{http_port}"

[[agent]]
email = "{AGENT}"
name = "{AGENT_NAME}"
"#
    )
}

/// p50, p90, p99, max and mean of some durations.
struct Stats {
    n: usize,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
}

impl Stats {
    fn of(mut v: Vec<Duration>) -> Stats {
        v.sort_unstable();
        Stats {
            n: v.len(),
            p50: pct(&v, 0.5),
            p90: pct(&v, 0.9),
            p99: pct(&v, 0.99),
            max: v.last().copied().unwrap_or_default(),
            mean: mean(&v),
        }
    }

    /// One line per statistic, `label` first; `digits` after the point.
    fn print(&self, label: &str, digits: usize) {
        for (name, d) in [
            ("p50", self.p50),
            ("p90", self.p90),
            ("p99", self.p99),
            ("max", self.max),
            ("mean", self.mean),
        ] {
            let key = format!("{label} {name} ms:");
            println!("{key:<33}{:.digits$}", ms(d));
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// The notification mailroom queued to Sally for a ticket.
struct Notification {
    message_id: String,
    subject: String,
    ticket_ref: String,
    /// The tag of its Reply-To (`support+<tag>@…`), where a mail client replies.
    reply_token: Option<String>,
}

/// sqlx stores chrono times as RFC 3339 text on SQLite.
fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .map_err(|e| format!("timestamp {s:?} in the outbox: {e}"))
}

fn customer_mail(customer: &str, mid: &str, i: usize, run_id: u32) -> String {
    format!(
        "From: \"Relay Customer {i}\" <{customer}>\r\n\
         To: Support <{SUPPORT_USER}>\r\n\
         Subject: Export stopped (relay probe {i} of run {run_id})\r\n\
         Date: {}\r\n\
         Message-ID: <{mid}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello,\r\n\r\nour nightly export has stopped since this morning.\r\n\
         Could you have a look?\r\n\r\nThanks,\r\nRelay Customer {i}\r\n",
        chrono::Utc::now().to_rfc2822(),
    )
}

/// Sally's words in reply `i`: unique, so the check finds them in its relay.
fn answer(i: usize, run_id: u32) -> String {
    format!("we restarted the export job (reply {i} of run {run_id}).")
}

/// Sally's answer as a mail client writes it: her words on top, the
/// notification quoted below, starting with its marker line.
fn agent_reply(note: &Notification, i: usize, run_id: u32) -> String {
    let now = chrono::Utc::now();
    let note_id = format!("<{}>", note.message_id.trim_matches(['<', '>']));
    // The notification's Reply-To, as a mail client answers it.
    let to = match (&note.reply_token, SUPPORT_USER.split_once('@')) {
        (Some(t), Some((local, domain))) => format!("{local}+{t}@{domain}"),
        _ => SUPPORT_USER.to_string(),
    };
    format!(
        "From: {AGENT_NAME} <{AGENT}>\r\n\
         To: {to}\r\n\
         Subject: Re: {}\r\n\
         Date: {}\r\n\
         Message-ID: <reply.{run_id}.{i}.{}@example.test>\r\n\
         In-Reply-To: {note_id}\r\n\
         References: {note_id}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Thunderbird/115.8.0\r\n\r\n\
         Hello,\r\n\r\n{}\r\nIt should run again tonight.\r\n\r\n{AGENT_NAME}\r\n\r\n\
         > ##- Reply above this line to answer {} -##\r\n\
         > New ticket {} for you.\r\n\
         >\r\n\
         > Our nightly export has stopped since this morning.\r\n\
         > Could you have a look?\r\n",
        note.subject,
        now.to_rfc2822(),
        now.timestamp_micros(),
        answer(i, run_id),
        note.ticket_ref,
        note.ticket_ref,
    )
}
