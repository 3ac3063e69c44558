//! Ingest benchmark (DESIGN §11): Maildir backlog -> committed tickets in SQLite.
//!
//! ```text
//! cargo bench --bench ingest -- [--messages N] [--keep DIR]
//! ```
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
//! `--keep DIR` generates into DIR (created; must be empty) and leaves it there
//! for inspection; otherwise a temporary directory is removed at the end.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use chrono::{DateTime, FixedOffset, TimeZone};

const SEED: u64 = 0x6d61_696c_726f_6f6d; // "mailroom"
const MAX_MESSAGE: usize = 50 * 1024;
const MIN_MESSAGE: usize = 1024;
const DOMAINS: usize = 40;
const CUSTOMERS: usize = 200;
const FOLLOWUP_PERCENT: u64 = 30;
const ATTACHMENT_PERCENT: u64 = 10;
const CC_PERCENT: u64 = 8;
/// Open threads remembered per customer (bounded: the generator streams).
const THREADS_PER_CUSTOMER: usize = 4;
/// References kept per thread (first + newest), like real clients trim them.
const MAX_REFS: usize = 8;
const SUPPORT: &str = "support@bench.test";
const AGENT: &str = "agent@bench.test";

struct Args {
    messages: usize,
    keep: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        messages: 10_000,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--messages" | "-n" => {
                let v = value("--messages")?;
                args.messages = v
                    .replace(['_', ','], "")
                    .parse()
                    .map_err(|_| format!("--messages: {v:?} is not a number"))?;
                if args.messages == 0 {
                    return Err("--messages must be at least 1".into());
                }
            }
            "--keep" => args.keep = Some(PathBuf::from(value("--keep")?)),
            // `cargo bench` passes --bench to every bench target.
            "--bench" => {}
            "-h" | "--help" => {
                println!("usage: cargo bench --bench ingest -- [--messages N] [--keep DIR]");
                std::process::exit(0);
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: [--messages N] [--keep DIR])"
                ));
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ingest bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest bench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    // Keep the TempDir alive until the end of `run`.
    let (_temp, dir) = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
            if std::fs::read_dir(d)
                .map_err(|e| format!("{}: {e}", d.display()))?
                .next()
                .is_some()
            {
                return Err(format!("--keep {}: directory is not empty", d.display()));
            }
            let d = d
                .canonicalize()
                .map_err(|e| format!("{}: {e}", d.display()))?;
            (None, d)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("mailroom-ingest-bench-")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            let d = t.path().to_path_buf();
            (Some(t), d)
        }
    };
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
    let made = generate(&inbox.join("new"), args.messages)
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
    std::fs::write(&config, config_toml(&dir))
        .map_err(|e| format!("writing {}: {e}", config.display()))?;

    // 3. Migrate (not timed), flush the generated files to disk, then the timed run.
    let out = mailroom(&bin, &config, &dir, &["migrate"])?;
    if !out.status_ok {
        return Err(format!("`mailroom migrate` failed:\n{}", out.stderr));
    }
    // SAFETY: sync(2) has no preconditions; it keeps writeback of the generated
    // files from running during the timed section.
    unsafe { libc::sync() };

    let stderr_path = dir.join("poll.stderr");
    let stderr =
        File::create(&stderr_path).map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let start = Instant::now();
    let mut child = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .args(["poll", "--once"])
        .current_dir(&dir)
        .env_remove("MAILROOM_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut stdout)
        .map_err(|e| format!("reading poll output: {e}"))?;
    let (status, rusage) = wait4(child.id())?;
    let elapsed = start.elapsed();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    if !stderr.trim().is_empty() {
        eprintln!("ingest bench: `poll --once` wrote to stderr (first lines):");
        for l in stderr.lines().take(20) {
            eprintln!("  {l}");
        }
    }
    if !exited_ok(status) {
        return Err(format!(
            "`mailroom poll --once` failed (wait status {status}); stdout:\n{stdout}"
        ));
    }
    // Linux reports ru_maxrss in KiB.
    let peak_rss_kib = rusage.ru_maxrss as u64;

    // 4. Verify.
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("processed "))
        .ok_or_else(|| format!("no `processed N message(s)` line in the poll output:\n{stdout}"))?;
    let counts = parse_summary(summary)
        .ok_or_else(|| format!("cannot parse the poll summary {summary:?}"))?;
    let count = |k: &str| {
        counts
            .outcomes
            .iter()
            .find(|(n, _)| n == k)
            .map_or(0, |(_, v)| *v)
    };
    let (created, appended, quarantined) =
        (count("created"), count("appended"), count("quarantined"));

    let tickets = json_array_len(
        &mailroom(&bin, &config, &dir, &["tickets", "list", "--json"])?,
        "tickets list --json",
    )?;
    let outbox = json_array_len(
        &mailroom(&bin, &config, &dir, &["outbox", "list", "--json"])?,
        "outbox list --json",
    )?;
    let left_in_new = std::fs::read_dir(inbox.join("new"))
        .map(|d| d.count())
        .unwrap_or(usize::MAX);

    let mut problems = Vec::new();
    if counts.total != made.messages {
        problems.push(format!(
            "processed {} of {} messages",
            counts.total, made.messages
        ));
    }
    if quarantined != 0 {
        problems.push(format!(
            "{quarantined} message(s) quarantined (see `mailroom quarantine` in {})",
            dir.display()
        ));
    }
    if created + appended != made.messages {
        problems.push(format!(
            "created {created} + appended {appended} != {} messages ({summary})",
            made.messages
        ));
    }
    if created != made.messages - made.followups || appended != made.followups {
        problems.push(format!(
            "expected {} new tickets and {} follow-ups, got created {created}, appended {appended}",
            made.messages - made.followups,
            made.followups
        ));
    }
    if tickets != created {
        problems.push(format!(
            "`tickets list --json` has {tickets} tickets, poll reported {created} created"
        ));
    }
    // Every new ticket: acknowledgement + owner notification; every follow-up: notification.
    let expected_outbox = 2 * created + appended;
    if outbox != expected_outbox {
        problems.push(format!(
            "outbox has {outbox} messages, expected {expected_outbox} (acks + notifications)"
        ));
    }
    if left_in_new != 0 {
        problems.push(format!("{left_in_new} file(s) still in the Maildir's new/"));
    }

    // 5. Report.
    let secs = elapsed.as_secs_f64();
    let rate = made.messages as f64 / secs;
    let mib_total = mib(made.bytes);
    let rss_mib = peak_rss_kib as f64 / 1024.0;
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
        "summary: ingest {} Maildir messages ({mib_total:.1} MiB, {} follow-ups) -> SQLite: {secs:.2} s, {} msg/s, {:.1} MiB/s, peak RSS {rss_mib:.1} MiB, {created} tickets + {outbox} outbound queued ({nproc} cores, {cpu}; `cargo bench --bench ingest -- --messages {}`)",
        thousands(made.messages as u64),
        thousands(made.followups as u64),
        thousands(rate.round() as u64),
        mib_total / secs,
        made.messages,
    );
    if args.keep.is_some() {
        eprintln!("ingest bench: kept {}", dir.display());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("verification failed:\n  {}", problems.join("\n  ")))
    }
}

// ---------------------------------------------------------------------------
// Running the binary

struct Output {
    status_ok: bool,
    stdout: String,
    stderr: String,
}

fn mailroom(bin: &Path, config: &Path, dir: &Path, args: &[&str]) -> Result<Output, String> {
    let out = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} {}: {e}", bin.display(), args.join(" ")))?;
    Ok(Output {
        status_ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn json_array_len(out: &Output, what: &str) -> Result<usize, String> {
    if !out.status_ok {
        return Err(format!("`mailroom {what}` failed:\n{}", out.stderr));
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("`mailroom {what}` printed no JSON: {e}"))?;
    v.as_array()
        .map(Vec::len)
        .ok_or_else(|| format!("`mailroom {what}` printed no JSON array"))
}

/// Waits for the child and returns its wait status and resource usage.
fn wait4(pid: u32) -> Result<(i32, libc::rusage), String> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our own child, not yet reaped.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if r == pid as libc::pid_t {
            return Ok((status, usage));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {err}"));
        }
    }
}

fn exited_ok(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

struct Summary {
    total: usize,
    outcomes: Vec<(String, usize)>,
}

/// `processed 10000 message(s): appended 3000, created 7000`
fn parse_summary(line: &str) -> Option<Summary> {
    let rest = line.strip_prefix("processed ")?;
    let (n, rest) = rest.split_once(" message(s)")?;
    let total = n.trim().parse().ok()?;
    let mut outcomes = Vec::new();
    if let Some(list) = rest.strip_prefix(':') {
        for item in list.split(',') {
            let (k, v) = item.trim().rsplit_once(' ')?;
            outcomes.push((k.to_string(), v.parse().ok()?));
        }
    }
    Some(Summary { total, outcomes })
}

fn machine() -> (usize, String) {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    (nproc, cpu)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn config_toml(dir: &Path) -> String {
    let p = |rel: &str| toml_str(&dir.join(rel).display().to_string());
    let templates = toml_str(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .display()
            .to_string(),
    );
    let db = toml_str(&format!("sqlite://{}", dir.join("mailroom.db").display()));
    format!(
        r#"# Written by benches/ingest.rs.
[mailroom]
support_address = "{SUPPORT}"
support_name = "Bench Support"
default_owner = "{AGENT}"
templates_dir = {templates}
# Every new ticket is acknowledged: the RFC 3834 limit (default 10 per
# recipient per hour) would otherwise skip most acks of this burst.
ack_limit_per_hour = 1000000

[database]
url = {db}

[[inbound]]
name = "bench"
kind = "maildir"
path = {inbox}

[outbound]
kind = "file"
path = {outbox}

[[agent]]
email = "{AGENT}"
name = "Bench Agent"
"#,
        inbox = p("mail/inbox"),
        outbox = p("mail/outbox"),
    )
}

// ---------------------------------------------------------------------------
// Generating the mail

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

const FIRST: &[&str] = &[
    "Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
    "Lena", "Marco", "Nadia", "Olaf", "Priya", "Quentin", "Rosa", "Sven", "Tamara", "Umar", "Vera",
    "Wei", "Xenia", "Yusuf", "Zoe",
];
const LAST: &[&str] = &[
    "Albrecht", "Barros", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Hoffmann", "Ivanova",
    "Jansen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Weber",
];
const ORG_A: &[&str] = &[
    "acme", "blue", "north", "quantum", "river", "silver", "summit", "urban",
];
const ORG_B: &[&str] = &["logistics", "foods", "media", "labs", "retail"];
const TLDS: &[&str] = &["test", "example", "test", "example.com"];
const TZ_MINUTES: &[i32] = &[0, 60, 120, -300, -480, 330, 540, 0, 60, -240];
const AGENTS_UA: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.8.0",
    "Microsoft Outlook 16.0",
    "Apple Mail (2.3774.400.31)",
    "Roundcube Webmail/1.6.6",
];

const PROBLEMS: &[&str] = &[
    "Cannot log in to",
    "Error when exporting from",
    "Slow response times in",
    "Question about",
    "Invoice numbers missing in",
    "Sync stopped working for",
    "Wrong totals shown in",
    "How do I configure",
    "Timeout while uploading to",
    "Password reset link broken for",
    "Feature request for",
    "Duplicate entries in",
    "Access rights for new colleague in",
    "Report layout broken in",
];
const THINGS: &[&str] = &[
    "the dashboard",
    "the mobile app",
    "our billing account",
    "the CSV export",
    "the API",
    "the reporting module",
    "the calendar integration",
    "the admin console",
    "the customer portal",
    "the warehouse scanner app",
    "the webhook settings",
    "single sign-on",
];
const WORDS: &[&str] = &[
    "account",
    "after",
    "again",
    "all",
    "also",
    "always",
    "and",
    "any",
    "app",
    "are",
    "around",
    "attached",
    "before",
    "browser",
    "but",
    "button",
    "cache",
    "can",
    "change",
    "checked",
    "colleague",
    "configuration",
    "could",
    "customer",
    "dashboard",
    "data",
    "day",
    "did",
    "different",
    "does",
    "done",
    "download",
    "each",
    "entries",
    "error",
    "even",
    "every",
    "export",
    "field",
    "file",
    "filter",
    "first",
    "for",
    "from",
    "got",
    "had",
    "happens",
    "have",
    "help",
    "here",
    "however",
    "if",
    "import",
    "in",
    "invoice",
    "is",
    "it",
    "just",
    "last",
    "later",
    "like",
    "list",
    "loading",
    "log",
    "login",
    "look",
    "made",
    "manager",
    "maybe",
    "menu",
    "message",
    "minutes",
    "monday",
    "more",
    "morning",
    "never",
    "new",
    "not",
    "now",
    "number",
    "of",
    "old",
    "once",
    "only",
    "open",
    "order",
    "our",
    "page",
    "password",
    "people",
    "please",
    "possible",
    "problem",
    "project",
    "quickly",
    "really",
    "record",
    "refresh",
    "report",
    "restart",
    "right",
    "same",
    "saved",
    "screen",
    "see",
    "seems",
    "server",
    "settings",
    "several",
    "should",
    "shows",
    "since",
    "slow",
    "some",
    "still",
    "sure",
    "system",
    "team",
    "than",
    "that",
    "the",
    "then",
    "there",
    "this",
    "time",
    "to",
    "today",
    "tried",
    "update",
    "upload",
    "user",
    "using",
    "version",
    "was",
    "we",
    "week",
    "what",
    "when",
    "which",
    "while",
    "window",
    "with",
    "without",
    "work",
    "working",
    "would",
    "yesterday",
    "you",
    "your",
];
const OPENERS: &[&str] = &[
    "Hello,",
    "Hi support team,",
    "Dear support,",
    "Good morning,",
    "Hi,",
    "Hello there,",
];
const CLOSERS: &[&str] = &[
    "Best regards,",
    "Thanks,",
    "Kind regards,",
    "Cheers,",
    "Thank you in advance,",
];

#[derive(Clone)]
struct Customer {
    name: String,
    email: String,
    domain: String,
    tz_minutes: i32,
    threads: Vec<Thread>,
}

#[derive(Clone)]
struct Thread {
    subject: String,
    last_id: String,
    refs: Vec<String>,
}

#[derive(Default)]
struct Generated {
    messages: usize,
    followups: usize,
    attachments: usize,
    bytes: u64,
    largest: usize,
}

fn customers() -> Vec<Customer> {
    let mut domains = Vec::with_capacity(DOMAINS);
    'outer: for (i, a) in ORG_A.iter().enumerate() {
        for (j, b) in ORG_B.iter().enumerate() {
            domains.push(format!("{a}-{b}.{}", TLDS[(i + j) % TLDS.len()]));
            if domains.len() == DOMAINS {
                break 'outer;
            }
        }
    }
    (0..CUSTOMERS)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i / FIRST.len() + i * 7) % LAST.len()];
            let domain = domains[i % DOMAINS].clone();
            Customer {
                name: format!("{first} {last}"),
                email: format!(
                    "{}.{}{}@{domain}",
                    first.to_ascii_lowercase(),
                    last.to_ascii_lowercase(),
                    i / DOMAINS
                ),
                tz_minutes: TZ_MINUTES[i % DOMAINS % TZ_MINUTES.len()],
                domain,
                threads: Vec::new(),
            }
        })
        .collect()
}

/// Writes `n` messages into `new_dir`, one file each, in an order where every
/// follow-up's file name sorts after the message it answers.
fn generate(new_dir: &Path, n: usize) -> std::io::Result<Generated> {
    let mut rng = Rng(SEED);
    let mut people = customers();
    let base = FixedOffset::east_opt(0)
        .expect("utc")
        .with_ymd_and_hms(2024, 3, 4, 7, 30, 0)
        .single()
        .expect("date");
    let mut g = Generated::default();
    let mut buf = String::with_capacity(MAX_MESSAGE + 4096);
    let mut body = String::with_capacity(MAX_MESSAGE);
    for seq in 0..n {
        buf.clear();
        body.clear();
        // ~37 s apart: 10,000 messages span about four days.
        let date = base + chrono::Duration::seconds(seq as i64 * 37 + rng.below(30) as i64);
        let followup =
            rng.percent(FOLLOWUP_PERCENT) && people.iter().any(|c| !c.threads.is_empty());
        let who = if followup {
            loop {
                let c = rng.below(CUSTOMERS);
                if !people[c].threads.is_empty() {
                    break c;
                }
            }
        } else {
            rng.below(CUSTOMERS)
        };
        let cust = &people[who];
        let offset = FixedOffset::east_opt(cust.tz_minutes * 60).expect("offset");
        let local = date.with_timezone(&offset);
        let message_id = format!("{}.{:016x}@mail.{}", 100_000 + seq, rng.next(), cust.domain);

        let (subject, in_reply_to, refs, thread_ix) = if followup {
            let t = rng.below(cust.threads.len());
            let th = &cust.threads[t];
            let mut refs = th.refs.clone();
            refs.push(th.last_id.clone());
            (
                format!("Re: {}", th.subject),
                Some(th.last_id.clone()),
                refs,
                Some(t),
            )
        } else {
            let subject = format!(
                "{} {} (case {})",
                rng.pick(PROBLEMS),
                rng.pick(THINGS),
                1000 + rng.below(9000)
            );
            (subject, None, Vec::new(), None)
        };

        // Size: 1-50 KiB, skewed towards small mail like a real inbox.
        let u = rng.unit();
        let target = MIN_MESSAGE + ((MAX_MESSAGE - MIN_MESSAGE - 1024) as f64 * u * u) as usize;
        let attachment = rng.percent(ATTACHMENT_PERCENT);
        let cc = rng.percent(CC_PERCENT).then(|| (who + DOMAINS) % CUSTOMERS);

        // Headers.
        let ip = 1 + (who % 250);
        let _ = write!(
            buf,
            "Return-Path: <{email}>\r\n\
             Received: from mail.{domain} (mail.{domain} [198.51.100.{ip}])\r\n\
             \tby mx.bench.test (Postfix) with ESMTPS id {qid:010X}\r\n\
             \tfor <{SUPPORT}>; {rdate}\r\n\
             From: \"{name}\" <{email}>\r\n\
             To: Bench Support <{SUPPORT}>\r\n",
            email = cust.email,
            domain = cust.domain,
            qid = rng.next() & 0xff_ffff_ffff,
            rdate = (date + chrono::Duration::seconds(2)).to_rfc2822(),
            name = cust.name,
        );
        if let Some(c) = cc {
            let _ = write!(buf, "Cc: \"{}\" <{}>\r\n", people[c].name, people[c].email);
        }
        let _ = write!(
            buf,
            "Subject: {subject}\r\nDate: {}\r\nMessage-ID: <{message_id}>\r\n",
            local.to_rfc2822()
        );
        if let Some(irt) = &in_reply_to {
            let _ = write!(buf, "In-Reply-To: <{irt}>\r\nReferences:");
            for (i, r) in refs.iter().enumerate() {
                let _ = write!(buf, "{}<{r}>", if i == 0 { " " } else { "\r\n " });
            }
            buf.push_str("\r\n");
        }
        let _ = write!(
            buf,
            "MIME-Version: 1.0\r\nUser-Agent: {}\r\n",
            rng.pick(AGENTS_UA)
        );

        // The attachment is made first so the text fills the rest of the budget.
        let att = attachment.then(|| {
            let room = target.saturating_sub(buf.len() + 1200);
            let raw_len = rng.range(256, (room * 3 / 4).clamp(512, 16 * 1024));
            make_attachment(&mut rng, seq, raw_len, &date)
        });
        let text_budget = target
            .saturating_sub(buf.len() + att.as_ref().map_or(0, |a| a.len() + 400))
            .max(200);
        write_body(
            &mut rng,
            &mut body,
            text_budget,
            cust,
            in_reply_to.is_some(),
            &local,
        );

        if let Some(att) = &att {
            let boundary = format!("----=_Part_{seq}_{:08x}", rng.next() as u32);
            let _ = write!(
                buf,
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
                 This is a multi-part message in MIME format.\r\n\
                 --{boundary}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n\
                 {body}\r\n\
                 --{boundary}\r\n\
                 {att}\r\n\
                 --{boundary}--\r\n"
            );
            g.attachments += 1;
        } else {
            let _ = write!(
                buf,
                "Content-Type: text/plain; charset=utf-8; format=flowed\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
            );
        }

        let name = new_dir.join(format!("{}.M{seq:08}P4242.bench.test", 1_709_537_400 + seq));
        let mut f = BufWriter::new(File::create(&name)?);
        f.write_all(buf.as_bytes())?;
        f.flush()?;

        g.messages += 1;
        g.bytes += buf.len() as u64;
        g.largest = g.largest.max(buf.len());
        if buf.len() > MAX_MESSAGE {
            return Err(std::io::Error::other(format!(
                "generated message {seq} is {} bytes, over 50 KiB",
                buf.len()
            )));
        }

        // Remember the thread so later follow-ups can answer it (bounded).
        let cust = &mut people[who];
        match thread_ix {
            Some(t) => {
                g.followups += 1;
                let th = &mut cust.threads[t];
                th.refs = refs;
                if th.refs.len() > MAX_REFS {
                    th.refs.drain(1..th.refs.len() - (MAX_REFS - 1));
                }
                th.last_id = message_id;
            }
            None => {
                if cust.threads.len() == THREADS_PER_CUSTOMER {
                    cust.threads.remove(0);
                }
                cust.threads.push(Thread {
                    subject,
                    last_id: message_id,
                    refs: Vec::new(),
                });
            }
        }
    }
    Ok(g)
}

fn write_body(
    rng: &mut Rng,
    out: &mut String,
    budget: usize,
    cust: &Customer,
    followup: bool,
    date: &DateTime<FixedOffset>,
) {
    out.push_str(if followup {
        "Hi again,\r\n\r\n"
    } else {
        rng.pick(OPENERS)
    });
    if !followup {
        out.push_str("\r\n\r\n");
    }
    let closing = 120 + cust.name.len() + cust.domain.len();
    let quote = followup && rng.percent(60);
    let text_end = if quote { budget * 2 / 3 } else { budget }.saturating_sub(closing);
    while out.len() < text_end {
        paragraph(rng, out, "");
        if rng.percent(15) {
            let _ = write!(
                out,
                "Order number: {}, user id {}\r\n\r\n",
                40_000 + rng.below(60_000),
                rng.below(9_999)
            );
        }
    }
    let _ = write!(
        out,
        "{}\r\n{}\r\n{}\r\n",
        rng.pick(CLOSERS),
        cust.name,
        cust.domain
    );
    if quote {
        let earlier = *date - chrono::Duration::hours(1 + rng.below(30) as i64);
        let _ = write!(
            out,
            "\r\nOn {}, Bench Support <{SUPPORT}> wrote:\r\n",
            earlier.format("%a, %d %b %Y at %H:%M")
        );
        while out.len() < budget {
            paragraph(rng, out, "> ");
        }
    }
}

/// A paragraph of plain sentences, wrapped at 72 columns, each line prefixed.
fn paragraph(rng: &mut Rng, out: &mut String, prefix: &str) {
    let mut col = 0;
    out.push_str(prefix);
    for _ in 0..rng.range(2, 6) {
        let words = rng.range(6, 18);
        for w in 0..words {
            let mut word = rng.pick(WORDS).to_string();
            if w == 0 {
                word[..1].make_ascii_uppercase();
            }
            if w + 1 == words {
                word.push(if rng.percent(12) { '?' } else { '.' });
            }
            if col > 0 && col + word.len() + 1 > 72 {
                out.push_str("\r\n");
                out.push_str(prefix);
                col = 0;
            } else if col > 0 {
                out.push(' ');
                col += 1;
            }
            out.push_str(&word);
            col += word.len();
        }
    }
    out.push_str("\r\n");
    out.push_str(prefix.trim_end());
    out.push_str("\r\n");
}

/// One MIME part (headers + encoded body): a text/plain .log or a base64 binary.
fn make_attachment(
    rng: &mut Rng,
    seq: usize,
    raw_len: usize,
    date: &DateTime<FixedOffset>,
) -> String {
    let mut part = String::new();
    if rng.percent(50) {
        let _ = write!(
            part,
            "Content-Type: text/plain; charset=us-ascii; name=\"app-{seq}.log\"\r\n\
             Content-Disposition: attachment; filename=\"app-{seq}.log\"\r\n\
             Content-Transfer-Encoding: 7bit\r\n\r\n"
        );
        let start = part.len();
        let mut t = *date - chrono::Duration::minutes(30);
        const LEVELS: &[&str] = &["INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"];
        const MSGS: &[&str] = &[
            "sync finished batch",
            "request took longer than expected",
            "retrying upload of chunk",
            "cache miss for key",
            "connection reset by peer, reconnecting",
            "exported rows to csv",
        ];
        while part.len() - start < raw_len {
            t += chrono::Duration::milliseconds(rng.range(5, 4000) as i64);
            let _ = write!(
                part,
                "{} {} worker[{}]: {} {}\r\n",
                t.format("%Y-%m-%dT%H:%M:%S%.3f%:z"),
                rng.pick(LEVELS),
                1000 + rng.below(50),
                rng.pick(MSGS),
                rng.below(100_000)
            );
        }
    } else {
        let _ = write!(
            part,
            "Content-Type: application/octet-stream; name=\"dump-{seq}.bin\"\r\n\
             Content-Disposition: attachment; filename=\"dump-{seq}.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        );
        let data: Vec<u8> = (0..raw_len).map(|_| rng.next() as u8).collect();
        base64_lines(&data, &mut part);
    }
    part
}

/// Standard base64 in 76-column lines.
fn base64_lines(data: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut col = 0;
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
        col += 4;
        if col == 76 {
            out.push_str("\r\n");
            col = 0;
        }
    }
    if col > 0 {
        out.push_str("\r\n");
    }
}
