//! Merging tickets, as rows (the decision is `tickets::merge`'s and the
//! pipeline's): the source's messages, events and queued mail move to the
//! target; aliases of the source point at the target, so an alias is always
//! one step from the ticket that lives. Participants are added by the batch
//! (the pipeline decides who joins); the source keeps its own list.

use chrono::{DateTime, Utc};

use super::batch::{Loaded, Merged};
use super::sql::sorted;
use super::tx::{Tx, on_tx};
use crate::error::Result;

impl Tx {
    /// What merging `ids` by command (`tickets merge`) needs, as a batch of
    /// mail would see it: the tickets (locked on PostgreSQL, in id order),
    /// their participants, and what telling `staff` (the owners) needs.
    pub async fn load_for_merge(
        &mut self,
        ids: &[i64],
        staff: &[String],
        rate_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Loaded> {
        let mut l = Loaded::default();
        let ids = sorted(ids.iter().copied());
        l.asked.tickets.extend(ids.iter().copied());
        l.tickets = self.tickets_to_change(&ids).await?;
        self.load_participants(&mut l).await?;
        let staff = super::load::mailable(&l, staff);
        self.load_outgoing_context(&mut l, &ids, &ids, &staff, rate_since, now)
            .await?;
        Ok(l)
    }

    pub(super) async fn move_merged(
        &mut self,
        merges: &[Merged],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for m in merges {
            for sql in [
                "UPDATE messages SET ticket_id = $1 WHERE ticket_id = $2",
                "UPDATE events SET ticket_id = $1 WHERE ticket_id = $2",
                "UPDATE outbox SET ticket_id = $1 WHERE ticket_id = $2",
                "UPDATE tickets SET merged_into = $1 WHERE merged_into = $2",
            ] {
                on_tx!(self, c => sqlx::query(sql).bind(m.target).bind(m.source)
                    .execute(&mut *c).await.map(|_| ())?);
            }
            let e = &m.alias_event;
            on_tx!(self, c => sqlx::query(
                "INSERT INTO events (ticket_id, message_row, kind, detail, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(m.source).bind(e.message_row).bind(e.kind.as_str()).bind(e.detail.as_str()).bind(now)
                .execute(&mut *c).await.map(|_| ())?);
        }
        Ok(())
    }
}
