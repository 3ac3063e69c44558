//! Business-hours calendars: when an SLA clock runs.
//!
//! A calendar is one open interval per open local day (`hours = "09:00-17:00"`
//! on `weekdays`, minus `holidays`, which close whole local days), in an IANA
//! time zone. Everything is computed on UTC instants, a local day at a time, so
//! daylight-saving changes fall out of the time zone database: a 09:00-17:00
//! day is 8 hours of open time on a DST day too, and "00:00-24:00" is 23 or 25
//! hours that day, like the real clock. [`Calendar::always`] is the 24/7
//! calendar ("calendar hours") for areas without one: it counts real elapsed time.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc,
};
use chrono_tz::Tz;

use serde::Deserialize;

/// `[[calendar]]` as written in the config file (which parses into it):
/// business hours for SLA clocks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    pub name: String,
    /// IANA name, e.g. "Europe/Berlin".
    pub time_zone: String,
    /// Open days ("Mon" … "Sun"); default Monday to Friday.
    #[serde(default = "default_weekdays")]
    pub weekdays: Vec<String>,
    /// One interval per open day, local time: "09:00-17:00" ("24:00" ends at midnight).
    pub hours: String,
    /// Closed local days, "YYYY-MM-DD".
    #[serde(default)]
    pub holidays: Vec<String>,
}

fn default_weekdays() -> Vec<String> {
    ["Mon", "Tue", "Wed", "Thu", "Fri"]
        .map(String::from)
        .to_vec()
}

/// A calendar key that does not parse: `field` is the key inside the
/// `[[calendar]]` entry, so config errors read `key calendar[0].hours: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CalendarError {
    pub field: &'static str,
    pub message: String,
}

impl CalendarError {
    fn new(field: &'static str, message: String) -> Self {
        CalendarError { field, message }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    name: String,
    /// None: open around the clock.
    hours: Option<Hours>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hours {
    tz: Tz,
    /// Indexed by days from Monday.
    weekdays: [bool; 7],
    /// Minutes after local midnight; `open < close <= 1440`.
    open: u32,
    close: u32,
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// Open around the clock: business time is real elapsed time.
    pub fn always() -> Calendar {
        Calendar {
            name: "24/7".into(),
            hours: None,
        }
    }

    pub fn from_config(c: &CalendarConfig) -> Result<Calendar, CalendarError> {
        let tz = parse_time_zone(&c.time_zone).map_err(|m| CalendarError::new("time_zone", m))?;
        let mut weekdays = [false; 7];
        for d in &c.weekdays {
            let wd = parse_weekday(d).map_err(|m| CalendarError::new("weekdays", m))?;
            weekdays[wd.num_days_from_monday() as usize] = true;
        }
        // Without an open day, `add` and `next_open` would never find an opening.
        if !weekdays.contains(&true) {
            return Err(CalendarError::new(
                "weekdays",
                "at least one open day is needed, e.g. [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\"]"
                    .into(),
            ));
        }
        let (open, close) = parse_hours(&c.hours).map_err(|m| CalendarError::new("hours", m))?;
        let holidays = c
            .holidays
            .iter()
            .map(|h| parse_date(h))
            .collect::<Result<BTreeSet<_>, _>>()
            .map_err(|m| CalendarError::new("holidays", m))?;
        Ok(Calendar {
            name: c.name.clone(),
            hours: Some(Hours {
                tz,
                weekdays,
                open,
                close,
                holidays,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for [`Calendar::always`].
    pub fn is_always(&self) -> bool {
        self.hours.is_none()
    }

    /// The calendar's time zone (None for the 24/7 calendar).
    pub fn time_zone(&self) -> Option<Tz> {
        self.hours.as_ref().map(|h| h.tz)
    }

    /// Whether `t` is inside business hours (open ≤ t < close).
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        let Some(h) = &self.hours else {
            return true;
        };
        // Open intervals are ordered and never overlap: stop at the first
        // one that opens after t.
        h.intervals_from(t)
            .take_while(|&(open, _)| open <= t)
            .any(|(_, close)| t < close)
    }

    /// `t` when open, else the next opening.
    pub fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let Some(h) = &self.hours else {
            return t;
        };
        h.intervals_from(t)
            .find(|&(_, close)| close > t)
            .map_or(DateTime::<Utc>::MAX_UTC, |(open, _)| open.max(t))
    }

    /// Open time between two instants (zero when `b <= a`).
    pub fn business_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        if b <= a {
            return Duration::zero();
        }
        let Some(h) = &self.hours else {
            return b - a;
        };
        let mut total = Duration::zero();
        for (open, close) in h.intervals_from(a) {
            if open >= b {
                break;
            }
            let (s, e) = (open.max(a), close.min(b));
            if e > s {
                total += e - s;
            }
        }
        total
    }

    /// The instant at which `d` of open time has passed since `start`. Counting
    /// starts at the next opening when `start` is outside hours, so a zero `d`
    /// gives [`Calendar::next_open`]; a negative `d` counts as zero. A target
    /// that ends exactly at closing time is due at closing, not next morning.
    pub fn add(&self, start: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        let d = d.max(Duration::zero());
        let Some(h) = &self.hours else {
            return start
                .checked_add_signed(d)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
        };
        let mut left = d;
        // One step per local day: a "2d" target on 8-hour days is six open
        // days, a dozen steps, not minutes.
        for (open, close) in h.intervals_from(start) {
            if close <= start {
                continue;
            }
            let from = open.max(start);
            let avail = close - from;
            if left <= avail {
                return from + left;
            }
            left -= avail;
        }
        DateTime::<Utc>::MAX_UTC
    }
}

impl Hours {
    /// The open interval of local day `date`, as UTC instants; None when the
    /// day is closed.
    fn interval(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.weekdays[date.weekday().num_days_from_monday() as usize]
            || self.holidays.contains(&date)
        {
            return None;
        }
        let midnight = date.and_time(NaiveTime::MIN);
        let at = |min: u32| {
            let local = midnight.checked_add_signed(Duration::minutes(i64::from(min)))?;
            local_instant(self.tz, local)
        };
        let (open, close) = (at(self.open)?, at(self.close)?);
        // Empty when the whole interval falls into a skipped hour.
        (open < close).then_some((open, close))
    }

    /// Open intervals in time order, from the local day before `t`'s (so
    /// that an interval that contains `t` is never missed, whatever the
    /// offset), for [`HORIZON_DAYS`].
    fn intervals_from(
        &self,
        t: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let first = local_naive(self.tz, t).map(|l| {
            let d = l.date();
            d.pred_opt().unwrap_or(d)
        });
        std::iter::successors(first, |d| d.succ_opt())
            .take(HORIZON_DAYS)
            .filter_map(|d| self.interval(d))
    }
}

/// How far the calendar looks ahead, in local days (about 110 years): a due
/// time beyond it is `DateTime::MAX_UTC` ("never"), and open time is counted
/// up to it. Real targets are far shorter (validation caps them at a year);
/// the bound keeps absurd inputs from walking chrono's whole range.
pub const HORIZON_DAYS: usize = 40_000;

/// `t` on the wall clock of `tz`; None only at the ends of chrono's range
/// (where `with_timezone(..).naive_local()` would panic).
pub(crate) fn local_naive(tz: Tz, t: DateTime<Utc>) -> Option<NaiveDateTime> {
    let utc = t.naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
    utc.checked_add_signed(Duration::seconds(i64::from(offset)))
}

/// The first instant at which the wall clock of `tz` shows `local` or later.
/// A time that occurs twice (clocks going back) is its first occurrence; a
/// time that is skipped (clocks going forward) is the instant of the jump, so
/// an interval that starts in the gap opens when the clock reaches the other
/// side. Order is kept: a later wall time never maps to an earlier instant.
/// None only at the ends of chrono's range.
pub(crate) fn local_instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => {
            // The offsets a day either side are the ones before and after the
            // jump (no zone changes twice within two days).
            let offset_at = |naive: NaiveDateTime| {
                i64::from(tz.offset_from_utc_datetime(&naive).fix().local_minus_utc())
            };
            let before = offset_at(local.checked_sub_days(Days::new(1))?);
            let after = offset_at(local.checked_add_days(Days::new(1))?);
            // Before the jump the wall clock reads less than `local`, after
            // it more: bisect for the first instant that reads `local` or
            // later (a gap is at most a few hours: ~14 steps).
            let mut lo = local
                .checked_sub_signed(Duration::seconds(after))?
                .and_utc();
            let mut hi = local
                .checked_sub_signed(Duration::seconds(before))?
                .and_utc();
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if local_naive(tz, mid).is_some_and(|m| m >= local) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            Some(hi)
        }
    }
}

/// An IANA time zone name ("Europe/Berlin", "UTC").
pub fn parse_time_zone(s: &str) -> Result<Tz, String> {
    let name = s.trim();
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    // The database is case-sensitive; point at the spelling it knows.
    let near = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(name));
    Err(match near {
        Some(tz) => format!("unknown time zone {s:?} (did you mean {:?}?)", tz.name()),
        None => {
            format!("unknown time zone {s:?}; use an IANA name like \"Europe/Berlin\" or \"UTC\"")
        }
    })
}

/// "Mon" … "Sun" (or the full English name), any case.
pub fn parse_weekday(s: &str) -> Result<chrono::Weekday, String> {
    s.trim()
        .parse::<chrono::Weekday>()
        .map_err(|_| format!("{s:?} is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"))
}

/// "09:00-17:00" as minutes after local midnight; "24:00" closes at midnight.
pub fn parse_hours(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?} is not hours like \"09:00-17:00\"");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let minute = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (open, close) = (minute(a).ok_or_else(bad)?, minute(b).ok_or_else(bad)?);
    if open >= close {
        return Err(format!(
            "{s:?}: closing must be after opening, within one day (overnight hours are not supported)"
        ));
    }
    Ok((open, close))
}

/// A local date, "YYYY-MM-DD".
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date like \"2026-12-24\""))
}
