//! A small, forgiving HTML scanner for quote stripping: a text projection
//! (one line per block / `<br>`) where every line knows the byte offset to
//! cut the source at, plus the quote containers and separators found on the
//! way. No DOM: cutting the source and sanitizing (ammonia re-balances the
//! tags) is enough, and much faster.

use super::markup::{Attrs, classify, decode_into};

/// One line of the text projection.
pub(crate) struct Line {
    pub text: String,
    /// Cutting the source here drops this line and all after it, and
    /// nothing before it (the first break after the previous content).
    pub cut: usize,
    /// Offset of the line's first character of text.
    pub content: usize,
    /// Inside a quote container (any blockquote or a client's quote div).
    pub in_quote: bool,
    /// The cut of the outermost quote container open at this line.
    pub outer_quote: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MarkKind {
    /// A client's quote container: always a cut.
    Container,
    /// A separator (`<hr>`, Outlook's border-top div): a cut when a header
    /// block follows it.
    NeedsHeader,
    /// A plain `<blockquote>`: a cut only right under an attribution.
    NeedsAttribution,
}

/// A structural quote start.
pub(crate) struct Mark {
    pub kind: MarkKind,
    pub cut: usize,
    /// Lines of the projection before the element (its first line's index).
    pub line: usize,
    /// Where the element closes (for the interleaved check).
    pub end: Option<usize>,
    /// Also drop an attribution line right above it (Apple, Sparrow).
    pub attribution_above: bool,
    pub label: String,
}

pub(crate) struct Scan {
    pub lines: Vec<Line>,
    pub marks: Vec<Mark>,
    /// Offsets of images (content without text).
    pub media: Vec<usize>,
}

struct Open {
    name: String,
    cut: usize,
    quote: bool,
    block: bool,
    lines_at_open: usize,
    mark: Option<usize>,
}

const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "html",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];
const RAW: &[&str] = &["style", "script", "title", "template", "textarea", "xmp"];

pub(crate) fn is_block(name: &str) -> bool {
    BLOCKS.contains(&name)
}

#[derive(Default)]
struct State {
    lines: Vec<Line>,
    marks: Vec<Mark>,
    media: Vec<usize>,
    stack: Vec<Open>,
    cur: String,
    cur_cut: usize,
    cur_content: usize,
    cur_in_quote: bool,
    cur_outer: Option<usize>,
    /// The first break since the last content.
    pending: Option<usize>,
    in_head: bool,
}

impl State {
    fn has_content(&self) -> bool {
        !self.cur.is_empty()
    }

    fn brk(&mut self, at: usize) {
        if self.has_content() {
            let text = std::mem::take(&mut self.cur);
            self.lines.push(Line {
                text: text.trim_end().to_string(),
                cut: self.cur_cut,
                content: self.cur_content,
                in_quote: self.cur_in_quote,
                outer_quote: self.cur_outer,
            });
        }
        self.pending.get_or_insert(at);
    }

    /// Where cutting drops an element starting at `at` and nothing before.
    fn cut_for(&self, at: usize) -> usize {
        if self.has_content() {
            at
        } else {
            self.pending.unwrap_or(at).min(at)
        }
    }

    fn text(&mut self, html: &str, from: usize, to: usize) {
        if self.in_head {
            return;
        }
        let mut decoded = String::new();
        decode_into(&html[from..to], &mut decoded);
        if decoded.trim().is_empty() {
            if self.has_content() && !self.cur.ends_with(' ') {
                self.cur.push(' ');
            }
            return;
        }
        if !self.has_content() {
            let first = html[from..to]
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(0);
            self.cur_cut = self.pending.unwrap_or(from);
            self.cur_content = from + first;
            self.cur_in_quote = self.stack.iter().any(|o| o.quote);
            self.cur_outer = self.stack.iter().find(|o| o.quote).map(|o| o.cut);
            decoded = decoded.trim_start().to_string();
        } else if self.cur.ends_with(' ') && decoded.starts_with(' ') {
            decoded.remove(0);
        }
        self.pending = None;
        self.cur.push_str(&decoded);
    }

    fn start_tag(&mut self, name: &str, attrs: &str, at: usize) {
        match name {
            "head" => self.in_head = true,
            "body" => self.in_head = false,
            _ => {}
        }
        if name == "img" {
            self.media.push(at);
            self.pending = None;
            return;
        }
        // A short line inside the block that holds an `<hr>` belongs to the
        // quote that block wraps (talon: "Bob<hr>From: …" in one div).
        let hr_container = (name == "hr").then(|| self.hr_container_cut()).flatten();
        let block = is_block(name) || name == "br";
        if block {
            self.brk(at);
        }
        let cut = self.cut_for(at);
        let mut mark = None;
        let mut quote = name == "blockquote";
        // Quote containers and separators are among these elements only.
        let marked = matches!(
            name,
            "div" | "blockquote" | "span" | "hr" | "p" | "section" | "table"
        )
        .then(|| classify(name, &Attrs::parse(attrs)))
        .flatten();
        if let Some((kind, label)) = marked {
            let attribution_above = name == "blockquote";
            quote |= kind == MarkKind::Container;
            mark = Some(self.marks.len());
            self.marks.push(Mark {
                kind,
                cut: hr_container.unwrap_or(cut),
                line: self.lines.len(),
                end: None,
                attribution_above,
                label,
            });
        }
        if VOID.contains(&name) {
            return;
        }
        self.stack.push(Open {
            name: name.to_string(),
            cut,
            quote,
            block,
            lines_at_open: self.lines.len(),
            mark: mark.filter(|_| quote),
        });
    }

    fn hr_container_cut(&self) -> Option<usize> {
        let open = self.stack.iter().rev().find(|o| o.block)?;
        let short = self.cur.trim().chars().count() <= 40;
        (open.lines_at_open == self.lines.len() && open.lines_at_open > 0 && short)
            .then_some(open.cut)
    }

    fn end_tag(&mut self, name: &str, at: usize) {
        if is_block(name) {
            self.brk(at);
        }
        if name == "head" {
            self.in_head = false;
        }
        if let Some(p) = self.stack.iter().rposition(|o| o.name == name) {
            for open in self.stack.drain(p..) {
                if let Some(m) = open.mark {
                    self.marks[m].end = Some(at);
                }
            }
        }
    }
}

fn find_ci(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from >= b.len() {
        return None;
    }
    b[from..]
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

/// The `>` that ends a tag, outside quoted attribute values.
fn tag_end(b: &[u8], from: usize) -> usize {
    let mut quote = None;
    for (k, &c) in b.iter().enumerate().skip(from) {
        match (quote, c) {
            (None, b'"' | b'\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, b'>') => return k,
            _ => {}
        }
    }
    b.len()
}

pub(crate) fn scan(html: &str) -> Scan {
    let b = html.as_bytes();
    let mut s = State::default();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            let next = b[i..]
                .iter()
                .position(|&c| c == b'<')
                .map_or(b.len(), |p| p + i);
            s.text(html, i, next);
            i = next;
            continue;
        }
        if b[i + 1..].starts_with(b"!--") {
            i = find_ci(b, i + 4, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        if matches!(b.get(i + 1), Some(b'!' | b'?')) {
            i = tag_end(b, i + 1).saturating_add(1).min(b.len());
            continue;
        }
        let end_tag = b.get(i + 1) == Some(&b'/');
        let n0 = i + 1 + usize::from(end_tag);
        let n1 = n0
            + b[n0..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b':' | b'-'))
                .count();
        if n1 == n0 || !b[n0].is_ascii_alphabetic() {
            // A lone '<' in text.
            s.text(html, i, i + 1);
            i += 1;
            continue;
        }
        let close = tag_end(b, n1);
        let name = html[n0..n1].to_ascii_lowercase();
        let next = (close + 1).min(b.len());
        if end_tag {
            s.end_tag(&name, i);
        } else {
            s.start_tag(&name, &html[n1..close], i);
            if RAW.contains(&name.as_str()) {
                let mut needle = b"</".to_vec();
                needle.extend_from_slice(name.as_bytes());
                i = match find_ci(b, next, &needle) {
                    Some(e) => (tag_end(b, e) + 1).min(b.len()),
                    None => b.len(),
                };
                s.end_tag(&name, i);
                continue;
            }
        }
        i = next;
    }
    s.brk(b.len());
    Scan {
        lines: s.lines,
        marks: s.marks,
        media: s.media,
    }
}
