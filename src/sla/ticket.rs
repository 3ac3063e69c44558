//! A ticket's SLA due times, as methods of the domain ticket: they live here
//! because the SLA core depends on `tickets`, never the reverse.

use chrono::{DateTime, Utc};

use super::Target;
use crate::tickets::Ticket;

impl Ticket {
    /// The SLA due times, by target.
    pub fn due_times(&self) -> [(Target, Option<DateTime<Utc>>); 3] {
        [
            (Target::FirstResponse, self.first_response_due),
            (Target::NextResponse, self.next_response_due),
            (Target::Resolution, self.resolution_due),
        ]
    }

    /// The targets whose due time has passed at `now`.
    pub fn breached(&self, now: DateTime<Utc>) -> Vec<Target> {
        self.due_times()
            .into_iter()
            .filter(|(_, d)| d.is_some_and(|d| d <= now))
            .map(|(t, _)| t)
            .collect()
    }

    /// The earliest due time and its target.
    pub fn next_due(&self) -> Option<(Target, DateTime<Utc>)> {
        self.due_times()
            .into_iter()
            .filter_map(|(t, d)| Some((t, d?)))
            .min_by_key(|(_, d)| *d)
    }
}
