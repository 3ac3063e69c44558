//! Commands an agent writes on their own lines at the very top of a reply
//! (DESIGN §5): `#note [text]`, `#close`/`#resolve`, `#pending`, `#open`,
//! `#take`, `#assign <agent>`, `#area <name>`, `#priority <p>`, `#tag <t>`,
//! `#untag <t>`, `#cc <address>`, `#merge <ticket> [force]`. Parsing is
//! pure; the names an argument may
//! take (agents, areas, addresses that are internal) come in a [`Directory`].
//! `#reply <name>` is no command: it stands for a saved reply's text
//! (`saved.rs`), so a `#reply` line in the block is kept for the text.

use std::str::FromStr;

use super::Priority;
use arguments::{area, assign, cc, merge, pending, seconds, tag, wait_text};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "command", content = "argument", rename_all = "lowercase")]
pub enum Command {
    /// The whole reply is internal: stored as a note, never relayed.
    Note,
    Resolve,
    /// Waiting for the customer; with a wait (`#pending 3d`, `#pending
    /// until 2027-01-15`), the owner is reminded and the ticket reopens when
    /// it ends without an answer from the customer's side.
    Pending(Option<Wait>),
    Open,
    /// The agent who writes it becomes the owner.
    Take,
    /// The agent's address (lowercased).
    Assign(String),
    /// The area's configured name.
    Area(String),
    Priority(Priority),
    Tag(String),
    Untag(String),
    /// An address to keep in Cc of the customer's thread (lowercased).
    Cc(String),
    /// Merge the ticket into `into` (a ticket id); `force` allows another
    /// customer's ticket.
    Merge {
        into: i64,
        force: bool,
    },
    /// Move the customer mail the answered notification showed, and the
    /// mail answering it, to a new ticket for its sender.
    Split,
}

impl Command {
    /// How the command reads when written canonically.
    pub fn text(&self) -> String {
        match self {
            Command::Note => "#note".into(),
            Command::Resolve => "#close".into(),
            Command::Pending(None) => "#pending".into(),
            Command::Pending(Some(Wait::For(d))) => format!("#pending {}", wait_text(*d)),
            Command::Pending(Some(Wait::Until(date))) => format!("#pending until {date}"),
            Command::Open => "#open".into(),
            Command::Take => "#take".into(),
            Command::Assign(a) => format!("#assign {a}"),
            Command::Area(a) => format!("#area {a}"),
            Command::Priority(p) => format!("#priority {p}"),
            Command::Tag(t) => format!("#tag {t}"),
            Command::Untag(t) => format!("#untag {t}"),
            Command::Cc(a) => format!("#cc {a}"),
            Command::Split => "#split".into(),
            Command::Merge { into, force } => {
                format!("#merge {into}{}", if *force { " force" } else { "" })
            }
        }
    }
}

/// How long an agent's `#pending` waits for the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Wait {
    /// `#pending 3d`: this long from now.
    For(#[serde(serialize_with = "seconds")] chrono::Duration),
    /// `#pending until 2027-01-15`: until that day starts.
    Until(chrono::NaiveDate),
}

/// One command line that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommandError {
    pub line: String,
    pub reason: String,
}

/// The accepted commands, for help texts and explanation mails.
pub const ACCEPTED: &[(&str, &str)] = &[
    (
        "#note  (or #note <text>)",
        "the whole reply is an internal note: never sent to the customer",
    ),
    ("#close  (or #resolve)", "mark the ticket resolved"),
    ("#pending", "waiting for the customer"),
    (
        "#pending 3d  (or #pending until 2027-01-15)",
        "waiting for the customer until then: you are reminded and it reopens if they do not answer",
    ),
    ("#open", "waiting for support"),
    ("#take", "you become the owner"),
    (
        "#assign <agent email or name>",
        "give the ticket to another agent",
    ),
    ("#area <name>", "move the ticket to another area"),
    ("#priority <low|normal|high|urgent>", "change the priority"),
    ("#tag <tag>  /  #untag <tag>", "add or remove a tag"),
    (
        "#cc <address>",
        "keep someone in Cc of the customer's thread",
    ),
    (
        "#split",
        "move the customer mail this notification showed (and the mail answering it) to a new ticket for its sender",
    ),
    (
        "#merge <ticket>  (or #merge <ticket> force)",
        "merge this ticket into that one (force: even another customer's)",
    ),
    (
        "#reply <name>",
        "a saved reply in place of this line, anywhere in your words (its own commands run too)",
    ),
];

/// What command arguments may name.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Roster: lowercased address and display name.
    pub agents: Vec<(String, Option<String>)>,
    pub areas: Vec<String>,
    /// Addresses `#cc` may never add: agents, managers, mailroom's own.
    pub internal: Vec<String>,
    /// The ticket prefix `#merge` names tickets with (`MR` of `MR-12`).
    pub ticket_prefix: String,
}

/// The command block at the top of a reply and the text below it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Commands {
    pub commands: Vec<Command>,
    pub errors: Vec<CommandError>,
    /// The text after the command lines, leading blank lines removed.
    pub body: String,
    /// The command lines as written (trimmed), to remove them from an HTML part.
    pub lines: Vec<String>,
}

impl Commands {
    pub fn has(&self, c: &Command) -> bool {
        self.commands.contains(c)
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty() && self.errors.is_empty()
    }
}

/// Whether `line` is written like a command (`#` and a letter), whatever
/// the word: a saved reply's header block is such lines.
pub fn is_command_line(line: &str) -> bool {
    command_word(line).is_some()
}

/// A line is a command line when it starts with `#` and a letter (so "#1 on my
/// list" or "# heading" are text). Commands end at the first other line.
fn command_word(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix('#')?;
    if !rest.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(match rest.split_once(char::is_whitespace) {
        Some((w, arg)) => (w, arg.trim()),
        None => (rest, ""),
    })
}

pub fn parse(text: &str, dir: &Directory) -> Commands {
    let mut out = Commands::default();
    // `#reply` lines of the block: the top of the text, where they stand.
    let mut replies: Vec<&str> = Vec::new();
    let mut lines = text.lines().peekable();
    // Blank lines right above the text: kept below a `#reply` line.
    let mut gap = false;
    while let Some(line) = lines.peek() {
        if line.trim().is_empty() {
            gap = true;
            lines.next();
            continue;
        }
        let Some((word, arg)) = command_word(line) else {
            break;
        };
        gap = false;
        let written = line.trim().to_string();
        if word.eq_ignore_ascii_case("reply") {
            replies.push(line.trim());
            lines.next();
            continue;
        }
        // `#note some text`, the way agents type it: the note's text starts
        // on the command line, and the command block ends there.
        if word.eq_ignore_ascii_case("note") && !arg.is_empty() {
            out.commands.push(Command::Note);
            out.lines.push(written);
            lines.next();
            let rest: Vec<&str> = lines.collect();
            out.body = replies
                .into_iter()
                .chain(std::iter::once(arg))
                .chain(rest)
                .collect::<Vec<_>>()
                .join("\n");
            return out;
        }
        match command(word, arg, dir) {
            Ok(c) => out.commands.push(c),
            Err(reason) => out.errors.push(CommandError {
                line: written.clone(),
                reason,
            }),
        }
        out.lines.push(written);
        lines.next();
    }
    let rest: Vec<&str> = lines.collect();
    if gap && !replies.is_empty() && !rest.is_empty() {
        replies.push("");
    }
    out.body = replies
        .into_iter()
        .chain(rest)
        .collect::<Vec<_>>()
        .join("\n");
    out
}

fn no_argument(c: Command, arg: &str) -> Result<Command, String> {
    if arg.is_empty() {
        Ok(c)
    } else {
        Err(format!("{} takes no argument (got {arg:?})", c.text()))
    }
}

fn command(word: &str, arg: &str, dir: &Directory) -> Result<Command, String> {
    let needs = |what: &str| format!("#{} needs {what}", word.to_ascii_lowercase());
    match word.to_ascii_lowercase().as_str() {
        "note" => no_argument(Command::Note, arg),
        "close" | "resolve" => no_argument(Command::Resolve, arg),
        "pending" if arg.is_empty() => Ok(Command::Pending(None)),
        "pending" => pending(arg).map(|w| Command::Pending(Some(w))),
        "open" => no_argument(Command::Open, arg),
        "take" => no_argument(Command::Take, arg),
        "assign" if arg.is_empty() => Err(needs("an agent's address or name")),
        "assign" => assign(arg, dir),
        "area" if arg.is_empty() => Err(needs("an area name")),
        "area" => area(arg, dir),
        "priority" if arg.is_empty() => Err(needs("low, normal, high or urgent")),
        "priority" => Priority::from_str(arg).map(Command::Priority),
        "tag" | "untag" => tag(word, arg),
        "cc" if arg.is_empty() => Err(needs("an address")),
        "cc" => cc(arg, dir),
        "merge" if arg.is_empty() => Err(needs("the ticket to merge into, like MR-12")),
        "merge" => merge(arg, dir),
        "split" => no_argument(Command::Split, arg),
        other => Err(format!("unknown command #{other}")),
    }
}

/// The tickets `#merge` lines at the top of `text` name: what a batch must
/// load before it decides (the command block is parsed again then).
pub fn merge_targets(text: &str, prefix: &str) -> Vec<i64> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map_while(command_word)
        .filter(|(word, _)| word.eq_ignore_ascii_case("merge"))
        .filter_map(|(_, arg)| super::parse_ref(prefix, arg.split_whitespace().next()?))
        .collect()
}

/// Whether the command block at the top of `text` has a `#split`: the
/// batch then loads what the answered notification showed.
pub fn split_requested(text: &str) -> bool {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map_while(command_word)
        .any(|(word, _)| word.eq_ignore_ascii_case("split"))
}

mod arguments;

#[cfg(test)]
mod tests;
