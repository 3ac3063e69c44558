//! Managers' digests (issue "timely, visibly", item 3): the numbers of a
//! period for a manager's areas, compared with the period before, computed by
//! `sla::stats` from the store's facts and rendered by `outbound::digest`.
//! Scheduled digests are queued once per manager and period (digests_sent),
//! a missed schedule once when mailroom comes back.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Pipeline;
use crate::config::ManagerConfig;
use crate::error::{Error, Result};
use crate::outbound::Renderer;
use crate::sla::{Digest, PeriodKind, digest, last_due, parse_cron, period};
use crate::store::Store;
use crate::store::digest::DigestMail;

/// A computed digest: its period, its numbers and the templates' view.
pub struct DigestRun {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub digest: Digest,
    pub view: Value,
}

impl Pipeline {
    fn manager_zone(&self, m: &ManagerConfig) -> chrono_tz::Tz {
        crate::sla::calendar::parse_time_zone(m.time_zone_or(&self.cfg.mailroom.time_zone))
            .unwrap_or(chrono_tz::UTC)
    }

    /// The manager's areas (None: all).
    fn manager_areas(m: &ManagerConfig) -> Option<Vec<String>> {
        (!m.areas.is_empty() && !m.areas.iter().any(|a| a == "*")).then(|| m.areas.clone())
    }

    /// The digest of the `kind` period before `at`, with the period before it
    /// for comparison.
    pub async fn digest_for(
        &self,
        store: &Store,
        m: &ManagerConfig,
        kind: PeriodKind,
        at: DateTime<Utc>,
    ) -> Result<DigestRun> {
        let tz = self.manager_zone(m);
        let (start, end) = period(kind, at, tz);
        let (before, _) = period(kind, start, tz);
        self.digest_between(store, m, kind, (before, start, end))
            .await
    }

    /// The digest of [start, end) compared with [before, start).
    pub async fn digest_between(
        &self,
        store: &Store,
        m: &ManagerConfig,
        kind: PeriodKind,
        (before, start, end): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    ) -> Result<DigestRun> {
        let tz = self.manager_zone(m);
        let areas = Self::manager_areas(m);
        let (facts, quiet) = store.digest_facts(areas.as_deref(), before, end).await?;
        let cal = |f: &crate::sla::TicketFact| self.calendars.for_area(f.area.as_deref());
        let previous = digest(&facts, &quiet, before, start, cal);
        let d = digest(&facts, &quiet, start, end, cal).with_previous(previous);
        let label = match &areas {
            None => "all areas".to_string(),
            Some(a) => format!("areas {}", a.join(", ")),
        };
        let view = crate::outbound::digest::view(
            &d,
            kind,
            tz,
            &self.cfg.mailroom.ticket_prefix,
            &self.cfg.mailroom.support_name,
            &label,
        );
        Ok(DigestRun {
            start,
            end,
            digest: d,
            view,
        })
    }

    /// Renders a digest into a mail to `manager`.
    fn digest_mail(
        &self,
        renderer: &Renderer,
        manager: &str,
        run: &DigestRun,
        now: DateTime<Utc>,
    ) -> Result<(String, String, crate::outbound::Rendered)> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let mid = crate::mail::compose::new_message_id("d", &unique, &self.support.email);
        let (subject, r) = renderer
            .render_digest(manager, &run.view, &mid, now)
            .map_err(|e| Error::Template {
                name: "digest".into(),
                message: e,
            })?;
        Ok((mid, subject, r))
    }

    /// Queues a digest to `manager` now, whatever the schedule (`digest send`).
    pub async fn send_digest(
        &self,
        store: &Store,
        renderer: &Renderer,
        m: &ManagerConfig,
        kind: PeriodKind,
        now: DateTime<Utc>,
    ) -> Result<DigestRun> {
        let run = self.digest_for(store, m, kind, now).await?;
        let (mid, subject, r) = self.digest_mail(renderer, &m.email, &run, now)?;
        store
            .queue_digest(&self.digest_row(&m.email, &run, &mid, &subject, &r), now)
            .await?;
        Ok(run)
    }

    fn digest_row<'a>(
        &'a self,
        manager: &'a str,
        run: &DigestRun,
        mid: &'a str,
        subject: &'a str,
        r: &'a crate::outbound::Rendered,
    ) -> DigestMail<'a> {
        DigestMail {
            manager,
            period_start: run.start,
            period_end: run.end,
            message_id: mid,
            sender: &self.support.email,
            sender_name: &self.cfg.mailroom.support_name,
            subject,
            text: &r.text,
            html: &r.html,
            raw: &r.raw,
        }
    }

    /// Queues every scheduled digest that is due at `now` and not queued yet
    /// (one per manager and period, across restarts and instances; a missed
    /// schedule is caught up once). Returns how many were queued.
    pub async fn digests_due(
        &self,
        store: &Store,
        renderer: &Renderer,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let mut queued = 0;
        for m in &self.cfg.manager {
            let Some(expr) = &m.digest else { continue };
            let cron = parse_cron(expr).map_err(Error::Invalid)?;
            let tz = self.manager_zone(m);
            let Some(due) = last_due(&cron, tz, now) else {
                continue;
            };
            let (start, _) = period(m.period, due, tz);
            if store.digest_sent(&m.email, start).await? {
                continue;
            }
            let run = self.digest_for(store, m, m.period, due).await?;
            let mail = if m.skip_empty && run.digest.is_empty() {
                tracing::info!(manager = %m.email, "digest skipped: nothing happened in the period (skip_empty)");
                None
            } else {
                Some(self.digest_mail(renderer, &m.email, &run, now)?)
            };
            let row = mail
                .as_ref()
                .map(|(mid, subject, r)| self.digest_row(&m.email, &run, mid, subject, r));
            if store
                .record_digest(&m.email, run.start, run.end, row.as_ref(), now)
                .await?
                && mail.is_some()
            {
                queued += 1;
            }
        }
        Ok(queued)
    }
}
