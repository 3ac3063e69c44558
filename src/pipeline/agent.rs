//! An agent answering from their mail client (DESIGN §5): the proof that makes
//! a mail an agent reply, the new words after quote stripping, the commands on
//! top, its saved replies (saved_reply.rs), and whether it is relayed (what
//! goes to the customer: relay_plan.rs). Decided here; carried out in
//! apply/agent.rs.

use std::sync::Arc;

use super::relay_plan::{RelayPlan, RelayPlanner};
use super::saved_reply::{Applied, Saved, SavedPiece};
use super::unit::UnitOfWork;
use crate::config::Config;
use crate::mail::address::subaddress_of;
use crate::mail::auth;
use crate::mail::parse::ParsedMail;
use crate::mail::reply::{KeptWhole, Reply};
use crate::tickets::commands::{self, Command, Commands};
use crate::tickets::roles::{Speaker, role_of};
use crate::tickets::transitions::{Change, TicketState, after_agent_reply};
use crate::tickets::{MessageKind, Role, Ticket};

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
    /// What each `#reply` line became (for the events).
    pub saved: Vec<String>,
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

/// An answer's commands and saved replies, or the refusal: (commands, problems, why).
enum Read {
    Usable(Applied),
    Refused(Commands, Vec<String>, String),
}

/// Why a roster sender's mail does not act as an agent.
pub(crate) struct NotProven {
    pub why: String,
    /// It answers mail sent to this very address but lacks the rest of the
    /// proof: the real agent is told (a forgery, or a reply that went around
    /// the notification's reply address).
    pub tell_agent: bool,
}

/// What deciding an agent's answer reads: what proves it is theirs, what
/// its commands may name, and what may go to the customer.
pub(super) struct Answers {
    /// `security.reply_token`: the answer must come back through the
    /// Reply-To of the mail it answers.
    reply_token: bool,
    /// mailroom's own address, lowercased: reply tokens are its subaddresses.
    support: String,
    /// `security.trusted_authserv_ids`: when set, the sender must pass them.
    trusted_authserv_ids: Vec<String>,
    /// What command arguments may name.
    directory: commands::Directory,
    relays: RelayPlanner,
    /// The saved replies `#reply` names.
    saved: Arc<Saved>,
}

impl Answers {
    pub(super) fn new(
        cfg: &Config,
        directory: commands::Directory,
        relays: RelayPlanner,
        saved: Arc<Saved>,
    ) -> Answers {
        Answers {
            reply_token: cfg.security.reply_token,
            support: cfg.mailroom.support_address.to_ascii_lowercase(),
            trusted_authserv_ids: cfg.security.trusted_authserv_ids.clone(),
            directory,
            relays,
            saved,
        }
    }

    /// What proves `mail` is its sender's answer as an agent: it answers a
    /// notification (or an explanation) mailroom sent to that very address,
    /// through that mail's Reply-To token (`support+<token>@…`), and passes
    /// `trusted_authserv_ids` when set. A Message-ID alone leaks — forwarded,
    /// quoted, or written into References by anyone who saw it — so it never
    /// suffices. Returns the ticket and a description for the event.
    fn agent_proof(
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
        let proven = if self.reply_token {
            let tokens: Vec<&str> = mail
                .to
                .iter()
                .chain(&mail.cc)
                .filter_map(|m| subaddress_of(&m.email, &self.support))
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
            if self.reply_token {
                ", through its reply token"
            } else {
                ""
            }
        );
        let trusted = &self.trusted_authserv_ids;
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
    pub(super) fn agent_reply(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
    ) -> Result<AgentPlan, NotProven> {
        let (ticket_id, proof) = self.agent_proof(u, mail)?;
        let Some(ticket) = u.live_ticket(ticket_id).cloned() else {
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
        let state = ticket_state(&ticket);
        let (cmds, pieces, saved) = match self.commands_of(mail, &ticket, &own_words) {
            Read::Usable(a) => (a.commands, a.pieces, a.used),
            Read::Refused(cmds, problems, why) => {
                explain.extend(problems);
                return Ok(refused(ticket, (proof, role, reply), cmds, explain, why));
            }
        };
        let note = cmds.has(&Command::Note);
        let relay = if note {
            no_relay = Some("#note: internal, never sent to the customer".into());
            None
        } else if !usable {
            None
        } else {
            match self.relay_or_why(u, mail, &ticket, (&cmds, &pieces)) {
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
            saved,
        })
    }

    /// The commands on top of the agent's words and their saved replies
    /// expanded, or why they refuse the answer.
    fn commands_of(&self, mail: &ParsedMail, ticket: &Ticket, own_words: &str) -> Read {
        let cmds = commands::parse(own_words, &self.directory);
        if !cmds.errors.is_empty() {
            let problems = cmds
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.line, e.reason))
                .collect();
            let why = format!(
                "{} command(s) could not be used, so nothing was changed or sent",
                cmds.errors.len()
            );
            return Read::Refused(cmds, problems, why);
        }
        let agent = (mail.from.email.as_str(), self.relays.agent_name(mail));
        match self.saved.apply(ticket, agent, cmds) {
            Ok(applied) => Read::Usable(applied),
            Err((cmds, problems)) => {
                let why = format!("{}, so nothing was changed or sent", problems.join("; "));
                Read::Refused(cmds, problems, why)
            }
        }
    }

    /// The relay of an agent's words, or why there is none (and what the
    /// agent is told, if anything).
    fn relay_or_why(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        ticket: &Ticket,
        (cmds, pieces): (&Commands, &[SavedPiece]),
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
        let plan = self.relays.plan(u, mail, ticket, cmds, pieces);
        // The last line of defence: whatever the stripping missed, text that
        // names staff or carries a reply marker is never sent to a customer.
        match self.relays.internal_text(&plan.text) {
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
}

/// What command arguments may name: the roster, the areas, the addresses
/// `#cc` may never add.
pub(super) fn directory(cfg: &Config) -> commands::Directory {
    let mut areas: Vec<String> = cfg.area.iter().map(|a| a.name.clone()).collect();
    for a in cfg.agent.iter().flat_map(|a| a.areas.iter()) {
        if !areas.contains(a) {
            areas.push(a.clone());
        }
    }
    commands::Directory {
        agents: cfg
            .agent
            .iter()
            .map(|a| (a.email.to_ascii_lowercase(), a.name.clone()))
            .collect(),
        areas,
        internal: cfg.internal_addresses(),
        ticket_prefix: cfg.mailroom.ticket_prefix.clone(),
    }
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

/// An answer with commands or saved replies that could not be used:
/// nothing changes, nothing is sent, the agent is told (`explain`) why.
fn refused(
    ticket: Ticket,
    (proof, role, reply): (String, Role, Reply),
    cmds: Commands,
    explain: Vec<String>,
    why: String,
) -> AgentPlan {
    AgentPlan {
        proof,
        role,
        kind: MessageKind::Agent,
        next: ticket_state(&ticket),
        changes: Vec::new(),
        relay: None,
        no_relay: Some(why),
        explain,
        reply,
        commands: cmds,
        ticket,
        saved: Vec::new(),
    }
}
