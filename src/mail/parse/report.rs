//! Delivery-report evidence from the MIME structure (RFC 3464, 6522, 5965, 8098)
//! and the Message-IDs of the original a report or bounce returns.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::ReportEvidence;
use super::header_values::strip_brackets;

pub(super) fn report_evidence(
    msg: &mail_parser::Message<'_>,
    recovered: &[mail_parser::Message<'_>],
    own_id: &str,
    text: &str,
) -> ReportEvidence {
    let mut ev = ReportEvidence::default();
    if let Some(ct) = msg.content_type()
        && ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    {
        match ct.attribute("report-type").map(|s| s.to_ascii_lowercase()) {
            Some(t) if t == "delivery-status" => ev.delivery_status = true,
            Some(t) if t == "feedback-report" => ev.feedback_report = true,
            Some(t) if t == "disposition-notification" => ev.disposition_notification = true,
            _ => {}
        }
    }
    let mut ids: Vec<String> = Vec::new();
    // Parts recovered from a multipart that was never closed count too.
    let parts = msg
        .parts
        .iter()
        .chain(recovered.iter().flat_map(|m| m.parts.iter()));
    for part in parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let full = format!(
            "{}/{}",
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase()
        );
        match full.as_str() {
            "message/delivery-status" | "message/global-delivery-status" => {
                ev.delivery_status = true;
                if let Some((action, status)) = dsn_fields(&part_text(part)) {
                    ev.dsn_action = action;
                    ev.dsn_status = status;
                }
            }
            "message/feedback-report" => ev.feedback_report = true,
            "message/disposition-notification" => ev.disposition_notification = true,
            "message/rfc822" | "message/global" => {
                ids.extend(enclosed_id(part));
            }
            "text/rfc822-headers" | "message/rfc822-headers" | "message/global-headers" => {
                ids.extend(enclosed_header_id(&part_text(part)));
            }
            _ => {}
        }
    }
    // Non-standard bounces quote the original headers in the body text. A quoted
    // ID equal to the report's own is the report's own header, not the original's;
    // an enclosure is taken as it is (some MTAs reuse the original's ID).
    ids.extend(
        quoted_message_ids(text)
            .into_iter()
            .filter(|id| id != own_id),
    );
    let mut seen = std::collections::HashSet::new();
    ev.original_message_ids = ids
        .into_iter()
        .filter(|id| !id.is_empty() && seen.insert(id.clone()))
        .collect();
    ev
}

/// The Action and Status of a delivery-status part. One block of fields per
/// recipient: a report about two recipients, one delayed and one failed, is a
/// failure.
fn dsn_fields(body: &str) -> Option<(Option<String>, Option<String>)> {
    let mut recipients: Vec<(Option<String>, Option<String>)> = vec![(None, None)];
    for line in body.lines() {
        if line.trim().is_empty() {
            recipients.push((None, None));
        } else if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().to_ascii_lowercase();
            if let Some(last) = recipients.last_mut() {
                match k.as_str() {
                    "action" => last.0 = Some(v),
                    "status" => last.1 = Some(v),
                    _ => {}
                }
            }
        }
    }
    let mut with_action = recipients.into_iter().filter(|r| r.0.is_some());
    let first = with_action.next()?;
    if first.0.as_deref() == Some("failed") {
        return Some(first);
    }
    Some(
        with_action
            .find(|r| r.0.as_deref() == Some("failed"))
            .unwrap_or(first),
    )
}

/// The Message-ID of an enclosed original (message/rfc822).
fn enclosed_id(part: &mail_parser::MessagePart<'_>) -> Vec<String> {
    let id = match &part.body {
        PartType::Message(inner) => inner.message_id().map(|id| strip_brackets(id).to_string()),
        _ => None,
    };
    match id {
        Some(id) => vec![id],
        // An enclosure mail-parser could not read as a message: look for the
        // field in its header block.
        None => quoted_message_ids(header_block(&part_text(part))),
    }
}

/// The Message-ID of an enclosed original's header block (text/rfc822-headers).
fn enclosed_header_id(body: &str) -> Vec<String> {
    match MessageParser::default()
        .parse_headers(body.as_bytes())
        .and_then(|h| h.message_id().map(|id| strip_brackets(id).to_string()))
    {
        Some(id) => vec![id],
        None => quoted_message_ids(header_block(body)),
    }
}

/// The header block of a message given as text: everything before the first empty line.
fn header_block(text: &str) -> &str {
    let mut end = text.len();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']).is_empty() && pos > 0 {
            end = pos;
            break;
        }
        pos += line.len();
    }
    &text[..end]
}

fn part_text(part: &mail_parser::MessagePart<'_>) -> String {
    match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.to_string(),
        PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b).into_owned(),
        PartType::Message(m) => String::from_utf8_lossy(m.raw_message()).into_owned(),
        PartType::Multipart(_) => String::new(),
    }
}

/// `Message-ID: <…>` lines quoted inside a body (non-DSN bounces), also when the
/// value is folded onto the next line.
fn quoted_message_ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start_matches(['>', ' ', '\t']);
        // Byte-wise prefix test: the line may start with a multi-byte character.
        if t.len() < 11 || !t.as_bytes()[..11].eq_ignore_ascii_case(b"message-id:") {
            continue;
        }
        let mut v = t[11..].trim().to_string();
        if v.is_empty()
            && let Some(next) = lines.peek()
        {
            let n = next.trim_start_matches(['>', ' ', '\t']);
            if n.starts_with('<') {
                v = n.trim().to_string();
            }
        }
        if let (Some(s), Some(e)) = (v.find('<'), v.rfind('>'))
            && e > s + 1
        {
            let id = v[s + 1..e].trim();
            if id.contains('@') && !id.contains(char::is_whitespace) {
                out.push(id.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::mail::parse::parse;

    #[test]
    fn dsn_yields_original_message_id() {
        let raw = "From: MAILER-DAEMON@mx.test\r\nTo: support@example.test\r\nSubject: Undelivered Mail\r\nMessage-ID: <bounce1@mx.test>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\nFinal-Recipient: rfc822; x@y.test\r\nAction: failed\r\nStatus: 5.1.1\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.test\r\nMessage-ID: <orig-1@example.test>\r\nSubject: Re: hi\r\n--B--\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert!(m.report.delivery_status);
        assert_eq!(m.report.dsn_action.as_deref(), Some("failed"));
        assert_eq!(m.report.dsn_status.as_deref(), Some("5.1.1"));
        assert_eq!(m.report.original_message_ids, vec!["orig-1@example.test"]);
    }

    #[test]
    fn quoted_message_ids_in_bounce_text() {
        let raw = "From: MAILER-DAEMON@mx.test\r\nSubject: failure notice\r\nMessage-ID: <own@mx.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nПревед: could not deliver.\r\nüMessage-ID: <not-a-header@x.test>\r\n--- Below this line is a copy of the message.\r\n> Message-ID:\r\n>  <orig-2@example.test>\r\nMessage-ID: <own@mx.test>\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.report.original_message_ids, vec!["orig-2@example.test"]);
    }

    #[test]
    fn enclosed_original_reusing_the_report_id_is_kept() {
        let raw = "From: MAILER-DAEMON@mx.test\r\nSubject: Undelivered\r\nMessage-ID: <same@example.test>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; x@y.test\r\nAction: failed\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.test\r\nMessage-ID: <same@example.test>\r\n--B--\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.report.original_message_ids, vec!["same@example.test"]);
    }
}
