//! Rules engine tests: operators × fields, composition, decision semantics,
//! customers, validation errors, and a never-panics sweep.

use super::*;
use crate::tickets::Priority;

const FILE: &str = "rules.toml";

fn rules(text: &str) -> RuleSet {
    match RuleSet::parse(text, FILE, &[], &[]) {
        Ok(rs) => rs,
        Err(errs) => panic!(
            "{}",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn errors(text: &str, areas: &[&str], agents: &[&str]) -> Vec<String> {
    let areas: Vec<String> = areas.iter().map(|s| s.to_string()).collect();
    let agents: Vec<String> = agents.iter().map(|s| s.to_string()).collect();
    match RuleSet::parse(text, FILE, &areas, &agents) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

/// A one-rule file with `when` and a marker area.
fn one(when: &str) -> RuleSet {
    rules(&format!(
        "[[rule]]\nname = \"r\"\nwhen = {when}\nthen = {{ area = \"hit\" }}\n"
    ))
}

fn sample() -> RuleInput<'static> {
    RuleInput {
        from: "alice@customer.test",
        to: vec!["support@example.test", "sales@example.test"],
        cc: vec!["dan@customer.test"],
        subject: "Invoice 42 is WRONG",
        body: "Hello,\nI was Charged twice for my plan.\nÄrger über Rechnung.\n",
        headers: vec![
            ("X-Priority", "1 (Highest)"),
            ("X-Mailer", "Outlook 16"),
            ("X-Mailer", "relay"),
        ],
        attachment_names: vec!["Scan.PDF", "notes.txt"],
        has_attachment: true,
        customer_tier: Some("enterprise"),
    }
}

#[test]
fn every_operator_on_every_field() {
    // (when, expected on `sample()`)
    let cases: &[(&str, bool)] = &[
        // from
        (r#"{ from = { contains = "ALICE@" } }"#, true),
        (
            r#"{ from = { contains_any = ["bob", "customer.test"] } }"#,
            true,
        ),
        (r#"{ from = { matches = '^alice@.*\.test$' } }"#, true),
        (r#"{ from = { equals = "Alice@Customer.test" } }"#, true),
        (r#"{ from = { equals = "alice" } }"#, false),
        (
            r#"{ from = { in = ["x@y.test", "alice@customer.test"] } }"#,
            true,
        ),
        // from_domain
        (r#"{ from_domain = { contains = "customer" } }"#, true),
        (
            r#"{ from_domain = { contains_any = ["nope", "zzz"] } }"#,
            false,
        ),
        (r#"{ from_domain = { matches = '^cust' } }"#, true),
        (r#"{ from_domain = { equals = "CUSTOMER.TEST" } }"#, true),
        (r#"{ from_domain = { in = ["other.test"] } }"#, false),
        // to (any address)
        (r#"{ to = { contains = "sales" } }"#, true),
        (r#"{ to = { contains_any = ["billing", "sales"] } }"#, true),
        (r#"{ to = { matches = '^support@' } }"#, true),
        (r#"{ to = { equals = "sales@example.test" } }"#, true),
        (r#"{ to = { in = ["billing@example.test"] } }"#, false),
        // cc
        (r#"{ cc = { contains = "dan" } }"#, true),
        (r#"{ cc = { contains_any = ["eve"] } }"#, false),
        (r#"{ cc = { matches = 'd.n@' } }"#, true),
        (r#"{ cc = { equals = "dan@customer.test" } }"#, true),
        (r#"{ cc = { in = ["DAN@customer.test"] } }"#, true),
        // subject
        (r#"{ subject = { contains = "wrong" } }"#, true),
        (
            r#"{ subject = { contains_any = ["invoice", "refund"] } }"#,
            true,
        ),
        (r#"{ subject = { matches = 'invoice \d+' } }"#, true),
        (r#"{ subject = { equals = "invoice 42 is wrong" } }"#, true),
        (r#"{ subject = { in = ["invoice"] } }"#, false),
        // body
        (r#"{ body = { contains = "charged TWICE" } }"#, true),
        (r#"{ body = { contains_any = ["ärger", "refund"] } }"#, true),
        (r#"{ body = { matches = '(?i)\bcharged? twice\b' } }"#, true),
        (r#"{ body = { equals = "hello" } }"#, false),
        (r#"{ body = { in = ["hello", "x"] } }"#, false),
        // header (any value of the named header; name case-insensitive)
        (
            r#"{ header = { name = "x-priority", contains = "highest" } }"#,
            true,
        ),
        (
            r#"{ header = { name = "X-Priority", contains_any = ["2", "1"] } }"#,
            true,
        ),
        (
            r#"{ header = { name = "X-Priority", matches = '^[12]\b' } }"#,
            true,
        ),
        (
            r#"{ header = { name = "X-Mailer", equals = "RELAY" } }"#,
            true,
        ),
        (
            r#"{ header = { name = "X-Mailer", in = ["thunderbird"] } }"#,
            false,
        ),
        (
            r#"{ header = { name = "X-Absent", contains = "" } }"#,
            false,
        ),
        // has_attachment
        ("{ has_attachment = true }", true),
        ("{ has_attachment = false }", false),
        ("{ has_attachment = { equals = true } }", true),
        // attachment_name (any attachment)
        (r#"{ attachment_name = { contains = ".pdf" } }"#, true),
        (
            r#"{ attachment_name = { contains_any = [".xls", ".doc"] } }"#,
            false,
        ),
        (r#"{ attachment_name = { matches = '\.pdf$' } }"#, true),
        (r#"{ attachment_name = { equals = "notes.txt" } }"#, true),
        (r#"{ attachment_name = { in = ["scan.pdf"] } }"#, true),
        // customer_tier
        (r#"{ customer_tier = { contains = "enter" } }"#, true),
        (r#"{ customer_tier = { contains_any = ["vip"] } }"#, false),
        (r#"{ customer_tier = { matches = '^ent' } }"#, true),
        (r#"{ customer_tier = { equals = "Enterprise" } }"#, true),
        (
            r#"{ customer_tier = { in = ["vip", "enterprise"] } }"#,
            true,
        ),
    ];
    let input = sample();
    for (when, want) in cases {
        let d = one(when).evaluate(&input);
        assert_eq!(d.area.is_some(), *want, "{when}: {:?}", d.trace);
        assert_eq!(
            one(when).decide(&input),
            Decision { trace: vec![], ..d },
            "{when}"
        );
    }
}

#[test]
fn missing_values_never_match() {
    let input = RuleInput {
        from: "x@y.test",
        ..RuleInput::default()
    };
    for when in [
        r#"{ customer_tier = { contains = "" } }"#,
        r#"{ to = { contains = "" } }"#,
        r#"{ attachment_name = { matches = '.*' } }"#,
        r#"{ header = { name = "X-Priority", in = ["1"] } }"#,
    ] {
        assert!(one(when).decide(&input).area.is_none(), "{when}");
    }
    // A present but empty value does contain "".
    assert!(
        one(r#"{ subject = { contains = "" } }"#)
            .decide(&input)
            .area
            .is_some()
    );
}

#[test]
fn case_insensitivity() {
    let input = RuleInput {
        from: "x@y.test",
        subject: "ÜBER Straße INVOICE",
        body: "ÉCOLE",
        ..RuleInput::default()
    };
    let cases: &[(&str, bool)] = &[
        (r#"{ subject = { contains = "über" } }"#, true),
        (r#"{ subject = { contains_any = ["invoice"] } }"#, true),
        (r#"{ subject = { equals = "über straße invoice" } }"#, true),
        (r#"{ body = { contains = "école" } }"#, true),
        // Regexes are case-insensitive too, unless they opt out.
        (r#"{ subject = { matches = 'invoice' } }"#, true),
        (r#"{ subject = { matches = '(?-i)invoice' } }"#, false),
        (r#"{ subject = { matches = '(?-i)INVOICE' } }"#, true),
    ];
    for (when, want) in cases {
        assert_eq!(one(when).decide(&input).area.is_some(), *want, "{when}");
    }
}

#[test]
fn all_any_not_nesting() {
    let input = sample();
    let cases: &[(&str, bool)] = &[
        ("{}", true),
        ("{ all = [] }", true),
        ("{ not = {} }", false),
        (
            r#"{ all = [ { subject = { contains = "invoice" } }, { from_domain = { equals = "customer.test" } } ] }"#,
            true,
        ),
        (
            r#"{ all = [ { subject = { contains = "invoice" } }, { from_domain = { equals = "other.test" } } ] }"#,
            false,
        ),
        (
            r#"{ any = [ { subject = { contains = "nope" } }, { body = { contains = "twice" } } ] }"#,
            true,
        ),
        (
            r#"{ any = [ { subject = { contains = "nope" } }, { body = { contains = "never" } } ] }"#,
            false,
        ),
        (r#"{ not = { subject = { contains = "invoice" } } }"#, false),
        (r#"{ not = { subject = { contains = "refund" } } }"#, true),
        (r#"{ not = { not = { has_attachment = true } } }"#, true),
        (
            r#"{ all = [ { any = [ { cc = { contains = "eve" } }, { not = { to = { contains = "billing" } } } ] }, { header = { name = "X-Priority", matches = '^1' } } ] }"#,
            true,
        ),
        (
            r#"{ any = [ { all = [ { has_attachment = false } ] }, { not = { customer_tier = { equals = "enterprise" } } } ] }"#,
            false,
        ),
    ];
    for (when, want) in cases {
        let d = one(when).evaluate(&input);
        assert_eq!(d.area.is_some(), *want, "{when}: {:?}", d.trace);
    }
}

const LAYERED: &str = r#"
[[rule]]
name = "vip"
when = { customer_tier = { equals = "enterprise" } }
then = { priority = "urgent", tags = ["vip", "a"] }
continue = true

[[rule]]
name = "flagged"
when = { header = { name = "X-Priority", contains = "1" } }
then = { priority = "low", owner = "Boss@Example.test", tags = ["a", "flagged"], suppress_ack = false }
continue = true

[[rule]]
name = "billing"
when = { any = [ { subject = { contains_any = ["invoice", "refund"] } },
                 { body = { matches = '(?i)\bcharged? twice\b' } } ] }
then = { area = "billing", priority = "high", tags = ["billing"], suppress_ack = true, sla = "gold" }

[[rule]]
name = "never reached for billing"
when = { subject = { contains = "invoice" } }
then = { area = "tech", tags = ["late"] }

[[rule]]
name = "everything else"
when = {}
then = { area = "tech", drop = true }
"#;

#[test]
fn continue_first_setter_wins_and_tags_accumulate() {
    let rs = rules(LAYERED);
    let d = rs.evaluate(&sample());
    assert_eq!(d.matched, ["vip", "flagged", "billing"]);
    assert_eq!(d.area.as_deref(), Some("billing"));
    assert_eq!(d.priority, Some(Priority::Urgent), "first setter wins");
    assert_eq!(d.owner.as_deref(), Some("boss@example.test"));
    assert_eq!(d.tags, ["vip", "a", "flagged", "billing"]);
    assert_eq!(d.sla.as_deref(), Some("gold"));
    assert!(!d.suppress_ack, "an explicit false set first is kept");
    assert!(!d.drop);
    // Evaluation stopped at "billing": later rules are not in the trace.
    let names: Vec<&str> = d.trace.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["vip", "flagged", "billing"]);
    let billing = &d.trace[2];
    assert!(billing.matched);
    assert_eq!(
        billing.conditions,
        [
            r#"subject contains_any ["invoice","refund"]: yes"#,
            r#"body matches "(?i)\\bcharged? twice\\b": yes"#,
        ]
    );

    // Nothing but the catch-all.
    let input = RuleInput {
        from: "x@y.test",
        subject: "hello",
        ..RuleInput::default()
    };
    let d = rs.evaluate(&input);
    assert_eq!(d.matched, ["everything else"]);
    assert_eq!(d.area.as_deref(), Some("tech"));
    assert_eq!(d.priority, None);
    assert!(d.drop);
    assert_eq!(d.trace.len(), 5);
    assert!(!d.trace[0].matched);
    assert_eq!(
        d.trace[0].conditions,
        [r#"customer_tier equals "enterprise": no"#]
    );
    assert_eq!(
        d.trace[2].conditions,
        [
            r#"subject contains_any ["invoice","refund"]: no"#,
            r#"body matches "(?i)\\bcharged? twice\\b": no"#,
        ]
    );
    assert!(d.trace[4].conditions.is_empty());

    let json = d.to_json();
    assert_eq!(json["area"], "tech");
    assert_eq!(json["priority"], serde_json::Value::Null);
    assert_eq!(json["matched"][0], "everything else");
    assert_eq!(json["trace"][0]["rule"], "vip");
    assert_eq!(json["trace"][0]["matched"], false);
    assert!(json["tags"].is_array() && json["owner"].is_null());
}

#[test]
fn router_builds_routing_and_summary() {
    let rs = rules(LAYERED);
    let d = rs.decide(&sample());
    let r = RulesRouter::routing(d);
    assert_eq!(r.area.as_deref(), Some("billing"));
    assert_eq!(r.priority, Priority::Urgent);
    assert_eq!(r.owner.as_deref(), Some("boss@example.test"));
    assert_eq!(r.sla.as_deref(), Some("gold"));
    assert!(!r.drop && !r.suppress_ack);
    assert_eq!(
        r.trace,
        "rules: matched \"vip\", \"flagged\", \"billing\" -> area billing, priority urgent, owner boss@example.test, tags vip a flagged billing, sla gold"
    );

    let d = rs.decide(&RuleInput {
        from: "x@y.test",
        ..RuleInput::default()
    });
    let r = RulesRouter::routing(d);
    assert!(r.drop && r.suppress_ack, "drop implies no acknowledgement");
    assert_eq!(r.priority, Priority::Normal);
    assert_eq!(
        r.trace,
        "rules: matched \"everything else\" -> area tech, priority normal, dropped"
    );

    let empty = rules("");
    let r = RulesRouter::routing(empty.decide(&RuleInput::default()));
    assert_eq!(
        r.trace,
        "rules: no rule matched -> area none, priority normal"
    );
    assert_eq!(r.area, None);
}

#[test]
fn router_reads_parsed_mail_and_headers() {
    let raw = "From: Boss <CEO@Sub.BigCo.test>\r\nTo: support@example.test\r\nSubject: Refund please\r\nX-Priority: 1\r\n (Highest)\r\nMessage-ID: <m1@bigco.test>\r\n\r\nbody\r\n";
    let mail = crate::mail::parse(raw.as_bytes()).unwrap();
    assert!(
        mail.headers
            .iter()
            .any(|(n, v)| n == "X-Priority" && v == "1 (Highest)"),
        "{:?}",
        mail.headers
    );
    let rs = rules(&format!(
        "[[customer]]\ndomain = \"bigco.test\"\ntier = \"enterprise\"\n{LAYERED}"
    ));
    let r = RulesRouter::new(rs).route(&mail);
    assert_eq!(r.area.as_deref(), Some("billing"));
    assert_eq!(r.priority, Priority::Urgent);
    assert!(r.tags.contains(&"vip".to_string()) && r.tags.contains(&"flagged".to_string()));
}

#[test]
fn customer_tier_by_address_then_domain() {
    let rs = rules(
        r#"
[[customer]]
domain = "bigco.test"
name = "BigCo"
tier = "enterprise"

[[customer]]
address = "CEO@bigco.test"
tier = "vip"

[[customer]]
domain = "@Small.test"
tier = "standard"
"#,
    );
    let cases: &[(&str, Option<&str>)] = &[
        ("ceo@bigco.test", Some("vip")),
        ("Ceo@BigCo.test", Some("vip")),
        ("alice@bigco.test", Some("enterprise")),
        ("alice@eu.bigco.test", Some("enterprise")),
        ("alice@notbigco.test", None),
        ("bob@small.test", Some("standard")),
        ("bob@other.test", None),
        ("no-at-sign", None),
        ("", None),
    ];
    for (email, tier) in cases {
        assert_eq!(rs.customer_tier(email), *tier, "{email}");
    }
    assert_eq!(
        rs.customer("alice@bigco.test").unwrap().name.as_deref(),
        Some("BigCo")
    );
}

#[test]
fn example_file_parses_cleanly() {
    let text = include_str!("../../rules.example.toml");
    let areas: Vec<String> = ["billing", "tech", "outage"].map(String::from).to_vec();
    let rs = match RuleSet::parse(text, "rules.example.toml", &areas, &[]) {
        Ok(rs) => rs,
        Err(e) => panic!("{e:?}"),
    };
    assert!(rs.len() >= 6);
    assert_eq!(rs.customer_tier("x@bigco.test"), Some("enterprise"));

    let outage = RuleInput {
        from: "ops@bigco.test",
        subject: "Site DOWN since 10:00",
        customer_tier: rs.customer_tier("ops@bigco.test"),
        ..RuleInput::default()
    };
    let d = rs.evaluate(&outage);
    assert_eq!(d.area.as_deref(), Some("outage"));
    assert_eq!(d.priority, Some(Priority::Urgent));
    assert!(d.tags.contains(&"vip".to_string()));
    let bulk = RuleInput {
        from: "news@list.test",
        subject: "Weekly digest",
        headers: vec![("Precedence", "Bulk")],
        ..RuleInput::default()
    };
    let d = rs.decide(&bulk);
    assert!(d.drop, "{:?}", d.matched);
    let plain = RuleInput {
        from: "someone@else.test",
        subject: "printer broken",
        ..RuleInput::default()
    };
    assert_eq!(rs.decide(&plain).matched, ["everything else"]);
}

/// (file text, areas, agents, expected substrings of one error line)
#[test]
fn every_validation_error_has_file_line_and_path() {
    let cases: &[(&str, &[&str], &[&str], &str)] = &[
        (
            "[[rule]]\nname = \"x\"\nwhen = { subject = { contains = \"a\" }\n",
            &[],
            &[],
            "rules.toml:3: TOML syntax error",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = {}\nthen = {}\nprio = 1\n",
            &[],
            &[],
            "rules.toml:5: rule[0] \"x\".prio: unknown field",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = { subjct = { contains = \"a\" } }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:3: rule[0] \"x\".when.subjct: unknown field",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = { subject = { contain = \"a\" } }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:3: rule[0] \"x\".when.subject.contain: unknown operator",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = { subject = {} }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:3: rule[0] \"x\".when.subject: no operator",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = { subject = { contains = \"a\", matches = \"b\" } }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:3: rule[0] \"x\".when.subject: several operators (contains, matches)",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = { subject = { contains = \"a\" }, body = { contains = \"b\" } }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:3: rule[0] \"x\".when: a condition takes exactly one key",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen = {}\nthen = {}\ncontinue = true\n\n[[rule]]\nname = \"billing\"\nwhen = { any = [ { subject = { contains = \"x\" } },\n  { body = { matches = '(?i)\\bcharged? (twice' } } ] }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:10: rule[1] \"billing\".when.any[1].body.matches: regex parse error: unclosed group",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = {}\nthen = { priority = \"asap\" }\n",
            &[],
            &[],
            "rules.toml:4: rule[0] \"x\".then.priority: unknown priority \"asap\"",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = {}\nthen = { area = \"sales\" }\n",
            &["billing", "tech"],
            &[],
            "rules.toml:4: rule[0] \"x\".then.area: unknown area \"sales\"",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = {}\nthen = { owner = \"eve@example.test\" }\n",
            &[],
            &["ann@example.test"],
            "rules.toml:4: rule[0] \"x\".then.owner: unknown owner \"eve@example.test\"",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = {}\nthen = { colour = \"red\" }\n",
            &[],
            &[],
            "rules.toml:4: rule[0] \"x\".then.colour: unknown action",
        ),
        (
            "[[rule]]\nname = \"dup\"\nwhen = { subject = { contains = \"a\" } }\nthen = {}\n\n[[rule]]\nname = \"dup\"\nwhen = {}\nthen = {}\n",
            &[],
            &[],
            "rules.toml:6: rule[1] \"dup\".name: duplicate rule name \"dup\" (first defined at line 1)",
        ),
        (
            "[[rule]]\nname = \"all\"\nwhen = {}\nthen = {}\n\n[[rule]]\nname = \"late\"\nwhen = { subject = { contains = \"a\" } }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:6: rule[1] \"late\": unreachable: rule[0] \"all\" (line 1)",
        ),
        (
            "[[rule]]\nname = \"all\"\nwhen = { any = [ {}, { subject = { contains = \"a\" } } ] }\nthen = {}\n\n[[rule]]\nname = \"late\"\nwhen = {}\nthen = {}\ncontinue = true\n",
            &[],
            &[],
            "rules.toml:6: rule[1] \"late\": unreachable",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = { header = { contains = \"a\" } }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:3: rule[0] \"x\".when.header: missing header `name`",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = { subject = { contains_any = \"a\" } }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:3: rule[0] \"x\".when.subject.contains_any: expected a list of strings",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = { has_attachment = \"yes\" }\nthen = {}\n",
            &[],
            &[],
            "rules.toml:3: rule[0] \"x\".when.has_attachment: expected a table",
        ),
        (
            "[[rule]]\nname = \"x\"\nwhen = {}\nthen = {}\ncontinue = \"yes\"\n",
            &[],
            &[],
            "rules.toml:5: rule[0] \"x\".continue: expected true or false",
        ),
        (
            "[[rule]]\nwhen = {}\nthen = {}\n",
            &[],
            &[],
            "rules.toml:1: rule[0]: missing `name`",
        ),
        (
            "[[rule]]\nname = \"x\"\nthen = {}\n",
            &[],
            &[],
            "rules.toml:1: rule[0] \"x\": missing `when`",
        ),
        (
            "[[customer]]\nname = \"Nobody\"\ntier = \"gold\"\n",
            &[],
            &[],
            "rules.toml:1: customer[0]: needs `address` or `domain`",
        ),
        (
            "[[customer]]\ndomain = \"x.test\"\nlevel = \"gold\"\n",
            &[],
            &[],
            "rules.toml:3: customer[0].level: unknown field",
        ),
        (
            "rules = []\n",
            &[],
            &[],
            "rules.toml:1: rules: unknown field",
        ),
        (
            "[rule]\nname = \"x\"\n",
            &[],
            &[],
            "rules.toml:1: rule: expected an array of tables",
        ),
    ];
    for (text, areas, agents, want) in cases {
        let errs = errors(text, areas, agents);
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "want {want:?} in:\n{}",
            errs.join("\n")
        );
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = r#"
[[rule]]
name = "billing"
when = { any = [ { subjct = { contains = "x" } },
                 { body = { matches = '(' } } ] }
then = { area = "sales", priority = "asap", owner = "eve@x.test" }

[[rule]]
name = "catch"
when = {}
then = {}

[[rule]]
name = "billing"
when = { subject = { contains = "x", in = ["y"] } }
then = {}
"#;
    let errs = errors(text, &["billing"], &["ann@x.test"]);
    let want = [
        "rules.toml:4: rule[0] \"billing\".when.any[0].subjct: unknown field",
        "rules.toml:5: rule[0] \"billing\".when.any[1].body.matches: regex parse error",
        "rules.toml:6: rule[0] \"billing\".then.area: unknown area",
        "rules.toml:6: rule[0] \"billing\".then.priority: unknown priority",
        "rules.toml:6: rule[0] \"billing\".then.owner: unknown owner",
        "rules.toml:15: rule[2] \"billing\".when.subject: several operators",
    ];
    for w in want {
        assert!(
            errs.iter().any(|e| e.contains(w)),
            "want {w:?} in:\n{}",
            errs.join("\n")
        );
    }
    assert!(errs.windows(2).all(|w| {
        let line = |s: &str| s.split(':').nth(1).unwrap().parse::<usize>().unwrap();
        line(&w[0]) <= line(&w[1])
    }));
}

/// A tiny deterministic generator (no proptest).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() as usize % items.len()]
    }
}

#[test]
fn never_panics_on_odd_inputs() {
    let pieces = [
        "",
        " ",
        "İ",
        "ß",
        "ǅ",
        "🦀",
        "\u{0}",
        "\u{202e}",
        "a",
        "INVOICE",
        "refund",
        "@",
        "@@",
        "charged twice",
        "\r\n",
        "\t",
        "Ⅻ",
        "ﬃ",
        "x-priority",
        "é",
        "\u{feff}",
    ];
    let rs = rules(&format!(
        "{}\n{}",
        r#"
[[rule]]
name = "odd"
when = { any = [ { subject = { contains_any = ["", "İ", "ß", "🦀"] } },
                 { from = { matches = '^\w*@\W*$' } },
                 { header = { name = "ǅ", equals = "ǆ" } },
                 { body = { in = ["", "ﬃ"] } } ] }
then = { tags = ["odd"] }
continue = true
"#,
        include_str!("../../rules.example.toml"),
    ));
    let huge = "İnvoice ß ".repeat(20_000);
    let mut g = Lcg(7);
    for i in 0..400 {
        let mut s = || {
            let n = g.next() % 6;
            (0..n).map(|_| g.pick(&pieces)).collect::<String>()
        };
        let (from, subject, body, hname, hval, att) = (s(), s(), s(), s(), s(), s());
        let subject = if i % 50 == 0 { huge.clone() } else { subject };
        let input = RuleInput {
            from: &from,
            to: vec![&from, ""],
            cc: vec![],
            subject: &subject,
            body: &body,
            headers: vec![(&hname, &hval), ("X-Priority", &hval), ("Precedence", "")],
            attachment_names: vec![&att],
            has_attachment: i % 2 == 0,
            customer_tier: if i % 3 == 0 { Some(&hval) } else { None },
        };
        let a = rs.evaluate(&input);
        let b = rs.decide(&input);
        assert_eq!(a.matched, b.matched);
        assert!(!a.matched.is_empty(), "the catch-all always matches");
        let _ = a.to_json();
        let _ = summary(&b);
    }
    // Mangled rules files: errors, never a panic.
    let text = include_str!("../../rules.example.toml");
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(7).collect();
    for (k, &cut) in bounds.iter().enumerate() {
        let _ = RuleSet::parse(&text[..cut], FILE, &[], &[]);
        let mut mangled = text.to_string();
        let at = bounds[(k * 31) % bounds.len()];
        mangled.insert_str(at, pieces[k % pieces.len()]);
        let _ = RuleSet::parse(&mangled, FILE, &["tech".into()], &["a@b.test".into()]);
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn example() -> RuleSet {
        rules(include_str!("../../rules.example.toml"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Evaluation never panics on arbitrary mail, and the fast path
        /// (`decide`) and the traced path (`evaluate`) always agree.
        #[test]
        fn evaluation_never_panics_and_paths_agree(
            from in "\\PC{0,40}",
            subject in "\\PC{0,200}",
            body in "\\PC{0,2000}",
            header_name in "[A-Za-z-]{0,20}",
            header_value in "\\PC{0,80}",
            names in proptest::collection::vec("\\PC{0,30}", 0..3),
            tier in proptest::option::of("[a-z]{0,10}"),
        ) {
            let rs = example();
            let to = vec!["support@example.test"];
            let input = RuleInput {
                from: &from,
                to: to.clone(),
                cc: Vec::new(),
                subject: &subject,
                body: &body,
                headers: vec![(header_name.as_str(), header_value.as_str())],
                attachment_names: names.iter().map(String::as_str).collect(),
                has_attachment: !names.is_empty(),
                customer_tier: tier.as_deref(),
            };
            let full = rs.evaluate(&input);
            let fast = rs.decide(&input);
            prop_assert_eq!(&full.area, &fast.area);
            prop_assert_eq!(&full.priority, &fast.priority);
            prop_assert_eq!(&full.tags, &fast.tags);
            prop_assert_eq!(&full.matched, &fast.matched);
            // The example ends with a catch-all: something always matches.
            prop_assert!(!full.matched.is_empty());
        }

        /// Parsing arbitrary mail bytes and routing them never panics either.
        #[test]
        fn routing_parsed_mail_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let rs = example();
            if let Ok(mail) = crate::mail::parse(&raw) {
                let _ = rs.decide(&rs.input(&mail));
            }
        }
    }
}
