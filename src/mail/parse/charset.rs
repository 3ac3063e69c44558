//! Bytes -> text when the charset label cannot be trusted.
//!
//! Mail says which charset it uses, and is often wrong: a body labelled
//! ISO-8859-1 that is UTF-8, GBK bytes labelled GB2312 or UTF-8, 8-bit header
//! bytes with no label at all. The order tried is the one of issue 20: UTF-8,
//! then the declared charset, then the other charsets the mail declares (in
//! other parts or encoded words), then windows-1252, which decodes anything.
//! A declared charset that is not ASCII-compatible (ISO-2022-JP, UTF-16,
//! UTF-7) is tried before UTF-8, since its bytes may also be valid UTF-8.

use std::borrow::Cow;

use encoding_rs::Encoding;

/// How a piece of text was decoded, when that is worth a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Used {
    /// UTF-8 (or ASCII) as declared, or with nothing declared: nothing to say.
    Plain,
    /// The declared charset, which is not UTF-8 (e.g. GB2312, ISO-2022-JP).
    Declared(String),
    /// Valid UTF-8 under another label.
    Utf8Mislabelled(String),
    /// Another charset the mail declares, the declared one (if any) failing.
    Other {
        used: String,
        declared: Option<String>,
    },
    /// windows-1252, when nothing else decodes cleanly.
    Fallback { declared: Option<String> },
}

impl Used {
    /// A short sentence for the decision trail, or None when plain.
    pub(crate) fn describe(&self) -> Option<String> {
        Some(match self {
            Used::Plain => return None,
            Used::Declared(c) => format!("{c}, as declared"),
            Used::Utf8Mislabelled(c) => format!("utf-8 (declared {c}, but the bytes are UTF-8)"),
            Used::Other {
                used,
                declared: Some(d),
            } => format!(
                "{used} (declared {d} does not decode; {used} is declared elsewhere in the mail)"
            ),
            Used::Other {
                used,
                declared: None,
            } => format!(
                "{used} (none declared, not UTF-8; {used} is declared elsewhere in the mail)"
            ),
            Used::Fallback { declared: Some(d) } => {
                format!(
                    "windows-1252 (declared {d} does not decode, nor do the mail's other charsets)"
                )
            }
            Used::Fallback { declared: None } => {
                "windows-1252 (none declared, not UTF-8)".to_string()
            }
        })
    }

    /// True when the declared label (if any) was not what decoded the bytes.
    pub(crate) fn is_repair(&self) -> bool {
        matches!(
            self,
            Used::Utf8Mislabelled(_) | Used::Other { .. } | Used::Fallback { .. }
        )
    }
}

/// A charset label as written (`"GB2312"`, `utf-8`), trimmed and lowercased.
pub(crate) fn normalize(label: &str) -> String {
    label
        .trim()
        .trim_matches(['"', '\''])
        .trim()
        .to_ascii_lowercase()
}

fn is_utf8_label(l: &str) -> bool {
    matches!(
        l,
        "utf-8" | "utf8" | "us-ascii" | "ascii" | "unicode-1-1-utf-8" | "x-unicode20utf8"
    )
}

/// A decoder for a label: encoding_rs for the WHATWG labels (strict, so a
/// malformed byte sequence is seen), mail-parser's table for the rest
/// (UTF-7, IBM850, Mac Roman, labels such as `cp936`).
enum Decoder {
    Whatwg(&'static Encoding),
    MailParser(mail_parser::decoders::charsets::DecoderFnc),
}

fn decoder(label: &str) -> Option<Decoder> {
    if let Some(e) = Encoding::for_label_no_replacement(label.as_bytes()) {
        return Some(Decoder::Whatwg(e));
    }
    mail_parser::decoders::charsets::map::charset_decoder(label.as_bytes()).map(Decoder::MailParser)
}

impl Decoder {
    /// Not ASCII-compatible: its bytes can be valid UTF-8 without being UTF-8.
    fn seven_bit_or_wide(&self, label: &str) -> bool {
        match self {
            Decoder::Whatwg(e) => !e.is_ascii_compatible(),
            Decoder::MailParser(_) => label.starts_with("utf-7") || label.starts_with("utf-16"),
        }
    }

    /// The text, or None when the bytes are malformed in this charset.
    fn strict<'a>(&self, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
        match self {
            Decoder::Whatwg(e) => {
                // A UTF-16 BOM says which byte order (the label "utf-16" alone does not).
                let (enc, skip) = match Encoding::for_bom(bytes) {
                    Some((b, n)) if !e.is_ascii_compatible() && b != encoding_rs::UTF_8 => (b, n),
                    _ => (*e, 0),
                };
                enc.decode_without_bom_handling_and_without_replacement(&bytes[skip..])
            }
            Decoder::MailParser(f) => {
                let s = f(bytes);
                (!s.contains('\u{FFFD}')).then_some(Cow::Owned(s))
            }
        }
    }
}

/// Decodes `bytes` declared as `declared` (normalized label, if any), trying
/// the mail's `others` labels when it fails.
pub(crate) fn decode(bytes: &[u8], declared: Option<&str>, others: &[String]) -> (String, Used) {
    let declared = declared.filter(|d| !d.is_empty());
    let dec = declared.and_then(|d| decoder(d).map(|x| (d, x)));
    // ISO-2022-JP is 7-bit: also valid UTF-8, but only its own decoder reads it.
    if let Some((d, x)) = &dec
        && x.seven_bit_or_wide(d)
        && let Some(s) = x.strict(bytes)
    {
        return (s.into_owned(), Used::Declared((*d).to_string()));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        // Valid UTF-8 with non-ASCII bytes under another label: the label is wrong.
        let used = match declared {
            Some(d) if !is_utf8_label(d) && !s.is_ascii() => Used::Utf8Mislabelled(d.to_string()),
            _ => Used::Plain,
        };
        return (s.to_string(), used);
    }
    if let Some((d, x)) = &dec
        && !is_utf8_label(d)
        && let Some(s) = x.strict(bytes)
    {
        return (s.into_owned(), Used::Declared((*d).to_string()));
    }
    for o in others {
        if Some(o.as_str()) == declared || is_utf8_label(o) {
            continue;
        }
        if let Some(x) = decoder(o)
            && !x.seven_bit_or_wide(o)
            && let Some(s) = x.strict(bytes)
        {
            return (
                s.into_owned(),
                Used::Other {
                    used: o.clone(),
                    declared: declared.map(str::to_string),
                },
            );
        }
    }
    // As windows-1252 whatever the first bytes: `decode` would read a
    // byte-order mark as UTF-16 or UTF-8 under a windows-1252 note.
    let (s, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    (
        s.into_owned(),
        Used::Fallback {
            declared: declared.map(str::to_string),
        },
    )
}

/// The most charsets a mail's declarations add to the chain.
pub(crate) const MAX_DECLARED: usize = 16;

/// Adds a declared charset (normalized) to the chain's list: only labels
/// that decode something, each once, at most `MAX_DECLARED`. A mail of a
/// million made-up labels must not cost a million squared compares, nor
/// make every part try them all.
pub(crate) fn add_declared(out: &mut Vec<String>, c: String) {
    if out.len() < MAX_DECLARED && !out.contains(&c) && decoder(&c).is_some() {
        out.push(c);
    }
}

/// Every `charset=` value in `raw` (parameters of Content-Type lines, any
/// part) and every encoded word's charset that names a known charset,
/// normalized, first seen first, at most `MAX_DECLARED`.
pub(crate) fn declared_in(raw: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |c: String| add_declared(&mut out, c);
    let lower = |b: u8| b.to_ascii_lowercase();
    let mut i = 0;
    while i + 8 <= raw.len() {
        if raw[i..i + 8].iter().map(|&b| lower(b)).eq(*b"charset=") {
            let rest = &raw[i + 8..];
            let rest = rest.strip_prefix(b"\"").unwrap_or(rest);
            let end = rest
                .iter()
                .position(|&b| {
                    !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
                })
                .unwrap_or(rest.len());
            push(normalize(&String::from_utf8_lossy(&rest[..end])));
            i += 8;
        } else if raw[i] == b'=' && raw[i + 1] == b'?' {
            let rest = &raw[i + 2..];
            if let Some(q) = rest.iter().take(40).position(|&b| b == b'?') {
                let label = String::from_utf8_lossy(&rest[..q]);
                let label = label.split('*').next().unwrap_or_default();
                if label.bytes().all(|b| b.is_ascii_graphic()) {
                    push(normalize(label));
                }
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

/// The header block of a message whose header bytes are not UTF-8, with
/// each such field decoded by the chain and re-encoded as UTF-8, so that
/// mail-parser reads names and subjects instead of U+FFFD. None when the
/// block is UTF-8 already (the usual case: nothing is copied).
pub(crate) fn repair_header_block(raw: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
    let end = header_end(raw);
    let head = &raw[..end];
    if std::str::from_utf8(head).is_ok() {
        return None;
    }
    let all = declared_in(raw);
    // The message's own Content-Type charset first, then the rest.
    let own = top_level_charset(head);
    let mut notes = Vec::new();
    let mut out = Vec::with_capacity(raw.len() + 64);
    for field in fields(head) {
        if std::str::from_utf8(field).is_ok() {
            out.extend_from_slice(field);
            continue;
        }
        let (text, used) = decode(field, own.as_deref(), &all);
        let name = field
            .iter()
            .position(|&b| b == b':')
            .map(|p| String::from_utf8_lossy(&field[..p]).trim().to_string())
            .unwrap_or_default();
        let how = match &used {
            Used::Plain | Used::Utf8Mislabelled(_) => "utf-8".to_string(),
            Used::Declared(c) | Used::Other { used: c, .. } => c.clone(),
            Used::Fallback { .. } => "windows-1252".to_string(),
        };
        notes.push(format!("header {name}: raw 8-bit bytes read as {how}"));
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(&raw[end..]);
    Some((out, notes))
}

/// Where the header block ends (the offset of the empty line's start), or
/// the whole input when there is no body.
fn header_end(raw: &[u8]) -> usize {
    let mut pos = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            return pos;
        }
        pos += line.len();
    }
    raw.len()
}

/// Header fields with their continuation lines and line endings.
fn fields(head: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in head.split_inclusive(|&b| b == b'\n') {
        if pos > start && !matches!(line.first(), Some(b' ' | b'\t')) {
            out.push(&head[start..pos]);
            start = pos;
        }
        pos += line.len();
    }
    if pos > start {
        out.push(&head[start..pos]);
    }
    out
}

fn top_level_charset(head: &[u8]) -> Option<String> {
    let ct = fields(head)
        .into_iter()
        .find(|f| f.len() > 13 && f[..13].eq_ignore_ascii_case(b"content-type:"))?;
    declared_in(ct).into_iter().next()
}

#[cfg(test)]
mod tests;
