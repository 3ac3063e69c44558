//! A ticket whole, as `tickets show` prints it: its messages with their
//! attachments, bodies and author roles, its participants and events.

use super::{AttachmentRow, EventRow, MessageRow, Participant, Store, on_pool};
use crate::error::{Error, Result};
use crate::tickets::{Direction, Role, Ticket};

pub struct TicketView {
    pub ticket: Ticket,
    /// Tickets merged into this one: their numbers lead here.
    pub aliases: Vec<i64>,
    /// Newer tickets that continue this one (mail after the reopen window).
    pub continued_by: Vec<i64>,
    pub participants: Vec<Participant>,
    pub messages: Vec<MessageView>,
    pub events: Vec<EventRow>,
}

pub struct MessageView {
    pub row: MessageRow,
    pub attachments: Vec<AttachmentRow>,
    pub text: String,
    pub html: Option<String>,
    pub role: Option<Role>,
}

impl Store {
    /// The tickets merged into `id` (each points at the end of its chain).
    pub async fn ticket_aliases(&self, id: i64) -> Result<Vec<i64>> {
        Ok(on_pool!(&self.pool, p => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM tickets WHERE merged_into = $1 ORDER BY id")
            .bind(id).fetch_all(p).await?))
    }

    /// The ticket `id` with everything on it; `None` when there is none.
    pub async fn ticket_view(&self, id: i64) -> Result<Option<TicketView>> {
        let Some(ticket) = self.ticket(id).await? else {
            return Ok(None);
        };
        let rows = self.ticket_messages(id).await?;
        let events = self.ticket_events(id).await?;
        let participants = self.ticket_participants(id).await?;
        let aliases = self.ticket_aliases(id).await?;
        let continued_by = on_pool!(&self.pool, p => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM tickets WHERE linked_to = $1 ORDER BY id")
            .bind(id).fetch_all(p).await?);
        let mut messages = Vec::with_capacity(rows.len());
        for m in rows {
            let role = m
                .role()
                .map_err(|e| Error::Invalid(format!("message {}: {e}", m.id)))?;
            let attachments = self.message_attachments(m.id).await?;
            // Inbound bodies are not stored twice: derive them from the raw bytes.
            let (text, html) = if m.direction == Direction::In && m.text_body.is_empty() {
                match self.raw_message(m.id).await? {
                    Some(raw) => crate::mail::parse::bodies(&raw),
                    None => (String::new(), None),
                }
            } else {
                (m.text_body.clone(), m.html_body.clone())
            };
            messages.push(MessageView {
                row: m,
                attachments,
                text,
                html,
                role,
            });
        }
        Ok(Some(TicketView {
            ticket,
            aliases,
            continued_by,
            participants,
            messages,
            events,
        }))
    }
}
