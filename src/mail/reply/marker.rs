//! The marker line of notifications and the walk back over what a client
//! puts above the quoted notification (attribution, Outlook header, rules).
//!
//! This is a security property: the quoted notification holds internal data
//! and the agent's own address (the Outlook header block "To: Bob <bob@…>"),
//! so nothing of it, nor of the header above it, may reach a customer.

use super::headers::{
    EMAIL, FROM, Strictness, attribution_ending_at, ends_with_colon, header_block_ending_at,
    header_label, is_blank, is_quoted, is_separator,
};

/// Opening and closing tokens of the marker line.
pub(crate) const OPEN: &str = "##-";
pub(crate) const CLOSE: &str = "-##";

/// The marker line every notification carries at the top of its text and HTML.
pub fn marker_line(ticket_ref: &str) -> String {
    format!("{OPEN} Reply above this line to answer {ticket_ref} {CLOSE}")
}

/// The first line holding the marker, quoted or not, also when a client
/// wrapped it over two or three lines (the opening token starts it).
pub(crate) fn find_marker<S: AsRef<str>>(lines: &[S]) -> Option<usize> {
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].as_ref();
        if let Some(p) = line.find(OPEN) {
            let rest = &line[p + OPEN.len()..];
            if rest.contains(CLOSE) || rest.contains("Reply above this line") {
                return Some(i);
            }
            let wrapped = lines[i + 1..]
                .iter()
                .take(2)
                .any(|l| l.as_ref().contains(CLOSE));
            if wrapped {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// From the marker line `m` upwards, skips everything the client placed
/// between the new words and the quoted notification: blank and quoted
/// lines, then one client header: an attribution (also wrapped), an Outlook
/// header block in any language (a run of "Label: value" lines with an
/// address counts too, and so does any line ending with a colon that names
/// an address), then the rules and "Original Message" separators above it.
/// Returns where the new words end. Only one header goes: the agent's own
/// text above it is never taken for a second one.
pub(crate) fn walk_back<S: AsRef<str>>(lines: &[S], m: usize) -> usize {
    let skip = |mut end: usize, quoted: bool| {
        while end > 0 && {
            let l = lines[end - 1].as_ref();
            is_blank(l) || (quoted && is_quoted(l))
        } {
            end -= 1;
        }
        end
    };
    let mut end = skip(m.min(lines.len()), true);
    let header = attribution_ending_at(lines, end)
        .or_else(|| header_block_ending_at(lines, end, Strictness::Weak))
        .or_else(|| generic_header_ending_at(lines, end))
        .or_else(|| loose_attribution_ending_at(lines, end))
        .or_else(|| (end > 0 && is_flat_header(lines[end - 1].as_ref())).then(|| end - 1));
    if let Some(start) = header {
        end = start;
    }
    loop {
        end = skip(end, false);
        if end > 0 && is_separator(lines[end - 1].as_ref()) {
            end -= 1;
        } else {
            return end;
        }
    }
}

/// Above a marker only: a line ending with a colon that names an address
/// is the client's attribution whatever its language ("… <s@x> έγραψε:");
/// a line above it that the client broke inside the name ("… Support <")
/// goes with it. Returns the first line.
fn loose_attribution_ending_at<S: AsRef<str>>(lines: &[S], end: usize) -> Option<usize> {
    let last = lines.get(end.checked_sub(1)?)?.as_ref().trim();
    if last.len() > 300 || !ends_with_colon(last) || !EMAIL.is_match(last) {
        return None;
    }
    let start = end - 1;
    let wrapped = start
        .checked_sub(1)
        .map(|p| lines[p].as_ref().trim_end())
        .is_some_and(|p| p.ends_with(['<', '(', '"', ',']) && !is_quoted(p));
    Some(if wrapped { start - 1 } else { start })
}

/// One line that carries a whole header ("From: a@x Sent: … To: b@y
/// Subject: …", as some HTML-to-text conversions flatten it, or bold
/// labels side by side in one HTML block).
pub(crate) fn is_flat_header(line: &str) -> bool {
    if header_label(line) != Some(FROM) || !EMAIL.is_match(line) {
        return false;
    }
    let lower = line.to_lowercase();
    [
        " to:",
        " sent:",
        " date:",
        " subject:",
        " an:",
        " betreff:",
        " à :",
        " objet :",
    ]
    .iter()
    .filter(|l| lower.contains(*l))
    .count()
        >= 1
}

/// Any short "Label: value" line (an unknown language's header above a marker).
fn is_generic_label(line: &str) -> bool {
    let t = line.trim().trim_start_matches('*');
    match t.find([':', '：']) {
        Some(p) if (1..=30).contains(&p) => {
            let label = t[..p].trim_end_matches('*').trim();
            !label.is_empty()
                && label.split_whitespace().count() <= 3
                && label
                    .chars()
                    .all(|c| c.is_alphabetic() || c == ' ' || c == '-')
        }
        _ => false,
    }
}

/// A run of generic label lines with an address in it that ends just above
/// `end`: returns its first line. Only used above a marker, where the text
/// between the new words and the notification is the client's header.
fn generic_header_ending_at<S: AsRef<str>>(lines: &[S], end: usize) -> Option<usize> {
    let mut k = end;
    let mut address = false;
    while k > 0 && is_generic_label(lines[k - 1].as_ref()) {
        address |= EMAIL.is_match(lines[k - 1].as_ref());
        k -= 1;
    }
    (end - k >= 2 && address).then_some(k)
}
