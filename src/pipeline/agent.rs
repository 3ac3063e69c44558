//! An agent answering from their mail client (DESIGN §5): the proof that makes
//! a mail an agent reply, the new words after quote stripping, the commands on
//! top, and what goes to the customer. Decided here; carried out in apply.rs.

use super::Pipeline;
use super::unit::UnitOfWork;
use crate::mail::address::subaddress_of;
use crate::mail::compose::reply_references;
use crate::mail::parse::ParsedMail;
use crate::mail::reply::{self, KeptWhole, Reply};
use crate::mail::{Mailbox, auth};
use crate::tickets::commands::{self, Command, Commands};
use crate::tickets::roles::{Speaker, role_of};
use crate::tickets::transitions::{Change, TicketState, after_agent_reply};
use crate::tickets::{MessageKind, ParticipantRole, Role, Ticket};

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

pub(crate) struct AgentPlan {
    pub ticket: Ticket,
    /// Why this is an agent reply (the notification it answers).
    pub proof: String,
    /// `Owner`, or `Colleague` for another agent answering mail sent to them.
    pub role: Role,
    /// `Agent`, or `Note` for `#note`.
    pub kind: MessageKind,
    pub reply: Reply,
    pub commands: Commands,
    pub next: TicketState,
    pub changes: Vec<Change>,
    pub relay: Option<RelayPlan>,
    /// Why nothing was relayed (None when a relay is planned).
    pub no_relay: Option<String>,
    /// Problems to mail back to the agent.
    pub explain: Vec<String>,
}

pub(crate) fn ticket_state(t: &Ticket) -> TicketState {
    TicketState {
        status: t.status,
        priority: t.priority,
        area: t.area.clone(),
        owner: t.owner.clone(),
        tags: t.tag_list(),
    }
}

/// Why a roster sender's mail does not act as an agent.
pub(crate) struct NotProven {
    pub why: String,
    /// It answers mail sent to this very address but lacks the rest of the
    /// proof: the real agent is told (a forgery, or a reply that went around
    /// the notification's reply address).
    pub tell_agent: bool,
}

impl Pipeline {
    /// What proves `mail` is its sender's answer as an agent: it answers a
    /// notification (or an explanation) mailroom sent to that very address,
    /// through that mail's Reply-To token (`support+<token>@…`), and passes
    /// `trusted_authserv_ids` when set. A Message-ID alone leaks — forwarded,
    /// quoted, or written into References by anyone who saw it — so it never
    /// suffices. Returns the ticket and a description for the event.
    pub(crate) fn agent_proof(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
    ) -> Result<(i64, String), NotProven> {
        let from = mail.from.email.as_str();
        let ids = crate::mail::thread::referenced_ids(&mail.in_reply_to, &mail.references);
        let answered: Vec<_> = u
            .on_tickets(&ids)
            .into_iter()
            .filter(|h| {
                matches!(h.kind, MessageKind::Notification | MessageKind::System)
                    && h.recipient.as_deref() == Some(from)
            })
            .collect();
        let Some(first) = answered.first() else {
            return Err(NotProven {
                why: format!(
                    "{from} is on the roster, but the mail answers no notification sent to them"
                ),
                tell_agent: false,
            });
        };
        let proven = if self.cfg.security.reply_token {
            let tokens: Vec<&str> = mail
                .to
                .iter()
                .chain(&mail.cc)
                .filter_map(|m| subaddress_of(&m.email, &self.support.email))
                .collect();
            answered.iter().find(|h| {
                h.reply_token
                    .as_deref()
                    .is_some_and(|t| tokens.iter().any(|x| x.eq_ignore_ascii_case(t)))
            })
        } else {
            Some(first)
        };
        let Some(hit) = proven else {
            return Err(NotProven {
                why: format!(
                    "{from} answers <{}>, which was sent to them, but not through its reply address (support+token): a Message-ID can be forwarded or copied, so it proves nothing alone",
                    first.message_id
                ),
                tell_agent: true,
            });
        };
        let Some(ticket_id) = hit.ticket_id else {
            return Err(NotProven {
                why: format!("<{}> belongs to no ticket", hit.message_id),
                tell_agent: false,
            });
        };
        let mut proof = format!(
            "agent reply from {from}: answers <{}>, sent to them{}",
            hit.message_id,
            if self.cfg.security.reply_token {
                ", through its reply token"
            } else {
                ""
            }
        );
        let trusted = &self.cfg.security.trusted_authserv_ids;
        if !trusted.is_empty() {
            match auth::verify_sender(&mail.headers, trusted, from) {
                Ok(why) => proof.push_str(&format!("; {why}")),
                Err(why) => {
                    return Err(NotProven {
                        why: format!(
                            "{from} answers their notification, but the sender is not authenticated ({why})"
                        ),
                        tell_agent: true,
                    });
                }
            }
        }
        Ok((ticket_id, proof))
    }

    /// The agent plan for a roster sender's mail, or why it does not act as an agent.
    pub(crate) fn agent_reply(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
    ) -> Result<AgentPlan, NotProven> {
        let (ticket_id, proof) = self.agent_proof(u, mail)?;
        let Some(ticket) = u.ticket(ticket_id).cloned() else {
            return Err(NotProven {
                why: format!("the notification's ticket {ticket_id} is gone"),
                tell_agent: false,
            });
        };
        let (role, _) = role_of(&Speaker {
            from: &mail.from.email,
            owner: ticket.owner.as_deref(),
            on_roster: true,
            proven: true,
            ..Speaker::default()
        });

        let reply = mail.reply().clone();
        let mut explain = Vec::new();
        let mut no_relay = None;
        let (own_words, usable) = match own_words(&reply) {
            Ok(words) => (words, true),
            Err((words, why, explanation)) => {
                explain.push(explanation);
                no_relay = Some(why);
                (words, false)
            }
        };
        let dir = self.directory();
        let cmds = commands::parse(&own_words, &dir);
        let state = ticket_state(&ticket);
        if !cmds.errors.is_empty() {
            return Ok(refused_commands(ticket, proof, role, reply, cmds, explain));
        }
        let note = cmds.has(&Command::Note);
        let relay = if note {
            no_relay = Some("#note: internal, never sent to the customer".into());
            None
        } else if !usable {
            None
        } else {
            match self.relay_or_why(u, mail, &ticket, &cmds) {
                Ok(plan) => Some(plan),
                Err((why, explanation)) => {
                    explain.extend(explanation);
                    no_relay = Some(why);
                    None
                }
            }
        };
        let (next, changes) =
            after_agent_reply(&state, &cmds.commands, relay.is_some(), &mail.from.email);
        Ok(AgentPlan {
            ticket,
            proof,
            role,
            kind: if note {
                MessageKind::Note
            } else {
                MessageKind::Agent
            },
            reply,
            commands: cmds,
            next,
            changes,
            relay,
            no_relay,
            explain,
        })
    }

    /// The relay of an agent's words, or why there is none (and what the
    /// agent is told, if anything).
    fn relay_or_why(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        ticket: &Ticket,
        cmds: &Commands,
    ) -> Result<RelayPlan, (String, Option<String>)> {
        if cmds.body.trim().is_empty() {
            if cmds.commands.is_empty() {
                return Err((
                    "the reply is empty".into(),
                    Some("the reply is empty: nothing was sent to the customer.".into()),
                ));
            }
            return Err(("the reply holds only commands".into(), None));
        }
        let plan = self.relay_plan(u, mail, ticket, cmds);
        // The last line of defence: whatever the stripping missed, text that
        // names staff or carries a reply marker is never sent to a customer.
        match self.internal_text(&plan.text) {
            Some(found) => {
                let why = format!(
                    "the text to send names {found}, which is internal (a quoted notification?)"
                );
                let explanation = format!(
                    "{why}: nothing was sent to the customer. Write your answer above the marker line and leave out internal addresses."
                );
                Err((why, Some(explanation)))
            }
            None => Ok(plan),
        }
    }

    /// A staff address or a reply marker in text bound for a customer.
    fn internal_text(&self, text: &str) -> Option<String> {
        let lower = text.to_ascii_lowercase();
        if lower.contains("##-") {
            return Some("a reply marker line".into());
        }
        self.cfg
            .staff_addresses()
            .into_iter()
            .find(|a| lower.contains(a.as_str()))
    }

    pub(crate) fn directory(&self) -> commands::Directory {
        let mut areas: Vec<String> = self.cfg.area.iter().map(|a| a.name.clone()).collect();
        for a in self.cfg.agent.iter().flat_map(|a| a.areas.iter()) {
            if !areas.contains(a) {
                areas.push(a.clone());
            }
        }
        commands::Directory {
            agents: self
                .cfg
                .agent
                .iter()
                .map(|a| (a.email.to_ascii_lowercase(), a.name.clone()))
                .collect(),
            areas,
            internal: self.cfg.internal_addresses(),
        }
    }

    fn relay_plan(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        ticket: &Ticket,
        cmds: &Commands,
    ) -> RelayPlan {
        let staff = self.cfg.staff_addresses();
        let to = Mailbox {
            name: ticket.customer_name.clone(),
            email: ticket.customer.clone(),
        };
        let cc = self.relay_cc(u, ticket, cmds, &to.email);
        let (in_reply_to, references, thread_index) = customer_thread(u, ticket.id);
        let html = mail
            .html_source
            .as_deref()
            .and_then(|h| relay_html(h, &cmds.lines, &staff));
        let (attachments, held_back) = relay_attachments(u, ticket.id, mail, html.as_deref());
        RelayPlan {
            to,
            cc,
            subject: format!(
                "Re: {} [{}]",
                ticket.normalized_subject,
                self.ticket_ref(ticket.id)
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
        let internal = self.cfg.internal_addresses();
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
    fn agent_name(&self, mail: &ParsedMail) -> String {
        self.cfg
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

/// The agent's HTML as relayed: quote removed, command lines removed,
/// sanitized. `None` (a text-only relay) unless it is certainly clean: it
/// must carry no reply marker and no staff address.
fn relay_html(html: &str, command_lines: &[String], staff: &[String]) -> Option<String> {
    let stripped = reply::strip_html(html);
    if stripped.kept_whole.is_some() {
        return None;
    }
    let mut body = stripped.html;
    for line in command_lines {
        body = remove_first_text(&body, line);
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
    let mut in_tag = false;
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => in_tag = true,
            b'>' => in_tag = false,
            _ if !in_tag && html[i..].starts_with(needle) => {
                let mut out = String::with_capacity(html.len());
                out.push_str(&html[..i]);
                out.push_str(&html[i + needle.len()..]);
                return out;
            }
            _ => {}
        }
        i += 1;
        while i < bytes.len() && !html.is_char_boundary(i) {
            i += 1;
        }
    }
    html.to_string()
}

/// Only the words above the quoted notification count: a reply whose new
/// part is empty, or that answers between quoted lines with no marker to cut
/// at, is never relayed (the quote holds internal text). `Err` holds the
/// words still read for commands, why nothing is relayed, and what the agent
/// is told.
fn own_words(reply: &Reply) -> Result<String, (String, String, String)> {
    match reply.kept_whole {
        Some(KeptWhole::WouldBeEmpty) => {
            let why = "the reply has no text of its own above the quoted notification";
            Err((
                String::new(),
                why.to_string(),
                format!("{why}: nothing was sent to the customer."),
            ))
        }
        Some(KeptWhole::Interleaved) if !reply.marker_found => {
            let why = "the answer is written between quoted lines and the reply marker is missing, so mailroom cannot tell your words from the quoted notification";
            Err((
                reply.text.clone(),
                why.to_string(),
                format!(
                    "{why}: nothing was sent to the customer. Write your answer above the quoted text."
                ),
            ))
        }
        _ => Ok(reply.text.clone()),
    }
}

/// An answer with commands that could not be used: nothing changes, nothing
/// is sent, the agent is told why.
fn refused_commands(
    ticket: Ticket,
    proof: String,
    role: Role,
    reply: Reply,
    cmds: Commands,
    mut explain: Vec<String>,
) -> AgentPlan {
    for e in &cmds.errors {
        explain.push(format!("{}: {}", e.line, e.reason));
    }
    AgentPlan {
        proof,
        role,
        kind: MessageKind::Agent,
        next: ticket_state(&ticket),
        changes: Vec::new(),
        relay: None,
        no_relay: Some(format!(
            "{} command(s) could not be used, so nothing was changed or sent",
            cmds.errors.len()
        )),
        explain,
        reply,
        commands: cmds,
        ticket,
    }
}

/// In-Reply-To, References and Thread-Index of the relay: threaded under
/// the customer's latest mail. Only what the customer's side wrote or was
/// sent: an ID of internal mail in their chain (quoted, forged, leaked) is
/// never echoed back.
fn customer_thread(
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
        assert!(relay_html("<p>Hello Alice</p>", &[], &internal).is_some());
        assert!(relay_html("<p>Hi</p><p>To: bob@example.test</p>", &[], &internal).is_none());
        assert!(
            relay_html(
                "<p>Hi <a href=\"mailto:bob@example.test\">me</a></p>",
                &[],
                &internal
            )
            .is_none()
        );
    }
}
