//! Recovery of a part mail-parser could not delimit: its multipart's
//! boundary never came (a delivery report whose inner multipart is never
//! closed), so it ran to the end of the mail with its transfer encoding
//! left undone. The region is split at every boundary the mail declares:
//! the first piece is the part's own body, each later one a part with its
//! own headers, read like a message of its own.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};

use super::body::{PartFate, Source, Walk, Went, content_type, owned, used_name};
use super::{charset, transfer};

impl<'x> Walk<'x, '_> {
    /// A part mail-parser could not delimit (its multipart's boundary never
    /// came, so it ran to the end of the mail with its transfer encoding
    /// undone): split at every boundary the mail declares, the first piece
    /// is the part's own body, each later piece a part with its own headers.
    pub(super) fn recover(
        &mut self,
        msg: &Message<'x>,
        raw: &'x [u8],
        part: &MessagePart<'_>,
        path: &str,
        depth: usize,
    ) {
        let region = raw
            .get(part.offset_body as usize..part.offset_end as usize)
            .unwrap_or_default();
        let boundaries = boundaries(msg, region);
        let pieces = split(region, &boundaries);
        let note = Some(format!(
            "recovered: its multipart was never closed ({} more part(s) read after it)",
            pieces.len().saturating_sub(1)
        ));
        let own = pieces.first().map(|p| p.body).unwrap_or_default();
        self.recovered_own(part, path, own, note);
        self.recovered_pieces(&pieces, path, depth);
    }

    /// The first piece: the part's own body, with its transfer encoding undone.
    fn recovered_own(
        &mut self,
        part: &MessagePart<'_>,
        path: &str,
        own: &[u8],
        note: Option<String>,
    ) {
        let ct = content_type(part);
        let bytes = transfer::decode(part.content_transfer_encoding(), own);
        let declared = part
            .content_type()
            .and_then(|c| c.attribute("charset"))
            .map(charset::normalize);
        if ct == "text/plain" || ct == "text/html" {
            let (text, used) = charset::decode(&bytes, declared.as_deref(), self.others);
            if let Some(d) = used.describe() {
                self.notes.push(format!("part {path} ({ct}): {d}"));
            }
            let html = ct == "text/html";
            if html {
                self.text
                    .push(mail_parser::decoders::html::html_to_text(&text));
                self.html.push(text);
            } else {
                self.text.push(text);
            }
            self.parts.push(PartFate {
                path: path.to_string(),
                content_type: ct,
                filename: None,
                size: bytes.len(),
                charset: Some(used_name(&used)),
                went: if html { Went::Html } else { Went::Text },
                note,
            });
        } else {
            self.parts.push(PartFate {
                path: path.to_string(),
                content_type: ct.clone(),
                filename: part.attachment_name().map(str::to_string),
                size: bytes.len(),
                charset: None,
                went: Went::Attachment,
                note,
            });
            self.attachments.push(Source::Owned(owned(
                part.attachment_name().map(str::to_string),
                ct,
                None,
                bytes,
            )));
        }
    }

    /// Each later piece: a part with its own headers, or an epilogue.
    fn recovered_pieces(&mut self, pieces: &[Piece<'x>], path: &str, depth: usize) {
        for (n, piece) in pieces.iter().enumerate().skip(1) {
            let sub = format!("{path}+{n}");
            if piece.after_close {
                // After a closing delimiter: an epilogue, which readers do not show.
                if !piece.body.iter().all(u8::is_ascii_whitespace) {
                    self.parts.push(PartFate {
                        path: sub,
                        content_type: "text/plain".into(),
                        filename: None,
                        size: piece.body.len(),
                        charset: None,
                        went: Went::Dropped,
                        note: Some("the epilogue after a multipart's closing delimiter".into()),
                    });
                }
                continue;
            }
            let parsed = starts_with_header(piece.body)
                .then(|| MessageParser::default().parse(piece.body))
                .flatten();
            match parsed {
                Some(m) => {
                    self.message(&m, piece.body, &format!("{sub}:"), false, depth + 1);
                    self.recovered.push(m);
                }
                None => self.headerless_piece(piece.body, sub),
            }
        }
    }
}

/// The most boundaries a region is split by: each line is tried against
/// each, and a region of made-up `boundary=` lines must not cost lines
/// times boundaries.
const MAX_BOUNDARIES: usize = 64;

impl Walk<'_, '_> {
    /// A piece with no header block mail-parser can read (text written
    /// straight after the delimiter): its text joins the mail's, never lost.
    fn headerless_piece(&mut self, body: &[u8], path: String) {
        if body.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let (text, _) = charset::decode(body, None, &[]);
        self.parts.push(PartFate {
            path,
            content_type: "text/plain".into(),
            filename: None,
            size: body.len(),
            charset: None,
            went: Went::Text,
            note: Some("a piece of a broken multipart without a header block, read as text".into()),
        });
        self.text.push(text);
    }
}

/// Whether a piece starts with a header field (`Name: value`) or a blank
/// line (no headers): mail-parser would read any first line as a header and
/// the text written straight after a delimiter would vanish.
fn starts_with_header(body: &[u8]) -> bool {
    let first = body.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    if first.is_empty() {
        return true;
    }
    match first.iter().position(|&b| b == b':') {
        Some(colon) => {
            colon > 0
                && first[..colon]
                    .iter()
                    .all(|&b| b.is_ascii_graphic() && b != b':')
        }
        None => false,
    }
}

/// Every boundary declared in the message's multipart headers or in the
/// region's own Content-Type lines (the message's first, at most
/// `MAX_BOUNDARIES`), each once, longest first (so `--ab` does not cut a
/// line `--abc`).
fn boundaries(msg: &Message<'_>, region: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = msg
        .parts
        .iter()
        .filter_map(|p| p.content_type())
        .filter(|c| c.ctype().eq_ignore_ascii_case("multipart"))
        .filter_map(|c| c.attribute("boundary"))
        .map(|b| b.as_bytes().to_vec())
        .collect();
    // `boundary=` parameters written inside the region.
    let lower: Vec<u8> = region.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(at) = find(&lower[from..], b"boundary=").map(|p| p + from) {
        let rest = &region[at + 9..];
        let (quoted, rest) = match rest.strip_prefix(b"\"") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let end = rest
            .iter()
            .position(|&b| {
                if quoted {
                    b == b'"' || b == b'\n'
                } else {
                    b == b';' || b.is_ascii_whitespace()
                }
            })
            .unwrap_or(rest.len());
        let boundary = &rest[..end];
        if end > 0 && !out.iter().any(|b| b == boundary) {
            out.push(boundary.to_vec());
        }
        if out.len() >= MAX_BOUNDARIES {
            break;
        }
        from = at + 9;
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Piece<'a> {
    body: &'a [u8],
    /// Follows a closing delimiter (`--b--`).
    after_close: bool,
}

/// Splits at lines `--b` / `--b--` for any known boundary; the line break
/// before a delimiter belongs to it (RFC 2046).
fn split<'a>(region: &'a [u8], boundaries: &[Vec<u8>]) -> Vec<Piece<'a>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut after_close = false;
    let mut pos = 0;
    for line in region.split_inclusive(|&b| b == b'\n') {
        let l = line.strip_suffix(b"\n").unwrap_or(line);
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let delimiter = l.strip_prefix(b"--").and_then(|rest| {
            boundaries.iter().find_map(|b| {
                let tail = rest.strip_prefix(b.as_slice())?;
                let tail_trim = trim_end(tail);
                if tail_trim.is_empty() {
                    Some(false)
                } else if tail_trim == b"--" {
                    Some(true)
                } else {
                    None
                }
            })
        });
        if let Some(close) = delimiter {
            let mut end = pos;
            if region[..end].ends_with(b"\r\n") {
                end -= 2;
            } else if region[..end].ends_with(b"\n") {
                end -= 1;
            }
            pieces.push(Piece {
                body: &region[start..end.max(start)],
                after_close,
            });
            start = pos + line.len();
            after_close = close;
        }
        pos += line.len();
    }
    pieces.push(Piece {
        body: &region[start..],
        after_close,
    });
    pieces
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    &b[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_of_made_up_boundaries_keeps_the_messages_own() {
        let raw = b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=\"own\"\r\n\r\n--own\r\n\r\nx\r\n";
        let msg = MessageParser::default().parse(&raw[..]).expect("parses");
        let mut region = String::new();
        for i in 0..10_000 {
            region.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=made-up-{i}\r\n"
            ));
        }
        region.push_str("boundary=made-up-7\r\nBOUNDARY=longer-one\r\n");
        let found = boundaries(&msg, region.as_bytes());
        assert_eq!(found.len(), MAX_BOUNDARIES);
        assert!(
            found.iter().any(|b| b == b"own"),
            "the message's own boundary is kept"
        );
        let mut sorted = found.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), found.len(), "each once");
        assert!(
            found.windows(2).all(|w| w[0].len() >= w[1].len()),
            "longest first"
        );
        // Duplicates that sort apart are still removed.
        let few = boundaries(&msg, b"boundary=a boundary=bb boundary=a boundary=own");
        assert_eq!(few, [b"own".to_vec(), b"bb".to_vec(), b"a".to_vec()]);
    }
}
