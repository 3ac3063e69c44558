//! Writing the SLA bench's data (benches/sla/data.rs) into the database:
//! multi-row INSERTs in a transaction per table, like src/store/write.rs,
//! with the customers' raw mail made up on the way.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest as _, Sha256};

use crate::corpus::Rng;
use crate::data::{AREAS, Data, SEED, SUPPORT, TEXT, Ticket, customer, owner};
use crate::db::{Db, err, on_db};

/// A raw mail of about `size` bytes, and its text part's first lines.
fn raw_mail(
    from: &(String, String),
    to: &str,
    subject: &str,
    id: &str,
    at: DateTime<Utc>,
    size: usize,
) -> (Vec<u8>, String) {
    let mut s = format!(
        "From: \"{}\" <{}>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {}\r\nMessage-ID: <{id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        from.0,
        from.1,
        at.to_rfc2822()
    );
    let body_start = s.len();
    while s.len() < size {
        s.push_str(TEXT);
    }
    let text = s[body_start..].chars().take(400).collect();
    (s.into_bytes(), text)
}

impl Data {
    fn mail_size(&self, rng: &mut Rng) -> usize {
        let max = (self.mail_kib * 1024).max(600);
        let u = rng.unit();
        600 + (u * u * (max - 600) as f64) as usize
    }

    fn message_id(&self, t: &Ticket) -> String {
        let domain = customer(t.customer).1;
        let domain = domain.rsplit_once('@').map_or("x", |(_, d)| d).to_string();
        format!(
            "{}.{:08x}@mail.{domain}",
            100_000 + t.id,
            t.id * 2_654_435_761 % 0xffff_ffff
        )
    }

    /// Writes everything, a transaction per table; returns the raw mail
    /// bytes written and how long each table took.
    pub async fn insert(&self, db: &Db) -> Result<(u64, Vec<(&'static str, StdDuration)>), String> {
        let mut rng = Rng(SEED ^ 0xff);
        let mut bytes = 0u64;
        let mut phases = Vec::new();
        let mut clock = Instant::now();
        let mut lap = |name: &'static str| {
            phases.push((name, clock.elapsed()));
            clock = Instant::now();
        };
        on_db!(db, p => {
            let mut tx = p.begin().await.map_err(err("begin"))?;
            for chunk in self.tickets.chunks(400) {
                let mut q = sqlx::QueryBuilder::<DB>::new(format!("INSERT INTO tickets ({}) ", crate::db::TICKET_COLUMNS));
                q.push_values(chunk, |mut b, t| {
                    let (name, email) = customer(t.customer);
                    b.push_bind(t.id).push_bind(t.subject.clone()).push_bind(t.subject.to_lowercase())
                        .push_bind(t.status).push_bind(t.priority).push_bind(AREAS[t.area])
                        .push_bind(owner(t.owner)).push_bind(email).push_bind(name).push_bind("")
                        .push_bind(t.created).push_bind(t.updated).push_bind(t.first_response)
                        .push_bind(t.resolved).push_bind(None::<String>).push_bind(t.fr_due)
                        .push_bind(t.nr_due).push_bind(t.res_due).push_bind(t.waiting_since)
                        .push_bind(t.pending_since).push_bind(0i64).push_bind(t.next_check);
                });
                q.build().persistent(false).execute(&mut *tx).await.map_err(err("INSERT INTO tickets"))?;
            }
            tx.commit().await.map_err(err("commit tickets"))?;
            lap("tickets");

            // Each ticket's customer mail (id = ticket id), then the relays.
            let mut tx = p.begin().await.map_err(err("begin"))?;
            let cols = "INSERT INTO messages (id, ticket_id, direction, kind, message_id, content_hash, from_addr, \
                        from_name, to_addrs, subject, sent_at, in_reply_to, refs, text_body, origin, raw, created_at) ";
            for chunk in self.tickets.chunks(100) {
                let mut q = sqlx::QueryBuilder::<DB>::new(cols);
                q.push_values(chunk, |mut b, t| {
                    let from = customer(t.customer);
                    let mid = self.message_id(t);
                    let (raw, text) = raw_mail(&from, SUPPORT, &t.subject, &mid, t.created, self.mail_size(&mut rng));
                    bytes += raw.len() as u64;
                    b.push_bind(t.id).push_bind(t.id).push_bind("in").push_bind("customer").push_bind(mid)
                        .push_bind(hex::encode(Sha256::digest(&raw))).push_bind(from.1).push_bind(from.0)
                        .push_bind(SUPPORT).push_bind(t.subject.clone()).push_bind(t.created - Duration::seconds(5))
                        .push_bind("").push_bind("").push_bind(text).push_bind("bench").push_bind(raw)
                        .push_bind(t.created);
                });
                q.build().persistent(false).execute(&mut *tx).await.map_err(err("INSERT INTO messages"))?;
            }
            let first_relay = self.tickets.len() as i64 + 1;
            for (k, chunk) in self.relays.chunks(100).enumerate() {
                let mut q = sqlx::QueryBuilder::<DB>::new(cols);
                q.push_values(chunk.iter().enumerate(), |mut b, (j, &(tid, at))| {
                    let t = &self.tickets[(tid - 1) as usize];
                    let to = customer(t.customer);
                    let id = first_relay + (k * 100 + j) as i64;
                    let mid = format!("mr.r.{id:032x}@bench.test");
                    let subject = format!("Re: {} [MR-{tid}]", t.subject);
                    let support = ("Bench Support".to_string(), SUPPORT.to_string());
                    let (raw, text) = raw_mail(&support, &to.1, &subject, &mid, at, self.mail_size(&mut rng));
                    bytes += raw.len() as u64;
                    let parent = self.message_id(t);
                    b.push_bind(id).push_bind(tid).push_bind("out").push_bind("relay").push_bind(mid)
                        .push_bind("").push_bind(SUPPORT).push_bind("Bench Support").push_bind(to.1)
                        .push_bind(subject).push_bind(at + Duration::seconds(3)).push_bind(parent.clone())
                        .push_bind(parent).push_bind(text).push_bind(None::<String>).push_bind(raw)
                        .push_bind(at);
                });
                q.build().persistent(false).execute(&mut *tx).await.map_err(err("INSERT INTO messages (relays)"))?;
            }
            tx.commit().await.map_err(err("commit messages"))?;
            lap("messages");

            let mut tx = p.begin().await.map_err(err("begin"))?;
            for chunk in self.changes.chunks(1000) {
                let mut q = sqlx::QueryBuilder::<DB>::new("INSERT INTO status_changes (ticket_id, from_status, to_status, at) ");
                q.push_values(chunk, |mut b, &(t, from, to, at)| {
                    b.push_bind(t).push_bind(from).push_bind(to).push_bind(at);
                });
                q.build().persistent(false).execute(&mut *tx).await.map_err(err("INSERT INTO status_changes"))?;
            }
            for chunk in self.alerts.chunks(1000) {
                let mut q = sqlx::QueryBuilder::<DB>::new("INSERT INTO sla_alerts (ticket_id, target, level, due, created_at) ");
                q.push_values(chunk, |mut b, &(t, due)| {
                    b.push_bind(t).push_bind("first_response").push_bind("breach").push_bind(due)
                        .push_bind(due + Duration::minutes(1));
                });
                q.build().persistent(false).execute(&mut *tx).await.map_err(err("INSERT INTO sla_alerts"))?;
            }
            tx.commit().await.map_err(err("commit status_changes"))?;
            lap("status_changes + sla_alerts");
        });
        Ok((bytes, phases))
    }
}
