//! Nothing a customer writes can stop outgoing mail (issue 20, item 1): a
//! display name with an encoded CR/LF once made `outbox flush` panic inside
//! lettre on every run, and the innocent mail queued beside it never left.
//! Then arbitrary header values go through the whole flow (ingest -> outbox
//! flush): every outgoing mail ends sent or failed with a reason, and no
//! header gains a line. Both backends, through the real binary.

use base64::Engine;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};

use crate::both_backends;
use crate::support::*;

/// The headers a mail mailroom writes may have at its top level.
const OUR_HEADERS: &[&str] = &[
    "from",
    "subject",
    "date",
    "message-id",
    "x-mailroom-loop",
    "reply-to",
    "to",
    "cc",
    "in-reply-to",
    "references",
    "auto-submitted",
    "x-auto-response-suppress",
    "x-mailroom-ticket",
    "thread-topic",
    "thread-index",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// The names of the top-level header lines of `raw` (folded lines joined).
fn header_names(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    head.split("\r\n")
        .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
        .map(|l| l.split(':').next().unwrap_or_default().to_ascii_lowercase())
        .collect()
}

/// Every .eml the outbox wrote, raw.
fn outbox_files(env: &Env) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(env.path("outbox"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_else(|_| Vec::new());
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&p).expect("read outbox file"))
        })
        .collect()
}

/// Every outgoing mail is sent or failed with a reason, and carries only our headers.
fn assert_outbox_clean(env: &Env) -> usize {
    for row in env.outbox() {
        let status = row["status"].as_str().unwrap_or_default();
        assert!(
            status == "sent" || (status == "failed" && row["last_error"].is_string()),
            "{row}"
        );
    }
    let files = outbox_files(env);
    for (name, raw) in &files {
        for h in header_names(raw) {
            assert!(
                OUR_HEADERS.contains(&h.as_str()),
                "{name} gained a header line {h:?}:\n{}",
                String::from_utf8_lossy(raw)
            );
        }
        mailroom::mail::parse(raw).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
    }
    files.len()
}

/// RFC 2047: any text, CR/LF included, in an encoded word.
fn encoded_word(s: &str) -> String {
    format!(
        "=?utf-8?b?{}?=",
        base64::engine::general_purpose::STANDARD.encode(s)
    )
}

both_backends! {
    fn a_crlf_display_name_stops_nothing(b) {
        let env = Env::new(b);
        let eve = "From: =?utf-8?q?Eve=0D=0ABcc=3A_x=40evil=2Etest?= <eve@evil.test>\r\nTo: support@example.test\r\nSubject: =?utf-8?q?Invoice=0D=0ABcc=3A_y=40evil=2Etest?=\r\nMessage-ID: <eve1@evil.test>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n";
        let alice = mail("Alice <alice@customer.test>", "Printer", "alice1@customer.test", "", "It is broken.");
        std::fs::write(env.path("eve.eml"), eve).expect("write");
        std::fs::write(env.path("alice.eml"), alice).expect("write");
        let outcomes = env.ingest_files(&[&env.path("eve.eml"), &env.path("alice.eml")]);
        assert!(outcomes.iter().all(|o| o["outcome"] == "created"), "{outcomes:?}");
        // `run_ok` fails on a non-zero exit (a panic).
        let sent = env.flush_outbox();
        let acks: Vec<_> = sent.iter().filter(|(n, _)| n.ends_with("-ack.eml")).map(|(_, m)| m.to[0].email.clone()).collect();
        assert_eq!(acks, ["eve@evil.test", "alice@customer.test"], "both acknowledgements went out");
        assert_eq!(assert_outbox_clean(&env), 4, "two acks, two notifications");
        let eve_ack = &sent.iter().find(|(n, m)| n.ends_with("-ack.eml") && m.to[0].email == "eve@evil.test").expect("Eve's ack").1;
        assert_eq!(eve_ack.to[0].name.as_deref(), Some("Eve Bcc: x@evil.test"));
        assert!(eve_ack.cc.is_empty() && eve_ack.header("Bcc").is_none());
    }

    fn arbitrary_header_values_go_out_or_fail_with_a_reason(b) {
        let env = Env::new(b);
        let piece = prop_oneof![
            Just("\r\n".to_string()),
            Just("\nBcc: x@evil.test".to_string()),
            Just("\"<>@,;:\\".to_string()),
            Just("=?utf-8?q?=0D=0A?=".to_string()),
            Just("\u{0}\u{7}\t".to_string()),
            "\\PC{0,12}",
            any::<char>().prop_map(String::from),
        ];
        let value = proptest::collection::vec(piece, 0..10).prop_map(|v| v.concat());
        let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha));
        let cases = std::env::var("MAILROOM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(40usize);
        let mut files = Vec::new();
        for i in 0..cases {
            let mut next = || value.new_tree(&mut runner).expect("a value").current();
            let (name, subject, file, id) = (next(), next(), next(), next());
            let id_token: String = id.chars().filter(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>')).take(40).collect();
            let raw = format!(
                "From: {} <c{i}@customer.test>\r\nTo: support@example.test\r\nSubject: {}\r\nMessage-ID: <h{i}.{id_token}@customer.test>\r\nReferences: <{id_token}@x.test> <{}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCase {i}\r\n--B\r\nContent-Type: text/plain; name=\"{}\"\r\nContent-Disposition: attachment; filename=\"{}\"\r\n\r\nfile {i}\r\n--B--\r\n",
                encoded_word(&name), encoded_word(&subject), encoded_word(&id), encoded_word(&file), encoded_word(&file)
            );
            let p = env.path(&format!("h{i}.eml"));
            std::fs::write(&p, raw).expect("write");
            files.push(p);
        }
        let refs: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
        let outcomes = env.ingest_files(&refs);
        assert_eq!(outcomes.len(), cases);
        env.flush_outbox();
        let checked = assert_outbox_clean(&env);
        assert!(checked >= cases, "an ack or a notification per mail at least: {checked} of {cases}");
    }

    /// Should rendering one mail still fail or panic, that mail alone fails,
    /// with the reason, an event on its ticket, and — for an agent's answer —
    /// the agent told and the ticket open again; the rest go out.
    fn one_mail_that_cannot_be_rendered_stops_nothing_else(b) {
        let env = Env::new(b);
        // Relays cannot be rendered (a broken template), acks and notifications can.
        std::fs::create_dir_all(env.path("templates")).expect("templates dir");
        std::fs::write(env.path("templates/relay.txt"), "{{ text }}{{ no_such_function() }}").expect("a template that fails at render time");
        let text = std::fs::read_to_string(&env.config).expect("config");
        std::fs::write(&env.config, text.replace("[mailroom]\n", &format!("[mailroom]\ntemplates_dir = \"{}\"\n", env.path("templates").display()))).expect("config");
        env.ingest(&mail("Alice <alice@customer.test>", "Printer", "r1@customer.test", "", "Broken."));
        let notif = env.flush_outbox().into_iter().find(|(n, _)| n.ends_with("-notification.eml")).expect("notification").1;
        let answer = crate::relay::agent_reply("bob@example.test", &notif, "r2@example.test", &crate::relay::reply_body("Unplug it.", &notif, crate::relay::Style::Gmail), "");
        assert_eq!(env.ingest(&answer)["outcome"], "agent_reply");
        // A second customer writes meanwhile, with a subject that makes rendering panic.
        env.ingest(&mail("Zed <zed@customer.test>", "PANIC-RENDER please", "r3@customer.test", "", "Hi."));
        env.ingest(&mail("Yan <yan@customer.test>", "Innocent", "r4@customer.test", "", "Hi."));
        let out = env.command().args(["outbox", "flush"]).env("MAILROOM_FAULT", "render:PANIC-RENDER").output().expect("run");
        assert!(out.status.success(), "flush never fails for one mail: {}", String::from_utf8_lossy(&out.stderr));
        let rows = env.outbox();
        let status = |kind: &str, to: &str| rows.iter().find(|r| r["kind"] == kind && r["recipients"].as_str().unwrap_or("").contains(to)).map(|r| (r["status"].as_str().unwrap_or("").to_string(), r["last_error"].as_str().unwrap_or("").to_string())).unwrap_or_else(|| panic!("a {kind} to {to}"));
        let (s, e) = status("relay", "alice@customer.test");
        assert_eq!(s, "failed");
        assert!(e.contains("cannot render"), "{e}");
        let (s, e) = status("ack", "zed@customer.test");
        assert_eq!(s, "failed");
        assert!(e.contains("internal error: panic: injected fault at render"), "{e}");
        assert_eq!(status("ack", "yan@customer.test").0, "sent", "batch-mates go out");
        assert_eq!(status("notification", "bob@example.test").0, "sent");
        let t = env.ticket("MR-1");
        let ev = events_text(&t);
        // The relay's failure is reported once, by the pipeline (not also by the worker).
        let reports: Vec<&str> = ev.lines().filter(|l| l.contains("cannot render")).collect();
        assert_eq!(reports.len(), 1, "exactly one report of the failed relay: {ev}");
        assert!(reports[0].starts_with("relay: answer <") && reports[0].contains("> by bob@example.test reached nobody: alice@customer.test: cannot render: "), "{ev}");
        assert_eq!(t["status"], "open", "an answer nobody got leaves the ticket open");
        assert!(t["first_response_at"].is_null());
        assert!(events_text(&env.ticket("MR-2")).contains("outbox: the ack to zed@customer.test will not be sent: cannot render: internal error: panic: injected fault at render"), "{}", events_text(&env.ticket("MR-2")));
        // The agent is told.
        let told = env.flush_outbox().into_iter().filter(|(n, m)| n.ends_with("-system.eml") && m.to[0].email == "bob@example.test").count();
        assert_eq!(told, 1, "one explanation to Bob");
    }

    /// The last line: a panic while sending one mail fails that mail alone.
    fn a_panic_while_sending_one_mail_fails_it_alone(b) {
        let env = Env::new(b);
        env.ingest(&mail("Zed <zed@customer.test>", "PANIC-SEND please", "s1@customer.test", "", "Hi."));
        env.ingest(&mail("Yan <yan@customer.test>", "Innocent", "s2@customer.test", "", "Hi."));
        let out = env.command().args(["outbox", "flush"]).env("MAILROOM_FAULT", "send:PANIC-SEND").output().expect("run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rows = env.outbox();
        let failed: Vec<_> = rows.iter().filter(|r| r["status"] == "failed").collect();
        assert_eq!(failed.len(), 2, "Zed's ack and notification: {rows:?}");
        assert!(failed.iter().all(|r| r["last_error"].as_str().unwrap_or("").contains("internal error: panic: injected fault at send")));
        assert_eq!(rows.iter().filter(|r| r["status"] == "sent").count(), 2, "Yan's mail goes out");
        assert!(events_text(&env.ticket("MR-1")).contains("outbox: the ack to zed@customer.test will not be sent: internal error"));
    }
}
