use crate::mail::parse::{Went, parse};

fn went(m: &crate::mail::ParsedMail) -> Vec<(String, Went)> {
    m.parts.iter().map(|p| (p.path.clone(), p.went)).collect()
}

fn w(list: &[(&str, Went)]) -> Vec<(String, Went)> {
    list.iter().map(|(p, w)| (p.to_string(), *w)).collect()
}

#[test]
fn an_empty_text_part_gives_the_html_its_place() {
    let raw = "From: a@b.test\r\nSubject: s\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\r\n--A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The words are <b>here</b></p>\r\n--A--\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    assert!(m.text.contains("The words are here"), "{:?}", m.text);
    assert_eq!(went(&m), w(&[("1", Went::Text), ("2", Went::Html)]));
    assert!(
        m.charset_notes
            .iter()
            .any(|n| n.contains("rendered from the HTML")),
        "{:?}",
        m.charset_notes
    );
}

#[test]
fn apple_mail_split_html_bodies_are_all_kept_in_order() {
    let raw = "From: a@b.test\r\nSubject: s\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nBefore the picture.\r\n\r\nAfter the picture.\r\n--A\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<html><body><div>Before the picture.</div></body></html>\r\n--B\r\nContent-Type: image/png; name=pic.png\r\nContent-Disposition: inline; filename=pic.png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--B\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<html><body><div>After the picture.</div><div>-- Signature</div></body></html>\r\n--B--\r\n--A--\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    let html = m.html_source.clone().unwrap_or_default();
    let (a, b) = (
        html.find("Before the picture"),
        html.find("After the picture"),
    );
    assert!(a.is_some() && b.is_some() && a < b, "{html}");
    assert!(m.html.as_deref().unwrap_or("").contains("Signature"));
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(
        went(&m),
        w(&[
            ("1", Went::Text),
            ("2.1", Went::Html),
            ("2.2", Went::Attachment),
            ("2.3", Went::Html)
        ])
    );
    // Without a text part, the text has both halves too.
    let mixed = "From: a@b.test\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/html\r\n\r\n<p>First half</p>\r\n--B\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--B\r\nContent-Type: text/html\r\n\r\n<p>Second half</p>\r\n--B--\r\n";
    let m = parse(mixed.as_bytes()).unwrap();
    assert!(
        m.text.contains("First half") && m.text.contains("Second half"),
        "{}",
        m.text
    );
    let html = m.html_source.unwrap_or_default();
    assert!(
        html.contains("First half") && html.contains("Second half"),
        "{html}"
    );
}

#[test]
fn an_unterminated_inner_multipart_is_recovered_part_by_part() {
    let raw = "From: MAILER-DAEMON@mx.test\r\nTo: support@example.test\r\nSubject: Undelivered\r\nMessage-ID: <r1@mx.test>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=OUT\r\n\r\n--OUT\r\nContent-Type: multipart/alternative; boundary=IN\r\n\r\n--IN\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nZustellung fehlgeschlagen: Gr=C3=BC=C3=9Fe\r\n--OUT\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\nFinal-Recipient: rfc822; x@y.test\r\nAction: failed\r\nStatus: 5.1.1\r\n--OUT\r\nContent-Type: message/rfc822\r\n\r\nFrom: support@example.test\r\nMessage-ID: <orig@example.test>\r\nSubject: Your ticket\r\n\r\nhello\r\n--OUT--\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    assert!(m.text.contains("Grüße"), "{:?}", m.text);
    assert!(!m.text.contains("=C3"), "{:?}", m.text);
    assert!(!m.text.contains("Reporting-MTA"), "{:?}", m.text);
    assert!(m.report.delivery_status);
    assert_eq!(m.report.dsn_action.as_deref(), Some("failed"));
    assert_eq!(m.report.original_message_ids, vec!["orig@example.test"]);
    let names: Vec<_> = m.attachments.iter().map(|a| a.filename.clone()).collect();
    assert!(names.contains(&Some("Your ticket.eml".into())), "{names:?}");
    assert_eq!(m.parts[0].path, "1.1");
    assert!(
        m.parts[0]
            .note
            .as_deref()
            .unwrap_or("")
            .starts_with("recovered")
    );
    assert!(
        m.parts
            .iter()
            .any(|p| p.path.starts_with("1.1+1") && p.went == Went::Attachment)
    );
}

#[test]
fn a_forwarded_message_is_named_after_its_subject() {
    let raw = "From: a@b.test\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.test\r\nSubject: Invoice 12/2026: \"final\"\r\n\r\ninner\r\n--B--\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(
        m.attachments[0].filename.as_deref(),
        Some("Invoice 12_2026_ _final_.eml")
    );
    assert_eq!(m.attachments[0].content_type, "message/rfc822");
    assert!(String::from_utf8_lossy(&m.attachments[0].data).contains("inner"));
    assert_eq!(super::message_file_name(None), "message.eml");
    assert_eq!(super::message_file_name(Some(" .. ")), "message.eml");
}

/// A TNEF stream: attBody and one file.
fn tnef_sample() -> Vec<u8> {
    fn attr(v: &mut Vec<u8>, level: u8, id: u32, data: &[u8]) {
        v.push(level);
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v.extend_from_slice(&[0, 0]);
    }
    let mut v = 0x223E_9F78u32.to_le_bytes().to_vec();
    v.extend_from_slice(&[1, 0]);
    attr(&mut v, 1, 0x0002_800C, b"The body Outlook wrapped.\0");
    attr(&mut v, 2, 0x0006_9002, &[1, 0, 0, 0]);
    attr(&mut v, 2, 0x0001_8010, b"budget.xls\0");
    attr(&mut v, 2, 0x0006_800F, b"spreadsheet bytes");
    v
}

#[test]
fn winmail_dat_yields_its_body_and_files() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(tnef_sample());
    let raw = format!(
        "From: a@b.test\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n\r\n--B\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"winmail.dat\"\r\n\r\n{b64}\r\n--B--\r\n"
    );
    let m = parse(raw.as_bytes()).unwrap();
    assert!(m.text.contains("The body Outlook wrapped."), "{:?}", m.text);
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].filename.as_deref(), Some("budget.xls"));
    assert_eq!(m.attachments[0].data, b"spreadsheet bytes");
    assert_eq!(
        went(&m),
        w(&[
            ("1", Went::Text),
            ("2", Went::Unpacked),
            ("2/body", Went::Text),
            ("2/1", Went::Attachment)
        ])
    );
    // Cut short inside the file's data: what came before is read out, and
    // the container goes along whole (the rest is nowhere else).
    let mut cut = tnef_sample();
    cut.truncate(cut.len() - 6);
    let cut64 = base64::engine::general_purpose::STANDARD.encode(&cut);
    let m = parse(raw.replace(&b64, &cut64).as_bytes()).unwrap();
    assert!(m.text.contains("The body Outlook wrapped."), "{:?}", m.text);
    let names: Vec<_> = m
        .attachments
        .iter()
        .map(|a| a.filename.as_deref())
        .collect();
    assert_eq!(names, [Some("winmail.dat"), Some("budget.xls")]);
    assert_eq!(m.attachments[0].data, cut);
    let note = m.parts[1].note.as_deref().unwrap_or_default();
    assert!(
        note.contains("cut short at byte") && note.contains("kept too"),
        "{note}"
    );
    // Not TNEF after all: kept as it is.
    let raw = raw.replace(&b64, "bm90IHRuZWY=");
    let m = parse(raw.as_bytes()).unwrap();
    assert_eq!(m.attachments[0].filename.as_deref(), Some("winmail.dat"));
    assert_eq!(m.attachments[0].data, b"not tnef");
}

#[test]
fn cjk_bodies_and_subjects_are_decoded() {
    let mut raw = b"From: =?gb2312?B?xOO6ww==?= <li@example.cn>\r\nSubject: =?GB2312?B?xOO6w6OsysC95w==?=\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
    raw.extend_from_slice(b"\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7\r\n");
    let m = parse(&raw).unwrap();
    assert_eq!(m.subject, "你好，世界");
    assert_eq!(m.from.name.as_deref(), Some("你好"));
    assert_eq!(m.text.trim(), "你好，世界");
    assert_eq!(m.parts[0].charset.as_deref(), Some("gb2312"));
    assert_eq!(
        m.charset_notes,
        ["part 1 (text/plain): gb2312, as declared"]
    );
    let jp = b"From: a@b.test\r\nSubject: =?ISO-2022-JP?B?GyRCJDkkXyReJDskcxsoQg==?=\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B$9$_$^$;$s!#\x1b(B\r\n";
    let m = parse(jp).unwrap();
    assert_eq!(m.subject, "すみません");
    assert_eq!(m.text.trim(), "すみません。");
}

#[test]
fn mislabelled_and_undeclared_charsets() {
    // UTF-8 under an ISO-8859-1 label.
    let raw = "From: a@b.test\r\nSubject: s\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGrüße\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    assert_eq!(m.text.trim(), "Grüße");
    assert_eq!(m.parts[0].charset.as_deref(), Some("utf-8"));
    assert!(
        m.charset_notes[0].contains("but the bytes are UTF-8"),
        "{:?}",
        m.charset_notes
    );
    // 8-bit bytes with no charset: windows-1252.
    let m = parse(b"From: a@b.test\r\nSubject: s\r\n\r\ncaf\xe9 \x80\r\n").unwrap();
    assert_eq!(m.text.trim(), "café €");
    assert!(
        m.charset_notes[0].contains("windows-1252 (none declared"),
        "{:?}",
        m.charset_notes
    );
    // GBK bytes labelled UTF-8, GB2312 declared by the HTML part.
    let mut raw = b"From: a@b.test\r\nSubject: s\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".to_vec();
    raw.extend_from_slice(b"\xc4\xe3\xba\xc3\r\n--A\r\nContent-Type: text/html; charset=gb2312\r\n\r\n<p>\xc4\xe3\xba\xc3</p>\r\n--A--\r\n");
    let m = parse(&raw).unwrap();
    assert_eq!(m.text.trim(), "你好");
    assert!(
        m.charset_notes[0].contains("gb2312 (declared utf-8 does not decode"),
        "{:?}",
        m.charset_notes
    );
    // Raw 8-bit bytes in From and Subject, the body declares the charset.
    let mut raw = b"From: \xd5\xc5\xc8\xfd <zhang@example.cn>\r\nSubject: \xc4\xe3\xba\xc3\r\nContent-Type: text/plain; charset=gbk\r\n\r\n".to_vec();
    raw.extend_from_slice(b"\xc4\xe3\xba\xc3\r\n");
    let m = parse(&raw).unwrap();
    assert_eq!(m.from.name.as_deref(), Some("张三"));
    assert_eq!(m.subject, "你好");
    assert!(
        m.charset_notes
            .iter()
            .any(|n| n == "header From: raw 8-bit bytes read as gbk"),
        "{:?}",
        m.charset_notes
    );
    // A mislabelled encoded word in the Subject.
    let m = parse(
        "From: a@b.test\r\nSubject: =?iso-8859-1?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\nx\r\n".as_bytes(),
    )
    .unwrap();
    assert_eq!(m.subject, "Grüße");
    assert!(
        m.charset_notes[0].starts_with("header Subject: utf-8"),
        "{:?}",
        m.charset_notes
    );
    // Plain UTF-8 mail: no notes.
    let m = parse("From: a@b.test\r\nSubject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n".as_bytes()).unwrap();
    assert!(m.charset_notes.is_empty(), "{:?}", m.charset_notes);
}

#[test]
fn a_recovered_piece_without_headers_is_read_as_text() {
    let raw = "From: a@b.test\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary=OUT\r\n\r\n--OUT\r\nContent-Type: multipart/alternative; boundary=IN\r\n\r\n--IN\r\nContent-Type: text/plain\r\n\r\nfirst words\r\n--OUT\r\nsecond words written straight after the delimiter\r\n--OUT--\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    assert!(m.text.contains("first words"), "{:?}", m.text);
    assert!(
        m.text
            .contains("second words written straight after the delimiter"),
        "{:?} {:?}",
        m.text,
        went(&m)
    );
}
