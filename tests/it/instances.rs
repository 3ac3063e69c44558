//! Several `serve` instances on one PostgreSQL (DESIGN §3): one instance syncs
//! a mailbox at a time, and another takes over when it dies or loses its lease.

use std::time::{Duration, Instant};

use crate::imap::{Serve, customer_mails, healthz_at, http_get, tickets, wait_until};
use crate::mailenv::{MailEnv, USER};
use crate::support::*;

const LEASE: &str = "imap:support:INBOX";

/// The instance's hold on the support mailbox as /healthz shows it.
fn lease_state(port: u16) -> Option<String> {
    let (_, h) = healthz_at(port)?;
    h["sources"]["support"]["lease"]
        .as_str()
        .map(str::to_string)
}

fn holds(port: u16) -> bool {
    healthz_at(port).is_some_and(|(_, h)| {
        h["leases_held"]
            .as_array()
            .is_some_and(|l| l.iter().any(|k| k == LEASE))
            && h["sources"]["support"]["state"] == "idle"
    })
}

fn metric(port: u16, line_start: &str) -> Option<f64> {
    let (_, body) = http_get(port, "/metrics")?;
    body.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn one_instance_syncs_a_mailbox_and_another_takes_over() {
    let mev = MailEnv::start();
    let env = Env::with_config(
        Backend::Postgres,
        BASE,
        &mev.inbound(
            "support",
            USER,
            "secret",
            "poll_interval = \"1h\"\nidle = true",
        ),
    );
    let (config_b, port_b) = env.instance_config(2);
    let port_a = env.http_port;

    let a = Serve::start(&env);
    wait_until(30, "instance A to hold the lease and IDLE", || {
        holds(port_a)
    });
    let b = Serve::start_with(&env, &config_b);
    wait_until(30, "instance B on standby", || {
        lease_state(port_b).as_deref() == Some("standby")
    });
    let (code, h) = healthz_at(port_b).expect("healthz B");
    assert_eq!(code, 200, "standby is healthy: {h}");
    assert_eq!(h["leases_held"], serde_json::json!([]), "{h}");

    let mails = customer_mails("lease", 5);
    mev.smtp_send(USER, &mails[..3]);
    wait_until(30, "three tickets", || tickets(&env) == 3);
    // `poll --once` leaves a mailbox a running instance holds alone.
    let out = env.run(&["poll", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("another instance holds this mailbox's lease"),
        "{stderr}"
    );
    let (_, hb) = healthz_at(port_b).expect("healthz B");
    assert_eq!(
        hb["sources"]["support"]["messages"], 0,
        "B synced nothing: {hb}"
    );

    // The holder dies: B takes over within 30 s and syncs what arrives next.
    drop(a); // SIGKILL
    let killed = Instant::now();
    wait_until(30, "instance B to take over", || holds(port_b));
    let took = killed.elapsed();
    eprintln!("take-over after SIGKILL of the holder: {took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    mev.smtp_send(USER, &mails[3..]);
    wait_until(30, "five tickets", || tickets(&env) == 5);
    assert_eq!(
        metric(
            port_b,
            "mailroom_lease_changes_total{source=\"support\",change=\"acquired\"}"
        ),
        Some(1.0)
    );

    // A restarted A waits on standby while B holds the lease.
    let a = Serve::start(&env);
    wait_until(30, "restarted A on standby", || {
        lease_state(port_a).as_deref() == Some("standby")
    });

    // B's lease session is cut (a failover of the connection, an admin's
    // pg_terminate_backend): B stops syncing, and one of the two takes the
    // mailbox again.
    let cut = env.count(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
         JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' \
         AND l.classid = 7305502 AND d.datname = current_database()) AS t",
    );
    assert_eq!(cut, 1, "one lease session (B's) was held");
    wait_until(30, "B to notice the lost lease", || {
        metric(
            port_b,
            "mailroom_lease_changes_total{source=\"support\",change=\"lost\"}",
        ) == Some(1.0)
    });
    wait_until(30, "one instance to hold the lease again", || {
        holds(port_a) || holds(port_b)
    });
    let both = holds(port_a) && holds(port_b);
    assert!(!both, "two instances hold one mailbox");
    mev.smtp_send(USER, &customer_mails("after", 1));
    wait_until(30, "six tickets", || tickets(&env) == 6);

    assert_eq!(
        env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"),
        6
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"),
        6
    );
    for s in [a, b] {
        let log = s.log();
        let status = s.terminate();
        assert!(status.success(), "serve exit {status:?}\n{log}");
    }
    // A clean stop gives the lease back: nobody holds it now.
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND l.classid = 7305502 AND d.datname = current_database()"
        ),
        0
    );
}
