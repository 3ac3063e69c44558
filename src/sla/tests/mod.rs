//! Unit tests of the SLA core, all on fixed instants. The instant helpers
//! serve the digests' tests too.

mod calendar;
mod clock;
mod satisfaction;
mod stats;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Berlin;

use super::Calendar;
use crate::sla::CalendarConfig;

/// An instant written in UTC: "2026-03-16 08:00".
pub(crate) fn utc(s: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .expect("test instant")
        .and_utc()
}

/// An instant written in Berlin wall time (one that exists exactly once).
pub(crate) fn berlin(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("test instant");
    Berlin
        .from_local_datetime(&naive)
        .single()
        .expect("unambiguous Berlin time")
        .with_timezone(&Utc)
}

pub(crate) fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

pub(crate) fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}

fn calendar(weekdays: &[&str], hours: &str, holidays: &[&str]) -> Calendar {
    Calendar::from_config(&CalendarConfig {
        name: "berlin".into(),
        time_zone: "Europe/Berlin".into(),
        weekdays: weekdays.iter().map(|s| s.to_string()).collect(),
        hours: hours.into(),
        holidays: holidays.iter().map(|s| s.to_string()).collect(),
    })
    .expect("test calendar")
}

const WORKDAYS: &[&str] = &["Mon", "Tue", "Wed", "Thu", "Fri"];
const EVERY_DAY: &[&str] = &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Berlin office hours, Mon-Fri 09:00-17:00, closed 24 and 25 December 2026.
fn office() -> Calendar {
    calendar(WORKDAYS, "09:00-17:00", &["2026-12-24", "2026-12-25"])
}
