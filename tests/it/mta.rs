//! A mail piped by an MTA: one `mailroom ingest -` process per mail.

use std::io::Write;
use std::process::Stdio;

use crate::both_backends;
use crate::support::*;

/// Runs `ingest --json -` with `raw` on stdin, as an MTA's pipe does.
fn pipe(env: &Env, raw: &str) -> serde_json::Value {
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
    assert!(
        out.status.success(),
        "ingest - failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON outcome")
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
