//! Raw bytes -> `ParsedMail`: everything mailroom reads in a message, with no I/O.
//!
//! This module holds the model and the `parse` entry point; the submodules read
//! senders, header values, delivery-report evidence and the content hash.

mod address;
mod hash;
mod header_values;
mod report;

use std::borrow::Cow;

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

pub use address::DAEMON_LOCAL_PARTS;
pub use hash::{content_hash, text_hash};
pub use header_values::strip_brackets;

use address::{first_mailbox, machine_sender, mailboxes};
use header_values::{ids, raw_header, unfold};
use report::report_evidence;

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
    /// Content-ID without brackets: an inline part an HTML body refers to as `cid:…`.
    pub content_id: Option<String>,
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
    /// SHA-256 of sender, date, subject, decoded text and attachments: the same
    /// mail re-encoded by a relay has the same one (`hash::text_hash`).
    pub text_hash: String,
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
    /// The text is only a rendering of the HTML: the mail has no text part,
    /// or an empty one. Quote stripping then reads the HTML (`reply`).
    pub text_from_html: bool,
    /// The HTML body as sent, unsanitized: only for quote stripping, whose
    /// markers (gmail_quote, divRplyFwdMsg, …) live in the attributes that
    /// sanitizing removes. Never stored or shown.
    pub html_source: Option<String>,
    pub attachments: Vec<Attachment>,
    pub auto: AutoHeaders,
    pub report: ReportEvidence,
    pub size: usize,
    /// Every top-level header in message order: name as written, value
    /// unfolded and trimmed.
    pub headers: Vec<(String, String)>,
    /// Where the sender came from when From held no usable address (`Sender`,
    /// a mail system's report, `Reply-To`, an address in the From text), and why.
    pub sender_via: Option<String>,
    /// The text after quote stripping, computed on first use (`reply`).
    reply: std::sync::OnceLock<super::reply::Reply>,
}

impl ParsedMail {
    /// Where replies go: Reply-To when given, else From.
    pub fn reply_address(&self) -> &Mailbox {
        self.reply_to.as_ref().unwrap_or(&self.from)
    }

    /// The new words of the body: the reply marker cut, quoted history and
    /// mobile footers stripped (`mail::reply::strip_body`; from the HTML when
    /// the text is only a rendering of it). Computed once; what `inspect`
    /// shows as `reply_text`.
    pub fn reply(&self) -> &super::reply::Reply {
        self.reply.get_or_init(|| {
            let html = self.html_source.as_deref().filter(|_| self.text_from_html);
            super::reply::strip_body(&self.text, html)
        })
    }

    /// The first top-level header called `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
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

/// The sender, and where it came from when not From: From, then Sender, then
/// a mail system's stand-in (an unqualified MAILER-DAEMON, a report without
/// a From), then Reply-To, then an address written in the From text without
/// brackets (`From: Test test@example.com`). None of them: a parse failure
/// that lists what was tried.
fn sender(
    msg: &mail_parser::Message<'_>,
    report: &ReportEvidence,
    message_id: &str,
) -> Result<(Mailbox, Option<String>), ParseFailure> {
    if let Some(m) = first_mailbox(msg.from()) {
        return Ok((m, None));
    }
    let raw_from = msg.header_raw("From").map(|v| unfold(v).trim().to_string());
    let why = match &raw_from {
        Some(v) => format!("From {v:?} holds no usable address"),
        None => "no From header".to_string(),
    };
    if let Some(m) = first_mailbox(msg.sender()) {
        return Ok((m, Some(format!("{why}: the sender is taken from Sender"))));
    }
    if let Some(m) = machine_sender(msg, report, message_id) {
        return Ok((
            m,
            Some(format!(
                "{why}: a mail system's report, the sender is named after it"
            )),
        ));
    }
    if let Some(m) = first_mailbox(msg.reply_to()) {
        return Ok((m, Some(format!("{why}: the sender is taken from Reply-To"))));
    }
    if let Some(m) = raw_from.as_deref().and_then(address::bare_address) {
        return Ok((
            m,
            Some(format!("{why}: the sender is the address written in it")),
        ));
    }
    Err(ParseFailure::NoSender(format!(
        "{why}; tried Sender, a mail system's report, Reply-To and an address in the From text"
    )))
}

pub fn parse(raw: &[u8]) -> Result<ParsedMail, ParseFailure> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseFailure::Empty);
    }
    let mut msg = MessageParser::default()
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
    let html_source = msg.html_bodies().find_map(|p| match &p.body {
        PartType::Html(h) => Some(h.to_string()),
        _ => None,
    });
    let html = html_source.as_deref().map(sanitize_html);
    let text_from_html = html_source.is_some()
        && !msg
            .text_bodies()
            .any(|p| matches!(&p.body, PartType::Text(t) if !t.trim().is_empty()));

    // Attachment names and types now; the bytes are moved out of the parsed
    // message at the very end, so a 30 MiB attachment is not copied twice.
    let attachment_meta: Vec<(usize, Option<String>, String, Option<String>)> = msg
        .attachments
        .iter()
        .map(|&i| i as usize)
        .filter_map(|i| {
            let part = msg.parts.get(i)?;
            if matches!(part.body, PartType::Multipart(_)) {
                return None;
            }
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(s) => format!("{}/{}", ct.ctype(), s),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase();
            let content_id = part
                .content_id()
                .map(|c| strip_brackets(c.trim()).to_string())
                .filter(|c| !c.is_empty());
            Some((
                i,
                part.attachment_name().map(str::to_string),
                content_type,
                content_id,
            ))
        })
        .collect();

    let report = report_evidence(&msg, &message_id, &text);

    let (from, sender_via) = sender(&msg, &report, &message_id)?;

    let reply_to = first_mailbox(msg.reply_to());
    let to = mailboxes(msg.to());
    let cc = mailboxes(msg.cc());
    let subject = msg
        .subject()
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let date = msg
        .date()
        .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single());
    let in_reply_to = ids(msg.in_reply_to());
    let references = ids(msg.references());
    let headers = kept_headers(&msg);

    let mut attachments = Vec::with_capacity(attachment_meta.len());
    for (i, filename, content_type, content_id) in attachment_meta {
        let data: Vec<u8> = match std::mem::take(&mut msg.parts[i].body) {
            PartType::Binary(b) | PartType::InlineBinary(b) => b.into_owned(),
            PartType::Text(t) | PartType::Html(t) => t.into_owned().into_bytes(),
            PartType::Message(m) => m.raw_message().to_vec(),
            PartType::Multipart(_) => continue,
        };
        attachments.push(Attachment {
            filename,
            content_type,
            content_id,
            sha256: hex::encode(Sha256::digest(&data)),
            data,
        });
    }

    let mut mail = ParsedMail {
        message_id,
        message_id_synthetic: synthetic,
        content_hash,
        text_hash: String::new(),
        from,
        reply_to,
        to,
        cc,
        subject,
        date,
        in_reply_to,
        references,
        text,
        html,
        text_from_html,
        html_source,
        attachments,
        auto,
        report,
        size: raw.len(),
        headers,
        sender_via,
        reply: std::sync::OnceLock::new(),
    };
    mail.scrub_nul();
    let attachment_hashes: Vec<&str> = mail.attachments.iter().map(|a| a.sha256.as_str()).collect();
    mail.text_hash = text_hash(
        &mail.from.email,
        mail.date.map(|d| d.timestamp()),
        &mail.subject,
        &mail.text,
        &attachment_hashes,
    );
    Ok(mail)
}

/// Headers kept for rules: at most this many, of at most this size each, and
/// this much in all. A mail with ten thousand headers is not ten thousand rows
/// of work for every rule.
const MAX_HEADERS: usize = 256;
const MAX_HEADER_VALUE: usize = 8 * 1024;
const MAX_HEADER_BYTES: usize = 64 * 1024;

fn kept_headers(msg: &mail_parser::Message<'_>) -> Vec<(String, String)> {
    let mut total = 0;
    let mut out = Vec::new();
    for (n, v) in msg.headers_raw() {
        let mut v = unfold(v).trim().to_string();
        if v.len() > MAX_HEADER_VALUE {
            let mut cut = MAX_HEADER_VALUE;
            while !v.is_char_boundary(cut) {
                cut -= 1;
            }
            v.truncate(cut);
        }
        total += n.len() + v.len();
        if out.len() == MAX_HEADERS || total > MAX_HEADER_BYTES {
            break;
        }
        out.push((n.to_string(), v));
    }
    out
}

/// Removes NUL characters (`=00` in an encoded word, a NUL in a body):
/// PostgreSQL's text type cannot hold them, and no reader needs them, so both
/// backends store the same.
fn scrub(s: &mut String) {
    if s.contains('\0') {
        s.retain(|c| c != '\0');
    }
}

impl ParsedMail {
    fn scrub_nul(&mut self) {
        let boxes = std::iter::once(&mut self.from)
            .chain(self.reply_to.iter_mut())
            .chain(self.to.iter_mut())
            .chain(self.cc.iter_mut());
        for m in boxes {
            scrub(&mut m.email);
            if let Some(n) = &mut m.name {
                scrub(n);
            }
        }
        for s in [&mut self.message_id, &mut self.subject, &mut self.text] {
            scrub(s);
        }
        for s in self.html.iter_mut().chain(self.html_source.iter_mut()) {
            scrub(s);
        }
        for s in self
            .in_reply_to
            .iter_mut()
            .chain(self.references.iter_mut())
            .chain(self.report.original_message_ids.iter_mut())
            .chain(self.report.dsn_action.iter_mut())
            .chain(self.report.dsn_status.iter_mut())
            .chain(self.auto.loop_values.iter_mut())
        {
            scrub(s);
        }
        let a = &mut self.auto;
        for s in [
            &mut a.auto_submitted,
            &mut a.precedence,
            &mut a.x_auto_response_suppress,
            &mut a.list_id,
            &mut a.return_path,
            &mut a.x_failed_recipients,
            &mut a.feedback_type,
        ]
        .into_iter()
        .flatten()
        {
            scrub(s);
        }
        for (n, v) in &mut self.headers {
            scrub(n);
            scrub(v);
        }
        for at in &mut self.attachments {
            scrub(&mut at.content_type);
            for s in at.filename.iter_mut().chain(at.content_id.iter_mut()) {
                scrub(s);
            }
        }
    }
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

/// The text body (and sanitized HTML) of a stored raw message, as `parse`
/// extracts them; a message that no longer parses shows its raw text.
pub fn bodies(raw: &[u8]) -> (String, Option<String>) {
    match parse(raw) {
        Ok(m) => (m.text, m.html),
        Err(_) => (String::from_utf8_lossy(raw).into_owned(), None),
    }
}

/// HTML is sanitized before it is stored or rendered: no scripts, no event
/// handlers, no remote-content tricks beyond what ammonia's allow-list keeps.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// A plain customer mail, shared by the unit tests here and in the submodules.
#[cfg(test)]
mod test_support {
    pub(super) const SIMPLE: &str = "From: \"Alice Example\" <Alice@Customer.test>\r\nTo: support@example.test\r\nCc: Dan <dan@customer.test>, eve@customer.test\r\nSubject: =?UTF-8?B?SGVsbG8gd8O2cmxk?=\r\nMessage-ID: <abc@customer.test>\r\nIn-Reply-To: <x1@example.test>\r\nReferences: <x0@example.test> <x1@example.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\nReceived: from a by b\r\n\r\nHello there\r\n";
}

#[cfg(test)]
mod tests {
    use super::test_support::SIMPLE;
    use super::*;

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
    fn headers_for_rules_are_bounded() {
        let many: String = (0..1000).map(|i| format!("X-H{i}: v\r\n")).collect();
        let long = format!("X-Long: {}\r\n", "y".repeat(20_000));
        let raw = format!("From: a@b.test\r\n{long}{many}Subject: s\r\n\r\nbody\r\n");
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.headers.len(), MAX_HEADERS);
        assert_eq!(m.headers[1].1.len(), MAX_HEADER_VALUE);
        assert_eq!(m.subject, "s", "the parsed fields are not affected");
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
}
