//! Digest schedules: a manager's cron expression, read in their time zone,
//! and the window one digest covers.
//!
//! **The window rule.** A digest due at a scheduled time covers the time since
//! the previous scheduled time: [previous, due). The windows of a schedule
//! follow each other without gap or overlap, so every instant is in exactly
//! one digest for any cron: after `0 8 * * Mon-Fri` Monday 08:00 covers
//! Friday 08:00 to Monday 08:00, after `0 8 * * Mon` a digest covers the week
//! from Monday 08:00 to Monday 08:00 (167 or 169 hours across a DST change).
//!
//! **Catch-up.** The scheduler keys each digest on (manager, window start) and
//! asks [`owed`] what to send at `now`: the digest due at the last scheduled
//! time, starting where the manager's last recorded digest ended. A schedule
//! missed while mailroom was down (or a digest held back by a bounce or the
//! rate limit) is therefore sent once, covering everything since the last
//! digest, but at most [`MAX_CATCH_UP_DAYS`] before its due time (or its
//! regular window, when longer); the very first digest covers the regular
//! window before its due time. Nothing is in two digests, and nothing falls
//! between two unless a catch-up was capped.
//!
//! **`period`** (`day` | `week`) no longer sets the window: it says what the
//! window is compared with ([`compared_with`]). Without a cron (`digest
//! preview`/`send` of a manager who has none) it also gives the implied
//! schedule: local midnight every day (`day`), or Monday 00:00 (`week`).

use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

pub use crate::model::{PeriodKind, Window, parse_cron};
use crate::sla::calendar::{local_instant, local_naive};

/// The most recent scheduled time at or before `now`, the schedule read in
/// `tz`. None when the expression has matched nowhere in the last year or so
/// (e.g. "0 8 30 2 *"). A time skipped by a DST change runs at the jump (a
/// 02:30 schedule runs at 03:00 on the spring-forward night); a time that
/// occurs twice runs once, at its first occurrence.
pub fn last_due(cron: &Cron, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // croner reads the wall clock, which chrono cannot give at its range ends.
    local_naive(tz, now)?;
    cron.find_previous_occurrence(&now.with_timezone(&tz), true)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The first scheduled time strictly after `after`, read in `tz`.
pub fn next_due(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    local_naive(tz, after)?;
    cron.find_next_occurrence(&after.with_timezone(&tz), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The scheduled time strictly before `due` (`due` itself need not be one).
pub fn previous_due(cron: &Cron, tz: Tz, due: DateTime<Utc>) -> Option<DateTime<Utc>> {
    local_naive(tz, due)?;
    cron.find_previous_occurrence(&due.with_timezone(&tz), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The first scheduled time at or after `t`.
pub fn first_due_from(cron: &Cron, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    local_naive(tz, t)?;
    cron.find_next_occurrence(&t.with_timezone(&tz), true)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The regular window of the digest due at `due`: since the scheduled time
/// before it. A cron that matched nowhere before `due` (only at the ends of
/// time) gets the day before.
pub fn scheduled(cron: &Cron, tz: Tz, due: DateTime<Utc>) -> Window {
    let start = previous_due(cron, tz, due)
        .or_else(|| due.checked_sub_signed(Duration::days(1)))
        .unwrap_or(due);
    Window { start, end: due }
}

/// How far back a catch-up reaches: at most this many days before its due
/// time, or its regular window when that is longer (a quarterly cron). After
/// a longer outage the time before is in no digest (the scheduler logs it).
pub const MAX_CATCH_UP_DAYS: i64 = 31;

/// The digest the scheduler sends at `now`: the one due at the last
/// scheduled time at or before `now`, covering the time since `last_end` (the
/// end of the manager's latest recorded digest; capped at
/// [`MAX_CATCH_UP_DAYS`]), or, without one, its regular window
/// ([`scheduled`]). None when nothing is due: no scheduled time yet, or the
/// last digest already reaches the last scheduled time. However many
/// scheduled times were missed, this is one digest, sent once.
pub fn owed(
    cron: &Cron,
    tz: Tz,
    now: DateTime<Utc>,
    last_end: Option<DateTime<Utc>>,
) -> Option<Window> {
    let due = last_due(cron, tz, now)?;
    match last_end {
        Some(end) if end >= due => None,
        Some(end) => {
            let regular = scheduled(cron, tz, due).start;
            let cap = due
                .checked_sub_signed(Duration::days(MAX_CATCH_UP_DAYS))
                .map_or(regular, |c| c.min(regular));
            Some(Window {
                start: end.max(cap),
                end: due,
            })
        }
        None => Some(scheduled(cron, tz, due)),
    }
}

/// The next digest the manager will get, seen at `now`: the [`owed`] one if
/// there is one (the scheduler's next run sends it), else the one due at the
/// next scheduled time, from where the last digest ended (or, with none, its
/// regular window). Its numbers so far are those up to `now`.
pub fn upcoming(
    cron: &Cron,
    tz: Tz,
    now: DateTime<Utc>,
    last_end: Option<DateTime<Utc>>,
) -> Option<Window> {
    if let Some(w) = owed(cron, tz, now, last_end) {
        return Some(w);
    }
    let from = last_end.map_or(now, |e| e.max(now));
    let due = next_due(cron, tz, from)?;
    let start = last_end.unwrap_or_else(|| scheduled(cron, tz, due).start);
    Some(Window {
        start: start.min(due),
        end: due,
    })
}

/// What the numbers of window `w` are compared with (see [`PeriodKind`]),
/// in wall-clock terms of `tz`: `Day`, the span of the same local length
/// right before `w`; `Week`, the same local hours one week earlier (whole
/// weeks, as many as a window longer than a week needs not to overlap). It
/// always ends at or before `w.start`.
pub fn compared_with(kind: PeriodKind, w: Window, tz: Tz) -> Window {
    let real_len = w.end.signed_duration_since(w.start);
    let fallback = || Window {
        start: w.start.checked_sub_signed(real_len).unwrap_or(w.start),
        end: w.start,
    };
    let (Some(a), Some(b)) = (local_naive(tz, w.start), local_naive(tz, w.end)) else {
        return fallback();
    };
    let wall = b.signed_duration_since(a);
    let shifted = match kind {
        PeriodKind::Day => a
            .checked_sub_signed(wall)
            .and_then(|s| Some((local_instant(tz, s)?, w.start))),
        PeriodKind::Week => {
            let weeks = u64::try_from(wall.num_seconds().max(1))
                .unwrap_or(1)
                .div_ceil(7 * 86_400);
            let back = Days::new(7 * weeks);
            a.checked_sub_days(back)
                .zip(b.checked_sub_days(back))
                .and_then(|(s, e)| Some((local_instant(tz, s)?, local_instant(tz, e)?)))
        }
    };
    match shifted {
        Some((start, end)) => {
            let end = end.min(w.start);
            Window {
                start: start.min(end),
                end,
            }
        }
        None => fallback(),
    }
}

/// Local midnight starting `day` (the jump when midnight itself is skipped).
pub fn midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::MIN);
    // Fails only at the ends of chrono's range, where UTC is as good as any.
    local_instant(tz, local).unwrap_or_else(|| local.and_utc())
}
