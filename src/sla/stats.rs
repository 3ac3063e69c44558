//! The digest's numbers, from plain per-ticket facts, so that they can be
//! tested exactly. The shell gathers the facts for the manager's areas; this
//! module only counts.
//!
//! The period is half-open, [start, end). Facts describe each ticket as of
//! `end`: `status`, `owner` and `waiting_since` are the values at the period
//! end, and instants after `end` must not be included. Tickets created at or
//! after `end` are ignored; any other ticket may be passed, and only those
//! with something to count are counted.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::calendar::Calendar;
use super::clock::Target;
use super::satisfaction::{Ratings, ratings};
use crate::tickets::{Satisfaction, Status};

/// How many rows the "top" and "oldest" lists keep.
pub const TOP: usize = 10;

/// One ticket, as the digest needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFact {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    /// The last time the ticket became resolved (None: never).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Every time it went from resolved back to open.
    pub reopened_at: Vec<DateTime<Utc>>,
    /// The first relayed agent reply.
    pub first_response_at: Option<DateTime<Utc>>,
    /// Status at the period end.
    pub status: Status,
    /// Owner at the period end.
    pub owner: Option<String>,
    /// The customer's address.
    pub customer: String,
    pub area: Option<String>,
    /// Every relayed agent reply.
    pub agent_replies_at: Vec<DateTime<Utc>>,
    /// Every SLA breach, with the due time that was missed.
    pub breaches: Vec<(Target, DateTime<Utc>)>,
    /// At the period end, since when the customer has been waiting for
    /// support: creation when never answered, else their oldest follow-up
    /// after the last agent reply. None when pending, resolved or answered.
    pub waiting_since: Option<DateTime<Utc>>,
    /// The customer's latest rating (counted in the window it arrived in).
    pub satisfaction: Option<Satisfaction>,
}

/// The open tickets that nothing happened to in a digest's windows (created
/// before them, no resolution, reopening, answer or breach in them): they only
/// add to the backlog, the owners' load and the oldest waiting, so the store
/// counts them instead of loading each — a big backlog costs a digest little.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuietBacklog {
    /// Their number per owner (None: unassigned).
    pub per_owner: BTreeMap<Option<String>, usize>,
    /// The longest-waiting of them (oldest first, at most [`TOP`]).
    pub oldest_waiting: Vec<Waiting>,
}

/// Median and 90th percentile by the nearest-rank method: of n values sorted
/// ascending, the p-th percentile is the value at 1-based rank ⌈p·n/100⌉.
/// So the median of an even count is the lower middle value (never an
/// average: every number shown is a real ticket's), and the p90 of fewer than
/// ten values is the largest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    pub count: usize,
    #[serde(serialize_with = "secs")]
    pub median: Option<Duration>,
    #[serde(serialize_with = "secs")]
    pub p90: Option<Duration>,
}

impl Percentiles {
    pub fn of(mut values: Vec<Duration>) -> Percentiles {
        values.sort();
        Percentiles {
            count: values.len(),
            median: nearest_rank(&values, 50),
            p90: nearest_rank(&values, 90),
        }
    }
}

/// The p-th percentile (1..=100) of ascending `sorted` by nearest rank.
pub fn nearest_rank(sorted: &[Duration], p: u32) -> Option<Duration> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (p as usize * n).div_ceil(100).clamp(1, n);
    sorted.get(rank - 1).copied()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    pub id: i64,
    pub target: Target,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub id: i64,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerLoad {
    /// None: unassigned tickets.
    pub owner: Option<String>,
    /// Tickets owned that are not resolved at the period end (open or pending).
    pub open_load: usize,
    /// Tickets owned that got at least one agent reply in the period (the
    /// ticket's owner at the end is credited, whoever replied).
    pub answered: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub count: usize,
}

/// A manager's numbers for one period. Counts are of tickets, not events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Created in the period.
    pub new: usize,
    /// Resolved in the period and still resolved at its end (a ticket
    /// resolved twice counts once; one reopened and left open, not at all).
    pub resolved: usize,
    /// Reopened (resolved → open) at least once in the period.
    pub reopened: usize,
    /// Created before the end and not resolved at the end (open or pending).
    pub backlog_at_end: usize,
    /// Business time (the area's calendar; real time without one) from
    /// creation to the first response, over tickets first answered in the period.
    pub first_response: Percentiles,
    /// Business time from creation to resolution, over the tickets counted
    /// in `resolved` (time spent pending included: the customer's view).
    pub resolution: Percentiles,
    /// Breaches whose due time falls in the period, by time.
    pub breaches: Vec<Breach>,
    /// Tickets waiting for support at the end, longest first (top 10).
    pub oldest_waiting: Vec<Waiting>,
    /// Per owner, most open tickets first; unassigned last.
    pub per_owner: Vec<OwnerLoad>,
    /// Customers (addresses, lowercased) by tickets created in the period, top 10.
    pub top_customers: Vec<Count>,
    /// Customer domains by tickets created in the period, top 10.
    pub top_domains: Vec<Count>,
    /// The ratings that arrived in the period (`[lifecycle] satisfaction`).
    pub satisfaction: Ratings,
    /// The same numbers for the compared span (`period`: the span before, or a week before).
    pub previous: Option<Box<Digest>>,
}

/// Changes against the previous period (this minus previous).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deltas {
    pub new: i64,
    pub resolved: i64,
    pub reopened: i64,
    pub backlog_at_end: i64,
    pub breaches: i64,
    /// None unless both periods have a value.
    #[serde(serialize_with = "secs")]
    pub first_response_median: Option<Duration>,
    #[serde(serialize_with = "secs")]
    pub resolution_median: Option<Duration>,
}

impl Digest {
    /// Nothing happened in the period: nothing created, resolved, reopened,
    /// answered, breached or rated (a backlog alone is not news). `skip_empty`
    /// managers get no mail for such a period.
    pub fn is_empty(&self) -> bool {
        self.new == 0
            && self.resolved == 0
            && self.reopened == 0
            && self.breaches.is_empty()
            && self.first_response.count == 0
            && self.per_owner.iter().all(|o| o.answered == 0)
            && self.satisfaction.overall.count == 0
    }

    /// This digest with `previous` attached (its own previous dropped: one
    /// level is all a comparison needs).
    pub fn with_previous(mut self, mut previous: Digest) -> Digest {
        previous.previous = None;
        self.previous = Some(Box::new(previous));
        self
    }

    pub fn deltas(&self) -> Option<Deltas> {
        let p = self.previous.as_deref()?;
        let diff = |a: usize, b: usize| a as i64 - b as i64;
        let dur = |a: Option<Duration>, b: Option<Duration>| a?.checked_sub(&b?);
        Some(Deltas {
            new: diff(self.new, p.new),
            resolved: diff(self.resolved, p.resolved),
            reopened: diff(self.reopened, p.reopened),
            backlog_at_end: diff(self.backlog_at_end, p.backlog_at_end),
            breaches: diff(self.breaches.len(), p.breaches.len()),
            first_response_median: dur(self.first_response.median, p.first_response.median),
            resolution_median: dur(self.resolution.median, p.resolution.median),
        })
    }
}

/// The digest of [start, end) over `facts` and the `quiet` backlog (created
/// before `start`); `calendar` gives each ticket's calendar (its area's, or
/// [`Calendar::always`]).
pub fn digest<'c>(
    facts: &[TicketFact],
    quiet: &QuietBacklog,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    calendar: impl Fn(&TicketFact) -> &'c Calendar,
) -> Digest {
    let mut tally = Tally::new(start, end);
    for f in facts.iter().filter(|f| f.created_at < end) {
        tally.count(f, calendar(f));
    }
    let mut d = tally.finish(quiet);
    d.satisfaction = ratings(facts, start, end);
    d
}

/// A digest being counted, with what is sorted or summed at the end.
struct Tally<'f> {
    d: Digest,
    first_times: Vec<Duration>,
    resolution_times: Vec<Duration>,
    /// Per owner: open load, answered in the period.
    owners: BTreeMap<Option<&'f str>, (usize, usize)>,
    customers: BTreeMap<String, usize>,
    domains: BTreeMap<String, usize>,
}

impl<'f> Tally<'f> {
    fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Tally<'f> {
        Tally {
            d: Digest {
                start,
                end,
                new: 0,
                resolved: 0,
                reopened: 0,
                backlog_at_end: 0,
                first_response: Percentiles::default(),
                resolution: Percentiles::default(),
                breaches: Vec::new(),
                oldest_waiting: Vec::new(),
                per_owner: Vec::new(),
                top_customers: Vec::new(),
                top_domains: Vec::new(),
                satisfaction: Ratings::default(),
                previous: None,
            },
            first_times: Vec::new(),
            resolution_times: Vec::new(),
            owners: BTreeMap::new(),
            customers: BTreeMap::new(),
            domains: BTreeMap::new(),
        }
    }

    fn in_period(&self, t: DateTime<Utc>) -> bool {
        self.d.start <= t && t < self.d.end
    }

    /// One ticket created before the end, on its calendar `cal`.
    fn count(&mut self, f: &'f TicketFact, cal: &Calendar) {
        let unresolved = f.status != Status::Resolved;
        if self.in_period(f.created_at) {
            self.d.new += 1;
            let customer = f.customer.trim().to_ascii_lowercase();
            if let Some((_, domain)) = customer.rsplit_once('@') {
                *self.domains.entry(domain.to_string()).or_insert(0) += 1;
            }
            *self.customers.entry(customer).or_insert(0) += 1;
        }
        if let Some(at) = f
            .resolved_at
            .filter(|&at| self.in_period(at) && !unresolved)
        {
            self.d.resolved += 1;
            self.resolution_times
                .push(cal.business_between(f.created_at, at));
        }
        if f.reopened_at.iter().any(|&t| self.in_period(t)) {
            self.d.reopened += 1;
        }
        if unresolved {
            self.d.backlog_at_end += 1;
        }
        if let Some(at) = f.first_response_at.filter(|&at| self.in_period(at)) {
            self.first_times
                .push(cal.business_between(f.created_at, at));
        }
        let (start, end) = (self.d.start, self.d.end);
        self.d.breaches.extend(
            f.breaches
                .iter()
                .filter(|(_, at)| start <= *at && *at < end)
                .map(|&(target, at)| Breach {
                    id: f.id,
                    target,
                    at,
                }),
        );
        if let Some(since) = f.waiting_since.filter(|_| unresolved) {
            self.d.oldest_waiting.push(Waiting { id: f.id, since });
        }
        let answered = f.agent_replies_at.iter().any(|&t| self.in_period(t));
        if unresolved || answered {
            let row = self.owners.entry(f.owner.as_deref()).or_insert((0, 0));
            row.0 += usize::from(unresolved);
            row.1 += usize::from(answered);
        }
    }

    /// The digest with the `quiet` backlog added, sorted and cut to the top.
    fn finish(mut self, quiet: &'f QuietBacklog) -> Digest {
        let mut d = self.d;
        for (owner, &n) in &quiet.per_owner {
            d.backlog_at_end += n;
            self.owners.entry(owner.as_deref()).or_insert((0, 0)).0 += n;
        }
        d.oldest_waiting
            .extend(quiet.oldest_waiting.iter().cloned());
        d.first_response = Percentiles::of(self.first_times);
        d.resolution = Percentiles::of(self.resolution_times);
        d.breaches.sort_by_key(|b| (b.at, b.id, b.target));
        d.oldest_waiting.sort_by_key(|w| (w.since, w.id));
        d.oldest_waiting.truncate(TOP);
        d.per_owner = per_owner(self.owners);
        d.top_customers = top(self.customers);
        d.top_domains = top(self.domains);
        d
    }
}

/// Most loaded first; ties by answers, then name; unassigned at the bottom.
fn per_owner(owners: BTreeMap<Option<&str>, (usize, usize)>) -> Vec<OwnerLoad> {
    let mut v: Vec<OwnerLoad> = owners
        .into_iter()
        .map(|(owner, (open_load, answered))| OwnerLoad {
            owner: owner.map(str::to_string),
            open_load,
            answered,
        })
        .collect();
    v.sort_by(|a, b| {
        (a.owner.is_none(), b.open_load, b.answered, &a.owner).cmp(&(
            b.owner.is_none(),
            a.open_load,
            a.answered,
            &b.owner,
        ))
    });
    v
}

/// Highest counts first, ties by name; at most [`TOP`].
fn top(counts: BTreeMap<String, usize>) -> Vec<Count> {
    let mut v: Vec<Count> = counts
        .into_iter()
        .map(|(name, count)| Count { name, count })
        .collect();
    // Stable sort over the BTreeMap's name order keeps ties alphabetical.
    v.sort_by_key(|c| std::cmp::Reverse(c.count));
    v.truncate(TOP);
    v
}

/// Durations as whole seconds in JSON.
fn secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.num_seconds()),
        None => s.serialize_none(),
    }
}
