use super::*;
use crate::sla::clock::Target;
use crate::sla::stats::{Breach, Count, OwnerLoad, Percentiles, Waiting, nearest_rank};
use crate::sla::{QuietBacklog, TicketFact, digest};
use crate::tickets::Status;

pub(super) fn fact(
    id: i64,
    created: &str,
    status: Status,
    owner: Option<&str>,
    customer: &str,
) -> TicketFact {
    TicketFact {
        id,
        created_at: utc(created),
        resolved_at: None,
        reopened_at: Vec::new(),
        first_response_at: None,
        status,
        owner: owner.map(String::from),
        customer: customer.into(),
        area: None,
        agent_replies_at: Vec::new(),
        breaches: Vec::new(),
        waiting_since: None,
        satisfaction: None,
    }
}

/// Monday 16 March 2026, [00:00, 24:00) UTC, as of its end.
fn monday() -> Vec<TicketFact> {
    let answered = |mut f: TicketFact, at: &str| {
        f.first_response_at = Some(utc(at));
        f.agent_replies_at.push(utc(at));
        f
    };
    let resolved = |mut f: TicketFact, at: &str| {
        f.resolved_at = Some(utc(at));
        f
    };
    let mut v = Vec::new();
    // New, answered after 2h, resolved after 4h.
    v.push(resolved(
        answered(
            fact(
                1,
                "2026-03-16 08:00",
                Status::Resolved,
                Some("bob"),
                "a@x.test",
            ),
            "2026-03-16 10:00",
        ),
        "2026-03-16 12:00",
    ));
    // New, answered after 30m, pending.
    v.push(answered(
        fact(
            2,
            "2026-03-16 10:00",
            Status::Pending,
            Some("bob"),
            "b@y.test",
        ),
        "2026-03-16 10:30",
    ));
    // New, never answered: breached its first response, waiting.
    let mut t3 = fact(
        3,
        "2026-03-16 11:00",
        Status::Open,
        Some("tess"),
        "a@x.test",
    );
    t3.breaches
        .push((Target::FirstResponse, utc("2026-03-16 12:00")));
    t3.waiting_since = Some(t3.created_at);
    v.push(t3);
    // Resolved on Sunday, reopened on Monday by a follow-up, still open.
    let mut t4 = resolved(
        answered(
            fact(
                4,
                "2026-03-15 09:00",
                Status::Open,
                Some("tess"),
                "c@y.test",
            ),
            "2026-03-15 10:00",
        ),
        "2026-03-15 12:00",
    );
    t4.reopened_at.push(utc("2026-03-16 09:00"));
    t4.waiting_since = Some(utc("2026-03-16 09:00"));
    v.push(t4);
    // Old, resolved on Monday after 55h; its breach was on Sunday.
    let mut t5 = resolved(
        answered(
            fact(
                5,
                "2026-03-14 08:00",
                Status::Resolved,
                Some("bob"),
                "d@y.test",
            ),
            "2026-03-14 09:00",
        ),
        "2026-03-16 15:00",
    );
    t5.agent_replies_at.push(utc("2026-03-16 15:00"));
    t5.breaches
        .push((Target::Resolution, utc("2026-03-15 08:00")));
    v.push(t5);
    // Billing (office hours): created 08:00 CET, answered 10:00 CET: 1 business hour.
    let mut t6 = answered(
        fact(6, "2026-03-16 07:00", Status::Pending, None, "e@x.test"),
        "2026-03-16 09:00",
    );
    t6.area = Some("billing".into());
    v.push(t6);
    // Created after the end: not part of this period at all.
    v.push(fact(
        7,
        "2026-03-17 00:00",
        Status::Open,
        Some("bob"),
        "z@z.test",
    ));
    // Old and done: counts nowhere.
    v.push(resolved(
        fact(
            8,
            "2026-03-10 08:00",
            Status::Resolved,
            Some("bob"),
            "a@x.test",
        ),
        "2026-03-12 08:00",
    ));
    // New in the evening, unassigned, waiting; the customer's case differs.
    let mut t9 = fact(9, "2026-03-16 20:00", Status::Open, None, "A@X.test");
    t9.waiting_since = Some(t9.created_at);
    v.push(t9);
    v
}

/// The same tickets as of Sunday's end (those that existed then).
fn sunday() -> Vec<TicketFact> {
    let mut t4 = fact(
        4,
        "2026-03-15 09:00",
        Status::Resolved,
        Some("tess"),
        "c@y.test",
    );
    t4.first_response_at = Some(utc("2026-03-15 10:00"));
    t4.agent_replies_at.push(utc("2026-03-15 10:00"));
    t4.resolved_at = Some(utc("2026-03-15 12:00"));
    let mut t5 = fact(
        5,
        "2026-03-14 08:00",
        Status::Pending,
        Some("bob"),
        "d@y.test",
    );
    t5.first_response_at = Some(utc("2026-03-14 09:00"));
    t5.breaches
        .push((Target::Resolution, utc("2026-03-15 08:00")));
    let mut t8 = fact(
        8,
        "2026-03-10 08:00",
        Status::Resolved,
        Some("bob"),
        "a@x.test",
    );
    t8.resolved_at = Some(utc("2026-03-12 08:00"));
    vec![t4, t5, t8]
}

fn count(name: &str, count: usize) -> Count {
    Count {
        name: name.into(),
        count,
    }
}

#[test]
fn exact_numbers_for_a_day() {
    let office = office();
    let always = Calendar::always();
    let cal = |f: &TicketFact| {
        if f.area.as_deref() == Some("billing") {
            &office
        } else {
            &always
        }
    };
    let (start, end) = (utc("2026-03-16 00:00"), utc("2026-03-17 00:00"));
    let d = digest(&monday(), &QuietBacklog::default(), start, end, cal);
    assert_eq!((d.start, d.end), (start, end));
    assert_eq!(d.new, 5, "1, 2, 3, 6, 9");
    assert_eq!(d.resolved, 2, "1, 5");
    assert_eq!(d.reopened, 1, "4");
    assert_eq!(d.backlog_at_end, 5, "2, 3, 4, 6, 9");
    // 30m, 1h (ticket 6 in business time; 2h real), 2h.
    assert_eq!(
        d.first_response,
        Percentiles {
            count: 3,
            median: Some(hours(1)),
            p90: Some(hours(2)),
        }
    );
    // 4h and 55h: the lower middle value is the median.
    assert_eq!(
        d.resolution,
        Percentiles {
            count: 2,
            median: Some(hours(4)),
            p90: Some(hours(55)),
        }
    );
    assert_eq!(
        d.breaches,
        vec![Breach {
            id: 3,
            target: Target::FirstResponse,
            at: utc("2026-03-16 12:00"),
        }]
    );
    let waiting: Vec<(i64, DateTime<Utc>)> = d
        .oldest_waiting
        .iter()
        .map(|w: &Waiting| (w.id, w.since))
        .collect();
    assert_eq!(
        waiting,
        vec![
            (4, utc("2026-03-16 09:00")),
            (3, utc("2026-03-16 11:00")),
            (9, utc("2026-03-16 20:00")),
        ]
    );
    let owner = |o: Option<&str>, open_load, answered| OwnerLoad {
        owner: o.map(String::from),
        open_load,
        answered,
    };
    assert_eq!(
        d.per_owner,
        vec![
            owner(Some("tess"), 2, 0),
            owner(Some("bob"), 1, 3),
            owner(None, 2, 1),
        ]
    );
    assert_eq!(
        d.top_customers,
        vec![
            count("a@x.test", 2 + 1),
            count("b@y.test", 1),
            count("e@x.test", 1)
        ]
    );
    assert_eq!(d.top_domains, vec![count("x.test", 4), count("y.test", 1)]);
    assert!(!d.is_empty());
    assert_eq!(d.deltas(), None);

    let prev = digest(
        &sunday(),
        &QuietBacklog::default(),
        utc("2026-03-15 00:00"),
        start,
        cal,
    );
    assert_eq!((prev.new, prev.resolved, prev.backlog_at_end), (1, 1, 1));
    assert_eq!(prev.breaches.len(), 1);
    let d = d.with_previous(prev);
    let delta = d.deltas().expect("a previous period");
    assert_eq!(
        (
            delta.new,
            delta.resolved,
            delta.reopened,
            delta.backlog_at_end,
            delta.breaches
        ),
        (4, 1, 1, 4, 0)
    );
    // First responses: 1h both days; resolution median 4h against 3h.
    assert_eq!(delta.first_response_median, Some(Duration::zero()));
    assert_eq!(delta.resolution_median, Some(hours(1)));
}

#[test]
fn a_quiet_period_is_empty_but_keeps_its_backlog() {
    let always = Calendar::always();
    let d = digest(
        &monday(),
        &QuietBacklog::default(),
        utc("2026-03-20 00:00"),
        utc("2026-03-21 00:00"),
        |_| &always,
    );
    assert!(d.is_empty());
    assert_eq!(d.new, 0);
    assert_eq!(d.backlog_at_end, 6, "the five from Monday and ticket 7");
    assert_eq!(d.first_response, Percentiles::default());
    assert!(d.top_customers.is_empty());
    let none = digest(
        &[],
        &QuietBacklog::default(),
        utc("2026-03-20 00:00"),
        utc("2026-03-21 00:00"),
        |_| &always,
    );
    assert!(none.is_empty());
    assert!(none.per_owner.is_empty());
}

/// The store counts open tickets nothing happened to instead of loading them:
/// the digest must come out the same as with every ticket loaded.
#[test]
fn a_counted_quiet_backlog_gives_the_same_digest() {
    let always = Calendar::always();
    let (start, end) = (utc("2026-03-20 00:00"), utc("2026-03-21 00:00"));
    let in_window = |t: DateTime<Utc>| start <= t && t < end;
    let all = monday();
    let (quiet, active): (Vec<TicketFact>, Vec<TicketFact>) = all.iter().cloned().partition(|f| {
        f.status != Status::Resolved
            && f.created_at < start
            && !f.resolved_at.is_some_and(in_window)
            && !f.first_response_at.is_some_and(in_window)
            && !f.reopened_at.iter().copied().any(in_window)
            && !f.agent_replies_at.iter().copied().any(in_window)
            && !f.breaches.iter().any(|&(_, at)| in_window(at))
            && !f.satisfaction.as_ref().is_some_and(|s| in_window(s.at))
    });
    assert!(quiet.len() >= 3, "the fixture has a quiet backlog");
    let mut counted = QuietBacklog::default();
    for f in &quiet {
        *counted.per_owner.entry(f.owner.clone()).or_insert(0) += 1;
    }
    let mut waiting: Vec<Waiting> = quiet
        .iter()
        .filter_map(|f| f.waiting_since.map(|since| Waiting { id: f.id, since }))
        .collect();
    waiting.sort_by_key(|w| (w.since, w.id));
    counted.oldest_waiting = waiting;
    let loaded = digest(&all, &QuietBacklog::default(), start, end, |_| &always);
    let split = digest(&active, &counted, start, end, |_| &always);
    assert_eq!(split, loaded);
    assert_eq!(split.backlog_at_end, 6);
    assert!(!split.oldest_waiting.is_empty());
}

#[test]
fn top_lists_keep_ten() {
    let always = Calendar::always();
    let facts: Vec<TicketFact> = (0..30)
        .map(|i| {
            // Customer k has k+1 tickets for k < 5, then single ones.
            let who = if i < 15 { i % 5 } else { i };
            fact(
                i,
                "2026-03-16 08:00",
                Status::Open,
                None,
                &format!("c{who:02}@d{:02}.test", who % 12),
            )
        })
        .collect();
    let d = digest(
        &facts,
        &QuietBacklog::default(),
        utc("2026-03-16 00:00"),
        utc("2026-03-17 00:00"),
        |_| &always,
    );
    assert_eq!(d.top_customers.len(), 10);
    assert_eq!(d.top_customers[0], count("c00@d00.test", 3));
    assert_eq!(d.top_customers[5], count("c15@d03.test", 1), "ties by name");
    assert_eq!(d.top_domains.len(), 10);
    assert_eq!(d.oldest_waiting.len(), 0);
}

#[test]
fn nearest_rank_percentiles() {
    let v: Vec<Duration> = (1..=10).map(mins).collect();
    assert_eq!(nearest_rank(&v, 50), Some(mins(5)));
    assert_eq!(nearest_rank(&v, 90), Some(mins(9)));
    assert_eq!(nearest_rank(&v, 100), Some(mins(10)));
    let v: Vec<Duration> = (1..=11).map(mins).collect();
    assert_eq!(nearest_rank(&v, 50), Some(mins(6)));
    assert_eq!(nearest_rank(&v, 90), Some(mins(10)));
    assert_eq!(nearest_rank(&[mins(7)], 90), Some(mins(7)));
    assert_eq!(nearest_rank(&[], 50), None);
    assert_eq!(
        Percentiles::of(vec![mins(3), mins(1), mins(2)]),
        Percentiles {
            count: 3,
            median: Some(mins(2)),
            p90: Some(mins(3)),
        }
    );
}

#[test]
fn digest_json_shows_seconds() {
    let always = Calendar::always();
    let d = digest(
        &monday(),
        &QuietBacklog::default(),
        utc("2026-03-16 00:00"),
        utc("2026-03-17 00:00"),
        |_| &always,
    );
    let j = serde_json::to_value(&d).expect("json");
    assert_eq!(j["new"], 5);
    assert_eq!(j["resolution"]["median"], 4 * 3600);
    assert_eq!(j["breaches"][0]["target"], "first_response");
    assert!(j["previous"].is_null());
}
