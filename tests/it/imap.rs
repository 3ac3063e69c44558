//! The IMAP source against a real Dovecot, fed by a real Postfix (DESIGN §10).
//! Each test starts its own private pair of servers (scripts/mailenv.sh).

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::both_backends;
use crate::mailenv::{MailEnv, USER};
use crate::support::*;

/// `n` distinct customer mails (distinct senders, so RFC 3834 ack limiting
/// never hides a duplicate acknowledgement).
pub(crate) fn customer_mails(tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            mail(
                &format!("c{i}@customer.test"),
                &format!("{tag} question {i}"),
                &format!("{tag}-{i}@customer.test"),
                "",
                "Hello, something is broken.",
            )
        })
        .collect()
}

fn imap_env(b: Backend, mev: &MailEnv, extra: &str) -> Env {
    Env::with_config(b, BASE, &mev.inbound("support", USER, "secret", extra))
}

/// `serve` with its log in a file the test can read.
pub(crate) struct Serve {
    child: Child,
    log: std::path::PathBuf,
}

impl Serve {
    pub(crate) fn start(env: &Env) -> Serve {
        Serve::start_with(env, &env.config)
    }

    /// `serve` with another config (another instance).
    pub(crate) fn start_with(env: &Env, config: &std::path::Path) -> Serve {
        // The schema exists before the test starts looking at tables.
        env.run_ok(&["migrate"]);
        let log = env.path(&format!("serve-{}.log", uuid::Uuid::new_v4().simple()));
        let child = env
            .command_for(config)
            .arg("serve")
            .env("MAILROOM_LOG", "info,mailroom=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn serve");
        Serve { child, log }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, if serve has exited (by itself: nobody signalled it).
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("wait for serve")
    }

    /// SIGTERM, then the exit status (serve must stop within 20 s).
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET on serve's HTTP endpoint: (status code, body).
pub(crate) fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let code = resp.get(9..12)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

pub(crate) fn healthz(env: &Env) -> Option<(u16, serde_json::Value)> {
    healthz_at(env.http_port)
}

pub(crate) fn healthz_at(port: u16) -> Option<(u16, serde_json::Value)> {
    let (code, body) = http_get(port, "/healthz")?;
    Some((code, serde_json::from_str(&body).ok()?))
}

/// Polls `f` every 20 ms until it is true; panics with `what` after `secs`.
pub(crate) fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

pub(crate) fn tickets(env: &Env) -> i64 {
    env.count("SELECT COUNT(*) FROM tickets")
}

both_backends! {
    fn smtp_delivered_mail_becomes_tickets_once(b) {
        let mev = MailEnv::start();
        let env = imap_env(b, &mev, "");
        let n = 25;
        mev.smtp_send(USER, &customer_mails("smtp", n));
        // A mail without a usable From: quarantined, and it must not stall the rest.
        mev.lmtp_deliver(USER, &["Subject: no sender\r\nMessage-ID: <poison@x.test>\r\n\r\nbody\r\n".to_string()]);
        mev.wait_for_count(USER, "INBOX", n as u32 + 1);
        assert_eq!(mev.status(USER, "INBOX").1, n as u32 + 1, "all unseen before mailroom runs");

        let out = env.run_ok(&["poll", "--once"]);
        assert!(out.contains(&format!("processed {} message(s)", n + 1)), "{out}");
        assert!(out.contains(&format!("created {n}")) && out.contains("quarantined 1"), "{out}");
        assert_eq!(tickets(&env), n as i64);
        assert_eq!(env.count("SELECT COUNT(*) FROM quarantine"), 1);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), n as i64);
        // Flagged \Seen only now that they are committed; the position is stored.
        assert_eq!(mev.status(USER, "INBOX"), (n as u32 + 1, 0));
        assert_eq!(env.count("SELECT last_uid FROM source_positions WHERE source = 'imap:support:INBOX'"), n as i64 + 1);

        let again = env.run_ok(&["poll", "--once"]);
        assert!(again.contains("processed 0 message(s)"), "{again}");
        assert_eq!(tickets(&env), n as i64);
    }

    fn kill_9_during_a_2000_message_sync(b) {
        let mev = MailEnv::start();
        let env = imap_env(b, &mev, "");
        let n = 2000;
        let mails = customer_mails("kill", n);
        mev.lmtp_deliver(USER, &mails);
        mev.wait_for_count(USER, "INBOX", n as u32);
        let text = std::fs::read_to_string(&env.config).expect("config").replace("[mailroom]", "[mailroom]\nbatch_size = 64");
        std::fs::write(&env.config, text).expect("config");
        env.run_ok(&["migrate"]);
        let stored = || env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'");
        // Kill at rising points of progress, each somewhere inside the sync.
        for (round, extra_ms) in [(1i64, 0u64), (2, 7), (3, 13), (4, 3), (5, 11)] {
            let mut child = env.command().arg("serve").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
            let target = round * 300;
            let deadline = Instant::now() + Duration::from_secs(60);
            while stored() < target && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(extra_ms));
            let _ = child.kill(); // SIGKILL, mid-batch or between batches
            let _ = child.wait();
        }
        let partial = stored();
        assert!(partial >= 1500 && partial < n as i64, "the kills should land mid-sync (got {partial} of {n})");
        env.run_ok(&["poll", "--once"]);
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), n as i64);
        assert_eq!(env.count("SELECT COUNT(DISTINCT message_id) FROM messages WHERE direction = 'in'"), n as i64);
        assert_eq!(tickets(&env), n as i64);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), n as i64);
        assert_eq!(env.count("SELECT COUNT(*) FROM (SELECT ticket_id FROM outbox WHERE kind = 'ack' GROUP BY ticket_id HAVING COUNT(*) > 1) AS d"), 0);
        assert_eq!(mev.status(USER, "INBOX").1, 0, "every committed mail is flagged \\Seen");
    }

    fn uidvalidity_reset_adds_no_duplicates(b) {
        let mev = MailEnv::start();
        // The LOGIN command instead of the default AUTHENTICATE PLAIN.
        let env = imap_env(b, &mev, "auth = \"login\"");
        mev.lmtp_deliver(USER, &customer_mails("uv", 6));
        mev.wait_for_count(USER, "INBOX", 6);
        env.run_ok(&["poll", "--once"]);
        assert_eq!(tickets(&env), 6);
        let before = env.count("SELECT uidvalidity FROM source_positions WHERE source = 'imap:support:INBOX'");

        mev.reset_uidvalidity(USER);
        mev.lmtp_deliver(USER, &customer_mails("after", 1));
        mev.wait_for_count(USER, "INBOX", 7);
        let out = env.run_ok(&["poll", "--once"]);
        assert!(out.contains("duplicate 6") && out.contains("created 1"), "{out}");
        assert_eq!(tickets(&env), 7);
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), 7);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), 7);
        let after = env.count("SELECT uidvalidity FROM source_positions WHERE source = 'imap:support:INBOX'");
        assert_ne!(before, after, "the new UIDVALIDITY is stored");
        let again = env.run_ok(&["poll", "--once"]);
        assert!(again.contains("processed 0 message(s)"), "{again}");
    }

    fn processed_folder_receives_mail_only_after_commit(b) {
        let mev = MailEnv::start();
        let env = imap_env(b, &mev, "processed_folder = \"Processed\"");
        mev.lmtp_deliver(USER, &customer_mails("moved", 5));
        mev.wait_for_count(USER, "INBOX", 5);

        // Hold the database so the batch cannot commit, then kill mailroom:
        // nothing may have left INBOX.
        let blocker = DbBlocker::hold(&env);
        let mut child = env.command().args(["poll", "--once"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(mev.status(USER, "INBOX"), (5, 5), "nothing moved or flagged before the commit");
        let _ = child.kill();
        let _ = child.wait();
        drop(blocker);
        assert_eq!(tickets(&env), 0);

        let out = env.run_ok(&["poll", "--once"]);
        assert!(out.contains("created 5"), "{out}");
        assert_eq!(mev.status(USER, "INBOX").0, 0, "committed mail left INBOX");
        assert_eq!(mev.status(USER, "Processed").0, 5);
        assert_eq!(tickets(&env), 5);
    }
}

/// Keeps the test database locked (SQLite: an open write transaction;
/// PostgreSQL: a transaction holding the messages table against writes) until dropped.
struct DbBlocker {
    stop: std::sync::mpsc::Sender<()>,
    done: Option<std::thread::JoinHandle<()>>,
}

impl DbBlocker {
    fn hold(env: &Env) -> DbBlocker {
        use sqlx::Connection;
        let (stop, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel::<()>();
        let (url, backend) = (env.db_url.clone(), env.backend);
        // Make sure the schema exists first, so the lock is on a real database.
        env.run_ok(&["migrate"]);
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                match backend {
                    Backend::Sqlite => {
                        let mut c = sqlx::SqliteConnection::connect(&url)
                            .await
                            .expect("connect");
                        sqlx::query("BEGIN IMMEDIATE")
                            .execute(&mut c)
                            .await
                            .expect("lock");
                        ready_tx.send(()).ok();
                        let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
                        sqlx::query("ROLLBACK").execute(&mut c).await.ok();
                    }
                    Backend::Postgres => {
                        // Reads go on; no batch can write its messages.
                        let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
                        sqlx::query("BEGIN").execute(&mut c).await.expect("begin");
                        sqlx::query("LOCK TABLE messages IN EXCLUSIVE MODE")
                            .execute(&mut c)
                            .await
                            .expect("lock");
                        ready_tx.send(()).ok();
                        let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
                        sqlx::query("ROLLBACK").execute(&mut c).await.ok();
                    }
                }
            });
        });
        ready.recv().expect("database lock taken");
        DbBlocker {
            stop,
            done: Some(done),
        }
    }
}

impl Drop for DbBlocker {
    fn drop(&mut self) {
        self.stop.send(()).ok();
        if let Some(h) = self.done.take() {
            let _ = h.join();
        }
    }
}

both_backends! {
    fn idle_turns_a_delivery_into_a_ticket_at_once(b) {
        let mev = MailEnv::start();
        // Polling once an hour: only IDLE can make this fast.
        let env = imap_env(b, &mev, "poll_interval = \"1h\"\nidle = true");
        let serve = Serve::start(&env);
        wait_until(30, "the source to enter IDLE", || {
            healthz(&env).is_some_and(|(_, h)| h["sources"]["support"]["state"] == "idle")
        });
        let mut took = Vec::new();
        for (i, m) in customer_mails("idle", 3).iter().enumerate() {
            mev.smtp_send(USER, std::slice::from_ref(m));
            took.push(wait_until(10, "the IDLE-delivered ticket", || tickets(&env) == i as i64 + 1));
        }
        eprintln!("SMTP delivery -> committed ticket under IDLE: {took:?}");
        // The median of three (one scheduling hiccup on a loaded CI machine is
        // tolerated; polling would take an hour here).
        let mut sorted = took.clone();
        sorted.sort();
        assert!(sorted[1] < Duration::from_secs(1), "IDLE should deliver within a second; took {took:?}");
        // The acknowledgement was sent by the outbox worker right after the commit.
        wait_until(10, "acknowledgements written", || {
            std::fs::read_dir(env.path("outbox")).map(|d| d.count()).unwrap_or(0) >= 6
        });
        let metrics = http_get(env.http_port, "/metrics").expect("metrics").1;
        assert!(metrics.contains("mailroom_messages_ingested_total{source=\"support\",outcome=\"created\"} 3"), "{metrics}");
        assert!(metrics.contains("mailroom_idle_to_commit_seconds"), "{metrics}");
        assert!(metrics.contains("mailroom_outbox_depth"), "{metrics}");
        let log = serve.log();
        let status = serve.terminate();
        assert!(status.success(), "serve exit {status:?}\n{log}");
        // SIGTERM ends the IMAP session with LOGOUT, not a dropped connection.
        let dovecot = mev.log("dovecot.log");
        assert!(dovecot.contains("Disconnected: Logged out"), "{dovecot}");
    }

    fn dovecot_restart_loses_nothing(b) {
        let mev = MailEnv::start();
        let env = imap_env(b, &mev, "poll_interval = \"1h\"");
        let serve = Serve::start(&env);
        let mails = customer_mails("restart", 3);
        mev.smtp_send(USER, &mails[0..1]);
        wait_until(30, "the first ticket", || tickets(&env) == 1);

        mev.stop_dovecot();
        wait_until(30, "/healthz to report the lost connection", || {
            healthz(&env).is_some_and(|(code, h)| code == 503 && h["sources"]["support"]["connected"] == false)
        });
        // Postfix queues this one while Dovecot is down and delivers it later.
        mev.smtp_send(USER, &mails[1..2]);
        std::thread::sleep(Duration::from_millis(500));
        mev.start_dovecot();
        mev.smtp_send(USER, &mails[2..3]);
        wait_until(60, "all three tickets after the restart", || tickets(&env) == 3);
        wait_until(30, "/healthz healthy again", || {
            healthz(&env).is_some_and(|(code, h)| code == 200 && h["sources"]["support"]["connected"] == true)
        });
        let log = serve.log();
        assert!(log.contains("reconnecting"), "{log}");
        let status = serve.terminate();
        assert!(status.success(), "{status:?}");
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), 3);
    }
}

#[test]
fn tls_verifies_the_certificate_and_never_falls_back() {
    let mev = MailEnv::start();
    mev.lmtp_deliver(USER, &customer_mails("tls", 2));
    mev.wait_for_count(USER, "INBOX", 2);
    let pw = mev.dir.path().join("pw-tls");
    std::fs::write(&pw, "secret").expect("pw");
    let source = |tls: &str, port: u16, ca: bool| {
        format!(
            "\n[[inbound]]\nname = \"tls\"\nkind = \"imap\"\nhost = \"localhost\"\nport = {port}\ntls = \"{tls}\"\nusername = \"{USER}\"\npassword_file = \"{}\"\n{}",
            pw.display(),
            if ca {
                format!("ca_file = \"{}\"\n", mev.cert().display())
            } else {
                String::new()
            }
        )
    };
    // Without the private CA: a clear certificate error, nothing fetched.
    let logins_before = mev.log("dovecot.log").matches("imap-login: Login:").count();
    for (tls, port) in [("implicit", mev.imaps), ("starttls", mev.imap)] {
        let env = Env::with_config(Backend::Sqlite, BASE, &source(tls, port, false));
        let out = env.run(&["poll", "--once"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{tls} without ca_file must fail");
        assert!(
            err.contains("certificate") && err.contains("not trusted") && err.contains("ca_file"),
            "{tls}: {err}"
        );
        assert_eq!(env.count("SELECT COUNT(*) FROM messages"), 0);
    }
    let logins = mev.log("dovecot.log").matches("imap-login: Login:").count();
    assert_eq!(
        logins, logins_before,
        "no login may happen over an untrusted connection"
    );
    // With ca_file: implicit TLS and STARTTLS both work.
    let env = Env::with_config(Backend::Sqlite, BASE, &source("implicit", mev.imaps, true));
    let out = env.run_ok(&["poll", "--once"]);
    assert!(out.contains("created 2"), "{out}");
    let env = Env::with_config(Backend::Sqlite, BASE, &source("starttls", mev.imap, true));
    let out = env.run_ok(&["poll", "--once"]);
    assert!(out.contains("created 2"), "{out}");
}

#[test]
fn wrong_password_is_reported_retried_and_isolated() {
    let mev = MailEnv::start();
    // Two mailboxes: the sales one has a wrong password and must not stop support.
    let extra = format!(
        "{}{}",
        // support polls (no IDLE): the fallback path for servers without IDLE.
        mev.inbound(
            "support",
            USER,
            "secret",
            "idle = false\npoll_interval = \"200ms\""
        ),
        mev.inbound("sales", "sales@example.test", "wrong-password", "")
    );
    let env = Env::with_config(Backend::Sqlite, BASE, &extra);
    let serve = Serve::start(&env);
    let h = {
        let mut last = None;
        wait_until(30, "two failed logins of the sales source", || {
            last = healthz(&env);
            last.as_ref().is_some_and(|(_, h)| {
                h["sources"]["sales"]["consecutive_failures"].as_u64() >= Some(2)
            })
        });
        last.expect("healthz")
    };
    assert_eq!(
        h.0, 503,
        "a failing source makes /healthz unhealthy: {}",
        h.1
    );
    let err = h.1["sources"]["sales"]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains("authentication failed for sales@example.test"),
        "{err}"
    );
    assert!(!err.contains("wrong-password"));
    mev.smtp_send(USER, &customer_mails("iso", 1));
    wait_until(30, "support's ticket while sales is failing", || {
        tickets(&env) == 1
    });
    let log = serve.log();
    assert!(
        log.contains("authentication failed for sales@example.test"),
        "{log}"
    );
    assert!(
        !log.contains("wrong-password"),
        "the password must never be logged"
    );
    let status = serve.terminate();
    assert!(
        status.success(),
        "serve keeps running and stops cleanly: {status:?}"
    );
}

/// Agents whose mailboxes exist on the test Dovecot (sales@ stands in for Bob).
pub(crate) const SMTP_BASE: &str = r#"
[mailroom]
support_address = "support@example.test"
support_name = "Example Support"
ticket_prefix = "MR"
default_owner = "sales@example.test"

[[agent]]
email = "sales@example.test"
name = "Sally"
"#;

/// An Env whose [outbound] is SMTP to the test Postfix (`tls_keys` picks the
/// TLS mode and CA), with the support mailbox as its IMAP source.
pub(crate) fn smtp_env(b: Backend, mev: &MailEnv, tls_keys: &str) -> Env {
    let inbound = mev.inbound("support", USER, "secret", "poll_interval = \"1h\"");
    let env = Env::with_config(b, SMTP_BASE, &inbound);
    env.set_outbound(&format!(
        "[outbound]\nkind = \"smtp\"\nport = {}\n{tls_keys}\nflush_interval = \"100ms\"\n",
        mev.smtp
    ));
    env
}

#[test]
fn smtp_starttls_verifies_the_certificate_and_never_falls_back() {
    let mev = MailEnv::start();
    // Without the private CA: no mail leaves, the outbox keeps it with the reason.
    let env = smtp_env(
        Backend::Sqlite,
        &mev,
        "host = \"localhost\"\ntls = \"starttls\"",
    );
    mev.lmtp_deliver(USER, &customer_mails("smtptls", 1));
    mev.wait_for_count(USER, "INBOX", 1);
    env.run_ok(&["poll", "--once"]);
    env.run_ok(&["outbox", "flush"]);
    let err = env.run_ok(&["outbox", "list", "--json"]);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"),
        0
    );
    assert_eq!(
        mev.status("catchall@example.test", "INBOX").0,
        0,
        "nothing was sent in clear text"
    );
    // With ca_file: sent over STARTTLS.
    let ca = mev.cert().display().to_string();
    let env = smtp_env(
        Backend::Sqlite,
        &mev,
        &format!("host = \"localhost\"\ntls = \"starttls\"\nca_file = \"{ca}\""),
    );
    env.run_ok(&["poll", "--once"]);
    env.run_ok(&["outbox", "flush"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"),
        2
    );
    mev.wait_for_count("catchall@example.test", "INBOX", 1);
    assert!(
        mev.log("postfix.log")
            .contains("TLS connection established"),
        "the mail went over TLS"
    );
}

both_backends! {
    fn smtp_outbound_delivers_ack_and_notification(b) {
        let mev = MailEnv::start();
        let env = smtp_env(b, &mev, "host = \"127.0.0.1\"\ntls = \"none\"");

        let serve = Serve::start(&env);
        wait_until(30, "the source to enter IDLE", || {
            healthz(&env).is_some_and(|(_, h)| h["sources"]["support"]["state"] == "idle")
        });
        mev.smtp_send(USER, &customer_mails("out", 1));
        let took = wait_until(30, "the acknowledgement in the customer's mailbox", || {
            mev.status("catchall@example.test", "INBOX").0 >= 1
        });
        eprintln!("customer mail sent -> acknowledgement in the customer's mailbox: {took:?}");
        wait_until(30, "the owner notification in the agent's mailbox", || {
            mev.status("sales@example.test", "INBOX").0 >= 1
        });
        wait_until(10, "outbox rows marked sent", || {
            env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'") == 2
        });
        let status = serve.terminate();
        assert!(status.success(), "{status:?}");
        assert_eq!(tickets(&env), 1);
        // Nothing bounced back into the support mailbox.
        assert_eq!(mev.status(USER, "INBOX").0, 1);
    }
}

both_backends! {
    fn unreadable_server_response_is_quarantined_and_the_rest_goes_on(b) {
        let mails = customer_mails("poison", 3);
        let fake = crate::fakeimap::FakeImap::start(mails, crate::fakeimap::Fault::Garbage(2));
        let pw = "secret";
        let extra = format!(
            "\n[[inbound]]\nname = \"fake\"\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{USER}\"\npassword_env = \"MAILROOM_TEST_FAKE_PW\"\n",
            fake.port
        );
        let env = Env::with_config(b, BASE, &extra);
        let out = env.command().args(["poll", "--once"]).env("MAILROOM_TEST_FAKE_PW", pw).output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("created 2") && stdout.contains("quarantined 1"), "{stdout}");
        let q = env.run_ok(&["quarantine", "--json"]);
        assert!(q.contains("imap:fake:77:2") && q.contains("UID 2") && q.contains("could not be read"), "{q}");
        assert!(fake.connections.load(std::sync::atomic::Ordering::SeqCst) >= 4, "the session was reopened to isolate the message");
        assert_eq!(env.count("SELECT last_uid FROM source_positions WHERE source = 'imap:fake:INBOX'"), 3);
        let again = env.command().args(["poll", "--once"]).env("MAILROOM_TEST_FAKE_PW", pw).output().expect("run");
        assert!(String::from_utf8_lossy(&again.stdout).contains("processed 0 message(s)"));
    }
}

both_backends! {
    fn a_panic_on_one_imap_message_quarantines_it_and_the_sync_goes_on(b) {
        let mev = MailEnv::start();
        let env = imap_env(b, &mev, "");
        let mut mails = customer_mails("panic", 4);
        mails[1] = mails[1].replace("panic question 1", "POISON-IMAP question");
        mev.lmtp_deliver(USER, &mails);
        mev.wait_for_count(USER, "INBOX", 4);
        let out = env.command().args(["poll", "--once"]).env("MAILROOM_FAULT", "decide:POISON-IMAP").output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("created 3") && stdout.contains("quarantined 1"), "{stdout}");
        assert!(env.run_ok(&["quarantine", "--json"]).contains("internal error: panic: injected fault at decide"));
        assert_eq!(env.count("SELECT last_uid FROM source_positions WHERE source = 'imap:support:INBOX'"), 4);
        // Nothing is fetched again.
        assert!(env.run_ok(&["poll", "--once"]).contains("processed 0 message(s)"));
    }

    fn a_fetch_answer_without_a_body_is_never_skipped(b) {
        let mails = customer_mails("nobody", 4);
        let fake = crate::fakeimap::FakeImap::start(mails, crate::fakeimap::Fault::NoBody(2));
        let extra = format!(
            "\n[[inbound]]\nname = \"fake\"\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{USER}\"\npassword_env = \"MAILROOM_TEST_FAKE_PW\"\n",
            fake.port
        );
        let env = Env::with_config(b, BASE, &extra);
        let out = env.command().args(["poll", "--once"]).env("MAILROOM_TEST_FAKE_PW", "pw").output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        // Fetched again until set aside: 3 created, the bodiless one quarantined with the reason.
        assert!(stdout.contains("created 3") && stdout.contains("quarantined 1"), "{stdout}");
        let q = env.run_ok(&["quarantine", "--json"]);
        assert!(q.contains("imap:fake:77:2") && q.contains("carried no body for UID 2"), "{q}");
        assert_eq!(env.count("SELECT last_uid FROM source_positions WHERE source = 'imap:fake:INBOX'"), 4);
        assert_eq!(tickets(&env), 3);
    }

    fn mail_arriving_during_a_sync_is_not_left_waiting(b) {
        let mev = MailEnv::start();
        // Polling once an hour: a message missed between the sync and IDLE
        // would wait for the next re-issue of IDLE (10 minutes). Dovecot also
        // announces such mail when IDLE starts, so this checks the outcome,
        // not which of the two mechanisms (that or mailroom's NOOP recheck) saw it.
        let env = imap_env(b, &mev, "poll_interval = \"1h\"");
        let text = std::fs::read_to_string(&env.config).expect("config").replace("[mailroom]", "[mailroom]\nbatch_size = 16");
        std::fs::write(&env.config, text).expect("config");
        mev.lmtp_deliver(USER, &customer_mails("backlog", 400));
        mev.wait_for_count(USER, "INBOX", 400);
        let serve = Serve::start(&env);
        wait_until(60, "the sync to be under way", || tickets(&env) > 0);
        mev.lmtp_deliver(USER, &customer_mails("during", 3));
        wait_until(20, "all mail, including what arrived during the sync", || tickets(&env) == 403);
        let status = serve.terminate();
        assert!(status.success(), "{status:?}");
    }
}

both_backends! {
    fn every_mailbox_is_drained_by_one_poll(b) {
        let mev = MailEnv::start();
        let extra = format!(
            "{}{}",
            mev.inbound("support", USER, "secret", ""),
            mev.inbound("sales", "sales@example.test", "secret", "processed_folder = \"Done\"")
        );
        let env = Env::with_config(b, BASE, &extra);
        mev.lmtp_deliver(USER, &customer_mails("a", 3));
        mev.lmtp_deliver("sales@example.test", &customer_mails("b", 4));
        mev.wait_for_count(USER, "INBOX", 3);
        mev.wait_for_count("sales@example.test", "INBOX", 4);
        let out = env.run_ok(&["poll", "--once"]);
        assert!(out.contains("processed 7 message(s): created 7"), "{out}");
        assert_eq!(mev.status(USER, "INBOX"), (3, 0));
        assert_eq!(mev.status("sales@example.test", "INBOX").0, 0);
        assert_eq!(mev.status("sales@example.test", "Done").0, 4);
        assert_eq!(env.count("SELECT COUNT(*) FROM source_positions"), 2);
    }
}
