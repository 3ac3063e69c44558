//! RFC 2047 encoded words (`=?charset?B|Q?…?=`) decoded with the charset
//! chain: mail-parser trusts a word's label; these are read again when that
//! label is wrong (UTF-8 bytes labelled ISO-8859-1, GBK labelled UTF-8).

use mail_parser::MimeHeaders;

use super::charset::{self, decode, normalize};
use super::header_values::unfold;

/// Decodes RFC 2047 encoded words in an unstructured header value with the
/// chain (adjacent words of one charset are joined before decoding, since
/// CJK mailers split multi-byte characters between words). The notes say
/// where a declared charset was not what decoded a word.
pub(crate) fn decode_words(value: &str, others: &[String]) -> (String, Vec<String>) {
    let mut out = String::with_capacity(value.len());
    let mut notes = Vec::new();
    // Pending bytes of adjacent words in one charset.
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut gap = String::new();
    let mut rest = value;
    let flush =
        |pending: &mut Option<(String, Vec<u8>)>, out: &mut String, notes: &mut Vec<String>| {
            if let Some((cs, bytes)) = pending.take() {
                let (text, used) = decode(&bytes, Some(&cs), others);
                if used.is_repair()
                    && let Some(d) = used.describe()
                {
                    notes.push(d);
                }
                out.push_str(&text);
            }
        };
    // Found once: looking for it on every call would cost words times the
    // length of a tail without one.
    let last_end = value.rfind("?=");
    while !rest.is_empty() {
        let offset = value.len() - rest.len();
        let last_end = last_end.and_then(|e| e.checked_sub(offset));
        match next_word(rest, last_end) {
            Some((before, cs, bytes, after)) => {
                let only_space = before.chars().all(char::is_whitespace);
                if !(only_space && pending.is_some()) {
                    flush(&mut pending, &mut out, &mut notes);
                    out.push_str(&gap);
                    out.push_str(before);
                }
                gap.clear();
                match &mut pending {
                    Some((c, b)) if *c == cs => b.extend_from_slice(&bytes),
                    _ => {
                        flush(&mut pending, &mut out, &mut notes);
                        pending = Some((cs, bytes));
                    }
                }
                rest = after;
            }
            None => {
                flush(&mut pending, &mut out, &mut notes);
                out.push_str(rest);
                break;
            }
        }
    }
    flush(&mut pending, &mut out, &mut notes);
    (out, notes)
}

/// The longest encoded word read (RFC 2047 allows 75 characters; some
/// mailers write longer ones).
const MAX_WORD_BYTES: usize = 512;

/// `s` up to `max` bytes, cut at a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// The next `=?charset?B|Q?text?=` in `s`: the text before it, the charset,
/// the decoded bytes and the rest. `last_end`: where the last `?=` of `s`
/// starts, if any.
fn next_word(s: &str, last_end: Option<usize>) -> Option<(&str, String, Vec<u8>, &str)> {
    // No end after a start: no later start can end either.
    let last_end = last_end?;
    let mut from = 0;
    while let Some(at) = s[from..].find("=?").map(|p| p + from) {
        if at + 2 > last_end {
            return None;
        }
        // A word is short (RFC 2047: 75 characters); looking further for its
        // end would make a value of many starts cost its length squared.
        let body = prefix(&s[at + 2..], MAX_WORD_BYTES);
        let parsed = (|| {
            let q1 = body.find('?')?;
            let cs = &body[..q1];
            let enc = body.get(q1 + 1..q1 + 2)?;
            if body.get(q1 + 2..q1 + 3)? != "?" {
                return None;
            }
            let text_start = q1 + 3;
            let end = body[text_start..].find("?=")? + text_start;
            let text = &body[text_start..end];
            if text.contains(char::is_whitespace) || cs.is_empty() {
                return None;
            }
            let bytes = match enc {
                "B" | "b" => super::transfer::base64(text.as_bytes()),
                "Q" | "q" => super::transfer::q_word(text.as_bytes()),
                _ => return None,
            };
            let cs = normalize(cs.split('*').next().unwrap_or(cs));
            Some((cs, bytes, at + 2 + end + 2))
        })();
        match parsed {
            Some((cs, bytes, after)) => return Some((&s[..at], cs, bytes, &s[after..])),
            None => from = at + 2,
        }
    }
    None
}

/// Charsets declared by the message's parts and in its header block's
/// encoded words: where a declared charset fails, these are tried next.
pub(super) fn declared_charsets(msg: &mail_parser::Message<'_>, input: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in msg
        .parts
        .iter()
        .filter_map(|p| p.content_type()?.attribute("charset"))
    {
        charset::add_declared(&mut out, charset::normalize(c));
    }
    let head_end = msg
        .parts
        .first()
        .map_or(0, |p| p.offset_body as usize)
        .min(input.len());
    for c in charset::declared_in(&input[..head_end]) {
        charset::add_declared(&mut out, c);
    }
    out
}

/// A header's text decoded again by the charset chain when its encoded
/// words' declared charset did not decode them cleanly (None otherwise: the
/// parser's reading stands).
pub(super) fn header_text(
    msg: &mail_parser::Message<'_>,
    name: &str,
    others: &[String],
    notes: &mut Vec<String>,
) -> Option<String> {
    let raw = msg.header_raw(name)?;
    if !raw.contains("=?") {
        return None;
    }
    let (text, found) = decode_words(unfold(raw).trim(), others);
    if found.is_empty() {
        return None;
    }
    notes.extend(found.into_iter().map(|n| format!("header {name}: {n}")));
    Some(text.trim().to_string())
}

/// The From display name, decoded again like `header_text` when its encoded
/// words are in a charset that does not decode them.
pub(super) fn display_name(
    msg: &mail_parser::Message<'_>,
    others: &[String],
    notes: &mut Vec<String>,
) -> Option<String> {
    let raw = msg.header_raw("From")?;
    if !raw.contains("=?") {
        return None;
    }
    let v = unfold(raw);
    let name = v.split('<').next().unwrap_or_default().trim();
    let (text, found) = decode_words(name, others);
    if found.is_empty() {
        return None;
    }
    notes.extend(found.into_iter().map(|n| format!("header From: {n}")));
    Some(text.trim().trim_matches('"').trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_with_the_chain() {
        // Split GBK character across two words: joined before decoding.
        let (t, n) = decode_words("=?gb2312?B?xA==?= =?gb2312?B?47rD?= x", &[]);
        assert_eq!((t.as_str(), n.len()), ("你好 x", 0));
        let (t, n) = decode_words("Re: =?utf-8?Q?caf=E9?= ok", &[]);
        assert_eq!(t, "Re: café ok");
        assert_eq!(n.len(), 1, "{n:?}");
        let (t, n) = decode_words("=?iso-8859-1?Q?Gr=C3=BC=C3=9Fe?=", &[]);
        assert_eq!(t, "Grüße");
        assert!(n[0].contains("but the bytes are UTF-8"), "{n:?}");
        let (t, n) = decode_words("=?UTF-8?B?SGVsbG8gd8O2cmxk?=", &[]);
        assert_eq!((t.as_str(), n.len()), ("Hello wörld", 0));
        let (t, _) = decode_words("no words =? here", &[]);
        assert_eq!(t, "no words =? here");
    }

    #[test]
    fn many_starts_without_ends_are_read_once() {
        // 200,000 starts of words that never end, then one word that does:
        // each start looks at most MAX_WORD_BYTES ahead (it looked to the end
        // of the value: the value's length squared).
        let junk = "=?a?B? ".repeat(200_000);
        let value = format!("{junk}=?utf-8?Q?caf=C3=A9?=");
        let (t, _) = decode_words(&value, &[]);
        assert_eq!(t, format!("{junk}café"));
        // Many words, then a long tail without an end: each word found costs
        // its own length, not the tail's.
        let words = "=?utf-8?Q?a?= ".repeat(20_000);
        let tail = "=?x ".repeat(100_000);
        let (t, _) = decode_words(&format!("{words}{tail}"), &[]);
        assert_eq!(t, format!("{}{tail}", "a".repeat(20_000) + " "));
        // A word longer than MAX_WORD_BYTES is left as it is.
        let long = format!("=?utf-8?Q?{}?=", "a".repeat(MAX_WORD_BYTES));
        assert_eq!(decode_words(&long, &[]).0, long);
        assert_eq!(prefix("aé", 2), "a");
    }
}
