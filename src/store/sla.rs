//! The scheduler's reads: tickets whose SLA clock needs a look now (an
//! indexed scan of `sla_next_check`), with what sending their reminders and
//! escalations needs — the same `Loaded` view a batch of mail gets.

use chrono::{DateTime, Utc};

use super::batch::{CustomerMail, Loaded, SentNotification};
use super::rows::{TICKET_COLUMNS, TicketRow};
use super::sql::{KEYS_PER_QUERY, Params, select_in, sorted};
use super::tx::{Tx, on_tx};
use crate::error::Result;
use crate::sla::alerts::{Alert, Level};

#[derive(sqlx::FromRow)]
struct AlertRow {
    ticket_id: i64,
    target: String,
    level: String,
    due: DateTime<Utc>,
}

impl Tx {
    /// Up to `limit` tickets whose `sla_next_check` has come (oldest first),
    /// under the batch lock (PostgreSQL), with their SLA alerts sent so far.
    pub async fn load_sla_due(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
        staff: &[String],
        rate_since: DateTime<Utc>,
    ) -> Result<Loaded> {
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT pg_advisory_xact_lock(7305501)")
                .execute(&mut **t)
                .await?;
        }
        let mut l = Loaded::default();
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE sla_next_check <= $1 ORDER BY sla_next_check LIMIT $2"
        );
        let tickets: Vec<TicketRow> = on_tx!(self, c => sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql))
            .bind(now).bind(limit).fetch_all(&mut *c).await?);
        let ids = sorted(tickets.iter().map(|t| t.id));
        l.tickets = tickets.into_iter().map(|t| (t.id, t)).collect();
        let alerts = select_in!(self, AlertRow, ids, |list| format!(
            "SELECT ticket_id, target, level, due FROM sla_alerts WHERE ticket_id IN ({list})"
        ));
        for a in alerts {
            let (Ok(target), level) = (a.target.parse(), a.level.as_str()) else {
                continue;
            };
            let level = if level == Level::Breach.as_str() {
                Level::Breach
            } else {
                Level::Warning
            };
            l.sla_alerts.entry(a.ticket_id).or_default().insert(Alert {
                target,
                level,
                due: a.due,
            });
        }
        let latest = select_in!(self, CustomerMail, ids, |list| format!(
            "SELECT id AS row, ticket_id, message_id, refs, thread_index FROM messages WHERE id IN \
             (SELECT MAX(id) FROM messages WHERE ticket_id IN ({list}) AND direction = 'in' AND kind = 'customer' GROUP BY ticket_id)"
        ));
        l.latest_customer_mail = latest.into_iter().map(|m| (m.ticket_id, m)).collect();
        l.sent_notifications = select_in!(self, SentNotification, ids, |list| format!(
            "SELECT ticket_id, recipient, message_id, refs FROM messages WHERE id IN \
             (SELECT MAX(id) FROM messages WHERE ticket_id IN ({list}) AND kind = 'notification' \
              AND recipient IS NOT NULL GROUP BY ticket_id, recipient)"
        ));
        let staff = sorted(staff.iter().cloned());
        let counts = select_in!(
            self,
            (String, String, i64),
            staff,
            |list| format!(
                "SELECT recipients, kind, COUNT(*) FROM outbox WHERE kind IN ('ack', 'system', 'notification') \
                 AND created_at > {} AND recipients IN ({list}) GROUP BY recipients, kind",
                Params::of(self).list(1, 1)
            ),
            pre = [rate_since]
        );
        for (to, kind, n) in counts {
            if let Ok(kind) = kind.parse() {
                l.auto_counts.insert((to, kind), n);
            }
        }
        l.suppressions = on_tx!(self, c => sqlx::query_as::<_, (String, DateTime<Utc>)>(
            "SELECT address, suppressed_until FROM mail_suppressions WHERE suppressed_until > $1")
            .bind(now).fetch_all(&mut *c).await?)
        .into_iter()
        .collect();
        (l.max_ticket, l.max_message) = on_tx!(self, c => sqlx::query_as::<_, (i64, i64)>(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM tickets), (SELECT COALESCE(MAX(id), 0) FROM messages)")
            .fetch_one(&mut *c).await?);
        Ok(l)
    }
}
