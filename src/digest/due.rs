//! The scheduler's digest step: every manager's owed digest, each on its
//! own (one manager's error is logged with their address and the others go
//! on), held back digests logged once, a capped catch-up said in the log.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

use super::schedule::{MAX_CATCH_UP_DAYS, owed};
use super::service::Digests;
use crate::config::ManagerConfig;
use crate::error::Result;
use crate::model::Window;
use crate::store::Store;
use crate::store::digest::Recorded;
use crate::tickets::hold::Hold;

/// What one scheduler run did about digests.
#[derive(Debug, Default)]
pub struct DigestsDue {
    pub queued: usize,
    /// Owed but held back, with why: they go out at a later run.
    pub held: Vec<(String, Hold)>,
    /// Managers whose digest failed (the others' went on), with the error.
    pub failed: Vec<(String, String)>,
}

impl Digests {
    /// Queues every scheduled digest owed at `now` (`schedule::owed`: one per
    /// manager and window, across restarts and instances; missed schedules
    /// caught up once, at most [`MAX_CATCH_UP_DAYS`] back). A digest that a
    /// bounce or the rate limit holds back is not recorded: it is owed still
    /// and goes out at a later run; each is logged once at warn level and
    /// counted in `mailroom_digests_held_back_total{reason}`. One manager's
    /// error is logged with their address and the others go on.
    pub async fn due(&self, store: &Store, now: DateTime<Utc>) -> DigestsDue {
        let mut done = DigestsDue::default();
        for (m, plan) in self.cfg.manager.iter().zip(&self.plans) {
            let Some(cron) = &plan.cron else { continue };
            if let Err(e) = self.due_for(store, m, cron, plan.tz, now, &mut done).await {
                tracing::error!(manager = %m.email, error = %e, "digest failed; the other managers' digests go on, this one is tried again at the next run");
                done.failed.push((m.email.clone(), e.to_string()));
            }
        }
        metrics::gauge!("mailroom_digests_waiting").set(done.held.len() as f64);
        done
    }

    /// The scheduled digest of one manager, if one is owed.
    async fn due_for(
        &self,
        store: &Store,
        m: &ManagerConfig,
        cron: &Cron,
        tz: Tz,
        now: DateTime<Utc>,
        done: &mut DigestsDue,
    ) -> Result<()> {
        let last = store.last_digest_end(&m.email).await?;
        let Some(window) = owed(cron, tz, now, last) else {
            return Ok(());
        };
        // Checked before the digest is computed (a held digest would be
        // computed on every run), and again where it is queued.
        if let Some(held) = self.hold(store, m, now).await? {
            self.held(&m.email, window, held, done);
            return Ok(());
        }
        let run = self
            .digest_window(store, m, m.period, window, window)
            .await?;
        let mail = if m.skip_empty && run.digest.is_empty() {
            tracing::info!(manager = %m.email, "digest skipped: nothing happened in its window (skip_empty)");
            None
        } else {
            Some(self.render(&m.email, &run, now)?)
        };
        let row = mail.as_ref().map(|mail| self.message(&m.email, mail));
        let recorded = store
            .record_digest(&m.email, window, row, Self::rate_since(now), now, |f| {
                self.decide_hold(f, now)
            })
            .await?;
        match recorded {
            Recorded::Held(held) => {
                self.held(&m.email, window, held, done);
            }
            Recorded::Before => {}
            Recorded::Queued(_) | Recorded::Empty => {
                if let Ok(mut seen) = self.held_logged.lock() {
                    seen.remove(&m.email);
                }
                if let Some(last) = last.filter(|l| *l < window.start) {
                    tracing::warn!(
                        manager = %m.email,
                        not_covered_from = %last,
                        not_covered_until = %window.start,
                        "digest catch-up capped at {MAX_CATCH_UP_DAYS} days before its due time (or its regular window, if longer): the time before is in no digest"
                    );
                }
                if matches!(recorded, Recorded::Queued(_)) {
                    done.queued += 1;
                }
            }
        }
        Ok(())
    }

    /// Notes a held-back digest; true when this is the first time for this
    /// manager, window and reason (then logged at warn level and counted).
    pub(super) fn held(&self, manager: &str, w: Window, hold: Hold, done: &mut DigestsDue) -> bool {
        let key = (w.start, hold.reason());
        let first = self
            .held_logged
            .lock()
            .map(|mut seen| seen.insert(manager.to_string(), key) != Some(key))
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
        first
    }
}
