//! The [`Digests`] service: a manager's digest computed from the store's
//! facts (`store::digest`), counted by `sla::stats`, rendered by
//! [`super::render`] and queued through the store's one write path. Which
//! window: [`super::schedule`] (a digest covers the time since the manager's
//! previous scheduled digest). Scheduled digests are recorded once per manager
//! and window (digests_sent); a missed schedule, or one held back by a bounce
//! or the rate limit, is caught up once (at most
//! [`super::schedule::MAX_CATCH_UP_DAYS`] back; the scheduler's step is `due.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde_json::Value;

use super::render::{Heading, view};
use super::schedule::{
    compared_with, first_due_from, last_due, midnight, parse_cron, scheduled, upcoming,
};
use crate::config::{Config, ManagerConfig};
use crate::error::{Error, Result};
use crate::mail::Mailbox;
use crate::model::{PeriodKind, Window};
use crate::outbound::{Rendered, Renderer};
use crate::sla::{Calendars, Digest, TicketFact, digest};
use crate::store::Store;
use crate::store::digest::SendFacts;
use crate::tickets::hold::{Hold, Limits, RATE_WINDOW_HOURS, hold};
use crate::tickets::{Direction, MessageKind};

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

/// A manager's schedule, read once when the service is built.
pub(super) struct Plan {
    /// Their cron (None: no scheduled digest).
    pub(super) cron: Option<Cron>,
    pub(super) tz: Tz,
}

/// The managers' digests: needs the config (managers, limits, names), the
/// calendars, the support identity and the renderer — no rules, no pipeline.
pub struct Digests {
    pub(super) cfg: Arc<Config>,
    calendars: Calendars,
    support: Mailbox,
    renderer: Renderer,
    /// Per `cfg.manager`, in its order.
    pub(super) plans: Vec<Plan>,
    /// `mailroom.time_zone`, for `stats` (no manager).
    global: Tz,
    /// The schedules `PeriodKind::implied_cron` gives a manager without one.
    implied: [(PeriodKind, Cron); 2],
    /// Per manager, the held-back digest logged at warn level (window start,
    /// reason): the scheduler retries every few seconds and the log says it
    /// once. One entry per manager at most.
    pub(super) held_logged: Mutex<HashMap<String, (DateTime<Utc>, &'static str)>>,
}

impl Digests {
    /// Reads every manager's cron and time zone once (the config was
    /// validated: an error here names the key all the same).
    pub fn new(cfg: Arc<Config>, renderer: Renderer) -> Result<Digests> {
        let bad = |message: String| Error::Config {
            file: cfg.source_name(),
            message,
        };
        let global = parse_time_zone(&cfg.mailroom.time_zone)
            .map_err(|e| bad(format!("key mailroom.time_zone: {e}")))?;
        let mut plans = Vec::with_capacity(cfg.manager.len());
        for (i, m) in cfg.manager.iter().enumerate() {
            let tz = match &m.time_zone {
                Some(name) => parse_time_zone(name)
                    .map_err(|e| bad(format!("key manager[{i}].time_zone: {e}")))?,
                None => global,
            };
            let cron = m
                .digest
                .as_deref()
                .map(parse_cron)
                .transpose()
                .map_err(|e| bad(format!("key manager[{i}].digest: {e}")))?;
            plans.push(Plan { cron, tz });
        }
        let implied = |k: PeriodKind| parse_cron(k.implied_cron()).map(|c| (k, c));
        Ok(Digests {
            calendars: cfg.calendars().map_err(bad)?,
            support: Mailbox {
                name: Some(cfg.mailroom.support_name.clone()),
                email: cfg.mailroom.support_address.to_ascii_lowercase(),
            },
            implied: [
                implied(PeriodKind::Day).map_err(Error::Invalid)?,
                implied(PeriodKind::Week).map_err(Error::Invalid)?,
            ],
            renderer,
            plans,
            global,
            held_logged: Mutex::new(HashMap::new()),
            cfg,
        })
    }

    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// The configured manager `m` is (managers' emails are lower-cased at
    /// config load), with their plan; `stats` passes one that is not.
    fn plan(&self, m: &ManagerConfig) -> Option<&Plan> {
        let i = self.cfg.manager.iter().position(|c| c.email == m.email)?;
        self.plans.get(i)
    }

    fn zone(&self, m: &ManagerConfig) -> Tz {
        self.plan(m).map_or(self.global, |p| p.tz)
    }

    /// The manager's schedule: their cron, or (none set) the one `kind`
    /// implies (`PeriodKind::implied_cron`: local midnight daily, or Monday
    /// 00:00), which only previews and `digest send` use.
    fn cron(&self, m: &ManagerConfig, kind: PeriodKind) -> &Cron {
        let [(_, day), (_, week)] = &self.implied;
        match (self.plan(m).and_then(|p| p.cron.as_ref()), kind) {
            (Some(c), _) => c,
            (None, PeriodKind::Day) => day,
            (None, PeriodKind::Week) => week,
        }
    }

    /// The manager's areas (None: all).
    fn areas(m: &ManagerConfig) -> Option<Vec<String>> {
        (!m.areas.is_empty() && !m.areas.iter().any(|a| a == "*")).then(|| m.areas.clone())
    }

    /// What holds a digest back, decided on `facts` by `tickets::hold` like
    /// every other automatic mail (a bounce, the rate limit it shares with
    /// notifications).
    pub(super) fn decide_hold(&self, facts: &SendFacts, now: DateTime<Utc>) -> Option<Hold> {
        let (limit, counted) = Limits {
            ack_per_hour: self.cfg.mailroom.ack_limit_per_hour,
            notification_per_hour: self.cfg.mailroom.notification_limit_per_hour,
        }
        .for_kind(MessageKind::Digest);
        hold(facts.suppressed_until, now, || facts.recent(counted), limit)
    }

    pub(super) fn rate_since(now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::hours(RATE_WINDOW_HOURS)
    }

    /// What holds a digest to `m` back now (a bounce, the rate limit), if anything.
    pub async fn hold(
        &self,
        store: &Store,
        m: &ManagerConfig,
        now: DateTime<Utc>,
    ) -> Result<Option<Hold>> {
        let facts = store
            .send_facts(&m.email, Self::rate_since(now), now)
            .await?;
        Ok(self.decide_hold(&facts, now))
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
        let tz = self.zone(m);
        let cron = self.cron(m, kind);
        let window = match which {
            // Without a cron nothing is ever sent on schedule: the next
            // window is the one running now.
            Which::Next if m.digest.is_none() => upcoming(cron, tz, now, last_due(cron, tz, now)),
            Which::Next => {
                let last = store.last_digest_end(&m.email).await?;
                upcoming(cron, tz, now, last)
            }
            Which::DueOn(day) => {
                let due = first_due_from(cron, tz, midnight(tz, day));
                Self::window_due(store, m, cron, tz, due).await?
            }
            Which::DueAt(t) => {
                let due = last_due(cron, tz, t);
                Self::window_due(store, m, cron, tz, due).await?
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
        tz: Tz,
        due: Option<DateTime<Utc>>,
    ) -> Result<Option<Window>> {
        let Some(due) = due else { return Ok(None) };
        Ok(Some(match store.recorded_window(&m.email, due).await? {
            Some(w) => w,
            None => scheduled(cron, tz, due),
        }))
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
        let tz = self.zone(m);
        let compared = compared_with(kind, counted, tz);
        let areas = Self::areas(m);
        let (facts, quiet) = store
            .digest_facts(areas.as_deref(), compared.start, counted.end)
            .await?;
        let cal = |f: &TicketFact| self.calendars.for_area(f.area.as_deref());
        let previous = digest(&facts, &quiet, compared.start, compared.end, cal);
        let d = digest(&facts, &quiet, counted.start, counted.end, cal).with_previous(previous);
        let label = match &areas {
            None => "all areas".to_string(),
            Some(a) => format!("areas {}", a.join(", ")),
        };
        let view = view(
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

    /// Renders a digest into a mail to `manager`: (Message-ID, subject, mail).
    pub(super) fn render(
        &self,
        manager: &str,
        run: &DigestRun,
        now: DateTime<Utc>,
    ) -> Result<(String, String, Rendered)> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let mid = crate::mail::compose::new_message_id("d", &unique, &self.support.email);
        let (subject, r) = self
            .renderer
            .render_digest(manager, &run.view, &mid, now)
            .map_err(|e| Error::Template {
                name: "digest".into(),
                message: e,
            })?;
        Ok((mid, subject, r))
    }

    /// The message row of a rendered digest: the manager is its recipient (a
    /// bounce of it finds them) and its envelope.
    pub(super) fn message<'a>(
        &'a self,
        manager: &'a str,
        (mid, subject, r): &'a (String, String, Rendered),
    ) -> crate::store::NewMessage<'a> {
        crate::store::NewMessage {
            ticket_id: None,
            direction: Direction::Out,
            kind: MessageKind::Digest,
            message_id: mid.clone(),
            content_hash: String::new(),
            text_hash: None,
            from_addr: self.support.email.clone(),
            from_name: Some(self.cfg.mailroom.support_name.clone()),
            to_addrs: manager.to_string(),
            cc_addrs: String::new(),
            recipient: Some(manager.to_string()),
            role: None,
            reply_token: None,
            subject: subject.clone(),
            sent_at: None,
            in_reply_to: String::new(),
            refs: String::new(),
            thread_index: None,
            text_body: r.text.as_str().into(),
            html_body: Some(r.html.as_str().into()),
            origin: None,
            reason: None,
            raw: Some(&r.raw),
            raw_codec: None,
        }
    }

    /// Queues the manager's next digest (what `digest preview` shows) now,
    /// whatever the schedule (`digest send`); it is recorded nowhere, so the
    /// scheduled digest still comes. Counts against the rate limit, and is
    /// held back like a scheduled one: `Err(hold)` then.
    pub async fn send(
        &self,
        store: &Store,
        m: &ManagerConfig,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<DigestRun, Hold>> {
        let run = self
            .digest_for(store, m, m.period, Which::Next, now)
            .await?;
        let mail = self.render(&m.email, &run, now)?;
        let queued = store
            .queue_digest(
                self.message(&m.email, &mail),
                Self::rate_since(now),
                now,
                |f| self.decide_hold(f, now),
            )
            .await?;
        Ok(queued.map(|_| run))
    }
}

fn parse_time_zone(name: &str) -> std::result::Result<Tz, String> {
    crate::sla::calendar::parse_time_zone(name)
}
