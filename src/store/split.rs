//! Splitting a customer's mail off to a ticket of its own (the decision is
//! the pipeline's): what a split reads — the customer mail a notification
//! showed, or a mail named by its Message-ID — and the rows it moves: the
//! mail, the mail that answers it (its In-Reply-To, or its stored
//! References), their events and queued mail.

use chrono::{DateTime, Utc};

use super::batch::{Loaded, SplitMail, SplitOff};
use super::sql::{KEYS_PER_QUERY, Params, select_in, sorted};
use super::tx::{Tx, on_tx};
use crate::error::Result;

/// The columns of a `SplitMail` from `t` (the mail), `$looked_up` given.
const SPLIT_COLUMNS: &str = "t.id AS row, t.message_id, t.ticket_id, t.kind, t.from_addr, t.from_name, \
     t.subject, (SELECT MIN(f.id) FROM messages f WHERE f.ticket_id = t.ticket_id) AS first_row";

impl Tx {
    /// The customer mail behind each notification among `ids` (what the
    /// notification showed: its outbox row's trigger).
    pub(super) async fn load_split_mail(&mut self, ids: &[String], l: &mut Loaded) -> Result<()> {
        let ids = sorted(ids.iter().cloned());
        l.asked.split_refs.extend(ids.iter().cloned());
        let found = select_in!(self, SplitMail, ids, |list| format!(
            "SELECT n.message_id AS looked_up, {SPLIT_COLUMNS} FROM messages n \
             JOIN outbox o ON o.message_row = n.id JOIN messages t ON t.id = o.trigger_row \
             WHERE n.kind = 'notification' AND n.message_id IN ({list})"
        ));
        for m in found {
            l.split_mail.insert(m.looked_up.clone(), m);
        }
        Ok(())
    }

    /// `tickets split`: the ticket (locked on PostgreSQL), its participants,
    /// the mail `message_id` on it, and what mailing its people needs.
    pub async fn load_for_split(
        &mut self,
        ticket: i64,
        message_id: &str,
        staff: &[String],
        (rate_since, now): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Loaded> {
        let mut l = Loaded::default();
        l.asked.tickets.insert(ticket);
        l.tickets = self.tickets_to_change(&[ticket]).await?;
        self.load_participants(&mut l).await?;
        l.asked.split_refs.insert(message_id.to_string());
        let sql = format!(
            "SELECT t.message_id AS looked_up, {SPLIT_COLUMNS} FROM messages t \
             WHERE t.message_id = $1 AND t.ticket_id = $2 ORDER BY t.id LIMIT 1"
        );
        let found: Option<SplitMail> = on_tx!(self, c => sqlx::query_as::<_, SplitMail>(sqlx::AssertSqlSafe(sql))
            .bind(message_id).bind(ticket).fetch_optional(&mut *c).await?);
        if let Some(m) = found {
            l.split_mail.insert(message_id.to_string(), m);
        }
        let recipients = super::load::mailable(&l, staff);
        self.load_outgoing_context(&mut l, &[ticket], &[ticket], &recipients, rate_since, now)
            .await?;
        Ok(l)
    }

    /// Moves each split's mail, the mail answering it, and their events
    /// and queued mail, to its new ticket.
    pub(super) async fn move_split(&mut self, splits: &[SplitOff]) -> Result<()> {
        for s in splits {
            on_tx!(self, c => sqlx::query(
                "UPDATE messages SET ticket_id = $1 WHERE ticket_id = $2 AND (id = $3 OR in_reply_to = $4 \
                 OR id IN (SELECT message_row FROM message_refs WHERE ref_id = $4))")
                .bind(s.to).bind(s.from).bind(s.row).bind(s.message_id.as_str())
                .execute(&mut *c).await.map(|_| ())?);
            for sql in [
                // Mail about the moved mail (its notifications): an answer
                // to one proves itself on the new ticket.
                "UPDATE messages SET ticket_id = $1 WHERE ticket_id = $2 AND id IN \
                 (SELECT message_row FROM outbox WHERE trigger_row IN (SELECT id FROM messages WHERE ticket_id = $1))",
                "UPDATE events SET ticket_id = $1 WHERE ticket_id = $2 \
                 AND message_row IN (SELECT id FROM messages WHERE ticket_id = $1)",
                "UPDATE outbox SET ticket_id = $1 WHERE ticket_id = $2 \
                 AND trigger_row IN (SELECT id FROM messages WHERE ticket_id = $1)",
            ] {
                on_tx!(self, c => sqlx::query(sql).bind(s.to).bind(s.from)
                    .execute(&mut *c).await.map(|_| ())?);
            }
        }
        Ok(())
    }
}
