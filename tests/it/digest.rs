//! Managers' digests and `stats` (issue "timely, visibly", items 3-5), with a
//! fixed clock (MAILROOM_NOW, debug builds): exact numbers on fixture tickets,
//! one digest per manager and period across restarts and instances, a missed
//! schedule caught up once, empty periods.

use crate::both_backends;
use crate::relay::{Style, agent_reply, find, reply_body, sent_since};
use crate::support::*;

const TEAM: &str = r#"
[[area]]
name = "billing"
escalation = "carol@example.test"
calendar = "berlin"

[[area]]
name = "tech"

[[calendar]]
name = "berlin"
time_zone = "Europe/Berlin"
hours = "09:00-17:00"

[sla.normal]
first_response = "1h"
resolution = "8h"

[[manager]]
email = "carol@example.test"
areas = ["billing"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"

[[manager]]
email = "dave@example.test"
areas = ["tech"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
skip_empty = true

[[manager]]
email = "frank@example.test"
areas = ["tech"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
"#;

/// Monday 30 Nov 2026 (Berlin): MR-1 answered after 30 minutes, MR-2 never
/// (its first response breached at 12:00 Berlin), MR-3 answered and closed
/// after 2 hours.
fn monday(env: &Env) {
    let customer = |who: &str, id: &str| {
        mail(
            who,
            &format!("Question {id}"),
            &format!("{id}@customer.test"),
            "",
            "help",
        )
    };
    ingest_at(env, "2026-11-30T09:00:00Z", &customer("alice@a.test", "q1"));
    ingest_at(env, "2026-11-30T10:00:00Z", &customer("dan@b.test", "q2"));
    ingest_at(env, "2026-11-30T11:00:00Z", &customer("eve@a.test", "q3"));
    let sent = sent_since(env, 0);
    let notif = |r: &str| {
        find(&sent, "notification")
            .into_iter()
            .find(|n| n.subject.starts_with(&format!("[{r}]")))
            .expect("notification")
            .clone()
    };
    let n1 = notif("MR-1");
    let a1 = agent_reply(
        "bob@example.test",
        &n1,
        "a1@example.test",
        &reply_body("On it.", &n1, Style::Gmail),
        "",
    );
    assert_eq!(
        ingest_at(env, "2026-11-30T09:30:00Z", &a1)["outcome"],
        "agent_reply"
    );
    // The first response counts when the answer is delivered.
    at(env, "2026-11-30T09:30:00Z", &["outbox", "flush"]);
    assert!(
        at(env, "2026-11-30T11:05:00Z", &["schedule", "--once"]).contains("sla: 1 "),
        "MR-2's breach"
    );
    let n3 = notif("MR-3");
    let a3 = agent_reply(
        "bob@example.test",
        &n3,
        "a3@example.test",
        &reply_body("#close\r\nDone.", &n3, Style::Gmail),
        "",
    );
    assert_eq!(
        ingest_at(env, "2026-11-30T13:00:00Z", &a3)["outcome"],
        "agent_reply"
    );
    at(env, "2026-11-30T13:00:00Z", &["outbox", "flush"]);
}

both_backends! {
    fn the_daily_digest_has_exact_numbers_and_comes_once(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), TEAM);
        monday(&env);
        let before = env.flush_outbox().len();
        // mailroom was down at 08:00 on Tuesday; it comes back at 10:00 and catches up once.
        let out = at(&env, "2026-12-01T09:00:00Z", &["schedule", "--once"]);
        assert!(out.contains("digests: 2 queued"), "carol's and frank's (dave skips an empty period): {out}");
        assert!(at(&env, "2026-12-01T09:01:00Z", &["schedule", "--once"]).contains("digests: 0 queued"));
        // (Monday's scan at 11:05 already caught up Sunday's digests, empty.)
        assert_eq!(env.count("SELECT COUNT(*) FROM digests_sent"), 6, "dave's empty periods are recorded too");
        // Queued at (fake) Tuesday: sent at that time.
        at(&env, "2026-12-01T09:01:30Z", &["outbox", "flush"]);
        let sent: Vec<_> = env.flush_outbox().into_iter().skip(before).collect();
        let digests: Vec<_> = sent.iter().filter(|(n, _)| n.ends_with("-digest.eml")).map(|(_, m)| m).collect();
        assert_eq!(digests.len(), 2);
        let carol = digests.iter().find(|m| m.to[0].email == "carol@example.test").expect("carol's digest");
        assert_eq!(carol.subject, "[Example Support] Daily digest: Mon 30 Nov 2026");
        assert_eq!(carol.auto.auto_submitted.as_deref(), Some("auto-generated"));
        let t = &carol.text;
        for line in [
            "New                        3   (+3 against the period before: 0)",
            "Resolved                   1",
            "Reopened                   0",
            "Backlog at the end         2",
            "SLA breaches               1",
            "First response   median 30 m, p90 2 h 0 m (2 tickets)",
            "Resolution       median 2 h 0 m, p90 2 h 0 m (1 ticket)",
            "MR-2  first response due Mon 30 Nov 12:00",
            "MR-2  since Mon 30 Nov 11:00 (13 h 0 m)",
            "bob@example.test                         2         2",
            "a.test                                   2",
            "b.test                                   1",
        ] {
            assert!(t.contains(line), "missing {line:?} in:\n{t}");
        }
        let h = carol.html_source.as_deref().expect("HTML part");
        assert!(h.contains("width:240px") && h.contains("bgcolor="), "table-based bars: {h}");
        assert!(!h.contains("<img") && !h.contains("<script"), "{h}");
        let frank = digests.iter().find(|m| m.to[0].email == "frank@example.test").expect("frank's digest");
        assert!(frank.text.contains("Nothing happened in this period."), "{}", frank.text);
        // A second instance (or a restart) at the same moment queues nothing more.
        let spawn = || env.command().args(["schedule", "--once"]).env("MAILROOM_NOW", "2026-12-01T09:02:00Z")
            .stdout(std::process::Stdio::null()).spawn().expect("spawn");
        let (mut x, mut y) = (spawn(), spawn());
        assert!(x.wait().expect("wait").success() && y.wait().expect("wait").success());
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'"), 4, "Sunday's and Monday's of carol and frank");

        // Preview and stats show the same numbers, send queues one on request.
        let preview = at(&env, "2026-12-01T09:00:00Z", &["digest", "preview", "--manager", "carol@example.test", "--text", "--at", "2026-12-01"]);
        assert_eq!(preview.trim(), carol.text.replace("\r\n", "\n").trim());
        let stats: serde_json::Value = serde_json::from_str(&at(&env, "2026-12-01T00:00:00Z", &["stats", "--since", "1d", "--area", "billing", "--json"])).expect("json");
        assert_eq!((stats["new"].as_u64(), stats["resolved"].as_u64(), stats["backlog_at_end"].as_u64()), (Some(3), Some(1), Some(2)));
        assert_eq!(stats["first_response"]["median"], 1800);
        // Tuesday: nothing happened; Monday's open tickets are a quiet backlog,
        // which the store counts instead of loading: the same numbers show.
        let tuesday = at(&env, "2026-12-02T09:00:00Z", &["digest", "preview", "--manager", "carol@example.test", "--text", "--at", "2026-12-02"]);
        for line in ["Backlog at the end         2", "bob@example.test                         2         0", "MR-2"] {
            assert!(tuesday.contains(line), "missing {line:?} in:\n{tuesday}");
        }
        assert!(!tuesday.contains("a.test"), "no new tickets on Tuesday: {tuesday}");
        at(&env, "2026-12-01T09:10:00Z", &["digest", "send", "--manager", "carol@example.test"]);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'"), 5);
    }
}
