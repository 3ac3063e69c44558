//! The outbox sends each mail once and recovers quickly (issue "never loop,
//! never send twice, …", item 2): claims carry a token and a short lease,
//! several senders share the queue, a killed sender's mail is taken over by
//! the next run, shutdown gives back a mail stuck in a slow SMTP session, and
//! retrying big mail keeps memory flat.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::both_backends;
use crate::fakesmtp::StallingSmtp;
use crate::imap::{SMTP_BASE, Serve, wait_until};
use crate::mailenv::MailEnv;
use crate::support::*;

/// Ingests `n` customer mails from distinct senders: 2n outbox rows (an
/// acknowledgement to the customer, a notification to sales@).
fn queue(env: &Env, n: usize, tag: &str, body: &dyn Fn(usize) -> String) {
    let files: Vec<PathBuf> = (0..n)
        .map(|i| {
            let p = env.path(&format!("{tag}-{i}.eml"));
            std::fs::write(&p, body(i)).expect("write mail");
            p
        })
        .collect();
    let refs: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let out = env.ingest_files(&refs);
    assert!(out.iter().all(|o| o["outcome"] == "created"), "{out:?}");
}

fn plain(tag: &str) -> impl Fn(usize) -> String + '_ {
    move |i| {
        mail(
            &format!("{tag}{i}@customer.test"),
            &format!("{tag} {i}"),
            &format!("{tag}-{i}@customer.test"),
            "",
            "Hello",
        )
    }
}

fn sent_rows(env: &Env) -> i64 {
    env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
}

/// Runs `mailroom outbox flush` to completion; its stdout and how long it took.
fn flush(env: &Env) -> (String, Duration) {
    let t = Instant::now();
    let out = env.run_ok(&["outbox", "flush"]);
    (out, t.elapsed())
}

fn spawn_flush(env: &Env) -> std::process::Child {
    env.command()
        .args(["outbox", "flush"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn outbox flush")
}

fn signal(pid: u32, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("kill")
            .success()
    );
}

both_backends! {
    /// Relay rows without a ticket (never written by mailroom: a hand-made
    /// row) are marked reported, and a full batch of them does not end the
    /// report: the real relay behind them is reported in the same run.
    fn ticketless_relay_rows_do_not_hold_up_the_report(b) {
        let env = Env::new(b);
        env.ingest(&mail("Alice <alice@customer.test>", "Printer", "tl-1@customer.test", "", "Broken."));
        let notif = env.flush_outbox().into_iter().find(|(n, _)| n.ends_with("-notification.eml")).expect("notification").1;
        // 128 hand-made relay rows, older than the real relay (more than one batch of 100).
        env.sql("INSERT INTO outbox (message_row, ticket_id, kind, context, sender, recipients, status, attempts, next_attempt_at, created_at) \
                 SELECT message_row, NULL, 'relay', context, sender, recipients, 'failed', 1, next_attempt_at, created_at FROM outbox WHERE kind = 'ack'");
        for _ in 0..7 {
            env.sql("INSERT INTO outbox (message_row, ticket_id, kind, context, sender, recipients, status, attempts, next_attempt_at, created_at) \
                     SELECT message_row, NULL, 'relay', context, sender, recipients, 'failed', 1, next_attempt_at, created_at FROM outbox WHERE ticket_id IS NULL");
        }
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE ticket_id IS NULL AND reported_at IS NULL"), 128);
        let answer = crate::relay::agent_reply("bob@example.test", &notif, "tl-2@example.test", &crate::relay::reply_body("Unplug it.", &notif, crate::relay::Style::Gmail), "");
        assert_eq!(env.ingest(&answer)["outcome"], "agent_reply");
        env.run_ok(&["outbox", "flush"]);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'relay' AND reported_at IS NULL"), 0, "every relay row reported in one run");
        let t = env.ticket("MR-1");
        assert!(t["first_response_at"].is_string(), "the real relay was reported: {t}");
        assert_eq!(events_text(&t).matches("the first response").count(), 1, "{}", events_text(&t));
    }

    fn concurrent_senders_deliver_each_mail_exactly_once(b) {
        let mev = MailEnv::start();
        let env = Env::with_config(b, &SMTP_BASE.replace("[mailroom]", "[mailroom]\nnotification_limit_per_hour = 1000"), "");
        let n = 500;
        queue(&env, n, "many", &plain("many"));
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox"), 2 * n as i64);
        env.smtp_outbound(mev.smtp);
        let serve = Serve::start(&env);
        let flushes: Vec<_> = (0..3).map(|_| spawn_flush(&env)).collect();
        wait_until(180, "every mail sent", || sent_rows(&env) == 2 * n as i64);
        for f in flushes {
            let out = f.wait_with_output().expect("flush exits");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(serve.terminate().success());
        mev.wait_for_count("catchall@example.test", "INBOX", n as u32);
        mev.wait_for_count("sales@example.test", "INBOX", n as u32);
        std::thread::sleep(Duration::from_secs(3));
        let mut seen = HashSet::new();
        for user in ["catchall@example.test", "sales@example.test"] {
            for raw in mev.fetch_all(user, "INBOX") {
                let m = mailroom::mail::parse(&raw).expect("delivered mail parses");
                assert!(seen.insert(m.message_id.clone()), "{} delivered twice", m.message_id);
            }
        }
        assert_eq!(seen.len(), 2 * n, "every mail delivered once");
    }

    fn a_killed_senders_mail_is_sent_by_the_next_run(b) {
        let mev = MailEnv::start();
        let stall = StallingSmtp::start();
        let env = Env::with_config(b, SMTP_BASE, "");
        queue(&env, 3, "kill", &plain("kill"));
        env.smtp_outbound(stall.port);
        let child = spawn_flush(&env);
        wait_until(30, "a send to be under way", || stall.stalled.load(Ordering::SeqCst) >= 1);
        signal(child.id(), "-KILL");
        let _ = child.wait_with_output();
        assert!(env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sending'") >= 1, "rows were in flight");
        // The next run (the SMTP server is fine now) takes them over within a lease.
        env.smtp_outbound(mev.smtp);
        let (out, took) = flush(&env);
        // The mail the stalled server had whole (its final dot sent) is not
        // sent again: it may have been queued there. The others are sent.
        let in_doubt = env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND last_error LIKE 'in doubt%'");
        assert_eq!(in_doubt, stall.stalled.load(Ordering::SeqCst) as i64);
        assert_eq!(in_doubt, 1, "one send was under way");
        assert!(out.contains("sent 5"), "{out}");
        assert!(took < Duration::from_secs(60), "took {took:?}");
        assert_eq!(sent_rows(&env), 6);
        let acks_sent = env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND last_error IS NULL");
        assert_eq!(acks_sent, 2, "the first ack was the one in doubt");
        mev.wait_for_count("catchall@example.test", "INBOX", acks_sent as u32);
        mev.wait_for_count("sales@example.test", "INBOX", 3);
        eprintln!("killed sender's mail sent by the next run after {took:?}");
    }

    fn shutdown_in_a_slow_smtp_session_gives_the_mail_back(b) {
        let stall = StallingSmtp::start();
        let env = Env::with_config(b, SMTP_BASE, "");
        queue(&env, 2, "slow", &plain("slow"));
        env.smtp_outbound(stall.port);
        // outbox flush
        let child = spawn_flush(&env);
        wait_until(30, "a send to be under way", || stall.stalled.load(Ordering::SeqCst) >= 1);
        let t = Instant::now();
        signal(child.id(), "-TERM");
        let out = child.wait_with_output().expect("flush exits");
        assert!(t.elapsed() < Duration::from_secs(10), "stopped after {:?}", t.elapsed());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        // The mail whose final dot the server got stays with the server.
        assert!(stdout.contains("stopped by a signal, 3 given back to the queue, 1 already handed to the server: counted as sent (in doubt)"), "{stdout}");
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued' AND attempts = 0"), 3);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND last_error LIKE 'in doubt%'"), 1);
        // serve
        let serve = Serve::start(&env);
        wait_until(30, "serve's send to be under way", || stall.stalled.load(Ordering::SeqCst) >= 2);
        let t = Instant::now();
        assert!(serve.terminate().success());
        assert!(t.elapsed() < Duration::from_secs(10), "serve stopped after {:?}", t.elapsed());
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued' AND attempts = 0"), 2);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND last_error LIKE 'in doubt%'"), 2);
    }

    fn retrying_big_mail_keeps_memory_flat(b) {
        let env = Env::with_config(b, SMTP_BASE, "");
        let ten_mib: String = {
            // Incompressible text, base64-like, ~10 MiB.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            (0..10 * 1024 * 1024).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(x % 64) as usize]) }).collect()
        };
        let big = |i: usize| {
            let wrapped: Vec<&str> = ten_mib.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
            format!(
                "From: big{i}@customer.test\r\nTo: support@example.test\r\nSubject: log {i}\r\nMessage-ID: <big{i}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee the log\r\n--B\r\nContent-Type: application/octet-stream; name=\"log{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"log{i}.bin\"\r\n\r\n{}\r\n--B--\r\n",
                wrapped.join("\r\n")
            )
        };
        queue(&env, 20, "big", &big);
        // Every send fails once (nothing listens), so every mail is retried from its stored bytes.
        env.set_outbound(&format!("[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nretry_first = \"1h\"\n", free_port()));
        let (out, _) = flush(&env);
        assert!(out.contains("retrying 40"), "{out}");
        env.sql("UPDATE outbox SET next_attempt_at = created_at");
        env.set_outbound(&format!("[outbound]\nkind = \"file\"\npath = \"{}\"\n", env.path("outbox").display()));
        let (code, stderr, rss_mib) = run_measured(&env, &["outbox", "flush"], None);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(sent_rows(&env), 40);
        eprintln!("outbox flush retrying 20 notifications with 10 MiB attachments: peak RSS {rss_mib:.0} MiB");
        assert!(rss_mib < 100.0, "peak RSS {rss_mib:.0} MiB");
    }
}
