//! The outbox as a work queue: rows are claimed a few at a time with a unique
//! token and a short lease that the sender renews while a send is under way.
//! A sender that died leaves rows whose lease soon runs out; whoever runs next
//! takes them over. Every state change names the token, so a worker that lost
//! its claim changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::rows::DueMail;
use super::tx::{self, on_tx};
use super::{Pool, Store, on_pool};
use crate::error::Result;
use crate::tickets::OutboxStatus;

// The statuses as the SQL below writes them (one place: the enum).
const QUEUED: &str = OutboxStatus::Queued.as_str();
const SENDING: &str = OutboxStatus::Sending.as_str();
const SENT: &str = OutboxStatus::Sent.as_str();
const FAILED: &str = OutboxStatus::Failed.as_str();

/// The result of one attempt to send a claimed row (`Store::record_attempt`).
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// `Sent` or `Failed` (final), or `Queued` again until `retry_at`.
    pub status: OutboxStatus,
    pub retry_at: Option<DateTime<Utc>>,
    /// Everyone who has the mail so far (comma-separated).
    pub delivered_to: &'a str,
    /// JSON: the refused recipients with the server's replies.
    pub refused: &'a str,
    /// Set when someone got the mail in this attempt (the first time counts).
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// `last_error` of a row whose sender died between handing it over and the
/// server's answer.
const IN_DOUBT: &str = "in doubt: the sender stopped after handing the mail to the server \
     and before its answer; counted as sent (sending again could deliver it twice)";

impl Store {
    /// Claims up to `limit` due rows for `lease` under `token`: queued rows
    /// whose time has come, and rows whose sender's lease ran out.
    pub async fn claim_due_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
        token: &str,
    ) -> Result<Vec<DueMail>> {
        let until =
            now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        let lock = match self.pool {
            Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Pool::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE outbox SET status = '{SENDING}', claimed_until = $1, claim_token = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE \
               (status = '{QUEUED}' AND next_attempt_at <= $3) OR (status = '{SENDING}' AND claimed_until < $3) \
               ORDER BY id LIMIT $4{lock}) \
             RETURNING id"
        );
        let mut tx = self.begin().await?;
        // A dead sender's row that was handed over (outbound/handover.rs) is
        // not sent again: the server may have queued it. Sent, with the doubt noted.
        on_tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET status = '{SENT}', sent_at = handed_over_at, claimed_until = NULL, last_error = $1 \
             WHERE status = '{SENDING}' AND claimed_until < $2 AND handed_over_at IS NOT NULL")))
            .bind(IN_DOUBT).bind(now).execute(&mut *c).await.map(|_| ())?);
        let mut ids: Vec<i64> = on_tx!(&mut tx, c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .bind(until).bind(token).bind(now).bind(limit).fetch_all(&mut *c).await?);
        ids.sort_unstable();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row: DueMail = tx::on_tx!(&mut tx, c => sqlx::query_as::<_, DueMail>(
                "SELECT o.id, o.ticket_id, o.kind, o.context, o.trigger_row, o.sender, o.recipients, o.delivered_to, o.refused, o.attempts, \
                 o.message_row, m.message_id, m.from_name, m.to_addrs, m.cc_addrs, m.recipient, m.thread_index, \
                 m.subject, m.in_reply_to, m.refs, (m.raw IS NOT NULL OR m.raw_blob IS NOT NULL) AS rendered \
                 FROM outbox o JOIN messages m ON m.id = o.message_row WHERE o.id = $1")
                .bind(id).fetch_one(&mut *c).await?);
            out.push(row);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Extends a claim while its mail is being sent; false when the claim is gone.
    pub async fn renew_claim(&self, id: i64, token: &str, until: DateTime<Utc>) -> Result<bool> {
        let _gate = self.gate.enter().await;
        let done = on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET claimed_until = $1 WHERE id = $2 AND claim_token = $3 AND status = '{SENDING}'")))
            .bind(until).bind(id).bind(token).execute(p).await?.rows_affected());
        Ok(done == 1)
    }

    /// Records that the mail's final dot is about to go to the server; false
    /// when the claim was lost (then the dot must not go).
    pub async fn mark_handed_over(&self, id: i64, token: &str, now: DateTime<Utc>) -> Result<bool> {
        // The mail's final dot waits for this commit, and a sender killed during
        // it loses the mail (outbound/handover.rs). PostgreSQL: the statement's
        // own transaction does not wait for the WAL flush (set_config local to
        // it); should PostgreSQL itself crash first, the mark is gone and the
        // mail is sent again.
        let sql = match self.pool {
            Pool::Sqlite(_) => format!(
                "UPDATE outbox SET handed_over_at = $1 WHERE id = $2 AND claim_token = $3 AND status = '{SENDING}'"
            ),
            Pool::Postgres(_) => format!(
                "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)) \
                 UPDATE outbox SET handed_over_at = $1 FROM async \
                 WHERE id = $2 AND claim_token = $3 AND status = '{SENDING}'"
            ),
        };
        let _gate = self.gate.enter().await;
        let done = on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now).bind(id).bind(token).execute(p).await?.rows_affected());
        Ok(done == 1)
    }

    /// A claimed row handed over but unanswered (its sender stops): sent, with
    /// the doubt noted. False when not handed over or the claim was lost.
    pub async fn mark_in_doubt(&self, id: i64, token: &str) -> Result<bool> {
        let _gate = self.gate.enter().await;
        let done = on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET status = '{SENT}', sent_at = handed_over_at, claimed_until = NULL, last_error = $1 \
             WHERE id = $2 AND claim_token = $3 AND status = '{SENDING}' AND handed_over_at IS NOT NULL")))
            .bind(IN_DOUBT).bind(id).bind(token).execute(p).await?.rows_affected());
        Ok(done == 1)
    }

    /// Records an attempt's per-recipient result under the claim's token;
    /// false when the claim was lost (changes nothing).
    pub async fn record_attempt(&self, id: i64, token: &str, a: &Attempt<'_>) -> Result<bool> {
        let sent_at = (a.status == OutboxStatus::Sent).then_some(a.now);
        let _gate = self.gate.enter().await;
        let done = on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET status = $1, next_attempt_at = COALESCE($2, next_attempt_at), \
             claimed_until = NULL, last_error = $3, delivered_to = $4, refused = $5, \
             delivered_at = COALESCE(delivered_at, $6), sent_at = COALESCE($7, sent_at), \
             handed_over_at = CASE WHEN $1 = '{SENT}' THEN handed_over_at ELSE NULL END \
             WHERE id = $8 AND claim_token = $9 AND status = '{SENDING}'")))
            .bind(a.status.as_str()).bind(a.retry_at).bind(a.last_error).bind(a.delivered_to).bind(a.refused)
            .bind(a.delivered_at).bind(sent_at).bind(id).bind(token)
            .execute(p).await?.rows_affected());
        Ok(done == 1)
    }

    /// Gives up on a claimed row that never reached a server (it cannot be
    /// rendered). False when the claim was lost (changes nothing).
    pub async fn mark_failed(&self, id: i64, token: &str, error: &str) -> Result<bool> {
        let _gate = self.gate.enter().await;
        let done = on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET status = '{FAILED}', claimed_until = NULL, handed_over_at = NULL, last_error = $1 \
             WHERE id = $2 AND claim_token = $3 AND status = '{SENDING}'")))
            .bind(error).bind(id).bind(token).execute(p).await?.rows_affected());
        Ok(done == 1)
    }

    /// Gives a claimed row back untried (shutdown): due again at once, and the
    /// attempt does not count. Not once handed over: then the server may have
    /// it, and recovery marks it sent when the claim runs out.
    pub async fn release_claim(&self, id: i64, token: &str) -> Result<bool> {
        let _gate = self.gate.enter().await;
        let done = on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET status = '{QUEUED}', claimed_until = NULL, claim_token = NULL, \
             attempts = attempts - 1 WHERE id = $1 AND claim_token = $2 AND status = '{SENDING}' \
             AND handed_over_at IS NULL")))
            .bind(id).bind(token).execute(p).await?.rows_affected());
        Ok(done == 1)
    }

    /// When the next lease held by another sender runs out (rows in flight).
    pub async fn next_lease_expiry(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        Ok(
            on_pool!(&self.pool, p => sqlx::query_scalar::<_, Option<DateTime<Utc>>>(sqlx::AssertSqlSafe(format!(
            "SELECT MIN(claimed_until) FROM outbox WHERE status = '{SENDING}' AND claimed_until >= $1")))
            .bind(now).fetch_one(p).await?),
        )
    }
}
