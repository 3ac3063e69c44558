//! Digest schedules: a manager's cron expression, read in their time zone,
//! and the period one digest covers.
//!
//! The scheduler keeps "exactly one digest per manager and period" by keying
//! each digest on (manager, period start): at any moment it asks for
//! [`last_due`] — the most recent scheduled time at or before now — and sends
//! that schedule's digest unless it already exists. A schedule missed while
//! mailroom was down is therefore sent once when it comes back, and schedules
//! missed before that one are not sent at all (their numbers are in the
//! previous-period comparison of the next digest).

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::calendar::{local_instant, local_naive};

/// What one digest covers (`[[manager]] period`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    /// The local calendar day before the due time's local day.
    #[default]
    Day,
    /// The ISO week (Monday 00:00 to Monday 00:00, local) before the one the
    /// due time falls in.
    Week,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
        }
    }
}

impl std::str::FromStr for PeriodKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(PeriodKind::Day),
            "week" => Ok(PeriodKind::Week),
            _ => Err(format!("unknown period {s:?} (day, week)")),
        }
    }
}

/// A five-field cron expression (minute hour day-of-month month day-of-week;
/// names like `Mon-Fri` and `@daily` work). Day-of-month and day-of-week
/// combine with OR when both are set, as in Vixie cron.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("bad cron {expr:?}: {e} (five fields, e.g. \"0 8 * * Mon-Fri\")"))
}

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

/// The half-open interval [start, end) a digest due at `due` covers, with
/// boundaries at local midnights in `tz`: for `Day`, the local day before the
/// due time's local day (due Tue 08:00 Berlin → Mon 00:00 to Tue 00:00
/// Berlin); for `Week`, the ISO week before the one holding the due time (due
/// any day of the week of Mon 9 March → Mon 2 March 00:00 to Mon 9 March
/// 00:00). A day is 23 or 25 hours long across a DST change. The period
/// before a period is `period(kind, start, tz)`.
pub fn period(kind: PeriodKind, due: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = local_naive(tz, due)
        .unwrap_or_else(|| due.naive_utc())
        .date();
    let end_day = match kind {
        PeriodKind::Day => day,
        PeriodKind::Week => day
            .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
            .unwrap_or(day),
    };
    let len = match kind {
        PeriodKind::Day => 1,
        PeriodKind::Week => 7,
    };
    let start_day = end_day.checked_sub_days(Days::new(len)).unwrap_or(end_day);
    (midnight(tz, start_day), midnight(tz, end_day))
}

/// Local midnight starting `day` (the jump when midnight itself is skipped).
fn midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::MIN);
    // Fails only at the ends of chrono's range, where UTC is as good as any.
    local_instant(tz, local).unwrap_or_else(|| local.and_utc())
}
