use chrono::TimeZone;

use super::*;
use crate::sla::CalendarConfig;

/// Berlin office hours, Monday to Friday 09:00-17:00, Christmas off.
fn office() -> Calendar {
    Calendar::from_config(&CalendarConfig {
        name: "office".into(),
        time_zone: "Europe/Berlin".into(),
        weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri"]
            .map(String::from)
            .to_vec(),
        hours: "09:00-17:00".into(),
        holidays: vec!["2026-12-25".into()],
    })
    .expect("calendar")
}

fn policy(count: Count) -> Policy {
    Policy {
        count,
        autoclose_after: Some(Duration::days(7)),
        autoclose_warning: Some(Duration::days(2)),
        reopen_window: Some(Duration::days(30)),
        satisfaction: false,
    }
}

/// An instant in Berlin wall time.
fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Berlin
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn on_the_wall_clock_a_wait_is_elapsed_time_and_a_date_its_midnight() {
    let p = policy(Count::Wall(chrono_tz::Europe::Berlin));
    let cal = office();
    let friday = berlin(2026, 12, 4, 18, 30);
    assert_eq!(
        wait_ends(Wait::For(Duration::days(3)), &p, &cal, friday),
        berlin(2026, 12, 7, 18, 30)
    );
    let d = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
    assert_eq!(
        wait_ends(Wait::Until(d), &p, &cal, friday),
        berlin(2027, 1, 15, 0, 0)
    );
    let a = p.autoclose(&cal, friday).unwrap();
    assert_eq!(a.warn_at, Some(berlin(2026, 12, 9, 18, 30)));
    assert_eq!(a.close_at, berlin(2026, 12, 11, 18, 30));
}

#[test]
fn in_business_time_whole_days_are_open_days() {
    let p = policy(Count::Business);
    let cal = office();
    // Friday 18:30 is after hours: counting starts Monday 09:00; three open
    // days later is Thursday 09:00.
    let friday_evening = berlin(2026, 12, 4, 18, 30);
    assert_eq!(
        wait_ends(Wait::For(Duration::days(3)), &p, &cal, friday_evening),
        berlin(2026, 12, 10, 9, 0)
    );
    // Wednesday 14:00 plus two open days: Friday 14:00.
    assert_eq!(
        p.after(&cal, berlin(2026, 12, 9, 14, 0), Duration::days(2)),
        berlin(2026, 12, 11, 14, 0)
    );
    // Over Christmas (a holiday) and the weekend: Thursday 24th plus one
    // open day is Monday 28th.
    assert_eq!(
        p.after(&cal, berlin(2026, 12, 24, 10, 0), Duration::days(1)),
        berlin(2026, 12, 28, 10, 0)
    );
    // Hours count open hours: 4h from Friday 15:00 is Monday 11:00.
    assert_eq!(
        p.after(&cal, berlin(2026, 12, 4, 15, 0), Duration::hours(4)),
        berlin(2026, 12, 7, 11, 0)
    );
    // A date starts at its first opening: Saturday the 9th opens on Monday.
    let saturday = NaiveDate::from_ymd_opt(2027, 1, 9).unwrap();
    assert_eq!(
        wait_ends(Wait::Until(saturday), &p, &cal, friday_evening),
        berlin(2027, 1, 11, 9, 0)
    );
}

#[test]
fn the_reopen_window_is_counted_from_the_resolution() {
    let p = policy(Count::Wall(chrono_tz::UTC));
    let cal = Calendar::always();
    let resolved = berlin(2026, 11, 1, 10, 0);
    assert!(!p.past_reopen_window(&cal, resolved, resolved + Duration::days(29)));
    assert!(p.past_reopen_window(&cal, resolved, resolved + Duration::days(30)));
    let none = Policy {
        reopen_window: None,
        ..p
    };
    assert!(!none.past_reopen_window(&cal, resolved, resolved + Duration::days(3000)));
}
