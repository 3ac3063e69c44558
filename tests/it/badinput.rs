//! Bad input loses nothing; the database being down makes `ingest` exit 75.

use crate::both_backends;
use crate::support::*;

both_backends! {
    fn an_unreadable_file_ends_ingest_after_what_came_before(b) {
        // batch_size 2: the file before the missing one is in a batch of its own
        // making, read on the preparing thread while the first batch commits.
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\nbatch_size = 2"), "");
        let mut paths = Vec::new();
        for i in 0..3 {
            let p = env.path(&format!("m{i}.eml"));
            std::fs::write(&p, mail(&format!("c{i}@c.test"), &format!("q {i}"), &format!("q{i}@c.test"), "", "hi")).expect("write");
            paths.push(p.display().to_string());
        }
        let missing = env.path("missing.eml").display().to_string();
        let after = env.path("after.eml");
        std::fs::write(&after, mail("d@c.test", "after", "after@c.test", "", "hi")).expect("write");
        let after = after.display().to_string();
        let out = env.run(&["ingest", &paths[0], &paths[1], &paths[2], &missing, &after]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a missing file is an error");
        assert!(stderr.contains("missing.eml"), "{stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().filter(|l| l.contains("created")).count(), 3, "{stdout}");
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), 3);
        // Running it again without the missing file stores only the rest.
        let out = env.run_ok(&["ingest", &paths[0], &paths[1], &paths[2], &after]);
        assert_eq!(out.lines().filter(|l| l.contains("duplicate")).count(), 3, "{out}");
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), 4);
    }

    fn malformed_mail_is_quarantined_and_the_run_goes_on(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\nmax_message_size = \"2KiB\""), "");
        let files = [
            ("no-sender.eml", "To: support@example.test\r\nSubject: who am I\r\n\r\nbody\r\n".to_string()),
            ("empty.eml", String::new()),
            ("huge.eml", mail("a@c.test", "big", "big@c.test", "", &"x".repeat(5000))),
            ("good.eml", mail("a@c.test", "fine", "ok@c.test", "", "ok")),
            ("garbage.eml", "\u{0}\u{1}\u{2} not a mail at all".to_string()),
        ];
        let paths: Vec<_> = files.iter().map(|(n, raw)| {
            let p = env.path(n);
            std::fs::write(&p, raw).expect("write");
            p
        }).collect();
        let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
        let out = env.ingest_files(&refs);
        let outcome = |name: &str| out.iter().find(|o| o["file"].as_str().is_some_and(|f| f.ends_with(name))).expect("outcome").clone();
        assert_eq!(outcome("no-sender.eml")["outcome"], "quarantined");
        assert!(outcome("no-sender.eml")["reason"].as_str().unwrap_or("").contains("no usable sender"));
        assert_eq!(outcome("empty.eml")["outcome"], "quarantined");
        assert_eq!(outcome("huge.eml")["outcome"], "quarantined");
        assert!(outcome("huge.eml")["reason"].as_str().unwrap_or("").contains("over the limit"));
        assert_eq!(outcome("good.eml")["outcome"], "created");
        assert_eq!(outcome("garbage.eml")["outcome"], "quarantined");
        let q = env.run_ok(&["quarantine"]);
        assert!(q.contains("4 quarantined message(s)"), "{q}");
    }

    fn stdin_pipe_mode(b) {
        let env = Env::new(b);
        let mut child = env.command().args(["ingest", "--json", "-"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().expect("spawn");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(mail("p@c.test", "piped", "pipe@c.test", "", "via MTA").as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["outcome"], "created");
        assert_eq!(v["file"], "-");
    }

    fn tickets_list_filters(b) {
        let env = Env::new(b);
        for i in 0..3 {
            env.ingest(&mail("a@c.test", &format!("t{i}"), &format!("l{i}@c.test"), "", "x"));
        }
        env.sql("UPDATE tickets SET status = 'pending' WHERE id = 2");
        let all = env.tickets();
        assert_eq!(all.len(), 3);
        for k in ["ref", "subject", "status", "priority", "area", "owner", "customer", "created_at"] {
            assert!(all[0].get(k).is_some(), "missing {k}");
        }
        let pending: Vec<serde_json::Value> = serde_json::from_str(&env.run_ok(&["tickets", "list", "--status", "pending", "--json"])).expect("json");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0]["ref"], "MR-2");
        let limited: Vec<serde_json::Value> = serde_json::from_str(&env.run_ok(&["tickets", "list", "--limit", "2", "--json"])).expect("json");
        assert_eq!(limited.len(), 2);
        let owned: Vec<serde_json::Value> = serde_json::from_str(&env.run_ok(&["tickets", "list", "--owner", "bob@example.test", "--json"])).expect("json");
        assert_eq!(owned.len(), 3);
        let text = env.run_ok(&["tickets", "list"]);
        assert!(text.contains("MR-3") && text.contains("3 ticket(s)"), "{text}");
        let show = env.run_ok(&["tickets", "show", "MR-2"]);
        assert!(show.contains("Events:") && show.contains("threading"), "{show}");
        let missing = env.run(&["tickets", "show", "MR-99"]);
        assert_eq!(missing.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&missing.stderr).contains("MR-99"));
    }
}

#[test]
fn database_down_exits_75() {
    let env = Env::new(Backend::Sqlite);
    let text = std::fs::read_to_string(&env.config).expect("config");
    let bad = text.replace(&env.db_url, "postgres://postgres@127.0.0.1:1/nowhere");
    std::fs::write(&env.config, bad).expect("write");
    let f = env.path("m.eml");
    std::fs::write(&f, mail("a@c.test", "x", "x@c.test", "", "x")).expect("write");
    let out = env.run(&["ingest", f.to_str().expect("utf-8 path")]);
    assert_eq!(
        out.status.code(),
        Some(75),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database unavailable"), "{err}");
}

#[test]
fn config_errors_name_file_and_key() {
    let env = Env::new(Backend::Sqlite);
    std::fs::write(&env.config, "[mailroom]\nsupport_adress = \"x@y.test\"\n").expect("write");
    let out = env.run(&["tickets", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mailroom.toml") && err.contains("support_adress") && err.contains("line 2"),
        "{err}"
    );
    std::fs::write(
        &env.config,
        "[[inbound]]\nname = \"x\"\nkind = \"maildir\"\n",
    )
    .expect("write");
    let err = String::from_utf8_lossy(&env.run(&["tickets", "list"]).stderr).into_owned();
    assert!(err.contains("inbound[0].path"), "{err}");
}

#[test]
fn embedded_default_runs_without_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("mail/inbox/new")).expect("mkdir");
    std::fs::write(
        dir.path().join("mail/inbox/new/1.eml"),
        mail("a@c.test", "hello", "e1@c.test", "", "x"),
    )
    .expect("write");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("MAILROOM_CONFIG")
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run(&["poll", "--once"]).contains("created 1"));
    assert!(run(&["tickets", "list"]).contains("MR-1"));
    run(&["outbox", "flush"]);
    assert!(dir.path().join("mailroom.db").exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("mail/outbox"))
            .expect("outbox dir")
            .count(),
        1,
        "the ack (no owner configured)"
    );
    assert!(dir.path().join("mail/inbox/cur/1.eml:2,S").exists());
}
