use chrono_tz::Tz;

use super::*;
use crate::sla::{PeriodKind, last_due, next_due, parse_cron, period};

const BERLIN: Tz = chrono_tz::Europe::Berlin;

#[test]
fn weekday_mornings_across_a_weekend_and_dst() {
    let cron = parse_cron("0 8 * * Mon-Fri").expect("cron");
    // Friday 27 March is 08:00 CET (07:00 UTC); Monday 30 March 08:00 CEST (06:00 UTC).
    let fri = utc("2026-03-27 07:00");
    let mon = utc("2026-03-30 06:00");
    assert_eq!(next_due(&cron, BERLIN, fri), Some(mon));
    assert_eq!(
        last_due(&cron, BERLIN, utc("2026-03-30 05:59")),
        Some(fri),
        "Monday 07:59 CEST: Friday's was the last"
    );
    assert_eq!(last_due(&cron, BERLIN, mon), Some(mon), "at or before now");
    assert_eq!(
        next_due(&cron, BERLIN, mon),
        Some(utc("2026-03-31 06:00")),
        "strictly after"
    );
    // Back to CET in October.
    assert_eq!(
        next_due(&cron, BERLIN, utc("2026-10-23 06:00")),
        Some(utc("2026-10-26 07:00"))
    );
    // Down from Thursday 10:00 to Monday 10:00: only Monday's is due.
    assert_eq!(
        last_due(&cron, BERLIN, berlin("2026-03-30 10:00")),
        Some(berlin("2026-03-30 08:00"))
    );
}

#[test]
fn skipped_and_repeated_hours() {
    let cron = parse_cron("30 2 * * *").expect("cron");
    // 02:30 does not exist on 29 March: it runs at the jump, 03:00 CEST.
    assert_eq!(
        next_due(&cron, BERLIN, utc("2026-03-28 12:00")),
        Some(utc("2026-03-29 01:00"))
    );
    assert_eq!(
        last_due(&cron, BERLIN, utc("2026-03-29 12:00")),
        Some(utc("2026-03-29 01:00"))
    );
    // 02:30 happens twice on 25 October: it runs once, at the first.
    assert_eq!(
        next_due(&cron, BERLIN, utc("2026-10-24 12:00")),
        Some(utc("2026-10-25 00:30"))
    );
    assert_eq!(
        next_due(&cron, BERLIN, utc("2026-10-25 00:30")),
        Some(utc("2026-10-26 01:30"))
    );
    assert_eq!(
        last_due(&cron, BERLIN, utc("2026-10-25 01:45")),
        Some(utc("2026-10-25 00:30"))
    );
}

#[test]
fn cron_syntax() {
    assert!(parse_cron("@daily").is_ok());
    assert!(parse_cron("0 8 * * 1-5").is_ok());
    for bad in [
        "0 8 * *",
        "61 8 * * *",
        "0 0 8 * * Mon",
        "",
        "0 8 * * Mon-Fry",
    ] {
        let e = parse_cron(bad).expect_err(bad);
        assert!(e.starts_with("bad cron"), "{e}");
    }
    // Never matches: no due time rather than an endless search.
    let never = parse_cron("0 8 30 2 *").expect("cron");
    assert_eq!(last_due(&never, BERLIN, utc("2026-03-01 00:00")), None);
    assert_eq!(next_due(&never, BERLIN, utc("2026-03-01 00:00")), None);
}

#[test]
fn period_bounds() {
    // Due Tuesday 08:00 Berlin: Monday 00:00 to Tuesday 00:00 Berlin.
    let due = berlin("2026-03-17 08:00");
    assert_eq!(
        period(PeriodKind::Day, due, BERLIN),
        (berlin("2026-03-16 00:00"), berlin("2026-03-17 00:00"))
    );
    assert_eq!(berlin("2026-03-16 00:00"), utc("2026-03-15 23:00"));
    // A due time at midnight covers the day that just ended.
    assert_eq!(
        period(PeriodKind::Day, berlin("2026-03-17 00:00"), BERLIN),
        (berlin("2026-03-16 00:00"), berlin("2026-03-17 00:00"))
    );
    // The spring-forward Sunday is 23 hours long.
    let (start, end) = period(PeriodKind::Day, berlin("2026-03-30 08:00"), BERLIN);
    assert_eq!(
        (start, end),
        (utc("2026-03-28 23:00"), utc("2026-03-29 22:00"))
    );
    assert_eq!(end - start, hours(23));
    // Week: the ISO week before the one the due time falls in.
    assert_eq!(
        period(PeriodKind::Week, berlin("2026-03-18 08:00"), BERLIN),
        (berlin("2026-03-09 00:00"), berlin("2026-03-16 00:00"))
    );
    assert_eq!(
        period(PeriodKind::Week, berlin("2026-03-16 00:00"), BERLIN),
        (berlin("2026-03-09 00:00"), berlin("2026-03-16 00:00"))
    );
    let (start, end) = period(PeriodKind::Week, berlin("2026-03-30 08:00"), BERLIN);
    assert_eq!(
        (start, end),
        (berlin("2026-03-23 00:00"), berlin("2026-03-30 00:00"))
    );
    assert_eq!(end - start, hours(7 * 24 - 1));
    // The period before a period.
    assert_eq!(
        period(PeriodKind::Day, start, BERLIN),
        (berlin("2026-03-22 00:00"), berlin("2026-03-23 00:00"))
    );
    assert_eq!(
        period(PeriodKind::Week, start, BERLIN),
        (berlin("2026-03-16 00:00"), berlin("2026-03-23 00:00"))
    );
    // UTC managers get UTC days.
    assert_eq!(
        period(PeriodKind::Day, utc("2026-03-17 08:00"), Tz::UTC),
        (utc("2026-03-16 00:00"), utc("2026-03-17 00:00"))
    );
}

#[test]
fn period_names() {
    assert_eq!("Week".parse::<PeriodKind>(), Ok(PeriodKind::Week));
    assert_eq!(PeriodKind::default().as_str(), "day");
    assert!("month".parse::<PeriodKind>().is_err());
}

#[test]
fn extreme_instants_do_not_panic() {
    let cron = parse_cron("0 8 * * Mon-Fri").expect("cron");
    for t in [
        DateTime::<Utc>::MAX_UTC,
        DateTime::<Utc>::MAX_UTC - hours(24 * 10),
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MIN_UTC + hours(24 * 10),
    ] {
        let _ = last_due(&cron, BERLIN, t);
        let _ = next_due(&cron, BERLIN, t);
        let _ = period(PeriodKind::Week, t, BERLIN);
    }
}
