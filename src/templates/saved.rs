//! Saved replies (issue 22): `replies/NAME.txt` in the templates folder,
//! plus `NAME.html` where present, loaded once at start; no folder, none.
//! Rendered strictly: a variable the ticket has not got is an error that
//! names it. Ticket fields (the customer's subject and name) reach a saved
//! reply only as values, never as template source.

use std::collections::BTreeSet;
use std::path::Path;

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::tickets::saved::split_header;

/// One saved reply as listed (`mailroom replies list`).
#[derive(Debug, Clone, Serialize)]
pub struct SavedReply {
    pub name: String,
    /// Whether `NAME.html` is there.
    pub html: bool,
    /// The header block's command lines, as written.
    pub commands: Vec<String>,
    /// The first line of its text, unrendered.
    pub first_line: String,
    /// Why it cannot be used (unreadable, a syntax error), if so.
    pub problem: Option<String>,
}

/// What a saved reply may name. A field that is None is left out, so a
/// saved reply using it fails (`{{ customer_name | default("there") }}`
/// is how a template does without).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplyVars {
    pub ticket_ref: String,
    pub subject: String,
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The answering agent's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl ReplyVars {
    /// The names set, in the order of the struct.
    fn names(&self) -> Vec<&'static str> {
        let opt = [
            ("customer_name", &self.customer_name),
            ("agent_name", &self.agent_name),
            ("agent", &self.agent),
            ("area", &self.area),
            ("owner", &self.owner),
        ];
        let mut out = vec!["ticket_ref", "subject", "customer"];
        out.extend(opt.iter().filter(|(_, v)| v.is_some()).map(|(n, _)| *n));
        out
    }
}

/// A saved reply rendered for one ticket and agent.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedReply {
    pub name: String,
    /// The header block's command lines, to be parsed as commands.
    pub commands: Vec<String>,
    pub text: String,
    /// From `NAME.html` (values HTML-escaped), when there is one.
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedReplyError {
    #[error("#reply needs the name of a saved reply ({})", known_list(.known))]
    NoName { known: Vec<String> },
    #[error("no saved reply {name:?} ({})", known_list(.known))]
    Unknown { name: String, known: Vec<String> },
    #[error("saved reply {name:?}: {message}")]
    Unusable { name: String, message: String },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "there are none: the templates folder has no replies/NAME.txt".into()
    } else {
        format!("saved replies: {}", known.join(", "))
    }
}

pub struct SavedReplies {
    env: Environment<'static>,
    replies: Vec<SavedReply>,
}

impl SavedReplies {
    /// Reads `dir/replies/`. A missing folder means no saved replies; a file
    /// that cannot be used is listed with its problem (it must not stop mail).
    pub fn load(dir: &Path) -> Result<SavedReplies> {
        let folder = dir.join("replies");
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        let entries = match std::fs::read_dir(&folder) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SavedReplies {
                    env,
                    replies: Vec::new(),
                });
            }
            Err(e) => return Err(Error::io(folder, e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "txt"))
            .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
            .filter(|n| !n.is_empty() && !n.starts_with('.'))
            .collect();
        names.sort();
        let replies = names
            .into_iter()
            .map(|name| load_one(&mut env, &folder, name))
            .collect();
        Ok(SavedReplies { env, replies })
    }

    pub fn list(&self) -> &[SavedReply] {
        &self.replies
    }

    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    fn names(&self) -> Vec<String> {
        self.replies.iter().map(|r| r.name.clone()).collect()
    }

    /// The saved reply called `name` (exactly, else in any case).
    fn find(&self, name: &str) -> std::result::Result<&SavedReply, SavedReplyError> {
        if name.is_empty() {
            return Err(SavedReplyError::NoName {
                known: self.names(),
            });
        }
        self.replies
            .iter()
            .find(|r| r.name == name)
            .or_else(|| {
                self.replies
                    .iter()
                    .find(|r| r.name.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| SavedReplyError::Unknown {
                name: name.to_string(),
                known: self.names(),
            })
    }

    /// `name` rendered with `vars`: its text, its HTML when it has one, and
    /// its header's command lines.
    pub fn render(
        &self,
        name: &str,
        vars: &ReplyVars,
    ) -> std::result::Result<RenderedReply, SavedReplyError> {
        let reply = self.find(name)?;
        let unusable = |message: String| SavedReplyError::Unusable {
            name: reply.name.clone(),
            message,
        };
        if let Some(p) = &reply.problem {
            return Err(unusable(p.clone()));
        }
        let text = self
            .render_file(&reply.name, "txt", vars)
            .map_err(unusable)?;
        let html = match reply.html {
            true => Some(
                self.render_file(&reply.name, "html", vars)
                    .map_err(unusable)?,
            ),
            false => None,
        };
        Ok(RenderedReply {
            name: reply.name.clone(),
            commands: reply.commands.clone(),
            text: text.trim_matches('\n').trim_end().to_string(),
            html: html.map(|h| h.trim().to_string()),
        })
    }

    fn render_file(
        &self,
        name: &str,
        ext: &str,
        vars: &ReplyVars,
    ) -> std::result::Result<String, String> {
        let file = format!("replies/{name}.{ext}");
        let t = self.env.get_template(&file).map_err(|e| brief(&e))?;
        t.render(vars).map_err(|e| {
            if e.kind() != ErrorKind::UndefinedError {
                return brief(&e);
            }
            let missing =
                undefined_names(t.source(), t.undeclared_variables(false), e.line(), vars);
            match missing.as_slice() {
                [] => brief(&e),
                [one] => format!("undefined variable {one}{}; {}", place(&e), have(vars)),
                many => format!(
                    "undefined variables {}{}; {}",
                    many.join(", "),
                    place(&e),
                    have(vars)
                ),
            }
        })
    }
}

/// Reads `NAME.txt` (and `NAME.html`) into `env`; a problem is kept on the entry.
fn load_one(env: &mut Environment<'static>, folder: &Path, name: String) -> SavedReply {
    let mut reply = SavedReply {
        html: false,
        commands: Vec::new(),
        first_line: String::new(),
        problem: None,
        name,
    };
    let read = |ext: &str| {
        let path = folder.join(format!("{}.{ext}", reply.name));
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let text = match read("txt") {
        Ok(t) => t,
        Err(e) => {
            reply.problem = Some(e);
            return reply;
        }
    };
    let html = folder.join(format!("{}.html", reply.name)).is_file();
    let html = if html { Some(read("html")) } else { None };
    let (commands, body) = without_header(&text);
    reply.commands = commands;
    reply.first_line = body
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_string();
    let mut add = |ext: &str, source: String| {
        let file = format!("replies/{}.{ext}", reply.name);
        env.add_template_owned(file, source).map_err(|e| brief(&e))
    };
    let mut problem = add("txt", body).err();
    if let Some(html) = html {
        reply.html = true;
        // The header is the text's; a copy of it atop the HTML goes too.
        let added = html.and_then(|h| add("html", without_header(&h).1));
        problem = problem.or(added.err());
    }
    reply.problem = problem;
    reply
}

/// The header's command lines, and the template source: the rest, with an
/// empty line for each line of the header, so errors name the file's lines.
fn without_header(source: &str) -> (Vec<String>, String) {
    let source = source.replace("\r\n", "\n");
    let header = split_header(&source);
    let taken = source[..source.len() - header.body.len()]
        .matches('\n')
        .count();
    (header.commands, "\n".repeat(taken) + &header.body)
}

/// `syntax error: unexpected end of input (refund.txt, line 2)`: one line
/// for an agent's mail, not the engine's multi-line report.
fn brief(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}{}", e.kind(), place(e)),
        None => format!("{}{}", e.kind(), place(e)),
    }
}

fn place(e: &minijinja::Error) -> String {
    let file = e.name().map(|n| n.strip_prefix("replies/").unwrap_or(n));
    match (file, e.line()) {
        (Some(f), Some(l)) => format!(" ({f}, line {l})"),
        (Some(f), None) => format!(" ({f})"),
        _ => String::new(),
    }
}

fn have(vars: &ReplyVars) -> String {
    format!("this ticket has {}", vars.names().join(", "))
}

/// The variables the template names but `vars` lacks: those on the failing
/// line when it names any (others may be guarded by `default`), else all.
fn undefined_names(
    source: &str,
    undeclared: std::collections::HashSet<String>,
    line: Option<usize>,
    vars: &ReplyVars,
) -> Vec<String> {
    let given = vars.names();
    let missing: BTreeSet<String> = undeclared
        .into_iter()
        .filter(|n| !given.contains(&n.as_str()))
        .collect();
    let on_line = line
        .and_then(|l| source.lines().nth(l.checked_sub(1)?))
        .map(|text| {
            missing
                .iter()
                .filter(|n| names_word(text, n))
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if on_line.is_empty() {
        missing.into_iter().collect()
    } else {
        on_line
    }
}

/// Whether `word` stands in `text` as a name of its own.
fn names_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| w == word)
}

#[cfg(test)]
mod tests;
