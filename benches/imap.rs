//! IMAP benchmarks (DESIGN §11) against a real Dovecot + Postfix
//! (`scripts/mailenv.sh`, a private instance on 127.0.0.1 for this run).
//!
//! ```text
//! cargo bench --bench imap -- [--messages N] [--latency M] [--tls] [--keep DIR]
//! ```
//!
//! `--tls`: mailroom (and the bench's own IMAP sessions) use IMAPS, implicit
//! TLS on the instance's IMAPS port, trusting its self-signed certificate
//! (`ca_file = <dir>/tls/cert.pem`); without it, plain IMAP. Every printed
//! line and summary says `TLS: on` or `TLS: off`.
//!
//! Throughput (`--messages`, default 10,000; 0 skips it):
//! 1. Generates N messages with the corpus of `benches/ingest.rs`
//!    (`benches/common/corpus.rs`) straight into Dovecot's Maildir for
//!    support@example.test, like an MDA: written to `tmp/`, owned by the `mail`
//!    user, renamed into `new/` with Dovecot's `,S=<size>,W=<vsize>` name suffix.
//! 2. Untimed: an IMAP SELECT lets Dovecot index them; the count must be N.
//! 3. `mailroom migrate` (untimed), `sync(2)`, then the timed `mailroom poll
//!    --once` with the IMAP source (plain IMAP or, with `--tls`, IMAPS on
//!    loopback), peak RSS of that child from `wait4`.
//! 4. Verifies: N processed, none quarantined, created + appended = N (and the
//!    generator's split), `tickets list` = created, outbox = acks +
//!    notifications, nothing unseen left in INBOX, a second `poll --once`
//!    processes 0.
//!
//! Latency (`--latency`, default 200; 0 skips it):
//! 1. A fresh SQLite database and `mailroom serve` on sales@example.test with
//!    `idle = true`, `poll_interval = "1h"` (IMAPS with `--tls`); waits until
//!    /healthz shows the source in IDLE.
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

/// `println!` with the run's `TLS: on` / `TLS: off` tag appended (defined
/// before the modules below, so they can use it).
macro_rules! say {
    ($tag:expr, $($arg:tt)*) => {
        println!("{}  [{}]", format_args!($($arg)*), $tag)
    };
}

#[path = "imap/client.rs"]
mod client;
#[path = "common/corpus.rs"]
mod corpus;
#[path = "imap/latency.rs"]
mod latency;
#[path = "common/proc.rs"]
mod proc;
#[path = "common/servers.rs"]
mod servers;
#[path = "imap/throughput.rs"]
mod throughput;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use client::Imap;
use proc::{machine, toml_str};
use servers::{MailEnv, calm_disk, free_ports};

/// Dovecot's users in a mailenv instance (scripts/README-mailenv.md).
const THROUGHPUT_USER: &str = "support@example.test";
const LATENCY_USER: &str = "sales@example.test";

const TARGET_RATE: f64 = 1500.0;
const TARGET_P50: Duration = Duration::from_millis(600);
const TARGET_P99: Duration = Duration::from_secs(1);
const TARGET_OWN: Duration = Duration::from_millis(50);
/// The IDLE-notification-to-commit histogram mailroom exports.
const OWN_METRIC: &str = "mailroom_idle_to_commit_seconds";
const LATENCY_SOURCE: &str = "sales";

/// `cargo bench --bench imap -- [--messages N] [--latency M] [--tls] [--keep DIR]`
#[derive(clap::Parser)]
struct Args {
    /// Mails for the throughput part (0 skips it).
    #[arg(long, short = 'n', default_value_t = 10_000)]
    messages: usize,
    /// Mails for the latency part, sent one at a time (0 skips it).
    #[arg(long, short = 'l', default_value_t = 200)]
    latency: usize,
    /// IMAPS (implicit TLS, the instance's certificate as `ca_file`) instead
    /// of plain IMAP, for mailroom and the bench's own sessions.
    #[arg(long)]
    tls: bool,
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

/// What both parts work with.
struct Ctx<'a> {
    bin: &'a Path,
    dir: &'a Path,
    env: &'a MailEnv,
    rt: &'a tokio::runtime::Runtime,
    /// The port and TLS mode of this run, for mailroom and the bench alike.
    imap: Imap,
}

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
        "imap bench: Dovecot + Postfix up in {:.2} s (IMAP {}, IMAPS {}, SMTP {})",
        t.elapsed().as_secs_f64(),
        env.imap,
        env.imaps,
        env.smtp
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let imap = if args.tls {
        Imap::tls(env.imaps, &env.ca_file())?
    } else {
        Imap::plain(env.imap)
    };
    let tag = imap.tag();
    let ctx = Ctx {
        bin: &bin,
        dir: &dir,
        env: &env,
        rt: &rt,
        imap,
    };

    let mut problems = Problems::new();
    let mut summaries = Vec::new();
    let (nproc, cpu) = machine();
    let machine_line = format!("{nproc} cores, {cpu}");

    if args.messages > 0 {
        match throughput::throughput(&ctx, args.messages, ports[4], &mut problems) {
            Ok(s) => summaries.push(s),
            Err(e) => problems.push(format!("throughput ({tag}): {e}")),
        }
    }
    if args.latency > 0 {
        match latency::latency(&ctx, args.latency, ports[5], &mut problems) {
            Ok(s) => summaries.push(s),
            Err(e) => problems.push(format!("latency ({tag}): {e}")),
        }
    }

    say!(tag, "machine:                 nproc {nproc}, {cpu}");
    if let Some(p) = pressure {
        say!(tag, "io pressure before:      {p}");
    }
    // The command that reproduces this run, with what differs from the defaults.
    let mut options = Vec::new();
    if args.tls {
        options.push("--tls".to_string());
    }
    if args.messages != 10_000 {
        options.push(format!("--messages {}", args.messages));
    }
    if args.latency != 200 {
        options.push(format!("--latency {}", args.latency));
    }
    let mut command = String::from("cargo bench --bench imap");
    if !options.is_empty() {
        command = format!("{command} -- {}", options.join(" "));
    }
    for s in &summaries {
        println!("summary: {s} ({machine_line}; `{command}`)");
    }
    drop(ctx);
    let stopped = env.stop();
    if let Err(e) = stopped {
        problems.push(e);
    }
    proc::conclude(
        "imap",
        args.keep.is_some().then_some(dir.as_path()),
        &problems,
    )
}

/// The `[[inbound]]` keys of an IMAP source on this run's port and TLS mode
/// (`extra`: more keys, one per line).
fn imap_inbound(ctx: &Ctx, name: &str, user: &str, password: &Path, extra: &str) -> String {
    let password = toml_str(&password.display().to_string());
    let tls = if ctx.imap.is_tls() {
        let ca = toml_str(&ctx.env.ca_file().display().to_string());
        format!("tls = \"implicit\"\nca_file = {ca}")
    } else {
        "tls = \"none\"".to_string()
    };
    format!(
        "name = \"{name}\"\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\n{tls}\nusername = \"{user}\"\npassword_file = {password}\n{extra}",
        ctx.imap.port
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
