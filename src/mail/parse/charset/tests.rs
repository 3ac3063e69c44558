use super::*;

fn others(l: &[&str]) -> Vec<String> {
    l.iter().map(|s| s.to_string()).collect()
}

#[test]
fn cjk_and_windows_charsets_decode() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "gb2312",
            b"\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7",
            "你好，世界",
        ),
        ("gbk", b"\xc4\xe3\xba\xc3", "你好"),
        ("gb18030", b"\xc4\xe3\xba\xc3", "你好"),
        ("big5", b"\xa7A\xa6n\xa1A\xa5@\xac\xc9", "你好，世界"),
        ("iso-2022-jp", b"\x1b$B%O%m!<\x1b(B", "ハロー"),
        ("shift_jis", b"\x83n\x83\x8D\x81[", "ハロー"),
        ("euc-jp", b"\xa5\xcf\xa5\xed\xa1\xbc", "ハロー"),
        ("euc-kr", b"\xbe\xc8\xb3\xe7", "안녕"),
        ("ks_c_5601-1987", b"\xbe\xc8\xb3\xe7", "안녕"),
        ("windows-1250", b"sla\x9a\xe8i\xe8arno", "slaščičarno"),
        ("windows-1251", b"\xcf\xf0\xe8\xe2\xe5\xf2", "Привет"),
        ("windows-1252", b"\x80 caf\xe9", "€ café"),
        ("windows-1253", b"\xc3\xe5\xe9\xdc", "Γειά"),
        ("windows-1254", b"Kebab\xfdm\xfd", "Kebabımı"),
        ("windows-1255", b"\xf9\xec\xe5\xed", "שלום"),
        ("windows-1256", b"\xe3\xd1\xcd\xc8\xc7", "مرحبا"),
        ("windows-1257", b"h\xf5ljuk", "hõljuk"),
        ("windows-1258", b"ch\xe0o", "chào"),
        ("cp936", b"\xc4\xe3\xba\xc3", "你好"),
    ];
    for (label, bytes, want) in cases {
        let (text, used) = decode(bytes, Some(label), &[]);
        assert_eq!(&text, want, "{label}");
        assert_eq!(used, Used::Declared(label.to_string()), "{label}");
    }
}

#[test]
fn utf8_first_even_under_another_label() {
    let (t, used) = decode("Grüße".as_bytes(), Some("iso-8859-1"), &[]);
    assert_eq!(t, "Grüße");
    assert_eq!(used, Used::Utf8Mislabelled("iso-8859-1".into()));
    let (t, used) = decode(b"plain ascii", Some("iso-8859-1"), &[]);
    assert_eq!((t.as_str(), used), ("plain ascii", Used::Plain));
    let (_, used) = decode("ü".as_bytes(), None, &[]);
    assert_eq!(used, Used::Plain);
}

#[test]
fn a_declared_charset_that_fails_falls_back_to_the_mails_others() {
    // GBK bytes labelled UTF-8: not UTF-8, so the mail's other charset.
    let (t, used) = decode(
        b"\xc4\xe3\xba\xc3",
        Some("utf-8"),
        &others(&["utf-8", "gb2312"]),
    );
    assert_eq!(t, "你好");
    assert!(
        matches!(used, Used::Other { ref used, .. } if used == "gb2312"),
        "{used:?}"
    );
    // Nothing else declared: windows-1252 decodes anything.
    let (t, used) = decode(b"caf\xe9", Some("utf-8"), &[]);
    assert_eq!(t, "café");
    assert_eq!(
        used,
        Used::Fallback {
            declared: Some("utf-8".into())
        }
    );
    let (t, used) = decode(b"caf\xe9", None, &[]);
    assert_eq!(
        (t.as_str(), used),
        ("café", Used::Fallback { declared: None })
    );
    // Malformed Shift_JIS (a lone lead byte at the end) is not clean.
    let (_, used) = decode(b"\x83n\x83", Some("shift_jis"), &[]);
    assert!(used.is_repair(), "{used:?}");
    // An unknown label is no obstacle.
    let (t, _) = decode(b"caf\xe9", Some("x-unknown"), &[]);
    assert_eq!(t, "café");
}

#[test]
fn iso_2022_jp_is_read_before_utf8() {
    let (t, used) = decode(b"\x1b$B$9$_$^$;$s!#\x1b(B", Some("iso-2022-jp"), &[]);
    assert_eq!(t, "すみません。");
    assert_eq!(used, Used::Declared("iso-2022-jp".into()));
}

#[test]
fn charsets_declared_anywhere_are_found() {
    let raw = b"Subject: =?GB2312?B?xOO6ww==?=\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=\"Big5\"\r\n\r\nhi\r\n--x\r\nContent-Type: text/html; CHARSET=utf-8\r\n";
    assert_eq!(declared_in(raw), ["gb2312", "big5", "utf-8"]);
}

#[test]
fn raw_8bit_header_bytes_are_repaired() {
    let raw = b"From: \xc4\xe3\xba\xc3 <a@b.test>\r\nSubject: ok\r\nContent-Type: text/plain; charset=gbk\r\n\r\n\xc4\xe3\r\n";
    let (fixed, notes) = repair_header_block(raw).expect("repaired");
    let s = String::from_utf8(fixed[..fixed.len() - 4].to_vec()).expect("utf-8 header");
    assert!(s.starts_with("From: 你好 <a@b.test>\r\n"), "{s}");
    assert!(
        fixed.ends_with(b"\r\n\r\n\xc4\xe3\r\n"),
        "the body is untouched"
    );
    assert_eq!(notes, ["header From: raw 8-bit bytes read as gbk"]);
    assert!(repair_header_block(b"Subject: ok\r\n\r\n\xff").is_none());
    // No charset anywhere: windows-1252.
    let (fixed, notes) = repair_header_block(b"Subject: caf\xe9\r\n\r\n").expect("repaired");
    assert_eq!(fixed, "Subject: café\r\n\r\n".as_bytes());
    assert_eq!(
        notes,
        ["header Subject: raw 8-bit bytes read as windows-1252"]
    );
}

#[test]
fn made_up_charset_labels_are_not_collected() {
    let mut raw =
        String::from("From: a@b.test\r\nContent-Type: text/plain; charset=x-none-0\r\n\r\n");
    for i in 0..100_000 {
        raw.push_str(&format!("charset=x-made-up-{i} "));
    }
    raw.push_str("charset=GB2312 =?big5?B?pA==?= charset=gb2312");
    assert_eq!(declared_in(raw.as_bytes()), ["gb2312", "big5"]);
    let many: String = (0..40)
        .map(|i| {
            format!(
                "charset=iso-8859-{} charset=windows-125{} ",
                i % 16 + 1,
                i % 9
            )
        })
        .collect();
    assert!(declared_in(many.as_bytes()).len() <= MAX_DECLARED);
}

#[test]
fn a_wide_top_level_charset_never_repairs_the_header() {
    // A UTF-16 (or UTF-7) label on the mail must not be used for raw 8-bit
    // header bytes: decoded as UTF-16, "From: …" would lose its colon.
    for label in ["utf-16", "utf-16le", "utf-7"] {
        let raw = format!(
            "From: Caf\u{fffd} <a@b.test>\r\nSubject: ok\r\nContent-Type: text/plain; charset={label}\r\n\r\nx\r\n"
        )
        .replace('\u{fffd}', "\u{0}");
        let mut raw = raw.into_bytes();
        let at = raw.iter().position(|&b| b == 0).expect("marker");
        raw[at] = 0xE9; // é in latin-1: not UTF-8
        let (fixed, _) = repair_header_block(&raw).expect("repaired");
        let text = String::from_utf8(fixed).expect("utf-8");
        assert!(
            text.starts_with("From: Café <a@b.test>\r\nSubject: ok\r\n"),
            "{label}: {text:?}"
        );
    }
}
