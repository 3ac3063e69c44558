//! A batch's reads: everything the pipeline needs for a batch, loaded in a
//! handful of queries into [`Loaded`] (the writes are in `write.rs`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::batch::{BatchKeys, CustomerMail, Loaded, Participant, SentNotification, StoredRef};
use super::rows::{TICKET_COLUMNS, TicketRow};
use super::sql::{KEYS_PER_QUERY, Params, select_in, sorted};
use super::tx::{Tx, on_tx};
use crate::error::Result;
use crate::tickets::MessageKind;

/// The threading and de-duplication lookup: the stored messages behind a
/// batch's Message-IDs and references (`list`: their placeholders). Public
/// for the SLA bench, which times it at a million messages.
pub fn threading_lookup_sql(list: &str) -> String {
    format!(
        "SELECT message_id, content_hash, text_hash, ticket_id, kind, recipient, reply_token FROM messages \
         WHERE message_id IN ({list})"
    )
}

/// Whom mail about the loaded tickets may go to, besides `also`, sorted:
/// their owners (on the roster or not: notifications, reminders) and their
/// customers (a merge notice, a lifecycle warning, the satisfaction
/// question). Their rate limits are loaded for these.
pub(super) fn mailable(l: &Loaded, also: &[String]) -> Vec<String> {
    let people = l
        .tickets
        .values()
        .flat_map(|t| [t.owner.clone(), Some(t.customer.clone())])
        .flatten();
    sorted(also.iter().cloned().chain(people))
}

impl Tx {
    /// Loads what the batch will read. On PostgreSQL it takes the batch's first-
    /// and second-class locks on the way (contention.rs): a batch never decides
    /// from a view another batch is about to change.
    pub async fn load_batch(
        &mut self,
        keys: &BatchKeys,
        rate_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Loaded> {
        self.lock_keys(keys.lock_names()).await?;
        let mut l = Loaded::default();
        self.load_threading(keys, &mut l).await?;
        self.load_tickets(keys, &mut l).await?;

        // The tickets agent mail answers: they may get a relay.
        let answered = sorted(
            keys.agent_refs
                .iter()
                .filter_map(|id| l.refs.get(id))
                .flatten()
                .filter_map(|r| r.ticket_id),
        );
        self.load_participants(&mut l).await?;
        self.load_ticket_attachments(&mut l, &answered).await?;
        if !keys.split_refs.is_empty() {
            self.load_split_mail(&keys.split_refs, &mut l).await?;
        }

        // The loaded tickets' owners may be notified too (an owner no longer
        // on the roster still is), and their customers told of a merge or
        // asked how satisfied they are (a `#close`).
        let recipients = mailable(&l, &keys.auto_recipients);

        // Assignment: load per owner, continuity per customer and area, cursors.
        if keys.assignment {
            l.asked.assignment = true;
            l.customers = recipients.clone();
            self.load_assignment_state(&mut l).await?;
        }

        let loaded_tickets = sorted(l.tickets.keys().copied());
        self.load_outgoing_context(
            &mut l,
            &answered,
            &loaded_tickets,
            &recipients,
            rate_since,
            now,
        )
        .await?;
        Ok(l)
    }

    /// The stored messages behind the batch's Message-IDs and references, and
    /// the tickets whose stored mail refers to the batch's own Message-IDs.
    async fn load_threading(&mut self, keys: &BatchKeys, l: &mut Loaded) -> Result<()> {
        let ids = sorted(keys.message_ids.iter().cloned());
        l.asked.message_ids.extend(ids.iter().cloned());
        let refs = select_in!(self, StoredRef, ids, |list| threading_lookup_sql(&list));
        for r in refs {
            l.refs.entry(r.message_id.clone()).or_default().push(r);
        }

        let own = sorted(keys.own_ids.iter().cloned());
        l.asked.own_ids.extend(own.iter().cloned());
        let referring = select_in!(self, (String, i64), own, |list| format!(
            "SELECT r.ref_id, m.ticket_id FROM message_refs r JOIN messages m ON m.id = r.message_row \
             WHERE m.ticket_id IS NOT NULL AND r.ref_id IN ({list})"
        ));
        for (id, ticket) in referring {
            l.referred_by.entry(id).or_default().push(ticket);
        }
        Ok(())
    }

    /// The tickets named by subject tags or behind the threading lookup.
    async fn load_tickets(&mut self, keys: &BatchKeys, l: &mut Loaded) -> Result<()> {
        let referenced: Vec<i64> = l
            .refs
            .values()
            .flatten()
            .filter_map(|r| r.ticket_id)
            .chain(l.referred_by.values().flatten().copied())
            .collect();
        let ticket_ids = sorted(keys.tag_tickets.iter().copied().chain(referenced));
        l.asked.tickets.extend(ticket_ids.iter().copied());
        l.tickets = self.tickets_to_change(&ticket_ids).await?;
        // A merged ticket's number leads to the ticket it went to (one step:
        // merging points older aliases at the new end), which mail for it
        // changes instead. Locked after the others: a merge that holds it
        // waits, or the deadlock retry runs the batch again.
        let targets = sorted(
            l.tickets
                .values()
                .filter_map(|t| t.merged_into)
                .filter(|id| !l.tickets.contains_key(id)),
        );
        if !targets.is_empty() {
            l.asked.tickets.extend(targets.iter().copied());
            let live = self.tickets_to_change(&targets).await?;
            l.tickets.extend(live);
        }
        Ok(())
    }

    /// Participants matter for subject tags, for a relay's Cc and for the
    /// role of every mail that threads onto a ticket: all loaded tickets.
    /// The tickets `ids` (sorted) as the transaction will change them. On
    /// PostgreSQL they are locked, in id order, so two instances' batches
    /// never wait for each other in a circle.
    pub(super) async fn tickets_to_change(
        &mut self,
        ids: &[i64],
    ) -> Result<HashMap<i64, crate::tickets::Ticket>> {
        let lock = if self.is_shared() {
            " ORDER BY id FOR UPDATE"
        } else {
            ""
        };
        let tickets = select_in!(self, TicketRow, ids, |list| format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE id IN ({list}){lock}"
        ));
        Ok(tickets.into_iter().map(|t| (t.id, t.into())).collect())
    }

    pub(super) async fn load_participants(&mut self, l: &mut Loaded) -> Result<()> {
        let with_participants = sorted(l.tickets.keys().copied());
        l.asked
            .participants
            .extend(with_participants.iter().copied());
        l.participants = select_in!(self, Participant, with_participants, |list| format!(
            "SELECT ticket_id, email, role FROM participants WHERE ticket_id IN ({list}) ORDER BY ticket_id, email"
        ));
        Ok(())
    }

    /// (ticket, SHA-256) of every attachment already on the `answered` tickets.
    async fn load_ticket_attachments(&mut self, l: &mut Loaded, answered: &[i64]) -> Result<()> {
        let hashes = select_in!(self, (i64, String), answered, |list| format!(
            "SELECT DISTINCT m.ticket_id, a.sha256 FROM messages m \
             JOIN message_attachments ma ON ma.message_row = m.id \
             JOIN attachments a ON a.id = ma.attachment_id WHERE m.ticket_id IN ({list})"
        ));
        l.ticket_attachments = hashes.into_iter().collect();
        l.asked.attachments.extend(answered.iter().copied());
        Ok(())
    }
}

impl Tx {
    /// Automatic mail queued to each of `recipients` since `since`, per
    /// (recipient, kind): what the RFC 3834 rate limit counts (acks,
    /// explanations, notices, satisfaction questions, notifications and
    /// managers' digests).
    pub(super) async fn auto_counts(
        &mut self,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> Result<HashMap<(String, MessageKind), i64>> {
        let counts = select_in!(
            self,
            (String, String, i64),
            recipients,
            |list| format!(
                "SELECT recipients, kind, COUNT(*) FROM outbox WHERE kind IN ('ack', 'system', 'notice', 'survey', 'notification', 'digest') \
                 AND created_at > {} AND recipients IN ({list}) GROUP BY recipients, kind",
                Params::of(self).list(1, 1)
            ),
            pre = [since]
        );
        Ok(counts
            .into_iter()
            .filter_map(|(to, kind, n)| Some(((to, kind.parse::<MessageKind>().ok()?), n)))
            .collect())
    }

    /// What mail about loaded tickets needs: the latest customer mail of the
    /// `answered` tickets (a relay threads under it), the latest notification per
    /// recipient of the `notified` ones, how much automatic mail each of
    /// `recipients` got since `rate_since`, the active suppressions and the
    /// highest ids so far.
    pub(super) async fn load_outgoing_context(
        &mut self,
        l: &mut Loaded,
        answered: &[i64],
        notified: &[i64],
        recipients: &[String],
        rate_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let latest = select_in!(self, CustomerMail, answered, |list| format!(
            "SELECT id AS row, ticket_id, message_id, refs, thread_index FROM messages WHERE id IN \
             (SELECT MAX(id) FROM messages WHERE ticket_id IN ({list}) AND direction = 'in' AND kind = 'customer' GROUP BY ticket_id)"
        ));
        // What a relay's References may carry is checked against what is
        // stored: the IDs in the customer's latest mail's chain are looked up.
        let chain = sorted(
            latest
                .iter()
                .flat_map(|m| m.refs.split_whitespace())
                .filter(|id| !l.refs.contains_key(*id))
                .map(str::to_string),
        );
        l.asked.message_ids.extend(chain.iter().cloned());
        let known = select_in!(self, StoredRef, chain, |list| threading_lookup_sql(&list));
        for r in known {
            l.refs.entry(r.message_id.clone()).or_default().push(r);
        }
        l.latest_customer_mail = latest.into_iter().map(|m| (m.ticket_id, m)).collect();
        l.asked.latest.extend(answered.iter().copied());
        l.asked.notified.extend(notified.iter().copied());
        l.asked.recipients.extend(recipients.iter().cloned());
        l.sent_notifications = select_in!(self, SentNotification, notified, |list| format!(
            "SELECT ticket_id, recipient, message_id, refs FROM messages WHERE id IN \
             (SELECT MAX(id) FROM messages WHERE ticket_id IN ({list}) AND kind = 'notification' \
              AND recipient IS NOT NULL GROUP BY ticket_id, recipient)"
        ));
        l.auto_counts = self.auto_counts(recipients, rate_since).await?;
        l.suppressions = on_tx!(self, c => sqlx::query_as::<_, (String, DateTime<Utc>)>(
            "SELECT address, suppressed_until FROM mail_suppressions WHERE suppressed_until > $1")
            .bind(now).fetch_all(&mut *c).await?)
        .into_iter()
        .collect();
        // SQLite: rows get their IDs after these, under the write lock, so the
        // batch can refer to them before anything is written. PostgreSQL
        // reserves them from the sequences once it knows how many.
        if let Tx::Sqlite(t, _) = self {
            (l.max_ticket, l.max_message) = sqlx::query_as::<_, (i64, i64)>(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM tickets), (SELECT COALESCE(MAX(id), 0) FROM messages)",
            )
            .fetch_one(&mut **t)
            .await?;
        } else {
            l.reserved = Some((Vec::new(), Vec::new()));
        }
        Ok(())
    }
}
