//! The new words of a mail's body, whichever part holds them: what
//! `ParsedMail::reply` (and so `mailroom inspect`, agents' replies and
//! customers' follow-ups) uses.
//!
//! A mail with a text part is stripped as text. A mail whose text is only a
//! rendering of its HTML (no text part, or an empty one) is stripped as HTML
//! first: the quote containers, separators and block boundaries that tell
//! where the history starts live in the markup, and a flat rendering loses
//! them ("Reply<hr>From: …" renders as "ReplyFrom: …"). The kept HTML is then
//! rendered and stripped as text too, for what only the text pass knows
//! (footers, closing formulas, `>` quotes typed into the HTML).

use super::marker::find_marker;
use super::{Cut, Reply, html_to_text, strip_html, strip_text};

/// `text` is the mail's text; `html` its HTML as sent when the text is only a
/// rendering of it (None when the mail has a text part of its own).
pub fn strip_body(text: &str, html: Option<&str>) -> Reply {
    let Some(html) = html else {
        return strip_text(text);
    };
    // The marker wins before any heuristic: should the HTML pass miss a
    // marker the rendered text shows, the text pass, which cuts there, is used.
    let lines: Vec<&str> = text.lines().collect();
    let h = strip_html(html);
    if !h.marker_found && find_marker(&lines).is_some() {
        return strip_text(text);
    }
    let rendered = html_to_text(&h.html);
    let html_detail = format!("html: {}", h.detail);
    if let Some(why) = h.kept_whole {
        // The HTML pass already decided to keep the part whole (answers
        // between quotes, or nothing new): the text pass must not cut it.
        return Reply {
            text: rendered.trim().to_string(),
            cut: h.cut,
            marker_found: h.marker_found,
            kept_whole: Some(why),
            footer_removed: false,
            closing_removed: false,
            list_footer_removed: false,
            detail: html_detail,
        };
    }
    let mut r = strip_text(&rendered);
    r.marker_found |= h.marker_found;
    // The text pass cuts what the HTML pass kept: its cut ends the text when
    // it made one, else the HTML's does.
    if h.marker_found {
        r.cut = Cut::Marker;
    } else if r.cut == Cut::None || r.kept_whole.is_some() {
        r.cut = h.cut;
    }
    r.detail = format!("{html_detail}; text: {}", r.detail);
    r
}
