//! The measured part of `benches/relay.rs`: per customer, a mail in, Sally's
//! answer out to the customer's INBOX; then the checks and the report.

use std::path::Path;
use std::time::{Duration, Instant};

use super::proc::migrate;
use super::servers::{
    Dialog, ImapWatch, MailEnv, PASSWORD, Serve, metric_count_sum, ms, read_only_db, source_idle,
    wait_for,
};
use super::{
    AGENT, CATCHALL, MARKER_WORDS, Notification, OWN_METRIC, SOURCE, STEP_LIMIT, SUPPORT_USER,
    Stats, TARGET_OWN, TARGET_P50, agent_reply, answer, config_toml, customer_mail, parse_time,
    verdict,
};

/// One timed reply.
struct Sample {
    total: Duration,
    /// IDLE notification -> commit of the reply (None: not attributable).
    idle_commit: Option<Duration>,
    /// The relay's outbox row, `sent_at - created_at`.
    commit_sent: Option<Duration>,
}

/// The connections of a run.
struct Bench<'a> {
    rt: &'a tokio::runtime::Runtime,
    db: sqlx::SqliteConnection,
    smtp: Dialog,
    catchall: ImapWatch,
    http_port: u16,
    run_id: u32,
    /// `_count` and `_sum` of OWN_METRIC as last read.
    own: (f64, f64),
}

pub fn run(
    bin: &Path,
    dir: &Path,
    env: &MailEnv,
    rt: &tokio::runtime::Runtime,
    m: usize,
    http_port: u16,
    problems: &mut Vec<String>,
) -> Result<String, String> {
    let password = dir.join("imap-password");
    std::fs::write(&password, format!("{PASSWORD}\n"))
        .map_err(|e| format!("{}: {e}", password.display()))?;
    let config = dir.join("mailroom.toml");
    std::fs::write(&config, config_toml(dir, env.imap, env.smtp, http_port))
        .map_err(|e| format!("writing {}: {e}", config.display()))?;
    migrate(bin, &config, dir)?;

    let log = dir.join("serve.log");
    let mut serve = Serve::start(bin, &config, dir, &log)?;
    let t0 = Instant::now();
    wait_for(Duration::from_secs(30), || {
        serve.check_running()?;
        Ok(source_idle(http_port, SOURCE))
    })
    .map_err(|e| format!("waiting for the source to enter IDLE: {e}\n{}", serve.log()))?;
    eprintln!(
        "relay bench: serve up and in IDLE after {:.2} s",
        t0.elapsed().as_secs_f64()
    );

    let mut b = Bench {
        rt,
        db: read_only_db(rt, &dir.join("relay.db"))?,
        smtp: Dialog::open(env.smtp, "EHLO bench.example")?,
        catchall: rt.block_on(ImapWatch::open(env.imap, CATCHALL, "INBOX"))?,
        http_port,
        run_id: std::process::id(),
        own: metric_count_sum(http_port, OWN_METRIC, SOURCE).unwrap_or((0.0, 0.0)),
    };
    let mut samples = Vec::with_capacity(m);
    // (customer address, Message-ID of the customer's mail) of every round.
    let mut customers = Vec::with_capacity(m + 1);
    let mut lost = 0usize;
    // Round 0 is the untimed warm-up (Postfix and Dovecot spawn their
    // delivery processes, lettre opens its SMTP connection).
    for i in 0..=m {
        serve.check_running()?;
        let customer = format!("relay-{}-{i}@customer.test", b.run_id);
        let mid = format!(
            "relay.{}.{i}.{}@customer.test",
            b.run_id,
            chrono::Utc::now().timestamp_micros()
        );
        match b.round(i, &customer, &mid)? {
            Ok(s) if i == 0 => eprintln!(
                "relay bench: warm-up reply: {:.0} ms SMTP -> customer's INBOX",
                ms(s.total)
            ),
            Ok(s) => samples.push(s),
            Err(why) => {
                lost += 1;
                eprintln!("relay bench: reply {i} ({customer}): {why}");
            }
        }
        customers.push((customer, mid));
    }
    b.smtp.quit();

    let before = problems.len();
    if lost > 0 {
        problems.push(format!("{lost} of {} replies were not relayed", m + 1));
    }
    problems.extend(rt.block_on(check_catchall(&mut b.catchall, &customers, b.run_id)));
    rt.block_on(b.catchall.logout());
    let serve_rss = serve.peak_rss_mib();
    match serve.terminate() {
        Ok(true) => {}
        Ok(false) => problems.push(format!(
            "serve did not exit 0 after SIGTERM; log {}",
            log.display()
        )),
        Err(e) => problems.push(e),
    }
    let errors = serve
        .log()
        .lines()
        // The level may be wrapped in ANSI colour codes.
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .count();
    let mut count = |sql: &'static str| {
        rt.block_on(sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut b.db))
            .map_err(|e| format!("{sql}: {e}"))
    };
    let relays = count("SELECT COUNT(*) FROM outbox WHERE kind = 'relay'")?;
    let sent = count("SELECT COUNT(*) FROM outbox WHERE kind = 'relay' AND status = 'sent'")?;
    let pending = count("SELECT COUNT(*) FROM tickets WHERE status = 'pending'")?;
    let want = (m + 1) as i64;
    if relays != want || sent != want {
        problems.push(format!(
            "outbox has {relays} relays, {sent} of them sent; expected {want} sent"
        ));
    }
    if pending != want {
        problems.push(format!(
            "{pending} tickets are pending after the relay, expected {want}"
        ));
    }
    let with_own: Vec<Duration> = samples
        .iter()
        .filter_map(|s| Some(s.idle_commit? + s.commit_sent?))
        .collect();
    if with_own.is_empty() {
        problems.push("no reply had both parts of mailroom's own share measured".into());
    }
    let ok = problems.len() == before;

    let total = Stats::of(samples.iter().map(|s| s.total).collect());
    let idle_commit = Stats::of(samples.iter().filter_map(|s| s.idle_commit).collect());
    let commit_sent = Stats::of(samples.iter().filter_map(|s| s.commit_sent).collect());
    let own = Stats::of(with_own);
    let v_total = verdict(total.p50 < TARGET_P50);
    let v_own = verdict(own.p99 < TARGET_OWN);
    println!(
        "relay replies:                   {} (+1 untimed warm-up)",
        total.n
    );
    total.print("relay latency", 0);
    println!(
        "own share replies:               {} of {} ({} IDLE->commit not attributable)",
        own.n,
        total.n,
        total.n - idle_commit.n
    );
    idle_commit.print("own IDLE->commit", 1);
    commit_sent.print("own commit->Postfix", 1);
    own.print("own share", 1);
    println!(
        "outside mailroom p50 ms:         {:.0} (Postfix + LMTP both ways, Dovecot's IDLE notify delay, the 5 ms poll)",
        ms(total.p50.saturating_sub(own.p50))
    );
    println!(
        "serve peak RSS MiB:              {}",
        serve_rss.map_or("-".into(), |r| format!("{r:.1}"))
    );
    println!("serve log WARN/ERROR:            {errors}");
    println!(
        "relay verified:                  {}",
        if ok { "yes" } else { "NO" }
    );
    println!("relay target p50 < 1.5 s:        {v_total}");
    println!("own share target p99 < 50 ms:    {v_own}");
    Ok(format!(
        "agent reply -> relay in the customer's INBOX over IDLE + SMTP, {} replies: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (target p50 < 1.5 s: {v_total}); mailroom's own share (IDLE -> commit {:.1} + commit -> Postfix {:.1} at p50): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 < 50 ms: {v_own})",
        total.n,
        ms(total.p50),
        ms(total.p90),
        ms(total.p99),
        ms(total.max),
        ms(idle_commit.p50),
        ms(commit_sent.p50),
        ms(own.p50),
        ms(own.p99),
        ms(own.max),
    ))
}

impl Bench<'_> {
    /// One customer: Ok(Err(why)) when this reply was lost (the run goes on),
    /// Err when the run cannot go on.
    fn round(
        &mut self,
        i: usize,
        customer: &str,
        mid: &str,
    ) -> Result<Result<Sample, String>, String> {
        let mail = customer_mail(customer, mid, i, self.run_id);
        self.smtp.transaction(customer, SUPPORT_USER, &mail)?;
        let Some(note) = self.notification(customer)? else {
            return Ok(Err(format!(
                "no notification in the database after {} s",
                STEP_LIMIT.as_secs()
            )));
        };
        if let Err(why) = self.settle(customer, mid) {
            return Ok(Err(why));
        }

        let reply = agent_reply(&note, i, self.run_id);
        self.smtp.transaction(AGENT, SUPPORT_USER, &reply)?;
        let t0 = Instant::now();
        let query = format!("HEADER In-Reply-To \"{mid}\" NOT HEADER Auto-Submitted \"\"");
        let rt = self.rt;
        let Some((_, t1)) = rt.block_on(self.catchall.wait_match(&query, t0 + STEP_LIMIT))? else {
            return Ok(Err(format!(
                "no relay in catchall's INBOX after {} s",
                STEP_LIMIT.as_secs()
            )));
        };
        let sample = Sample {
            total: t1.saturating_duration_since(t0),
            idle_commit: self.own_step(),
            commit_sent: self.send_time(customer)?,
        };
        // Back in IDLE before the next customer writes.
        let _ = wait_for(Duration::from_secs(5), || {
            Ok(source_idle(self.http_port, SOURCE))
        });
        Ok(Ok(sample))
    }

    /// Polls the database every 2 ms for the notification of the customer's
    /// ticket (it commits with the ticket).
    fn notification(&mut self, customer: &str) -> Result<Option<Notification>, String> {
        let deadline = Instant::now() + STEP_LIMIT;
        while Instant::now() < deadline {
            let row = self
                .rt
                .block_on(
                    sqlx::query_as::<_, (String, String, i64, Option<String>)>(
                        "SELECT m.message_id, m.subject, t.id, m.reply_token FROM messages m \
                         JOIN tickets t ON t.id = m.ticket_id \
                         WHERE t.customer = ?1 AND m.kind = 'notification'",
                    )
                    .bind(customer)
                    .fetch_optional(&mut self.db),
                )
                .map_err(|e| format!("query the notification: {e}"))?;
            if let Some((message_id, subject, id, reply_token)) = row {
                return Ok(Some(Notification {
                    message_id,
                    subject,
                    reply_token,
                    // The default ticket_prefix (the config sets none).
                    ticket_ref: format!("MR-{id}"),
                }));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(None)
    }

    /// Waits until nothing the customer's mail caused is in flight (its
    /// acknowledgement and notification sent, the acknowledgement delivered,
    /// its IDLE -> commit recorded, the source back in IDLE): a real agent
    /// answers later than that, and the reply is timed alone.
    fn settle(&mut self, customer: &str, mid: &str) -> Result<(), String> {
        let (rt, db) = (self.rt, &mut self.db);
        wait_for(STEP_LIMIT, || {
            rt.block_on(
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id \
                     WHERE t.customer = ?1 AND o.status <> 'sent'",
                )
                .bind(customer)
                .fetch_one(&mut *db),
            )
            .map(|unsent| unsent == 0)
            .map_err(|e| format!("query the outbox: {e}"))
        })
        .map_err(|e| format!("the acknowledgement and notification were not sent: {e}"))?;
        let ack = format!("HEADER In-Reply-To \"{mid}\" HEADER Auto-Submitted \"\"");
        if rt
            .block_on(self.catchall.wait_match(&ack, Instant::now() + STEP_LIMIT))?
            .is_none()
        {
            return Err("no acknowledgement in catchall's INBOX".into());
        }
        self.own_step();
        wait_for(Duration::from_secs(5), || {
            Ok(source_idle(self.http_port, SOURCE))
        })
        .map_err(|e| format!("the source did not return to IDLE: {e}"))?;
        std::thread::sleep(Duration::from_millis(50));
        Ok(())
    }

    /// Waits (up to 2 s) for the next IDLE -> commit on /metrics; the growth
    /// of `_sum` when `_count` grew by exactly 1, else None (not attributable).
    fn own_step(&mut self) -> Option<Duration> {
        let before = self.own;
        let mut now = None;
        let _ = wait_for(Duration::from_secs(2), || {
            now =
                metric_count_sum(self.http_port, OWN_METRIC, SOURCE).filter(|(c, _)| *c > before.0);
            Ok(now.is_some())
        });
        let (c, s) = now?;
        self.own = (c, s);
        (c - before.0 == 1.0).then(|| Duration::from_secs_f64((s - before.1).max(0.0)))
    }

    /// `sent_at - created_at` of the customer's relay row. The row is marked
    /// sent right after Postfix's 250, usually before the relay reaches the
    /// INBOX; up to 2 s are allowed for it.
    fn send_time(&mut self, customer: &str) -> Result<Option<Duration>, String> {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let row = self
                .rt
                .block_on(
                    sqlx::query_as::<_, (Option<String>, String)>(
                        "SELECT o.sent_at, o.created_at FROM outbox o \
                         JOIN tickets t ON t.id = o.ticket_id \
                         WHERE t.customer = ?1 AND o.kind = 'relay'",
                    )
                    .bind(customer)
                    .fetch_optional(&mut self.db),
                )
                .map_err(|e| format!("query the relay's outbox row: {e}"))?;
            if let Some((Some(sent), created)) = row {
                let d = parse_time(&sent)? - parse_time(&created)?;
                return Ok(d.to_std().ok());
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Every customer's relay is in catchall's INBOX exactly once, with Sally's
/// words and without the quoted notification.
async fn check_catchall(
    catchall: &mut ImapWatch,
    customers: &[(String, String)],
    run_id: u32,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, (customer, mid)) in customers.iter().enumerate() {
        let query = format!("HEADER In-Reply-To \"{mid}\" NOT HEADER Auto-Submitted \"\"");
        let uids = match catchall.search(&query).await {
            Ok(u) => u,
            Err(e) => {
                problems.push(e);
                break;
            }
        };
        let Some(&uid) = uids.first() else {
            continue; // counted as lost already
        };
        if uids.len() > 1 {
            problems.push(format!("{} relays to {customer}", uids.len()));
        }
        let text = match catchall.fetch(uid).await {
            Ok(raw) => mail_parser::MessageParser::default()
                .parse(&raw)
                .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
                .unwrap_or_default(),
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        if !text.contains(&answer(i, run_id)) || text.contains(MARKER_WORDS) {
            problems.push(format!(
                "the relay to {customer} is not Sally's words alone:\n{text}"
            ));
        }
    }
    problems
}
