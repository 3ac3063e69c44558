//! HTML stripping: cut the source at the first quote start (marker, quote
//! container, separator with a header block, or a quote header found in
//! the text projection), then sanitize what is left.

use super::footers::starts_trailer;
use super::headers::{
    Strictness, attribution_at, attribution_ending_at, header_block_at, is_original_message,
    is_quoted, is_separator,
};
use super::marker::{find_marker, is_flat_header, walk_back};
use super::scan::{MarkKind, Scan, scan};
use super::{Cut, HtmlReply, KeptWhole};
use crate::mail::parse::sanitize_html;

struct Candidate {
    cut: usize,
    kind: Cut,
    label: String,
    /// Where the quote container closes (only for containers).
    end: Option<usize>,
}

pub fn strip_html(html: &str) -> HtmlReply {
    let scan = scan(html);
    let texts: Vec<&str> = scan.lines.iter().map(|l| l.text.as_str()).collect();
    let mut best: Option<Candidate> = None;
    let mut consider = |c: Candidate| {
        if best.as_ref().is_none_or(|b| c.cut < b.cut) {
            best = Some(c);
        }
    };

    let marker = find_marker(&texts);
    if let Some(m) = marker {
        let line = &scan.lines[m];
        // The whole quote container that holds the marker goes, and the
        // attribution or header above it.
        let mut cut = line.outer_quote.unwrap_or(line.cut).min(line.cut);
        let first = first_line_at(&scan, cut).min(m);
        let back = walk_back(&texts, first);
        if back < first {
            cut = cut.min(scan.lines[back].cut);
        }
        consider(Candidate {
            cut,
            kind: Cut::Marker,
            label: "the marker line".into(),
            end: None,
        });
    }

    for mark in &scan.marks {
        let accepted = match mark.kind {
            MarkKind::Container => true,
            MarkKind::NeedsHeader => {
                header_block_at(&texts, mark.line, Strictness::Weak).is_some()
                    || texts.get(mark.line).is_some_and(|l| is_flat_header(l))
            }
            MarkKind::NeedsAttribution => attribution_ending_at(&texts, mark.line).is_some(),
        };
        if !accepted {
            continue;
        }
        let mut cut = mark.cut;
        if mark.attribution_above
            && let Some(s) = attribution_ending_at(&texts, mark.line)
        {
            cut = cut.min(scan.lines[s].cut);
        }
        consider(Candidate {
            cut,
            kind: Cut::HtmlQuote,
            label: mark.label.clone(),
            end: mark.end,
        });
    }

    if let Some(c) = text_candidate(&scan, &texts) {
        consider(c);
    }

    let Some(best) = best else {
        return HtmlReply {
            html: sanitize_html(html),
            cut: Cut::None,
            marker_found: false,
            kept_whole: None,
            detail: "no quoted history found".into(),
        };
    };
    decide(html, &scan, best, marker.is_some())
}

/// Index of the first projection line at or after a source offset.
fn first_line_at(scan: &Scan, offset: usize) -> usize {
    scan.lines
        .iter()
        .position(|l| l.content >= offset)
        .unwrap_or(scan.lines.len())
}

fn has_content_before(scan: &Scan, offset: usize) -> bool {
    scan.lines.iter().any(|l| l.content < offset) || scan.media.iter().any(|&m| m < offset)
}

/// Quote headers in the text projection: a separator, an Outlook header
/// block, an attribution, or a trailing run of `>` lines.
fn text_candidate(scan: &Scan, texts: &[&str]) -> Option<Candidate> {
    // From here on every line is `>`-quoted.
    let quoted_tail = texts
        .iter()
        .rposition(|l| !is_quoted(l))
        .map_or(0, |p| p + 1);
    for (i, line) in texts.iter().enumerate() {
        let (kind, label) = if is_original_message(line) {
            (Cut::OriginalMessage, "an \"Original Message\" separator")
        } else if header_block_at(texts, i, Strictness::Strict).is_some() {
            (Cut::OutlookHeader, "a header block")
        } else if attribution_at(texts, i).is_some() {
            (Cut::QuoteHeader, "an attribution")
        } else if i >= quoted_tail {
            (Cut::QuoteBlock, "a trailing > quote")
        } else {
            continue;
        };
        let mut start = i;
        while start > 0 && is_separator(texts[start - 1]) {
            start -= 1;
        }
        if kind == Cut::QuoteBlock
            && let Some(s) = attribution_ending_at(texts, start)
        {
            start = s;
        }
        return Some(Candidate {
            cut: scan.lines[start].cut,
            kind,
            label: label.into(),
            end: None,
        });
    }
    None
}

enum Answer {
    /// New text starts at this offset, under the last quote.
    Below(usize),
    /// New text, another quote, new text again.
    Interleaved,
}

/// New text outside any quote after a quote container that ends at `end`:
/// an answer under the quote, or answers between quotes. A signature or
/// footer under the quote is no answer.
fn answer_after(scan: &Scan, end: usize) -> Option<Answer> {
    let mut lines = scan.lines.iter().filter(|l| l.content > end);
    let first = lines.find(|l| !l.in_quote)?;
    if starts_trailer(&first.text) {
        return None;
    }
    let mut quoted_again = false;
    for l in lines {
        if l.in_quote {
            quoted_again = true;
        } else if quoted_again && !starts_trailer(&l.text) {
            return Some(Answer::Interleaved);
        }
    }
    Some(Answer::Below(first.cut))
}

fn decide(html: &str, scan: &Scan, best: Candidate, marker: bool) -> HtmlReply {
    let removed = first_line_at(scan, best.cut);
    let first_removed = scan
        .lines
        .get(removed)
        .map(|l| {
            let short: String = l.text.chars().take(100).collect();
            format!(": {short:?}")
        })
        .unwrap_or_default();
    let mut reply = HtmlReply {
        html: String::new(),
        cut: if marker { Cut::Marker } else { best.kind },
        marker_found: marker,
        kept_whole: None,
        detail: format!("cut at {}{first_removed}", best.label),
    };
    let before = has_content_before(scan, best.cut);
    let after = best.end.and_then(|end| answer_after(scan, end));
    match (before, after) {
        (true, Some(_)) | (false, Some(Answer::Interleaved)) if !marker => {
            reply.html = sanitize_html(html);
            reply.cut = Cut::None;
            reply.kept_whole = Some(KeptWhole::Interleaved);
            reply.detail = "interleaved answer: quoted blocks between new text, kept whole".into();
        }
        (false, Some(Answer::Below(start))) if !marker => {
            reply.html = sanitize_html(&html[start..]);
            reply.detail = format!("answer below the quote: {}", reply.detail);
        }
        (true, _) => reply.html = sanitize_html(&html[..best.cut]),
        (false, _) => {
            // Nothing new: the caller decides. With a marker, "whole" is
            // only what sits above it.
            let whole = if marker { &html[..best.cut] } else { html };
            reply.html = sanitize_html(whole);
            reply.kept_whole = Some(KeptWhole::WouldBeEmpty);
            reply
                .detail
                .push_str("; stripping would leave no text, kept whole");
        }
    }
    reply
}
