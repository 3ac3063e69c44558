//! Composing outgoing messages (acknowledgements, notifications, relays) with lettre.
//! Pure: the caller passes the Message-ID, the date and the rendered bodies.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{
    Attachment as LettreAttachment, Mailbox as LettreMailbox, MultiPart, SinglePart,
};

use super::parse::{LOOP_HEADER, Mailbox};

/// References carry at most this many IDs (DESIGN §4: "the chain (bounded)").
pub const MAX_REFERENCES_OUT: usize = 20;

#[derive(Debug, Clone)]
pub struct OutAttachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
    /// Set for an inline image the HTML shows as `cid:…` (sent in multipart/related).
    pub content_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Outgoing {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    /// Without angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// `auto-replied` / `auto-generated` for automatic mail (RFC 3834);
    /// `None` for a person's answer (a relay).
    pub auto_submitted: Option<&'static str>,
    /// Value of the loop header; every mail mailroom sends carries it.
    pub loop_id: String,
    pub extra_headers: Vec<(&'static str, String)>,
    pub date: DateTime<Utc>,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<OutAttachment>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ComposeError(pub String);

/// `<local>.<unique>@<domain of the support address>`, without brackets.
pub fn new_message_id(kind: &str, unique: &str, support_address: &str) -> String {
    let domain = support_address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost");
    format!("mr.{kind}.{unique}@{domain}")
}

/// Longest display name, file name or other short value written to a header.
const MAX_NAME_CHARS: usize = 200;
/// Longest subject (or Thread-Topic): well under the 998 octets of a line
/// even when every character needs an encoded word.
const MAX_SUBJECT_CHARS: usize = 400;
/// Longest Message-ID carried in In-Reply-To and References.
const MAX_ID_CHARS: usize = 250;

/// Text taken from a mail, made safe for a header: every control character
/// (CR, LF, TAB, NUL, …) becomes a space, runs of whitespace one space, at
/// most `max` characters. lettre then encodes what is not ASCII (RFC 2047
/// words, RFC 2231 parameters) and folds; nothing a mail says can add a line.
pub fn header_text(s: &str, max: usize) -> String {
    let spaced: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    words
        .join(" ")
        .chars()
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A Message-ID as it may stand between angle brackets: no whitespace,
/// control characters or brackets (a mail's References may hold anything);
/// `None` when nothing usable is left.
pub fn message_id_token(id: &str) -> Option<String> {
    let t: String = id
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>'))
        .collect();
    (!t.is_empty() && t.len() <= MAX_ID_CHARS && t.is_ascii()).then_some(t)
}

fn mailbox(m: &Mailbox) -> Result<LettreMailbox, ComposeError> {
    let addr = m
        .email
        .parse()
        .map_err(|e| ComposeError(format!("address {:?}: {e}", m.email)))?;
    let name = m
        .name
        .as_deref()
        .map(|n| header_text(n, MAX_NAME_CHARS))
        .filter(|n| !n.is_empty());
    Ok(LettreMailbox::new(name, addr))
}

fn raw(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// References for a reply: the parent's chain plus the parent, bounded from the front.
pub fn reply_references(parent_refs: &[String], parent_id: &str) -> Vec<String> {
    let mut refs: Vec<String> = parent_refs
        .iter()
        .filter(|r| r.as_str() != parent_id)
        .cloned()
        .collect();
    refs.push(parent_id.to_string());
    if refs.len() > MAX_REFERENCES_OUT {
        // Keep the thread root and the newest ones.
        let tail = refs.split_off(refs.len() - (MAX_REFERENCES_OUT - 1));
        refs.truncate(1);
        refs.extend(tail);
    }
    refs
}

/// Takes the mail by value: attachment bytes move into the message, not copied.
pub fn compose(mut o: Outgoing) -> Result<Vec<u8>, ComposeError> {
    let b = headers(&o)?;
    let (inline, files): (Vec<OutAttachment>, Vec<OutAttachment>) =
        std::mem::take(&mut o.attachments)
            .into_iter()
            .partition(|a| a.content_id.is_some() && o.html.is_some());
    let body = text_and_html(&o, inline)?;
    let message = match (body, files.is_empty()) {
        (Some(body), true) => b.multipart(body),
        (None, true) => b.singlepart(SinglePart::plain(o.text.clone())),
        (body, false) => b.multipart(with_files(&o, body, files)?),
    }
    .map_err(|e| ComposeError(e.to_string()))?;
    Ok(message.formatted())
}

/// Every header of the mail; each value from a mail or a template without
/// line breaks.
fn headers(o: &Outgoing) -> Result<lettre::message::MessageBuilder, ComposeError> {
    let mut b = lettre::Message::builder()
        .from(mailbox(&o.from)?)
        .subject(header_text(&o.subject, MAX_SUBJECT_CHARS))
        .date(SystemTime::from(o.date))
        .message_id(Some(format!("<{}>", o.message_id)))
        .raw_header(raw(LOOP_HEADER, o.loop_id.clone()));
    if let Some(r) = &o.reply_to {
        b = b.reply_to(mailbox(r)?);
    }
    if o.to.is_empty() {
        return Err(ComposeError("no recipient".into()));
    }
    for t in &o.to {
        b = b.to(mailbox(t)?);
    }
    for c in &o.cc {
        b = b.cc(mailbox(c)?);
    }
    if let Some(irt) = o.in_reply_to.as_deref().and_then(message_id_token) {
        b = b.in_reply_to(format!("<{irt}>"));
    }
    // lettre replaces on a second call: one space-separated value.
    let refs: Vec<String> = o
        .references
        .iter()
        .filter_map(|r| message_id_token(r))
        .map(|r| format!("<{r}>"))
        .collect();
    if !refs.is_empty() {
        b = b.references(refs.join(" "));
    }
    if let Some(a) = o.auto_submitted {
        b = b.raw_header(raw("Auto-Submitted", a.to_string()));
        // Ask Exchange and friends not to answer our automatic mail either.
        b = b.raw_header(raw("X-Auto-Response-Suppress", "All".into()));
    }
    for (name, value) in &o.extra_headers {
        // A value from a mail (Thread-Topic is its subject) without line
        // breaks; lettre encodes and folds it.
        b = b.raw_header(raw(name, header_text(value, MAX_SUBJECT_CHARS)));
    }
    Ok(b)
}

fn content_type(a: &OutAttachment) -> Result<ContentType, ComposeError> {
    ContentType::parse(&a.content_type)
        .or_else(|_| ContentType::parse("application/octet-stream"))
        .map_err(|e| ComposeError(e.to_string()))
}

/// Text + HTML as alternatives, inline images beside the HTML (related);
/// `None` for a text-only mail.
fn text_and_html(
    o: &Outgoing,
    inline: Vec<OutAttachment>,
) -> Result<Option<MultiPart>, ComposeError> {
    let Some(html) = &o.html else {
        return Ok(None);
    };
    if inline.is_empty() {
        return Ok(Some(MultiPart::alternative_plain_html(
            o.text.clone(),
            html.clone(),
        )));
    }
    let mut related = MultiPart::related().singlepart(SinglePart::html(html.clone()));
    for a in inline {
        let t = content_type(&a)?;
        let cid = a.content_id.clone().unwrap_or_default();
        related = related.singlepart(LettreAttachment::new_inline(cid).body(a.data, t));
    }
    Ok(Some(
        MultiPart::alternative()
            .singlepart(SinglePart::plain(o.text.clone()))
            .multipart(related),
    ))
}

/// Files beside the text (and HTML): multipart/mixed.
fn with_files(
    o: &Outgoing,
    body: Option<MultiPart>,
    files: Vec<OutAttachment>,
) -> Result<MultiPart, ComposeError> {
    let mut mixed = match body {
        Some(body) => MultiPart::mixed().multipart(body),
        None => MultiPart::mixed().singlepart(SinglePart::plain(o.text.clone())),
    };
    for a in files {
        let t = content_type(&a)?;
        let name = header_text(&a.filename, MAX_NAME_CHARS);
        let name = if name.is_empty() {
            "attachment.bin".to_string()
        } else {
            name
        };
        mixed = mixed.singlepart(LettreAttachment::new(name).body(a.data, t));
    }
    Ok(mixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::parse;

    fn sample() -> Outgoing {
        Outgoing {
            from: Mailbox {
                name: Some("Example Support".into()),
                email: "support@example.test".into(),
            },
            reply_to: Some(Mailbox {
                name: None,
                email: "support@example.test".into(),
            }),
            to: vec![Mailbox {
                name: Some("Alice".into()),
                email: "alice@customer.test".into(),
            }],
            cc: vec![],
            subject: "Re: Printer broken [MR-7]".into(),
            message_id: new_message_id("ack", "u1", "support@example.test"),
            in_reply_to: Some("abc@customer.test".into()),
            references: reply_references(&["root@x.test".into()], "abc@customer.test"),
            auto_submitted: Some("auto-replied"),
            loop_id: "support@example.test".into(),
            extra_headers: vec![("X-Mailroom-Ticket", "MR-7".into())],
            date: DateTime::from_timestamp(1_800_000_000, 0).expect("valid timestamp"),
            text: "We got your mail, Grüße.".into(),
            html: Some("<p>We got your mail.</p>".into()),
            attachments: vec![],
        }
    }

    #[test]
    fn composed_ack_round_trips() {
        let raw = compose(sample()).unwrap();
        let m = parse(&raw).unwrap();
        assert_eq!(m.message_id, "mr.ack.u1@example.test");
        assert_eq!(m.in_reply_to, vec!["abc@customer.test"]);
        assert_eq!(m.references, vec!["root@x.test", "abc@customer.test"]);
        assert_eq!(m.subject, "Re: Printer broken [MR-7]");
        assert_eq!(m.auto.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(m.auto.loop_values, vec!["support@example.test"]);
        assert!(m.text.contains("Grüße"), "{}", m.text);
        assert!(m.html.is_some());
        assert_eq!(m.from.name.as_deref(), Some("Example Support"));
    }

    #[test]
    fn attachments_are_carried() {
        let mut o = sample();
        o.attachments.push(OutAttachment {
            filename: "log.txt".into(),
            content_type: "text/plain".into(),
            data: b"line".to_vec(),
            content_id: None,
        });
        let m = parse(&compose(o).unwrap()).unwrap();
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename.as_deref(), Some("log.txt"));
    }

    #[test]
    fn inline_images_go_beside_the_html_and_cc_is_kept() {
        let mut o = sample();
        o.auto_submitted = None;
        o.cc = vec![Mailbox {
            name: None,
            email: "dan@customer.test".into(),
        }];
        o.html = Some("<p>see <img src=\"cid:logo1\"></p>".into());
        o.attachments.push(OutAttachment {
            filename: "logo.png".into(),
            content_type: "image/png".into(),
            data: vec![137, 80, 78, 71],
            content_id: Some("logo1".into()),
        });
        o.attachments.push(OutAttachment {
            filename: "report.pdf".into(),
            content_type: "application/pdf".into(),
            data: b"%PDF".to_vec(),
            content_id: None,
        });
        let raw = compose(o).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("multipart/related"), "{text}");
        assert!(text.contains("Content-ID: <logo1>"), "{text}");
        assert!(
            !text.contains("Auto-Submitted"),
            "a person's answer is not automatic"
        );
        let m = parse(&raw).unwrap();
        assert_eq!(m.cc[0].email, "dan@customer.test");
        assert_eq!(m.attachments.len(), 2);
    }

    /// The headers of a composed mail, unfolded: (name, value).
    fn header_names(raw: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(raw);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        head.split("\r\n")
            .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
            .map(|l| l.split(':').next().unwrap_or_default().to_ascii_lowercase())
            .collect()
    }

    #[test]
    fn hostile_values_never_add_a_header() {
        let mut o = sample();
        let evil = "Eve\r\nBcc: x@evil.test\r\n\r\nbody";
        o.to[0].name = Some(evil.into());
        o.subject = format!("Re: {evil} [MR-7]");
        o.extra_headers.push(("Thread-Topic", evil.into()));
        o.in_reply_to = Some("a@b>\r\nBcc: y@evil.test".into());
        o.references = vec!["ok@x".into(), " \r\n".into(), "c <d>".into()];
        o.attachments.push(OutAttachment {
            filename: format!("{evil}.txt"),
            content_type: "text/plain".into(),
            data: b"x".to_vec(),
            content_id: None,
        });
        let raw = compose(o).expect("composes");
        let names = header_names(&raw);
        assert!(!names.contains(&"bcc".to_string()), "{names:?}");
        let m = parse(&raw).unwrap();
        assert_eq!(m.to[0].name.as_deref(), Some("Eve Bcc: x@evil.test body"));
        assert_eq!(m.subject, "Re: Eve Bcc: x@evil.test body [MR-7]");
        assert_eq!(m.references, ["ok@x", "cd"]);
        assert_eq!(m.in_reply_to, ["a@bBcc:y@evil.test"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Whatever a mail puts in a name, a subject, a file name or an ID:
        /// compose never panics, and the mail has exactly its own headers.
        #[test]
        fn any_value_keeps_the_header_set(name in ".{0,300}", subject in ".{0,600}", file in ".{0,80}", id in ".{0,80}") {
            let expected = header_names(&compose(sample()).expect("plain sample"));
            let mut o = sample();
            o.to[0].name = Some(name);
            o.subject = subject.clone();
            o.extra_headers.push(("Thread-Topic", subject));
            o.in_reply_to = Some(id.clone());
            o.references = vec![id];
            o.attachments.push(OutAttachment { filename: file, content_type: "text/plain".into(), data: b"x".to_vec(), content_id: None });
            let raw = compose(o).expect("composes");
            let mut names = header_names(&raw);
            names.retain(|n| n != "thread-topic" && n != "in-reply-to" && n != "references");
            let mut want = expected.clone();
            want.retain(|n| n != "in-reply-to" && n != "references");
            proptest::prop_assert_eq!(names, want);
            proptest::prop_assert!(parse(&raw).is_ok());
        }
    }

    #[test]
    fn references_are_bounded_and_keep_root() {
        let chain: Vec<String> = (0..50).map(|i| format!("m{i}@x")).collect();
        let r = reply_references(&chain, "new@x");
        assert_eq!(r.len(), MAX_REFERENCES_OUT);
        assert_eq!(r[0], "m0@x");
        assert_eq!(r.last().map(String::as_str), Some("new@x"));
    }
}
