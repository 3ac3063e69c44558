use super::test_support::SIMPLE;
use super::*;

#[test]
fn parses_headers_and_body() {
    let m = parse(SIMPLE.as_bytes()).unwrap();
    assert_eq!(m.message_id, "abc@customer.test");
    assert!(!m.message_id_synthetic);
    assert_eq!(m.from.email, "alice@customer.test");
    assert_eq!(m.from.name.as_deref(), Some("Alice Example"));
    assert_eq!(m.subject, "Hello wörld");
    assert_eq!(m.cc.len(), 2);
    assert_eq!(m.in_reply_to, vec!["x1@example.test"]);
    assert_eq!(m.references, vec!["x0@example.test", "x1@example.test"]);
    assert_eq!(m.text.trim(), "Hello there");
    assert_eq!(m.date.unwrap().to_rfc3339(), "2026-11-24T09:00:00+00:00");
    assert!(m.html.is_none());
}

#[test]
fn missing_message_id_is_derived_from_content() {
    let raw = SIMPLE.replace("Message-ID: <abc@customer.test>\r\n", "");
    let a = parse(raw.as_bytes()).unwrap();
    let b = parse(raw.as_bytes()).unwrap();
    assert!(a.message_id_synthetic);
    assert_eq!(a.message_id, b.message_id);
    assert!(a.message_id.ends_with("@mailroom.invalid"));
}

#[test]
fn no_sender_is_an_error() {
    let raw = "To: support@example.test\r\nSubject: hi\r\n\r\nbody\r\n";
    assert!(matches!(
        parse(raw.as_bytes()),
        Err(ParseFailure::NoSender(_))
    ));
    let raw = "From: undisclosed\r\nSubject: hi\r\n\r\nbody\r\n";
    assert!(matches!(
        parse(raw.as_bytes()),
        Err(ParseFailure::NoSender(_))
    ));
    assert_eq!(parse(b"  \r\n").unwrap_err(), ParseFailure::Empty);
}

#[test]
fn html_only_is_sanitized_and_rendered_as_text() {
    let raw = "From: a@b.test\r\nSubject: h\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi <b>there</b></p><script>alert(1)</script><a href=\"x\" onclick=\"evil()\">l</a>\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    let html = m.html.unwrap();
    assert!(!html.contains("script"), "{html}");
    assert!(!html.contains("onclick"), "{html}");
    assert_eq!(
        m.text.replace('\u{a0}', " ").trim(),
        "Hi there\nl",
        "{:?}",
        m.text
    );
    assert!(!m.text.contains('<'), "{}", m.text);
}

#[test]
fn attachments_have_hash_and_name() {
    let raw = "From: a@b.test\r\nSubject: att\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--XX\r\nContent-Type: text/plain; name=\"notes.txt\"\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nfile body\r\n--XX--\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    assert_eq!(
        m.attachments.len(),
        1,
        "a .txt attachment of a plain-text mail is kept"
    );
    let a = &m.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("notes.txt"));
    assert_eq!(a.content_type, "text/plain");
    assert_eq!(a.sha256, hex::encode(Sha256::digest(&a.data)));
    assert!(m.text.contains("see file"));
    assert!(!m.text.contains("file body"), "{}", m.text);
}

#[test]
fn latin1_charset_is_decoded() {
    let raw = b"From: a@b.test\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe\r\n";
    let m = parse(raw).unwrap();
    assert!(m.text.contains("Grüße"), "{}", m.text);
}

#[test]
fn headers_for_rules_are_bounded() {
    let many: String = (0..1000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let long = format!("X-Long: {}\r\n", "y".repeat(20_000));
    let raw = format!("From: a@b.test\r\n{long}{many}Subject: s\r\n\r\nbody\r\n");
    let m = parse(raw.as_bytes()).unwrap();
    assert_eq!(m.headers.len(), MAX_HEADERS);
    assert_eq!(m.headers[1].1.len(), MAX_HEADER_VALUE);
    assert_eq!(m.subject, "s", "the parsed fields are not affected");
}

#[test]
fn leading_whitespace_line_is_skipped() {
    let raw = format!("{}\n{SIMPLE}", " ".repeat(40));
    let m = parse(raw.as_bytes()).unwrap();
    assert_eq!(m.from.email, "alice@customer.test");
    assert_eq!(m.subject, "Hello wörld");
    // An empty first line still means "no header block".
    assert!(parse(format!("\r\n{SIMPLE}").as_bytes()).is_err());
}

#[test]
fn a_mail_of_too_many_parts_is_refused_with_the_count() {
    let mail = |parts: usize| {
        let mut m = String::from(
            "From: a@b.test\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n",
        );
        for i in 0..parts {
            m.push_str(&format!("--B\r\nContent-Type: text/plain\r\n\r\np{i}\r\n"));
        }
        m.push_str("--B--\r\n");
        m
    };
    match parse(mail(MAX_PARTS + 10).as_bytes()) {
        Err(e @ ParseFailure::TooManyParts(n)) => {
            assert!(n > MAX_PARTS, "{n}");
            assert!(e.to_string().contains("over the limit of 10000"), "{e}");
        }
        other => panic!("not refused: {:?}", other.map(|m| m.parts.len())),
    }
    // Up to the limit every part is read and accounted for.
    let m = parse(mail(2_000).as_bytes()).expect("parses");
    assert!(m.text.contains("p0") && m.text.contains("p1999"));
    assert_eq!(m.parts.len(), 2_000);
}
