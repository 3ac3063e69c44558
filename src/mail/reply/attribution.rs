//! "On … wrote:" attributions and their shapes: one line, wrapped over up
//! to three lines, starting with a date, or embedded at the end of a line
//! of new text. Cheap byte tests run before any regex.

use std::sync::LazyLock;

use regex::Regex;

use super::headers::{DATE, EMAIL, ends_with_colon, is_blank, is_quoted};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static pattern")
}

/// Verbs that end an attribution ("… wrote:", "… a écrit :", "…写道："),
/// optionally followed by a colon and trailing dashes (Zoho: "wrote ----").
// No `\b` in these patterns: a Unicode word boundary makes the regex crate
// leave its fast DFA on non-ASCII lines (Cyrillic, CJK, accents); a
// consumed non-word character does the same job here.
static VERB_END: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:(?:^|\W)(?:wrote|writes|schrieb|geschrieben|geschreven|a\s+écrit|escribió|escreveu|ha\s+scritto|scrisse|schreef|skrev|skrive|napisał\(a\)|napisała|napisał|pisze|kirjoitti|написал\(а\)|написала|написал|пишет|írta|napsal\(a\)|napsala|napsal|yazdı|έγραψε)|写道|寫道|書きました|のメッセージ|작성)\s*[:：]?$",
    )
});

/// The same verbs in the middle: "Am … schrieb Alice <a@x>:", "Den … skrev Bo:".
static VERB_MID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:^|\W)(?:wrote|schrieb|schreef|skrev|a\s+écrit|escribió|escreveu|ha\s+scritto|napisał|pisze|kirjoitti|написал|írta)\W.*[:：]$",
    )
});

/// Words that open an attribution in some language ("On", "Am", "Le", "El",
/// "Il", "In data", "Em", "Op", "W dniu", "Dnia", "Den", "På", "在"…).
static PREFIX: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^(?:on|am|le|el|il|in|em|op|w|dnia|den|d\.|på|dne|в|在|el\s+día)\s"));

/// "… <a@x>" at the very end, no colon: a date-first attribution that some
/// clients write without one ("2011/4/7 Nathan <n@x>" over a `>` quote).
static EMAIL_END: LazyLock<Regex> = LazyLock::new(|| re(r"<[^<>\s]+@[^<>\s]+>$"));

/// "… <a@x>:" at the end, the shape of attributions without a verb
/// ("30.09.2017, 18.30, \"John\" <j@x>:", "2026-03-03 10:02 GMT+01:00 Alice <a@x>:").
static EMAIL_COLON_END: LazyLock<Regex> =
    LazyLock::new(|| re(r"<[^<>\s]+@[^<>\s]+>\s*[:：]$|\([^()\s]+@[^()\s]+\)\s*[:：]$"));

fn ascii_ends_with(b: &[u8], suffix: &[u8]) -> bool {
    b.len() >= suffix.len() && b[b.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// Strips the dashes some clients put around an attribution ("---- On … wrote ----").
fn undecorate(line: &str) -> &str {
    line.trim()
        .trim_start_matches(['-', '*', '_'])
        .trim_end_matches(['-', '*', '_'])
        .trim()
}

/// One (possibly joined) attribution text: "On <date>, <name> wrote:" and its
/// translations, or "<date> <name> <addr>:". A sentence that merely starts
/// with "On" or contains "wrote" does not match: an attribution needs a date,
/// an address, or the prefix plus a comma, and must end with the verb or a colon.
pub(crate) fn is_attribution(text: &str) -> bool {
    let t = undecorate(text);
    if t.len() < 6 || t.len() > 400 {
        return false;
    }
    // Only "… wrote" (Zoho, no colon) may end without a colon.
    if !ends_with_colon(t) && !ascii_ends_with(t.as_bytes(), b"wrote") {
        return false;
    }
    let has_email = EMAIL.is_match(t);
    let has_date = DATE.is_match(t);
    if VERB_END.is_match(t) {
        let cjk = !t.is_ascii()
            && ["写道", "寫道", "書きました", "のメッセージ", "작성"]
                .iter()
                .any(|v| t.contains(v));
        return has_email
            || has_date
            || cjk
            || (ends_with_colon(t) && PREFIX.is_match(t) && t.contains(','));
    }
    if ends_with_colon(t) && (has_email || has_date) && VERB_MID.is_match(t) {
        return true;
    }
    // "On <date>, <name> <a@x> sent:" (talon): the verb alone is too common,
    // so the whole shape is required.
    if ascii_ends_with(t.as_bytes(), b" sent:") && has_email && has_date && PREFIX.is_match(t) {
        return true;
    }
    has_date && EMAIL_COLON_END.is_match(t)
}

/// A date-first attribution without a colon ("2011/4/7 Nathan <n@x>"): only
/// an attribution when a `>` quote follows it (the caller checks).
pub(crate) fn is_bare_attribution(line: &str) -> bool {
    let t = line.trim();
    t.len() <= 200
        && t.starts_with(|c: char| c.is_ascii_digit())
        && t.ends_with('>')
        && DATE.is_match(t)
        && EMAIL_END.is_match(t)
}

/// Could this line be the first line of an attribution that the client
/// wrapped over several lines?
fn starts_attribution(line: &str) -> bool {
    let t = undecorate(line);
    if t.is_empty() || t.len() > 250 || t.ends_with(['.', '!', '?', ';']) {
        return false;
    }
    PREFIX.is_match(t)
        || t.starts_with(|c: char| c.is_ascii_digit())
        || DATE.is_match(t)
        || EMAIL.is_match(t)
}

/// The attribution that starts at `lines[i]`, on one line or wrapped over up
/// to three: returns the index just past its last line.
pub(crate) fn attribution_at<S: AsRef<str>>(lines: &[S], i: usize) -> Option<usize> {
    let first = lines.get(i)?.as_ref();
    if is_blank(first) || is_quoted(first) {
        return None;
    }
    if is_attribution(first) {
        return Some(i + 1);
    }
    // Cheap test first: a wrapped attribution ends within two lines with a
    // colon or "wrote"; most prose does not.
    let ends_like = |l: &S| {
        let b = l.as_ref().trim_end().as_bytes();
        b.ends_with(b":") || b.ends_with("：".as_bytes()) || ascii_ends_with(b, b"wrote")
    };
    if !lines.iter().skip(i + 1).take(2).any(ends_like) || !starts_attribution(first) {
        return None;
    }
    let mut joined = first.trim().to_string();
    for (n, next) in lines.iter().enumerate().take(i + 3).skip(i + 1) {
        let next = next.as_ref().trim();
        if next.is_empty() || next.len() > 160 {
            return None;
        }
        if let Some(rest) = next.strip_prefix('>') {
            // "<a@x\n>:" : only the wrapped closing bracket may start with '>'.
            let rest = rest.trim();
            if rest != ":" && rest != "：" {
                return None;
            }
            joined.push_str(next);
        } else {
            // A complete attribution of its own starts here instead.
            if PREFIX.is_match(next) && is_attribution(next) {
                return None;
            }
            // A client that broke the line inside "<address>" added no space there.
            if !(joined.ends_with(['<', '(']) || next.starts_with('@')) {
                joined.push(' ');
            }
            joined.push_str(next);
        }
        if is_attribution(&joined) {
            return Some(n + 1);
        }
    }
    None
}

/// The attribution that ends just above `end` (for walking back from a
/// marker): returns its first line. The longest match wins, so a wrapped
/// attribution goes whole.
pub(crate) fn attribution_ending_at<S: AsRef<str>>(lines: &[S], end: usize) -> Option<usize> {
    (end.saturating_sub(3)..end).find(|&s| attribution_at(lines, s) == Some(end))
}

/// Where an attribution starts inside a line of new text ("Thanks! On Wed,
/// Apr 4, 2012, Bob <b@x> wrote:", "reply--- On … wrote:"): the byte offset
/// of its first word, when the text before it is no attribution of its own
/// (no date, no address) and the rest of the line is a whole attribution.
pub(crate) fn embedded_attribution(line: &str) -> Option<usize> {
    let b = line.trim_end().as_bytes();
    // Cheap test first: an attribution ends with a colon or "wrote".
    if !(b.ends_with(b":") || b.ends_with("：".as_bytes()) || ascii_ends_with(b, b"wrote")) {
        return None;
    }
    let lead = line.trim_start();
    // A quoted line stays whole: its parts belong to the quote.
    if lead.is_empty()
        || is_quoted(lead)
        || PREFIX.is_match(undecorate(lead))
        || lead.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    // Candidate starts: a prefix word after a space or a dash.
    let mut from = 0;
    while let Some(rel) = line[from..].find([' ', '-']) {
        let at = from + rel + 1;
        from = at;
        let rest = &line[at..];
        // Capitalised, as a sentence of its own starts: "… meet on Monday
        // at 10:00 with Bob <b@x>:" is prose.
        if !rest.starts_with(char::is_uppercase) || !PREFIX.is_match(rest) {
            continue;
        }
        let before = line[..at].trim_end_matches(['-', ' ']).trim();
        if before.is_empty() || EMAIL.is_match(before) || DATE.is_match(before) {
            return None;
        }
        if is_attribution(rest) {
            return Some(at);
        }
    }
    None
}

/// Puts an attribution that starts inside a line of new text ("Thanks! On
/// … wrote:") on a line of its own, without the dashes some clients put
/// before it, so the new words before it stay.
pub(crate) fn split_embedded(text: String) -> String {
    if !text.lines().any(|l| embedded_attribution(l).is_some()) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split('\n') {
        if !out.is_empty() {
            out.push('\n');
        }
        match embedded_attribution(line) {
            Some(at) => {
                out.push_str(line[..at].trim_end_matches(['-', ' ']));
                out.push('\n');
                out.push_str(&line[at..]);
            }
            None => out.push_str(line),
        }
    }
    out
}
