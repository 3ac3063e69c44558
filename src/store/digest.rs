//! The digests' reads and writes: what happened to the tickets of some areas
//! in a time window (as `sla::TicketFact`s, which `sla::stats` counts), the
//! once-per-window record of a digest queued with its mail (through the
//! batch's write path, `write.rs`), and the facts a hold is decided on (an
//! active bounce hold, the automatic mail counted by the rate limit): the
//! decision itself is `tickets::hold`'s.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::batch::{NewMessage, NewOutbox, Writes};
use super::sql::Params;
use super::tx::{Tx, on_tx};
use super::{Store, on_pool};
use crate::error::{Error, Result};
use crate::mail::address::{EmailAddress, Recipients};
use crate::model::Window;
use crate::sla::stats::{TOP, Waiting};
use crate::sla::{QuietBacklog, Target, TicketFact};
use crate::tickets::MessageKind;
use crate::tickets::hold::Hold;

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
    satisfaction_score: Option<i64>,
    satisfaction_comment: Option<String>,
    satisfaction_at: Option<DateTime<Utc>>,
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

/// Something happened to the ticket in [$1, $2) (with [`TOUCHED`] joined):
/// a rating too.
const ACTIVE: &str = "(created_at >= $1 OR COALESCE(resolved_at >= $1, FALSE) \
     OR COALESCE(first_response_at >= $1, FALSE) OR COALESCE(satisfaction_at >= $1, FALSE) \
     OR touched.ticket_id IS NOT NULL)";

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
    // A merged ticket counts nowhere: its mail is its target's.
    let quiet = format!(
        "created_at < $1 AND status NOT IN ('resolved', 'merged') AND NOT {ACTIVE}{area_filter}"
    );
    [
        (
            "active tickets",
            format!(
                "SELECT id, created_at, resolved_at, first_response_at, status, owner, customer, area, \
                 {WAITING} AS waiting_since, satisfaction_score, satisfaction_comment, satisfaction_at FROM tickets {TOUCHED} WHERE created_at < $2 AND status <> 'merged' \
                 AND {ACTIVE}{area_filter} ORDER BY id"
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
        "SELECT ticket_id, at FROM status_changes WHERE from_status = 'resolved' AND to_status NOT IN ('resolved', 'merged') \
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
                satisfaction: super::rows::rating(
                    r.satisfaction_score,
                    r.satisfaction_comment,
                    r.satisfaction_at,
                ),
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

    /// The window of the digest recorded for `manager` that contains `due`
    /// as its scheduled time: start before it, end at or after it (a window
    /// recorded under another cron, or a catch-up, need not end at `due`).
    pub async fn recorded_window(
        &self,
        manager: &str,
        due: DateTime<Utc>,
    ) -> Result<Option<Window>> {
        let row = on_pool!(&self.pool, p => sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
            "SELECT period_start, period_end FROM digests_sent WHERE manager = $1 AND period_start < $2 \
             AND period_end >= $2 ORDER BY period_end LIMIT 1")
            .bind(manager).bind(due).fetch_optional(p).await?);
        Ok(row.map(|(start, end)| Window { start, end }))
    }

    /// The facts a hold of mail to `address` is decided on now.
    pub async fn send_facts(
        &self,
        address: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<SendFacts> {
        let mut tx = self.begin().await?;
        let facts = tx.send_facts(address, since, now).await?;
        tx.rollback().await?;
        Ok(facts)
    }

    /// Records the window's digest as done and (when `mail` is given) queues
    /// its mail, in one transaction. Nothing is written when it was done
    /// before (another instance, or before a restart) or when `hold`, asked
    /// again on the facts inside the transaction, holds the mail back (then
    /// it is owed still, and the next run tries again).
    pub async fn record_digest(
        &self,
        manager: &str,
        w: Window,
        mail: Option<NewMessage<'_>>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        hold: impl Fn(&SendFacts) -> Option<Hold>,
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
        if let Some(held) = hold(&tx.send_facts(manager, since, now).await?) {
            tx.rollback().await?;
            return Ok(Recorded::Held(held));
        }
        let row = tx.queue_mail(m, now).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE digests_sent SET message_row = $1 WHERE manager = $2 AND period_start = $3")
            .bind(row).bind(manager).bind(w.start).execute(&mut *c).await.map(|_| ())?);
        tx.commit().await?;
        Ok(Recorded::Queued(row))
    }

    /// Queues a digest mail now (`digest send`: on request, whatever the
    /// schedule; recorded nowhere, so the scheduled digest still comes),
    /// unless `hold` holds it back.
    pub async fn queue_digest(
        &self,
        mail: NewMessage<'_>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        hold: impl Fn(&SendFacts) -> Option<Hold>,
    ) -> Result<std::result::Result<i64, Hold>> {
        let mut tx = self.begin().await?;
        let to = mail.to_addrs.clone();
        if let Some(held) = hold(&tx.send_facts(&to, since, now).await?) {
            tx.rollback().await?;
            return Ok(Err(held));
        }
        let row = tx.queue_mail(mail, now).await?;
        tx.commit().await?;
        Ok(Ok(row))
    }
}

/// What a hold of mail to one address is decided on (`tickets::hold`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendFacts {
    /// The address's bounce hold, if one has not ended.
    pub suppressed_until: Option<DateTime<Utc>>,
    /// Automatic mail queued to it in the rate window, per kind.
    pub recent: HashMap<MessageKind, i64>,
}

impl SendFacts {
    /// The mail of `kinds` in the rate window.
    pub fn recent(&self, kinds: &[MessageKind]) -> i64 {
        kinds.iter().filter_map(|k| self.recent.get(k)).sum()
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

impl Tx {
    /// The bounce hold of `address` active at `now` and its automatic mail
    /// since `since` (the batch's own count, [`Tx::auto_counts`]). Addresses
    /// are compared as given: staff addresses are lower-cased at config load.
    async fn send_facts(
        &mut self,
        address: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<SendFacts> {
        let suppressed_until = on_tx!(self, c => sqlx::query_scalar::<_, DateTime<Utc>>(
            "SELECT suppressed_until FROM mail_suppressions WHERE address = $1 AND suppressed_until > $2")
            .bind(address).bind(now).fetch_optional(&mut *c).await?);
        let to = address.to_string();
        let recent = self
            .auto_counts(std::slice::from_ref(&to), since)
            .await?
            .into_iter()
            .map(|((_, kind), n)| (kind, n))
            .collect();
        Ok(SendFacts {
            suppressed_until,
            recent,
        })
    }

    /// Queues an already rendered mail about no ticket (a digest) through the
    /// batch's write path: its message row, with its bytes and its recipient
    /// (a bounce of it finds them), and its outbox row to `to_addrs`. Returns
    /// the message row.
    async fn queue_mail(&mut self, m: NewMessage<'_>, now: DateTime<Utc>) -> Result<i64> {
        // The manager's address enters the outbox here, and is checked here.
        let to = EmailAddress::parse(&m.to_addrs).map_err(|e| Error::Invalid(e.to_string()))?;
        let id = self.next_message_id().await?;
        let outbox = NewOutbox {
            message_row: id,
            ticket_id: None,
            kind: m.kind,
            trigger_row: None,
            context: "{}".into(),
            sender: m.from_addr.clone(),
            recipients: Recipients::one(to),
        };
        let w = Writes {
            messages: vec![(id, m)],
            outbox: vec![outbox],
            ..Writes::default()
        };
        self.write_batch(&w, now).await?;
        Ok(id)
    }

    /// The id of one new message row: the next after the highest under
    /// SQLite's write lock (as a batch does), one from the sequence on
    /// PostgreSQL.
    async fn next_message_id(&mut self) -> Result<i64> {
        if let Tx::Sqlite(t, _) = self {
            let max: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM messages")
                .fetch_one(&mut **t)
                .await?;
            return Ok(max + 1);
        }
        let (_, ids) = self.reserve_ids(0, 1).await?;
        ids.first()
            .copied()
            .ok_or_else(|| crate::Error::Invalid("the messages sequence gave no id".into()))
    }
}
