use chrono_tz::Tz;

use super::*;
use crate::digest::schedule::{
    MAX_CATCH_UP_DAYS, PeriodKind, Window, compared_with, first_due_from, last_due, next_due, owed,
    parse_cron, previous_due, scheduled, upcoming,
};

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

/// Runs the scheduler's decision every `step` over [from, to), skipping the
/// runs in `down` (mailroom was not running): the windows sent, in order.
/// Checks on the way that a digest is sent once: right after it is recorded
/// nothing more is owed.
fn run_schedule(
    cron: &croner::Cron,
    (from, to, step): (DateTime<Utc>, DateTime<Utc>, chrono::Duration),
    down: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<Window> {
    let mut sent: Vec<Window> = Vec::new();
    let mut now = from;
    while now < to {
        if !down.is_some_and(|(a, b)| a <= now && now < b) {
            let last_end = sent.last().map(|w| w.end);
            if let Some(w) = owed(cron, BERLIN, now, last_end) {
                assert!(w.end <= now && w.start < w.end, "{w:?} at {now}");
                sent.push(w);
                // Once recorded, nothing is owed until the next scheduled
                // time, and then the digest starts where this one ended.
                assert_eq!(
                    owed(cron, BERLIN, now + mins(1), Some(w.end)),
                    None,
                    "and not again a minute later"
                );
                let next = next_due(cron, BERLIN, now).expect("a next time");
                assert_eq!(
                    owed(cron, BERLIN, next - mins(1), Some(w.end)),
                    None,
                    "sent once: nothing more before {next}"
                );
                assert_eq!(
                    owed(cron, BERLIN, next, Some(w.end)),
                    Some(Window {
                        start: w.end,
                        end: next
                    }),
                    "the next one follows on"
                );
            }
        }
        now += step;
    }
    sent
}

/// Every hour of [from, to) is in exactly one window, and the windows follow
/// each other without gap or overlap.
fn assert_tiles(windows: &[Window], from: DateTime<Utc>, to: DateTime<Utc>) {
    for pair in windows.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "contiguous: {pair:?}");
    }
    let mut h = from;
    while h < to {
        let n = windows.iter().filter(|w| w.contains(h)).count();
        assert_eq!(n, 1, "{h} is in {n} windows");
        h += hours(1);
    }
}

#[test]
fn a_week_of_weekday_mornings_across_the_october_change() {
    let cron = parse_cron("0 8 * * Mon-Fri").expect("cron");
    // Clocks go back on Sunday 25 October 2026 (03:00 CEST -> 02:00 CET).
    // First run Monday 19 October 10:00; down from Wednesday 07:00 to
    // Thursday 12:00 (Wednesday's and Thursday's times are missed); runs
    // every 15 minutes otherwise.
    let from = berlin("2026-10-19 10:00");
    let to = berlin("2026-10-27 12:00");
    let down = (berlin("2026-10-21 07:00"), berlin("2026-10-22 12:00"));
    let sent = run_schedule(&cron, (from, to, mins(15)), Some(down));
    let w = |a: &str, b: &str| Window {
        start: berlin(a),
        end: berlin(b),
    };
    assert_eq!(
        sent,
        vec![
            // The first digest: the regular window before the last due time.
            w("2026-10-16 08:00", "2026-10-19 08:00"),
            w("2026-10-19 08:00", "2026-10-20 08:00"),
            // Wednesday's and Thursday's scheduled times were missed: one
            // digest on Thursday at 12:00 covers both.
            w("2026-10-20 08:00", "2026-10-22 08:00"),
            w("2026-10-22 08:00", "2026-10-23 08:00"),
            // Friday 08:00 CEST to Monday 08:00 CET: 73 hours.
            w("2026-10-23 08:00", "2026-10-26 08:00"),
            w("2026-10-26 08:00", "2026-10-27 08:00"),
        ]
    );
    assert_eq!(sent[4].end - sent[4].start, hours(73));
    assert_eq!(sent[4].start, utc("2026-10-23 06:00"));
    assert_eq!(sent[4].end, utc("2026-10-26 07:00"));
    assert_tiles(
        &sent,
        berlin("2026-10-16 08:00"),
        berlin("2026-10-27 08:00"),
    );
    // Saturday and Sunday (and the hour that happens twice) are in Monday's.
    for t in [
        berlin("2026-10-24 12:00"),
        utc("2026-10-25 00:30"),
        utc("2026-10-25 01:30"),
        berlin("2026-10-26 07:59"),
    ] {
        assert!(sent[4].contains(t), "{t}");
    }
}

#[test]
fn a_weekly_cron_across_the_march_change() {
    let cron = parse_cron("0 8 * * Mon").expect("cron");
    // Clocks go forward on Sunday 29 March 2026. First run Wednesday 11
    // March; down from Sunday 15 to Tuesday 24 March (Monday 16's and
    // Monday 23's times are missed); hourly runs otherwise.
    let from = berlin("2026-03-11 15:00");
    let to = berlin("2026-04-08 09:00");
    let down = (berlin("2026-03-15 00:00"), berlin("2026-03-24 09:30"));
    let sent = run_schedule(&cron, (from, to, hours(1)), Some(down));
    let w = |a: &str, b: &str| Window {
        start: berlin(a),
        end: berlin(b),
    };
    assert_eq!(
        sent,
        vec![
            w("2026-03-02 08:00", "2026-03-09 08:00"),
            w("2026-03-09 08:00", "2026-03-23 08:00"),
            w("2026-03-23 08:00", "2026-03-30 08:00"),
            w("2026-03-30 08:00", "2026-04-06 08:00"),
        ]
    );
    assert_eq!(
        sent[2].end - sent[2].start,
        hours(7 * 24 - 1),
        "the short week"
    );
    assert_tiles(
        &sent,
        berlin("2026-03-02 08:00"),
        berlin("2026-04-06 08:00"),
    );
    // Without the outage: a digest every Monday, each a week.
    let every = run_schedule(&cron, (from, to, hours(1)), None);
    assert_eq!(every.len(), 5);
    assert_tiles(
        &every,
        berlin("2026-03-02 08:00"),
        berlin("2026-04-06 08:00"),
    );
}

#[test]
fn windows_of_a_schedule_at_a_skipped_and_a_repeated_hour() {
    let cron = parse_cron("30 2 * * *").expect("cron");
    // 02:30 is skipped on 29 March (runs at 03:00 CEST): 23 h 30 m; it
    // happens twice on 25 October (runs at the first): 25 hours.
    assert_eq!(
        scheduled(&cron, BERLIN, utc("2026-03-29 01:00")),
        Window {
            start: utc("2026-03-28 01:30"),
            end: utc("2026-03-29 01:00")
        }
    );
    assert_eq!(
        scheduled(&cron, BERLIN, utc("2026-10-26 01:30")),
        Window {
            start: utc("2026-10-25 00:30"),
            end: utc("2026-10-26 01:30")
        }
    );
    let sent = run_schedule(
        &cron,
        (utc("2026-10-22 12:00"), utc("2026-10-28 12:00"), mins(10)),
        None,
    );
    assert_eq!(sent.len(), 7, "22 to 28 October");
    assert_tiles(&sent, sent[0].start, utc("2026-10-28 01:30"));
    let sent = run_schedule(
        &cron,
        (utc("2026-03-26 12:00"), utc("2026-04-01 12:00"), mins(10)),
        None,
    );
    assert_tiles(&sent, sent[0].start, utc("2026-04-01 00:30"));
    assert_eq!(
        previous_due(&cron, BERLIN, utc("2026-10-26 01:30")),
        Some(utc("2026-10-25 00:30"))
    );
    assert_eq!(
        first_due_from(&cron, BERLIN, utc("2026-10-25 00:30")),
        Some(utc("2026-10-25 00:30")),
        "at or after"
    );
}

#[test]
fn a_change_of_schedule_or_a_digest_of_the_old_kind_leaves_no_gap() {
    let cron = parse_cron("0 8 * * Mon-Fri").expect("cron");
    // The last digest recorded ended at midnight (a calendar-day digest of
    // an earlier version): the next covers from there.
    let last = berlin("2026-12-01 00:00");
    assert_eq!(
        owed(&cron, BERLIN, berlin("2026-12-01 09:00"), Some(last)),
        Some(Window {
            start: last,
            end: berlin("2026-12-01 08:00")
        })
    );
    // A recorded end after the last scheduled time (another instance's
    // clock ran ahead): nothing is owed.
    assert_eq!(
        owed(
            &cron,
            BERLIN,
            berlin("2026-12-01 07:59"),
            Some(berlin("2026-12-01 08:00"))
        ),
        None
    );
    // Before any scheduled time at all: nothing.
    let never = parse_cron("0 8 30 2 *").expect("cron");
    assert_eq!(owed(&never, BERLIN, utc("2026-03-01 00:00"), None), None);
}

#[test]
fn the_next_digest_seen_on_a_sunday() {
    let cron = parse_cron("0 8 * * Mon-Fri").expect("cron");
    let sunday = berlin("2026-10-25 12:00");
    // Friday's digest went out: the next is Monday's, with this weekend.
    let fri = berlin("2026-10-23 08:00");
    assert_eq!(
        upcoming(&cron, BERLIN, sunday, Some(fri)),
        Some(Window {
            start: fri,
            end: berlin("2026-10-26 08:00")
        })
    );
    // Friday's was not sent yet (mailroom was down): that one comes first.
    let thu = berlin("2026-10-22 08:00");
    assert_eq!(
        upcoming(&cron, BERLIN, sunday, Some(thu)),
        Some(Window {
            start: thu,
            end: fri
        })
    );
    // No digest ever: the first is the one due last, Thursday to Friday.
    assert_eq!(
        upcoming(&cron, BERLIN, sunday, None),
        Some(Window {
            start: thu,
            end: fri
        })
    );
    // At the very due time, that digest is owed (the scheduler sends it).
    assert_eq!(
        upcoming(&cron, BERLIN, berlin("2026-10-26 08:00"), Some(fri)),
        Some(Window {
            start: fri,
            end: berlin("2026-10-26 08:00")
        })
    );
}

#[test]
fn what_a_window_is_compared_with() {
    let w = |a: &str, b: &str| Window {
        start: berlin(a),
        end: berlin(b),
    };
    let monday = w("2026-11-27 08:00", "2026-11-30 08:00");
    assert_eq!(
        compared_with(PeriodKind::Day, monday, BERLIN),
        w("2026-11-24 08:00", "2026-11-27 08:00"),
        "the span of the same length before"
    );
    assert_eq!(
        compared_with(PeriodKind::Week, monday, BERLIN),
        w("2026-11-20 08:00", "2026-11-23 08:00"),
        "the same hours a week before"
    );
    // Across the October change, in wall-clock hours: Friday 08:00 CEST to
    // Monday 08:00 CET (73 h) against Friday 08:00 to Monday 08:00 CEST (72 h).
    let dst = w("2026-10-23 08:00", "2026-10-26 08:00");
    assert_eq!(
        compared_with(PeriodKind::Week, dst, BERLIN),
        w("2026-10-16 08:00", "2026-10-19 08:00")
    );
    let sunday = w("2026-10-24 08:00", "2026-10-25 08:00");
    assert_eq!(sunday.end - sunday.start, hours(25));
    assert_eq!(
        compared_with(PeriodKind::Day, sunday, BERLIN),
        w("2026-10-23 08:00", "2026-10-24 08:00")
    );
    // A catch-up of two weeks is compared with the two weeks before it.
    let long = w("2026-03-09 08:00", "2026-03-23 08:00");
    assert_eq!(
        compared_with(PeriodKind::Week, long, BERLIN),
        w("2026-02-23 08:00", "2026-03-09 08:00")
    );
    // A window a little over a week: two weeks back, never overlapping.
    let over = w("2026-03-09 08:00", "2026-03-16 09:00");
    let c = compared_with(PeriodKind::Week, over, BERLIN);
    assert_eq!(c, w("2026-02-23 08:00", "2026-03-02 09:00"));
    assert!(c.end <= over.start);
    // A preview so far (Monday 08:00 to Monday 15:12) against as much before.
    let so_far = w("2026-11-30 08:00", "2026-11-30 15:12");
    assert_eq!(
        compared_with(PeriodKind::Day, so_far, BERLIN),
        w("2026-11-30 00:48", "2026-11-30 08:00")
    );
    assert_eq!(
        compared_with(PeriodKind::Week, so_far, BERLIN),
        w("2026-11-23 08:00", "2026-11-23 15:12")
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
        let _ = previous_due(&cron, BERLIN, t);
        let _ = first_due_from(&cron, BERLIN, t);
        let _ = scheduled(&cron, BERLIN, t);
        let _ = owed(&cron, BERLIN, t, Some(t));
        let _ = owed(&cron, BERLIN, t, None);
        let _ = upcoming(&cron, BERLIN, t, None);
        let w = Window { start: t, end: t };
        let _ = compared_with(PeriodKind::Week, w, BERLIN);
        let _ = compared_with(PeriodKind::Day, w, BERLIN);
    }
}

#[test]
fn a_catch_up_after_a_long_outage_covers_at_most_the_cap() {
    let cron = parse_cron("0 8 * * Mon-Fri").expect("cron");
    // The last digest ended on 2 January; mailroom was down until Monday 1 June.
    let now = berlin("2026-06-01 09:00");
    let w = owed(&cron, BERLIN, now, Some(berlin("2026-01-02 08:00"))).expect("owed");
    assert_eq!(w.end, berlin("2026-06-01 08:00"));
    assert_eq!(
        w.start,
        berlin("2026-05-01 08:00"),
        "31 days before it is due"
    );
    assert_eq!(w.end - w.start, Duration::days(MAX_CATCH_UP_DAYS));
    // A shorter outage is caught up whole.
    let last = berlin("2026-05-20 08:00");
    assert_eq!(
        owed(&cron, BERLIN, now, Some(last)).map(|w| w.start),
        Some(last)
    );
    // A regular window longer than the cap (a quarterly digest) is kept.
    let quarterly = parse_cron("0 8 1 1,4,7,10 *").expect("cron");
    let w = owed(
        &quarterly,
        BERLIN,
        berlin("2026-07-01 09:00"),
        Some(berlin("2025-01-01 08:00")),
    )
    .expect("owed");
    assert_eq!(w.start, berlin("2026-04-01 08:00"));
}

#[test]
fn digest_crons_must_fire_at_most_hourly() {
    use crate::model::digest_cron;
    for ok in ["0 8 * * Mon-Fri", "0 * * * *", "0 8 29 2 *", "@weekly"] {
        assert!(digest_cron(ok).is_ok(), "{ok}");
    }
    for (bad, why) in [
        ("0 8 30 2 *", "never fires"),
        ("0 8 31 4 *", "never fires"),
        ("* 8 * * *", "more often than hourly"),
        ("0,1 8 1 1 *", "more often than hourly"),
        ("0 8 * *", "bad cron"),
    ] {
        let e = digest_cron(bad).expect_err(bad);
        assert!(e.contains(why), "{bad}: {e}");
    }
}
