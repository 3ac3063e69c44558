//! The Maildir source through `poll --once` and `serve`.

use std::time::{Duration, Instant};

use crate::both_backends;
use crate::support::*;

both_backends! {
    fn poll_once_processes_everything_once(b) {
        let env = Env::new(b);
        for i in 0..30 {
            let extra = if i % 3 == 2 { format!("In-Reply-To: <m{}@c.test>\r\n", i - 1) } else { String::new() };
            env.deliver(&format!("{i:03}.eml"), &mail(&format!("c{}@c.test", i / 3), &format!("s{i}"), &format!("m{i}@c.test"), &extra, "x"));
        }
        let out = env.run_ok(&["poll", "--once"]);
        assert!(out.contains("processed 30 message(s)"), "{out}");
        assert!(out.contains("appended 10") && out.contains("created 20"), "{out}");
        assert_eq!(std::fs::read_dir(env.path("inbox/new")).expect("new").count(), 0);
        assert_eq!(std::fs::read_dir(env.path("inbox/cur")).expect("cur").count(), 30);
        let again = env.run_ok(&["poll", "--once"]);
        assert!(again.contains("processed 0 message(s)"), "{again}");
        assert_eq!(env.tickets().len(), 20);
    }

    fn serve_ingests_sends_and_stops_cleanly(b) {
        let env = Env::new(b);
        let mut child = env.command().arg("serve").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().expect("spawn serve");
        env.deliver("1.eml", &mail("a@c.test", "live", "live1@c.test", "", "hello"));
        let deadline = Instant::now() + Duration::from_secs(20);
        let outbox_files = || std::fs::read_dir(env.path("outbox")).map(|d| d.count()).unwrap_or(0);
        while outbox_files() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(outbox_files(), 2, "ack and notification written by the running server");
        // SIGTERM: finish what is in hand, exit 0.
        let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let code = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            assert!(Instant::now() < deadline, "serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(code.success(), "serve exit status {code:?}");
        assert_eq!(env.tickets().len(), 1);
    }
}

both_backends! {
    fn kill_9_mid_run_loses_and_duplicates_nothing(b) {
        let env = Env::new(b);
        let n = 600;
        for i in 0..n {
            // Every third mail follows up on the one before, so threading spans batches.
            let extra = if i % 3 == 2 { format!("In-Reply-To: <k{}@c.test>\r\n", i - 1) } else { String::new() };
            env.deliver(&format!("{i:04}.eml"), &mail(&format!("c{i}@c.test"), &format!("s{i}"), &format!("k{i}@c.test"), &extra, &"words ".repeat(200)));
        }
        // Small batches so kills land between and inside transactions.
        let text = std::fs::read_to_string(&env.config).expect("config").replace("[mailroom]", "[mailroom]\nbatch_size = 16");
        std::fs::write(&env.config, text).expect("config");
        for delay_ms in [150u64, 320, 90, 500, 260] {
            let mut child = env.command().args(["poll", "--once"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("spawn");
            std::thread::sleep(Duration::from_millis(delay_ms));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        env.run_ok(&["poll", "--once"]);
        let again = env.run_ok(&["poll", "--once"]);
        assert!(again.contains("processed 0 message(s)"), "{again}");
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), n as i64);
        assert_eq!(env.count("SELECT COUNT(DISTINCT message_id) FROM messages WHERE direction = 'in'"), n as i64);
        let tickets = env.count("SELECT COUNT(*) FROM tickets");
        assert_eq!(tickets, (n - n / 3) as i64);
        // Exactly one acknowledgement per ticket, never two.
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), tickets);
        assert_eq!(env.count("SELECT COUNT(*) FROM (SELECT ticket_id FROM outbox WHERE kind = 'ack' GROUP BY ticket_id HAVING COUNT(*) > 1) AS d"), 0);
        assert_eq!(std::fs::read_dir(env.path("inbox/new")).expect("new").count(), 0);
    }

    fn overlapping_runs_do_not_duplicate(b) {
        let env = Env::new(b);
        let n = 120;
        let mut files = Vec::new();
        for i in 0..n {
            let p = env.path(&format!("o{i}.eml"));
            std::fs::write(&p, mail(&format!("o{i}@c.test"), &format!("s{i}"), &format!("o{i}@c.test"), "", "x")).expect("write");
            files.push(p.display().to_string());
        }
        // Two ingest processes over the same files at the same time (overlapping fetch runs).
        let spawn = || {
            let mut c = env.command();
            c.arg("ingest").arg("--json").args(&files).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            c.spawn().expect("spawn")
        };
        let (a, b2) = (spawn(), spawn());
        let (a, b2) = (a.wait_with_output().expect("wait"), b2.wait_with_output().expect("wait"));
        assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
        assert!(b2.status.success(), "{}", String::from_utf8_lossy(&b2.stderr));
        let outcomes: Vec<serde_json::Value> = [a.stdout, b2.stdout].iter().flat_map(|o| String::from_utf8_lossy(o).lines().map(|l| serde_json::from_str(l).expect("json")).collect::<Vec<_>>()).collect();
        let created = outcomes.iter().filter(|o| o["outcome"] == "created").count();
        let dup = outcomes.iter().filter(|o| o["outcome"] == "duplicate").count();
        assert_eq!((created, dup), (n, n), "each mail created once and reported duplicate once");
        assert_eq!(env.count("SELECT COUNT(*) FROM tickets"), n as i64);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), n as i64);
    }
}

both_backends! {
    // A backlog is listed in chunks (MAILROOM_MAILDIR_CHUNK, debug builds;
    // 10,000 names in release): every file once, in name order, and a file
    // that cannot be read is skipped, not taken again and again.
    fn a_backlog_is_read_in_chunks_in_order(b) {
        let env = Env::new(b);
        let n = 23;
        for i in 0..n {
            let extra = if i % 3 == 2 { format!("In-Reply-To: <m{:03}@c.test>\r\n", i - 1) } else { String::new() };
            env.deliver(&format!("{i:03}.eml"), &mail(&format!("c{}@c.test", i / 3), &format!("s{i}"), &format!("m{i:03}@c.test"), &extra, "x"));
        }
        // A directory where a file should be: reading it fails.
        std::fs::create_dir(env.path("inbox/new/010x.eml")).expect("mkdir");
        let out = env.command().env("MAILROOM_MAILDIR_CHUNK", "4").args(["poll", "--once"]).output().expect("poll");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{said} {}", String::from_utf8_lossy(&out.stderr));
        assert!(said.contains(&format!("processed {n} message(s)")), "{said}");
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), n);
        // Stored in file order: no later file's mail has a smaller id.
        assert_eq!(env.count("SELECT COUNT(*) FROM messages a JOIN messages b ON a.id < b.id WHERE a.direction = 'in' AND b.direction = 'in' AND a.message_id > b.message_id"), 0);
        assert_eq!(env.count("SELECT COUNT(*) FROM tickets"), n - n / 3);
        let left: Vec<_> = std::fs::read_dir(env.path("inbox/new")).expect("new").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(left, ["010x.eml"]);
        let again = env.command().env("MAILROOM_MAILDIR_CHUNK", "4").args(["poll", "--once"]).output().expect("poll");
        assert!(String::from_utf8_lossy(&again.stdout).contains("processed 0 message(s)"));
    }
}
