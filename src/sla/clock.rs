//! The ticket clock: due times from a ticket's history, a policy's targets and
//! the area's calendar. Pure: the caller passes every instant, `now` included.
//!
//! # Rules
//!
//! - **First response** is due `first_response` of business time after the
//!   ticket was created, until the first agent reply is relayed.
//! - **Next response** is due `next_response` of business time after the
//!   customer's oldest follow-up that support has not answered yet
//!   (`waiting_since`, counted only after the first response).
//! - **Resolution** is due `resolution` of business time after creation, plus
//!   the business time the ticket spent pending.
//!
//! # The pause rule
//!
//! While a ticket is pending (waiting for the customer) its resolution clock
//! is paused: there is no resolution due time. When it leaves pending (the
//! customer's follow-up reopens it, or an agent's `#open`), the business
//! time spent pending is added to `paused` ([`end_pause`]) and the clock
//! restarts with the target moved by that much. Response clocks do not pause:
//! a pending ticket has been answered, and a follow-up starts the next
//! response clock. A resolved ticket has no due times at all.

use chrono::{DateTime, Duration, Utc};

use super::calendar::Calendar;
use super::policy::Targets;

/// Which target of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl Target {
    pub const ALL: [Target; 3] = [
        Target::FirstResponse,
        Target::NextResponse,
        Target::Resolution,
    ];

    /// The texts of `ALL`, in order (as stored in `sla_alerts.target`).
    pub const NAMES: [&'static str; 3] = [
        Target::FirstResponse.as_str(),
        Target::NextResponse.as_str(),
        Target::Resolution.as_str(),
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Target::FirstResponse => "first_response",
            Target::NextResponse => "next_response",
            Target::Resolution => "resolution",
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Target::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| format!("unknown SLA target {s:?}"))
    }
}

/// What the clock needs to know about a ticket, all in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockInput {
    pub created_at: DateTime<Utc>,
    /// The first relayed agent reply.
    pub first_response_at: Option<DateTime<Utc>>,
    /// The customer's oldest unanswered follow-up after the first response;
    /// None when support has answered.
    pub waiting_since: Option<DateTime<Utc>>,
    /// Some while the ticket is pending (waiting for the customer).
    pub pending_since: Option<DateTime<Utc>>,
    /// Business time spent pending in earlier, finished pending spans.
    pub paused: Duration,
    /// Some while the ticket is resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl ClockInput {
    /// A ticket created at `created_at` with nothing else yet.
    pub fn new(created_at: DateTime<Utc>) -> ClockInput {
        ClockInput {
            created_at,
            first_response_at: None,
            waiting_since: None,
            pending_since: None,
            paused: Duration::zero(),
            resolved_at: None,
        }
    }
}

/// Due times; None where no clock runs (no target, already met, paused, resolved).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Due {
    pub first_response: Option<DateTime<Utc>>,
    pub next_response: Option<DateTime<Utc>>,
    pub resolution: Option<DateTime<Utc>>,
}

impl Due {
    pub fn get(&self, t: Target) -> Option<DateTime<Utc>> {
        match t {
            Target::FirstResponse => self.first_response,
            Target::NextResponse => self.next_response,
            Target::Resolution => self.resolution,
        }
    }

    /// The earliest due time, for an indexed "next thing due" column.
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        Target::ALL.into_iter().filter_map(|t| self.get(t)).min()
    }
}

/// Due times of a ticket (the module doc has the rules).
pub fn due(cal: &Calendar, targets: &Targets, input: &ClockInput) -> Due {
    due_at_percent(cal, targets, input, 100)
}

/// When `percent` of each running target's business time has been used: the
/// reminder times (80) next to the due times (100). For resolution the time
/// spent pending is not "used", so it is added after scaling.
pub fn due_at_percent(cal: &Calendar, targets: &Targets, input: &ClockInput, percent: u32) -> Due {
    if input.resolved_at.is_some() {
        return Due::default();
    }
    let scaled = |d: Option<Duration>| d.map(|d| scale(d, percent));
    let first_response = match input.first_response_at {
        None => scaled(targets.first_response).map(|d| cal.add(input.created_at, d)),
        Some(_) => None,
    };
    let next_response = match (input.first_response_at, input.waiting_since) {
        (Some(_), Some(since)) => scaled(targets.next_response).map(|d| cal.add(since, d)),
        _ => None,
    };
    let resolution = match input.pending_since {
        Some(_) => None,
        None => scaled(targets.resolution).map(|d| {
            let d = d.checked_add(&input.paused).unwrap_or(Duration::MAX);
            cal.add(input.created_at, d)
        }),
    };
    Due {
        first_response,
        next_response,
        resolution,
    }
}

/// The targets breached at `now`: due at or before it.
pub fn breached(due: &Due, now: DateTime<Utc>) -> Vec<Target> {
    Target::ALL
        .into_iter()
        .filter(|&t| due.get(t).is_some_and(|d| d <= now))
        .collect()
}

/// The instant at which `percent` of `target`'s business time has passed
/// since `start` (the owner's reminder at 80 %; the escalation is at 100 %).
pub fn warn_at(
    cal: &Calendar,
    start: DateTime<Utc>,
    target: Duration,
    percent: u32,
) -> DateTime<Utc> {
    cal.add(start, scale(target, percent))
}

/// When mail about something that happened at `t` (a reminder, a breach) is
/// sent: at `t` inside business hours, else at the next opening, so a breach
/// at 02:00 on a Saturday is mailed on Monday morning.
pub fn next_open_for_mail(cal: &Calendar, t: DateTime<Utc>) -> DateTime<Utc> {
    cal.next_open(t)
}

/// `paused` after a pending span from `pending_since` to `ended_at` ends:
/// the business time it covered is added.
pub fn end_pause(
    cal: &Calendar,
    paused: Duration,
    pending_since: DateTime<Utc>,
    ended_at: DateTime<Utc>,
) -> Duration {
    let spent = cal.business_between(pending_since, ended_at);
    paused.checked_add(&spent).unwrap_or(Duration::MAX)
}

/// `percent` of `d`, to the millisecond (saturating, never negative).
fn scale(d: Duration, percent: u32) -> Duration {
    let ms = i128::from(d.num_milliseconds()) * i128::from(percent) / 100;
    Duration::milliseconds(ms.clamp(0, i128::from(i64::MAX / 2)) as i64)
}
