//! Owner assignment per area: round robin persisted across runs, least loaded,
//! continuity, away agents, escalation when nobody is available.

use crate::both_backends;
use crate::support::*;

const TEAM: &str = r#"
[mailroom]
support_address = "support@example.test"
default_area = "billing"

[[agent]]
email = "a@example.test"
areas = ["billing"]

[[agent]]
email = "b@example.test"
areas = ["billing"]

[[agent]]
email = "c@example.test"
areas = ["billing"]
away = true
"#;

fn owner_of(env: &Env, r: &str) -> String {
    env.ticket(r)["owner"].as_str().unwrap_or("-").to_string()
}

both_backends! {
    fn round_robin_is_persisted_and_skips_away_agents(b) {
        let env = Env::with_config(b, TEAM, "[[area]]\nname = \"billing\"\nstrategy = \"round_robin\"\n");
        // One process per mail: the cursor must survive restarts.
        for i in 0..4 {
            env.ingest(&mail(&format!("c{i}@customer.test"), &format!("q{i}"), &format!("rr{i}@customer.test"), "", "x"));
        }
        let owners: Vec<String> = (1..=4).map(|i| owner_of(&env, &format!("MR-{i}"))).collect();
        assert_eq!(owners, vec!["a@example.test", "b@example.test", "a@example.test", "b@example.test"]);
        let ev = events_text(&env.ticket("MR-1"));
        assert!(ev.contains("assignment: billing: round_robin -> a@example.test; skipped c@example.test (away)"), "{ev}");
    }

    fn continuity_keeps_the_customers_owner(b) {
        let env = Env::with_config(b, TEAM, "[[area]]\nname = \"billing\"\nstrategy = \"round_robin\"\n");
        env.ingest(&mail("alice@customer.test", "first", "k1@customer.test", "", "x"));
        env.ingest(&mail("bob@customer.test", "other", "k2@customer.test", "", "x"));
        // Alice writes a new, unrelated mail while her first ticket is open.
        env.ingest(&mail("alice@customer.test", "second", "k3@customer.test", "", "x"));
        assert_eq!(owner_of(&env, "MR-1"), "a@example.test");
        assert_eq!(owner_of(&env, "MR-3"), "a@example.test");
        assert!(events_text(&env.ticket("MR-3")).contains("continuity"));
    }

    fn least_loaded_respects_max_open(b) {
        let team = TEAM.replace("email = \"a@example.test\"\n", "email = \"a@example.test\"\nmax_open = 1\n");
        let env = Env::with_config(b, &team, "[[area]]\nname = \"billing\"\nstrategy = \"least_loaded\"\n");
        for i in 0..3 {
            env.ingest(&mail(&format!("l{i}@customer.test"), &format!("q{i}"), &format!("ll{i}@customer.test"), "", "x"));
        }
        let owners: Vec<String> = (1..=3).map(|i| owner_of(&env, &format!("MR-{i}"))).collect();
        // a takes one (then is at max_open), b takes the rest.
        assert_eq!(owners, vec!["a@example.test", "b@example.test", "b@example.test"]);
    }

    fn nobody_available_notifies_the_escalation_contact(b) {
        let team = TEAM.replace("areas = [\"billing\"]\n\n", "areas = [\"billing\"]\naway = true\n\n");
        let env = Env::with_config(b, &team, "[[area]]\nname = \"billing\"\nescalation = \"lead@example.test\"\n");
        env.ingest(&mail("x@customer.test", "help", "e1@customer.test", "", "x"));
        let t = env.ticket("MR-1");
        assert!(t["owner"].is_null());
        let ev = events_text(&t);
        assert!(ev.contains("nobody available"), "{ev}");
        assert!(ev.contains("notification queued to escalation contact lead@example.test"), "{ev}");
        let sent = env.flush_outbox();
        let note = sent.iter().find(|(n, _)| n.ends_with("-notification.eml")).expect("escalation mail");
        assert_eq!(note.1.to[0].email, "lead@example.test");
        assert!(note.1.text.contains("unassigned"), "{}", note.1.text);
    }
}

both_backends! {
    fn round_robin_is_fair_across_concurrent_instances(b) {
        let env = Env::with_config(b, TEAM, "[[area]]\nname = \"billing\"\nstrategy = \"round_robin\"\n");
        // Two processes at once, each with its own 30 mails (like two instances).
        let write = |prefix: &str| -> Vec<String> {
            (0..30)
                .map(|i| {
                    let p = env.path(&format!("{prefix}{i}.eml"));
                    std::fs::write(&p, mail(&format!("{prefix}{i}@customer.test"), "q", &format!("{prefix}{i}@customer.test"), "", "x")).expect("write");
                    p.display().to_string()
                })
                .collect()
        };
        let (a, c) = (write("pa"), write("pc"));
        let spawn = |files: &[String]| env.command().arg("ingest").args(files).stdout(std::process::Stdio::null()).spawn().expect("spawn");
        let (mut p1, mut p2) = (spawn(&a), spawn(&c));
        assert!(p1.wait().expect("wait").success() && p2.wait().expect("wait").success());
        let a_count = env.count("SELECT COUNT(*) FROM tickets WHERE owner = 'a@example.test'");
        let b_count = env.count("SELECT COUNT(*) FROM tickets WHERE owner = 'b@example.test'");
        assert_eq!(a_count + b_count, 60);
        // Batches are serialized and read the stored cursor: strict alternation overall.
        assert_eq!((a_count, b_count), (30, 30));
    }
}
