//! Rows read back from the database.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::tickets::{
    Direction, EventKind, MessageKind, OutboxStatus, Priority, Satisfaction, Status, Ticket,
};

pub const TICKET_COLUMNS: &str = "id, subject, normalized_subject, status, priority, area, owner, customer, customer_name, tags, created_at, updated_at, first_response_at, resolved_at, sla_policy, first_response_due, next_response_due, resolution_due, waiting_since, pending_since, sla_paused_secs, sla_next_check, merged_into, pending_until, answered_at, linked_to, satisfaction_score, satisfaction_comment, satisfaction_at";

/// A `tickets` row; the store hands out and takes back a [`Ticket`].
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct TicketRow {
    pub id: i64,
    pub subject: String,
    pub normalized_subject: String,
    pub status: Status,
    pub priority: Priority,
    pub area: Option<String>,
    pub owner: Option<String>,
    pub customer: String,
    pub customer_name: Option<String>,
    pub tags: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub sla_policy: Option<String>,
    pub first_response_due: Option<DateTime<Utc>>,
    pub next_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    pub waiting_since: Option<DateTime<Utc>>,
    pub pending_since: Option<DateTime<Utc>>,
    pub sla_paused_secs: i64,
    pub sla_next_check: Option<DateTime<Utc>>,
    pub merged_into: Option<i64>,
    pub pending_until: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub linked_to: Option<i64>,
    pub satisfaction_score: Option<i64>,
    pub satisfaction_comment: Option<String>,
    pub satisfaction_at: Option<DateTime<Utc>>,
}

impl From<TicketRow> for Ticket {
    fn from(r: TicketRow) -> Ticket {
        let satisfaction = rating(
            r.satisfaction_score,
            r.satisfaction_comment,
            r.satisfaction_at,
        );
        Ticket {
            id: r.id,
            subject: r.subject,
            normalized_subject: r.normalized_subject,
            status: r.status,
            priority: r.priority,
            area: r.area,
            owner: r.owner,
            customer: r.customer,
            customer_name: r.customer_name,
            tags: r.tags,
            created_at: r.created_at,
            updated_at: r.updated_at,
            first_response_at: r.first_response_at,
            resolved_at: r.resolved_at,
            sla_policy: r.sla_policy,
            first_response_due: r.first_response_due,
            next_response_due: r.next_response_due,
            resolution_due: r.resolution_due,
            waiting_since: r.waiting_since,
            pending_since: r.pending_since,
            sla_paused_secs: r.sla_paused_secs,
            sla_next_check: r.sla_next_check,
            merged_into: r.merged_into,
            pending_until: r.pending_until,
            answered_at: r.answered_at,
            linked_to: r.linked_to,
            satisfaction,
        }
    }
}

/// A ticket's rating from its columns (a score out of range is none).
pub(super) fn rating(
    score: Option<i64>,
    comment: Option<String>,
    at: Option<DateTime<Utc>>,
) -> Option<Satisfaction> {
    Some(Satisfaction {
        score: u8::try_from(score?).ok().filter(|s| (1..=5).contains(s))?,
        comment: comment.unwrap_or_default(),
        at: at?,
    })
}

pub const MESSAGE_COLUMNS: &str = "id, ticket_id, direction, kind, role, message_id, from_addr, from_name, to_addrs, cc_addrs, recipient, subject, sent_at, text_body, html_body, origin, reason, created_at";

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct MessageRow {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub direction: Direction,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    /// Who wrote an inbound mail on its ticket (`role()` reads it).
    role: Option<String>,
    pub message_id: String,
    pub from_addr: String,
    pub from_name: Option<String>,
    pub to_addrs: String,
    pub cc_addrs: String,
    pub recipient: Option<String>,
    pub subject: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub text_body: String,
    pub html_body: Option<String>,
    pub origin: Option<String>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl MessageRow {
    /// The author's role; an unknown value stored is an error, never a guess.
    pub fn role(&self) -> Result<Option<crate::tickets::Role>, String> {
        self.role.as_deref().map(str::parse).transpose()
    }
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub message_row: Option<i64>,
    pub kind: EventKind,
    pub detail: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct AttachmentRow {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

pub const OUTBOX_COLUMNS: &str = "id, message_row, ticket_id, kind, sender, recipients, status, attempts, next_attempt_at, last_error, created_at, sent_at, delivered_to, refused";

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub message_row: i64,
    pub ticket_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub sender: String,
    pub recipients: String,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Who got it (comma-separated).
    pub delivered_to: String,
    /// Who was refused, with the server's reply (shown as JSON).
    #[serde(serialize_with = "json_text")]
    pub refused: String,
}

/// A column holding JSON, shown as JSON (as text if it is not).
fn json_text<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => v.serialize(s),
        Err(_) => s.serialize_str(text),
    }
}

/// An outbox row claimed for sending, with the outbound message's headers (its
/// bytes are read when it is sent, one mail at a time).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueMail {
    pub id: i64,
    pub ticket_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub context: String,
    pub trigger_row: Option<i64>,
    pub sender: String,
    pub recipients: String,
    /// Recipients who got it in an earlier attempt (comma-separated).
    pub delivered_to: String,
    /// Refused recipients so far: JSON, `outbound::Refusal`s.
    pub refused: String,
    pub attempts: i64,
    pub message_row: i64,
    pub message_id: String,
    pub from_name: Option<String>,
    pub to_addrs: String,
    pub cc_addrs: String,
    pub recipient: Option<String>,
    pub thread_index: Option<String>,
    pub subject: String,
    pub in_reply_to: String,
    pub refs: String,
    /// Set once the mail was rendered (a retry sends the same bytes).
    pub rendered: bool,
}

/// The inbound mail an outgoing one answers or reports.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TriggerMail {
    pub message_id: String,
    pub from_addr: String,
    pub from_name: Option<String>,
    /// Empty for inbound mail: its text is derived from the raw bytes.
    pub text_body: String,
    pub raw: Option<Vec<u8>>,
    pub raw_codec: Option<String>,
    /// Set when the raw bytes are in `raw_blobs` (big mail on SQLite).
    pub raw_blob: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentData {
    pub sha256: String,
    pub filename: Option<String>,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A stored mail that belongs to no ticket (an auto-reply or bounce that
/// answers nothing, a dropped or ignored mail): `mailroom suspended list`.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct SuspendedRow {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    #[serde(rename = "from")]
    pub from_addr: String,
    pub subject: String,
    /// The mail's Date header.
    pub date: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub origin: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct QuarantineRow {
    pub id: i64,
    pub origin: String,
    pub reason: String,
    pub sha256: String,
    pub size: i64,
    pub created_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    pub released_as: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RoutedTicketRow {
    pub id: i64,
    pub subject: String,
    pub area: Option<String>,
    pub priority: Priority,
    pub owner: Option<String>,
    pub raw: Option<Vec<u8>>,
    pub raw_codec: Option<String>,
}

/// A ticket as routed, with the raw mail that opened it.
#[derive(Debug, Clone)]
pub struct RoutedTicket {
    pub id: i64,
    pub subject: String,
    pub area: Option<String>,
    pub priority: Priority,
    pub owner: Option<String>,
    pub raw: Vec<u8>,
}
