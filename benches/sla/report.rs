//! The SLA bench's helpers (benches/sla.rs): the config, timed runs of the
//! binary, parsing its output, CPU pressure, and the report.

use std::path::Path;
use std::time::Duration;

use crate::data::{self, AREAS, Data, OFFICE_AREAS, OWNERS_PER_AREA, SUPPORT};
use crate::proc::{self, machine, mib, thousands, toml_str};

pub const MANAGER: &str = "manager@bench.test";
const TARGET_DIGEST: Duration = Duration::from_secs(1);
const TARGET_SCAN: Duration = Duration::from_millis(100);
const TARGET_LOOKUP: Duration = Duration::from_millis(50);
/// CPU pressure (`some avg10`, %) above which the timing waits (other work
/// on the machine slows every number down).
const PRESSURE_LIMIT: f64 = 10.0;

/// Wall and CPU (user + system) time of each run, and the last run's output.
pub struct Runs {
    pub wall: Vec<Duration>,
    pub cpu: Vec<Duration>,
    pub stdout: String,
}

impl Runs {
    pub fn median(&self) -> Duration {
        median(&self.wall)
    }

    /// `median 412 ms (CPU 380 ms; runs 420, 412, …)`
    pub fn show(&self) -> String {
        format!(
            "median {:.0} ms (CPU {:.0} ms; runs {})",
            ms(self.median()),
            ms(median(&self.cpu)),
            list(&self.wall)
        )
    }
}

/// Runs `mailroom --config CONFIG ARGS…` `n` times; `check` sees each stdout.
pub fn runs(
    bin: &Path,
    config: &Path,
    dir: &Path,
    args: &[&str],
    n: u64,
    mut check: impl FnMut(&str),
) -> Result<Runs, String> {
    let mut r = Runs {
        wall: Vec::new(),
        cpu: Vec::new(),
        stdout: String::new(),
    };
    for _ in 0..n {
        let t = proc::timed(bin, config, dir, "sla", args)?;
        let cpu = |v: libc::timeval| {
            Duration::from_secs(v.tv_sec.max(0) as u64)
                + Duration::from_micros(v.tv_usec.max(0) as u64)
        };
        r.wall.push(t.elapsed);
        r.cpu.push(cpu(t.rusage.ru_utime) + cpu(t.rusage.ru_stime));
        check(&t.stdout);
        r.stdout = t.stdout;
    }
    Ok(r)
}

/// `some avg10=1.23 avg60=…` of /proc/pressure/cpu, and its avg10.
fn cpu_pressure() -> Option<(String, f64)> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let line = text.lines().find(|l| l.starts_with("some "))?.to_string();
    let avg10 = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()?;
    let shown = line
        .split_whitespace()
        .filter(|f| !f.starts_with("total="))
        .collect::<Vec<_>>()
        .join(" ");
    Some((shown, avg10))
}

/// Waits up to a minute for the CPU to calm down; the reading it timed at.
pub fn calm_cpu() -> Option<String> {
    let start = std::time::Instant::now();
    let mut reading = cpu_pressure()?;
    if reading.1 > PRESSURE_LIMIT {
        eprintln!("sla bench: CPU busy ({}); waiting up to 60 s", reading.0);
    }
    while reading.1 > PRESSURE_LIMIT && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(2));
        reading = cpu_pressure()?;
    }
    Some(if reading.1 > PRESSURE_LIMIT {
        format!(
            "{} (busy: other work on the machine, numbers will be high)",
            reading.0
        )
    } else {
        reading.0
    })
}

/// `New  23371   (… against the compared span: 23090)` -> (23371, 23090).
pub fn new_count(text: &str) -> Option<(usize, usize)> {
    let line = text.lines().find(|l| l.starts_with("New "))?;
    let now = line.split_whitespace().nth(1)?.parse().ok()?;
    let (_, before) = line.rsplit_once("compared span:")?;
    let before = before.trim().trim_end_matches(')').parse().ok()?;
    Some((now, before))
}

/// The digest's numbers: the lines from `New` to the resolution times.
pub fn numbers(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for l in text.lines().skip_while(|l| !l.starts_with("New ")) {
        if !l.trim().is_empty() {
            out.push(l);
        }
        if l.starts_with("Resolution ") {
            break;
        }
    }
    out
}

/// `sla: 612 reminder(s) …` and `digests: 1 queued` -> (612, 1).
pub fn parse_schedule(stdout: &str) -> Option<(usize, usize)> {
    let num = |prefix: &str| -> Option<usize> {
        let l = stdout.lines().find_map(|l| l.strip_prefix(prefix))?;
        l.split_whitespace().next()?.parse().ok()
    };
    Some((num("sla: ")?, num("digests: ")?))
}

pub fn median(t: &[Duration]) -> Duration {
    let mut v = t.to_vec();
    v.sort();
    v.get(v.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

pub fn ms(t: Duration) -> f64 {
    t.as_secs_f64() * 1000.0
}

pub fn list(t: &[Duration]) -> String {
    t.iter()
        .map(|d| format!("{:.0}", ms(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn verdict(t: Duration, target: Duration) -> &'static str {
    if t < target { "met" } else { "MISSED" }
}

pub fn config_toml(dir: &Path, url: &str) -> String {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut s = format!(
        r#"# Written by benches/sla.rs.
[mailroom]
support_address = "{SUPPORT}"
support_name = "Bench Support"
ticket_prefix = "MR"
time_zone = "UTC"
templates_dir = {templates}
# The first scan mails a few hundred breaches to five area leads at once:
# the per-recipient hourly limit (default 100) would skip some.
notification_limit_per_hour = 1000000

[database]
url = {url}

[outbound]
kind = "file"
path = {outbox}

[http]
listen = "off"

[[calendar]]
name = "office"
time_zone = "Europe/Berlin"
weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri"]
hours = "08:00-18:00"

[sla.normal]
first_response = "{fr}h"
next_response = "8h"
resolution = "5d"

[[manager]]
email = "{MANAGER}"
areas = ["*"]
digest = "0 8 * * Mon"
time_zone = "UTC"
period = "week"
"#,
        templates = toml_str(&templates.display().to_string()),
        url = toml_str(url),
        outbox = toml_str(&dir.join("outbox").display().to_string()),
        fr = data::FIRST_RESPONSE_HOURS,
    );
    for (i, area) in AREAS.iter().enumerate() {
        let calendar = if i < OFFICE_AREAS {
            "calendar = \"office\"\n"
        } else {
            ""
        };
        s.push_str(&format!(
            "\n[[area]]\nname = \"{area}\"\nstrategy = \"round_robin\"\nescalation = \"{}\"\n{calendar}",
            data::lead(area)
        ));
        for k in 0..OWNERS_PER_AREA {
            let n = i * OWNERS_PER_AREA + k;
            s.push_str(&format!(
                "\n[[agent]]\nemail = \"{}\"\nname = \"Agent {n:02}\"\nareas = [\"{area}\"]\n",
                data::owner(n)
            ));
        }
    }
    s
}

/// Lookups that must not grow with the backlog (target < 50 ms each).
pub struct Lookups {
    /// `tickets list --status open --limit 50`, the whole command.
    pub list: Runs,
    /// `tickets show MR-<middle>`, the whole command.
    pub show: Runs,
    /// The threading lookup of 128 Message-IDs, and the list query, alone.
    pub threading: Duration,
    pub list_query: Duration,
}

/// Everything one backend's report shows.
pub struct Outcome<'a> {
    pub name: &'static str,
    pub command: String,
    pub data: &'a Data,
    pub raw_bytes: u64,
    pub size: u64,
    pub load: String,
    pub pressure: Option<String>,
    pub digest: Runs,
    pub new: Option<(usize, usize)>,
    pub expected: (usize, usize),
    /// The first `schedule --once`, its (alerts, digests), and the
    /// notifications queued: rows, tickets.
    pub first: Runs,
    pub first_counts: Option<(usize, usize)>,
    pub notes: (i64, i64),
    pub idle: Runs,
    /// PostgreSQL with `sslmode=disable`: digest, idle schedule.
    pub plain: Option<(Runs, Runs)>,
    /// The scan query: nothing due, and a full batch (times, rows).
    pub scan: [(Vec<Duration>, usize); 2],
    pub digest_queries: Vec<String>,
    pub lookups: Lookups,
    pub plans: Vec<(&'static str, Vec<String>)>,
}

impl Outcome<'_> {
    pub fn print(&self) {
        let d = self.data;
        let n = |v: usize| thousands(v as u64);
        let (nproc, cpu) = machine();
        let (d_med, i_med) = (self.digest.median(), self.idle.median());
        let ([q_idle, q_full], [r_idle, r_full]) = (
            [median(&self.scan[0].0), median(&self.scan[1].0)],
            [self.scan[0].1, self.scan[1].1],
        );
        println!("backend:                 {}", self.name);
        println!(
            "tickets:                 {} ({} resolved, {} open, {} pending; {} due at the start)",
            n(d.tickets.len()),
            n(d.with_status("resolved")),
            n(d.with_status("open")),
            n(d.with_status("pending")),
            d.due
        );
        println!(
            "rows:                    {} messages ({} relays; {:.0} MiB raw mail), {} status changes, {} breach alerts",
            n(d.tickets.len() + d.relays.len()),
            n(d.relays.len()),
            mib(self.raw_bytes),
            n(d.changes.len()),
            n(d.alerts.len())
        );
        println!("database MiB:            {:.0}", mib(self.size));
        println!("load (untimed):          {}", self.load);
        if let Some(p) = &self.pressure {
            println!("cpu pressure before:     {p}");
        }
        println!(
            "digest preview:          {} [target < 1 s: {}]",
            self.digest.show(),
            verdict(d_med, TARGET_DIGEST)
        );
        for l in numbers(&self.digest.stdout) {
            println!("    {l}");
        }
        println!(
            "digest New checked:      {:?} (expected {:?}: this week, the week before)",
            self.new, self.expected
        );
        println!(
            "schedule, first run:     {:.0} ms (CPU {:.0} ms): {:?} (alerts, digests) queued, {} notifications for {} tickets",
            ms(self.first.median()),
            ms(median(&self.first.cpu)),
            self.first_counts.unwrap_or_default(),
            self.notes.0,
            self.notes.1
        );
        println!(
            "schedule, nothing due:   {} [target < 100 ms: {}]",
            self.idle.show(),
            verdict(i_med, TARGET_SCAN)
        );
        if let Some((dg, s)) = &self.plain {
            println!("digest preview, no TLS:  {}", dg.show());
            println!("schedule idle, no TLS:   {}", s.show());
        }
        println!(
            "scan query:              {:.3} ms with nothing due ({r_idle} rows), {:.3} ms for a full batch ({r_full} rows) [target < 100 ms: {}]",
            ms(q_idle),
            ms(q_full),
            verdict(q_full, TARGET_SCAN)
        );
        println!(
            "digest queries:          {}",
            self.digest_queries.join(", ")
        );
        let l = &self.lookups;
        println!(
            "tickets list (open, 50): {} [target < 50 ms: {}]; the query alone {:.2} ms (PostgreSQL: without TLS)",
            l.list.show(),
            verdict(l.list.median(), TARGET_LOOKUP),
            ms(l.list_query)
        );
        println!(
            "tickets show:            {} [target < 50 ms: {}]",
            l.show.show(),
            verdict(l.show.median(), TARGET_LOOKUP)
        );
        println!(
            "threading lookup:        {:.2} ms for 128 Message-IDs (64 stored) [target < 50 ms: {}]",
            ms(l.threading),
            verdict(l.threading, TARGET_LOOKUP)
        );
        for (what, plan) in &self.plans {
            println!("plan {what}:");
            for l in plan {
                println!("    {l}");
            }
        }
        println!("machine:                 nproc {nproc}, {cpu}");
        let no_tls = |r: &Runs| format!(" ({:.0} ms without TLS)", ms(r.median()));
        let plain = |i: usize| {
            self.plain
                .as_ref()
                .map(|p| no_tls(if i == 0 { &p.0 } else { &p.1 }))
                .unwrap_or_default()
        };
        println!(
            "summary: sla on {}, {} tickets ({} not resolved, {:.0} MiB): digest preview (week) median {:.0} ms{} [< 1 s: {}]; \
             schedule --once median {:.0} ms with nothing due{} [< 100 ms: {}], {:.0} ms with {} due (+ a weekly digest); \
             scan query {:.2} ms for 200 due; tickets list {:.0} ms, tickets show {:.0} ms, threading lookup {:.2} ms \
             ({nproc} cores, {cpu}; `{}`)",
            self.name,
            n(d.tickets.len()),
            n(d.tickets.len() - d.with_status("resolved")),
            mib(self.size),
            ms(d_med),
            plain(0),
            verdict(d_med, TARGET_DIGEST),
            ms(i_med),
            plain(1),
            verdict(i_med, TARGET_SCAN),
            ms(self.first.median()),
            d.due,
            ms(q_full),
            ms(l.list.median()),
            ms(l.show.median()),
            ms(l.threading),
            self.command,
        );
    }
}
