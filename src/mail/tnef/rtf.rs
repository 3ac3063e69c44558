//! PR_RTF_COMPRESSED (MS-OXRTFCP): the body Outlook often sends as its only
//! body in TNEF, as compressed RTF. Decompressed, then reduced to its text
//! (paragraphs, tabs, `\'hh` bytes in the document's code page, `\uN`
//! characters; font tables, pictures and other destinations left out).

const COMPRESSED: u32 = 0x7546_5A4C; // "LZFu"
const UNCOMPRESSED: u32 = 0x414C_454D; // "MELA"

/// The dictionary's initial contents (MS-OXRTFCP 2.1.2.1), 207 bytes.
const PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// The most RTF read out of one body: the header's size is the sender's
/// word, and LZFu expands up to about 8.5 times.
const MAX_RTF_BYTES: usize = 8 * 1024 * 1024;

/// Groups nested deeper than this are skipped whole (real documents nest a
/// few levels): the group stack stays small whatever a hostile body holds.
const MAX_GROUP_DEPTH: usize = 256;

/// The RTF, or None when the header is not one of the two known kinds.
pub(super) fn decompress(data: &[u8]) -> Option<Vec<u8>> {
    let word = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let comp_size = word(0)? as usize;
    let raw_size = (word(4)? as usize).min(MAX_RTF_BYTES);
    let kind = word(8)?;
    let end = comp_size.saturating_add(4).min(data.len());
    let body = data.get(16..end).unwrap_or_default();
    match kind {
        UNCOMPRESSED => Some(body[..raw_size.min(body.len())].to_vec()),
        COMPRESSED => {
            // The last copy may run past the size the header gives.
            let mut rtf = lzfu(body, raw_size);
            rtf.truncate(raw_size);
            Some(rtf)
        }
        _ => None,
    }
}

fn lzfu(body: &[u8], raw_size: usize) -> Vec<u8> {
    let mut dict = [0u8; 4096];
    dict[..PREBUF.len()].copy_from_slice(PREBUF);
    let mut wpos = PREBUF.len();
    // A flag byte and its 8 tokens (at most 17 bytes) give at most 8 * 17
    // output bytes: about 8.5 per input byte, so 9 bounds the capacity.
    let mut out = Vec::with_capacity(raw_size.min(body.len().saturating_mul(9)));
    let mut i = 0;
    while i < body.len() {
        let flags = body[i];
        i += 1;
        for bit in 0..8 {
            if i >= body.len() || out.len() >= raw_size {
                return out;
            }
            if flags & (1 << bit) == 0 {
                let b = body[i];
                i += 1;
                out.push(b);
                dict[wpos] = b;
                wpos = (wpos + 1) % 4096;
                continue;
            }
            let Some(pair) = body.get(i..i + 2) else {
                return out;
            };
            i += 2;
            let word = u16::from_be_bytes([pair[0], pair[1]]) as usize;
            let (offset, len) = (word >> 4, (word & 0xF) + 2);
            if offset == wpos {
                return out; // the end marker
            }
            for k in 0..len {
                let b = dict[(offset + k) % 4096];
                out.push(b);
                dict[wpos] = b;
                wpos = (wpos + 1) % 4096;
            }
        }
    }
    out
}

/// Destinations whose contents are not text.
const SKIPPED: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "header",
    "footer",
    "themedata",
    "colorschememapping",
    "datastore",
    "latentstyles",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "filetbl",
    "revtbl",
];

/// The text of an RTF document. `label` is the charset of `\'hh` bytes when
/// the document does not say (`\ansicpg`).
pub(super) fn to_text(rtf: &[u8], label: Option<&str>) -> String {
    let mut t = TextOut {
        out: String::new(),
        pending: Vec::new(),
        cp: label.map(str::to_string),
        skip: false,
        uc: 1,
        to_skip: 0,
        high: None,
    };
    // Per group: (skipped, \uc count).
    let mut stack: Vec<(bool, usize)> = Vec::new();
    // Levels below MAX_GROUP_DEPTH, skipped; and the state to return to.
    let (mut deeper, mut above) = (0usize, (false, 1usize));
    let mut i = 0;
    while i < rtf.len() {
        let b = rtf[i];
        i += 1;
        match b {
            b'{' if stack.len() >= MAX_GROUP_DEPTH => {
                if deeper == 0 {
                    above = (t.skip, t.uc);
                }
                deeper += 1;
                t.skip = true;
            }
            b'}' if deeper > 0 => {
                deeper -= 1;
                if deeper == 0 {
                    (t.skip, t.uc) = above;
                }
            }
            b'{' => {
                stack.push((t.skip, t.uc));
                if rtf.get(i..i + 2) == Some(b"\\*") {
                    t.skip = true;
                }
            }
            b'}' => {
                t.flush();
                if let Some((s, u)) = stack.pop() {
                    (t.skip, t.uc) = (s, u);
                }
            }
            b'\\' => {
                let Some(&next) = rtf.get(i) else { break };
                if next.is_ascii_alphabetic() {
                    let (word, param, end) = control_word(rtf, i);
                    i = end;
                    t.control_word(&word, param);
                } else {
                    i += 1;
                    t.control_symbol(next, rtf, &mut i);
                }
            }
            b'\r' | b'\n' => {}
            _ => t.byte(b),
        }
    }
    t.lone_high();
    t.flush();
    t.out.trim().to_string()
}

/// A control word starting at `i` (after the backslash): its letters, its
/// numeric parameter, and where the text after it (and its one space) starts.
fn control_word(rtf: &[u8], mut i: usize) -> (String, Option<i64>, usize) {
    let start = i;
    while rtf.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    let word = String::from_utf8_lossy(&rtf[start..i]).into_owned();
    let nstart = i;
    if rtf.get(i) == Some(&b'-') {
        i += 1;
    }
    while rtf.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let param: Option<i64> = std::str::from_utf8(&rtf[nstart..i])
        .ok()
        .and_then(|s| s.parse().ok());
    if rtf.get(i) == Some(&b' ') {
        i += 1;
    }
    (word, param, i)
}

/// The text being written, and the state of the group being read.
struct TextOut {
    out: String,
    /// `\'hh` bytes not yet decoded.
    pending: Vec<u8>,
    cp: Option<String>,
    skip: bool,
    uc: usize,
    /// Characters still to skip after `\uN`.
    to_skip: usize,
    /// The high half of a surrogate pair, waiting for its low half.
    high: Option<u32>,
}

impl TextOut {
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let decoded =
                crate::mail::parse::charset::decode(&self.pending, self.cp.as_deref(), &[]);
            self.out.push_str(&decoded.0);
            self.pending.clear();
        }
    }

    /// A `\uN` character. Outside the Basic Multilingual Plane RTF writes
    /// UTF-16 surrogate pairs (`\u-10179?\u-8704?` is 😀): the high half
    /// waits for the low one.
    fn unicode(&mut self, n: u32) {
        match (self.high.take(), n) {
            (None, 0xD800..=0xDBFF) => self.high = Some(n),
            (Some(h), 0xDC00..=0xDFFF) => {
                let c = 0x10000 + ((h - 0xD800) << 10) + (n - 0xDC00);
                self.out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            (high, n) => {
                if high.is_some() {
                    self.out.push('\u{FFFD}');
                }
                if (0xD800..=0xDBFF).contains(&n) {
                    self.high = Some(n);
                } else {
                    self.out.push(char::from_u32(n).unwrap_or('\u{FFFD}'));
                }
            }
        }
    }

    /// A high surrogate half that no low half followed: a replacement
    /// character, so nothing vanishes silently.
    fn lone_high(&mut self) {
        if self.high.take().is_some() {
            self.flush();
            self.out.push('\u{FFFD}');
        }
    }

    /// A plain byte of text.
    fn byte(&mut self, b: u8) {
        if self.to_skip > 0 {
            self.to_skip -= 1;
        } else if !self.skip {
            self.lone_high();
            self.pending.push(b);
        }
    }

    fn control_word(&mut self, word: &str, param: Option<i64>) {
        if word != "u" {
            self.flush();
            self.lone_high();
        }
        if self.skip {
            return;
        }
        let out = &mut self.out;
        match word {
            "par" | "line" | "row" => out.push('\n'),
            "tab" | "cell" => out.push('\t'),
            "lquote" | "rquote" => out.push('\''),
            "ldblquote" | "rdblquote" => out.push('"'),
            "emdash" => out.push('—'),
            "endash" => out.push('–'),
            "bullet" => out.push('•'),
            "ansicpg" => self.cp = param.map(|n| super::codepage_label(n as u32)),
            "uc" => self.uc = param.unwrap_or(1).clamp(0, 10) as usize,
            "u" => {
                self.flush();
                if let Some(n) = param {
                    let n = if n < 0 { n + 65536 } else { n };
                    self.unicode(n as u32);
                }
                self.to_skip = self.uc;
            }
            w if SKIPPED.contains(&w) => self.skip = true,
            _ => {}
        }
    }

    /// A backslash and one non-letter; `i` is after it.
    fn control_symbol(&mut self, next: u8, rtf: &[u8], i: &mut usize) {
        match next {
            b'\'' => {
                let hex = rtf
                    .get(*i..*i + 2)
                    .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
                if let Some(h) = hex {
                    *i += 2;
                    if self.to_skip > 0 {
                        self.to_skip -= 1;
                    } else if !self.skip {
                        self.pending.push(h);
                    }
                }
            }
            b'*' => self.skip = true,
            b'~' if !self.skip => self.out.push('\u{a0}'),
            b'\\' | b'{' | b'}' if !self.skip => self.out.push(next as char),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prebuf_is_207_bytes() {
        assert_eq!(PREBUF.len(), 207);
    }

    #[test]
    fn decompresses_the_spec_example() {
        // MS-OXRTFCP 3.1.1: "{\rtf1\ansi\ansicpg1252\pard hello world}\r\n".
        let data: &[u8] = &[
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5,
            0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42,
            0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0,
            0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0,
        ];
        let rtf = decompress(data).expect("LZFu");
        assert_eq!(rtf, b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
        assert_eq!(to_text(&rtf, None), "hello world");
    }

    #[test]
    fn rtf_text_keeps_words_and_drops_tables() {
        let rtf = b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}{\\*\\generator x;}Gr\\'fc\\'dfe\\par zweite\\tab Zeile \\u8364?5\\par}";
        assert_eq!(to_text(rtf, None), "Grüße\nzweite\tZeile €5");
        let rtf = b"{\\rtf1\\ansi\\ansicpg936 \\'c4\\'e3\\'ba\\'c3}";
        assert_eq!(to_text(rtf, None), "你好");
        assert!(decompress(b"short").is_none());
        assert!(decompress(&[0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]).is_none());
    }

    #[test]
    fn a_lying_size_or_a_deep_nest_stays_small() {
        // The header claims 4 GiB of RTF; the body is back-references that
        // each copy 17 bytes (about 8.5 output bytes per input byte).
        let mut body = Vec::new();
        let mut wpos = PREBUF.len();
        for _ in 0..130_000 {
            body.extend_from_slice(&[0xFF]); // a flag byte: 8 references
            for _ in 0..8 {
                let offset = (wpos + 1) % 4096; // never the end marker
                let word = ((offset << 4) | 15) as u16;
                body.extend_from_slice(&word.to_be_bytes());
                wpos = (wpos + 17) % 4096;
            }
        }
        let mut data = Vec::new();
        for w in [body.len() as u32 + 12, u32::MAX, COMPRESSED, 0] {
            data.extend_from_slice(&w.to_le_bytes());
        }
        data.extend_from_slice(&body);
        let rtf = decompress(&data).expect("compressed");
        assert_eq!(rtf.len(), MAX_RTF_BYTES, "{} bytes", rtf.len());

        // A million nested groups: the text around them is read, what is
        // nested deeper than MAX_GROUP_DEPTH is skipped.
        let n = 1_000_000;
        let mut doc = b"{\\rtf1 before ".to_vec();
        doc.extend(std::iter::repeat_n(b'{', n));
        doc.extend_from_slice(b"deep");
        doc.extend(std::iter::repeat_n(b'}', n));
        doc.extend_from_slice(b" after}");
        assert_eq!(to_text(&doc, None), "before  after");
        let shallow = b"{\\rtf1 a{b{c}}d}";
        assert_eq!(to_text(shallow, None), "abcd");
    }

    #[test]
    fn surrogate_pairs_are_one_character() {
        let doc = b"{\\rtf1 smile \\u-10179?\\u-8704? ok \\u-10179?x}";
        assert_eq!(to_text(doc, None), "smile \u{1F600} ok \u{FFFD}x");
    }
}
