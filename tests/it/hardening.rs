//! The mail paths under faults and odd input (issue "never loop, never send
//! twice, never stall, never hide a customer").

use crate::both_backends;
use crate::support::*;

both_backends! {
    fn small_truths_of_listing_and_names(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"Billing\""), "");
        env.ingest(&mail("\"ceo@bigco.test\" <mallory@evil.test>", "Invoice", "s1@evil.test", "", "pay me"));
        env.ingest(&mail("Alice <alice@customer.test>", "Other", "s2@customer.test", "", "hi"));
        env.sql("UPDATE tickets SET status = 'resolved' WHERE id = 1");
        // `closed` is a synonym of resolved in filters.
        let closed: serde_json::Value = serde_json::from_str(&env.run_ok(&["tickets", "list", "--status", "closed", "--json"])).expect("json");
        assert_eq!(closed.as_array().map(|a| a.len()), Some(1));
        assert_eq!(closed[0]["ref"], "MR-1");
        // Areas match regardless of case.
        let billing: serde_json::Value = serde_json::from_str(&env.run_ok(&["tickets", "list", "--area", "BILLING", "--json"])).expect("json");
        assert_eq!(billing.as_array().map(|a| a.len()), Some(2));
        // A display name cannot put a fake address into the notification's From.
        let sent = env.flush_outbox();
        let n = &sent.iter().find(|(f, m)| f.ends_with("-notification.eml") && m.subject.contains("Invoice")).expect("notification").1;
        let name = n.from.name.clone().unwrap_or_default();
        assert!(!name.contains('@') && !name.contains('<') && !name.contains('"'), "{name}");
        assert_eq!(name, "ceobigco.test via Example Support");
        assert_eq!(n.from.email, "support@example.test");
    }
}

both_backends! {
    fn the_smtp_password_is_read_at_each_connect(b) {
        use crate::imap::{Serve, wait_until};
        use crate::mailenv::MailEnv;
        let mev = MailEnv::start();
        let env = Env::new(b);
        let pw = env.path("smtp-password");
        std::fs::write(&pw, "wrong\n").expect("password file");
        // The Env's file outbox becomes SMTP with AUTH to the test Postfix.
        env.set_outbound(&format!(
            "[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"support@example.test\"\npassword_file = \"{}\"\nflush_interval = \"100ms\"\n",
            mev.smtp,
            pw.display()
        ));
        let serve = Serve::start(&env);
        env.deliver("1.eml", &mail("alice@customer.test", "First", "pw1@customer.test", "", "one"));
        wait_until(30, "the first acknowledgement to fail on the wrong password", || {
            env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND status = 'failed'") == 1
        });
        // The secret is rotated while serve runs: the next mail goes out with it.
        std::fs::write(&pw, "secret\n").expect("password file");
        env.deliver("2.eml", &mail("bob2@customer.test", "Second", "pw2@customer.test", "", "two"));
        wait_until(30, "the second acknowledgement to be sent", || {
            env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND status = 'sent'") == 1
        });
        mev.wait_for_count("catchall@example.test", "INBOX", 1);
        let log = serve.log();
        assert!(!log.contains("wrong"), "no password in the log: {log}");
        assert!(serve.terminate().success());
    }
}

/// A delivery-status report saying the mail `original` (a Message-ID) bounced.
pub fn dsn(id: &str, rcpt: &str, original: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.test\r\nTo: support@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{id}>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nUser unknown\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.test\r\nMessage-ID: <{original}>\r\nSubject: notification\r\n--B--\r\n"
    )
}

both_backends! {
    fn a_bounced_notification_never_causes_more_mail_to_that_address(b) {
        let env = Env::with_config(
            b,
            &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""),
            "\n[[area]]\nname = \"billing\"\nescalation = \"carol@example.test\"\n",
        );
        env.ingest(&mail("alice@customer.test", "Refund", "b1@customer.test", "", "please"));
        let sent = env.flush_outbox();
        let notif = sent.iter().find(|(n, _)| n.ends_with("-notification.eml")).expect("notification").1.clone();
        assert_eq!(notif.to[0].email, "bob@example.test");
        for i in 0..5 {
            let o = env.ingest(&dsn(&format!("dsn{i}@mx.example.test"), "bob@example.test", &notif.message_id));
            assert_eq!(o["outcome"], "bounce", "{o}");
            // The customer keeps writing: the owner would be notified each time.
            let o = env.ingest(&mail("alice@customer.test", "Re: Refund", &format!("b{}@customer.test", i + 2), "In-Reply-To: <b1@customer.test>\r\n", "any news?"));
            assert_eq!(o["outcome"], "appended");
        }
        let out = env.outbox();
        let to = |who: &str| out.iter().filter(|r| r["recipients"] == who).count();
        assert_eq!(to("bob@example.test"), 1, "only the first notification ever went to bob: {out:?}");
        assert_eq!(to("carol@example.test"), 1, "the escalation contact is told once");
        let ev = events_text(&env.ticket("MR-1"));
        assert!(ev.contains("mail to bob@example.test bounced: nothing is sent to bob@example.test until"), "{ev}");
        assert!(ev.contains("no followup notification: mail to bob@example.test bounced"), "{ev}");
        assert!(ev.contains("was already held back: the escalation contact was told before"), "{ev}");
        let carol = env.flush_outbox().into_iter().find(|(_, m)| m.to[0].email == "carol@example.test").expect("escalation").1;
        assert!(carol.text.contains("Mail to bob@example.test about MR-1 bounced"), "{}", carol.text);
        // A day later bob gets mail again.
        env.sql("UPDATE mail_suppressions SET suppressed_until = created_at");
        env.ingest(&mail("alice@customer.test", "Re: Refund", "b9@customer.test", "In-Reply-To: <b1@customer.test>\r\n", "hello?"));
        assert_eq!(env.outbox().iter().filter(|r| r["recipients"] == "bob@example.test").count(), 2);
    }

    fn notifications_are_rate_limited_per_recipient(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\nnotification_limit_per_hour = 3"), "");
        for i in 0..5 {
            env.ingest(&mail(&format!("c{i}@customer.test"), "Help", &format!("n{i}@customer.test"), "", "x"));
        }
        let notes = env.outbox().iter().filter(|r| r["kind"] == "notification").count();
        assert_eq!(notes, 3);
        assert!(events_text(&env.ticket("MR-4")).contains("no new notification: 3 notifications to bob@example.test in the last hour (limit 3, RFC 3834)"), "{}", events_text(&env.ticket("MR-4")));
    }
}

both_backends! {
    fn bulk_mail_is_a_ticket_without_acknowledgement(b) {
        let env = Env::new(b);
        let o = env.ingest(&mail("news@vendor.test", "Our November newsletter", "nl1@vendor.test", "List-Id: <news.vendor.test>\r\nList-Unsubscribe: <mailto:u@vendor.test>\r\n", "News!"));
        assert_eq!(o["outcome"], "created", "{o}");
        let t = env.ticket("MR-1");
        assert_eq!(t["tags"], serde_json::json!(["bulk"]));
        assert!(events_text(&t).contains("no acknowledgement: bulk mail (mailing list mail (List-Id: <news.vendor.test>)), tagged bulk"), "{}", events_text(&t));
        assert!(env.outbox().iter().all(|r| r["kind"] != "ack"), "never acknowledged");
        // An out-of-office that answers nothing stays ticket-less.
        let o = env.ingest(&mail("away@customer.test", "Out of office", "ooo1@customer.test", "Auto-Submitted: auto-replied\r\n", "I am away"));
        assert_eq!(o["outcome"], "autoreply");
        assert!(o["ref"].is_null());
    }

    fn rules_can_drop_bulk_mail_and_it_stays_recoverable(b) {
        let env = Env::new(b);
        std::fs::write(env.path("rules.toml"), "[[rule]]\nname = \"newsletters\"\nwhen = { header = { name = \"List-Id\", contains = \".\" } }\nthen = { drop = true }\n\n[[rule]]\nname = \"rest\"\nwhen = {}\nthen = { priority = \"normal\" }\n").expect("rules");
        let text = std::fs::read_to_string(&env.config).expect("config");
        std::fs::write(&env.config, format!("{text}\n[rules]\nfile = \"{}\"\n", env.path("rules.toml").display())).expect("config");
        let o = env.ingest(&mail("news@vendor.test", "Newsletter", "nl2@vendor.test", "List-Id: <news.vendor.test>\r\n", "News!"));
        assert_eq!(o["outcome"], "ignored", "{o}");
        let o = env.ingest(&mail("away@customer.test", "Automatic reply: hello", "ooo2@customer.test", "Auto-Submitted: auto-replied\r\n", "I am away"));
        assert_eq!(o["outcome"], "autoreply");
        let list: serde_json::Value = serde_json::from_str(&env.run_ok(&["suspended", "list", "--json"])).expect("json");
        let rows = list.as_array().expect("array");
        assert_eq!(rows.len(), 2, "{list}");
        assert_eq!(rows[0]["kind"], "ignored");
        assert_eq!(rows[0]["from"], "news@vendor.test");
        assert!(rows[0]["reason"].as_str().unwrap_or("").contains("dropped by the rules"));
        assert_eq!(rows[1]["kind"], "autoreply");
        assert_eq!(rows[1]["subject"], "Automatic reply: hello");
        assert!(rows[1]["date"].is_string());
        // The out-of-office was a person after all: release it.
        let id = rows[1]["id"].as_i64().expect("id").to_string();
        let out = env.run_ok(&["suspended", "release", &id]);
        assert!(out.contains("released: created MR-1"), "{out}");
        let t = env.ticket("MR-1");
        assert_eq!(t["customer"], "away@customer.test");
        assert_eq!(kinds(&t)[0], "customer");
        assert!(events_text(&t).contains("released by an operator"), "{}", events_text(&t));
        assert!(env.outbox().iter().any(|r| r["kind"] == "ack"), "released as customer mail: acknowledged");
        let again = env.run(&["suspended", "release", &id]);
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("already on MR-1: releasing twice is refused"));
        let list: serde_json::Value = serde_json::from_str(&env.run_ok(&["suspended", "list", "--json"])).expect("json");
        assert_eq!(list.as_array().map(|a| a.len()), Some(1));
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), 2, "the stored copy joined the ticket: not stored twice");
    }

    fn quarantine_release_runs_the_pipeline_again(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\nmax_message_size = \"1KiB\""), "");
        let o = env.ingest(&mail("alice@customer.test", "Big", "q1@customer.test", "", &"x".repeat(3000)));
        assert_eq!(o["outcome"], "quarantined");
        let o = env.ingest("Subject: no sender\r\n\r\nbody\r\n");
        assert_eq!(o["outcome"], "quarantined");
        // The limit was too strict: raise it and release the big mail.
        let text = std::fs::read_to_string(&env.config).expect("config").replace("max_message_size = \"1KiB\"", "max_message_size = \"1MiB\"");
        std::fs::write(&env.config, text).expect("config");
        let out = env.run_ok(&["quarantine", "release", "1"]);
        assert!(out.contains("released: created MR-1"), "{out}");
        assert!(events_text(&env.ticket("MR-1")).contains("quarantined message 1 released by an operator: created MR-1"));
        let again = env.run(&["quarantine", "release", "1"]);
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("released already (created MR-1): releasing twice is refused"));
        // A mail that still cannot be taken in stays where it is.
        let bad = env.run(&["quarantine", "release", "2"]);
        assert!(!bad.status.success());
        assert!(String::from_utf8_lossy(&bad.stderr).contains("still cannot be taken in: no usable sender"), "{}", String::from_utf8_lossy(&bad.stderr));
        let q: serde_json::Value = serde_json::from_str(&env.run_ok(&["quarantine", "--json"])).expect("json");
        assert_eq!(q[0]["released_as"], "created MR-1");
        assert!(q[1]["released_at"].is_null());
    }
}

both_backends! {
    fn copies_through_relays_and_filters_are_duplicates(b) {
        let env = Env::new(b);
        let head = "From: Alice <alice@customer.test>\r\nTo: support@example.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <relay1@customer.test>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n";
        let qp = format!("{head}Content-Transfer-Encoding: quoted-printable\r\n\r\nSch=C3=B6ne Gr=C3=BC=C3=9Fe, der Export h=C3=A4ngt.\r\n");
        assert_eq!(env.ingest(&qp)["outcome"], "created");
        // The same mail after a mailing relay: signed, scanned, re-encoded as base64.
        let b64 = format!(
            "DKIM-Signature: v=1; a=rsa-sha256; d=relay.test; b=abc\r\nARC-Seal: i=1; cv=none\r\nARC-Message-Signature: i=1\r\nX-Forwarded-To: support@example.test\r\nX-Spam-Score: 0.1\r\nX-Rspamd-Server: r1\r\nX-Virus-Scanned: clean\r\nX-MS-Exchange-Organization-SCL: -1\r\nX-Google-Smtp-Source: AGHT\r\nReceived-SPF: pass\r\n{head}Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            "U2Now7ZuZSBHcsO8w59lLCBkZXIgRXhwb3J0IGjDpG5ndC4="
        );
        let o = env.ingest(&b64);
        assert_eq!(o["outcome"], "duplicate", "{o}");
        assert_eq!(o["ref"], "MR-1");
        // Only the filter headers differ: duplicate by content.
        let filtered = format!("X-Spam-Status: No\r\nARC-Authentication-Results: i=1\r\n{qp}");
        assert_eq!(env.ingest(&filtered)["outcome"], "duplicate");
        // The same Message-ID with other text is another mail, never lost.
        let other = qp.replace("der Export h=C3=A4ngt.", "noch eine Frage.");
        assert_eq!(env.ingest(&other)["outcome"], "created");
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"), 2);
    }
}

both_backends! {
    fn nul_characters_do_not_quarantine_a_mail(b) {
        let env = Env::new(b);
        let raw = "From: =?utf-8?q?Al=00ice?= <alice@customer.test>\r\nTo: support@example.test\r\nSubject: =?utf-8?q?Export=00_broken?=\r\nMessage-ID: <nul1@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nIt=00 fails.\r\n--B\r\nContent-Type: text/plain; name=\"=?utf-8?q?log=00.txt?=\"\r\nContent-Disposition: attachment; filename=\"=?utf-8?q?log=00.txt?=\"\r\n\r\nline\r\n--B--\r\n";
        let o = env.ingest(raw);
        assert_eq!(o["outcome"], "created", "{o}");
        let t = env.ticket("MR-1");
        assert_eq!(t["subject"], "Export broken");
        assert_eq!(t["customer_name"], "Alice");
        let m = &messages(&t)[0];
        assert!(m["text"].as_str().unwrap_or("").contains("It fails."), "{}", m["text"]);
        assert_eq!(m["attachments"][0]["filename"], "log.txt");
        env.flush_outbox();
    }
}

both_backends! {
    fn one_mail_cannot_flood_participants_or_references(b) {
        let env = Env::new(b);
        let cc: Vec<String> = (0..150).map(|i| format!("p{i}@customer.test")).collect();
        let refs: Vec<String> = (0..300).map(|i| format!("<r{i}@customer.test>")).collect();
        let o = env.ingest(&mail("alice@customer.test", "Everyone", "many1@customer.test",
            &format!("Cc: {}\r\nReferences: {}\r\n", cc.join(", "), refs.join(" ")), "hi all"));
        assert_eq!(o["outcome"], "created");
        assert_eq!(env.count("SELECT COUNT(*) FROM participants WHERE role = 'cc'"), 100);
        assert!(events_text(&env.ticket("MR-1")).contains("50 more addresses in To/Cc were not recorded (at most 100 per mail)"));
        // References are stored capped: the root and the newest, 64 in all.
        assert_eq!(env.count("SELECT CAST(LENGTH(refs) - LENGTH(REPLACE(refs, ' ', '')) + 1 AS BIGINT) FROM messages WHERE message_id = 'many1@customer.test'"), 64);
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE refs LIKE 'r0@customer.test r237@%'"), 1);
    }
}

both_backends! {
    fn a_panic_is_one_messages_problem(b) {
        let env = Env::new(b);
        // While parsing (ingest) and while deciding (the Maildir source).
        let files: Vec<std::path::PathBuf> = ["ok-1", "POISON-PARSE", "ok-2"].iter().map(|tag| {
            let p = env.path(&format!("{tag}.eml"));
            std::fs::write(&p, mail(&format!("{}@customer.test", tag.to_lowercase()), tag, &format!("{tag}@customer.test"), "", "x")).expect("write");
            p
        }).collect();
        let out = env.command().arg("ingest").arg("--json").args(&files).env("MAILROOM_FAULT", "parse:POISON-PARSE").output().expect("run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        let kinds: Vec<&str> = lines.iter().map(|o| o["outcome"].as_str().unwrap_or("")).collect();
        assert_eq!(kinds, ["created", "quarantined", "created"]);
        assert!(lines[1]["reason"].as_str().unwrap_or("").contains("internal error: panic: injected fault at parse"), "{}", lines[1]);

        for (i, tag) in ["a", "POISON-DECIDE", "b"].iter().enumerate() {
            env.deliver(&format!("{i}.{tag}"), &mail(&format!("m{i}@customer.test"), tag, &format!("d{i}@customer.test"), "", "x"));
        }
        let out = env.command().args(["poll", "--once"]).env("MAILROOM_FAULT", "decide:POISON-DECIDE").output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("created 2") && stdout.contains("quarantined 1"), "{stdout}");
        let q = env.run_ok(&["quarantine", "--json"]);
        assert!(q.contains("internal error: panic: injected fault at decide"), "{q}");
        assert_eq!(env.tickets().len(), 4);
        // Nothing is left behind in new/: the source went on.
        assert_eq!(std::fs::read_dir(env.path("inbox/new")).map(|d| d.count()).unwrap_or(0), 0);
    }
}

/// Writes a mail of about `mib` MiB (a header, then lines of text) to `path`.
fn write_big_mail(path: &std::path::Path, id: &str, mib: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create big mail"));
    write!(f, "From: big@customer.test\r\nTo: support@example.test\r\nSubject: huge log\r\nMessage-ID: <{id}>\r\n\r\n").expect("write");
    let line = format!("{}\r\n", "x".repeat(1022));
    for _ in 0..mib * 1024 {
        f.write_all(line.as_bytes()).expect("write");
    }
    f.flush().expect("flush");
}

both_backends! {
    fn big_mail_never_stalls_a_source(b) {
        let env = Env::new(b);
        std::fs::create_dir_all(env.path("inbox/new")).expect("maildir");
        write_big_mail(&env.path("inbox/new/2.huge"), "huge1@customer.test", 300);
        for i in [1, 3, 4] {
            env.deliver(&i.to_string(), &mail(&format!("c{i}@customer.test"), "small", &format!("s{i}@customer.test"), "", "hi"));
        }
        let (code, stderr, rss) = run_measured(&env, &["poll", "--once"], None);
        assert_eq!(code, 0, "{stderr}");
        eprintln!("poll --once with a 300 MiB file in the Maildir: peak RSS {rss:.0} MiB");
        assert!(rss < 100.0, "peak RSS {rss:.0} MiB");
        assert_eq!(env.tickets().len(), 3, "the other mails go on");
        assert!(env.path("inbox/.quarantine/cur/2.huge").exists(), "moved to .quarantine/ untouched");
        assert!(!env.path("inbox/new/2.huge").exists());
        let q = env.run_ok(&["quarantine", "--json"]);
        assert!(q.contains("message is 314572800 bytes") || q.contains("bytes, over the limit"), "{q}");
        assert!(q.contains(".quarantine/cur/2.huge"), "{q}");
        // The header is kept: the quarantine row knows who sent it.
        let raw_len = env.count("SELECT size FROM quarantine");
        assert!(raw_len > 50 && raw_len < 1000, "only the header is stored ({raw_len} bytes)");

        // Piped by an MTA: exit 65 with the size (the MTA bounces it), header quarantined.
        let big = env.path("big.eml");
        write_big_mail(&big, "huge2@customer.test", 300);
        let (code, stderr, rss) = run_measured(&env, &["ingest", "-"], Some(&big));
        eprintln!("ingest - of a 300 MiB mail: exit {code}, peak RSS {rss:.0} MiB");
        assert_eq!(code, 65, "{stderr}");
        assert!(stderr.contains("over the limit of 52428800 bytes (mailroom.max_message_size)"), "{stderr}");
        assert!(stderr.contains("message is 31457"), "the size is in the message: {stderr}");
        assert!(rss < 100.0, "peak RSS {rss:.0} MiB");
        assert_eq!(env.count("SELECT COUNT(*) FROM quarantine"), 2);
    }
}

/// A small tmpfs mounted at `dir` for the test's life (root only).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// None (with the reason printed) where mounting is impossible, unless the
    /// test must run (CI sets MAILROOM_REQUIRE_TMPFS): then it fails.
    fn mount(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_path_buf())),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var_os("MAILROOM_REQUIRE_TMPFS").is_some() {
                    panic!("cannot mount a tmpfs (MAILROOM_REQUIRE_TMPFS is set): {why}");
                }
                println!(
                    "SKIPPED: cannot mount a tmpfs here ({why}); the disk-full test needs root"
                );
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_temporary_and_loses_nothing() {
    let mut env = Env::new(Backend::Sqlite);
    let Some(fs) = Tmpfs::mount(&env.path("small"), "3m") else {
        return;
    };
    let db = format!("sqlite://{}", env.path("small/mailroom.db").display());
    let text = std::fs::read_to_string(&env.config)
        .expect("config")
        .replace(&env.db_url, &db);
    std::fs::write(&env.config, text).expect("config");
    env.db_url = db;
    env.run_ok(&["migrate"]);
    // Fill the disk, leaving a little room.
    let filler = env.path("small/filler");
    let free = {
        let out = std::process::Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(env.path("small"))
            .output()
            .expect("df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse::<u64>().ok())
            .expect("free bytes")
    };
    std::fs::write(&filler, vec![0u8; (free - 64 * 1024) as usize]).expect("filler");
    let data: String = (0..20_000)
        .map(|i| {
            format!(
                "line {i} of the log, not compressible {}\r\n",
                i * 7919 % 10007
            )
        })
        .collect();
    let raw = format!(
        "From: alice@customer.test\r\nTo: support@example.test\r\nSubject: log\r\nMessage-ID: <full1@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee log\r\n--B\r\nContent-Type: text/plain; name=\"app.log\"\r\nContent-Disposition: attachment; filename=\"app.log\"\r\n\r\n{data}\r\n--B--\r\n"
    );
    std::fs::write(env.path("full.eml"), &raw).expect("mail");
    let out = env.run(&["ingest", "full.eml"]);
    assert_eq!(
        out.status.code(),
        Some(75),
        "disk full is temporary: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing half-stored.
    std::fs::remove_file(&filler).expect("free the disk");
    assert_eq!(env.count("SELECT COUNT(*) FROM messages"), 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM quarantine"), 0);
    // Space is back: the same mail ingests normally, once.
    let o = env.ingest(&raw);
    assert_eq!(o["outcome"], "created", "{o}");
    assert_eq!(env.count("SELECT COUNT(*) FROM tickets"), 1);
    drop(fs);
}

#[test]
fn an_unreachable_database_is_temporary() {
    let env = Env::new(Backend::Postgres);
    let port = free_port();
    let text = std::fs::read_to_string(&env.config)
        .expect("config")
        .replace(
            &env.db_url,
            &format!("postgres://postgres@127.0.0.1:{port}/nowhere"),
        );
    std::fs::write(&env.config, text).expect("config");
    std::fs::write(
        env.path("m.eml"),
        mail("a@customer.test", "hi", "u1@customer.test", "", "x"),
    )
    .expect("mail");
    let out = env.run(&["ingest", "m.eml"]);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
