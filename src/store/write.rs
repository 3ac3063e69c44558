//! A batch's writes: everything the pipeline decided (`Writes`) goes to the
//! database as a few multi-row statements, in dependency order (the reads
//! are in `load.rs`).

use chrono::{DateTime, Utc};

use super::batch::{NewEvent, NewMessage, NewOutbox, Writes};
use super::blob::{self, BIG_BLOB, BlobAt};
use super::rows::TICKET_COLUMNS;
use super::sql::{MESSAGES_PER_STATEMENT, Params, ROWS_PER_STATEMENT, cached};
use super::tx::{Tx, on_tx};
use crate::error::Result;
use crate::mail::parse::Attachment;
use crate::sla::alerts::Alert;
use crate::tickets::{MessageKind, OutboxStatus, ParticipantRole, Role, Status, Ticket};

impl Tx {
    /// Writes everything the batch decided, in dependency order.
    pub async fn write_batch(&mut self, w: &Writes<'_>, now: DateTime<Utc>) -> Result<()> {
        let params = Params::of(self);
        self.insert_tickets(params, &w.new_tickets).await?;
        self.update_tickets(&w.changed_tickets).await?;
        self.insert_messages(params, &w.messages, now).await?;
        self.insert_attachments(&w.attachments).await?;
        self.insert_message_refs(params, &w.message_refs).await?;
        self.insert_participants(params, &w.participants).await?;
        self.insert_events(params, &w.events, now).await?;
        self.insert_outbox(params, &w.outbox, now).await?;
        self.upsert_cursors(&w.cursors, now).await?;
        self.insert_status_changes(params, &w.status_changes, now)
            .await?;
        self.insert_sla_alerts(&w.sla_alerts, now).await?;
        self.insert_lifecycle_actions(&w.lifecycle_actions, now)
            .await?;
        self.adopt_messages(&w.adopted).await?;
        self.upsert_suppressions(&w.suppressions, now).await?;
        for (origin, reason, raw) in &w.quarantine {
            self.quarantine(origin, reason, raw, now).await?;
        }
        self.move_split(&w.splits).await?;
        self.move_merged(&w.merges, now).await?;
        Ok(())
    }

    /// New tickets, in multi-row statements.
    async fn insert_tickets(&mut self, params: Params, tickets: &[Ticket]) -> Result<()> {
        for chunk in tickets.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO tickets ({TICKET_COLUMNS}) VALUES {}",
                params.rows(chunk.len(), 29)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached(chunk.len()));
                for t in chunk {
                    q = q.bind(t.id).bind(t.subject.as_str()).bind(t.normalized_subject.as_str())
                        .bind(t.status.as_str()).bind(t.priority.as_str()).bind(t.area.as_deref())
                        .bind(t.owner.as_deref()).bind(t.customer.as_str()).bind(t.customer_name.as_deref())
                        .bind(t.tags.as_str()).bind(t.created_at).bind(t.updated_at)
                        .bind(t.first_response_at).bind(t.resolved_at).bind(t.sla_policy.as_deref())
                        .bind(t.first_response_due).bind(t.next_response_due).bind(t.resolution_due)
                        .bind(t.waiting_since).bind(t.pending_since).bind(t.sla_paused_secs).bind(t.sla_next_check)
                        .bind(t.merged_into).bind(t.pending_until).bind(t.answered_at).bind(t.linked_to)
                        .bind(t.satisfaction.as_ref().map(|s| i64::from(s.score)))
                        .bind(t.satisfaction.as_ref().map(|s| s.comment.as_str()))
                        .bind(t.satisfaction.as_ref().map(|s| s.at));
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Tickets the batch changed, one statement each.
    async fn update_tickets(&mut self, tickets: &[Ticket]) -> Result<()> {
        for t in tickets {
            on_tx!(self, c => sqlx::query(
                "UPDATE tickets SET status = $1, priority = $2, area = $3, owner = $4, tags = $5, updated_at = $6, \
                 first_response_at = $7, resolved_at = $8, first_response_due = $9, next_response_due = $10, \
                 resolution_due = $11, waiting_since = $12, pending_since = $13, sla_paused_secs = $14, \
                 sla_next_check = $15, merged_into = $16, pending_until = $17, answered_at = $18, \
                 satisfaction_score = $19, satisfaction_comment = $20, satisfaction_at = $21 WHERE id = $22")
                .bind(t.status.as_str()).bind(t.priority.as_str()).bind(t.area.as_deref()).bind(t.owner.as_deref())
                .bind(t.tags.as_str()).bind(t.updated_at).bind(t.first_response_at).bind(t.resolved_at)
                .bind(t.first_response_due).bind(t.next_response_due).bind(t.resolution_due)
                .bind(t.waiting_since).bind(t.pending_since).bind(t.sla_paused_secs).bind(t.sla_next_check)
                .bind(t.merged_into).bind(t.pending_until).bind(t.answered_at)
                .bind(t.satisfaction.as_ref().map(|s| i64::from(s.score)))
                .bind(t.satisfaction.as_ref().map(|s| s.comment.as_str()))
                .bind(t.satisfaction.as_ref().map(|s| s.at)).bind(t.id)
                .execute(&mut *c).await.map(|_| ())?);
        }
        Ok(())
    }

    /// The batch's messages.
    async fn insert_messages(
        &mut self,
        params: Params,
        messages: &[(i64, NewMessage<'_>)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        // SQLite: big raw mail is streamed into its row after the insert (blob.rs).
        let sqlite = matches!(self, Tx::Sqlite(..));
        let streamed = move |raw: Option<&[u8]>| sqlite && raw.is_some_and(|r| r.len() >= BIG_BLOB);
        let streamed_rows: Vec<(i64, &[u8])> = messages
            .iter()
            .filter(|(_, m)| streamed(m.raw))
            .filter_map(|(id, m)| Some((*id, m.raw?)))
            .collect();
        for chunk in messages.chunks(MESSAGES_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO messages (id, ticket_id, direction, kind, message_id, content_hash, text_hash, from_addr, \
                 from_name, to_addrs, cc_addrs, recipient, role, reply_token, subject, sent_at, in_reply_to, refs, \
                 thread_index, text_body, html_body, origin, reason, raw, raw_codec, created_at) VALUES {}",
                params.rows(chunk.len(), 26)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached(chunk.len()));
                for (id, m) in chunk {
                    q = q.bind(*id).bind(m.ticket_id).bind(m.direction.as_str()).bind(m.kind.as_str())
                        .bind(m.message_id.as_str()).bind(m.content_hash.as_str()).bind(m.text_hash.as_deref())
                        .bind(m.from_addr.as_str())
                        .bind(m.from_name.as_deref()).bind(m.to_addrs.as_str()).bind(m.cc_addrs.as_str())
                        .bind(m.recipient.as_deref()).bind(m.role.map(|r| r.as_str()))
                        .bind(m.reply_token.as_deref()).bind(m.subject.as_str()).bind(m.sent_at)
                        .bind(m.in_reply_to.as_str()).bind(m.refs.as_str()).bind(m.thread_index.as_deref())
                        .bind(m.text_body.as_ref()).bind(m.html_body.as_deref()).bind(m.origin.as_deref())
                        .bind(m.reason.as_deref()).bind(if streamed(m.raw) { None } else { m.raw })
                        .bind(m.raw_codec).bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }
        if let Tx::Sqlite(t, _) = self {
            for (id, raw) in streamed_rows {
                let blob_id = blob::insert_streamed(t, raw).await?;
                sqlx::query("UPDATE messages SET raw_blob = $1 WHERE id = $2")
                    .bind(blob_id)
                    .bind(id)
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok(())
    }

    /// Attachments (stored once per SHA-256) and their links to message rows.
    async fn insert_attachments(&mut self, attachments: &[(i64, &Attachment)]) -> Result<()> {
        // Ascending SHA-256: two batches inserting the same new attachments
        // wait for each other in one order, never in a circle.
        let mut attachments: Vec<&(i64, &Attachment)> = attachments.iter().collect();
        attachments.sort_by(|x, y| x.1.sha256.cmp(&y.1.sha256));
        for (row, a) in attachments {
            match self {
                Tx::Sqlite(t, _) if a.data.len() >= BIG_BLOB => {
                    let done = sqlx::query(
                        "INSERT INTO attachments (sha256, size, data) VALUES ($1, $2, zeroblob($2)) \
                         ON CONFLICT (sha256) DO NOTHING",
                    )
                    .bind(a.sha256.as_str())
                    .bind(a.data.len() as i64)
                    .execute(&mut **t)
                    .await?;
                    if done.rows_affected() == 1 {
                        let at = BlobAt {
                            table: c"attachments",
                            column: c"data",
                            rowid: done.last_insert_rowid(),
                        };
                        blob::write(t, at, &a.data).await?;
                    }
                }
                _ => on_tx!(self, c => {
                    sqlx::query("INSERT INTO attachments (sha256, size, data) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING")
                        .bind(a.sha256.as_str()).bind(a.data.len() as i64).bind(a.data.as_slice())
                        .execute(&mut *c).await.map(|_| ())?
                }),
            }
            on_tx!(self, c => {
                sqlx::query(
                    "INSERT INTO message_attachments (message_row, attachment_id, filename, content_type) \
                     SELECT $1, id, $2, $3 FROM attachments WHERE sha256 = $4")
                    .bind(*row).bind(a.filename.as_deref()).bind(a.content_type.as_str()).bind(a.sha256.as_str())
                    .execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// The references of stored customer mail.
    async fn insert_message_refs(&mut self, params: Params, refs: &[(i64, String)]) -> Result<()> {
        for chunk in refs.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO message_refs (message_row, ref_id) VALUES {}",
                params.rows(chunk.len(), 2)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached(chunk.len()));
                for (row, id) in chunk {
                    q = q.bind(*row).bind(id.as_str());
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Participants; one already there is kept.
    async fn insert_participants(
        &mut self,
        params: Params,
        participants: &[(i64, String, ParticipantRole)],
    ) -> Result<()> {
        for chunk in participants.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO participants (ticket_id, email, role) VALUES {} ON CONFLICT (ticket_id, email) DO NOTHING",
                params.rows(chunk.len(), 3)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached(chunk.len()));
                for (t, e, r) in chunk {
                    q = q.bind(*t).bind(e.as_str()).bind(r.as_str());
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Events.
    async fn insert_events(
        &mut self,
        params: Params,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO events (ticket_id, message_row, kind, detail, created_at) VALUES {}",
                params.rows(chunk.len(), 5)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached(chunk.len()));
                for e in chunk {
                    q = q.bind(e.ticket_id).bind(e.message_row).bind(e.kind.as_str()).bind(e.detail.as_str()).bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Outgoing mail, queued.
    async fn insert_outbox(
        &mut self,
        params: Params,
        outbox: &[NewOutbox],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for chunk in outbox.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO outbox (message_row, ticket_id, kind, trigger_row, context, sender, recipients, status, \
                 attempts, next_attempt_at, created_at) VALUES {}",
                params.rows(chunk.len(), 11)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached(chunk.len()));
                for o in chunk {
                    q = q.bind(o.message_row).bind(o.ticket_id).bind(o.kind.as_str()).bind(o.trigger_row)
                        .bind(o.context.as_str()).bind(o.sender.as_str()).bind(o.recipients.to_stored())
                        .bind(OutboxStatus::Queued.as_str()).bind(0i64).bind(now).bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Round-robin positions per area.
    async fn upsert_cursors(
        &mut self,
        cursors: &[(String, i64)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for (area, position) in cursors {
            on_tx!(self, c => sqlx::query(
                "INSERT INTO assignment_cursors (area, position, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (area) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at")
                .bind(area.as_str()).bind(*position).bind(now)
                .execute(&mut *c).await.map(|_| ())?);
        }
        Ok(())
    }

    /// Status changes, for the digests.
    async fn insert_status_changes(
        &mut self,
        params: Params,
        changes: &[(i64, Status, Status)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for chunk in changes.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO status_changes (ticket_id, from_status, to_status, at) VALUES {}",
                params.rows(chunk.len(), 4)
            );
            on_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached(chunk.len()));
                for (t, from, to) in chunk {
                    q = q.bind(*t).bind(from.as_str()).bind(to.as_str()).bind(now);
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// SLA alerts decided.
    async fn insert_sla_alerts(
        &mut self,
        alerts: &[(i64, Alert)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for (ticket, a) in alerts {
            on_tx!(self, c => sqlx::query(
                "INSERT INTO sla_alerts (ticket_id, target, level, due, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(*ticket).bind(a.target.as_str()).bind(a.level.as_str()).bind(a.due).bind(now)
                .execute(&mut *c).await.map(|_| ())?);
        }
        Ok(())
    }

    /// Stored ticket-less messages released onto a ticket; one released already is an error.
    async fn adopt_messages(&mut self, adopted: &[(i64, i64, MessageKind, Role)]) -> Result<()> {
        for (row, ticket, kind, role) in adopted {
            let done = on_tx!(self, c => sqlx::query(
                "UPDATE messages SET ticket_id = $1, kind = $2, role = $3, reason = NULL WHERE id = $4 AND ticket_id IS NULL")
                .bind(*ticket).bind(kind.as_str()).bind(role.as_str()).bind(*row).execute(&mut *c).await?.rows_affected());
            if done != 1 {
                return Err(crate::Error::Invalid(format!(
                    "message {row} is no longer ticket-less: released already"
                )));
            }
        }
        Ok(())
    }

    /// Staff addresses to stop mailing.
    async fn upsert_suppressions(
        &mut self,
        suppressions: &[(String, DateTime<Utc>, String)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        for (address, until, reason) in suppressions {
            on_tx!(self, c => sqlx::query(
                "INSERT INTO mail_suppressions (address, suppressed_until, reason, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (address) DO UPDATE SET suppressed_until = excluded.suppressed_until, \
                 reason = excluded.reason, created_at = excluded.created_at")
                .bind(address.as_str()).bind(*until).bind(reason.as_str()).bind(now)
                .execute(&mut *c).await.map(|_| ())?);
        }
        Ok(())
    }
}
