//! The multilingual patterns that introduce quoted history: Outlook header
//! blocks, "Original Message" separators (attributions: `attribution`).
//!
//! Every check works on one line (or a few joined lines) and is pure. Cheap
//! byte tests run before any regex: most lines of a reply are prose and leave
//! at the first test.

use std::sync::LazyLock;

use regex::Regex;

use super::phrases::{FORWARDED, FROM_LABELS, ORIGINAL, SENT_LABELS, SUBJECT_LABELS, TO_LABELS};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static pattern")
}

/// An e-mail address (loose: "a@x" counts, as clients shorten nothing else).
pub(crate) static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)*|mailto:"));

/// Something that looks like a date or a time.
pub(crate) static DATE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|\D)(?:(?:19|20)\d{2}|\d{1,2}[:.]\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})(?:\D|$)|\d{4}年|\d{1,2}月",
    )
});

/// The words of a separator line: rules (`-=_*~`) and spaces around them
/// dropped, lowercase, one space between words ("----- Original  Message
/// -----" -> "original message"). Plain string work instead of a
/// case-insensitive regex, which costs more to compile than a one-mail
/// `ingest -` has for the whole mail.
fn separator_words(line: &str) -> String {
    let t =
        line.trim_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '=' | '_' | '*' | '~'));
    lowercase_words(t)
}

/// `line` lowercase with one space between its words: what the phrase lists
/// here and in `footers` are compared with.
pub(crate) fn lowercase_words(line: &str) -> String {
    line.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

pub(crate) fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// A `>`-quoted line (any depth, leading spaces allowed).
pub(crate) fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

pub(crate) fn ends_with_colon(t: &str) -> bool {
    t.ends_with(':') || t.ends_with('：')
}

pub(crate) use super::attribution::{attribution_at, attribution_ending_at};

/// Header classes as bits.
pub(crate) const FROM: u8 = 1;
pub(crate) const SENT: u8 = 2;
pub(crate) const TO: u8 = 4;
pub(crate) const SUBJECT: u8 = 8;

/// The class of a header label line ("From: …", "*Von:* …", "Objet : …").
pub(crate) fn header_label(line: &str) -> Option<u8> {
    // Cheap test first: a label is short, so a colon must come early.
    let colon = match line.find([':', '：']) {
        Some(p) if p <= 64 => p,
        _ => return None,
    };
    let label = label_words(&line[..colon]);
    [
        (FROM_LABELS, FROM),
        (SENT_LABELS, SENT),
        (TO_LABELS, TO),
        (SUBJECT_LABELS, SUBJECT),
    ]
    .into_iter()
    .find_map(|(labels, class)| labels.contains(&label.as_str()).then_some(class))
}

/// What stands before a label's colon, without the spaces and up to two
/// asterisks (bold) on each side, as `lowercase_words`.
fn label_words(head: &str) -> String {
    let t = head.trim();
    let t = t
        .strip_prefix("**")
        .or_else(|| t.strip_prefix('*'))
        .unwrap_or(t);
    let t = t.trim();
    let t = t
        .strip_suffix("**")
        .or_else(|| t.strip_suffix('*'))
        .unwrap_or(t);
    lowercase_words(t)
}

/// How sure we must be that a run of label lines is a quoted message header.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strictness {
    /// Free-standing in the text: needs From plus another field, and an
    /// address (or a dated Sent/Date line plus a Subject).
    Strict,
    /// After a separator (rule, `<hr>`, Outlook border) or above a marker:
    /// two different fields are enough.
    Weak,
}

/// The header block that starts at `lines[i]`: returns the index past its
/// last label line. Value lines that a client wrapped ("From: Human
/// Resources\n<hr@x>") may sit between label lines.
pub(crate) fn header_block_at<S: AsRef<str>>(
    lines: &[S],
    i: usize,
    strictness: Strictness,
) -> Option<usize> {
    let first = lines.get(i)?.as_ref();
    let first_dated = header_label(first)? == SENT && DATE.is_match(first);
    let mut classes = 0u8;
    let mut labels = 0usize;
    let mut end = i;
    let mut has_address = false;
    let mut dated_sent = false;
    let mut pending_address = false;
    let mut continuation = 0;
    for (k, line) in lines.iter().enumerate().skip(i) {
        let line = line.as_ref();
        if is_blank(line) || is_quoted(line) {
            break;
        }
        if let Some(class) = header_label(line) {
            classes |= class;
            labels += 1;
            end = k + 1;
            continuation = 0;
            has_address |= pending_address || EMAIL.is_match(line);
            pending_address = false;
            dated_sent |= class == SENT && DATE.is_match(line);
        } else {
            continuation += 1;
            if continuation > 2 || line.len() > 200 {
                break;
            }
            pending_address |= EMAIL.is_match(line);
        }
        if labels >= 12 {
            break;
        }
    }
    let distinct = classes.count_ones();
    let valid = match strictness {
        Strictness::Strict => {
            (classes & FROM != 0
                && distinct >= 2
                && (has_address || (dated_sent && classes & SUBJECT != 0)))
                // A block that starts with its date: "Date: …" then "To: a@x".
                || (first_dated && classes & TO != 0 && has_address)
        }
        Strictness::Weak => distinct >= 2 && classes & (FROM | SUBJECT) != 0,
    };
    valid.then_some(end)
}

/// The header block that ends just above `end`: returns its first line.
pub(crate) fn header_block_ending_at<S: AsRef<str>>(
    lines: &[S],
    end: usize,
    strictness: Strictness,
) -> Option<usize> {
    // Walk up over label and wrapped value lines, then test from the top.
    let mut start = None;
    let mut k = end;
    let mut continuation = 0;
    while k > 0 {
        let line = lines[k - 1].as_ref();
        if is_blank(line) || is_quoted(line) {
            break;
        }
        if header_label(line).is_some() {
            start = Some(k - 1);
            continuation = 0;
        } else {
            continuation += 1;
            if continuation > 2 {
                break;
            }
        }
        k -= 1;
    }
    // Its last field may have wrapped onto a line or two of its own.
    let start = start?;
    header_block_at(lines, start, strictness)
        .is_some_and(|e| e <= end && end - e <= 2)
        .then_some(start)
}

/// "-----Original Message-----" and translations.
pub(crate) fn is_original_message(line: &str) -> bool {
    let t = line.trim();
    t.len() <= 80 && ORIGINAL.contains(&separator_words(t).as_str())
}

/// "Begin forwarded message:", "---------- Forwarded message ---------".
pub(crate) fn is_forwarded(line: &str) -> bool {
    let t = line.trim();
    if t.len() > 80 {
        return false;
    }
    // An optional colon after the words: "Forwarded message: ----".
    let words = separator_words(t);
    let words = words
        .strip_suffix(':')
        .map_or(words.as_str(), str::trim_end);
    FORWARDED.contains(&words)
}

/// A horizontal rule drawn with characters ("____", " -----", "====").
pub(crate) fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 4 && t.chars().all(|c| matches!(c, '-' | '_' | '=' | '*' | '~'))
}

/// Anything that may sit between new text and the quoted header it
/// introduces: rules and (original / forwarded) message separators.
pub(crate) fn is_separator(line: &str) -> bool {
    is_rule(line) || is_original_message(line) || is_forwarded(line)
}
