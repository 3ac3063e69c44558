//! Which SLA mails are due for a ticket now: a reminder to the owner at 80 %
//! of a response target (first or next response), an escalation to the owner
//! and the area's escalation contact at a breach of any target. Each alert is
//! sent once (the caller records it); mail waits for the calendar's business
//! hours. Pure: `now` and what was sent are passed in.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::calendar::Calendar;
use super::clock::{ClockInput, Due, Target, due_at_percent};
use super::policy::Targets;
use crate::text_enum::{text_enum, text_from_str};

text_enum!(
    /// How far a target is gone.
    Level {
        /// 80 % of a response target used: the owner is reminded.
        Warning => "warning",
        /// The target passed: owner and escalation contact are told.
        Breach => "breach",
    } "SLA alert level" stored in "sla_alerts"."level"
);

text_from_str!(Level, exact);

/// The share of a response target after which the owner is reminded.
pub const WARN_PERCENT: u32 = 80;

/// One alert, keyed by the due time it is about (a ticket's next-response
/// clock runs again after every follow-up: each cycle is alerted once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alert {
    pub target: Target,
    pub level: Level,
    pub due: DateTime<Utc>,
}

/// What the scheduler does for a ticket now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// To send now, in target order.
    pub now: Vec<Alert>,
    /// When to look at the ticket again (None: nothing is left to alert).
    pub next_check: Option<DateTime<Utc>>,
}

/// The alerts of a ticket whose clock is `input`, given `due` (its due times
/// at 100 %) and the alerts `sent` before.
pub fn plan(
    cal: &Calendar,
    targets: &Targets,
    input: &ClockInput,
    due: &Due,
    sent: &HashSet<Alert>,
    now: DateTime<Utc>,
) -> Plan {
    let warn = due_at_percent(cal, targets, input, WARN_PERCENT);
    let mut p = Plan::default();
    let later = |t: DateTime<Utc>, p: &mut Plan| {
        p.next_check = Some(p.next_check.map_or(t, |n| n.min(t)));
    };
    for target in Target::ALL {
        let Some(d) = due.get(target) else { continue };
        let breach = Alert {
            target,
            level: Level::Breach,
            due: d,
        };
        if !sent.contains(&breach) {
            // Mail about a breach waits for the business hours to open.
            let mail_at = cal.next_open(d);
            if mail_at <= now {
                p.now.push(breach);
                continue;
            }
            later(mail_at, &mut p);
        }
        let response = matches!(target, Target::FirstResponse | Target::NextResponse);
        if let (true, Some(w)) = (response, warn.get(target)) {
            let warning = Alert {
                target,
                level: Level::Warning,
                due: d,
            };
            if !sent.contains(&warning) && d > now {
                let mail_at = cal.next_open(w);
                if mail_at <= now {
                    p.now.push(warning);
                } else {
                    later(mail_at, &mut p);
                }
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::CalendarConfig;
    use chrono::Duration;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid instant")
            .with_timezone(&Utc)
    }

    fn berlin() -> Calendar {
        Calendar::from_config(&CalendarConfig {
            name: "berlin".into(),
            time_zone: "Europe/Berlin".into(),
            weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri"]
                .map(String::from)
                .to_vec(),
            hours: "09:00-17:00".into(),
            holidays: vec![],
        })
        .expect("calendar")
    }

    fn targets() -> Targets {
        Targets {
            first_response: Some(Duration::hours(1)),
            next_response: Some(Duration::hours(4)),
            resolution: Some(Duration::hours(8)),
        }
    }

    #[test]
    fn reminder_at_80_percent_then_breach_once_each() {
        let cal = Calendar::always();
        let input = ClockInput::new(at("2026-11-30T10:00:00Z"));
        let due = crate::sla::clock::due(&cal, &targets(), &input);
        let plan_at = |due: &Due, sent: &HashSet<Alert>, now: &str| {
            plan(&cal, &targets(), &input, due, sent, at(now))
        };
        let mut sent = HashSet::new();
        // 30 minutes in: nothing yet; look again at 80 % (10:48).
        let p = plan_at(&due, &sent, "2026-11-30T10:30:00Z");
        assert!(p.now.is_empty());
        assert_eq!(p.next_check, Some(at("2026-11-30T10:48:00Z")));
        // 10:50: the reminder.
        let p = plan_at(&due, &sent, "2026-11-30T10:50:00Z");
        assert_eq!(p.now.len(), 1);
        assert_eq!(
            (p.now[0].target, p.now[0].level),
            (Target::FirstResponse, Level::Warning)
        );
        sent.extend(p.now.iter().copied());
        assert_eq!(p.next_check, Some(at("2026-11-30T11:00:00Z")));
        // 11:01: the breach, and never the reminder again.
        let p = plan_at(&due, &sent, "2026-11-30T11:01:00Z");
        assert_eq!(
            p.now.iter().map(|a| a.level).collect::<Vec<_>>(),
            [Level::Breach]
        );
        sent.extend(p.now.iter().copied());
        let p = plan_at(&due, &sent, "2026-11-30T11:02:00Z");
        assert!(p.now.iter().all(|a| a.target == Target::Resolution) || p.now.is_empty());
        // Resolution is breached at 18:00 (8 h): no reminder for it, only the breach.
        let p = plan_at(&due, &sent, "2026-11-30T18:00:00Z");
        assert_eq!(
            p.now,
            [Alert {
                target: Target::Resolution,
                level: Level::Breach,
                due: at("2026-11-30T18:00:00Z")
            }]
        );
    }

    #[test]
    fn a_breach_at_night_is_mailed_at_the_next_opening() {
        let cal = berlin();
        // Friday 16:30 Berlin (15:30 UTC): 1 h of business time ends Monday 09:30.
        let input = ClockInput::new(at("2026-11-27T15:30:00Z"));
        let due = crate::sla::clock::due(&cal, &targets(), &input);
        assert_eq!(due.first_response, Some(at("2026-11-30T08:30:00Z")));
        let plan_at = |due: &Due, sent: &HashSet<Alert>, now: &str| {
            plan(&cal, &targets(), &input, due, sent, at(now))
        };
        // Saturday 02:00: nothing to mail; the reminder (80 % = Monday 09:18 Berlin) is next.
        let p = plan_at(&due, &HashSet::new(), "2026-11-28T01:00:00Z");
        assert!(p.now.is_empty());
        assert_eq!(p.next_check, Some(at("2026-11-30T08:18:00Z")));
        // A breach due at 17:00 Friday evening (closing) waits for Monday 09:00.
        let late = Due {
            first_response: Some(at("2026-11-27T16:00:00Z")),
            ..Due::default()
        };
        let p = plan_at(&late, &HashSet::new(), "2026-11-28T01:00:00Z");
        assert!(p.now.is_empty());
        assert_eq!(p.next_check, Some(at("2026-11-30T08:00:00Z")));
    }
}
