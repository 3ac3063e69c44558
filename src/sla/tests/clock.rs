use std::collections::BTreeMap;

use super::*;
use crate::sla::SlaConfig;
use crate::sla::clock::{ClockInput, Due, Target, due_at_percent, end_pause};
use crate::sla::{Targets, breached, due, next_open_for_mail, policy_for, warn_at};

fn targets() -> Targets {
    Targets {
        first_response: Some(hours(1)),
        next_response: Some(hours(4)),
        resolution: Some(hours(8)),
    }
}

#[test]
fn first_response_until_answered() {
    let cal = office();
    // Created Friday 16:30: half an hour on Friday, half on Monday.
    let mut t = ClockInput::new(berlin("2026-03-13 16:30"));
    let d = due(&cal, &targets(), &t);
    assert_eq!(d.first_response, Some(berlin("2026-03-16 09:30")));
    assert_eq!(d.next_response, None);
    assert_eq!(d.resolution, Some(berlin("2026-03-16 16:30")));
    t.first_response_at = Some(berlin("2026-03-16 09:10"));
    assert_eq!(due(&cal, &targets(), &t).first_response, None);
}

#[test]
fn next_response_runs_while_a_follow_up_waits() {
    let cal = office();
    let mut t = ClockInput::new(berlin("2026-03-16 09:00"));
    t.first_response_at = Some(berlin("2026-03-16 09:30"));
    t.waiting_since = Some(berlin("2026-03-16 15:00"));
    assert_eq!(
        due(&cal, &targets(), &t).next_response,
        Some(berlin("2026-03-17 11:00"))
    );
    t.waiting_since = None;
    assert_eq!(due(&cal, &targets(), &t).next_response, None);
    // A follow-up before any answer is the first response's business.
    let mut early = ClockInput::new(berlin("2026-03-16 09:00"));
    early.waiting_since = Some(berlin("2026-03-16 09:20"));
    assert_eq!(due(&cal, &targets(), &early).next_response, None);
}

#[test]
fn pending_pauses_the_resolution_clock() {
    let cal = office();
    let created = berlin("2026-03-16 09:00");
    let mut t = ClockInput::new(created);
    t.first_response_at = Some(berlin("2026-03-16 11:00"));
    assert_eq!(
        due(&cal, &targets(), &t).resolution,
        Some(berlin("2026-03-16 17:00"))
    );
    // The agent's answer at 11:00 makes it pending: no resolution due time.
    t.pending_since = Some(berlin("2026-03-16 11:00"));
    assert_eq!(due(&cal, &targets(), &t), Due::default());
    // The customer answers Tuesday 10:00: 6h on Monday + 1h on Tuesday were
    // spent pending, and the target moves by those 7 business hours.
    let back = berlin("2026-03-17 10:00");
    t.paused = end_pause(&cal, t.paused, berlin("2026-03-16 11:00"), back);
    assert_eq!(t.paused, hours(7));
    t.pending_since = None;
    t.waiting_since = Some(back);
    let d = due(&cal, &targets(), &t);
    assert_eq!(d.resolution, Some(berlin("2026-03-17 16:00")));
    // 2h before the pause + 6h after it = the 8h target.
    assert_eq!(
        cal.business_between(created, berlin("2026-03-16 11:00"))
            + cal.business_between(back, berlin("2026-03-17 16:00")),
        hours(8)
    );
    assert_eq!(d.next_response, Some(berlin("2026-03-17 14:00")));
    // Resolved: no clock at all.
    t.resolved_at = Some(berlin("2026-03-17 12:00"));
    assert_eq!(due(&cal, &targets(), &t), Due::default());
}

#[test]
fn breaches_and_reminders() {
    let cal = office();
    let t = ClockInput::new(berlin("2026-03-16 09:00"));
    let d = due(&cal, &targets(), &t);
    assert_eq!(breached(&d, berlin("2026-03-16 09:59")), vec![]);
    assert_eq!(
        breached(&d, berlin("2026-03-16 10:00")),
        vec![Target::FirstResponse],
        "due means breached at that instant"
    );
    assert_eq!(
        breached(&d, berlin("2026-03-17 09:00")),
        vec![Target::FirstResponse, Target::Resolution]
    );
    assert_eq!(
        warn_at(&cal, berlin("2026-03-16 09:00"), hours(1), 80),
        berlin("2026-03-16 09:48")
    );
    // 80 % of an hour that starts 30 minutes before closing.
    assert_eq!(
        warn_at(&cal, berlin("2026-03-16 16:30"), hours(1), 80),
        berlin("2026-03-17 09:18")
    );
    let warn = due_at_percent(&cal, &targets(), &t, 80);
    assert_eq!(warn.first_response, Some(berlin("2026-03-16 09:48")));
    assert_eq!(warn.resolution, Some(berlin("2026-03-16 15:24")));
    assert_eq!(d.earliest(), d.first_response);
    // 80 % of the target, then the time spent pending on top.
    let mut paused = t.clone();
    paused.paused = hours(2);
    assert_eq!(
        due_at_percent(&cal, &targets(), &paused, 80).resolution,
        Some(berlin("2026-03-17 09:24"))
    );
}

#[test]
fn mail_waits_for_the_opening() {
    let sat_night = berlin("2026-03-14 02:00");
    assert_eq!(
        next_open_for_mail(&office(), sat_night),
        berlin("2026-03-16 09:00")
    );
    assert_eq!(
        next_open_for_mail(&Calendar::always(), sat_night),
        sat_night
    );
    let tue = berlin("2026-03-17 11:00");
    assert_eq!(next_open_for_mail(&office(), tue), tue);
}

#[test]
fn target_names() {
    assert_eq!(Target::FirstResponse.as_str(), "first_response");
    assert_eq!("next_response".parse::<Target>(), Ok(Target::NextResponse));
    assert!("resolve".parse::<Target>().is_err());
    assert_eq!(
        serde_json::to_string(&Target::Resolution).expect("json"),
        "\"resolution\""
    );
}

fn sla(first: &str, next: Option<&str>, res: Option<&str>) -> SlaConfig {
    SlaConfig {
        first_response: Some(first.into()),
        next_response: next.map(String::from),
        resolution: res.map(String::from),
    }
}

#[test]
fn policy_selection() {
    let mut policies = BTreeMap::new();
    policies.insert("urgent".to_string(), sla("1h", Some("4h"), Some("8h")));
    policies.insert("gold".to_string(), sla("30m", None, Some("2d")));
    // The rule's policy wins over the priority's.
    let (name, t) = policy_for(&policies, Some("gold"), "urgent").expect("gold");
    assert_eq!(name, "gold");
    assert_eq!(t.first_response, Some(mins(30)));
    assert_eq!(t.next_response, None);
    assert_eq!(t.resolution, Some(hours(48)));
    // Else the policy named like the priority.
    let (name, t) = policy_for(&policies, None, "urgent").expect("urgent");
    assert_eq!(name, "urgent");
    assert_eq!(t, targets());
    assert_eq!(policy_for(&policies, None, "normal"), None);
    // A rule naming a policy that does not exist: the priority's still applies.
    assert_eq!(
        policy_for(&policies, Some("platinum"), "urgent").map(|p| p.0),
        Some("urgent".to_string())
    );
    assert_eq!(
        policy_for(&policies, Some("GOLD"), "low").map(|p| p.0),
        Some("gold".to_string())
    );
    assert_eq!(policy_for(&BTreeMap::new(), Some("gold"), "urgent"), None);
}

#[test]
fn targets_from_config() {
    assert_eq!(
        Targets::from_config(&sla("1h", Some("4h"), Some("8h"))),
        Ok(targets())
    );
    assert_eq!(
        Targets::from_config(&sla("0s", None, None)).map_err(|e| e.0),
        Err("first_response")
    );
    assert_eq!(
        Targets::from_config(&sla("1h", Some("soon"), None)).map_err(|e| e.0),
        Err("next_response")
    );
}
