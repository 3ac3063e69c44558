//! The SLA bench's data (benches/sla.rs), generated deterministically (but
//! for the due times, which follow the wall clock; sla/load.rs writes it):
//! tickets, each with its customer's mail, some with a relayed answer,
//! status changes and breach alerts.

use chrono::{DateTime, Duration, Utc};

use crate::corpus::Rng;

pub const SEED: u64 = 0x736c_615f_6265_6e63; // "sla_benc"
pub const AREAS: [&str; 5] = ["billing", "shipping", "accounts", "technical", "sales"];
/// The first areas count business hours (an office calendar); the others
/// run 24/7, and only their tickets are made due (a breach in office areas
/// is mailed when the office opens: the check would depend on the hour).
pub const OFFICE_AREAS: usize = 2;
pub const OWNERS_PER_AREA: usize = 10;
const CUSTOMERS: usize = 5_000;
const DOMAINS: usize = 300;
pub const SUPPORT: &str = "support@bench.test";
pub const SPAN_DAYS: i64 = 30;
/// The [sla.normal] first-response target (config) in hours.
pub const FIRST_RESPONSE_HOURS: i64 = 4;

const FIRST: &[&str] = &[
    "Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
    "Lena", "Marco", "Nadia",
];
const LAST: &[&str] = &[
    "Albrecht", "Barros", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Hoffmann", "Ivanova",
    "Jansen", "Kowalski",
];
const ORGS: &[&str] = &[
    "acme", "blue", "north", "quantum", "river", "summit", "urban",
];
const PROBLEMS: &[&str] = &[
    "Cannot log in to",
    "Error when exporting from",
    "Slow response times in",
    "Question about",
    "Wrong totals shown in",
    "Sync stopped working for",
];
const THINGS: &[&str] = &[
    "the dashboard",
    "the mobile app",
    "our billing account",
    "the CSV export",
    "the API",
    "the customer portal",
];
pub const TEXT: &str = "Hello support team, since this morning the export stops halfway with an \
error and the totals in the report do not match what we see in the dashboard. We tried \
another browser, cleared the cache and asked a colleague to try with her account, same \
result. Could you please have a look? We need the numbers for the monthly closing. ";

pub fn owner(i: usize) -> String {
    format!("agent{i:02}@bench.test")
}

pub fn lead(area: &str) -> String {
    format!("lead-{area}@bench.test")
}

pub fn customer(c: usize) -> (String, String) {
    let (first, last) = (FIRST[c % FIRST.len()], LAST[(c / FIRST.len()) % LAST.len()]);
    let d = c % DOMAINS;
    let email = format!(
        "{}.{}{c}@{}-{d}.example",
        first.to_ascii_lowercase(),
        last.to_ascii_lowercase(),
        ORGS[d % ORGS.len()]
    );
    (format!("{first} {last}"), email)
}

pub struct Ticket {
    pub id: i64,
    pub subject: String,
    pub status: &'static str,
    pub priority: &'static str,
    pub area: usize,
    pub owner: usize,
    pub customer: usize,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub first_response: Option<DateTime<Utc>>,
    pub resolved: Option<DateTime<Utc>>,
    pub fr_due: Option<DateTime<Utc>>,
    pub nr_due: Option<DateTime<Utc>>,
    pub res_due: Option<DateTime<Utc>>,
    pub waiting_since: Option<DateTime<Utc>>,
    pub pending_since: Option<DateTime<Utc>>,
    pub next_check: Option<DateTime<Utc>>,
}

/// What to generate: `tickets` over the SPAN_DAYS before `anchor` (the
/// digest's "now"), due times relative to `wall` (the real clock).
pub struct Shape {
    pub tickets: usize,
    pub resolved_percent: u64,
    pub mail_kib: usize,
    pub anchor: DateTime<Utc>,
    pub wall: DateTime<Utc>,
}

pub struct Data {
    pub tickets: Vec<Ticket>,
    /// (ticket, from, to, at)
    pub changes: Vec<(i64, &'static str, &'static str, DateTime<Utc>)>,
    /// First-response breaches: (ticket, due).
    pub alerts: Vec<(i64, DateTime<Utc>)>,
    /// Relayed answers: (ticket, at).
    pub relays: Vec<(i64, DateTime<Utc>)>,
    /// Tickets whose next check has come at `wall`.
    pub due: usize,
    pub mail_kib: usize,
}

impl Data {
    pub fn created_between(&self, from: DateTime<Utc>, end: DateTime<Utc>) -> usize {
        let t = &self.tickets;
        t.partition_point(|x| x.created < end) - t.partition_point(|x| x.created < from)
    }

    pub fn with_status(&self, s: &str) -> usize {
        self.tickets.iter().filter(|t| t.status == s).count()
    }
}

fn minutes(rng: &mut Rng, lo: usize, hi: usize) -> Duration {
    Duration::minutes(rng.range(lo, hi) as i64)
}

pub fn generate(s: &Shape) -> Data {
    let mut rng = Rng(SEED);
    let n = s.tickets.max(1);
    let span = Duration::days(SPAN_DAYS).num_seconds();
    let start = s.anchor - Duration::days(SPAN_DAYS);
    let step = (span / n as i64).max(1) as usize;
    let before_anchor = |t: DateTime<Utc>| t < s.anchor - Duration::minutes(1);
    let mut d = Data {
        tickets: Vec::with_capacity(n),
        changes: Vec::new(),
        alerts: Vec::new(),
        relays: Vec::new(),
        due: 0,
        mail_kib: s.mail_kib,
    };
    for i in 0..n {
        let id = i as i64 + 1;
        let created =
            start + Duration::seconds(span * i as i64 / n as i64 + rng.below(step) as i64);
        let area = rng.below(AREAS.len());
        let owner = area * OWNERS_PER_AREA + rng.below(OWNERS_PER_AREA);
        let u = rng.unit();
        let cust = ((u * u * CUSTOMERS as f64) as usize).min(CUSTOMERS - 1);
        let priority = match rng.below(100) {
            0..85 => "normal",
            85..95 => "high",
            _ => "low",
        };
        let late = rng.percent(1);
        let fr_delay = if late {
            Duration::hours(FIRST_RESPONSE_HOURS) + minutes(&mut rng, 10, 600)
        } else {
            minutes(&mut rng, 5, 230)
        };
        let mut first_response = Some(created + fr_delay).filter(|t| before_anchor(*t));
        // Resolved unless that would be after the anchor (recent tickets stay open).
        let resolved = first_response
            .filter(|_| rng.percent(s.resolved_percent * 107 / 100))
            .map(|f| f + minutes(&mut rng, 10, 4 * 24 * 60))
            .filter(|t| before_anchor(*t));
        let (mut status, mut waiting_since, mut pending_since) = ("open", None, None);
        if resolved.is_some() {
            status = "resolved";
        } else if rng.percent(35) {
            first_response = None;
        } else if let Some(f) = first_response {
            if rng.percent(25) {
                pending_since = Some(f + minutes(&mut rng, 1, 120)).filter(|t| before_anchor(*t));
                if pending_since.is_some() {
                    status = "pending";
                }
            } else if rng.percent(35) {
                waiting_since =
                    Some(f + minutes(&mut rng, 30, 2 * 24 * 60)).filter(|t| before_anchor(*t));
            }
        }
        if late && first_response.is_some() {
            d.alerts
                .push((id, created + Duration::hours(FIRST_RESPONSE_HOURS)));
        }
        if let Some(f) = first_response
            && rng.percent(35)
        {
            d.relays.push((id, f));
        }
        let mut updated = [first_response, resolved, waiting_since, pending_since]
            .into_iter()
            .flatten()
            .fold(created, DateTime::max);
        // Status changes: resolutions, some of them after a reopening.
        match (resolved, first_response) {
            (Some(r), _) => {
                if rng.percent(5) {
                    let len = r - created;
                    d.changes.push((id, "open", "resolved", created + len / 3));
                    d.changes.push((id, "resolved", "open", created + len / 2));
                }
                d.changes.push((id, "open", "resolved", r));
            }
            (None, Some(f)) if rng.percent(5) => {
                let t1 = f + minutes(&mut rng, 1, 60);
                let t2 = t1 + minutes(&mut rng, 60, 3 * 24 * 60);
                if before_anchor(t2) {
                    d.changes.push((id, "open", "resolved", t1));
                    d.changes.push((id, "resolved", "open", t2));
                    updated = updated.max(t2);
                }
            }
            _ => {}
        }
        if let Some(p) = pending_since {
            d.changes.push((id, "open", "pending", p));
        }
        // Clocks run for open tickets with a policy ([sla.normal]), due after
        // the wall clock (the scheduler has nothing to do for them yet).
        let (mut fr_due, mut nr_due, mut res_due) = (None, None, None);
        if status != "resolved" && priority == "normal" {
            let w = s.wall;
            fr_due = first_response
                .is_none()
                .then(|| w + minutes(&mut rng, 6 * 60, 12 * 60));
            nr_due = waiting_since.map(|_| w + minutes(&mut rng, 6 * 60, 20 * 60));
            res_due = (status == "open").then(|| w + minutes(&mut rng, 24 * 60, 10 * 24 * 60));
        }
        let next_check = [fr_due, nr_due, res_due].into_iter().flatten().min();
        d.tickets.push(Ticket {
            id,
            subject: format!(
                "{} {} (case {})",
                rng.pick(PROBLEMS),
                rng.pick(THINGS),
                1000 + rng.below(9000)
            ),
            status,
            priority,
            area,
            owner,
            customer: cust,
            created,
            updated,
            first_response,
            resolved,
            fr_due,
            nr_due,
            res_due,
            waiting_since,
            pending_since,
            next_check,
        });
    }
    // A few hundred due now: open tickets with a policy in the 24/7 areas.
    let candidates: Vec<usize> = (0..d.tickets.len())
        .filter(|&i| {
            let t = &d.tickets[i];
            t.status == "open" && t.priority == "normal" && t.area >= OFFICE_AREAS
        })
        .collect();
    let want = (n * 3 / 1000).clamp(1, candidates.len().max(1));
    let stride = (candidates.len() / want).max(1);
    for &i in candidates.iter().step_by(stride).take(want) {
        let at = s.wall - minutes(&mut rng, 1, 360);
        let t = &mut d.tickets[i];
        t.next_check = Some(at);
        if t.first_response.is_none() {
            t.fr_due = Some(at);
        } else {
            t.res_due = Some(at);
        }
        d.due += 1;
    }
    d
}
