//! Property tests over bytes (issue "never loop, never send twice, …", item
//! 12): arbitrary bytes and mutated real-world messages go through everything
//! pure that mailroom does with a mail — parse, classify, thread keys, quote
//! stripping (text and HTML), commands, rules — and nothing may panic. CI runs
//! a bounded number of cases (MAILROOM_FUZZ_CASES to change it).

use std::path::Path;

use mailroom::mail::{Classifier, ThreadKeys, parse, reply};
use mailroom::rules::RuleSet;
use mailroom::tickets::commands;
use proptest::prelude::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

/// Real messages to mutate: the shared corpus when present, else the repo's examples.
fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let dirs: Vec<std::path::PathBuf> = ["mime", "bounces", "autoreplies", "misc", "replies"]
        .iter()
        .map(|d| Path::new(CORPUS).join(d))
        .chain(std::iter::once(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/inbox"),
        ))
        .collect();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut files: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if let Ok(b) = std::fs::read(&f) {
                out.push(b);
            }
        }
    }
    out
}

fn rules() -> RuleSet {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.toml"))
            .expect("rules.example.toml");
    let areas = vec![
        "billing".to_string(),
        "tech".to_string(),
        "outage".to_string(),
    ];
    RuleSet::parse(&text, "rules.example.toml", &areas, &[]).expect("example rules are valid")
}

/// Everything pure mailroom does with a mail.
fn exercise(
    raw: &[u8],
    classifier: &Classifier,
    keys: &ThreadKeys,
    rules: &RuleSet,
    dir: &commands::Directory,
) {
    let Ok(m) = parse(raw) else { return };
    let _ = classifier.classify(&m);
    let _ = keys.subject_tag(&m.subject);
    let _ = keys.normalize_subject(&m.subject);
    let r = m.reply();
    let _ = commands::parse(&r.text, dir);
    if let Some(h) = &m.html_source {
        let s = reply::strip_html(h);
        let _ = reply::html_to_text(&s.html);
    }
    let _ = rules.decide_explained(&rules.input(&m));
    let _ = mailroom::mail::thread::referenced_ids(&m.in_reply_to, &m.references);
}

fn cases() -> u32 {
    std::env::var("MAILROOM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Splice(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let fragments = prop::sample::select(vec![
        b"\r\n\r\n".to_vec(),
        b"\r\n> ".to_vec(),
        b"Content-Type: multipart/mixed; boundary=\"X\"\r\n".to_vec(),
        b"--X\r\n".to_vec(),
        b"=?utf-8?q?=00=FF?=".to_vec(),
        b"On Mon, 1 Jan 2026, A <a@b> wrote:\r\n".to_vec(),
        b"##- Reply above this line to answer MR-1 -##".to_vec(),
        b"<blockquote type=\"cite\"><div class=\"gmail_quote\">".to_vec(),
        b"Content-Transfer-Encoding: base64\r\n".to_vec(),
        b"\xff\xfe\x00".to_vec(),
        b"#priority\r\n#cc \r\n".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), fragments).prop_map(|(i, f)| Mutation::Insert(i, f)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Splice(a, b)),
    ]
}

fn apply(mut raw: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = raw.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if !raw.is_empty() {
                    let i = i % raw.len();
                    raw[i] ^= *b;
                }
            }
            Mutation::Truncate(i) => raw.truncate(i % n),
            Mutation::Insert(i, f) => {
                let i = i % n;
                let i = i.min(raw.len());
                raw.splice(i..i, f.iter().copied());
            }
            // Repeats a slice of the message (duplicated headers, boundaries, parts).
            Mutation::Splice(a, b) => {
                let (a, b) = (a % n, b % n);
                let (from, to) = (a.min(b).min(raw.len()), a.max(b).min(raw.len()));
                let part: Vec<u8> = raw[from..to].iter().take(4096).copied().collect();
                raw.splice(to..to, part);
            }
        }
    }
    raw
}

#[test]
fn nothing_pure_panics_on_any_bytes() {
    let seeds = seeds();
    assert!(!seeds.is_empty(), "no seed messages found");
    let classifier = Classifier::new(
        vec!["support@example.test".into()],
        "support@example.test",
        vec!["bob@example.test".into()],
    );
    let keys = ThreadKeys::new("MR");
    let rules = rules();
    let dir = commands::Directory {
        agents: vec![("bob@example.test".into(), Some("Bob".into()))],
        areas: vec!["billing".into()],
        internal: vec!["bob@example.test".into()],
        ticket_prefix: "MR".into(),
    };
    // Every seed as it is, first.
    for s in &seeds {
        exercise(s, &classifier, &keys, &rules, &dir);
    }
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let n = seeds.len();
    proptest!(config, |(pick in 0..n, muts in proptest::collection::vec(mutation(), 1..6))| {
        let raw = apply(seeds[pick].clone(), &muts);
        exercise(&raw, &classifier, &keys, &rules, &dir);
    });
    proptest!(config, |(raw in proptest::collection::vec(any::<u8>(), 0..4096))| {
        exercise(&raw, &classifier, &keys, &rules, &dir);
    });
    println!(
        "fuzz: {n} seeds, {} mutated and {} random inputs, no panic",
        cases(),
        cases()
    );
}
