//! The reads of the relay-result step (`Pipeline::report_relays`): relays
//! whose result the pipeline has not reported yet — an index of unreported
//! relays (partial, so a flush that sent nothing reads next to nothing) —
//! with the tickets they answer and what mailing their agents needs, in the
//! same `Loaded` view a batch of mail gets.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::batch::Loaded;
use super::sql::{KEYS_PER_QUERY, Params, select_in, sorted};
use super::tx::{Tx, on_tx};
use super::{Store, on_pool};
use crate::error::Result;
use crate::tickets::OutboxStatus;

/// A relay (outbox row) with something to report, and the agent's reply it
/// carries (what an explanation answers).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RelayResult {
    /// The outbox row.
    pub id: i64,
    pub ticket_id: i64,
    /// `Sent` or `Failed` (final); `Queued`/`Sending` while someone still waits.
    pub status: OutboxStatus,
    /// JSON: `agent`, `agent_name`, … (pipeline/outgoing.rs).
    pub context: String,
    /// The relay's own message row and Message-ID.
    pub message_row: i64,
    pub message_id: String,
    pub recipients: String,
    pub delivered_to: String,
    /// JSON: `outbound::Refusal`s.
    pub refused: String,
    /// When the first recipient got it.
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub attempts: i64,
    /// The agent's reply: its row, Message-ID and References.
    pub trigger_row: Option<i64>,
    pub trigger_message_id: Option<String>,
    pub trigger_refs: Option<String>,
}

/// One batch of `Tx::load_relay_results`.
#[derive(Debug, Default)]
pub struct UnreportedRelays {
    /// The relays with their tickets, oldest first.
    pub rows: Vec<RelayResult>,
    /// Unreported relay rows without a ticket (not written by the pipeline).
    pub without_ticket: Vec<i64>,
    /// Their tickets and what mailing their agents needs.
    pub loaded: Loaded,
}

impl UnreportedRelays {
    /// Rows this batch took from the index (a full batch: there may be more).
    pub fn len(&self) -> usize {
        self.rows.len() + self.without_ticket.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RelayResult {
    /// The result is final: nothing more will be sent.
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }
}

/// The unreported relays' query; its first terms are the partial index's
/// predicate word for word (SQLite uses a partial index only then).
/// Public for the test that checks the plan.
pub fn unreported_relays() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "FROM outbox o WHERE o.kind = 'relay' AND o.reported_at IS NULL \
             AND (o.status IN ('{}', '{}') OR (o.delivered_at IS NOT NULL AND o.delivery_reported_at IS NULL))",
            OutboxStatus::Sent,
            OutboxStatus::Failed
        )
    });
    &SQL
}

impl Store {
    /// Whether any relay has a result not reported yet: a read on the pool
    /// (no write transaction, no writer gate or lock) that the partial index
    /// answers, so the step after a flush costs next to nothing when there
    /// is nothing to report.
    pub async fn has_unreported_relays(&self) -> Result<bool> {
        let sql = format!("SELECT EXISTS(SELECT 1 {})", unreported_relays());
        Ok(
            on_pool!(&self.pool, p => sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(sql))
            .fetch_one(p).await?),
        )
    }
}

impl Tx {
    /// Up to `limit` relays with a result to report (oldest first), the
    /// tickets they answer, and the rate-limit and suppression state of
    /// `staff` (the agents to tell). PostgreSQL: one reporter at a time; the
    /// rows and tickets are locked (rows another reporter holds are skipped).
    pub async fn load_relay_results(
        &mut self,
        limit: i64,
        staff: &[String],
        rate_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<UnreportedRelays> {
        self.lock_keys(["relay-report"]).await?;
        let lock = if self.is_shared() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let ids_sql = format!(
            "SELECT o.id {} ORDER BY o.id LIMIT $1{lock}",
            unreported_relays()
        );
        let ids: Vec<i64> = on_tx!(self, c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(ids_sql))
            .bind(limit).fetch_all(&mut *c).await?);
        let mut l = Loaded::default();
        if ids.is_empty() {
            return Ok(UnreportedRelays::default());
        }
        let mut rows = select_in!(self, RelayResult, ids, |list| format!(
            "SELECT o.id, o.ticket_id, o.status, o.context, o.message_row, m.message_id, o.recipients, \
             o.delivered_to, o.refused, o.delivered_at, \
             o.last_error, o.attempts, o.trigger_row, t.message_id AS trigger_message_id, t.refs AS trigger_refs \
             FROM outbox o JOIN messages m ON m.id = o.message_row LEFT JOIN messages t ON t.id = o.trigger_row \
             WHERE o.ticket_id IS NOT NULL AND o.id IN ({list})"
        ));
        rows.sort_by_key(|r| r.id);
        let ticket_ids = sorted(rows.iter().map(|r| r.ticket_id));
        l.tickets = self.tickets_to_change(&ticket_ids).await?;
        l.asked.tickets.extend(ticket_ids.iter().copied());
        let staff = sorted(staff.iter().cloned());
        // Only explanations are queued here: no relay threading, no notification chain.
        self.load_outgoing_context(&mut l, &[], &[], &staff, rate_since, now)
            .await?;
        // Rows without a ticket (never written by the pipeline): what to do
        // with them is the caller's to decide.
        let known: std::collections::HashSet<i64> = rows.iter().map(|r| r.id).collect();
        let without_ticket = ids.into_iter().filter(|id| !known.contains(id)).collect();
        Ok(UnreportedRelays {
            rows,
            without_ticket,
            loaded: l,
        })
    }

    /// Records what was reported of relay `id`: its delivery, and with
    /// `whole` its final result (then it leaves the unreported index).
    pub async fn mark_relay_reported(
        &mut self,
        id: i64,
        whole: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sql = if whole {
            "UPDATE outbox SET delivery_reported_at = COALESCE(delivery_reported_at, $1), reported_at = $1 WHERE id = $2"
        } else {
            "UPDATE outbox SET delivery_reported_at = COALESCE(delivery_reported_at, $1) WHERE id = $2"
        };
        on_tx!(self, c => sqlx::query(sql).bind(now).bind(id).execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }
}
