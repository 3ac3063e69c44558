//! PURE SLA core: business-hours calendars, policies, ticket clocks and the
//! digest's statistics (`stats.rs`, its ratings in `satisfaction.rs`: the
//! store builds its facts, so they stay below `digest`). Must not import the store, the pipeline, `digest` or
//! anything that does I/O: every instant (`now` included) is passed in, in UTC.

pub mod alerts;
pub mod calendar;
pub mod clock;
pub mod lifecycle;
pub mod policy;
pub mod satisfaction;
pub mod stats;
mod ticket;

use std::collections::BTreeMap;

pub use calendar::{Calendar, CalendarConfig, CalendarError};
pub use clock::{ClockInput, Due, Target, breached, due, next_open_for_mail, warn_at};
pub use policy::{SlaConfig, Targets, policy_for};
pub use stats::{Digest, QuietBacklog, TicketFact, digest};

/// The calendars of a config, and which one each area counts in.
#[derive(Debug, Clone)]
pub struct Calendars {
    by_name: BTreeMap<String, Calendar>,
    /// Area name → calendar name.
    areas: BTreeMap<String, String>,
    always: Calendar,
}

impl Calendars {
    /// The `[[calendar]]` entries, and each area's calendar name; the error
    /// names the key, like config validation.
    pub fn new(
        calendars: &[CalendarConfig],
        areas: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Calendars, String> {
        let mut by_name = BTreeMap::new();
        for (i, cc) in calendars.iter().enumerate() {
            let cal = Calendar::from_config(cc).map_err(|e| format!("key calendar[{i}].{e}"))?;
            by_name.insert(cc.name.clone(), cal);
        }
        let areas = areas.into_iter().collect();
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
pub(crate) mod tests;
