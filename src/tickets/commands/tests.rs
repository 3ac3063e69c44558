use super::*;

fn dir() -> Directory {
    Directory {
        agents: vec![
            ("bob@example.test".into(), Some("Bob".into())),
            ("erin@example.test".into(), Some("Erin Smith".into())),
        ],
        areas: vec!["billing".into(), "tech".into()],
        internal: vec![
            "bob@example.test".into(),
            "erin@example.test".into(),
            "support@example.test".into(),
            "carol@example.test".into(),
        ],
        ticket_prefix: "MR".into(),
    }
}

#[test]
fn commands_at_the_top_are_parsed_and_removed() {
    let c = parse(
        "\n#priority HIGH\n#Tag VIP\n#assign erin smith\n\nHello Alice,\n#not a command here\n",
        &dir(),
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(
        c.commands,
        vec![
            Command::Priority(Priority::High),
            Command::Tag("vip".into()),
            Command::Assign("erin@example.test".into())
        ]
    );
    assert_eq!(c.body, "Hello Alice,\n#not a command here");
    assert_eq!(c.lines.len(), 3);
}

#[test]
fn every_command_parses() {
    let c = parse(
        "#note\n#close\n#resolve\n#pending\n#open\n#assign BOB@example.test\n#area Tech\n#priority low\n#tag a-b\n#untag a-b\n#cc Dan <Dan@Customer.test>\n#TAKE",
        &dir(),
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.commands.len(), 12);
    assert_eq!(c.commands[6], Command::Area("tech".into()));
    assert_eq!(c.commands[10], Command::Cc("dan@customer.test".into()));
    assert_eq!(c.commands[11], Command::Take);
    assert!(c.body.is_empty());
}

#[test]
fn bad_commands_are_errors_with_reasons() {
    let c = parse(
        "#frobnicate\n#priority asap\n#assign mallory\n#area sales\n#cc erin@example.test\n#cc not-an-address\n#close now\n#tag\nBody",
        &dir(),
    );
    assert!(c.commands.is_empty());
    let reasons: Vec<&str> = c.errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons.len(), 8, "{reasons:?}");
    assert!(reasons[0].contains("unknown command #frobnicate"));
    assert!(reasons[1].contains("unknown priority"));
    assert!(reasons[2].contains("no agent \"mallory\""));
    assert!(reasons[3].contains("no area \"sales\""));
    assert!(reasons[4].contains("internal address"));
    assert!(reasons[5].contains("not an email address"));
    assert!(reasons[6].contains("takes no argument"));
    assert!(reasons[7].contains("needs one word"));
    assert_eq!(c.body, "Body");
}

#[test]
fn note_with_text_on_its_line() {
    let c = parse(
        "#tag vip\n#note Customer is on the legacy plan.\n#close\nCall them Monday.",
        &dir(),
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.commands, vec![Command::Tag("vip".into()), Command::Note]);
    // The note's text runs to the end; a `#close` below it is its text.
    assert_eq!(
        c.body,
        "Customer is on the legacy plan.\n#close\nCall them Monday."
    );
    assert_eq!(
        c.lines,
        ["#tag vip", "#note Customer is on the legacy plan."]
    );
    let bare = parse("#note\n\nInternal only.", &dir());
    assert_eq!(bare.commands, vec![Command::Note]);
    assert_eq!(bare.body, "Internal only.");
    assert!(
        parse("#take now", &dir()).errors[0]
            .reason
            .contains("no argument")
    );
}

#[test]
fn hash_lines_that_are_not_commands_are_text() {
    for text in ["#1 priority is the export", "# Heading", "Thanks!\n#close"] {
        let c = parse(text, &dir());
        assert!(c.is_empty(), "{text:?}: {c:?}");
        assert_eq!(c.body, text.trim());
    }
}

#[test]
fn merge_names_a_ticket_and_may_force() {
    let c = parse(
        "#merge MR-12\n#merge [mr-7] FORCE\n#merge 9\n\nSame question.",
        &dir(),
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(
        c.commands,
        [
            Command::Merge {
                into: 12,
                force: false
            },
            Command::Merge {
                into: 7,
                force: true
            },
            Command::Merge {
                into: 9,
                force: false
            },
        ]
    );
    assert_eq!(c.body, "Same question.");
    let c = parse(
        "#merge\n#merge XY-12\n#merge MR-12 now\n#merge MR-12 force please\n",
        &dir(),
    );
    let reasons: Vec<&str> = c.errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "#merge needs the ticket to merge into, like MR-12",
            "#merge: \"XY-12\" is not a ticket like MR-12",
            "#merge takes a ticket and \"force\" (got \"now\")",
            "#merge takes a ticket and \"force\" (got \"please\")",
        ]
    );
}

#[test]
fn merge_targets_are_found_before_parsing() {
    let text = "#tag x\n\n#merge MR-12 force\n#MERGE [mr-3]\nHello\n#merge MR-4\n";
    assert_eq!(merge_targets(text, "MR"), [12, 3]);
    assert!(merge_targets("Hello\n#merge MR-12", "MR").is_empty());
}

#[test]
fn pending_may_say_how_long() {
    let c = parse(
        "#pending 3d\n#pending until 2027-01-15\n#pending 36h\n#pending\n",
        &dir(),
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let texts: Vec<String> = c.commands.iter().map(Command::text).collect();
    assert_eq!(
        texts,
        [
            "#pending 3d",
            "#pending until 2027-01-15",
            "#pending 36h",
            "#pending"
        ]
    );
    assert_eq!(
        c.commands[0],
        Command::Pending(Some(Wait::For(chrono::Duration::days(3))))
    );
    let c = parse(
        "#pending soon\n#pending until 15.01.2027\n#pending 400d\n#pending 0s\n",
        &dir(),
    );
    let reasons: Vec<&str> = c.errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "#pending takes a wait like 3d, 36h or 2w, or \"until YYYY-MM-DD\" (got \"soon\")",
            "#pending takes a wait like 3d, 36h or 2w, or \"until YYYY-MM-DD\" (got \"until 15.01.2027\")",
            "#pending waits at most a year (got \"400d\")",
            "#pending takes a wait like 3d, 36h or 2w, or \"until YYYY-MM-DD\" (got \"0s\")",
        ]
    );
}

#[test]
fn reply_lines_in_the_block_stay_as_text_where_they_stood() {
    let c = parse("#tag x\n#Reply refund\n#close\n\nBest, Bob", &dir());
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.commands, [Command::Tag("x".into()), Command::Resolve]);
    assert_eq!(c.lines, ["#tag x", "#close"]);
    assert_eq!(c.body, "#Reply refund\n\nBest, Bob");
    let c = parse("#reply a\n#reply b\nThanks", &dir());
    assert!(c.is_empty());
    assert_eq!(c.body, "#reply a\n#reply b\nThanks");
    let c = parse("#reply a\n#note check later", &dir());
    assert_eq!(c.commands, [Command::Note]);
    assert_eq!(c.body, "#reply a\ncheck later");
}

#[test]
fn split_takes_no_argument_and_is_found_before_parsing() {
    let c = parse("#split\n\nThis is another question.", &dir());
    assert_eq!(c.commands, [Command::Split]);
    let c = parse("#split MR-2\n", &dir());
    assert_eq!(
        c.errors[0].reason,
        "#split takes no argument (got \"MR-2\")"
    );
    assert!(split_requested("#tag x\n#SPLIT\nHello"));
    assert!(!split_requested("Hello\n#split"));
}
