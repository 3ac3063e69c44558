//! Bounds and cleaning: the headers kept for rules are capped, and NUL
//! characters are removed from everything a mail gives.

use super::ParsedMail;
use super::header_values::unfold;

/// Headers kept for rules: at most this many, of at most this size each, and
/// this much in all. A mail with ten thousand headers is not ten thousand rows
/// of work for every rule.
pub(super) const MAX_HEADERS: usize = 256;
pub(super) const MAX_HEADER_VALUE: usize = 8 * 1024;
const MAX_HEADER_BYTES: usize = 64 * 1024;

pub(super) fn kept_headers(msg: &mail_parser::Message<'_>) -> Vec<(String, String)> {
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
    pub(super) fn scrub_nul(&mut self) {
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
        for s in &mut self.charset_notes {
            scrub(s);
        }
        for p in &mut self.parts {
            scrub(&mut p.content_type);
            for s in p.filename.iter_mut().chain(p.note.iter_mut()) {
                scrub(s);
            }
        }
        for at in &mut self.attachments {
            scrub(&mut at.content_type);
            for s in at.filename.iter_mut().chain(at.content_id.iter_mut()) {
                scrub(s);
            }
        }
    }
}
