//! The scheduler's reads: tickets whose SLA clock needs a look now (an
//! indexed scan of `sla_next_check`), with what sending their reminders and
//! escalations needs — the same `Loaded` view a batch of mail gets.

use chrono::{DateTime, Utc};

use super::batch::Loaded;
use super::rows::{TICKET_COLUMNS, TicketRow};
use super::sql::{KEYS_PER_QUERY, Params, select_in, sorted};
use super::tx::{Tx, on_tx};
use crate::error::Result;
use crate::sla::Target;
use crate::sla::alerts::{Alert, Level};
use crate::text_enum::UnknownValue;

#[derive(sqlx::FromRow)]
struct AlertRow {
    ticket_id: i64,
    target: String,
    level: Level,
    due: DateTime<Utc>,
}

impl Tx {
    /// Up to `limit` tickets whose `sla_next_check` has come (oldest first),
    /// with their SLA alerts sent so far. PostgreSQL: one scan at a time across
    /// instances, and it locks the tickets it takes, skipping those a batch of
    /// mail holds (they are looked at on the next pass).
    pub async fn load_sla_due(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
        staff: &[String],
        rate_since: DateTime<Utc>,
    ) -> Result<Loaded> {
        self.lock_keys(["sla-scan"]).await?;
        let mut l = Loaded::default();
        let lock = if self.is_shared() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE sla_next_check <= $1 ORDER BY sla_next_check LIMIT $2{lock}"
        );
        let tickets: Vec<TicketRow> = on_tx!(self, c => sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql))
            .bind(now).bind(limit).fetch_all(&mut *c).await?);
        let ids = sorted(tickets.iter().map(|t| t.id));
        l.asked.tickets.extend(ids.iter().copied());
        l.tickets = tickets.into_iter().map(|t| (t.id, t.into())).collect();
        let alerts = select_in!(self, AlertRow, ids, |list| format!(
            "SELECT ticket_id, target, level, due FROM sla_alerts WHERE ticket_id IN ({list})"
        ));
        for a in alerts {
            let target = a.target.parse().map_err(|_| UnknownValue {
                table: "sla_alerts",
                column: "target",
                value: a.target.clone(),
                expected: &Target::NAMES,
            })?;
            l.sla_alerts.entry(a.ticket_id).or_default().insert(Alert {
                target,
                level: a.level,
                due: a.due,
            });
        }
        // The owners are notified, whether or not still on the roster.
        let owners = l.tickets.values().filter_map(|t| t.owner.clone());
        let staff = sorted(staff.iter().cloned().chain(owners));
        self.load_outgoing_context(&mut l, &ids, &ids, &staff, rate_since, now)
            .await?;
        Ok(l)
    }
}
