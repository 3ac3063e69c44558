//! What the batch's view holds, read by deciding: every fact checked against
//! what the loader asked for (`known`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{UnitOfWork, known};
use crate::store::{CustomerMail, SentNotification, SplitMail, StoredRef};
use crate::tickets::{MessageKind, ParticipantRole, Ticket};

/// Merges chained within one batch, at most, before mail gives up on them.
const MAX_ALIAS_STEPS: usize = 8;

impl UnitOfWork<'_> {
    /// The ticket of the stored copy of this mail: `Some(ticket)` when stored.
    /// A copy is the same Message-ID with the same content, or with the same
    /// sender, date, subject and decoded text (a relay re-encoded it). Another
    /// mail that reuses a Message-ID is not a copy.
    pub fn find_message(
        &self,
        message_id: &str,
        content_hash: &str,
        text_hash: &str,
    ) -> Option<Option<i64>> {
        known(
            self.asked.message_ids.contains(message_id),
            "stored messages",
            message_id,
        );
        self.refs
            .get(message_id)?
            .iter()
            .find(|r| r.content_hash == content_hash || r.text_hash.as_deref() == Some(text_hash))
            .map(|r| r.ticket_id)
    }

    /// Stored messages with one of these Message-IDs that belong to a ticket.
    pub fn on_tickets(&self, ids: &[String]) -> Vec<&StoredRef> {
        for id in ids {
            known(self.asked.message_ids.contains(id), "stored messages", id);
        }
        ids.iter()
            .filter_map(|id| self.refs.get(id))
            .flatten()
            .filter(|r| r.ticket_id.is_some())
            .collect()
    }

    /// The manager a stored digest with one of these Message-IDs went to.
    pub fn digest_recipient(&self, ids: &[String]) -> Option<String> {
        for id in ids {
            known(self.asked.message_ids.contains(id), "stored messages", id);
        }
        ids.iter()
            .filter_map(|id| self.refs.get(id))
            .flatten()
            .find(|r| r.kind == MessageKind::Digest && r.ticket_id.is_none())
            // Lower-cased like the config's managers (older rows kept the
            // config's spelling): the hold is on the address they compare.
            .and_then(|r| r.recipient.as_deref().map(str::to_ascii_lowercase))
    }

    /// Whether `message_id` is stored as internal mail (a notification, an
    /// explanation, an agent's reply or note): it must never reach a customer.
    pub fn is_internal_id(&self, message_id: &str) -> bool {
        known(
            self.asked.message_ids.contains(message_id),
            "stored messages",
            message_id,
        );
        self.refs
            .get(message_id)
            .is_some_and(|v| v.iter().any(|r| r.kind.is_internal()))
    }

    /// `ids` without the Message-IDs of internal mail: what goes back to the
    /// customer's side carries only IDs that side wrote or was sent.
    pub fn customer_chain(&self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .filter(|id| !self.is_internal_id(id))
            .cloned()
            .collect()
    }

    pub fn ticket(&self, id: i64) -> Option<&Ticket> {
        known(self.asked.tickets.contains(&id), "tickets", id);
        self.tickets.get(&id)
    }

    /// The ticket mail for `id` lands on: `id` itself, or the ticket it was
    /// merged into (the loader loads it beside; a merge points older aliases
    /// at its target, so this is one step, a few at most mid-batch).
    pub fn live_ticket(&self, id: i64) -> Option<&Ticket> {
        let mut t = self.ticket(id)?;
        for _ in 0..MAX_ALIAS_STEPS {
            match t.merged_into {
                Some(next) => t = self.ticket(next)?,
                None => return Some(t),
            }
        }
        None
    }

    pub fn is_participant(&self, ticket_id: i64, email: &str) -> bool {
        self.participants(ticket_id).iter().any(|(e, _)| e == email)
    }

    pub fn participants(&self, ticket_id: i64) -> &[(String, ParticipantRole)] {
        known(
            self.asked.participants.contains(&ticket_id),
            "participants",
            ticket_id,
        );
        self.participants
            .get(&ticket_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn open_counts(&self) -> &HashMap<String, i64> {
        known(self.asked.assignment, "open counts", "");
        &self.open_counts
    }

    pub fn continuity(&self, customer: &str, area: &str) -> Option<&str> {
        known(self.asked.assignment, "continuity", customer);
        self.continuity
            .get(&(customer.to_string(), area.to_string()))
            .map(String::as_str)
    }

    pub fn cursor(&self, area: &str) -> Option<i64> {
        known(self.asked.assignment, "assignment cursors", area);
        self.cursors.get(area).copied()
    }

    /// Mail of these kinds queued to `recipient` within the rate window,
    /// including this batch's own.
    pub fn sent_recently(&self, recipient: &str, kinds: &[MessageKind]) -> i64 {
        known(
            self.asked.recipients.contains(recipient),
            "automatic mail counts",
            recipient,
        );
        kinds
            .iter()
            .filter_map(|k| self.auto_counts.get(&(recipient.to_string(), *k)))
            .sum()
    }

    /// Until when mail to `address` is held back (it bounced), if it is.
    pub fn suppressed_until(&self, address: &str) -> Option<DateTime<Utc>> {
        self.suppressions
            .get(address)
            .copied()
            .filter(|until| *until > self.now)
    }

    pub fn latest_customer_mail(&self, ticket_id: i64) -> Option<&CustomerMail> {
        known(
            self.asked.latest.contains(&ticket_id),
            "latest customer mail",
            ticket_id,
        );
        self.latest_customer_mail.get(&ticket_id)
    }

    pub fn last_notification(&self, ticket_id: i64, recipient: &str) -> Option<&SentNotification> {
        known(
            self.asked.notified.contains(&ticket_id),
            "notifications",
            ticket_id,
        );
        self.sent_notifications
            .get(&(ticket_id, recipient.to_string()))
    }

    /// Whether an attachment with this SHA-256 is already on the ticket.
    pub fn ticket_has_attachment(&self, ticket_id: i64, sha256: &str) -> bool {
        known(
            self.asked.attachments.contains(&ticket_id),
            "ticket attachments",
            ticket_id,
        );
        self.ticket_attachments
            .contains(&(ticket_id, sha256.to_string()))
    }

    /// Tickets of stored customer mail that refers to `message_id` (it came
    /// in after a follow-up to it).
    pub fn referred_by(&self, message_id: &str) -> &[i64] {
        known(
            self.asked.own_ids.contains(message_id),
            "referring mail",
            message_id,
        );
        self.referred_by
            .get(message_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The customer mail a notification showed (by the notification's
    /// Message-ID), or a mail named by its own (`tickets split`).
    pub fn split_mail(&self, message_id: &str) -> Option<&SplitMail> {
        known(
            self.asked.split_refs.contains(message_id),
            "split mail",
            message_id,
        );
        self.split_mail.get(message_id)
    }
}
