//! The digests' reads and writes: what happened to the tickets of some areas
//! in a time window (as `sla::TicketFact`s, which `sla::stats` counts), the
//! once-per-window record of a digest queued with its mail, and what may hold
//! a digest back (a bounce of mail to the manager, the per-recipient rate
//! limit, counted like every other automatic mail's).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::sql::Params;
use super::tx::on_tx;
use super::{Store, on_pool};
use crate::error::Result;
use crate::sla::stats::{TOP, Waiting};
use crate::sla::{QuietBacklog, Target, TicketFact, Window};
use crate::tickets::{MessageKind, OutboxStatus};

#[derive(sqlx::FromRow)]
struct FactRow {
    id: i64,
    created_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    first_response_at: Option<DateTime<Utc>>,
    status: crate::tickets::Status,
    owner: Option<String>,
    customer: String,
    area: Option<String>,
    waiting_since: Option<DateTime<Utc>>,
}

/// A rendered digest to queue: its message headers and bytes.
pub struct DigestMail<'a> {
    pub manager: &'a str,
    pub message_id: &'a str,
    pub sender: &'a str,
    pub sender_name: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub raw: &'a [u8],
}

/// Tickets with a status change, a relay or a breach in [$1, $2), each once:
/// joined (LEFT JOIN … AS touched) rather than tested with `id IN (SELECT …)`,
/// which PostgreSQL runs as a subquery per ticket once the set outgrows
/// work_mem (a weekly digest over 770,000 tickets ran for over 20 minutes).
const TOUCHED: &str = "LEFT JOIN (SELECT ticket_id FROM status_changes WHERE at >= $1 AND at < $2 \
     UNION SELECT ticket_id FROM messages WHERE kind = 'relay' AND ticket_id IS NOT NULL \
       AND created_at >= $1 AND created_at < $2 \
     UNION SELECT ticket_id FROM sla_alerts WHERE level = 'breach' AND due >= $1 AND due < $2) touched \
     ON touched.ticket_id = tickets.id";

/// Something happened to the ticket in [$1, $2) (with [`TOUCHED`] joined).
const ACTIVE: &str = "(created_at >= $1 OR COALESCE(resolved_at >= $1, FALSE) \
     OR COALESCE(first_response_at >= $1, FALSE) OR touched.ticket_id IS NOT NULL)";

/// Since when the customer has been waiting for support: creation when never
/// answered, else their oldest follow-up after the last answer (the
/// `waiting_since` column, which the next-response clock keeps); none unless open.
const WAITING: &str = "CASE WHEN status <> 'open' THEN NULL WHEN first_response_at IS NULL THEN created_at \
     ELSE waiting_since END";

/// The digest's queries over the tickets, bound to $1 = window start, $2 =
/// window end and then the areas in `area_filter` (named, for the SLA bench's
/// timings and query plans): the tickets something happened to, and the quiet
/// backlog's count per owner and its longest waiting.
pub fn digest_ticket_queries(area_filter: &str) -> [(&'static str, String); 2] {
    // Created before the window (so NOT {ACTIVE} is about the rest).
    let quiet = format!("created_at < $1 AND status <> 'resolved' AND NOT {ACTIVE}{area_filter}");
    [
        (
            "active tickets",
            format!(
                "SELECT id, created_at, resolved_at, first_response_at, status, owner, customer, area, \
                 {WAITING} AS waiting_since FROM tickets {TOUCHED} WHERE created_at < $2 AND {ACTIVE}{area_filter} ORDER BY id"
            ),
        ),
        (
            // One pass: a row per owner (with their count) and the longest
            // waiting (with their rank), not one row per ticket.
            "quiet backlog",
            format!(
                "SELECT owner, n, first_of_owner, waiting_rank, id, since FROM (\
                   SELECT owner, id, since, COUNT(*) OVER (PARTITION BY owner) AS n, \
                     ROW_NUMBER() OVER (PARTITION BY owner ORDER BY id) AS first_of_owner, \
                     ROW_NUMBER() OVER (ORDER BY since IS NULL, since, id) AS waiting_rank \
                   FROM (SELECT owner, id, {WAITING} AS since FROM tickets {TOUCHED} WHERE {quiet}) quiet\
                 ) ranked WHERE first_of_owner = 1 OR (waiting_rank <= {TOP} AND since IS NOT NULL)"
            ),
        ),
    ]
}

/// The digest's other queries, bound to $1 = window start, $2 = window end.
pub const DIGEST_EVENT_QUERIES: [(&str, &str); 3] = [
    (
        "reopened",
        "SELECT ticket_id, at FROM status_changes WHERE from_status = 'resolved' AND to_status <> 'resolved' \
         AND at >= $1 AND at < $2",
    ),
    (
        "relays",
        "SELECT ticket_id, created_at FROM messages WHERE kind = 'relay' AND ticket_id IS NOT NULL \
         AND created_at >= $1 AND created_at < $2",
    ),
    (
        "breaches",
        "SELECT ticket_id, target, due FROM sla_alerts WHERE level = 'breach' AND due >= $1 AND due < $2",
    ),
];

/// Runs `$sql` (a query_as) bound to the window and the lower-cased areas.
macro_rules! fetch_window {
    ($store:expr, $sql:expr, $from:expr, $end:expr, $areas:expr) => {
        on_pool!(&$store.pool, p => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe($sql)).bind($from).bind($end);
            for a in $areas {
                q = q.bind(a);
            }
            q.fetch_all(p).await?
        })
    };
}

impl Store {
    /// The tickets of `areas` (None: all) that matter for [from, end): each one
    /// created, resolved, reopened, first answered, answered or breached in the
    /// window, and the other open tickets created before it as a
    /// [`QuietBacklog`] (counted here, not loaded). Facts describe each ticket
    /// as it is now (for a past window, a later change shows; the digest of a
    /// period is queued at its end).
    pub async fn digest_facts(
        &self,
        areas: Option<&[String]>,
        from: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(Vec<TicketFact>, QuietBacklog)> {
        let area_filter = match areas {
            Some(list) if !list.is_empty() => {
                let p = Params::Dollar.list(3, list.len());
                format!(" AND LOWER(area) IN ({p})")
            }
            Some(_) => " AND 1 = 0".to_string(),
            None => String::new(),
        };
        let lower: Vec<String> = areas
            .unwrap_or(&[])
            .iter()
            .map(|a| a.to_lowercase())
            .collect();
        let [(_, active), (_, quiet)] = digest_ticket_queries(&area_filter);
        let rows: Vec<FactRow> = fetch_window!(self, active, from, end, &lower);
        type QuietRow = (Option<String>, i64, i64, i64, i64, Option<DateTime<Utc>>);
        let quiet_rows: Vec<QuietRow> = fetch_window!(self, quiet, from, end, &lower);
        let mut quiet = QuietBacklog::default();
        for (owner, n, first_of_owner, rank, id, since) in quiet_rows {
            if let Some(since) = since.filter(|_| rank <= TOP as i64) {
                quiet.oldest_waiting.push(Waiting { id, since });
            }
            if first_of_owner == 1 {
                quiet
                    .per_owner
                    .insert(owner, usize::try_from(n).unwrap_or(0));
            }
        }
        quiet.oldest_waiting.sort_by_key(|w| (w.since, w.id));
        let mut reopened: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
        let [(_, reopened_sql), (_, relays_sql), (_, breaches_sql)] = DIGEST_EVENT_QUERIES;
        let changes: Vec<(i64, DateTime<Utc>)> =
            fetch_window!(self, reopened_sql, from, end, &[] as &[String]);
        for (t, at) in changes {
            reopened.entry(t).or_default().push(at);
        }
        let mut replies: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
        let relayed: Vec<(i64, DateTime<Utc>)> =
            fetch_window!(self, relays_sql, from, end, &[] as &[String]);
        for (t, at) in relayed {
            replies.entry(t).or_default().push(at);
        }
        let mut breaches: HashMap<i64, Vec<(Target, DateTime<Utc>)>> = HashMap::new();
        let alerts: Vec<(i64, String, DateTime<Utc>)> =
            fetch_window!(self, breaches_sql, from, end, &[] as &[String]);
        for (t, target, due) in alerts {
            if let Ok(target) = target.parse() {
                breaches.entry(t).or_default().push((target, due));
            }
        }
        let facts = rows
            .into_iter()
            .map(|r| TicketFact {
                reopened_at: reopened.remove(&r.id).unwrap_or_default(),
                agent_replies_at: replies.remove(&r.id).unwrap_or_default(),
                breaches: breaches.remove(&r.id).unwrap_or_default(),
                id: r.id,
                created_at: r.created_at,
                resolved_at: r.resolved_at,
                first_response_at: r.first_response_at,
                status: r.status,
                owner: r.owner,
                customer: r.customer,
                area: r.area,
                waiting_since: r.waiting_since,
            })
            .collect();
        Ok((facts, quiet))
    }

    /// The end of the latest digest recorded for `manager` (sent, or skipped
    /// as empty): where the next one starts.
    pub async fn last_digest_end(&self, manager: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(
            on_pool!(&self.pool, p => sqlx::query_scalar::<_, DateTime<Utc>>(
            "SELECT period_end FROM digests_sent WHERE manager = $1 ORDER BY period_end DESC LIMIT 1")
            .bind(manager).fetch_optional(p).await?),
        )
    }

    /// The window of the digest recorded for `manager` that ended at `end`.
    pub async fn recorded_window(
        &self,
        manager: &str,
        end: DateTime<Utc>,
    ) -> Result<Option<Window>> {
        let row = on_pool!(&self.pool, p => sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
            "SELECT period_start, period_end FROM digests_sent WHERE manager = $1 AND period_end = $2 \
             ORDER BY period_start LIMIT 1")
            .bind(manager).bind(end).fetch_optional(p).await?);
        Ok(row.map(|(start, end)| Window { start, end }))
    }

    /// What holds a digest to `manager` back now, if anything.
    pub async fn digest_hold(
        &self,
        manager: &str,
        fence: &Fence<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Hold>> {
        let mut tx = self.begin().await?;
        let hold = tx.digest_hold(manager, fence, now).await?;
        tx.rollback().await?;
        Ok(hold)
    }

    /// Records the window's digest as done and (when `mail` is given) queues
    /// its mail, in one transaction. Nothing is written when it was done
    /// before (another instance, or before a restart) or when `fence` holds
    /// the mail back (then it is owed still, and the next run tries again).
    pub async fn record_digest(
        &self,
        manager: &str,
        w: Window,
        mail: Option<&DigestMail<'_>>,
        fence: &Fence<'_>,
        now: DateTime<Utc>,
    ) -> Result<Recorded> {
        let mut tx = self.begin().await?;
        let fresh = on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO digests_sent (manager, period_start, period_end, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (manager, period_start) DO NOTHING")
            .bind(manager).bind(w.start).bind(w.end).bind(now).execute(&mut *c).await?.rows_affected());
        if fresh == 0 {
            tx.rollback().await?;
            return Ok(Recorded::Before);
        }
        let Some(m) = mail else {
            tx.commit().await?;
            return Ok(Recorded::Empty);
        };
        if let Some(hold) = tx.digest_hold(manager, fence, now).await? {
            tx.rollback().await?;
            return Ok(Recorded::Held(hold));
        }
        let row = tx.queue_rendered(m, now).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE digests_sent SET message_row = $1 WHERE manager = $2 AND period_start = $3")
            .bind(row).bind(manager).bind(w.start).execute(&mut *c).await.map(|_| ())?);
        tx.commit().await?;
        Ok(Recorded::Queued(row))
    }

    /// Queues a digest mail now (`digest send`: on request, whatever the
    /// schedule; recorded nowhere, so the scheduled digest still comes),
    /// unless `fence` holds it back.
    pub async fn queue_digest(
        &self,
        mail: &DigestMail<'_>,
        fence: &Fence<'_>,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<i64, Hold>> {
        let mut tx = self.begin().await?;
        if let Some(hold) = tx.digest_hold(mail.manager, fence, now).await? {
            tx.rollback().await?;
            return Ok(Err(hold));
        }
        let row = tx.queue_rendered(mail, now).await?;
        tx.commit().await?;
        Ok(Ok(row))
    }
}

/// The per-recipient rate limit a digest counts against: at most `limit`
/// mails of the `counted` kinds queued to one address since `since`.
pub struct Fence<'a> {
    pub since: DateTime<Utc>,
    pub counted: &'a [MessageKind],
    pub limit: i64,
}

/// Why a digest is not queued now (it is owed still).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Mail to the manager bounced: nothing goes there until then (DESIGN §6).
    Bounced { until: DateTime<Utc> },
    /// `recent` mails counted against the limit in the rate window.
    RateLimit { recent: i64, limit: i64 },
}

impl Hold {
    /// A short name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Hold::Bounced { .. } => "bounced",
            Hold::RateLimit { .. } => "rate_limit",
        }
    }
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hold::Bounced { until } => write!(
                f,
                "mail to this address bounced; nothing is sent there until {}",
                until.format("%Y-%m-%d %H:%M UTC")
            ),
            Hold::RateLimit { recent, limit } => write!(
                f,
                "{recent} notifications and digests to this address in the last hour (limit {limit}, RFC 3834)"
            ),
        }
    }
}

/// What [`Store::record_digest`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded and its mail queued (the message row).
    Queued(i64),
    /// Recorded without mail (nothing happened, `skip_empty`).
    Empty,
    /// Recorded before: nothing done.
    Before,
    /// Held back: nothing recorded.
    Held(Hold),
}

impl super::tx::Tx {
    /// A bounce of mail to `manager` (active suppression) or the rate limit
    /// (the batch's own count, [`Tx::auto_counts`]).
    async fn digest_hold(
        &mut self,
        manager: &str,
        fence: &Fence<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Hold>> {
        let until = on_tx!(self, c => sqlx::query_scalar::<_, DateTime<Utc>>(
            "SELECT suppressed_until FROM mail_suppressions WHERE LOWER(address) = LOWER($1) \
             AND suppressed_until > $2 ORDER BY suppressed_until DESC LIMIT 1")
            .bind(manager).bind(now).fetch_optional(&mut *c).await?);
        if let Some(until) = until {
            return Ok(Some(Hold::Bounced { until }));
        }
        let to = manager.to_string();
        let counts = self
            .auto_counts(std::slice::from_ref(&to), fence.since)
            .await?;
        let recent: i64 = fence
            .counted
            .iter()
            .filter_map(|k| counts.get(&(to.clone(), *k)))
            .sum();
        Ok((recent >= fence.limit).then_some(Hold::RateLimit {
            recent,
            limit: fence.limit,
        }))
    }

    /// An already rendered mail (a digest): its message row, with its bytes
    /// and the manager as its recipient (a bounce of it finds them), and its
    /// outbox row; returns the message row.
    async fn queue_rendered(&mut self, m: &DigestMail<'_>, now: DateTime<Utc>) -> Result<i64> {
        let row: i64 = on_tx!(self, c => sqlx::query_scalar(
            "INSERT INTO messages (ticket_id, direction, kind, message_id, content_hash, from_addr, from_name, to_addrs, \
             recipient, subject, text_body, html_body, raw, created_at) \
             VALUES (NULL, 'out', 'digest', $1, '', $2, $3, $4, $4, $5, $6, $7, $8, $9) RETURNING id")
            .bind(m.message_id).bind(m.sender).bind(m.sender_name).bind(m.manager).bind(m.subject)
            .bind(m.text).bind(m.html).bind(m.raw).bind(now).fetch_one(&mut *c).await?);
        on_tx!(self, c => sqlx::query(
            "INSERT INTO outbox (message_row, ticket_id, kind, trigger_row, context, sender, recipients, status, \
             attempts, next_attempt_at, created_at) VALUES ($1, NULL, 'digest', NULL, '{}', $2, $3, $5, 0, $4, $4)")
            .bind(row).bind(m.sender).bind(m.manager).bind(now).bind(OutboxStatus::Queued.as_str()).execute(&mut *c).await.map(|_| ())?);
        Ok(row)
    }
}
