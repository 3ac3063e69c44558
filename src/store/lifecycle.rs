//! The lifecycle scan's reads and writes (pipeline/lifecycle_scan.rs): pending
//! tickets whose wait ended or whose last answer is old enough to warn or
//! close, page by page, with the actions taken on them before; and the
//! record of an action taken, once per ticket, action and due time.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::batch::Loaded;
use super::rows::{TICKET_COLUMNS, TicketRow};
use super::sql::{KEYS_PER_QUERY, Params, select_in, sorted};
use super::tx::{Tx, on_tx};
use crate::error::Result;

/// Taken before: (ticket, action, due).
pub type ActionsTaken = HashSet<(i64, String, DateTime<Utc>)>;

/// Which pending tickets a page of the scan reads.
#[derive(Debug, Clone, Copy)]
pub struct LifecyclePage {
    /// Only tickets after this id (the previous page's last).
    pub after_id: i64,
    pub limit: i64,
    /// A wait that ended by now.
    pub now: DateTime<Utc>,
    /// Without a wait: answered at or before this (None: no auto-close).
    pub answered_by: Option<DateTime<Utc>>,
}

impl Tx {
    /// A page of pending tickets that may need an action, as a batch of mail
    /// sees them (participants, what mailing their customer and owner needs),
    /// with the actions taken on them before. PostgreSQL: one scan at a time
    /// across instances; tickets a batch of mail holds are skipped (looked at
    /// on the next pass).
    pub async fn load_lifecycle_due(
        &mut self,
        page: LifecyclePage,
        staff: &[String],
        rate_since: DateTime<Utc>,
    ) -> Result<(Loaded, ActionsTaken)> {
        self.lock_keys(["lifecycle-scan"]).await?;
        let lock = if self.is_shared() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE status = 'pending' AND id > $1 \
             AND (pending_until <= $2 OR (pending_until IS NULL AND answered_at <= $3)) \
             ORDER BY id LIMIT $4{lock}"
        );
        // No auto-close: the second test matches nothing (an answer before
        // 1970; chrono's MIN is out of PostgreSQL's range).
        let answered_by = page.answered_by.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let rows: Vec<TicketRow> = on_tx!(self, c => sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql))
            .bind(page.after_id).bind(page.now).bind(answered_by).bind(page.limit)
            .fetch_all(&mut *c).await?);
        let mut l = Loaded::default();
        let ids = sorted(rows.iter().map(|t| t.id));
        l.asked.tickets.extend(ids.iter().copied());
        l.tickets = rows.into_iter().map(|t| (t.id, t.into())).collect();
        self.load_participants(&mut l).await?;
        let taken: Vec<(i64, String, DateTime<Utc>)> =
            select_in!(self, (i64, String, DateTime<Utc>), ids, |list| format!(
                "SELECT ticket_id, action, due FROM lifecycle_actions WHERE ticket_id IN ({list})"
            ));
        let recipients = super::load::mailable(&l, staff);
        self.load_outgoing_context(&mut l, &ids, &ids, &recipients, rate_since, page.now)
            .await?;
        Ok((l, taken.into_iter().collect()))
    }

    /// Records the actions a scan took (the primary key refuses a second).
    pub(super) async fn insert_lifecycle_actions(
        &mut self,
        actions: &[(i64, String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for (ticket, action, due) in actions {
            on_tx!(self, c => sqlx::query(
                "INSERT INTO lifecycle_actions (ticket_id, action, due, created_at) VALUES ($1, $2, $3, $4)")
                .bind(*ticket).bind(action.as_str()).bind(*due).bind(now)
                .execute(&mut *c).await.map(|_| ())?);
        }
        Ok(())
    }
}
