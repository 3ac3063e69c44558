use super::*;

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("replies")).expect("replies");
    for (name, text) in files {
        std::fs::write(dir.path().join("replies").join(name), text).expect("write");
    }
    dir
}

fn vars() -> ReplyVars {
    ReplyVars {
        ticket_ref: "MR-7".into(),
        subject: "Invoice wrong".into(),
        customer: "amy@customer.test".into(),
        customer_name: Some("Amy".into()),
        agent_name: Some("Bob".into()),
        agent: Some("bob@example.test".into()),
        area: Some("billing".into()),
        owner: Some("bob@example.test".into()),
    }
}

const REFUND: &str = "#tag refund\n#pending\n\nHello {{ customer_name }},\n\nyour refund for {{ ticket_ref }} is on its way.\n";

#[test]
fn a_missing_folder_means_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = SavedReplies::load(dir.path()).expect("load");
    assert!(saved.is_empty());
    let e = saved.render("refund", &vars()).expect_err("none");
    assert_eq!(
        e.to_string(),
        "no saved reply \"refund\" (there are none: the templates folder has no replies/NAME.txt)"
    );
}

#[test]
fn replies_are_listed_with_header_html_and_first_line() {
    let dir = folder(&[
        ("refund.txt", REFUND),
        (
            "received.txt",
            "Thanks, {{ customer_name | default(\"there\") }}.\n",
        ),
        (
            "received.html",
            "<p>Thanks, <b>{{ customer_name }}</b>.</p>\n",
        ),
        ("notes.md", "not a reply"),
        ("broken.txt", "Hello {{ customer_name\n"),
    ]);
    let saved = SavedReplies::load(dir.path()).expect("load");
    let names: Vec<_> = saved.list().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["broken", "received", "refund"]);
    let refund = &saved.list()[2];
    assert_eq!(refund.commands, ["#tag refund", "#pending"]);
    assert_eq!(refund.first_line, "Hello {{ customer_name }},");
    assert!(!refund.html && refund.problem.is_none());
    assert!(saved.list()[1].html);
    let broken = saved.list()[0].problem.as_deref().expect("a syntax error");
    assert!(broken.starts_with("syntax error"), "{broken}");
    assert!(broken.contains("(broken.txt, line"), "{broken}");
    let e = saved.render("broken", &vars()).expect_err("broken");
    assert!(
        e.to_string()
            .starts_with("saved reply \"broken\": syntax error"),
        "{e}"
    );
}

#[test]
fn rendering_fills_in_the_ticket_and_keeps_the_header_apart() {
    let dir = folder(&[
        ("refund.txt", REFUND),
        ("received.txt", "Hi\n"),
        (
            "received.html",
            "#tag x\n<p>Hi {{ agent_name }} &amp; co</p>",
        ),
    ]);
    let saved = SavedReplies::load(dir.path()).expect("load");
    let r = saved.render("Refund", &vars()).expect("render");
    assert_eq!(r.name, "refund");
    assert_eq!(r.commands, ["#tag refund", "#pending"]);
    assert_eq!(r.text, "Hello Amy,\n\nyour refund for MR-7 is on its way.");
    assert_eq!(r.html, None);
    let r = saved.render("received", &vars()).expect("render");
    assert_eq!(r.html.as_deref(), Some("<p>Hi Bob &amp; co</p>"));
}

#[test]
fn a_missing_variable_is_named() {
    let dir = folder(&[
        ("refund.txt", REFUND),
        (
            "area.txt",
            "{{ customer_name | default(\"Hi\") }}\nArea {{ area }}, {{ owner }}\n",
        ),
    ]);
    let saved = SavedReplies::load(dir.path()).expect("load");
    let mut v = vars();
    v.customer_name = None;
    let e = saved.render("refund", &v).expect_err("no name");
    assert_eq!(
        e.to_string(),
        "saved reply \"refund\": undefined variable customer_name (refund.txt, line 4); this ticket has ticket_ref, subject, customer, agent_name, agent, area, owner"
    );
    v.area = None;
    v.owner = None;
    let e = saved.render("area", &v).expect_err("no area");
    assert!(
        e.to_string().starts_with(
            "saved reply \"area\": undefined variables area, owner (area.txt, line 2); "
        ),
        "{e}"
    );
}

#[test]
fn unknown_names_list_the_known_ones() {
    let dir = folder(&[("refund.txt", REFUND), ("received.txt", "Hi")]);
    let saved = SavedReplies::load(dir.path()).expect("load");
    let e = saved.render("foo", &vars()).expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "no saved reply \"foo\" (saved replies: received, refund)"
    );
    let e = saved.render("", &vars()).expect_err("no name");
    assert_eq!(
        e.to_string(),
        "#reply needs the name of a saved reply (saved replies: received, refund)"
    );
}

#[test]
fn ticket_fields_stay_values_never_template_source() {
    let dir = folder(&[
        ("echo.txt", "About {{ subject }} from {{ customer_name }}."),
        ("echo.html", "<p>About {{ subject }}</p>"),
    ]);
    let saved = SavedReplies::load(dir.path()).expect("load");
    let mut v = vars();
    v.subject = "{{ agent }} {% for x in range(3) %}x{% endfor %} <b>".into();
    v.customer_name = Some("{{ owner }}".into());
    let r = saved.render("echo", &v).expect("render");
    assert_eq!(
        r.text,
        "About {{ agent }} {% for x in range(3) %}x{% endfor %} <b> from {{ owner }}."
    );
    let html = r.html.expect("html");
    assert!(html.contains("&lt;b&gt;"), "{html}");
    assert!(
        !html.contains("bob@example.test") && !html.contains("xxx"),
        "{html}"
    );
}
