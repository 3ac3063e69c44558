//! A mail piped by an MTA: one `mailroom ingest -` process per mail.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::both_backends;
use crate::imap::{Serve, healthz, http_get, wait_until};
use crate::support::*;

/// Runs `ingest --json -` with `raw` on stdin: (exit code, stdout, stderr).
fn pipe_status(env: &Env, raw: &str) -> (i32, String, String) {
    let mut child = env
        .command()
        .args(["ingest", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ingest -");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(raw.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `ingest --json -` with `raw` on stdin, as an MTA's pipe does.
fn pipe(env: &Env, raw: &str) -> serde_json::Value {
    let (code, out, err) = pipe_status(env, raw);
    assert_eq!(code, 0, "ingest - failed: {err}");
    serde_json::from_str(&out).expect("one JSON outcome")
}

fn wal_len(env: &Env) -> u64 {
    std::fs::metadata(env.path("mailroom.db-wal")).map_or(0, |m| m.len())
}

both_backends! {
    fn one_process_per_mail_threads_across_processes(b) {
        let env = Env::new(b);
        let sqlite = matches!(b, Backend::Sqlite);
        let mut largest_wal = 0;
        let mut trimmed = 0;
        for i in 0..30 {
            // A first mail, then every third mail a follow-up of an earlier one.
            let raw = if i % 3 == 2 {
                let first = i - 1;
                mail(
                    &format!("c{first}@c.test"),
                    &format!("Re: question {first}"),
                    &format!("f{i}@c.test"),
                    &format!("In-Reply-To: <q{first}@c.test>\r\n"),
                    "Still broken, see below.\r\n\r\nOn Mon, 30 Nov 2026 Support wrote:\r\n> earlier",
                )
            } else {
                mail(&format!("c{i}@c.test"), &format!("question {i}"), &format!("q{i}@c.test"), "", "hello")
            };
            let before = wal_len(&env);
            let out = pipe(&env, &raw);
            let expected = if i % 3 == 2 { "appended" } else { "created" };
            assert_eq!(out["outcome"], expected, "mail {i}: {out}");
            if sqlite {
                // The WAL outlives each process (no checkpoint at close) and
                // is checkpointed and emptied once it passes 2 MiB.
                let after = wal_len(&env);
                assert!(env.path("mailroom.db-wal").exists(), "mail {i}: the WAL was removed at close");
                if after < before {
                    trimmed += 1;
                }
                largest_wal = largest_wal.max(after);
            }
        }
        if sqlite {
            assert!(trimmed >= 1, "the WAL was never checkpointed (largest {largest_wal} bytes)");
            // The limit plus what one mail adds.
            assert!(largest_wal < 3 << 20, "the WAL grew to {largest_wal} bytes");
            // A long-running kind of command sees everything and, closing
            // last, checkpoints and removes the WAL as before.
            assert_eq!(env.tickets().len(), 20);
            assert!(!env.path("mailroom.db-wal").exists(), "the last connection out keeps the WAL");
        }
        assert_eq!(env.count("SELECT COUNT(*) FROM tickets"), 20);
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), 30);
        assert_eq!(
            env.count("SELECT COUNT(*) FROM messages m JOIN messages f ON f.ticket_id = m.ticket_id \
                       WHERE m.message_id LIKE 'q%' AND f.message_id LIKE 'f%'"),
            10,
            "each follow-up is on its first mail's ticket"
        );
    }
}

/// An Env whose serve takes piped mail on `<dir>/in.sock` (set explicitly:
/// PostgreSQL has no default socket), and at most `max_size` per mail.
fn socket_env(b: Backend, max_size: &str) -> (Env, PathBuf) {
    let env = Env::new(b);
    let socket = env.path("in.sock");
    let text = std::fs::read_to_string(&env.config)
        .expect("config")
        .replacen(
            "[mailroom]",
            &format!(
                "[mailroom]\ningest_socket = \"{}\"\nmax_message_size = \"{max_size}\"",
                socket.display()
            ),
            1,
        );
    std::fs::write(&env.config, text).expect("config");
    (env, socket)
}

fn start_listening(env: &Env, socket: &std::path::Path) -> Serve {
    let serve = Serve::start(env);
    wait_until(30, "serve to listen on the ingest socket", || {
        UnixStream::connect(socket).is_ok()
    });
    serve
}

/// Hand-offs counted by serve's /metrics, by outcome.
fn handed_off(env: &Env, outcome: &str) -> u64 {
    let metrics = http_get(env.http_port, "/metrics").expect("metrics").1;
    let key = format!(
        "mailroom_messages_ingested_total{{source=\"ingest-socket\",outcome=\"{outcome}\"}} "
    );
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |n| n.trim().parse().expect("counter"))
}

/// `threads` deliveries at once over `mails`; returns each (exit code, stdout, stderr).
fn pipe_all(
    env: &Env,
    mails: &[String],
    threads: usize,
    done: &AtomicUsize,
) -> Vec<(i32, String, String)> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, (i32, String, String))> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(raw) = mails.get(i) else { return mine };
                        mine.push((i, pipe_status(env, raw)));
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

both_backends! {
    fn piped_mail_is_handed_to_a_running_serve(b) {
        let (env, socket) = socket_env(b, "64KiB");
        let serve = start_listening(&env, &socket);
        let firsts: Vec<String> = (0..12)
            .map(|i| mail(&format!("h{i}@c.test"), &format!("handed {i}"), &format!("h{i}@c.test"), "", "hello"))
            .collect();
        let follow_ups: Vec<String> = (0..4)
            .map(|i| mail(&format!("h{i}@c.test"), &format!("Re: handed {i}"), &format!("hf{i}@c.test"), &format!("In-Reply-To: <h{i}@c.test>\r\n"), "more"))
            .collect();
        let done = AtomicUsize::new(0);
        for (batch, expected) in [(&firsts, "created"), (&follow_ups, "appended")] {
            for (code, out, err) in pipe_all(&env, batch, 4, &done) {
                assert_eq!(code, 0, "{out} {err}");
                let o: serde_json::Value = serde_json::from_str(&out).expect("one JSON outcome");
                assert_eq!(o["outcome"], expected, "{o}");
                assert_eq!(o["file"], "-");
            }
        }
        // They went through serve, not each its own database connection.
        assert_eq!(handed_off(&env, "created"), 12);
        assert_eq!(handed_off(&env, "appended"), 4);
        let (_, h) = healthz(&env).expect("healthz");
        assert_eq!(h["sources"]["ingest-socket"]["kind"], "socket", "{h}");
        assert_eq!(h["sources"]["ingest-socket"]["messages"], 16, "{h}");
        // Too big: its header is quarantined by serve, and the MTA bounces it (65).
        let big = mail("big@c.test", "huge", "big@c.test", "", &"x".repeat(100_000));
        let (code, out, err) = pipe_status(&env, &big);
        assert_eq!(code, 65, "{out} {err}");
        assert!(err.contains("over the limit"), "{err}");
        assert_eq!(handed_off(&env, "quarantined"), 1);
        assert_eq!(env.count("SELECT COUNT(*) FROM quarantine WHERE reason LIKE '%only its header is kept here%'"), 1);
        // A second serve on the same socket leaves the first one's alone.
        let (second, _) = env.instance_config(2);
        let mut other = Serve::start_with(&env, &second);
        wait_until(30, "the second serve's warning", || other.log().contains("another process (a second serve?) is listening"));
        assert!(other.exited().is_none(), "the second serve runs on without the socket");
        assert!(other.terminate().success());
        // Stopped, serve removes its socket; ingest - then stores mail itself.
        assert!(serve.terminate().success());
        assert!(!socket.exists(), "the socket is removed at shutdown");
        let o = pipe(&env, &mail("late@c.test", "after serve", "late@c.test", "", "hi"));
        assert_eq!(o["outcome"], "created", "{o}");
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), 17);
        assert_eq!(env.count("SELECT COUNT(*) FROM tickets"), 13);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), 13, "one acknowledgement per ticket");
    }

    fn a_killed_serve_loses_and_duplicates_no_piped_mail(b) {
        let (env, socket) = socket_env(b, "50MiB");
        let serve = start_listening(&env, &socket);
        let n = 40;
        let mails: Vec<String> = (0..n)
            .map(|i| mail(&format!("k{i}@c.test"), &format!("kill {i}"), &format!("k{i}@c.test"), "", &"words ".repeat(300)))
            .collect();
        let done = AtomicUsize::new(0);
        let results = std::thread::scope(|scope| {
            let piping = scope.spawn(|| pipe_all(&env, &mails, 4, &done));
            // SIGKILL while deliveries are in flight: some answered, some
            // mid-commit, some not yet connected.
            wait_until(60, "the first deliveries", || done.load(Ordering::SeqCst) >= 8);
            drop(serve);
            let at_kill = done.load(Ordering::SeqCst);
            assert!(at_kill < n, "all {n} were delivered before the kill");
            piping.join().expect("piping")
        });
        for (code, out, err) in &results {
            // Every mail the MTA was told about is stored; a refusal (75) would
            // be retried by the MTA, and storing it again is safe.
            assert!(*code == 0 || *code == 75, "{code} {out} {err}");
        }
        for (i, (code, _, _)) in results.iter().enumerate() {
            if *code == 75 {
                assert_eq!(pipe_status(&env, &mails[i]).0, 0, "the MTA's retry of mail {i}");
            }
        }
        assert!(socket.exists(), "SIGKILL leaves the socket file");
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), n as i64);
        assert_eq!(env.count("SELECT COUNT(DISTINCT message_id) FROM messages WHERE direction = 'in'"), n as i64);
        assert_eq!(env.count("SELECT COUNT(*) FROM tickets"), n as i64);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), n as i64);
        // The next serve replaces the stale socket and takes mail again.
        let _serve = start_listening(&env, &socket);
        let o = pipe(&env, &mail("again@c.test", "after the kill", "again@c.test", "", "hi"));
        assert_eq!(o["outcome"], "created", "{o}");
        assert_eq!(handed_off(&env, "created"), 1);
    }
}
