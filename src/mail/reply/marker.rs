//! The marker line of notifications and the walk back over what a client
//! puts above the quoted notification (attribution, Outlook header, rules).
//!
//! This is a security property: the quoted notification holds internal data
//! and the agent's own address (the Outlook header block "To: Bob <bob@…>"),
//! so nothing of it, nor of the header above it, may reach a customer.

use super::headers::{
    Strictness, attribution_ending_at, generic_header_ending_at, header_block_ending_at, is_blank,
    is_flat_header, is_quoted, is_separator, loose_attribution_ending_at,
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
