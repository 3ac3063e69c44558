//! Managers' digests (issue "timely, visibly", item 3; issue 20, item 6): the
//! numbers of a window for a manager's areas, compared with a span before it,
//! computed by `sla::stats` from the store's facts and rendered by
//! `outbound::digest`. Which window: `sla::schedule` (a digest covers the time
//! since the manager's previous scheduled digest). Scheduled digests are
//! recorded once per manager and window (digests_sent); a missed schedule, or
//! one held back by a bounce or the rate limit, is caught up once. A bounce of
//! a digest holds mail to its manager back like any staff bounce.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use croner::Cron;
use serde_json::Value;

use super::apply::STAFF_BOUNCE_HOLD_HOURS;
use super::outgoing::RATE_WINDOW_HOURS;
use super::unit::UnitOfWork;
use super::{Incoming, Outcome, OutcomeKind, Pipeline};
use crate::config::ManagerConfig;
use crate::error::{Error, Result};
use crate::outbound::Renderer;
use crate::outbound::digest::Heading;
use crate::sla::schedule::midnight;
use crate::sla::{
    Digest, PeriodKind, Window, compared_with, digest, first_due_from, last_due, owed, parse_cron,
    scheduled, upcoming,
};
use crate::store::digest::{DigestMail, Fence, Hold, Recorded};
use crate::store::{NewEvent, Store};
use crate::tickets::{EventKind, MessageKind, Role};

/// A computed digest: its window, its numbers and the templates' view.
pub struct DigestRun {
    /// The digest's window (its scheduled end also when counted so far).
    pub window: Window,
    /// The part counted: the window, or its start to now for a digest that
    /// is not due yet (a preview).
    pub counted: Window,
    /// What it is compared with.
    pub compared: Window,
    pub digest: Digest,
    pub view: Value,
}

/// Which digest `digest preview` (and `send`) shows.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    /// The next one the manager will get, with what has happened so far.
    Next,
    /// The one due on this local day (or the next scheduled after it).
    DueOn(NaiveDate),
    /// The one due last at or before this instant.
    DueAt(DateTime<Utc>),
}

/// What one scheduler run did about digests.
#[derive(Debug, Default)]
pub struct DigestsDue {
    pub queued: usize,
    /// Owed but held back, with why: they go out at a later run.
    pub held: Vec<(String, Hold)>,
}

/// Held-back digests already logged at warn level by this process (manager,
/// window start, reason): the scheduler retries every few seconds and the
/// log says it once.
static HELD_LOGGED: Mutex<BTreeSet<(String, DateTime<Utc>, &'static str)>> =
    Mutex::new(BTreeSet::new());

impl Pipeline {
    fn manager_zone(&self, m: &ManagerConfig) -> chrono_tz::Tz {
        crate::sla::calendar::parse_time_zone(m.time_zone_or(&self.cfg.mailroom.time_zone))
            .unwrap_or(chrono_tz::UTC)
    }

    /// The manager's areas (None: all).
    fn manager_areas(m: &ManagerConfig) -> Option<Vec<String>> {
        (!m.areas.is_empty() && !m.areas.iter().any(|a| a == "*")).then(|| m.areas.clone())
    }

    /// The manager's schedule: their cron, or (none set) the one `kind`
    /// implies for previews.
    fn manager_cron(m: &ManagerConfig, kind: PeriodKind) -> Result<Cron> {
        parse_cron(m.digest.as_deref().unwrap_or(kind.implied_cron())).map_err(Error::Invalid)
    }

    /// The rate limit a digest counts against (notifications' and digests'
    /// per recipient and hour).
    fn digest_fence(&self, now: DateTime<Utc>) -> Fence<'static> {
        let (limit, counted) = self.rate_limit(MessageKind::Digest);
        Fence {
            since: now - chrono::Duration::hours(RATE_WINDOW_HOURS),
            counted,
            limit,
        }
    }

    /// The digest `which` of manager `m`, counted up to `now` at most, its
    /// numbers compared as `kind` says.
    pub async fn digest_for(
        &self,
        store: &Store,
        m: &ManagerConfig,
        kind: PeriodKind,
        which: Which,
        now: DateTime<Utc>,
    ) -> Result<DigestRun> {
        let tz = self.manager_zone(m);
        let cron = Self::manager_cron(m, kind)?;
        let window = match which {
            // Without a cron nothing is ever sent on schedule: the next
            // window is the one running now.
            Which::Next if m.digest.is_none() => upcoming(&cron, tz, now, last_due(&cron, tz, now)),
            Which::Next => {
                let last = store.last_digest_end(&m.email).await?;
                upcoming(&cron, tz, now, last)
            }
            Which::DueOn(day) => {
                let due = first_due_from(&cron, tz, midnight(tz, day));
                Self::window_due(store, m, &cron, tz, due).await?
            }
            Which::DueAt(t) => {
                let due = last_due(&cron, tz, t);
                Self::window_due(store, m, &cron, tz, due).await?
            }
        };
        let window = window.ok_or_else(|| {
            Error::Invalid(format!("the schedule of {} has no such digest", m.email))
        })?;
        let counted = Window {
            start: window.start,
            // (not `clamp`: a stored window is not trusted to be ordered)
            end: now.max(window.start).min(window.end),
        };
        self.digest_window(store, m, kind, window, counted).await
    }

    /// The window of the digest due at `due`: as recorded when it was sent
    /// (a catch-up covers more than the regular window), else the regular one.
    async fn window_due(
        store: &Store,
        m: &ManagerConfig,
        cron: &Cron,
        tz: chrono_tz::Tz,
        due: Option<DateTime<Utc>>,
    ) -> Result<Option<Window>> {
        let Some(due) = due else { return Ok(None) };
        Ok(Some(match store.recorded_window(&m.email, due).await? {
            Some(w) => w,
            None => scheduled(cron, tz, due),
        }))
    }

    /// What holds a digest to `m` back now (a bounce, the rate limit), if anything.
    pub async fn digest_hold(
        &self,
        store: &Store,
        m: &ManagerConfig,
        now: DateTime<Utc>,
    ) -> Result<Option<Hold>> {
        store
            .digest_hold(&m.email, &self.digest_fence(now), now)
            .await
    }

    /// The digest of `window`, counted over `counted` (the window or its
    /// beginning), compared with what `kind` says.
    pub async fn digest_window(
        &self,
        store: &Store,
        m: &ManagerConfig,
        kind: PeriodKind,
        window: Window,
        counted: Window,
    ) -> Result<DigestRun> {
        let tz = self.manager_zone(m);
        let compared = compared_with(kind, counted, tz);
        let d = self.digest_between(store, m, compared, counted).await?;
        let areas = Self::manager_areas(m);
        let label = match &areas {
            None => "all areas".to_string(),
            Some(a) => format!("areas {}", a.join(", ")),
        };
        let view = crate::outbound::digest::view(
            &d,
            &Heading {
                window,
                compared,
                compared_text: kind.compared_text(),
                tz,
                areas: &label,
            },
            &self.cfg.mailroom.ticket_prefix,
            &self.cfg.mailroom.support_name,
        );
        Ok(DigestRun {
            window,
            counted,
            compared,
            digest: d,
            view,
        })
    }

    /// The numbers of `counted` with those of `compared` (which ends at or
    /// before its start) attached for the comparison.
    pub async fn digest_between(
        &self,
        store: &Store,
        m: &ManagerConfig,
        compared: Window,
        counted: Window,
    ) -> Result<Digest> {
        let areas = Self::manager_areas(m);
        let (facts, quiet) = store
            .digest_facts(areas.as_deref(), compared.start, counted.end)
            .await?;
        let cal = |f: &crate::sla::TicketFact| self.calendars.for_area(f.area.as_deref());
        let previous = digest(&facts, &quiet, compared.start, compared.end, cal);
        Ok(digest(&facts, &quiet, counted.start, counted.end, cal).with_previous(previous))
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

    /// Queues the manager's next digest (what `digest preview` shows) now,
    /// whatever the schedule (`digest send`); it is recorded nowhere, so the
    /// scheduled digest still comes. Counts against the rate limit, and is
    /// held back like a scheduled one: `Err(hold)` then.
    pub async fn send_digest(
        &self,
        store: &Store,
        renderer: &Renderer,
        m: &ManagerConfig,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<DigestRun, Hold>> {
        let run = self
            .digest_for(store, m, m.period, Which::Next, now)
            .await?;
        let (mid, subject, r) = self.digest_mail(renderer, &m.email, &run, now)?;
        let queued = store
            .queue_digest(
                &self.digest_row(&m.email, &mid, &subject, &r),
                &self.digest_fence(now),
                now,
            )
            .await?;
        Ok(queued.map(|_| run))
    }

    fn digest_row<'a>(
        &'a self,
        manager: &'a str,
        mid: &'a str,
        subject: &'a str,
        r: &'a crate::outbound::Rendered,
    ) -> DigestMail<'a> {
        DigestMail {
            manager,
            message_id: mid,
            sender: &self.support.email,
            sender_name: &self.cfg.mailroom.support_name,
            subject,
            text: &r.text,
            html: &r.html,
            raw: &r.raw,
        }
    }

    /// Queues every scheduled digest owed at `now` (`sla::owed`: one per
    /// manager and window, across restarts and instances; missed schedules
    /// caught up once). A digest that a bounce or the rate limit holds back
    /// is not recorded: it is owed still and goes out at a later run (then
    /// covering everything since the last digest); each is logged once per
    /// process at warn level and counted in
    /// `mailroom_digests_held_back_total{reason}`.
    pub async fn digests_due(
        &self,
        store: &Store,
        renderer: &Renderer,
        now: DateTime<Utc>,
    ) -> Result<DigestsDue> {
        let mut done = DigestsDue::default();
        let fence = self.digest_fence(now);
        for m in &self.cfg.manager {
            let Some(expr) = &m.digest else { continue };
            let cron = parse_cron(expr).map_err(Error::Invalid)?;
            let tz = self.manager_zone(m);
            let last = store.last_digest_end(&m.email).await?;
            let Some(window) = owed(&cron, tz, now, last) else {
                continue;
            };
            // Checked before the digest is computed (a held digest would be
            // computed on every run), and again where it is queued.
            if let Some(hold) = store.digest_hold(&m.email, &fence, now).await? {
                self.digest_held(&m.email, window, hold, &mut done);
                continue;
            }
            let run = self
                .digest_window(store, m, m.period, window, window)
                .await?;
            let mail = if m.skip_empty && run.digest.is_empty() {
                tracing::info!(manager = %m.email, "digest skipped: nothing happened in its window (skip_empty)");
                None
            } else {
                Some(self.digest_mail(renderer, &m.email, &run, now)?)
            };
            let row = mail
                .as_ref()
                .map(|(mid, subject, r)| self.digest_row(&m.email, mid, subject, r));
            match store
                .record_digest(&m.email, window, row.as_ref(), &fence, now)
                .await?
            {
                Recorded::Queued(_) => done.queued += 1,
                Recorded::Empty | Recorded::Before => {}
                Recorded::Held(hold) => self.digest_held(&m.email, window, hold, &mut done),
            }
        }
        metrics::gauge!("mailroom_digests_waiting").set(done.held.len() as f64);
        Ok(done)
    }

    fn digest_held(&self, manager: &str, w: Window, hold: Hold, done: &mut DigestsDue) {
        let key = (manager.to_string(), w.start, hold.reason());
        let first = HELD_LOGGED
            .lock()
            .map(|mut seen| seen.insert(key))
            .unwrap_or(true);
        if first {
            metrics::counter!("mailroom_digests_held_back_total", "reason" => hold.reason())
                .increment(1);
            tracing::warn!(
                manager,
                window_start = %w.start,
                due = %w.end,
                "digest held back: {hold}; it goes out at the next run that may send it, covering everything since the last digest"
            );
        } else {
            tracing::debug!(manager, "digest still held back: {hold}");
        }
        done.held.push((manager.to_string(), hold));
    }

    /// A bounce of a digest (mail without a ticket) to `staff`: stored
    /// without a ticket, with an event on its message; nothing goes to that
    /// address for a day (DESIGN §6), digests included.
    pub(super) fn apply_digest_bounce<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        staff: &str,
        reason: String,
    ) -> Outcome {
        let until = u.now() + chrono::Duration::hours(STAFF_BOUNCE_HOLD_HOURS);
        let fresh = u.suppress(staff, until, format!("{reason} (a digest)"));
        let why = format!(
            "{reason}; a digest to {staff} bounced: nothing is sent to {staff} until {}{}; stored, no ticket, never answered",
            until.format("%Y-%m-%d %H:%M UTC"),
            if fresh { "" } else { " (held back already)" }
        );
        let origin = m.item.origin.clone();
        let row = self.store_inbound(
            u,
            m,
            None,
            (MessageKind::Bounce, Some(Role::System)),
            Some(why.clone()),
        );
        u.add_events([NewEvent {
            ticket_id: None,
            message_row: Some(row),
            kind: EventKind::Bounce,
            detail: why.clone(),
        }]);
        tracing::warn!(manager = staff, "{why}");
        Outcome {
            file: origin,
            outcome: OutcomeKind::Bounce,
            ticket_ref: None,
            reason: Some(why),
        }
    }
}
