//! Unit tests of the digests' pure parts, all on fixed instants.

mod held;
mod schedule;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Berlin;

/// An instant written in UTC: "2026-03-16 08:00".
fn utc(s: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .expect("test instant")
        .and_utc()
}

/// An instant written in Berlin wall time (one that exists exactly once).
fn berlin(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("test instant");
    Berlin
        .from_local_datetime(&naive)
        .single()
        .expect("unambiguous Berlin time")
        .with_timezone(&Utc)
}

fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}
