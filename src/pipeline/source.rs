//! What sources hand the pipeline and what they get back: raw messages
//! (`Inbound`), a batch prepared for commit (`Prepared`) with the position it
//! commits, and each message's `Outcome`.

use serde::{Deserialize, Serialize};

use crate::mail::parse::ParsedMail;
use crate::store::{BatchKeys, codec};

/// One raw message and where it came from (file path, maildir entry, …).
#[derive(Debug, Clone)]
pub struct Inbound {
    pub origin: String,
    pub raw: Vec<u8>,
    /// Set when the source already knows the message cannot be taken in (over
    /// the size limit, or unreadable from the server): it is quarantined with
    /// this reason and whatever bytes the source has in `raw`.
    pub rejected: Option<String>,
    /// `mailroom suspended release`: this stored ticket-less message (its row)
    /// is processed again as customer mail and joins the ticket it leads to.
    pub adopt: Option<i64>,
}

impl Inbound {
    pub fn new(origin: String, raw: Vec<u8>) -> Inbound {
        Inbound {
            origin,
            raw,
            rejected: None,
            adopt: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    Created,
    Appended,
    AgentReply,
    Duplicate,
    Bounce,
    Autoreply,
    Ignored,
    Quarantined,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Created => "created",
            OutcomeKind::Appended => "appended",
            OutcomeKind::AgentReply => "agent_reply",
            OutcomeKind::Duplicate => "duplicate",
            OutcomeKind::Bounce => "bounce",
            OutcomeKind::Autoreply => "autoreply",
            OutcomeKind::Ignored => "ignored",
            OutcomeKind::Quarantined => "quarantined",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub file: String,
    pub outcome: OutcomeKind,
    #[serde(rename = "ref")]
    pub ticket_ref: Option<String>,
    pub reason: Option<String>,
}

/// A batch parsed and ready to commit (`Pipeline::prepare`).
pub struct Prepared {
    pub items: Vec<Inbound>,
    pub(super) parsed: Vec<std::result::Result<ParsedMail, String>>,
    /// The raw bytes as stored (compressed), for the messages that parsed.
    pub(super) packed: Vec<codec::Stored>,
    pub(super) keys: BatchKeys,
    pub(super) position: Option<SourcePosition>,
}

/// How far a source is committed (an IMAP folder's UIDVALIDITY and last UID),
/// written in the same transaction as the batch's messages.
#[derive(Debug, Clone)]
pub struct SourcePosition {
    pub source: String,
    pub uidvalidity: i64,
    pub last_uid: i64,
}

impl Prepared {
    /// Commits `position` together with this batch.
    pub fn at_position(mut self, position: SourcePosition) -> Prepared {
        self.position = Some(position);
        self
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
