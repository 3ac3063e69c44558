//! Raw bytes -> `ParsedMail`: everything mailroom reads in a message, with no I/O.
//!
//! This module holds the model and the `parse` entry point; the submodules read
//! senders, header values, delivery-report evidence and the content hash.

mod address;
mod body;
pub(crate) mod charset;
mod clean;
mod hash;
mod header_values;
mod recover;
mod report;
mod transfer;
mod unpack;
mod words;

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{Message, MessageParser, PartType};
use sha2::{Digest, Sha256};

pub use address::DAEMON_LOCAL_PARTS;
pub use body::{PartFate, Went};
pub use hash::{content_hash, text_hash};
pub use header_values::strip_brackets;

use address::{first_mailbox, mailboxes, sender};
use clean::kept_headers;
#[cfg(test)]
use clean::{MAX_HEADER_VALUE, MAX_HEADERS};
use header_values::{auto_headers, ids};
use report::report_evidence;

/// At most this many charset notes are kept per mail.
const MAX_CHARSET_NOTES: usize = 32;

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
    /// Sanitized HTML body, when the mail has one (every text/html body part,
    /// in order).
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
    /// Which charset read the text where it was not plain UTF-8: a legacy
    /// charset declared by a part, a mislabelled one, raw 8-bit header bytes,
    /// a fallback. Empty for plain mail.
    pub charset_notes: Vec<String>,
    /// Every leaf MIME part and where it went (text, HTML, attachment, or why not).
    pub parts: Vec<PartFate>,
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
    #[error("{0} MIME parts, over the limit of {MAX_PARTS}")]
    TooManyParts(usize),
}

/// More MIME parts than this and a mail is quarantined.
pub const MAX_PARTS: usize = 10_000;

pub fn parse(raw: &[u8]) -> Result<ParsedMail, ParseFailure> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseFailure::Empty);
    }
    let raw_in = skip_leading_blank_lines(raw);
    let repaired = charset::repair_header_block(raw_in);
    let (input, mut charset_notes) = readable_input(raw_in, &repaired);
    let mut msg = message(input)?;

    let content_hash = content_hash(raw);
    let (message_id, synthetic) = message_id_of(&msg, &content_hash);

    let auto = auto_headers(&msg);

    // The charsets the mail declares anywhere: the chain's second chance.
    let others = words::declared_charsets(&msg, input);
    // Text, HTML and attachments from every part (`body`); the attachments'
    // bytes are moved out of the parsed message at the very end, so a 30 MiB
    // attachment is not copied twice.
    let plan = body::plan(&msg, input, &others);
    charset_notes.extend(plan.notes);
    let text = plan.text;
    let html_source = plan.html_source;
    let html = html_source.as_deref().map(sanitize_html);
    let text_from_html = html_source.is_some()
        && !msg
            .text_bodies()
            .any(|p| matches!(&p.body, PartType::Text(t) if !t.trim().is_empty()));

    let report = report_evidence(&msg, &plan.recovered, &message_id, &text);

    let (mut from, sender_via) = sender(&msg, &report, &message_id)?;
    let subject = subject_of(&msg, &others, &mut charset_notes);
    if let Some(name) = words::display_name(&msg, &others, &mut charset_notes) {
        from.name = Some(name);
    }
    let reply_to = first_mailbox(msg.reply_to());
    let to = mailboxes(msg.to());
    let cc = mailboxes(msg.cc());
    let date = msg
        .date()
        .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single());
    let in_reply_to = ids(msg.in_reply_to());
    let references = ids(msg.references());
    let headers = kept_headers(&msg);
    drop(plan.recovered);

    let attachments = take_attachments(&mut msg, plan.attachments);

    // A mail with a thousand mislabelled parts makes a bounded event.
    charset_notes.truncate(MAX_CHARSET_NOTES);
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
        charset_notes,
        parts: plan.parts,
        reply: std::sync::OnceLock::new(),
    };
    mail.scrub_nul();
    mail.text_hash = mail.compute_text_hash();
    Ok(mail)
}

/// mail-parser's reading of `input`: a header block, and not more parts
/// than `MAX_PARTS` (every part costs a record of where it went and a walk
/// over it; no real mail has this many: quarantined with the reason).
fn message(input: &[u8]) -> Result<Message<'_>, ParseFailure> {
    let msg = MessageParser::default()
        .parse(input)
        .ok_or(ParseFailure::NoHeaders)?;
    if msg.headers().is_empty() {
        return Err(ParseFailure::NoHeaders);
    }
    if msg.parts.len() > MAX_PARTS {
        return Err(ParseFailure::TooManyParts(msg.parts.len()));
    }
    Ok(msg)
}

/// Raw 8-bit header bytes that are not UTF-8 are decoded by the charset
/// chain first (mail-parser would make U+FFFD of them): the repaired copy
/// with its notes, or the input as it is.
fn readable_input<'a>(
    raw: &'a [u8],
    repaired: &'a Option<(Vec<u8>, Vec<String>)>,
) -> (&'a [u8], Vec<String>) {
    match repaired {
        Some((bytes, notes)) => (bytes, notes.clone()),
        None => (raw, Vec::new()),
    }
}

/// The Subject through the charset chain, else as mail-parser read it.
fn subject_of(msg: &Message, others: &[String], notes: &mut Vec<String>) -> String {
    words::header_text(msg, "Subject", others, notes)
        .or_else(|| msg.subject().map(|s| s.trim().to_string()))
        .unwrap_or_default()
}

/// The mail's Message-ID, or one derived from its content (synthetic: true).
fn message_id_of(msg: &Message, content_hash: &str) -> (String, bool) {
    match msg.message_id().map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => (strip_brackets(id).to_string(), false),
        None => (format!("{}@mailroom.invalid", &content_hash[..32]), true),
    }
}

/// The attachments `body::plan` chose, their bytes moved out of the parsed
/// message (a 30 MiB attachment is not copied twice).
fn take_attachments(msg: &mut Message, sources: Vec<body::Source>) -> Vec<Attachment> {
    let mut attachments = Vec::with_capacity(sources.len());
    for source in sources {
        let (index, filename, content_type, content_id) = match source {
            body::Source::Owned(a) => {
                attachments.push(a);
                continue;
            }
            body::Source::Part {
                index,
                filename,
                content_type,
                content_id,
            } => (index, filename, content_type, content_id),
        };
        let Some(part) = msg.parts.get_mut(index) else {
            continue;
        };
        let data: Vec<u8> = match std::mem::take(&mut part.body) {
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
    attachments
}

impl ParsedMail {
    /// `text_hash` of the finished mail (after NUL scrubbing): the same mail
    /// re-encoded by a relay gets the same one.
    fn compute_text_hash(&self) -> String {
        let attachment_hashes: Vec<&str> =
            self.attachments.iter().map(|a| a.sha256.as_str()).collect();
        text_hash(
            &self.from.email,
            self.date.map(|d| d.timestamp()),
            &self.subject,
            &self.text,
            &attachment_hashes,
        )
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
    // Built once: its tag and attribute sets cost a few allocations each.
    static SANITIZER: std::sync::LazyLock<ammonia::Builder<'static>> =
        std::sync::LazyLock::new(|| {
            let mut b = ammonia::Builder::default();
            b.link_rel(Some("noopener noreferrer nofollow"));
            b
        });
    SANITIZER.clean(html).to_string()
}

/// A plain customer mail, shared by the unit tests here and in the submodules.
#[cfg(test)]
mod test_support {
    pub(super) const SIMPLE: &str = "From: \"Alice Example\" <Alice@Customer.test>\r\nTo: support@example.test\r\nCc: Dan <dan@customer.test>, eve@customer.test\r\nSubject: =?UTF-8?B?SGVsbG8gd8O2cmxk?=\r\nMessage-ID: <abc@customer.test>\r\nIn-Reply-To: <x1@example.test>\r\nReferences: <x0@example.test> <x1@example.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\nReceived: from a by b\r\n\r\nHello there\r\n";
}

#[cfg(test)]
mod tests;
