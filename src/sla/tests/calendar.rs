use proptest::prelude::*;

use super::*;
use crate::sla::CalendarError;

#[test]
fn across_a_weekend() {
    let cal = office();
    // Friday 16:00 + 2h: one hour on Friday, one on Monday.
    let fri = berlin("2026-03-13 16:00");
    assert_eq!(cal.add(fri, hours(2)), berlin("2026-03-16 10:00"));
    assert_eq!(
        cal.business_between(fri, berlin("2026-03-16 10:00")),
        hours(2)
    );
    assert!(!cal.is_open(berlin("2026-03-14 12:00")));
    assert!(cal.is_open(berlin("2026-03-13 16:59")));
    assert!(
        !cal.is_open(berlin("2026-03-13 17:00")),
        "closing is exclusive"
    );
    assert!(
        cal.is_open(berlin("2026-03-16 09:00")),
        "opening is inclusive"
    );
    assert_eq!(
        cal.next_open(berlin("2026-03-14 02:00")),
        berlin("2026-03-16 09:00")
    );
    assert_eq!(
        cal.next_open(berlin("2026-03-16 11:00")),
        berlin("2026-03-16 11:00")
    );
}

#[test]
fn holidays_close_whole_days() {
    let cal = office();
    // Wednesday 23 Dec 16:00 + 4h: 1h that day, Thu and Fri are holidays,
    // then the weekend: 3h on Monday 28th.
    assert_eq!(
        cal.add(berlin("2026-12-23 16:00"), hours(4)),
        berlin("2026-12-28 12:00")
    );
    assert_eq!(
        cal.business_between(berlin("2026-12-23 09:00"), berlin("2026-12-28 17:00")),
        hours(16)
    );
    assert!(!cal.is_open(berlin("2026-12-24 10:00")));
    assert_eq!(
        cal.next_open(berlin("2026-12-23 17:30")),
        berlin("2026-12-28 09:00")
    );
}

#[test]
fn spring_forward_in_berlin() {
    // 29 March 2026, a Sunday: 02:00 CET jumps to 03:00 CEST.
    let every_day = calendar(EVERY_DAY, "09:00-17:00", &[]);
    assert_eq!(
        every_day.business_between(berlin("2026-03-29 00:00"), berlin("2026-03-30 00:00")),
        hours(8),
        "a 09:00-17:00 day is 8 hours on the DST day too"
    );
    assert_eq!(
        every_day.add(berlin("2026-03-28 16:00"), hours(2)),
        berlin("2026-03-29 10:00")
    );
    // The office is closed that Sunday; its offset still changes in between.
    assert_eq!(
        office().add(berlin("2026-03-27 16:00"), hours(2)),
        berlin("2026-03-30 10:00")
    );
    assert_eq!(berlin("2026-03-30 10:00"), utc("2026-03-30 08:00"));
    // Round the clock in local time: that day has 23 real hours.
    let whole_days = calendar(EVERY_DAY, "00:00-24:00", &[]);
    assert_eq!(
        whole_days.business_between(berlin("2026-03-29 00:00"), berlin("2026-03-30 00:00")),
        hours(23)
    );
    // Hours that span the jump: 01:00 CET to 04:00 CEST is two real hours.
    let night = calendar(EVERY_DAY, "01:00-04:00", &[]);
    assert_eq!(
        night.business_between(utc("2026-03-28 12:00"), utc("2026-03-29 12:00")),
        hours(2)
    );
    // Opening inside the skipped hour: open from the jump (03:00 CEST).
    let late = calendar(EVERY_DAY, "02:30-05:00", &[]);
    assert_eq!(
        late.next_open(utc("2026-03-28 12:00")),
        utc("2026-03-29 01:00")
    );
    assert_eq!(
        late.business_between(utc("2026-03-28 12:00"), utc("2026-03-29 12:00")),
        hours(2)
    );
}

#[test]
fn fall_back_in_berlin() {
    // 25 October 2026, a Sunday: 03:00 CEST falls back to 02:00 CET.
    let every_day = calendar(EVERY_DAY, "09:00-17:00", &[]);
    assert_eq!(
        every_day.business_between(berlin("2026-10-25 00:00"), berlin("2026-10-26 00:00")),
        hours(8)
    );
    assert_eq!(
        office().add(berlin("2026-10-23 16:00"), hours(2)),
        berlin("2026-10-26 10:00")
    );
    assert_eq!(berlin("2026-10-26 10:00"), utc("2026-10-26 09:00"));
    let whole_days = calendar(EVERY_DAY, "00:00-24:00", &[]);
    assert_eq!(
        whole_days.business_between(berlin("2026-10-25 00:00"), berlin("2026-10-26 00:00")),
        hours(25)
    );
    // 01:00 CEST to 04:00 CET: four real hours, the repeated one included.
    let night = calendar(EVERY_DAY, "01:00-04:00", &[]);
    assert_eq!(
        night.business_between(utc("2026-10-24 12:00"), utc("2026-10-25 12:00")),
        hours(4)
    );
}

#[test]
fn starting_outside_hours_counts_from_the_opening() {
    let cal = office();
    assert_eq!(
        cal.add(berlin("2026-03-16 07:00"), hours(1)),
        berlin("2026-03-16 10:00")
    );
    assert_eq!(
        cal.add(berlin("2026-03-16 17:00"), hours(1)),
        berlin("2026-03-17 10:00")
    );
    assert_eq!(
        cal.add(berlin("2026-03-14 02:00"), Duration::zero()),
        berlin("2026-03-16 09:00"),
        "zero from outside hours is the next opening"
    );
    // A target that ends at closing time is due at closing, not next morning.
    assert_eq!(
        cal.add(berlin("2026-03-16 09:00"), hours(8)),
        berlin("2026-03-16 17:00")
    );
    assert_eq!(
        cal.business_between(berlin("2026-03-16 07:00"), berlin("2026-03-16 08:00")),
        Duration::zero()
    );
    assert_eq!(
        cal.business_between(berlin("2026-03-17 10:00"), berlin("2026-03-16 10:00")),
        Duration::zero(),
        "backwards is zero"
    );
}

#[test]
fn two_days_of_business_time() {
    // "2d" is 48 hours of open time: six 8-hour days.
    let cal = office();
    assert_eq!(
        cal.add(berlin("2026-03-16 09:00"), hours(48)),
        berlin("2026-03-23 17:00")
    );
    // A year of office hours, walked a day at a time.
    let year = cal.business_between(berlin("2026-01-01 00:00"), berlin("2027-01-01 00:00"));
    assert_eq!(
        year,
        hours(8 * (261 - 2)),
        "261 weekdays in 2026, two holidays"
    );
    assert_eq!(
        cal.add(berlin("2026-01-01 00:00"), year),
        berlin("2026-12-31 17:00")
    );
}

#[test]
fn always_counts_real_time() {
    let cal = Calendar::always();
    assert!(cal.is_always());
    let t = utc("2026-03-28 22:00");
    assert!(cal.is_open(t));
    assert_eq!(cal.next_open(t), t);
    assert_eq!(cal.add(t, hours(48)), utc("2026-03-30 22:00"));
    assert_eq!(
        cal.business_between(berlin("2026-03-29 00:00"), berlin("2026-03-30 00:00")),
        hours(23)
    );
    assert_eq!(cal.add(t, -hours(1)), t, "negative counts as zero");
}

#[test]
fn config_errors_name_the_field() {
    let bad = |weekdays: &[&str], hours: &str, holidays: &[&str], tz: &str| {
        Calendar::from_config(&CalendarConfig {
            name: "x".into(),
            time_zone: tz.into(),
            weekdays: weekdays.iter().map(|s| s.to_string()).collect(),
            hours: hours.into(),
            holidays: holidays.iter().map(|s| s.to_string()).collect(),
        })
        .expect_err("invalid")
    };
    let field = |e: CalendarError| e.field;
    assert_eq!(field(bad(WORKDAYS, "9-5", &[], "UTC")), "hours");
    assert_eq!(field(bad(WORKDAYS, "17:00-09:00", &[], "UTC")), "hours");
    assert_eq!(field(bad(WORKDAYS, "09:00-24:30", &[], "UTC")), "hours");
    assert_eq!(field(bad(&["Mo"], "09:00-17:00", &[], "UTC")), "weekdays");
    assert_eq!(field(bad(&[], "09:00-17:00", &[], "UTC")), "weekdays");
    assert_eq!(
        field(bad(WORKDAYS, "09:00-17:00", &["2026-13-01"], "UTC")),
        "holidays"
    );
    let e = bad(WORKDAYS, "09:00-17:00", &[], "europe/berlin");
    assert_eq!(e.field, "time_zone");
    assert!(e.message.contains("\"Europe/Berlin\""), "{e}");
    assert!(calendar(&["monday", "SAT"], "0:00-24:00", &[]).is_open(utc("2026-03-14 12:00")));
}

proptest! {
    /// `add` and `business_between` are inverses, and what `add` returns is
    /// never earlier than the start.
    #[test]
    fn add_and_between_agree(start_min in 0i64..(366 * 24 * 60), d_min in 0i64..(60 * 60)) {
        let cal = office();
        let start = utc("2026-01-01 00:00") + mins(start_min);
        let d = mins(d_min);
        let end = cal.add(start, d);
        prop_assert!(end >= start);
        prop_assert_eq!(cal.business_between(start, end), d);
        if d > Duration::zero() {
            prop_assert!(cal.is_open(end - Duration::seconds(1)));
        }
    }
}

#[test]
fn extreme_instants_do_not_panic() {
    let max = DateTime::<Utc>::MAX_UTC;
    let min = DateTime::<Utc>::MIN_UTC;
    for cal in [office(), Calendar::always()] {
        assert!(cal.next_open(max) >= max - hours(48));
        assert!(cal.add(max - hours(1), hours(10)) >= max - hours(1));
        assert!(cal.add(utc("2026-03-16 09:00"), Duration::MAX) > utc("2026-03-16 09:00"));
        let _ = cal.is_open(max);
        let _ = cal.is_open(min);
        let _ = cal.business_between(min, min + hours(72));
    }
}
