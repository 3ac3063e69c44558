//! What an agent's answer sends to the customer (`RelayPlan`): to the
//! customer and the ticket's Cc, threaded under the customer's latest mail,
//! signed with the agent's name, the HTML without the command lines (saved
//! replies in place of their `#reply` lines), the attachments that belong to
//! the answer. Never text that names staff.

use std::sync::Arc;

use crate::mail::compose::reply_references;
use crate::mail::parse::ParsedMail;
use crate::mail::reply;
use crate::mail::{Classifier, Mailbox};
use crate::tickets::commands::{Command, Commands};
use crate::tickets::{self, ParticipantRole, Ticket};

use super::saved_reply::SavedPiece;
use super::staff::Staff;
use super::unit::UnitOfWork;

/// An attachment of the agent's reply that goes along with the relay.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct RelayAttachment {
    pub sha256: String,
    pub filename: Option<String>,
    pub content_type: String,
    /// Set for an inline image the relayed HTML shows (`cid:`).
    pub content_id: Option<String>,
}

/// The agent's answer as it goes to the customer.
pub(crate) struct RelayPlan {
    pub to: Mailbox,
    pub cc: Vec<String>,
    pub subject: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// The customer's Thread-Index, extended (Outlook threading).
    pub thread_index: Option<String>,
    pub thread_topic: String,
    pub agent_name: String,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<RelayAttachment>,
    /// Attachments not sent, with the reason (for the event).
    pub held_back: Vec<String>,
}

/// What planning a relay reads: the staff's addresses (never sent to a
/// customer) and names (the signature), mailroom's own addresses (never
/// copied), the ticket prefix (the subject).
pub(super) struct RelayPlanner {
    staff: Arc<Staff>,
    classifier: Arc<Classifier>,
    ticket_prefix: String,
}

impl RelayPlanner {
    pub(super) fn new(
        staff: Arc<Staff>,
        classifier: Arc<Classifier>,
        ticket_prefix: String,
    ) -> RelayPlanner {
        RelayPlanner {
            staff,
            classifier,
            ticket_prefix,
        }
    }

    /// A staff address or a reply marker in text bound for a customer.
    pub(super) fn internal_text(&self, text: &str) -> Option<String> {
        let lower = text.to_ascii_lowercase();
        if lower.contains("##-") {
            return Some("a reply marker line".into());
        }
        self.staff
            .addresses()
            .iter()
            .find(|a| lower.contains(a.as_str()))
            .cloned()
    }

    pub(super) fn plan(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        ticket: &Ticket,
        cmds: &Commands,
        pieces: &[SavedPiece],
    ) -> RelayPlan {
        let staff = self.staff.addresses();
        let to = Mailbox {
            name: ticket.customer_name.clone(),
            email: ticket.customer.clone(),
        };
        let cc = self.relay_cc(u, ticket, cmds, &to.email);
        let (in_reply_to, references, thread_index) = customer_thread(u, ticket.id);
        let html = mail
            .html_source
            .as_deref()
            .and_then(|h| relay_html(h, (&cmds.lines, pieces), staff));
        let (attachments, held_back) = relay_attachments(u, ticket.id, mail, html.as_deref());
        RelayPlan {
            to,
            cc,
            subject: format!(
                "Re: {} [{}]",
                ticket.normalized_subject,
                tickets::format_ref(&self.ticket_prefix, ticket.id)
            ),
            in_reply_to,
            references,
            thread_index,
            thread_topic: ticket.normalized_subject.clone(),
            agent_name: self.agent_name(mail),
            text: cmds.body.trim_end().to_string(),
            html,
            attachments,
            held_back,
        }
    }

    /// Who is copied on the relay: the ticket's Cc and the answer's `#cc`,
    /// never the customer again, staff or mailroom.
    fn relay_cc(
        &self,
        u: &UnitOfWork<'_>,
        ticket: &Ticket,
        cmds: &Commands,
        to: &str,
    ) -> Vec<String> {
        let internal = self.staff.internal();
        let mut cc: Vec<String> = Vec::new();
        let added = cmds.commands.iter().filter_map(|c| match c {
            Command::Cc(a) => Some(a.as_str()),
            _ => None,
        });
        let present = u
            .participants(ticket.id)
            .iter()
            .filter(|(_, role)| *role == ParticipantRole::Cc)
            .map(|(e, _)| e.as_str());
        for addr in present.chain(added) {
            if addr != to
                && !internal.iter().any(|i| i == addr)
                && !self.classifier.is_own_address(addr)
                && !cc.iter().any(|c| c == addr)
            {
                cc.push(addr.to_string());
            }
        }
        cc
    }

    /// The name the relay is signed with: the roster's, the mail's, or the
    /// address's local part.
    pub(super) fn agent_name(&self, mail: &ParsedMail) -> String {
        self.staff
            .agent_name(&mail.from.email)
            .map(str::to_string)
            .or_else(|| mail.from.name.clone())
            .unwrap_or_else(|| {
                mail.from
                    .email
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
    }
}

/// The agent's HTML as relayed: quote removed, command lines removed, saved
/// replies in place of their lines, sanitized. `None` (a text-only relay)
/// unless it is certainly clean: it must carry no reply marker and no staff
/// address, and every saved reply's line must be found (else the HTML would
/// lack a saved reply the text has).
fn relay_html(
    html: &str,
    (command_lines, pieces): (&[String], &[SavedPiece]),
    staff: &[String],
) -> Option<String> {
    let stripped = reply::strip_html(html);
    if stripped.kept_whole.is_some() {
        return None;
    }
    let mut body = stripped.html;
    for line in command_lines {
        body = remove_first_text(&body, line);
    }
    // Each after the one before: a saved reply's own HTML (the customer's
    // subject in it) is never searched for the next line.
    let mut from = 0;
    for piece in pieces {
        (body, from) = replace_text_from(&body, from, &piece.line, &piece.html)?;
    }
    let text = reply::html_to_text(&body);
    let lower = format!("{text}\n{body}").to_ascii_lowercase();
    let clean = !text.trim().is_empty()
        && !lower.contains("##-")
        && !staff.iter().any(|a| lower.contains(a.as_str()));
    clean.then(|| crate::mail::parse::sanitize_html(&body))
}

/// Removes the first occurrence of `needle` from the HTML's text (outside tags).
fn remove_first_text(html: &str, needle: &str) -> String {
    match replace_text_from(html, 0, needle, "") {
        Some((out, _)) => out,
        None => html.to_string(),
    }
}

/// The HTML with the first occurrence of `needle` in its text (outside
/// tags) at or after byte `from` (outside a tag) replaced by `with`, and
/// where the replacement ends; None when the text does not hold it.
fn replace_text_from(html: &str, from: usize, needle: &str, with: &str) -> Option<(String, usize)> {
    let mut in_tag = false;
    let bytes = html.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => in_tag = true,
            b'>' => in_tag = false,
            _ if !in_tag && html[i..].starts_with(needle) => {
                let mut out = String::with_capacity(html.len() + with.len());
                out.push_str(&html[..i]);
                out.push_str(with);
                out.push_str(&html[i + needle.len()..]);
                return Some((out, i + with.len()));
            }
            _ => {}
        }
        i += 1;
        while i < bytes.len() && !html.is_char_boundary(i) {
            i += 1;
        }
    }
    None
}

/// In-Reply-To, References and Thread-Index of the relay: threaded under
/// the customer's latest mail. Only what the customer's side wrote or was
/// sent: an ID of internal mail in their chain (quoted, forged, leaked) is
/// never echoed back.
pub(super) fn customer_thread(
    u: &UnitOfWork<'_>,
    ticket_id: i64,
) -> (Option<String>, Vec<String>, Option<String>) {
    match u.latest_customer_mail(ticket_id) {
        Some(m) => {
            let refs: Vec<String> = m.refs.split_whitespace().map(str::to_string).collect();
            let refs = u.customer_chain(&refs);
            (
                Some(m.message_id.clone()),
                reply_references(&refs, &m.message_id),
                m.thread_index.as_deref().and_then(|ti| {
                    crate::mail::thread_index::reply_index(ti, u.now(), fastrand::u8(..))
                }),
            )
        }
        None => (None, Vec::new(), None),
    }
}

/// The answer's attachments that go along, and the ones held back with why:
/// those already on the ticket, and inline images the relayed HTML does not
/// show (the quoted part's).
fn relay_attachments(
    u: &UnitOfWork<'_>,
    ticket_id: i64,
    mail: &ParsedMail,
    html: Option<&str>,
) -> (Vec<RelayAttachment>, Vec<String>) {
    let mut attachments = Vec::new();
    let mut held_back = Vec::new();
    for a in &mail.attachments {
        let name = a.filename.clone().unwrap_or_else(|| a.content_type.clone());
        if u.ticket_has_attachment(ticket_id, &a.sha256) {
            held_back.push(format!("{name} (already on the ticket)"));
            continue;
        }
        // An inline image is sent only when the relayed HTML shows it: the
        // images of the quoted part stay behind.
        let content_id = match (&a.content_id, html) {
            (Some(cid), Some(h)) if h.contains(&format!("cid:{cid}")) => Some(cid.clone()),
            (Some(_), _) if a.filename.is_none() || a.content_type.starts_with("image/") => {
                held_back.push(format!("{name} (an inline image of the quoted part)"));
                continue;
            }
            _ => None,
        };
        attachments.push(RelayAttachment {
            sha256: a.sha256.clone(),
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            content_id,
        });
    }
    (attachments, held_back)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_removed_from_html_text_only() {
        let html = "<div>#priority high</div><div>Hello <b>#priority high</b></div>";
        assert_eq!(
            remove_first_text(html, "#priority high"),
            "<div></div><div>Hello <b>#priority high</b></div>"
        );
        assert_eq!(
            remove_first_text("<p x=\"#tag\">a</p>", "#tag"),
            "<p x=\"#tag\">a</p>"
        );
    }

    #[test]
    fn html_with_internal_text_falls_back_to_text() {
        let internal = vec!["bob@example.test".to_string()];
        let none: (&[String], &[SavedPiece]) = (&[], &[]);
        assert!(relay_html("<p>Hello Alice</p>", none, &internal).is_some());
        assert!(relay_html("<p>Hi</p><p>To: bob@example.test</p>", none, &internal).is_none());
        assert!(
            relay_html(
                "<p>Hi <a href=\"mailto:bob@example.test\">me</a></p>",
                none,
                &internal
            )
            .is_none()
        );
    }

    #[test]
    fn saved_replies_take_the_place_of_their_lines_in_html() {
        let lines = ["#tag x".to_string()];
        let piece = |html: &str| SavedPiece {
            line: "#reply refund".into(),
            html: html.into(),
        };
        let agent = "<div>#tag x</div><div>Hi Amy,</div><div>#reply refund</div><div>Bob</div>";
        let h = relay_html(
            agent,
            (&lines, &[piece("<div><p>Refunded.</p></div>")]),
            &[],
        )
        .expect("html");
        assert!(
            h.contains("<div>Hi Amy,</div><div><div><p>Refunded.</p></div></div><div>Bob</div>"),
            "{h}"
        );
        assert!(!h.contains("#tag x") && !h.contains("#reply"), "{h}");
        // The next line is looked for after the saved reply before it.
        let two = "<p>#reply a</p><p>#reply b</p>";
        let a = SavedPiece {
            line: "#reply a".into(),
            html: "<i>about #reply b</i>".into(),
        };
        let b = SavedPiece {
            line: "#reply b".into(),
            html: "<i>B</i>".into(),
        };
        let h = relay_html(two, (&[], &[a, b]), &[]).expect("html");
        assert_eq!(h, "<p><i>about #reply b</i></p><p><i>B</i></p>");
        // A saved reply whose line is not found: text only, never HTML without it.
        let other = SavedPiece {
            line: "#reply other".into(),
            html: "<p>x</p>".into(),
        };
        assert!(relay_html(agent, (&lines, &[other]), &[]).is_none());
        // What a saved reply brings is checked like the agent's own words.
        let staff = ["bob@example.test".to_string()];
        let leaky = piece("<p>Write to bob@example.test</p>");
        assert!(relay_html(agent, (&lines, &[leaky]), &staff).is_none());
        let script = piece("<p>Hi</p><script>alert(1)</script>");
        let h = relay_html(agent, (&lines, &[script]), &[]).expect("html");
        assert!(!h.contains("script"), "sanitized: {h}");
    }
}
