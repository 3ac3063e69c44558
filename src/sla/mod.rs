//! PURE SLA core: business-hours calendars, policies, ticket clocks and the
//! digest's statistics (`stats.rs`: the store builds its facts, so they stay
//! below `digest`). Must not import the store, the pipeline, `digest` or
//! anything that does I/O: every instant (`now` included) is passed in, in UTC.

pub mod alerts;
pub mod calendar;
pub mod clock;
pub mod policy;
pub mod stats;

use std::collections::BTreeMap;

pub use calendar::{Calendar, CalendarError};
pub use clock::{ClockInput, Due, Target, breached, due, next_open_for_mail, warn_at};
pub use policy::{Targets, policy_for};
pub use stats::{Digest, QuietBacklog, TicketFact, digest};

use crate::config::Config;

/// The calendars of a config, and which one each area counts in.
#[derive(Debug, Clone)]
pub struct Calendars {
    by_name: BTreeMap<String, Calendar>,
    /// Area name → calendar name.
    areas: BTreeMap<String, String>,
    always: Calendar,
}

impl Calendars {
    /// From a config; the error names the key, like config validation.
    pub fn from_config(c: &Config) -> Result<Calendars, String> {
        let mut by_name = BTreeMap::new();
        for (i, cc) in c.calendar.iter().enumerate() {
            let cal = Calendar::from_config(cc).map_err(|e| format!("key calendar[{i}].{e}"))?;
            by_name.insert(cc.name.clone(), cal);
        }
        let areas = c
            .area
            .iter()
            .filter_map(|a| Some((a.name.clone(), a.calendar.clone()?)))
            .collect();
        Ok(Calendars {
            by_name,
            areas,
            always: Calendar::always(),
        })
    }

    /// The calendar an area's clocks count in: its `calendar`, or 24/7 when
    /// it has none (or no area).
    pub fn for_area(&self, area: Option<&str>) -> &Calendar {
        area.and_then(|a| self.areas.get(a))
            .and_then(|name| self.by_name.get(name))
            .unwrap_or(&self.always)
    }

    pub fn get(&self, name: &str) -> Option<&Calendar> {
        self.by_name.get(name)
    }
}

#[cfg(test)]
mod tests;
