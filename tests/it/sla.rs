//! SLA clocks, reminders and escalations (issue "timely, visibly"), with a
//! fixed clock: debug builds take `now` from MAILROOM_NOW, so nothing sleeps.

use serde_json::Value;

use crate::both_backends;
use crate::relay::{Style, agent_reply, find, reply_body, sent_since};
use crate::support::*;

/// A billing team in Berlin's business hours with an SLA per priority.
const SLA: &str = r#"
[[area]]
name = "billing"
escalation = "carol@example.test"
calendar = "berlin"

[[calendar]]
name = "berlin"
time_zone = "Europe/Berlin"
weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri"]
hours = "09:00-17:00"
holidays = ["2026-12-24", "2026-12-25"]

[sla.normal]
first_response = "1h"
next_response = "4h"
resolution = "8h"

[sla.urgent]
first_response = "30m"
resolution = "4h"
"#;

fn env(b: Backend) -> Env {
    Env::with_config(
        b,
        &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""),
        SLA,
    )
}

fn show_at(env: &Env, now: &str) -> Value {
    serde_json::from_str(&at(env, now, &["tickets", "show", "MR-1", "--json"])).expect("json")
}

fn schedule(env: &Env, now: &str) -> usize {
    let out = at(env, now, &["schedule", "--once"]);
    out.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("alert count")
}

both_backends! {
    fn clocks_pause_while_pending_and_alerts_fire_once(b) {
        let env = env(b);
        // Monday 2026-11-30 10:00 Berlin (09:00 UTC).
        let o = ingest_at(&env, "2026-11-30T09:00:00Z", &mail("alice@customer.test", "Refund", "s1@customer.test", "", "please"));
        assert_eq!(o["outcome"], "created");
        let t = show_at(&env, "2026-11-30T09:00:00Z");
        assert_eq!(t["first_response_due"], "2026-11-30T10:00:00Z");
        // 8 business hours: Monday 10:00-17:00 (7 h) and Tuesday 09:00-10:00 Berlin.
        assert_eq!(t["resolution_due"], "2026-12-01T09:00:00Z");
        assert_eq!(t["breached"], serde_json::json!([]));
        let sent = sent_since(&env, 0);
        let n = find(&sent, "notification");
        assert!(n[0].text.contains("SLA due:   2026-11-30 10:00 UTC (first response)"), "{}", n[0].text);

        // Nothing at 09:30; the reminder at 80 % (09:48 UTC), once; the breach at 10:00, once.
        assert_eq!(schedule(&env, "2026-11-30T09:30:00Z"), 0);
        assert_eq!(schedule(&env, "2026-11-30T09:50:00Z"), 1);
        assert_eq!(schedule(&env, "2026-11-30T09:55:00Z"), 0);
        assert_eq!(schedule(&env, "2026-11-30T10:05:00Z"), 1);
        assert_eq!(schedule(&env, "2026-11-30T10:06:00Z"), 0);
        let t = show_at(&env, "2026-11-30T10:06:00Z");
        assert_eq!(t["breached"], serde_json::json!(["first_response"]));
        let ev = events_text(&t);
        assert!(ev.contains("sla: reminder: 80% of the first response due 2026-11-30 10:00 UTC used"), "{ev}");
        assert!(ev.contains("sla: breached: first response due 2026-11-30 10:00 UTC"), "{ev}");
        let out = env.outbox();
        let to = |who: &str| out.iter().filter(|r| r["recipients"] == who && r["kind"] == "notification").count();
        assert_eq!(to("bob@example.test"), 3, "new ticket, reminder, breach");
        assert_eq!(to("carol@example.test"), 1, "the escalation contact hears of the breach");
        let sent = sent_since(&env, 0);
        assert!(sent.iter().any(|(_, m)| m.to[0].email == "carol@example.test" && m.text.contains("SLA breached on MR-1: first response due 2026-11-30 10:00 UTC has passed")));

        // Bob answers at 10:10 UTC: pending, the resolution clock pauses.
        let notif = find(&sent, "notification")[0].clone();
        let reply = agent_reply("bob@example.test", &notif, "s2@example.test", &reply_body("Refunded.", &notif, Style::Gmail), "");
        assert_eq!(ingest_at(&env, "2026-11-30T10:10:00Z", &reply)["outcome"], "agent_reply");
        let t = show_at(&env, "2026-11-30T10:10:00Z");
        assert_eq!(t["status"], "pending");
        assert!(t["first_response_at"].is_null(), "no response until the answer is delivered");
        at(&env, "2026-11-30T10:10:00Z", &["outbox", "flush"]);
        let t = show_at(&env, "2026-11-30T10:10:00Z");
        assert_eq!(t["first_response_at"], "2026-11-30T10:10:00Z");
        assert!(t["first_response_due"].is_null() && t["resolution_due"].is_null());
        assert_eq!(t["sla_paused"], true);

        // Alice writes again Tuesday 09:00 Berlin: open again; pending time
        // (Monday 11:10-17:00 Berlin = 5 h 50 m) moves the resolution target.
        let o = ingest_at(&env, "2026-12-01T08:00:00Z", &mail("alice@customer.test", "Re: Refund", "s3@customer.test", "In-Reply-To: <s1@customer.test>\r\n", "not yet"));
        assert_eq!(o["outcome"], "appended");
        let t = show_at(&env, "2026-12-01T08:00:00Z");
        assert_eq!(t["status"], "open");
        assert_eq!(t["next_response_due"], "2026-12-01T12:00:00Z");
        assert_eq!(t["resolution_due"], "2026-12-01T14:50:00Z");
    }

    fn weekends_and_holidays_do_not_count(b) {
        let env = env(b);
        // Wednesday 2026-12-23 16:30 Berlin: 24 and 25 are holidays, then a weekend.
        ingest_at(&env, "2026-12-23T15:30:00Z", &mail("a@customer.test", "Before the holidays", "h1@customer.test", "", "x"));
        let t = show_at(&env, "2026-12-23T15:30:00Z");
        assert_eq!(t["first_response_due"], "2026-12-28T08:30:00Z", "Monday 09:30 Berlin");
        // Nothing is mailed over the holidays: the reminder waits for Monday.
        assert_eq!(schedule(&env, "2026-12-26T10:00:00Z"), 0);
        assert_eq!(schedule(&env, "2026-12-28T08:25:00Z"), 1, "the reminder at 80 % (09:18 Berlin)");
    }

    fn due_times_follow_priority_changes(b) {
        let env = env(b);
        ingest_at(&env, "2026-11-30T09:00:00Z", &mail("alice@customer.test", "Down", "p1@customer.test", "", "help"));
        let notif = find(&sent_since(&env, 0), "notification")[0].clone();
        // Bob raises the priority (commands only: nothing relayed).
        let cmd = agent_reply("bob@example.test", &notif, "p2@example.test", &reply_body("#priority urgent", &notif, Style::Gmail), "");
        assert_eq!(ingest_at(&env, "2026-11-30T09:05:00Z", &cmd)["outcome"], "agent_reply");
        let t = show_at(&env, "2026-11-30T09:05:00Z");
        assert_eq!(t["priority"], "urgent");
        assert_eq!(t["first_response_due"], "2026-11-30T09:30:00Z", "the urgent policy: 30 minutes");
        assert!(t["next_response_due"].is_null());
    }

    fn two_schedulers_alert_once(b) {
        let env = env(b);
        for i in 0..20 {
            ingest_at(&env, "2026-11-30T09:00:00Z", &mail(&format!("c{i}@customer.test"), "Help", &format!("t{i}@customer.test"), "", "x"));
        }
        // Two instances (or a restart) scan at the same moment, twice.
        let spawn = || env.command().args(["schedule", "--once"]).env("MAILROOM_NOW", "2026-11-30T10:05:00Z")
            .stdout(std::process::Stdio::null()).spawn().expect("spawn");
        let (mut a, mut b2) = (spawn(), spawn());
        assert!(a.wait().expect("wait").success() && b2.wait().expect("wait").success());
        assert_eq!(schedule(&env, "2026-11-30T10:06:00Z"), 0);
        // One breach per ticket (the reminder was never due: 80 % passed unscanned).
        assert_eq!(env.count("SELECT COUNT(*) FROM sla_alerts WHERE level = 'breach'"), 20);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE recipients = 'carol@example.test'"), 20);
    }
}
