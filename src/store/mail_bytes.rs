//! The bytes of stored mail: raw messages (inline, or streamed into
//! `raw_blobs` on SQLite), attachment data, and rendered outgoing mail.

use chrono::{DateTime, Utc};

use super::rows::{AttachmentData, RoutedTicket, RoutedTicketRow, TriggerMail};
use super::tx::{self, Tx};
use super::{Pool, Store, blob, codec, on_pool};
use crate::error::{Error, Result};
use crate::tickets::Ticket;

impl Store {
    /// What rendering an outgoing mail needs: its ticket, the mail that caused
    /// it, and that mail's attachments (with their bytes).
    pub async fn render_inputs(
        &self,
        ticket_id: i64,
        trigger_row: Option<i64>,
    ) -> Result<(Ticket, Option<TriggerMail>, Vec<AttachmentData>)> {
        let ticket = self
            .ticket(ticket_id)
            .await?
            .ok_or_else(|| Error::TicketNotFound(ticket_id.to_string()))?;
        let Some(row) = trigger_row else {
            return Ok((ticket, None, Vec::new()));
        };
        let mut trigger = on_pool!(&self.pool, p => sqlx::query_as::<_, TriggerMail>(
            "SELECT message_id, from_addr, from_name, text_body, raw, raw_codec, raw_blob \
             FROM messages WHERE id = $1")
            .bind(row).fetch_optional(p).await?);
        if let Some(t) = &mut trigger
            && let (None, Some(id)) = (&t.raw, t.raw_blob)
        {
            t.raw = Some(self.read_blob(c"raw_blobs", c"data", id).await?);
        }
        // Bytes are read one attachment at a time, each straight into its buffer.
        let listed: Vec<(String, Option<String>, String, i64)> = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT a.sha256, ma.filename, ma.content_type, a.id FROM message_attachments ma \
             JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_row = $1 ORDER BY ma.id")
            .bind(row).fetch_all(p).await?);
        let mut attachments = Vec::with_capacity(listed.len());
        for (sha256, filename, content_type, id) in listed {
            attachments.push(AttachmentData {
                sha256,
                filename,
                content_type,
                data: self.read_blob(c"attachments", c"data", id).await?,
            });
        }
        Ok((ticket, trigger, attachments))
    }

    /// One blob column of one row. On SQLite it is read with incremental blob
    /// I/O into a single buffer (blob.rs); PostgreSQL reads it as a column.
    pub(super) async fn read_blob(
        &self,
        table: &'static std::ffi::CStr,
        column: &'static std::ffi::CStr,
        id: i64,
    ) -> Result<Vec<u8>> {
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut c = p.acquire().await?;
                let at = blob::BlobAt {
                    table,
                    column,
                    rowid: id,
                };
                blob::read(&mut c, at).await
            }
            Pool::Postgres(p) => {
                let sql = format!(
                    "SELECT {} FROM {} WHERE id = $1",
                    column.to_string_lossy(),
                    table.to_string_lossy()
                );
                Ok(sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_one(p)
                    .await?)
            }
        }
    }

    /// A stored message's raw bytes as received (None for outbound mail not
    /// rendered yet).
    pub async fn raw_message(&self, message_row: i64) -> Result<Option<Vec<u8>>> {
        // (raw inline, its codec, or the raw_blobs row holding it)
        type Stored = (Option<Vec<u8>>, Option<String>, Option<i64>);
        const SQL: &str = "SELECT raw, raw_codec, raw_blob FROM messages WHERE id = $1";
        let row: Option<Stored> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as(SQL)
                    .bind(message_row)
                    .fetch_optional(p)
                    .await?
            }
            Pool::Postgres(p) => {
                let mut conn = p.acquire().await?;
                let row: Option<Stored> = sqlx::query_as(SQL)
                    .bind(message_row)
                    .fetch_optional(&mut *conn)
                    .await?;
                close_if_big(
                    conn,
                    row.as_ref().and_then(|r| r.0.as_ref()).map_or(0, Vec::len),
                )
                .await;
                row
            }
        };
        match row {
            Some((Some(raw), codec_name, _)) => {
                Ok(Some(codec::unpack(codec_name.as_deref(), &raw)?))
            }
            Some((None, codec_name, Some(id))) => {
                let raw = self.read_blob(c"raw_blobs", c"data", id).await?;
                Ok(Some(codec::unpack(codec_name.as_deref(), &raw)?))
            }
            _ => Ok(None),
        }
    }

    /// Tickets created since `since` (after ticket `after_id`, `limit` at a time)
    /// with the raw bytes of the mail that opened each: what `rules backtest`
    /// replays. Read-only.
    pub async fn routing_history(
        &self,
        since: DateTime<Utc>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<RoutedTicket>> {
        let rows: Vec<RoutedTicketRow> = on_pool!(&self.pool, p => sqlx::query_as::<_, RoutedTicketRow>(
            "SELECT t.id, t.subject, t.area, t.priority, t.owner, \
             COALESCE(m.raw, (SELECT data FROM raw_blobs b WHERE b.id = m.raw_blob)) AS raw, m.raw_codec FROM tickets t \
             JOIN messages m ON m.id = (SELECT MIN(id) FROM messages WHERE ticket_id = t.id AND direction = 'in') \
             WHERE t.created_at >= $1 AND t.id > $2 ORDER BY t.id LIMIT $3")
            .bind(since).bind(after_id).bind(limit).fetch_all(p).await?);
        rows.into_iter()
            .map(|r| {
                let raw = match &r.raw {
                    Some(raw) => codec::unpack(r.raw_codec.as_deref(), raw)?,
                    None => Vec::new(),
                };
                Ok(RoutedTicket {
                    id: r.id,
                    subject: r.subject,
                    area: r.area,
                    priority: r.priority,
                    owner: r.owner,
                    raw,
                })
            })
            .collect()
    }

    /// Keeps the rendered bytes, so a retry sends exactly the same mail.
    pub async fn save_rendered(
        &self,
        message_row: i64,
        raw: &[u8],
        text: &str,
        html: Option<&str>,
    ) -> Result<()> {
        const SQL: &str = "UPDATE messages SET raw = $1, raw_blob = $2, text_body = $3, \
                           html_body = $4, content_hash = $5 WHERE id = $6";
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw));
        match &self.pool {
            Pool::Sqlite(_) => {
                let mut tx = self.begin().await?;
                // A big rendering is streamed into raw_blobs (blob.rs).
                let (inline, blob_id) = match &mut tx {
                    Tx::Sqlite(t, _) if raw.len() >= blob::BIG_BLOB => {
                        (None, Some(blob::insert_streamed(t, raw).await?))
                    }
                    _ => (Some(raw), None),
                };
                tx::on_tx!(&mut tx, c => sqlx::query(SQL)
                    .bind(inline).bind(blob_id).bind(text).bind(html).bind(hash).bind(message_row)
                    .execute(&mut *c).await.map(|_| ())?);
                tx.commit().await?;
            }
            Pool::Postgres(p) => {
                let mut conn = p.acquire().await?;
                sqlx::query(SQL)
                    .bind(raw)
                    .bind(None::<i64>)
                    .bind(text)
                    .bind(html)
                    .bind(hash)
                    .bind(message_row)
                    .execute(&mut *conn)
                    .await?;
                close_if_big(conn, raw.len()).await;
            }
        }
        Ok(())
    }
}

/// A PostgreSQL connection keeps its buffers as big as the biggest row it has
/// moved: after a big mail, close it rather than let the pool keep one such
/// buffer per connection (a backlog of big mail would hold several at once).
async fn close_if_big(conn: sqlx::pool::PoolConnection<sqlx::Postgres>, bytes: usize) {
    if bytes >= blob::BIG_BLOB
        && let Err(e) = conn.close().await
    {
        tracing::debug!(error = %e, "closing a connection after a big mail");
    }
}
