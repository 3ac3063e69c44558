//! TEMPORARY stand-in for the quote stripper being written on branch
//! reply-strip; same API. Replaced on merge.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    Marker,
    QuoteHeader,
    OutlookHeader,
    OriginalMessage,
    QuoteBlock,
    HtmlQuote,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptWhole {
    Interleaved,
    WouldBeEmpty,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Reply {
    pub text: String,
    pub cut: Cut,
    pub marker_found: bool,
    pub kept_whole: Option<KeptWhole>,
    pub footer_removed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HtmlReply {
    pub html: String,
    pub cut: Cut,
    pub marker_found: bool,
    pub kept_whole: Option<KeptWhole>,
    pub detail: String,
}

pub fn marker_line(ticket_ref: &str) -> String {
    format!("##- Reply above this line to answer {ticket_ref} -##")
}

pub fn strip_text(text: &str) -> Reply {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    let mut cut = Cut::None;
    let mut marker_found = false;
    for (i, l) in lines.iter().enumerate() {
        if l.contains("##-") && l.contains("-##") {
            end = i;
            cut = Cut::Marker;
            marker_found = true;
            break;
        }
        if l.trim_start().starts_with('>')
            || (l.starts_with("On ") && l.trim_end().ends_with("wrote:"))
        {
            end = i;
            cut = Cut::QuoteBlock;
            break;
        }
    }
    let mut kept: Vec<&str> = lines[..end].to_vec();
    while kept.last().is_some_and(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('>') || t.ends_with("wrote:")
    }) {
        kept.pop();
    }
    let out = kept.join("\n").trim().to_string();
    if out.is_empty() {
        return Reply {
            text: text.trim().to_string(),
            cut,
            marker_found,
            kept_whole: Some(KeptWhole::WouldBeEmpty),
            footer_removed: false,
            detail: "empty".into(),
        };
    }
    Reply {
        text: out,
        cut,
        marker_found,
        kept_whole: None,
        footer_removed: false,
        detail: format!("cut at line {}", end + 1),
    }
}

pub fn strip_html(html: &str) -> HtmlReply {
    let lower = html.to_ascii_lowercase();
    let at = lower
        .find("##-")
        .or_else(|| lower.find("gmail_quote"))
        .or_else(|| lower.find("<blockquote type=\"cite\""));
    match at {
        Some(i) => HtmlReply {
            html: crate::mail::parse::sanitize_html(&html[..lower[..i].rfind('<').unwrap_or(i)]),
            cut: Cut::HtmlQuote,
            marker_found: lower.contains("##-"),
            kept_whole: None,
            detail: "cut".into(),
        },
        None => HtmlReply {
            html: crate::mail::parse::sanitize_html(html),
            cut: Cut::None,
            marker_found: false,
            kept_whole: None,
            detail: "whole".into(),
        },
    }
}

pub fn html_to_text(html: &str) -> String {
    mail_parser::decoders::html::html_to_text(html)
}
