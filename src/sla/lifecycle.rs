//! A ticket's life after an answer (pure): how long it waits for the
//! customer (`#pending 3d`, `#pending until 2027-01-15`), when the scheduler
//! reminds the owner and reopens it, warns the customer and closes it
//! (`[lifecycle]`), and whether a late mail reopens a resolved ticket or
//! opens a new one. Time counts on the wall clock, or in the area's business
//! hours (`count = "business"`): there whole days are open days, so
//! `#pending 3d` on a Friday evening ends on Wednesday evening.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::Calendar;
use super::calendar::{local_instant, local_naive};
pub use crate::tickets::commands::Wait;

/// How `[lifecycle]` durations are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Elapsed time; dates are days of this time zone.
    Wall(Tz),
    /// The area calendar's open time; whole days are open days.
    Business,
}

/// `[lifecycle]` as the core reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub count: Count,
    /// A pending ticket with no answer from the customer's side for this
    /// long (from the last relayed answer) is resolved.
    pub autoclose_after: Option<Duration>,
    /// The customer's notice goes out this long before the auto-close.
    pub autoclose_warning: Option<Duration>,
    /// A customer's mail on a ticket resolved longer ago opens a new one.
    pub reopen_window: Option<Duration>,
    /// Each resolution asks the customer how satisfied they are.
    pub satisfaction: bool,
}

impl Policy {
    /// `d` after `start`, as this policy counts on `cal`.
    pub fn after(&self, cal: &Calendar, start: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        match self.count {
            Count::Wall(_) => start
                .checked_add_signed(d)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Count::Business if whole_days(d).is_some() && !cal.is_always() => {
                open_days_after(cal, start, whole_days(d).unwrap_or(0))
            }
            Count::Business => cal.add(start, d),
        }
    }

    /// The start of `date`: midnight of the wall clock's time zone, or the
    /// opening of the first open day on or after it.
    pub fn start_of(&self, cal: &Calendar, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_time(NaiveTime::MIN);
        match (self.count, cal.time_zone()) {
            (Count::Business, Some(tz)) => {
                let at = local_instant(tz, midnight).unwrap_or(DateTime::<Utc>::MAX_UTC);
                cal.next_open(at)
            }
            (Count::Wall(tz), _) => local_instant(tz, midnight).unwrap_or(DateTime::<Utc>::MAX_UTC),
            (Count::Business, None) => midnight.and_utc(),
        }
    }

    /// When the customer's notice and the auto-close of a ticket pending
    /// since its last relayed answer `answered_at` are due (None: no
    /// auto-close configured).
    pub fn autoclose(&self, cal: &Calendar, answered_at: DateTime<Utc>) -> Option<Autoclose> {
        let after = self.autoclose_after?;
        let close_at = self.after(cal, answered_at, after);
        let warn_at = self.autoclose_warning.map(|w| {
            let lead = (after - w).max(Duration::zero());
            self.after(cal, answered_at, lead)
        });
        Some(Autoclose { warn_at, close_at })
    }

    /// Whether a customer's mail at `now` on a ticket resolved at
    /// `resolved_at` opens a new ticket instead of reopening it.
    pub fn past_reopen_window(
        &self,
        cal: &Calendar,
        resolved_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        self.reopen_window
            .is_some_and(|w| self.after(cal, resolved_at, w) <= now)
    }
}

/// When a pending ticket's customer is warned, and when it is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Autoclose {
    pub warn_at: Option<DateTime<Utc>>,
    pub close_at: DateTime<Utc>,
}

/// When an agent's `#pending` wait, written at `now`, ends.
pub fn wait_ends(wait: Wait, p: &Policy, cal: &Calendar, now: DateTime<Utc>) -> DateTime<Utc> {
    match wait {
        Wait::For(d) => p.after(cal, now, d),
        Wait::Until(date) => p.start_of(cal, date),
    }
}

/// `d` in whole days, when it is whole days.
fn whole_days(d: Duration) -> Option<i64> {
    let days = d.num_days();
    (days > 0 && d == Duration::days(days)).then_some(days)
}

/// The same local time `n` open days after `start` (counted from the next
/// opening when `start` is outside hours), kept inside that day's hours.
fn open_days_after(cal: &Calendar, start: DateTime<Utc>, n: i64) -> DateTime<Utc> {
    let (Some(tz), Ok(n)) = (cal.time_zone(), usize::try_from(n)) else {
        return cal.add(start, Duration::days(n));
    };
    let from = cal.next_open(start);
    let Some(local) = local_naive(tz, from) else {
        return DateTime::<Utc>::MAX_UTC;
    };
    let days = std::iter::successors(local.date().succ_opt(), |d| d.succ_opt())
        .take(super::calendar::HORIZON_DAYS)
        .filter_map(|d| {
            // An open day: its opening instant is on that local date.
            let open = cal.next_open(local_instant(tz, d.and_time(NaiveTime::MIN))?);
            (local_naive(tz, open)?.date() == d).then_some(d)
        });
    let Some(day) = days.take(n).last() else {
        return DateTime::<Utc>::MAX_UTC;
    };
    let same_time =
        local_instant(tz, day.and_time(local.time())).unwrap_or(DateTime::<Utc>::MAX_UTC);
    // Inside the day's hours: not before its opening, at most its closing.
    let opening =
        cal.next_open(local_instant(tz, day.and_time(NaiveTime::MIN)).unwrap_or(same_time));
    if same_time <= opening {
        return opening;
    }
    if cal.is_open(same_time) {
        same_time
    } else {
        // After closing: the day's last open instant (its closing).
        opening + cal.business_between(opening, same_time)
    }
}

#[cfg(test)]
mod tests;
