use proptest::prelude::*;

use super::*;

fn attr(level: u8, id: u32, data: &[u8]) -> Vec<u8> {
    let mut v = vec![level];
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    let sum: u32 = data.iter().map(|&b| u32::from(b)).sum();
    v.extend_from_slice(&((sum & 0xFFFF) as u16).to_le_bytes());
    v
}

fn stream(attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut v = SIGNATURE.to_le_bytes().to_vec();
    v.extend_from_slice(&0x0001u16.to_le_bytes());
    for a in attrs {
        v.extend_from_slice(a);
    }
    v
}

/// A property list with string8/unicode/binary/long values.
fn props(list: &[(u16, u16, Vec<u8>)]) -> Vec<u8> {
    let mut v = (list.len() as u32).to_le_bytes().to_vec();
    for (ptype, id, data) in list {
        v.extend_from_slice(&ptype.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
        if *ptype == 0x0003 {
            v.extend_from_slice(data);
            continue;
        }
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v.resize(v.len() + (4 - data.len() % 4) % 4, 0);
    }
    v
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .flat_map(u16::to_le_bytes)
        .chain([0, 0])
        .collect()
}

/// A message with a body in attBody and two files, one named by its long
/// file name (attAttachment) and one by its title only.
fn sample() -> Vec<u8> {
    stream(&[
        attr(1, 0x0008_9006, &[0, 0, 1, 0]),
        attr(1, 0x0006_9007, &1252u32.to_le_bytes().repeat(2)),
        attr(1, 0x0007_8008, b"IPM.Microsoft Mail.Note\0"),
        attr(1, 0x0002_800C, b"Hello from Outlook, caf\xe9.\0"),
        attr(
            2,
            0x0006_9002,
            &[1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        attr(2, 0x0001_8010, b"REPORT~1.PDF\0"),
        attr(2, 0x0006_800F, b"%PDF-1.4 data"),
        attr(
            2,
            0x0006_9005,
            &props(&[
                (0x001F, 0x3707, utf16("Quarterly report.pdf")),
                (0x001E, 0x370E, b"application/pdf\0".to_vec()),
            ]),
        ),
        attr(
            2,
            0x0006_9002,
            &[1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        attr(2, 0x0001_8010, b"notes.txt\0"),
        attr(2, 0x0006_800F, b"plain notes"),
    ])
}

#[test]
fn reads_body_and_files() {
    let t = read(&sample()).expect("TNEF");
    assert_eq!(t.body.as_deref(), Some("Hello from Outlook, café."));
    assert_eq!(t.body_charset, "windows-1252");
    assert_eq!(t.files.len(), 2);
    assert_eq!(t.files[0].name.as_deref(), Some("Quarterly report.pdf"));
    assert_eq!(t.files[0].mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(t.files[0].data, b"%PDF-1.4 data");
    assert_eq!(t.files[1].name.as_deref(), Some("notes.txt"));
    assert_eq!(t.files[1].data, b"plain notes");
}

#[test]
fn pr_body_and_html_in_message_properties() {
    let mp = props(&[
        (0x0003, 0x3FDE, 65001u32.to_le_bytes().to_vec()),
        (0x001F, 0x1000, utf16("Body in PR_BODY: 你好")),
        (0x0102, 0x1013, b"<p>Hi</p>".to_vec()),
    ]);
    let t = read(&stream(&[attr(1, 0x0006_9003, &mp)])).expect("TNEF");
    assert_eq!(t.body.as_deref(), Some("Body in PR_BODY: 你好"));
    assert_eq!(t.html.as_deref(), Some("<p>Hi</p>"));
    assert_eq!(t.body_charset, "utf-8");
}

#[test]
fn named_and_unknown_properties_are_skipped() {
    // A named property (GUID + name) before PR_BODY, then an unknown type.
    let mut mp = 3u32.to_le_bytes().to_vec();
    mp.extend_from_slice(&0x0003u16.to_le_bytes());
    mp.extend_from_slice(&0x8001u16.to_le_bytes());
    mp.extend_from_slice(&[7u8; 16]);
    mp.extend_from_slice(&1u32.to_le_bytes());
    mp.extend_from_slice(&6u32.to_le_bytes());
    mp.extend_from_slice(&[b'a', 0, b'b', 0, 0, 0, 0, 0]); // 6 bytes padded to 8
    mp.extend_from_slice(&42u32.to_le_bytes());
    mp.extend_from_slice(&0x001Eu16.to_le_bytes());
    mp.extend_from_slice(&0x1000u16.to_le_bytes());
    mp.extend_from_slice(&1u32.to_le_bytes());
    mp.extend_from_slice(&3u32.to_le_bytes());
    mp.extend_from_slice(b"hi\0\0");
    mp.extend_from_slice(&0x7777u16.to_le_bytes());
    mp.extend_from_slice(&0x1001u16.to_le_bytes());
    let t = read(&stream(&[attr(1, 0x0006_9003, &mp)])).expect("TNEF");
    assert_eq!(t.body.as_deref(), Some("hi"));
}

#[test]
fn compressed_rtf_is_the_body_when_there_is_no_other() {
    let rtf = b"{\\rtf1\\ansi\\ansicpg1252 Only RTF here\\par}";
    let mut blob = ((rtf.len() + 12) as u32).to_le_bytes().to_vec();
    blob.extend_from_slice(&(rtf.len() as u32).to_le_bytes());
    blob.extend_from_slice(b"MELA");
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(rtf);
    let mp = props(&[(0x0102, 0x1009, blob)]);
    let t = read(&stream(&[attr(1, 0x0006_9003, &mp)])).expect("TNEF");
    assert_eq!(t.body.as_deref(), Some("Only RTF here"));
}

#[test]
fn a_stream_cut_short_keeps_what_came_before() {
    let full = sample();
    let cut = &full[..full.len() - 5];
    let t = read(cut).expect("TNEF");
    assert_eq!(t.body.as_deref(), Some("Hello from Outlook, café."));
    assert_eq!(
        t.files.len(),
        2,
        "the second file has its name, not its data"
    );
    assert!(t.files[1].data.is_empty());
    // Where it stopped: the start of the attribute that was cut.
    let at = t.cut_at.expect("says it was cut");
    assert!(at > 6 && at < cut.len(), "{at}");
    assert_eq!(cut[at], 2, "an attachment-level attribute starts there");
    assert_eq!(read(&full).expect("TNEF").cut_at, None);
    assert_eq!(read(b"not tnef"), Err(TnefError::Signature));
    assert_eq!(read(b""), Err(TnefError::Signature));
    assert!(read(&SIGNATURE.to_le_bytes()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = read(&data);
        let mut with_sig = SIGNATURE.to_le_bytes().to_vec();
        with_sig.extend_from_slice(&data);
        let _ = read(&with_sig);
    }

    #[test]
    fn never_panics_on_mutated_streams(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12),
        cut in any::<usize>(),
    ) {
        let mut s = sample();
        for (at, b) in flips {
            let n = s.len();
            s[at % n] = b;
        }
        let keep = 6 + cut % (s.len() - 5);
        s.truncate(keep);
        let _ = read(&s);
    }
}

#[test]
fn a_nul_inside_the_body_cuts_nothing() {
    let mp = props(&[(0x0102, 0x1013, b"<p>Hi</p>\0<p>more</p>\0\0".to_vec())]);
    let t = read(&stream(&[
        attr(1, 0x0002_800C, b"first\0second\0\0"),
        attr(1, 0x0006_9003, &mp),
    ]))
    .expect("TNEF");
    assert_eq!(t.body.as_deref(), Some("first\0second"));
    assert_eq!(t.html.as_deref(), Some("<p>Hi</p>\0<p>more</p>"));
}
