//! The rules file through the CLI: routing at ingest (both databases), `rules
//! check` and `rules explain`, and refusing to run on invalid rules.

use crate::both_backends;
use crate::support::*;

const RULES: &str = r#"
[[customer]]
domain = "bigco.test"
name = "BigCo"
tier = "enterprise"

[[rule]]
name = "enterprise first"
when = { customer_tier = { equals = "enterprise" } }
then = { priority = "urgent", tags = ["vip"], sla = "enterprise" }
continue = true

[[rule]]
name = "newsletters"
when = { subject = { contains = "newsletter" } }
then = { drop = true }

[[rule]]
name = "vendors"
when = { from_domain = { equals = "vendor.test" } }
then = { area = "billing", suppress_ack = true }

[[rule]]
name = "billing"
when = { any = [ { subject = { contains_any = ["invoice", "refund"] } },
                 { body = { matches = '\bcharged? twice\b' } } ] }
then = { area = "billing", priority = "high" }

[[rule]]
name = "everything else"
when = {}
then = { area = "tech" }
"#;

const TEAM: &str = r#"
[mailroom]
support_address = "support@example.test"

[[agent]]
email = "bill@example.test"
areas = ["billing"]

[[agent]]
email = "tess@example.test"
areas = ["tech"]

[[area]]
name = "billing"

[[area]]
name = "tech"
"#;

fn env_with_rules(b: Backend, rules: &str) -> Env {
    let env = Env::with_config(b, TEAM, "");
    std::fs::write(env.path("rules.toml"), rules).expect("write rules");
    let text = std::fs::read_to_string(&env.config).expect("config");
    std::fs::write(
        &env.config,
        format!(
            "{text}\n[rules]\nfile = \"{}\"\n",
            env.path("rules.toml").display()
        ),
    )
    .expect("config");
    env
}

both_backends! {
    fn rules_route_new_tickets(b) {
        let env = env_with_rules(b, RULES);
        let o = env.ingest(&mail("ann@bigco.test", "I was charged twice", "r1@bigco.test", "", "my card was charged twice"));
        assert_eq!(o["outcome"], "created");
        let t = env.ticket("MR-1");
        assert_eq!(t["area"], "billing");
        assert_eq!(t["priority"], "urgent", "the first rule to set a value keeps it");
        assert_eq!(t["tags"], serde_json::json!(["vip"]));
        assert_eq!(t["owner"], "bill@example.test");
        let ev = events_text(&t);
        assert!(ev.contains("routing: rules: matched \"enterprise first\", \"billing\""), "{ev}");
        // The stored trace says why each matched rule matched.
        assert!(ev.contains("customer_tier equals"), "{ev}");
        assert!(ev.contains("body matches"), "{ev}");
        assert_eq!(t["sla_policy"], "enterprise");

        let o = env.ingest(&mail("joe@small.test", "printer", "r2@small.test", "", "broken"));
        assert_eq!(o["outcome"], "created");
        let t = env.ticket("MR-2");
        assert_eq!((t["area"].as_str(), t["owner"].as_str()), (Some("tech"), Some("tess@example.test")));

        // suppress_ack: a ticket, no acknowledgement.
        env.ingest(&mail("billing@vendor.test", "statement", "r3@vendor.test", "", "x"));
        let t = env.ticket("MR-3");
        assert!(kinds(&t).iter().all(|k| k != "ack"), "{:?}", kinds(&t));
        assert!(events_text(&t).contains("no acknowledgement: a rule suppressed it"));

        // drop: stored, no ticket, never acknowledged.
        let o = env.ingest(&mail("news@letters.test", "Our November newsletter", "r4@letters.test", "", "x"));
        assert_eq!(o["outcome"], "ignored");
        assert!(o["reason"].as_str().unwrap_or("").contains("dropped by the rules"), "{o}");
        assert_eq!(env.tickets().len(), 3);
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE message_id = 'r4@letters.test'"), 1);
    }
}

#[test]
fn rules_check_and_explain() {
    let env = env_with_rules(Backend::Sqlite, RULES);
    let out = env.run_ok(&["rules", "check"]);
    assert!(out.contains("ok, 5 rule(s), 1 customer(s)"), "{out}");
    let missing = env.run(&["rules", "check", "--rules", "nope.toml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.toml: cannot read rules file"));

    let f = env.path("m.eml");
    std::fs::write(
        &f,
        mail(
            "ann@bigco.test",
            "refund please",
            "x1@bigco.test",
            "",
            "hello",
        ),
    )
    .expect("write");
    let v: serde_json::Value = serde_json::from_str(&env.run_ok(&[
        "rules",
        "explain",
        f.to_str().expect("path"),
        "--json",
    ]))
    .expect("json");
    assert_eq!(v["area"], "billing");
    assert_eq!(v["priority"], "urgent");
    assert_eq!(
        v["matched"],
        serde_json::json!(["enterprise first", "billing"])
    );
    assert!(v["trace"].as_array().is_some_and(|t| !t.is_empty()));
    let text = env.run_ok(&["rules", "explain", f.to_str().expect("path")]);
    assert!(
        text.contains("MATCH rule \"billing\"") && text.contains("subject contains_any"),
        "{text}"
    );

    // Every error at once, with file:line and key.
    let bad = "[[rule]]\nname = \"a\"\nwhen = { subject = { matches = \"(\" } }\nthen = { area = \"nowhere\" }\n\n[[rule]]\nname = \"all\"\nwhen = {}\nthen = { area = \"tech\" }\n\n[[rule]]\nname = \"late\"\nwhen = { subject = { contains = \"x\" } }\nthen = { area = \"tech\" }\n";
    std::fs::write(env.path("rules.toml"), bad).expect("write");
    let out = env.run(&["rules", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rules.toml:3:") && err.contains("matches"),
        "{err}"
    );
    assert!(
        err.contains("rules.toml:4:") && err.contains("nowhere"),
        "{err}"
    );
    assert!(err.contains("\"late\": unreachable"), "{err}");
    // Ingest and serve refuse to run on invalid rules.
    let out = env.run(&["ingest", f.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rules.toml:3:"));
}

both_backends! {
    fn backtest_lists_changed_routing_and_changes_nothing(b) {
        let env = env_with_rules(b, RULES);
        env.ingest(&mail("ann@bigco.test", "refund", "bt1@bigco.test", "", "x"));
        env.ingest(&mail("joe@small.test", "printer", "bt2@small.test", "", "x"));
        env.ingest(&mail("kim@small.test", "invoice copy", "bt3@small.test", "", "x"));
        // Candidate: invoices go to tech now; everything else unchanged.
        let candidate = RULES.replace(
            "then = { area = \"billing\", priority = \"high\" }",
            "then = { area = \"tech\", priority = \"high\" }",
        );
        std::fs::write(env.path("candidate.toml"), candidate).expect("write");
        let cand = env.path("candidate.toml");
        let before = env.tickets();
        let v: serde_json::Value = serde_json::from_str(&env.run_ok(&["rules", "backtest", "--rules", cand.to_str().expect("path"), "--since", "1h", "--json"])).expect("json");
        assert_eq!(v["replayed"], 3);
        assert_eq!(v["changed"], 2, "{v}");
        let refs: Vec<&str> = v["tickets"].as_array().expect("tickets").iter().filter_map(|t| t["ref"].as_str()).collect();
        assert_eq!(refs, vec!["MR-1", "MR-3"]);
        assert_eq!(v["tickets"][0]["current"]["area"], "billing");
        assert_eq!(v["tickets"][0]["candidate"]["area"], "tech");
        let text = env.run_ok(&["rules", "backtest", "--rules", cand.to_str().expect("path")]);
        assert!(text.contains("billing -> tech") && text.contains("2 of 3 ticket(s)"), "{text}");
        assert_eq!(env.tickets(), before, "a backtest changes no ticket");
    }
}

#[test]
fn serve_reloads_rules_on_change_and_sighup_and_keeps_good_rules() {
    use std::time::{Duration, Instant};
    let env = env_with_rules(Backend::Sqlite, RULES);
    let log = std::fs::File::create(env.path("serve.log")).expect("log");
    let mut child = env
        .command()
        .arg("serve")
        .env("MAILROOM_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve");
    let wait_tickets = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if env.tickets().len() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no ticket {n}");
    };
    let log_has = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::fs::read_to_string(env.path("serve.log"))
                .unwrap_or_default()
                .contains(needle)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "log never said {needle:?}: {}",
            std::fs::read_to_string(env.path("serve.log")).unwrap_or_default()
        );
    };

    env.deliver(
        "1.eml",
        &mail("a@small.test", "invoice 1", "rl1@small.test", "", "x"),
    );
    wait_tickets(1);
    assert_eq!(env.ticket("MR-1")["area"], "billing");

    // Edit the file: invoices go to tech from now on.
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write(
        env.path("rules.toml"),
        RULES.replace(
            "then = { area = \"billing\", priority = \"high\" }",
            "then = { area = \"tech\", priority = \"high\" }",
        ),
    )
    .expect("write");
    log_has("rules reloaded");
    env.deliver(
        "2.eml",
        &mail("b@small.test", "invoice 2", "rl2@small.test", "", "x"),
    );
    wait_tickets(2);
    assert_eq!(env.ticket("MR-2")["area"], "tech");

    // A broken edit is refused; the last good rules keep routing.
    std::fs::write(
        env.path("rules.toml"),
        "[[rule]]\nname = \"x\"\nwhen = { subject = { matches = \"(\" } }\nthen = {}\n",
    )
    .expect("write");
    log_has("rules not reloaded");
    env.deliver(
        "3.eml",
        &mail("c@small.test", "invoice 3", "rl3@small.test", "", "x"),
    );
    wait_tickets(3);
    assert_eq!(env.ticket("MR-3")["area"], "tech");

    // SIGHUP reloads on demand.
    std::fs::write(env.path("rules.toml"), RULES).expect("write");
    std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill");
    log_has("SIGHUP received");
    env.deliver(
        "4.eml",
        &mail("d@small.test", "invoice 4", "rl4@small.test", "", "x"),
    );
    wait_tickets(4);
    assert_eq!(env.ticket("MR-4")["area"], "billing");

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(child.wait().expect("wait").success());
}
