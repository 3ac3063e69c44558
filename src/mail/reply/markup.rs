//! The small pieces of HTML the scanner needs: the few attributes that mark
//! a quote container, which container an element is, and entity decoding.

use super::scan::MarkKind;

/// The attributes that matter here, lowercased.
#[derive(Default)]
pub(crate) struct Attrs {
    class: String,
    id: String,
    kind: String,
    style: String,
}

impl Attrs {
    pub(crate) fn parse(raw: &str) -> Attrs {
        let mut a = Attrs::default();
        let b = raw.as_bytes();
        let mut i = 0;
        while i < b.len() {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            let n0 = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'/') {
                i += 1;
            }
            let name = &raw[n0..i];
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = "";
            if i < b.len() && b[i] == b'=' {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < b.len() && matches!(b[i], b'"' | b'\'') {
                    let q = b[i];
                    let v0 = i + 1;
                    i = v0 + b[v0..].iter().position(|&c| c == q).unwrap_or(b.len() - v0);
                    value = &raw[v0..i];
                    i += 1;
                } else {
                    let v0 = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    value = &raw[v0..i];
                }
            } else if i == n0 {
                i += 1;
            }
            let slot = match name.to_ascii_lowercase().as_str() {
                "class" => &mut a.class,
                "id" => &mut a.id,
                "type" => &mut a.kind,
                "style" => &mut a.style,
                _ => continue,
            };
            *slot = value.to_ascii_lowercase();
        }
        a
    }

    fn has_class(&self, prefix: &str) -> bool {
        self.class.split_whitespace().any(|c| c.starts_with(prefix))
    }
}

/// Which quote container or separator an element is, if any.
pub(crate) fn classify(name: &str, a: &Attrs) -> Option<(MarkKind, String)> {
    use MarkKind::*;
    let id = a.id.trim();
    let container = |label: &str| Some((Container, label.to_string()));
    if a.has_class("gmail_quote") {
        return container("gmail_quote");
    }
    if a.has_class("moz-cite-prefix") {
        return container("moz-cite-prefix (Thunderbird)");
    }
    if a.has_class("yahoo_quoted") || id.starts_with("yahoo_quoted") {
        return container("yahoo_quoted");
    }
    if a.has_class("protonmail_quote") || a.has_class("zmail_extra") {
        return container("webmail quote");
    }
    if a.has_class("outlookmessageheader") {
        return container("OutlookMessageHeader");
    }
    if id.ends_with("divrplyfwdmsg") || id == "appendonsend" {
        return container("divRplyFwdMsg (Outlook)");
    }
    if id == "olk_src_body_section" || id == "mail-editor-reference-message-container" {
        return container("OLK_SRC_BODY_SECTION (Outlook for Mac)");
    }
    match name {
        "blockquote" if a.kind.trim() == "cite" => container("blockquote type=cite"),
        "blockquote" => Some((NeedsAttribution, "blockquote under an attribution".into())),
        "hr" if id == "stopspelling" || id == "zwchr" => container("hr (webmail separator)"),
        "hr" => Some((NeedsHeader, "hr followed by a header block".into())),
        "div" | "p" if a.style.contains("border-top") && a.style.contains("solid") => Some((
            NeedsHeader,
            "border-top separator followed by a header block (Outlook)".into(),
        )),
        _ => None,
    }
}

/// Appends HTML text with entities decoded and whitespace collapsed.
pub(crate) fn decode_into(raw: &str, out: &mut String) {
    let mut rest = raw;
    while !rest.is_empty() {
        let (chunk, entity_at) = match rest.find('&') {
            Some(p) => (&rest[..p], Some(p)),
            None => (rest, None),
        };
        for c in chunk.chars() {
            push_char(out, c);
        }
        let Some(p) = entity_at else { break };
        rest = &rest[p..];
        let end = rest[1..]
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';' || c == '&' || c.is_whitespace())
            .filter(|&(_, c)| c == ';')
            .map(|(i, _)| i + 1);
        match end.and_then(|e| entity(&rest[1..e]).map(|c| (c, e))) {
            Some((c, e)) => {
                push_char(out, c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
}

fn push_char(out: &mut String, c: char) {
    if c.is_whitespace() {
        if !out.ends_with(' ') {
            out.push(' ');
        }
    } else {
        out.push(c);
    }
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "nbsp" => ' ',
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        "ndash" => '–',
        "mdash" => '—',
        _ => return None,
    })
}
