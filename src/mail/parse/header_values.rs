//! Header values as mailroom reads them: unfolded text, bare Message-IDs, the
//! headers that say a machine sent the mail.

use mail_parser::{HeaderValue, Message};

use super::{AutoHeaders, LOOP_HEADER};

pub(super) fn raw_header(msg: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    msg.header_raw(name).map(|v| unfold(v).trim().to_string())
}

pub(super) fn unfold(v: &str) -> String {
    v.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn strip_brackets(id: &str) -> &str {
    let id = id.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    id.strip_suffix('>').unwrap_or(id)
}

pub(super) fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match v {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|s| s.as_ref()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|s| strip_brackets(s).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The headers that say a machine sent the mail (classification's evidence).
pub(super) fn auto_headers(msg: &Message) -> AutoHeaders {
    AutoHeaders {
        auto_submitted: raw_header(msg, "Auto-Submitted"),
        precedence: raw_header(msg, "Precedence"),
        x_auto_response_suppress: raw_header(msg, "X-Auto-Response-Suppress"),
        list_id: raw_header(msg, "List-Id"),
        list_unsubscribe: msg.header_raw("List-Unsubscribe").is_some(),
        return_path: msg.header_raw("Return-Path").map(|v| {
            let v = unfold(v);
            strip_brackets(v.trim()).trim().to_ascii_lowercase()
        }),
        loop_values: msg
            .headers_raw()
            .filter(|(n, _)| n.eq_ignore_ascii_case(LOOP_HEADER))
            .map(|(_, v)| unfold(v).trim().to_ascii_lowercase())
            .collect(),
        x_autoreply: msg.header_raw("X-Autoreply").is_some()
            || msg.header_raw("X-Autorespond").is_some()
            || msg.header_raw("X-Autoresponse").is_some(),
        x_failed_recipients: raw_header(msg, "X-Failed-Recipients"),
        feedback_type: raw_header(msg, "Feedback-Type"),
    }
}
