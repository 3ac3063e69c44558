//! Unit tests of the digests' pure parts, all on fixed instants.

mod held;
mod schedule;

use chrono::{DateTime, Duration, Utc};

use crate::sla::tests::{berlin, hours, mins, utc};
