//! Running the mailroom binary from the benchmarks and reporting on it (shared
//! by `benches/ingest.rs`, `benches/imap.rs`, `benches/outbox.rs` and others,
//! included with `#[path]`).

// Each bench uses a different subset of these items.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The end of a bench: where a kept work dir is, and an error listing every
/// check that failed.
pub fn conclude(bench: &str, kept: Option<&Path>, problems: &[String]) -> Result<(), String> {
    if let Some(dir) = kept {
        eprintln!("{bench} bench: kept {}", dir.display());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("verification failed:\n  {}", problems.join("\n  ")))
    }
}

pub struct Output {
    pub status_ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub fn mailroom(bin: &Path, config: &Path, dir: &Path, args: &[&str]) -> Result<Output, String> {
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

/// A bench's `main`: parse the arguments (exit 2 on bad ones), run, exit 1
/// with the reason when a check failed.
pub fn bench_main<A>(
    name: &str,
    parse: impl FnOnce() -> Result<A, String>,
    run: impl FnOnce(&A) -> Result<(), String>,
) -> std::process::ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{name} bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name} bench: FAILED: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The config both benches run with: SQLite `db` and a file outbox under
/// `dir`, one agent as default owner (so every mail queues a notification
/// and every new ticket an acknowledgement), `inbound` as the only source
/// (the keys after `[[inbound]]`), the HTTP endpoint on `http_listen`.
pub fn bench_config(
    bench: &str,
    dir: &Path,
    db: &str,
    outbox: &str,
    support: &str,
    inbound: &str,
    http_listen: &str,
) -> String {
    let agent = super::corpus::AGENT;
    let templates = toml_str(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .display()
            .to_string(),
    );
    let db = toml_str(&format!("sqlite://{}", dir.join(db).display()));
    let outbox = toml_str(&dir.join(outbox).display().to_string());
    format!(
        r#"# Written by benches/{bench}.rs.
[mailroom]
support_address = "{support}"
support_name = "Bench Support"
default_owner = "{agent}"
templates_dir = {templates}
# Every new ticket is acknowledged: the RFC 3834 limit (default 10 per
# recipient per hour) would otherwise skip most acks of this burst.
ack_limit_per_hour = 1000000
# Every mail notifies the one agent: the per-agent notification limit
# (default 100 per hour) would otherwise skip all but the first 100.
notification_limit_per_hour = 1000000

[database]
url = {db}

[[inbound]]
{inbound}
[outbound]
kind = "file"
path = {outbox}

[http]
listen = "{http_listen}"

[[agent]]
email = "{agent}"
name = "Bench Agent"
"#
    )
}

/// `mailroom migrate` (not timed: the schema is not what a benchmark measures).
pub fn migrate(bin: &Path, config: &Path, dir: &Path) -> Result<(), String> {
    let out = mailroom(bin, config, dir, &["migrate"])?;
    if !out.status_ok {
        return Err(format!("`mailroom migrate` failed:\n{}", out.stderr));
    }
    Ok(())
}

/// How mailroom reports its peak RSS at exit (MAILROOM_REPORT_PEAK_RSS).
pub const PEAK_RSS_LINE: &str = "mailroom peak RSS: ";

/// A timed `poll --once` (or other command): its output, wall time and
/// resource usage.
pub struct TimedPoll {
    pub stdout: String,
    pub elapsed: Duration,
    pub rusage: libc::rusage,
    /// The child's own peak RSS in KiB (MAILROOM_REPORT_PEAK_RSS).
    pub reported_kib: Option<u64>,
}

impl TimedPoll {
    /// Peak RSS in MiB: what mailroom reports of itself, else `ru_maxrss`
    /// (which also counts this bench process's memory at the spawn).
    pub fn peak_rss_mib(&self) -> f64 {
        let kib = self
            .reported_kib
            .unwrap_or(self.rusage.ru_maxrss.max(0) as u64);
        kib as f64 / 1024.0
    }

    /// The `processed N message(s): …` line and its counts.
    pub fn summary(&self) -> Result<(&str, Summary), String> {
        let line = self
            .stdout
            .lines()
            .find(|l| l.starts_with("processed "))
            .ok_or_else(|| {
                format!(
                    "no `processed N message(s)` line in the poll output:\n{}",
                    self.stdout
                )
            })?;
        let counts =
            parse_summary(line).ok_or_else(|| format!("cannot parse the poll summary {line:?}"))?;
        Ok((line, counts))
    }
}

/// Runs and times `mailroom poll --once`; its stderr goes to `dir/poll.stderr`
/// (first lines echoed, prefixed with `bench`). Fails when the poll fails.
pub fn timed_poll(bin: &Path, config: &Path, dir: &Path, bench: &str) -> Result<TimedPoll, String> {
    timed(bin, config, dir, bench, &["poll", "--once"])
}

/// Runs and times `mailroom ARGS…` like `timed_poll` (stderr in
/// `dir/<first arg>.stderr`). Fails when the command fails.
pub fn timed(
    bin: &Path,
    config: &Path,
    dir: &Path,
    bench: &str,
    args: &[&str],
) -> Result<TimedPoll, String> {
    let what = args.join(" ");
    let stderr_path = dir.join(format!("{}.stderr", args.first().unwrap_or(&"run")));
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let start = Instant::now();
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(dir)
        .env_remove("MAILROOM_LOG")
        .env("MAILROOM_REPORT_PEAK_RSS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .ok_or("no stdout pipe")?
        .read_to_string(&mut stdout)
        .map_err(|e| format!("reading the output of `{what}`: {e}"))?;
    let (status, rusage) = wait4(child.id())?;
    let elapsed = start.elapsed();
    let all = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let reported_kib = all
        .lines()
        .find_map(|l| l.strip_prefix(PEAK_RSS_LINE))
        .and_then(|v| v.trim_end_matches(" KiB").parse().ok());
    let stderr: Vec<&str> = all
        .lines()
        .filter(|l| !l.starts_with(PEAK_RSS_LINE))
        .collect();
    if !stderr.is_empty() {
        eprintln!("{bench} bench: `{what}` wrote to stderr (first lines):");
        for l in stderr.iter().take(20) {
            eprintln!("  {l}");
        }
    }
    if !exited_ok(status) {
        return Err(format!(
            "`mailroom {what}` failed (wait status {status}); stdout:\n{stdout}"
        ));
    }
    Ok(TimedPoll {
        stdout,
        elapsed,
        rusage,
        reported_kib,
    })
}

/// The bench's working directory: `--keep DIR` (created, must be empty) or a
/// temporary directory named `<prefix>XXXXXX` in `parent` (removed when the
/// returned guard drops).
pub fn work_dir(
    keep: Option<&Path>,
    prefix: &str,
    parent: &Path,
) -> Result<(Option<tempfile::TempDir>, std::path::PathBuf), String> {
    match keep {
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
            Ok((None, d))
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix(prefix)
                .tempdir_in(parent)
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            let d = t.path().to_path_buf();
            Ok((Some(t), d))
        }
    }
}

pub fn json_array_len(out: &Output, what: &str) -> Result<usize, String> {
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
pub fn wait4(pid: u32) -> Result<(i32, libc::rusage), String> {
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

pub fn exited_ok(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

pub struct Summary {
    pub total: usize,
    pub outcomes: Vec<(String, usize)>,
}

/// `processed 10000 message(s): appended 3000, created 7000`
pub fn parse_summary(line: &str) -> Option<Summary> {
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

/// The peak RSS (`VmHWM`) of the running process `pid`, in MiB.
pub fn peak_rss_mib_of(pid: u32) -> Option<f64> {
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

pub fn machine() -> (usize, String) {
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

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub fn thousands(n: u64) -> String {
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

pub fn toml_str(s: &str) -> String {
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

impl Summary {
    /// How many messages had outcome `k` (0 when the summary does not list it).
    pub fn count(&self, k: &str) -> usize {
        self.outcomes
            .iter()
            .find(|(name, _)| name == k)
            .map_or(0, |(_, v)| *v)
    }
}

/// What both ingest benchmarks check after `poll --once` over a generated
/// corpus: everything processed once, nothing quarantined, the expected
/// tickets and follow-ups, and an acknowledgement plus a notification per
/// ticket (a notification per follow-up) in the outbox.
pub fn check_ingested(
    made: &super::corpus::Generated,
    summary: &str,
    counts: &Summary,
    tickets: usize,
    outbox: usize,
    dir: &Path,
) -> Vec<String> {
    let mut problems = Vec::new();
    let (created, appended, quarantined) = (
        counts.count("created"),
        counts.count("appended"),
        counts.count("quarantined"),
    );
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
    let expected_outbox = 2 * created + appended;
    if outbox != expected_outbox {
        problems.push(format!(
            "outbox has {outbox} messages, expected {expected_outbox} (acks + notifications)"
        ));
    }
    problems
}
