//! Where every MIME part of a mail goes: the text, the HTML or an attachment.
//!
//! mail-parser chooses the body parts (its reading of multipart/alternative
//! is kept); this module reads every leaf in document order and makes sure
//! none is lost: every text/html part, not only the first (Apple Mail splits
//! the body around inline images); the text rendered from the HTML when the
//! text part is empty or missing; text in a mislabelled charset decoded by
//! the chain (`charset`); a part mail-parser could not delimit (a multipart
//! never closed) read again part by part; a forwarded message named after its
//! subject; a TNEF container (`winmail.dat`) unpacked into its body and files.

use std::borrow::Cow;

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use super::charset::{self, Used};
use super::header_values::strip_brackets;
use super::{Attachment, transfer};

/// What became of one leaf part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Went {
    Text,
    Html,
    Attachment,
    /// A container read out into other parts (TNEF): they are listed after it.
    Unpacked,
    /// Nothing kept, with the reason in the note.
    Dropped,
}

impl Went {
    pub fn as_str(self) -> &'static str {
        match self {
            Went::Text => "text",
            Went::Html => "html",
            Went::Attachment => "attachment",
            Went::Unpacked => "unpacked",
            Went::Dropped => "dropped",
        }
    }
}

/// One leaf of the MIME tree and where it went (`ParsedMail::parts`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartFate {
    /// Its place in the tree, IMAP style (`1`, `2.1`); `2/1` is the first
    /// file read out of part 2 (TNEF), `1.2+1` the first part recovered after
    /// part 1.2 (a multipart that was never closed).
    pub path: String,
    pub content_type: String,
    pub filename: Option<String>,
    /// Decoded size in bytes.
    pub size: usize,
    /// For text parts: the charset the text was read with.
    pub charset: Option<String>,
    pub went: Went,
    /// Why, when it is not a plain text, HTML or attachment part.
    pub note: Option<String>,
}

/// An attachment still inside the parsed message (moved out at the end, so
/// big files are not copied) or one made here (recovered parts, TNEF files).
pub(super) enum Source {
    Part {
        index: usize,
        filename: Option<String>,
        content_type: String,
        content_id: Option<String>,
    },
    Owned(Attachment),
}

pub(super) struct Plan<'x> {
    pub text: String,
    pub html_source: Option<String>,
    pub attachments: Vec<Source>,
    pub parts: Vec<PartFate>,
    pub notes: Vec<String>,
    /// Parts recovered from a broken region, as messages of their own:
    /// delivery-report evidence is read from them too.
    pub recovered: Vec<Message<'x>>,
}

/// How deep recovered regions are read again inside each other.
const MAX_DEPTH: usize = 3;

pub(super) struct Walk<'x, 'o> {
    pub(super) others: &'o [String],
    pub(super) text: Vec<String>,
    pub(super) html: Vec<String>,
    pub(super) attachments: Vec<Source>,
    pub(super) parts: Vec<PartFate>,
    pub(super) notes: Vec<String>,
    pub(super) recovered: Vec<Message<'x>>,
}

/// Reads every part of `msg` (parsed from `raw`).
pub(super) fn plan<'x>(msg: &Message<'x>, raw: &'x [u8], others: &[String]) -> Plan<'x> {
    let mut w = Walk {
        others,
        text: Vec::new(),
        html: Vec::new(),
        attachments: Vec::new(),
        parts: Vec::new(),
        notes: Vec::new(),
        recovered: Vec::new(),
    };
    w.message(msg, raw, "", true, 0);
    let mut text = joined(std::mem::take(&mut w.text));
    let html_source = (!w.html.is_empty()).then(|| joined(std::mem::take(&mut w.html)));
    if text.trim().is_empty()
        && let Some(h) = &html_source
    {
        text = mail_parser::decoders::html::html_to_text(h);
        if w.parts.iter().any(|p| p.went == Went::Text) {
            w.notes
                .push("the text part is empty: the text is rendered from the HTML".into());
        }
    }
    Plan {
        text,
        html_source,
        attachments: w.attachments,
        parts: w.parts,
        notes: w.notes,
        recovered: w.recovered,
    }
}

pub(super) fn content_type(part: &MessagePart<'_>) -> String {
    part.content_type()
        .map(|ct| match ct.subtype() {
            Some(s) => format!("{}/{}", ct.ctype(), s),
            None => ct.ctype().to_string(),
        })
        .unwrap_or_else(|| "text/plain".into())
        .to_ascii_lowercase()
}

/// IMAP-style part numbers for every part of a message.
fn paths(msg: &Message<'_>, prefix: &str) -> Vec<String> {
    let mut out = vec![String::new(); msg.parts.len()];
    let join = |p: &str, n: usize| {
        if p.is_empty() {
            n.to_string()
        } else {
            format!("{p}.{n}")
        }
    };
    // (part id, its path); the root's children are numbered from 1.
    let mut stack = vec![(0usize, String::new())];
    let mut seen = 0;
    while let Some((id, path)) = stack.pop() {
        seen += 1;
        if seen > msg.parts.len() {
            break; // a cycle would be a parser bug: stop, never loop
        }
        let Some(part) = msg.parts.get(id) else {
            continue;
        };
        match &part.body {
            PartType::Multipart(children) => {
                for (n, &c) in children.iter().enumerate().rev() {
                    stack.push((c as usize, join(&path, n + 1)));
                }
            }
            _ => {
                if let Some(slot) = out.get_mut(id) {
                    *slot = if path.is_empty() { "1".into() } else { path };
                }
            }
        }
    }
    for (i, p) in out.iter_mut().enumerate() {
        if p.is_empty() {
            *p = format!("#{i}");
        }
        if !prefix.is_empty() {
            *p = format!("{prefix}{p}");
        }
    }
    out
}

impl<'x> Walk<'x, '_> {
    pub(super) fn message(
        &mut self,
        msg: &Message<'x>,
        raw: &'x [u8],
        prefix: &str,
        top: bool,
        depth: usize,
    ) {
        let paths = paths(msg, prefix);
        // Looked up once per part: `contains` on the lists cost parts squared.
        let text_ids = marked(msg.parts.len(), &msg.text_body);
        let html_ids = marked(msg.parts.len(), &msg.html_body);
        for (i, part) in msg.parts.iter().enumerate() {
            if matches!(part.body, PartType::Multipart(_)) {
                continue;
            }
            let path = &paths[i];
            let in_text = text_ids[i];
            let in_html = html_ids[i] && matches!(part.body, PartType::Html(_));
            let broken = part.is_encoding_problem
                && matches!(part.body, PartType::Text(_) | PartType::Html(_));
            if broken && depth < MAX_DEPTH {
                self.recover(msg, raw, part, path, depth);
                continue;
            }
            match &part.body {
                PartType::Text(t) | PartType::Html(t) if in_text || in_html => {
                    let (decoded, cs) = self.read_text(raw, part, t, path);
                    let is_html = matches!(part.body, PartType::Html(_));
                    // `in_html` holds only for an HTML part: a text part moves
                    // its decoded text, uncopied.
                    if in_text && is_html {
                        self.text
                            .push(mail_parser::decoders::html::html_to_text(&decoded));
                    }
                    if in_text && !is_html {
                        self.text.push(decoded.into_owned());
                    } else if in_html {
                        self.html.push(decoded.into_owned());
                    }
                    self.parts.push(PartFate {
                        path: path.clone(),
                        content_type: content_type(part),
                        filename: None,
                        size: t.len(),
                        charset: Some(cs),
                        went: if is_html { Went::Html } else { Went::Text },
                        note: None,
                    });
                }
                _ => self.attachment(msg, part, i, path, top),
            }
        }
    }

    /// A text part's text: as mail-parser decoded it when that is certainly
    /// right (ASCII, or valid UTF-8 where UTF-8 or nothing is declared), else
    /// its bytes again through the charset chain.
    fn read_text<'t>(
        &mut self,
        raw: &[u8],
        part: &MessagePart<'_>,
        t: &'t str,
        path: &str,
    ) -> (Cow<'t, str>, String) {
        let declared = part
            .content_type()
            .and_then(|c| c.attribute("charset"))
            .map(charset::normalize);
        let utf8ish = declared
            .as_deref()
            .is_none_or(|d| matches!(d, "utf-8" | "utf8" | "us-ascii" | "ascii"));
        if t.is_ascii() || (utf8ish && !t.contains('\u{FFFD}')) {
            return (Cow::Borrowed(t), declared.unwrap_or_else(|| "utf-8".into()));
        }
        let body = raw
            .get(part.offset_body as usize..part.offset_end as usize)
            .unwrap_or_default();
        let bytes = transfer::decode(part.content_transfer_encoding(), body);
        let (text, used) = charset::decode(&bytes, declared.as_deref(), self.others);
        let name = used_name(&used);
        if let Some(d) = used.describe() {
            self.notes
                .push(format!("part {path} ({}): {d}", content_type(part)));
        }
        (Cow::Owned(text), name)
    }

    fn attachment(
        &mut self,
        msg: &Message<'x>,
        part: &MessagePart<'_>,
        i: usize,
        path: &str,
        top: bool,
    ) {
        let ct = content_type(part);
        let mut filename = part.attachment_name().map(str::to_string);
        if let PartType::Message(inner) = &part.body
            && filename.is_none()
        {
            filename = Some(message_file_name(inner.subject()));
        }
        let data: &[u8] = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b,
            PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
            PartType::Message(m) => m.raw_message(),
            PartType::Multipart(_) => return,
        };
        let is_tnef = ct == "application/ms-tnef"
            || ct == "application/vnd.ms-tnef"
            || filename
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case("winmail.dat"));
        if is_tnef && self.unpack_tnef(data, path, &ct, filename.as_deref()) {
            return;
        }
        self.parts.push(PartFate {
            path: path.to_string(),
            content_type: ct.clone(),
            filename: filename.clone(),
            size: data.len(),
            charset: None,
            went: Went::Attachment,
            note: None,
        });
        let content_id = part
            .content_id()
            .map(|c| strip_brackets(c.trim()).to_string())
            .filter(|c| !c.is_empty());
        if top && msg.parts.get(i).is_some() {
            self.attachments.push(Source::Part {
                index: i,
                filename,
                content_type: ct,
                content_id,
            });
        } else {
            self.attachments.push(Source::Owned(owned(
                filename,
                ct,
                content_id,
                data.to_vec(),
            )));
        }
    }
}

pub(super) fn used_name(used: &Used) -> String {
    match used {
        Used::Plain | Used::Utf8Mislabelled(_) => "utf-8".into(),
        Used::Declared(c) | Used::Other { used: c, .. } => c.clone(),
        Used::Fallback { .. } => "windows-1252".into(),
    }
}

pub(super) fn owned(
    filename: Option<String>,
    content_type: String,
    content_id: Option<String>,
    data: Vec<u8>,
) -> Attachment {
    Attachment {
        filename,
        content_type,
        content_id,
        sha256: hex::encode(Sha256::digest(&data)),
        data,
    }
}

/// `Subject.eml` for a forwarded message without a file name: characters
/// file systems refuse become `_`, and the name is kept short.
pub(super) fn message_file_name(subject: Option<&str>) -> String {
    let s = subject
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("message");
    let mut name: String = s
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .take(80)
        .collect();
    name = name.trim().trim_matches('.').to_string();
    if name.is_empty() {
        name = "message".into();
    }
    format!("{name}.eml")
}

/// The pieces one after the other, a line apart; one piece is moved, not
/// copied (a 40 MiB text part is not copied again).
fn joined(mut pieces: Vec<String>) -> String {
    if pieces.len() == 1 {
        return pieces.pop().unwrap_or_default();
    }
    pieces.join("\n")
}

/// Which of `len` parts a body list (part indexes) names.
fn marked(len: usize, ids: &[u32]) -> Vec<bool> {
    let mut marked = vec![false; len];
    for &id in ids {
        if let Some(m) = marked.get_mut(id as usize) {
            *m = true;
        }
    }
    marked
}

#[cfg(test)]
mod tests;
