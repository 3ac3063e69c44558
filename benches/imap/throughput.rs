//! The throughput part of `benches/imap.rs`: N generated mails in Dovecot's
//! INBOX -> SQLite by one timed `mailroom poll --once`.

use std::time::Instant;

use super::corpus::{SUPPORT, generate_with};
use super::proc::{check_ingested, json_array_len, mailroom, mib, migrate, thousands, timed_poll};
use super::servers::{PASSWORD, maildir_deliver, user_maildir};
use super::{Ctx, Problems, TARGET_RATE, THROUGHPUT_USER, config_toml, imap_inbound};

pub fn throughput(
    ctx: &Ctx,
    n: usize,
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
    // 1. Into Dovecot's Maildir, the way an MDA delivers.
    let maildir = user_maildir(dir, THROUGHPUT_USER)?;
    let new = maildir.join("new");
    let t0 = Instant::now();
    let made = generate_with(n, |name, raw| maildir_deliver(&maildir, name, raw))
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
    let exists = rt.block_on(imap.select_count(THROUGHPUT_USER, "INBOX"))?;
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
    let inbound = imap_inbound(ctx, "support", THROUGHPUT_USER, &password, "");
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
    let unseen = rt.block_on(imap.unseen(THROUGHPUT_USER, "INBOX"));
    // For reference: what the same IMAP client library takes to fetch every
    // body, nothing else (after the timed run, so it cannot warm anything up).
    let bare = rt.block_on(imap.fetch_all(THROUGHPUT_USER, "INBOX"));

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
    say!(tag, "imap messages:           {}", made.messages);
    say!(tag, "imap total MiB:          {mib_total:.1}");
    say!(tag, "imap seconds:            {secs:.3}");
    say!(tag, "imap messages/s:         {rate:.0}");
    say!(tag, "imap MiB/s:              {:.1}", mib_total / secs);
    say!(tag, "imap peak RSS MiB:       {rss_mib:.1}");
    say!(
        tag,
        "imap mailroom CPU s:     {:.2} ({user_secs:.2} user + {sys_secs:.2} sys; {:.0} % of one core)",
        user_secs + sys_secs,
        100.0 * (user_secs + sys_secs) / secs
    );
    match dovecot_cpu {
        Some(c) => say!(
            tag,
            "imap Dovecot CPU s:      {c:.2} (its imap process serving the poll; {:.0} % of one core)",
            100.0 * c / secs
        ),
        None => say!(tag, "imap Dovecot CPU s:      - (not readable)"),
    }
    match &bare {
        Ok((count, bytes, t)) => say!(
            tag,
            "imap bare fetch s:       {:.3} (async-imap alone, UID FETCH of all {count} bodies, {:.1} MiB, batches of 256: {:.0} msg/s)",
            t.as_secs_f64(),
            mib(*bytes),
            *count as f64 / t.as_secs_f64()
        ),
        Err(e) => say!(tag, "imap bare fetch s:       - ({e})"),
    }
    say!(tag, "imap tickets created:    {created}");
    say!(tag, "imap follow-ups:         {appended}");
    say!(tag, "imap outbox queued:      {outbox}");
    say!(
        tag,
        "imap verified:           {}",
        if ok { "yes" } else { "NO" }
    );
    say!(tag, "imap target >= 1,500/s:  {verdict}");
    let over = if imap.is_tls() {
        "IMAPS on loopback"
    } else {
        "plain IMAP on loopback"
    };
    Ok(format!(
        "imap throughput ({tag}, {over}): {} messages ({mib_total:.1} MiB, {} follow-ups) Dovecot IMAP -> SQLite via `poll --once`: {secs:.2} s, {} msg/s, {:.1} MiB/s, peak RSS {rss_mib:.1} MiB, {created} tickets + {outbox} outbound queued; target >= 1,500 msg/s {verdict}",
        thousands(made.messages as u64),
        thousands(made.followups as u64),
        thousands(rate.round() as u64),
        mib_total / secs,
    ))
}
