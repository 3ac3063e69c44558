//! PURE SLA core: business-hours calendars, policies, ticket clocks, digest
//! statistics and digest schedules. No database, no I/O, no clock: every
//! instant (`now` included) is passed in, in UTC.

pub mod calendar;
pub mod clock;
pub mod policy;
pub mod schedule;
pub mod stats;

pub use calendar::{Calendar, CalendarError};
pub use clock::{ClockInput, Due, Target, breached, due, next_open_for_mail, warn_at};
pub use policy::{Targets, policy_for};
pub use schedule::{PeriodKind, last_due, next_due, parse_cron, period};
pub use stats::{Digest, TicketFact, digest};

#[cfg(test)]
mod tests;
