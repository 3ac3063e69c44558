//! The latency part of `benches/imap.rs`: `mailroom serve` under IDLE, mails
//! sent one at a time through Postfix, each timed from SMTP acceptance to the
//! committed ticket, and mailroom's own share from /metrics.

use std::time::{Duration, Instant};

use super::proc::migrate;
use super::servers::{
    Dialog, PASSWORD, Serve, http_get, mean, metric, metric_count_sum, ms, pct, read_only_db,
    source_idle, wait_for,
};
use super::{
    Ctx, LATENCY_SOURCE, LATENCY_USER, OWN_METRIC, Problems, TARGET_OWN, TARGET_P50, TARGET_P99,
    config_toml, imap_inbound,
};

pub fn latency(
    ctx: &Ctx,
    m: usize,
    http_port: u16,
    problems: &mut Problems,
) -> Result<String, String> {
    let Ctx {
        bin,
        dir,
        env,
        rt,
        ref imap,
    } = *ctx;
    let tag = imap.tag();
    let password = dir.join("imap-password-sales");
    std::fs::write(&password, format!("{PASSWORD}\n"))
        .map_err(|e| format!("{}: {e}", password.display()))?;
    let idle_keys = "idle = true\npoll_interval = \"1h\"\n";
    let inbound = imap_inbound(ctx, LATENCY_SOURCE, LATENCY_USER, &password, idle_keys);
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
    say!(
        tag,
        "latency mails:           {} (+1 untimed warm-up)",
        total.len()
    );
    say!(tag, "latency p50 ms:          {:.0}", ms(p50));
    say!(tag, "latency p90 ms:          {:.0}", ms(p90));
    say!(tag, "latency p99 ms:          {:.0}", ms(p99));
    say!(tag, "latency max ms:          {:.0}", ms(max));
    say!(
        tag,
        "latency min ms:          {:.0}",
        ms(total.first().copied().unwrap_or_default())
    );
    say!(
        tag,
        "own share mails:         {} ({ambiguous} not attributable)",
        own.len()
    );
    say!(tag, "own share p50 ms:        {:.1}", ms(o50));
    say!(tag, "own share p90 ms:        {:.1}", ms(o90));
    say!(tag, "own share p99 ms:        {:.1}", ms(o99));
    say!(tag, "own share max ms:        {:.1}", ms(omax));
    say!(tag, "own share mean ms:       {:.1}", ms(omean));
    say!(
        tag,
        "own share /metrics:      p50 {} ms, p99 {} ms (summary window: last ~60 s), mean {} ms over {} commits",
        opt_ms(prom_p50),
        opt_ms(prom_p99),
        opt_ms(prom_mean),
        prom_count.unwrap_or(0.0)
    );
    say!(
        tag,
        "outside mailroom p50 ms: {:.0} (SMTP accepted -> IDLE notification: Postfix, LMTP, Dovecot's notify delay)",
        ms(p50.saturating_sub(o50))
    );
    say!(
        tag,
        "serve peak RSS MiB:      {}",
        serve_rss.map_or("-".into(), |r| format!("{r:.1}"))
    );
    say!(tag, "serve log WARN/ERROR:    {errors}");
    say!(
        tag,
        "latency verified:        {}",
        if ok { "yes" } else { "NO" }
    );
    say!(tag, "latency target p50 < 600 ms, p99 < 1 s: {v_total}");
    say!(tag, "own share target p99 < 50 ms:           {v_own}");
    Ok(format!(
        "IDLE latency ({tag}) over {} mails, SMTP accepted -> committed ticket: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (target p50 < 600 ms, p99 < 1 s: {v_total}); mailroom's own share, IDLE notification -> commit: p50 {:.1} ms, p99 {:.1} ms, mean {:.1} ms (target < 50 ms: {v_own})",
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
