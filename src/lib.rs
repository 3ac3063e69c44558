//! mailroom: an email-driven support desk.
//!
//! Pure core: `mail`, `rules`, `tickets` (no I/O). Shell: `store` (all SQL),
//! `inbound`, `outbound`, `pipeline`, `server`.

pub mod config;
pub mod error;
pub mod mail;
pub mod rules;
pub mod store;
pub mod tickets;

pub use error::{Error, Result};
