//! Ingest throughput of several `mailroom serve` instances on one PostgreSQL
//! database (README "Several instances"), each syncing IMAP mailboxes of a
//! real Dovecot (`scripts/mailenv.sh`, a private instance on 127.0.0.1).
//!
//! ```text
//! cargo bench --bench instances -- [--messages M] [--instances 1,2,3] [--mailboxes N] [--db-tls] [--keep DIR]
//! ```
//!
//! For each instance count I of `--instances` (default 1,2,3):
//! 1. N mailboxes (`--mailboxes`, default the largest I: 3), Dovecot users of
//!    their own for this configuration, each preloaded with M generated mails
//!    (`--messages`, default 3,000; `benches/common/corpus.rs` with one seed
//!    per mailbox, so every configuration ingests the very same N×M mails)
//!    written straight into its Maildir like an MDA. Untimed: an IMAP SELECT
//!    lets Dovecot index each mailbox, and the count must be M.
//! 2. A fresh PostgreSQL database (`MAILROOM_BENCH_PG_URL`, see
//!    `benches/common/pg.rs`), `mailroom migrate` (untimed), `sync(2)`. The
//!    instances connect with `sslmode=disable` (the README's advice for a
//!    database on the same host: sqlx 0.9.0 stalls on TLS) unless `--db-tls`
//!    or the URL says otherwise; every line says which.
//! 3. Timed: I `serve` processes started at once. Instance i has mailboxes
//!    i, i+I, i+2I, … as its `[[inbound]]` sources (IMAP, IDLE), so with 3
//!    mailboxes one instance syncs all three and three instances one each; a
//!    lease is never contended, and the split does not depend on which
//!    process asks first. The config is the imap bench's (a default owner:
//!    every mail queues an acknowledgement or a notification) with a file
//!    outbox that serve writes as it goes, as it always does.
//! 4. The database is polled every 20 ms until it holds all N×M inbound mails.
//!    Two times are reported: from spawning the processes, and from the
//!    moment every mailbox's lease was held (/healthz polled every 20 ms).
//!    A new lease holder on PostgreSQL waits 6 s before its first sync
//!    (LEASE_GRACE), so the first includes those 6 s and the second is the
//!    ingest alone.
//! 5. Verifies: N×M rows, as many distinct Message-IDs, tickets = first mails
//!    (N×M minus the follow-ups the generator made), nothing quarantined,
//!    every instance exits 0 on SIGTERM.
//!
//! Where the time goes: the serve processes' CPU seconds, the whole
//! machine's CPU busy and iowait shares (/proc/stat), and the database's
//! sessions waiting for a lock, sampled every 20 ms from `pg_stat_activity`
//! (advisory locks: Message-IDs and senders; row locks: tickets).
//!
//! Prints one line per metric and configuration, then a summary table with
//! the machine's CPU count; exits non-zero when a verification fails. The
//! mail servers are always stopped at the end and the databases dropped.

#[path = "common/corpus.rs"]
mod corpus;
#[path = "common/pg.rs"]
mod pg;
#[path = "common/proc.rs"]
mod proc;
#[path = "common/servers.rs"]
mod servers;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proc::{machine, migrate, thousands, toml_str};
use servers::{MailEnv, Serve, calm_disk, free_ports, http_get, maildir_deliver, user_maildir};

/// First seed of the per-mailbox corpora (mailbox k uses SEED + k).
const SEED: u64 = 0x6d61_696c_626f_7800;
/// Longest a configuration may take to store everything.
const LIMIT: Duration = Duration::from_secs(900);
const POLL: Duration = Duration::from_millis(20);

/// `cargo bench --bench instances -- [--messages M] [--instances 1,2,3] [--mailboxes N] [--db-tls] [--keep DIR]`
#[derive(clap::Parser)]
struct Args {
    /// Mails preloaded into each mailbox.
    #[arg(long, short = 'n', default_value_t = 3_000)]
    messages: usize,
    /// Instance counts to measure, one configuration each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    instances: Vec<usize>,
    /// Mailboxes per configuration (default: the largest instance count).
    #[arg(long)]
    mailboxes: Option<usize>,
    /// Let the instances negotiate TLS with PostgreSQL (sqlx's default).
    #[arg(long)]
    db_tls: bool,
    /// Work in DIR (created, must be empty) and leave it there.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Passed by `cargo bench` to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn parse_args() -> Result<Args, String> {
    let args = <Args as clap::Parser>::parse();
    if args.messages == 0 {
        return Err("--messages must be at least 1".into());
    }
    if args.instances.is_empty() || args.instances.contains(&0) {
        return Err("--instances: a list of counts >= 1, e.g. 1,2,3".into());
    }
    if args.mailboxes == Some(0) {
        return Err("--mailboxes must be at least 1".into());
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    proc::bench_main("instances", parse_args, run)
}

/// The Dovecot user of mailbox `k` in the configuration with `instances` instances.
fn user(instances: usize, k: usize) -> String {
    format!("i{instances}m{k}@example.test")
}

/// What one configuration measured.
struct Measured {
    instances: usize,
    mailboxes: usize,
    messages: usize,
    /// Spawn -> all stored.
    wall: Duration,
    /// Every lease held -> all stored.
    ingest: Duration,
    /// Spawn -> every lease held.
    leases: Duration,
    /// user + sys of all serve processes until all was stored.
    serve_cpu: f64,
    /// Shares of all CPUs busy (anyone: serve, PostgreSQL, Dovecot, …) and
    /// waiting for I/O, from spawn until all was stored (/proc/stat).
    busy: Option<(f64, f64)>,
    /// Sessions waiting for a lock during the ingest.
    lock_waits: LockWaits,
    /// TLS between the instances and PostgreSQL.
    tls: &'static str,
}

fn run(args: &Args) -> Result<(), String> {
    let mailboxes = args
        .mailboxes
        .unwrap_or_else(|| args.instances.iter().copied().max().unwrap_or(1));
    // Drop order: the mail servers (declared later) stop before the
    // temporary directory (declared first) is removed.
    let (_temp, dir) = servers::work_dir(args.keep.as_deref(), "mevi")?;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mailroom"));
    eprintln!("instances bench: binary {}", bin.display());
    eprintln!("instances bench: work dir {}", dir.display());
    let users: Vec<String> = args
        .instances
        .iter()
        .flat_map(|&i| (0..mailboxes).map(move |k| user(i, k)))
        .collect();
    let ports = free_ports(4 + args.instances.iter().sum::<usize>())?;
    let env = MailEnv::start_with_users(
        "instances",
        &dir,
        [ports[0], ports[1], ports[2], ports[3]],
        &users,
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let (nproc, cpu) = machine();
    let mut http_ports = ports[4..].iter().copied();
    let mut results = Vec::new();
    let mut problems = Vec::new();
    for &instances in &args.instances {
        let http: Vec<u16> = http_ports.by_ref().take(instances).collect();
        let setup = Setup {
            bin: &bin,
            dir: &dir,
            env: &env,
            rt: &rt,
            instances,
            mailboxes,
            per_mailbox: args.messages,
            http: &http,
            db_tls: args.db_tls,
        };
        match measure(&setup, &mut problems) {
            Ok(m) => {
                report(&m, nproc);
                results.push(m);
            }
            Err(e) => problems.push(format!("{instances} instance(s): {e}")),
        }
    }

    println!();
    println!("machine: {nproc} CPUs ({cpu})");
    println!(
        "instances  mailboxes  messages  wall s (from spawn)  msg/s  ingest s (leases held)  msg/s  serve CPU s  CPUs busy"
    );
    for m in &results {
        println!(
            "{:>9}  {:>9}  {:>8}  {:>19.2}  {:>5.0}  {:>22.2}  {:>5.0}  {:>11.1}  {:>8}",
            m.instances,
            m.mailboxes,
            m.messages,
            m.wall.as_secs_f64(),
            m.messages as f64 / m.wall.as_secs_f64(),
            m.ingest.as_secs_f64(),
            m.messages as f64 / m.ingest.as_secs_f64(),
            m.serve_cpu,
            m.busy
                .map_or("-".to_string(), |(b, _)| format!("{:.0} %", 100.0 * b))
        );
    }
    let mut command = String::from("cargo bench --bench instances");
    let mut options = Vec::new();
    if args.messages != 3_000 {
        options.push(format!("--messages {}", args.messages));
    }
    if args.instances != [1, 2, 3] {
        let list: Vec<String> = args.instances.iter().map(usize::to_string).collect();
        options.push(format!("--instances {}", list.join(",")));
    }
    if let Some(n) = args.mailboxes {
        options.push(format!("--mailboxes {n}"));
    }
    if args.db_tls {
        options.push("--db-tls".to_string());
    }
    if !options.is_empty() {
        command = format!("{command} -- {}", options.join(" "));
    }
    for m in &results {
        println!(
            "summary: {} serve instance(s), {} mailboxes, {} messages Dovecot IMAP -> PostgreSQL (TLS {}): {:.0} msg/s from the leases held ({:.2} s), {:.0} msg/s from spawn ({:.2} s, leases after {:.1} s) ({nproc} CPUs, {cpu}; `{command}`)",
            m.instances,
            m.mailboxes,
            thousands(m.messages as u64),
            m.tls,
            m.messages as f64 / m.ingest.as_secs_f64(),
            m.ingest.as_secs_f64(),
            m.messages as f64 / m.wall.as_secs_f64(),
            m.wall.as_secs_f64(),
            m.leases.as_secs_f64()
        );
    }
    drop(rt);
    if let Err(e) = env.stop() {
        problems.push(e);
    }
    proc::conclude(
        "instances",
        args.keep.is_some().then_some(dir.as_path()),
        &problems,
    )
}

fn report(m: &Measured, nproc: usize) {
    let tag = format!("[{} instance(s), {} mailboxes]", m.instances, m.mailboxes);
    println!("{tag} messages:              {}", m.messages);
    println!("{tag} CPUs:                  {nproc}");
    println!("{tag} PostgreSQL TLS:        {}", m.tls);
    println!("{tag} leases held after s:   {:.2}", m.leases.as_secs_f64());
    println!("{tag} wall s (from spawn):   {:.2}", m.wall.as_secs_f64());
    println!(
        "{tag} messages/s (spawn):    {:.0}",
        m.messages as f64 / m.wall.as_secs_f64()
    );
    println!(
        "{tag} ingest s (leases held): {:.2}",
        m.ingest.as_secs_f64()
    );
    println!(
        "{tag} messages/s (ingest):   {:.0}",
        m.messages as f64 / m.ingest.as_secs_f64()
    );
    println!(
        "{tag} serve CPU s:           {:.1} ({:.0} % of one core over the wall time)",
        m.serve_cpu,
        100.0 * m.serve_cpu / m.wall.as_secs_f64()
    );
    match m.busy {
        Some((b, w)) => println!(
            "{tag} machine CPU busy:      {:.0} % of {nproc} CPUs (everything: serve, PostgreSQL, Dovecot), iowait {:.0} %",
            100.0 * b,
            100.0 * w
        ),
        None => println!("{tag} machine CPU busy:      - (/proc/stat not readable)"),
    }
    let w = &m.lock_waits;
    if w.samples == 0 {
        println!("{tag} lock waits:            - (no sample)");
    } else {
        let per = |n: i64| n as f64 / f64::from(w.samples);
        println!(
            "{tag} lock waits:            {:.2} sessions on average ({:.2} advisory: Message-IDs/senders, {:.2} rows: tickets, {:.2} other), one or more in {:.0} % of {} samples (pg_stat_activity, every 20 ms)",
            per(w.advisory + w.row + w.other),
            per(w.advisory),
            per(w.row),
            per(w.other),
            100.0 * f64::from(w.any) / f64::from(w.samples),
            w.samples
        );
    }
}

/// Samples of the database's sessions waiting for a lock.
#[derive(Default)]
struct LockWaits {
    samples: u32,
    /// Samples with one waiting session at least.
    any: u32,
    /// Sums over the samples, by what was waited for.
    advisory: i64,
    row: i64,
    other: i64,
}

/// The first column of the first row of `sql` (a count).
fn scalar(
    rt: &tokio::runtime::Runtime,
    conn: &mut sqlx::PgConnection,
    sql: &str,
) -> Result<i64, String> {
    rt.block_on(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(conn))
        .map_err(|e| format!("{sql}: {e}"))
}

/// (busy, iowait, total) jiffies of all CPUs so far, from /proc/stat's `cpu`
/// line (busy: all but idle and iowait).
fn machine_cpu() -> Option<(f64, f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let total: f64 = v.iter().take(8).sum();
    let (idle, iowait) = (*v.get(3)?, *v.get(4)?);
    Some((total - idle - iowait, iowait, total))
}

struct Setup<'a> {
    bin: &'a Path,
    dir: &'a Path,
    env: &'a MailEnv,
    rt: &'a tokio::runtime::Runtime,
    instances: usize,
    mailboxes: usize,
    per_mailbox: usize,
    http: &'a [u16],
    db_tls: bool,
}

fn measure(s: &Setup, problems: &mut Vec<String>) -> Result<Measured, String> {
    let Setup {
        bin,
        dir,
        env,
        rt,
        instances,
        mailboxes,
        per_mailbox,
        http,
        db_tls,
    } = *s;
    let tag = format!("{instances} instance(s)");

    // 1. The mailboxes, preloaded and indexed.
    let t = Instant::now();
    let mut firsts = 0;
    let mut bytes = 0;
    for k in 0..mailboxes {
        let u = user(instances, k);
        let maildir = user_maildir(dir, &u)?;
        let made = corpus::generate_seeded(SEED + k as u64, per_mailbox, |name, raw| {
            maildir_deliver(&maildir, name, raw)
        })
        .map_err(|e| format!("generating mails for {u}: {e}"))?;
        firsts += made.messages - made.followups;
        bytes += made.bytes;
        let exists = rt.block_on(async {
            let mut session = servers::imap_login(env.imap, &u).await?;
            let mb = session
                .select("INBOX")
                .await
                .map_err(|e| format!("SELECT INBOX of {u}: {e}"))?;
            session.logout().await.ok();
            Ok::<_, String>(mb.exists as usize)
        })?;
        if exists != per_mailbox {
            return Err(format!(
                "Dovecot sees {exists} mails in {u}'s INBOX, {per_mailbox} were delivered"
            ));
        }
    }
    let total = mailboxes * per_mailbox;
    eprintln!(
        "instances bench ({tag}): {mailboxes} mailboxes of {per_mailbox} mails ({:.1} MiB) generated and indexed in {:.1} s",
        proc::mib(bytes),
        t.elapsed().as_secs_f64()
    );

    // 2. A fresh database and the configs.
    let db = rt.block_on(pg::ScratchDb::create("mr_bench_instances"))?;
    let (url, tls) = match pg::without_tls(&db.url) {
        Some(plain) if !db_tls => (plain, "off (sslmode=disable)"),
        Some(_) => (db.url.clone(), "sqlx's default (sslmode=prefer)"),
        None => (db.url.clone(), "as the URL's sslmode says"),
    };
    let password = dir.join("imap-password");
    std::fs::write(&password, format!("{}\n", servers::PASSWORD))
        .map_err(|e| format!("{}: {e}", password.display()))?;
    let configs: Vec<PathBuf> = (0..instances)
        .map(|i| {
            let mine: Vec<usize> = (i..mailboxes).step_by(instances).collect();
            let path = dir.join(format!("mailroom-{instances}-{i}.toml"));
            let text = config_toml(s, &url, &password, i, &mine);
            std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
            Ok(path)
        })
        .collect::<Result<_, String>>()?;
    migrate(bin, &configs[0], dir)?;
    let mut conn = rt.block_on(async {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&url)
            .await
            .map_err(|e| format!("connect to {}: {e}", pg::redact(&url)))
    })?;
    if let Some(p) = calm_disk("instances") {
        eprintln!("instances bench ({tag}): /proc/pressure/io before the run: {p}");
    }
    // SAFETY: sync(2) has no preconditions; writeback of the generated mail
    // must not run during the timed section.
    unsafe { libc::sync() };

    // 3. The timed run.
    let cpu0 = machine_cpu();
    let t0 = Instant::now();
    let mut serves: Vec<Serve> = configs
        .iter()
        .enumerate()
        .map(|(i, c)| Serve::start(bin, c, dir, &dir.join(format!("serve-{instances}-{i}.log"))))
        .collect::<Result<_, String>>()?;
    let mut leases = None;
    let stored_sql = "SELECT COUNT(*) FROM messages WHERE direction = 'in'";
    // Sessions of this database waiting for a lock (batches of different
    // mailboxes touching the same Message-IDs, senders or tickets), sampled
    // with every poll once the leases are held: advisory locks (Message-IDs,
    // senders), row locks (tickets), any other.
    let waiting_sql = "SELECT COUNT(*) FILTER (WHERE wait_event = 'advisory'), \
                       COUNT(*) FILTER (WHERE wait_event IN ('transactionid', 'tuple')), \
                       COUNT(*) FILTER (WHERE wait_event NOT IN ('advisory', 'transactionid', 'tuple')) \
                       FROM pg_stat_activity \
                       WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let mut waits = LockWaits::default();
    let stored = loop {
        if leases.is_none() && all_leases_held(http, mailboxes, instances) {
            leases = Some(t0.elapsed());
        }
        if leases.is_some() {
            let (a, r, o) = rt
                .block_on(sqlx::query_as::<_, (i64, i64, i64)>(waiting_sql).fetch_one(&mut conn))
                .map_err(|e| format!("{waiting_sql}: {e}"))?;
            waits.samples += 1;
            waits.advisory += a;
            waits.row += r;
            waits.other += o;
            waits.any += u32::from(a + r + o > 0);
        }
        let n = scalar(rt, &mut conn, stored_sql)?;
        if n >= total as i64 {
            break n;
        }
        for (i, serve) in serves.iter_mut().enumerate() {
            serve
                .check_running()
                .map_err(|e| format!("instance {i}: {e}:\n{}", serve.log()))?;
        }
        if t0.elapsed() > LIMIT {
            return Err(format!(
                "{n} of {total} mails stored after {} s",
                LIMIT.as_secs()
            ));
        }
        std::thread::sleep(POLL);
    };
    let wall = t0.elapsed();
    let serve_cpu: f64 = serves.iter().filter_map(Serve::cpu_seconds).sum();
    let busy = match (cpu0, machine_cpu()) {
        (Some((b0, w0, t0)), Some((b1, w1, t1))) if t1 > t0 => {
            Some(((b1 - b0) / (t1 - t0), (w1 - w0) / (t1 - t0)))
        }
        _ => None,
    };
    let leases = leases.ok_or("all mails stored before every lease was seen held")?;

    // 4. Verify.
    let mut check = |what: &str, got: i64, want: i64| {
        if got != want {
            problems.push(format!("{tag}: {what}: {got}, expected {want}"));
        }
    };
    check("stored rows", stored, total as i64);
    check(
        "distinct Message-IDs",
        scalar(
            rt,
            &mut conn,
            "SELECT COUNT(DISTINCT message_id) FROM messages WHERE direction = 'in'",
        )?,
        total as i64,
    );
    check(
        "tickets",
        scalar(rt, &mut conn, "SELECT COUNT(*) FROM tickets")?,
        firsts as i64,
    );
    check(
        "quarantined",
        scalar(rt, &mut conn, "SELECT COUNT(*) FROM quarantine")?,
        0,
    );
    for (i, serve) in serves.iter_mut().enumerate() {
        match serve.terminate() {
            Ok(true) => {}
            Ok(false) => problems.push(format!(
                "{tag}: instance {i} exited non-zero on SIGTERM:\n{}",
                serve.log()
            )),
            Err(e) => problems.push(format!("{tag}: instance {i}: {e}")),
        }
    }
    // The bench's connection closes before its database is dropped.
    drop(conn);
    drop(db);
    Ok(Measured {
        instances,
        mailboxes,
        messages: total,
        wall,
        ingest: wall.saturating_sub(leases),
        leases,
        serve_cpu,
        busy,
        lock_waits: waits,
        tls,
    })
}

/// Whether every mailbox's lease is held, as the instances' /healthz say
/// (instance i holds mailboxes i, i+I, …; source `m<k>`).
fn all_leases_held(http: &[u16], mailboxes: usize, instances: usize) -> bool {
    http.iter().enumerate().all(|(i, port)| {
        let Some(h) = http_get(*port, "/healthz")
            .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
        else {
            return false;
        };
        (i..mailboxes)
            .step_by(instances)
            .all(|k| h["sources"][format!("m{k}")]["lease"] == "held")
    })
}

/// Instance `i`'s config: PostgreSQL, its mailboxes `mine` as IMAP sources
/// `m<k>` (IDLE), a file outbox of its own, its own HTTP port.
fn config_toml(s: &Setup, db_url: &str, password: &Path, i: usize, mine: &[usize]) -> String {
    let agent = corpus::AGENT;
    let templates = toml_str(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .display()
            .to_string(),
    );
    let password = toml_str(&password.display().to_string());
    let inbound: String = mine
        .iter()
        .map(|&k| {
            format!(
                "[[inbound]]\nname = \"m{k}\"\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{}\"\npassword_file = {password}\nidle = true\n\n",
                s.env.imap,
                user(s.instances, k)
            )
        })
        .collect();
    let outbox = toml_str(
        &s.dir
            .join(format!("outbox-{}-{i}", s.instances))
            .display()
            .to_string(),
    );
    format!(
        r#"# Written by benches/instances.rs: instance {i} of {}.
[mailroom]
support_address = "{support}"
support_name = "Bench Support"
default_owner = "{agent}"
templates_dir = {templates}
# Every new ticket is acknowledged and every mail notifies the one agent:
# the RFC 3834 and per-agent limits would otherwise skip most of this burst.
ack_limit_per_hour = 1000000
notification_limit_per_hour = 1000000

[database]
url = {db}

{inbound}[outbound]
kind = "file"
path = {outbox}

[http]
listen = "127.0.0.1:{port}"

[[agent]]
email = "{agent}"
name = "Bench Agent"
"#,
        s.instances,
        support = corpus::SUPPORT,
        db = toml_str(db_url),
        port = s.http[i],
    )
}
