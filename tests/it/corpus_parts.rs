//! Nothing dropped (issue 20, item 3), over the shared real-world corpus
//! (`../shared/corpus`) and this repository's fixtures: every leaf MIME part
//! that mail-parser finds in a message must be accounted for in what
//! `mail::parse` returns — its words in the text or the HTML, its bytes in
//! an attachment, or the part listed in `ParsedMail::parts` with a reason
//! (a TNEF container unpacked, a region recovered part by part, a dropped
//! epilogue). Run with `-- --nocapture` for the counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mail_parser::{MessageParser, PartType};
use mailroom::mail::parse::Went;

use crate::support::shared_corpus;

/// ASCII words of 3+ letters or digits: the same in every ASCII-compatible
/// charset, so a part read again in another charset still matches.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() >= 3)
        .map(str::to_ascii_lowercase)
        .collect()
}

fn contains_words(hay: &str, part: &str) -> bool {
    let hay: std::collections::HashSet<String> = words(hay).into_iter().collect();
    words(part).iter().all(|w| hay.contains(w))
}

/// Where one leaf went, or None when it is nowhere.
fn account(
    leaf: &mail_parser::MessagePart<'_>,
    m: &mailroom::mail::ParsedMail,
) -> Option<&'static str> {
    // A part listed with a note starting so (the reason it is not plain).
    let listed = |want: Went, note: &str| {
        m.parts
            .iter()
            .any(|p| p.went == want && p.note.as_deref().is_some_and(|n| n.starts_with(note)))
    };
    let in_attachments = |bytes: &[u8]| m.attachments.iter().any(|a| a.data == bytes);
    let html = m.html_source.as_deref().unwrap_or("");
    let attachment_text: String = m
        .attachments
        .iter()
        .map(|a| String::from_utf8_lossy(&a.data).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let recovered = [Went::Text, Went::Html, Went::Attachment]
        .into_iter()
        .any(|w| listed(w, "recovered"));
    if leaf.is_encoding_problem && recovered {
        return Some("recovered");
    }
    match &leaf.body {
        PartType::Multipart(_) => Some("container"),
        PartType::Binary(b) | PartType::InlineBinary(b) => {
            if b.is_empty() {
                Some("empty")
            } else if in_attachments(b) {
                Some("attachment")
            } else if listed(Went::Unpacked, "TNEF") {
                Some("unpacked")
            } else {
                None
            }
        }
        PartType::Message(msg) => in_attachments(msg.raw_message()).then_some("attachment"),
        PartType::Text(t) => {
            if t.trim().is_empty() {
                Some("empty")
            } else if contains_words(&m.text, t) {
                Some("text")
            } else if contains_words(html, t) {
                Some("html")
            } else if contains_words(&attachment_text, t) {
                Some("attachment")
            } else {
                None
            }
        }
        PartType::Html(h) => {
            if h.trim().is_empty() {
                Some("empty")
            } else if contains_words(html, h) {
                Some("html")
            } else if contains_words(&attachment_text, h) {
                Some("attachment")
            } else {
                None
            }
        }
    }
}

/// Whitespace-only lines before the header block, which `mail::parse` skips
/// too (some exports start so).
fn skip_blank_lines(mut raw: &[u8]) -> &[u8] {
    while let Some(end) = raw.iter().position(|&b| b == b'\n') {
        let line = &raw[..end];
        let blank = line.iter().any(|&b| b == b' ' || b == b'\t')
            && line.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r'));
        if !blank {
            break;
        }
        raw = &raw[end + 1..];
    }
    raw
}

fn messages_in(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            messages_in(&p, out);
        } else if !name.ends_with(".expected")
            && !name.ends_with(".txt")
            && !name.ends_with(".html")
            && name != "MANIFEST"
            && name != "MANIFEST.tsv"
            && name != "README.md"
        {
            out.push(p);
        }
    }
}

#[test]
fn every_leaf_part_is_accounted_for() {
    let mut files = Vec::new();
    if let Some(corpus) = shared_corpus() {
        for cat in ["mime", "bounces", "autoreplies", "misc", "replies"] {
            messages_in(&corpus.join(cat), &mut files);
        }
    }
    messages_in(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut files,
    );
    files.sort();
    assert!(files.len() >= 8, "the fixtures at least: {files:?}");

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut lost = Vec::new();
    for f in &files {
        let raw = std::fs::read(f).expect("read message");
        let Ok(m) = mailroom::mail::parse(&raw) else {
            *counts.entry("not parsed (quarantined)").or_default() += 1;
            continue;
        };
        // Every part mailroom lists as not kept says why.
        for p in &m.parts {
            if matches!(p.went, Went::Dropped | Went::Unpacked) {
                assert!(
                    p.note.as_deref().is_some_and(|n| !n.is_empty()),
                    "{}: part {} {:?} without a reason",
                    f.display(),
                    p.path,
                    p.went
                );
            }
        }
        let Some(msg) = MessageParser::default().parse(skip_blank_lines(&raw)) else {
            continue;
        };
        for (i, leaf) in msg.parts.iter().enumerate() {
            match account(leaf, &m) {
                Some(w) => *counts.entry(w).or_default() += 1,
                None => lost.push(format!(
                    "{} part #{i} ({:?})",
                    f.display(),
                    mail_parser::MimeHeaders::content_type(leaf).map(|c| format!(
                        "{}/{}",
                        c.ctype(),
                        c.subtype().unwrap_or("")
                    ))
                )),
            }
        }
    }
    println!("{} messages; leaf parts: {counts:?}", files.len());
    assert!(lost.is_empty(), "parts found nowhere:\n{}", lost.join("\n"));
    assert!(counts.get("text").copied().unwrap_or(0) > 0);
}
