//! Raw bytes -> `ParsedMail`: everything mailroom reads in a message, with no I/O.

use std::borrow::Cow;

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

/// Name of mailroom's own loop-detection header.
pub const LOOP_HEADER: &str = "X-Mailroom-Loop";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mailbox {
    pub name: Option<String>,
    /// Lowercased address.
    pub email: String,
}

impl Mailbox {
    pub fn display(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => format!("{n} <{}>", self.email),
            _ => self.email.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub sha256: String,
    pub data: Vec<u8>,
}

/// Headers that say a message was sent by a machine (DESIGN §6).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AutoHeaders {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub x_auto_response_suppress: Option<String>,
    pub list_id: Option<String>,
    pub list_unsubscribe: bool,
    /// `Some("")` for `Return-Path: <>`.
    pub return_path: Option<String>,
    pub loop_values: Vec<String>,
    pub x_autoreply: bool,
    pub x_failed_recipients: Option<String>,
    pub feedback_type: Option<String>,
}

/// What the MIME structure says about delivery reports (RFC 3464, 6522, 5965, 8098).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReportEvidence {
    /// multipart/report; report-type=delivery-status, or a message/delivery-status part.
    pub delivery_status: bool,
    /// Action field of the per-recipient DSN fields (failed, delayed, …).
    pub dsn_action: Option<String>,
    pub dsn_status: Option<String>,
    /// ARF abuse/feedback report (message/feedback-report).
    pub feedback_report: bool,
    /// MDN read receipt (message/disposition-notification).
    pub disposition_notification: bool,
    /// Message-IDs of the enclosed original (message/rfc822 or text/rfc822-headers),
    /// or quoted in the body of a non-standard bounce.
    pub original_message_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ParsedMail {
    /// Without angle brackets.
    pub message_id: String,
    /// True when the mail had no Message-ID and one was derived from its content.
    pub message_id_synthetic: bool,
    /// SHA-256 of the message without transport headers (Received, Delivered-To, …).
    pub content_hash: String,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// The whole text body (a text rendering of the HTML when there is no text part).
    pub text: String,
    /// Sanitized HTML body, when the mail has one.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub auto: AutoHeaders,
    pub report: ReportEvidence,
    pub size: usize,
}

impl ParsedMail {
    /// Where replies go: Reply-To when given, else From.
    pub fn reply_address(&self) -> &Mailbox {
        self.reply_to.as_ref().unwrap_or(&self.from)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseFailure {
    #[error("empty message")]
    Empty,
    #[error("not a mail message: no header block could be parsed")]
    NoHeaders,
    #[error("no usable sender: {0}")]
    NoSender(String),
}

/// Transport headers that differ between deliveries of one mail; left out of the content hash.
const TRANSPORT_HEADERS: &[&str] = &[
    "received",
    "delivered-to",
    "return-path",
    "x-original-to",
    "x-delivered-to",
    "envelope-to",
    "x-envelope-to",
    "x-rcpt-to",
    "x-received",
    "authentication-results",
    "arc-seal",
    "arc-message-signature",
    "arc-authentication-results",
    "received-spf",
    "x-spam-status",
    "x-spam-score",
    "x-spam-level",
    "x-spam-flag",
    "x-spam-checker-version",
    "x-virus-scanned",
    "x-mailroom-origin",
];

pub fn parse(raw: &[u8]) -> Result<ParsedMail, ParseFailure> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseFailure::Empty);
    }
    let msg = MessageParser::default()
        .parse(skip_leading_blank_lines(raw))
        .ok_or(ParseFailure::NoHeaders)?;
    if msg.headers().is_empty() {
        return Err(ParseFailure::NoHeaders);
    }

    let content_hash = content_hash(raw);
    let (message_id, synthetic) = match msg.message_id().map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => (strip_brackets(id).to_string(), false),
        None => (format!("{}@mailroom.invalid", &content_hash[..32]), true),
    };

    let auto = AutoHeaders {
        auto_submitted: raw_header(&msg, "Auto-Submitted"),
        precedence: raw_header(&msg, "Precedence"),
        x_auto_response_suppress: raw_header(&msg, "X-Auto-Response-Suppress"),
        list_id: raw_header(&msg, "List-Id"),
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
        x_failed_recipients: raw_header(&msg, "X-Failed-Recipients"),
        feedback_type: raw_header(&msg, "Feedback-Type"),
    };

    let mut text_parts: Vec<Cow<'_, str>> = Vec::new();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            text_parts.push(t);
        }
    }
    let text = text_parts.join("\n");
    // mail-parser lists a text/plain part among the HTML bodies of a text-only
    // mail (and renders it as HTML): only a real text/html part counts.
    let html = msg.html_bodies().find_map(|p| match &p.body {
        PartType::Html(h) => Some(sanitize_html(h)),
        _ => None,
    });

    let mut attachments = Vec::new();
    for part in msg.attachments() {
        let data: &[u8] = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b,
            PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
            PartType::Message(m) => m.raw_message(),
            PartType::Multipart(_) => continue,
        };
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(s) => format!("{}/{}", ct.ctype(), s),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        attachments.push(Attachment {
            filename: part.attachment_name().map(str::to_string),
            content_type,
            sha256: hex::encode(Sha256::digest(data)),
            data: data.to_vec(),
        });
    }

    let report = report_evidence(&msg, &message_id, &text);

    let from = match first_mailbox(msg.from()).or_else(|| first_mailbox(msg.sender())) {
        Some(m) => m,
        None => machine_sender(&msg, &report, &message_id).ok_or_else(|| {
            ParseFailure::NoSender(match msg.header_raw("From") {
                Some(v) => format!("From header {:?} holds no address", v.trim()),
                None => "no From or Sender header".into(),
            })
        })?,
    };

    Ok(ParsedMail {
        message_id,
        message_id_synthetic: synthetic,
        content_hash,
        from,
        reply_to: first_mailbox(msg.reply_to()),
        to: mailboxes(msg.to()),
        cc: mailboxes(msg.cc()),
        subject: msg
            .subject()
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        date: msg
            .date()
            .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single()),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        text,
        html,
        attachments,
        auto,
        report,
        size: raw.len(),
    })
}

/// Some exports and fixtures put whitespace-only lines before the header block;
/// a header block cannot start with one, so they are skipped. A truly empty
/// first line (no headers at all) is left alone.
fn skip_leading_blank_lines(raw: &[u8]) -> &[u8] {
    let mut rest = raw;
    loop {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return rest;
        };
        let line = &rest[..end];
        let blank_but_not_empty = line.iter().any(|&b| b == b' ' || b == b'\t')
            && line.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r'));
        if !blank_but_not_empty {
            return rest;
        }
        rest = &rest[end + 1..];
    }
}

/// Local parts that mail systems use for the null sender of their reports.
pub const DAEMON_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "mail-daemon",
    "mailerdaemon",
    "mdaemon",
    "postmaster",
];

/// The sender of a delivery report whose From holds no usable address: an
/// unqualified `MAILER-DAEMON`, `<>`, or no From at all on a delivery-status
/// report. The mail system is named after the host in its Message-ID when
/// there is one. Anything else without a sender stays a parse failure.
fn machine_sender(
    msg: &mail_parser::Message<'_>,
    report: &ReportEvidence,
    message_id: &str,
) -> Option<Mailbox> {
    let raw_from = msg.header_raw("From").map(unfold).unwrap_or_default();
    let (name, addr) = match (raw_from.find('<'), raw_from.rfind('>')) {
        (Some(s), Some(e)) if e > s => (raw_from[..s].trim(), raw_from[s + 1..e].trim()),
        _ => ("", raw_from.trim()),
    };
    let name = name.trim_matches('"').trim();
    let addr_is_daemon = DAEMON_LOCAL_PARTS
        .iter()
        .any(|d| addr.eq_ignore_ascii_case(d));
    let name_is_daemon = DAEMON_LOCAL_PARTS
        .iter()
        .any(|d| name.eq_ignore_ascii_case(d));
    // `From: MAILER-DAEMON`, `From: Mail Delivery Subsystem <MAILER-DAEMON>`,
    // `From: MAILER-DAEMON <>`; `From: <>` or no From only on a delivery report.
    let machine = addr_is_daemon || (addr.is_empty() && (name_is_daemon || report.delivery_status));
    if !machine {
        return None;
    }
    let local = if addr_is_daemon {
        addr.to_ascii_lowercase()
    } else {
        "mailer-daemon".into()
    };
    let host = message_id
        .rsplit_once('@')
        .map(|(_, h)| h.trim().to_ascii_lowercase())
        .filter(|h| {
            h.contains('.') && !h.ends_with("mailroom.invalid") && !h.contains(char::is_whitespace)
        })
        .unwrap_or_else(|| "unknown.invalid".into());
    Some(Mailbox {
        name: Some(if name.is_empty() {
            "MAILER-DAEMON".to_string()
        } else {
            name.to_string()
        }),
        email: format!("{local}@{host}"),
    })
}

fn raw_header(msg: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    msg.header_raw(name).map(|v| unfold(v).trim().to_string())
}

fn unfold(v: &str) -> String {
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

fn to_mailbox(name: Option<&str>, address: Option<&str>) -> Option<Mailbox> {
    let email = address?
        .trim()
        .trim_matches(['<', '>'])
        .to_ascii_lowercase();
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || domain.is_empty() || email.contains(char::is_whitespace) {
        return None;
    }
    let name = name
        .map(|n| n.trim().trim_matches('"').trim().to_string())
        .filter(|n| !n.is_empty());
    Some(Mailbox { name, email })
}

fn mailboxes(addr: Option<&Address<'_>>) -> Vec<Mailbox> {
    addr.map(|a| {
        a.iter()
            .filter_map(|x| to_mailbox(x.name(), x.address()))
            .collect()
    })
    .unwrap_or_default()
}

fn first_mailbox(addr: Option<&Address<'_>>) -> Option<Mailbox> {
    mailboxes(addr).into_iter().next()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
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

/// SHA-256 over the header fields that are not transport headers, then the body.
/// The same mail delivered twice (other Received/Delivered-To) hashes the same.
pub fn content_hash(raw: &[u8]) -> String {
    let (head, body) = split_header_body(raw);
    let mut h = Sha256::new();
    for field in header_fields(head) {
        let name_end = field.iter().position(|&b| b == b':').unwrap_or(field.len());
        let name = String::from_utf8_lossy(&field[..name_end])
            .trim()
            .to_ascii_lowercase();
        if TRANSPORT_HEADERS.contains(&name.as_str()) {
            continue;
        }
        // Line endings are normalised: one hop may rewrite CRLF to LF.
        for line in field.split(|&b| b == b'\n') {
            h.update(line.strip_suffix(b"\r").unwrap_or(line));
            h.update(b"\n");
        }
    }
    h.update(b"\n");
    for line in body.split(|&b| b == b'\n') {
        h.update(line.strip_suffix(b"\r").unwrap_or(line));
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

fn split_header_body(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    while i < raw.len() {
        // A line that is empty (after an optional CR) ends the header block.
        let rest = &raw[i..];
        if rest.starts_with(b"\r\n") {
            return (&raw[..i], &raw[i + 2..]);
        }
        if rest.starts_with(b"\n") {
            return (&raw[..i], &raw[i + 1..]);
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(p) => i += p + 1,
            None => return (raw, &[]),
        }
    }
    (raw, &[])
}

/// Splits a header block into fields, keeping folded continuation lines with their field.
fn header_fields(head: &[u8]) -> Vec<&[u8]> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < head.len() {
        let end = head[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| i + p + 1)
            .unwrap_or(head.len());
        let next_is_continuation = head.get(end).is_some_and(|b| *b == b' ' || *b == b'\t');
        if !next_is_continuation {
            fields.push(&head[start..end]);
            start = end;
        }
        i = end;
    }
    fields
}

/// HTML is sanitized before it is stored or rendered: no scripts, no event
/// handlers, no remote-content tricks beyond what ammonia's allow-list keeps.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

fn report_evidence(msg: &mail_parser::Message<'_>, own_id: &str, text: &str) -> ReportEvidence {
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
    for part in &msg.parts {
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
                let body = part_text(part);
                for line in body.lines() {
                    if let Some((k, v)) = line.split_once(':') {
                        let k = k.trim().to_ascii_lowercase();
                        let v = v.trim().to_ascii_lowercase();
                        if k == "action" && ev.dsn_action.is_none() {
                            ev.dsn_action = Some(v);
                        } else if k == "status" && ev.dsn_status.is_none() {
                            ev.dsn_status = Some(v);
                        }
                    }
                }
            }
            "message/feedback-report" => ev.feedback_report = true,
            "message/disposition-notification" => ev.disposition_notification = true,
            "message/rfc822" | "message/global" => {
                let id = match &part.body {
                    PartType::Message(inner) => {
                        inner.message_id().map(|id| strip_brackets(id).to_string())
                    }
                    _ => None,
                };
                match id {
                    Some(id) => ids.push(id),
                    // An enclosure mail-parser could not read as a message: look
                    // for the field in its header block.
                    None => ids.extend(quoted_message_ids(header_block(&part_text(part)))),
                }
            }
            "text/rfc822-headers" | "message/rfc822-headers" | "message/global-headers" => {
                let body = part_text(part);
                match MessageParser::default()
                    .parse_headers(body.as_bytes())
                    .and_then(|h| h.message_id().map(|id| strip_brackets(id).to_string()))
                {
                    Some(id) => ids.push(id),
                    None => ids.extend(quoted_message_ids(header_block(&body))),
                }
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
    use super::*;

    const SIMPLE: &str = "From: \"Alice Example\" <Alice@Customer.test>\r\nTo: support@example.test\r\nCc: Dan <dan@customer.test>, eve@customer.test\r\nSubject: =?UTF-8?B?SGVsbG8gd8O2cmxk?=\r\nMessage-ID: <abc@customer.test>\r\nIn-Reply-To: <x1@example.test>\r\nReferences: <x0@example.test> <x1@example.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\nReceived: from a by b\r\n\r\nHello there\r\n";

    #[test]
    fn parses_headers_and_body() {
        let m = parse(SIMPLE.as_bytes()).unwrap();
        assert_eq!(m.message_id, "abc@customer.test");
        assert!(!m.message_id_synthetic);
        assert_eq!(m.from.email, "alice@customer.test");
        assert_eq!(m.from.name.as_deref(), Some("Alice Example"));
        assert_eq!(m.subject, "Hello wörld");
        assert_eq!(m.cc.len(), 2);
        assert_eq!(m.in_reply_to, vec!["x1@example.test"]);
        assert_eq!(m.references, vec!["x0@example.test", "x1@example.test"]);
        assert_eq!(m.text.trim(), "Hello there");
        assert_eq!(m.date.unwrap().to_rfc3339(), "2026-11-24T09:00:00+00:00");
        assert!(m.html.is_none());
    }

    #[test]
    fn content_hash_ignores_transport_headers_only() {
        let a = content_hash(SIMPLE.as_bytes());
        let other_delivery = SIMPLE.replace(
            "Received: from a by b\r\n",
            "Received: from c by d\r\nDelivered-To: sales@example.test\r\n",
        );
        assert_eq!(a, content_hash(other_delivery.as_bytes()));
        let lf_only = SIMPLE.replace("\r\n", "\n");
        assert_eq!(a, content_hash(lf_only.as_bytes()));
        let other_body = SIMPLE.replace("Hello there", "Hello again");
        assert_ne!(a, content_hash(other_body.as_bytes()));
    }

    #[test]
    fn missing_message_id_is_derived_from_content() {
        let raw = SIMPLE.replace("Message-ID: <abc@customer.test>\r\n", "");
        let a = parse(raw.as_bytes()).unwrap();
        let b = parse(raw.as_bytes()).unwrap();
        assert!(a.message_id_synthetic);
        assert_eq!(a.message_id, b.message_id);
        assert!(a.message_id.ends_with("@mailroom.invalid"));
    }

    #[test]
    fn no_sender_is_an_error() {
        let raw = "To: support@example.test\r\nSubject: hi\r\n\r\nbody\r\n";
        assert!(matches!(
            parse(raw.as_bytes()),
            Err(ParseFailure::NoSender(_))
        ));
        let raw = "From: undisclosed\r\nSubject: hi\r\n\r\nbody\r\n";
        assert!(matches!(
            parse(raw.as_bytes()),
            Err(ParseFailure::NoSender(_))
        ));
        assert_eq!(parse(b"  \r\n").unwrap_err(), ParseFailure::Empty);
    }

    #[test]
    fn html_only_is_sanitized_and_rendered_as_text() {
        let raw = "From: a@b.test\r\nSubject: h\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi <b>there</b></p><script>alert(1)</script><a href=\"x\" onclick=\"evil()\">l</a>\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        let html = m.html.unwrap();
        assert!(!html.contains("script"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(
            m.text.contains("Hi there")
                || m.text.contains("Hi\u{a0}there")
                || m.text.contains("Hi"),
            "{}",
            m.text
        );
        assert!(!m.text.contains('<'), "{}", m.text);
    }

    #[test]
    fn attachments_have_hash_and_name() {
        let raw = "From: a@b.test\r\nSubject: att\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--XX\r\nContent-Type: text/plain; name=\"notes.txt\"\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nfile body\r\n--XX--\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(
            m.attachments.len(),
            1,
            "a .txt attachment of a plain-text mail is kept"
        );
        let a = &m.attachments[0];
        assert_eq!(a.filename.as_deref(), Some("notes.txt"));
        assert_eq!(a.content_type, "text/plain");
        assert_eq!(a.sha256, hex::encode(Sha256::digest(&a.data)));
        assert!(m.text.contains("see file"));
        assert!(!m.text.contains("file body"), "{}", m.text);
    }

    #[test]
    fn latin1_charset_is_decoded() {
        let mut raw = b"From: a@b.test\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe\r\n".to_vec();
        raw.extend_from_slice(b"");
        let m = parse(&raw).unwrap();
        assert!(m.text.contains("Grüße"), "{}", m.text);
    }

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
    fn leading_whitespace_line_is_skipped() {
        let raw = format!("{}\n{SIMPLE}", " ".repeat(40));
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.from.email, "alice@customer.test");
        assert_eq!(m.subject, "Hello wörld");
        // An empty first line still means "no header block".
        assert!(parse(format!("\r\n{SIMPLE}").as_bytes()).is_err());
    }

    const DSN_BODY: &str = "Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\nFinal-Recipient: rfc822; x@y.test\r\nAction: failed\r\nStatus: 5.3.4\r\n--B--\r\n";

    #[test]
    fn unqualified_mail_system_sender_is_accepted() {
        for from in [
            "From: MAILER-DAEMON\r\n",
            "From: Mail Delivery Subsystem <MAILER-DAEMON>\r\n",
            "From: MAILER-DAEMON <>\r\n",
            "From: <>\r\n",
            "",
        ] {
            let raw = format!(
                "{from}Subject: Returned mail\r\nMessage-ID: <b1@smtp.mx.test>\r\n{DSN_BODY}"
            );
            let m = parse(raw.as_bytes()).unwrap_or_else(|e| panic!("{from:?}: {e}"));
            assert!(
                m.from.email.ends_with("@smtp.mx.test"),
                "{from:?}: {}",
                m.from.email
            );
            assert!(m.report.delivery_status);
        }
        // Not a report and not a mail-system name: still no sender.
        let raw = "From: <>\r\nSubject: hi\r\n\r\nbody\r\n";
        assert!(matches!(
            parse(raw.as_bytes()),
            Err(ParseFailure::NoSender(_))
        ));
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
