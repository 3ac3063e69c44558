//! PURE SLA core: business-hours calendars, policies, ticket clocks, digest
//! statistics and digest schedules. No database, no I/O, no clock: every
//! instant (`now` included) is passed in, in UTC.

pub mod calendar;

pub use calendar::{Calendar, CalendarError};

#[cfg(test)]
mod tests;
