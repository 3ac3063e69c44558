//! Saved replies in an agent's answer (issue 22): each `#reply NAME` line of
//! their words becomes that saved reply rendered for the ticket and the
//! agent, and its header's commands run after the agent's own. Only a proven
//! agent's answer gets here (agent.rs): a customer's `#reply` is just text.
//! Also `mailroom replies preview`.

use std::sync::Arc;

use crate::store::Store;
use crate::templates::{RenderedReply, ReplyVars, SavedReplies, SavedReplyError};
use crate::tickets::commands::{self, Command, Commands, Directory};
use crate::tickets::saved::{expand, has_reply_line, reply_line};
use crate::tickets::{self, Status, Ticket};

/// A saved reply as it goes into the agent's HTML: the line it replaces
/// (as written) and its HTML.
#[derive(Debug, Clone)]
pub(crate) struct SavedPiece {
    pub line: String,
    pub html: String,
}

/// An agent's words with their saved replies in place.
struct Expansion {
    pub text: String,
    pub pieces: Vec<SavedPiece>,
    /// The saved replies' header commands, in the order of their lines.
    pub commands: Vec<Command>,
    /// What each `#reply` line became, for the ticket's events.
    pub used: Vec<String>,
}

/// An agent's answer with its saved replies applied.
pub(super) struct Applied {
    /// The text with the saved replies in place; their header commands
    /// after the agent's own.
    pub commands: Commands,
    pub pieces: Vec<SavedPiece>,
    pub used: Vec<String>,
}

/// `mailroom replies preview`: a saved reply rendered for a ticket.
#[derive(Debug)]
pub struct SavedReplyPreview {
    pub ticket_ref: String,
    /// The agent it was rendered for, if any.
    pub agent: Option<String>,
    pub reply: RenderedReply,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Store(#[from] crate::Error),
    #[error("no ticket {0}")]
    NoTicket(String),
    #[error("{0} was merged into {1}: preview the saved reply there")]
    Merged(String, String),
    #[error("{0} is not an agent on the roster ([[agent]])")]
    NotAgent(String),
    #[error(transparent)]
    Saved(#[from] SavedReplyError),
    /// Header commands that would refuse the answer.
    #[error("{0}")]
    Header(String),
}

/// The saved replies (loaded once) and what their commands may name.
pub(super) struct Saved {
    replies: Arc<SavedReplies>,
    directory: Directory,
}

impl Saved {
    pub(super) fn new(replies: SavedReplies, directory: Directory) -> Saved {
        Saved {
            replies: Arc::new(replies),
            directory,
        }
    }

    /// What a saved reply may name on `ticket`, answered by `agent` (its
    /// address and the name relays are signed with).
    fn vars(&self, ticket: &Ticket, agent: Option<(&str, String)>) -> ReplyVars {
        let (agent, agent_name) = match agent {
            Some((a, n)) => (Some(a.to_string()), Some(n)),
            None => (None, None),
        };
        ReplyVars {
            ticket_ref: tickets::format_ref(&self.directory.ticket_prefix, ticket.id),
            subject: ticket.subject.clone(),
            customer: ticket.customer.clone(),
            customer_name: ticket.customer_name.clone(),
            agent_name,
            agent,
            area: ticket.area.clone(),
            owner: ticket.owner.clone(),
        }
    }

    /// The answer's `#reply` lines expanded for `ticket` and `agent` (the
    /// address, the name it signs with). Err: the commands as they were
    /// and every problem.
    pub(super) fn apply(
        &self,
        ticket: &Ticket,
        agent: (&str, String),
        mut cmds: Commands,
    ) -> Result<Applied, (Commands, Vec<String>)> {
        let vars = self.vars(ticket, Some(agent));
        match self.expand(&cmds.body, &vars) {
            Ok(None) => Ok(Applied {
                commands: cmds,
                pieces: Vec::new(),
                used: Vec::new(),
            }),
            Ok(Some(x)) => {
                cmds.body = x.text;
                cmds.commands.extend(x.commands);
                Ok(Applied {
                    commands: cmds,
                    pieces: x.pieces,
                    used: x.used,
                })
            }
            Err(problems) => Err((cmds, problems)),
        }
    }

    /// `words` with each `#reply NAME` line expanded; None when there is
    /// none. Err: every problem (an unknown name, a render error, a header
    /// command that cannot be used), for the agent.
    fn expand(&self, words: &str, vars: &ReplyVars) -> Result<Option<Expansion>, Vec<String>> {
        if !has_reply_line(words) {
            return Ok(None);
        }
        let mut pieces = Vec::new();
        let mut commands = Vec::new();
        let mut used = Vec::new();
        let text = expand(words, |line, name| {
            let reply = self.replies.render(name, vars).map_err(|e| e.to_string())?;
            let header = self.header_commands(&reply)?;
            used.push(if reply.commands.is_empty() {
                format!("{line}: saved reply \"{}\" in its place", reply.name)
            } else {
                format!(
                    "{line}: saved reply \"{}\" in its place, with its commands {}",
                    reply.name,
                    reply.commands.join(", ")
                )
            });
            commands.extend(header);
            pieces.push(SavedPiece {
                line: line.to_string(),
                html: html_of(&reply),
            });
            Ok(reply.text)
        })?;
        Ok(Some(Expansion {
            text,
            pieces,
            commands,
            used,
        }))
    }

    /// The saved reply's header lines parsed as the agent's commands are.
    /// Text (`#note <text>`), another `#reply` or a `#merge` (whose target
    /// the batch did not load) cannot be in a header.
    fn header_commands(&self, reply: &RenderedReply) -> Result<Vec<Command>, String> {
        let name = &reply.name;
        if let Some(line) = reply.commands.iter().find(|l| reply_line(l).is_some()) {
            return Err(format!(
                "saved reply \"{name}\": {line}: a saved reply cannot hold another"
            ));
        }
        let parsed = commands::parse(&reply.commands.join("\n"), &self.directory);
        let mut problems: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.line, e.reason))
            .collect();
        if !parsed.body.trim().is_empty() {
            problems.push("#note with text: a header holds commands only".into());
        }
        // What they act on is loaded from the agent's own lines only.
        for c in &parsed.commands {
            if matches!(c, Command::Merge { .. } | Command::Split) {
                let word = if *c == Command::Split {
                    "#split"
                } else {
                    "#merge"
                };
                problems.push(format!("{word} cannot be in a saved reply"));
            }
        }
        if problems.is_empty() {
            Ok(parsed.commands)
        } else {
            Err(format!("saved reply \"{name}\": {}", problems.join("; ")))
        }
    }

    /// `replies preview NAME --ticket REF [--agent ADDRESS]`: rendered as
    /// that agent (default: the owner) would get it; its header checked.
    pub(super) async fn preview(
        &self,
        store: &Store,
        name: &str,
        ticket_id: i64,
        agent: Option<&str>,
    ) -> Result<SavedReplyPreview, PreviewError> {
        let prefix = &self.directory.ticket_prefix;
        let ticket_ref = tickets::format_ref(prefix, ticket_id);
        let ticket = store
            .ticket(ticket_id)
            .await?
            .ok_or_else(|| PreviewError::NoTicket(ticket_ref.clone()))?;
        if let (Status::Merged, Some(into)) = (ticket.status, ticket.merged_into) {
            return Err(PreviewError::Merged(
                ticket_ref,
                tickets::format_ref(prefix, into),
            ));
        }
        let agent = match agent.map(str::to_ascii_lowercase).or(ticket.owner.clone()) {
            Some(a) => Some((self.roster_name(&a)?, a)),
            None => None,
        };
        let vars = self.vars(
            &ticket,
            agent.as_ref().map(|(n, a)| (a.as_str(), n.clone())),
        );
        let reply = self.replies.render(name, &vars)?;
        self.header_commands(&reply).map_err(PreviewError::Header)?;
        Ok(SavedReplyPreview {
            ticket_ref,
            agent: agent.map(|(_, a)| a),
            reply,
        })
    }

    /// The name a roster agent's relays are signed with.
    fn roster_name(&self, agent: &str) -> Result<String, PreviewError> {
        let (email, name) = self
            .directory
            .agents
            .iter()
            .find(|(e, _)| e == agent)
            .ok_or_else(|| PreviewError::NotAgent(agent.to_string()))?;
        Ok(name
            .clone()
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string()))
    }
}

/// A saved reply's HTML: its `.html`, else its text escaped, lines kept.
fn html_of(reply: &RenderedReply) -> String {
    match &reply.html {
        Some(h) => format!("<div>{h}</div>"),
        None => format!("<div>{}</div>", escape(&reply.text).replace('\n', "<br>\n")),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(files: &[(&str, &str)]) -> (tempfile::TempDir, Saved) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("replies")).expect("replies");
        for (name, text) in files {
            std::fs::write(dir.path().join("replies").join(name), text).expect("write");
        }
        let replies = SavedReplies::load(dir.path()).expect("load");
        let directory = Directory {
            ticket_prefix: "MR".into(),
            ..Directory::default()
        };
        (dir, Saved::new(replies, directory))
    }

    fn ticket() -> Ticket {
        Ticket {
            id: 7,
            subject: "Refund {{ agent }}".into(),
            normalized_subject: "Refund".into(),
            area: None,
            customer_name: Some("Amy".into()),
            ..crate::tickets::test_support::ticket(7, "amy@customer.test", chrono::Utc::now())
        }
    }

    fn commands(body: &str, own: Vec<Command>) -> Commands {
        Commands {
            commands: own,
            body: body.into(),
            ..Commands::default()
        }
    }

    #[test]
    fn header_commands_follow_the_agents_own() {
        let (_d, s) = saved(&[
            (
                "refund.txt",
                "#tag refund\n#pending\nRefunded on {{ ticket_ref }}: {{ subject }}.",
            ),
            ("hi.txt", "Hi {{ customer_name }}"),
        ]);
        let own = vec![Command::Tag("vip".into())];
        let body = "#reply hi\n\n#reply refund\nBob";
        let a = s
            .apply(
                &ticket(),
                ("bob@example.test", "Bob".into()),
                commands(body, own),
            )
            .unwrap_or_else(|(_, p)| panic!("{p:?}"));
        assert_eq!(
            a.commands.body,
            "Hi Amy\n\nRefunded on MR-7: Refund {{ agent }}.\nBob"
        );
        assert_eq!(
            a.commands.commands,
            [
                Command::Tag("vip".into()),
                Command::Tag("refund".into()),
                Command::Pending(None)
            ]
        );
        assert_eq!(a.pieces.len(), 2);
        assert_eq!(a.pieces[0].html, "<div>Hi Amy</div>");
        assert!(a.used[1].contains("with its commands #tag refund, #pending"));
    }

    #[test]
    fn headers_that_cannot_be_used_refuse_the_answer() {
        let (_d, s) = saved(&[
            ("a.txt", "#frobnicate\nText"),
            ("b.txt", "#merge MR-3\nText"),
            ("c.txt", "#reply a\nText"),
            ("d.txt", "#note remember this\nText"),
        ]);
        let body = "#reply a\n#reply b\n#reply c\n#reply d\n#reply zzz";
        let Err((kept, problems)) = s.apply(
            &ticket(),
            ("bob@example.test", "Bob".into()),
            commands(body, vec![]),
        ) else {
            panic!("refused");
        };
        assert_eq!(kept.body, body, "the commands as they were");
        assert_eq!(
            problems,
            [
                "saved reply \"a\": #frobnicate: unknown command #frobnicate",
                "saved reply \"b\": #merge cannot be in a saved reply",
                "saved reply \"c\": #reply a: a saved reply cannot hold another",
                "saved reply \"d\": #note with text: a header holds commands only",
                "no saved reply \"zzz\" (saved replies: a, b, c, d)",
            ]
        );
    }
}
