//! Plain-text stripping: marker, then the history start (attribution,
//! Outlook header, separator), then the shape of the `>` quotes
//! (top-post, bottom-post, interleaved), then the trailer (footers, closing).

use super::attribution::{is_bare_attribution, split_embedded};
use super::footers::{clean_tail, is_mobile_footer, starts_trailer};
use super::headers::{
    Strictness, attribution_at, header_block_at, header_label, is_blank, is_forwarded,
    is_original_message, is_quoted, is_rule, is_separator,
};
use super::marker::{find_marker, walk_back};
use super::{Cut, KeptWhole, Reply};

/// Where the quoted history starts, and what told us.
struct Found {
    /// The line that was recognised (for the event detail).
    at: usize,
    /// Where the new part ends (separators and blank lines above `at` go too).
    end: usize,
    cut: Cut,
}

enum Shape {
    Whole(KeptWhole),
    Part {
        start: usize,
        end: usize,
        cut: Cut,
        at: Option<usize>,
        bottom: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Attribution,
    Quote,
    New,
}

pub fn strip_text(input: &str) -> Reply {
    let normalized = if input.contains('\r') {
        input.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        input.to_string()
    };
    let normalized = split_embedded(normalized);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let marker = find_marker(&lines);
    // Above the marker only: the notification below it never comes back,
    // not even when the text is kept whole.
    let limit = marker.map_or(lines.len(), |m| walk_back(&lines, m));
    let body = &lines[..limit];

    let mut attribution = vec![false; body.len()];
    let found = history_start(body, &mut attribution);
    let region_end = found.as_ref().map_or(body.len(), |f| f.end);
    let shape = shape(body, region_end, &attribution, found.as_ref());

    let whole = || join(trim_lines(body)).trim().to_string();
    let mut reply = Reply::empty(marker.is_some());
    let (start, end, cut, at, bottom) = match shape {
        Shape::Whole(why) => {
            reply.text = whole();
            reply.kept_whole = Some(why);
            reply.cut = if marker.is_some() {
                Cut::Marker
            } else {
                Cut::None
            };
            let interleaved = "interleaved answer: quoted lines between new text, kept whole";
            reply.detail = match marker {
                Some(m) => format!("{}; {interleaved}", marker_detail(&lines, m, limit)),
                None => interleaved.into(),
            };
            return reply;
        }
        Shape::Part {
            start,
            end,
            cut,
            at,
            bottom,
        } => (start, end, cut, at, bottom),
    };

    let part = &body[start..end];
    let (len, tail) = clean_tail(part);
    let kept = trim_lines(&part[..len]);
    reply.text = join(kept).trim_end().to_string();
    reply.footer_removed = tail.footer;
    reply.closing_removed = tail.closing;
    reply.list_footer_removed = tail.list;
    reply.cut = if marker.is_some() { Cut::Marker } else { cut };

    let mut detail = match marker {
        Some(m) => marker_detail(&lines, m, limit),
        None => cut_detail(&lines, at, bottom),
    };
    for (flag, note) in [
        (tail.footer, "mobile footer dropped"),
        (tail.list, "mailing-list footer dropped"),
        (tail.closing, "closing formula dropped"),
    ] {
        if flag {
            detail.push_str("; ");
            detail.push_str(note);
        }
    }
    if reply.text.trim().is_empty() {
        reply.text = whole();
        reply.kept_whole = Some(KeptWhole::WouldBeEmpty);
        detail.push_str("; stripping would leave no text, kept whole");
    }
    reply.detail = detail;
    reply
}

impl Reply {
    fn empty(marker_found: bool) -> Reply {
        Reply {
            text: String::new(),
            cut: Cut::None,
            marker_found,
            kept_whole: None,
            footer_removed: false,
            closing_removed: false,
            list_footer_removed: false,
            detail: String::new(),
        }
    }
}

/// Where the quoted history was cut, without a marker.
fn cut_detail(lines: &[&str], at: Option<usize>, bottom: bool) -> String {
    match at {
        Some(at) if bottom => format!(
            "answer below the quote: quoted lines from line {} ({}) removed",
            at + 1,
            quote_line(lines[at])
        ),
        Some(at) => format!("cut at line {} ({})", at + 1, quote_line(lines[at])),
        None => "no quoted history found".to_string(),
    }
}

fn quote_line(line: &str) -> String {
    let t = line.trim();
    let short: String = t.chars().take(100).collect();
    if short.len() < t.len() {
        format!("{:?}", format!("{short}…"))
    } else {
        format!("{short:?}")
    }
}

fn marker_detail(lines: &[&str], m: usize, limit: usize) -> String {
    let mut d = format!("marker at line {} ({})", m + 1, quote_line(lines[m]));
    if let Some(first) = (limit..m).find(|&i| !is_blank(lines[i]))
        && first < m
    {
        d.push_str(&format!(
            ", client header above it removed from line {} ({})",
            first + 1,
            quote_line(lines[first])
        ));
    }
    d
}

fn next_non_blank(lines: &[&str], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&i| !is_blank(lines[i]))
}

/// Up over blank lines and separators ("____", "-----Original Message-----").
fn back_over_separators(lines: &[&str], i: usize) -> usize {
    let mut k = i;
    while k > 0 && (is_blank(lines[k - 1]) || is_separator(lines[k - 1])) {
        k -= 1;
    }
    k
}

/// Could quoted history start at line `n`? (Then a footer above it is only
/// a footer, not the start of headerless history.)
fn is_structural(lines: &[&str], n: usize) -> bool {
    let l = lines[n];
    is_quoted(l)
        || is_separator(l)
        || header_label(l).is_some()
        || attribution_at(lines, n).is_some()
}

/// The first unquoted line where quoted history starts. Attributions that
/// introduce a `>` block are only marked: the quote shape decides about them.
fn history_start(lines: &[&str], attribution: &mut [bool]) -> Option<Found> {
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_blank(line) || is_quoted(line) {
            i += 1;
            continue;
        }
        let found = |cut| {
            Some(Found {
                at: i,
                end: back_over_separators(lines, i),
                cut,
            })
        };
        if is_original_message(line) {
            return found(Cut::OriginalMessage);
        }
        if is_forwarded(line) || is_rule(line) {
            // Only history when a header block follows (a forwarded text of
            // the reply's own, or a list footer's rule, is not).
            if let Some(n) = next_non_blank(lines, i + 1)
                && n <= i + 2
                && header_block_at(lines, n, Strictness::Weak).is_some()
            {
                let cut = if is_rule(line) {
                    Cut::OutlookHeader
                } else {
                    Cut::OriginalMessage
                };
                return found(cut);
            }
        }
        if header_block_at(lines, i, Strictness::Strict).is_some() {
            return found(Cut::OutlookHeader);
        }
        let bare = || {
            is_bare_attribution(line)
                && next_non_blank(lines, i + 1).is_some_and(|n| is_quoted(lines[n]))
        };
        if let Some(e) = attribution_at(lines, i).or_else(|| bare().then_some(i + 1)) {
            match next_non_blank(lines, e) {
                Some(n) if is_quoted(lines[n]) => {
                    attribution[i..e].iter_mut().for_each(|a| *a = true);
                    i = e;
                    continue;
                }
                _ => return found(Cut::QuoteHeader),
            }
        }
        if is_mobile_footer(line)
            && let Some(n) = next_non_blank(lines, i + 1)
            && !is_structural(lines, n)
        {
            // Mobile clients put the quoted original under their footer
            // without any header: the footer ends the new text.
            return found(Cut::MobileFooter);
        }
        i += 1;
    }
    None
}

/// An unquoted line inside a `>` block: the client wrapped a long quoted
/// line without re-quoting its end ("> … pharetra d\nignissim odio?\n>"),
/// or a link in parentheses ("> View (http://x/a\n_b=1)\n>", " (http://x) >").
fn is_wrapped_quote(lines: &[&str], i: usize) -> bool {
    if i == 0 || i + 1 >= lines.len() || !is_quoted(lines[i - 1]) || !is_quoted(lines[i + 1]) {
        return false;
    }
    let prev = lines[i - 1].trim_start().trim_start_matches('>').trim();
    let t = lines[i].trim();
    let link = t.starts_with("(http") && t.trim_end_matches(['>', ' ']).ends_with(')');
    let link_end = !t.contains(' ')
        && t.ends_with(')')
        && prev
            .rfind("(http")
            .is_some_and(|p| !prev[p..].contains(')'));
    link || link_end
        || prev.chars().count() >= 50
            && t.starts_with(|c: char| c.is_lowercase() || c.is_ascii_digit())
}

fn shape(lines: &[&str], region_end: usize, attribution: &[bool], found: Option<&Found>) -> Shape {
    let kinds = line_kinds(lines, region_end, attribution);
    let history = |end| Shape::Part {
        start: 0,
        end,
        cut: found.map_or(Cut::None, |f| f.cut),
        at: found.map(|f| f.at),
        bottom: false,
    };
    let Some(first_q) = kinds.iter().position(|k| *k == Kind::Quote) else {
        return history(region_end);
    };

    let first_new = match first_answer(lines, &kinds) {
        Ok(n) => n,
        Err(whole) => return whole,
    };
    let quote_start = attribution_above(&kinds, first_q);
    let cut = if kinds[quote_start] == Kind::Attribution {
        Cut::QuoteHeader
    } else {
        Cut::QuoteBlock
    };
    match first_new {
        // Top-post: the new words end where the quote (or its attribution) starts.
        Some(n) if n < first_q => Shape::Part {
            start: 0,
            end: quote_start,
            cut,
            at: Some(quote_start),
            bottom: false,
        },
        // Bottom-post: the answer follows the quote, up to the next quote
        // (with its attribution) if a trailer-only one follows.
        Some(n) => Shape::Part {
            start: n,
            end: quote_start_after(&kinds, n).unwrap_or(region_end),
            cut: Cut::QuoteBlock,
            at: Some(quote_start),
            bottom: true,
        },
        None => Shape::Part {
            start: 0,
            end: 0,
            cut,
            at: Some(quote_start),
            bottom: false,
        },
    }
}

/// Each line up to `region_end`: blank, attribution, quoted or new.
fn line_kinds(lines: &[&str], region_end: usize, attribution: &[bool]) -> Vec<Kind> {
    (0..region_end)
        .map(|i| {
            let l = lines[i];
            if is_blank(l) {
                Kind::Blank
            } else if attribution[i] {
                Kind::Attribution
            } else if is_quoted(l) || is_wrapped_quote(lines, i) {
                Kind::Quote
            } else {
                Kind::New
            }
        })
        .collect()
}

/// The first line of new text; `Err` when new text comes back after a quote
/// a second time (an interleaved answer, kept whole).
fn first_answer(lines: &[&str], kinds: &[Kind]) -> Result<Option<usize>, Shape> {
    let mut first_new = None;
    let mut after_quote = false;
    for (i, kind) in kinds.iter().enumerate() {
        match kind {
            Kind::Quote => after_quote = true,
            Kind::New => {
                if after_quote {
                    if starts_trailer(lines[i]) {
                        // A signature or footer under the quote is no answer.
                        break;
                    }
                    if first_new.is_some() {
                        return Err(Shape::Whole(KeptWhole::Interleaved));
                    }
                }
                after_quote = false;
                first_new.get_or_insert(i);
            }
            Kind::Blank | Kind::Attribution => {}
        }
    }
    Ok(first_new)
}

/// The quote starting at line `first_q` starts at its attribution when it
/// has one.
fn attribution_above(kinds: &[Kind], first_q: usize) -> usize {
    let mut quote_start = first_q;
    let mut k = first_q;
    while k > 0 && matches!(kinds[k - 1], Kind::Blank | Kind::Attribution) {
        k -= 1;
        if kinds[k] == Kind::Attribution {
            quote_start = k;
        }
    }
    quote_start
}

/// Where the next quote after line `n` starts, with its attribution.
fn quote_start_after(kinds: &[Kind], n: usize) -> Option<usize> {
    let q = (n..kinds.len()).find(|&i| kinds[i] == Kind::Quote)?;
    let mut start = q;
    while start > n && matches!(kinds[start - 1], Kind::Blank | Kind::Attribution) {
        start -= 1;
    }
    Some(start)
}

/// Leading blank lines go; the text's own blank lines and indentation stay.
fn trim_lines<'a, 'b>(lines: &'a [&'b str]) -> &'a [&'b str] {
    let start = lines
        .iter()
        .position(|l| !is_blank(l))
        .unwrap_or(lines.len());
    &lines[start..]
}

fn join(lines: &[&str]) -> String {
    lines.join("\n")
}
