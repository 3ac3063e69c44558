//! mailroom: an email-driven support desk.
//!
//! Pure core: `mail`, `rules`, `tickets`, `sla` (no I/O). Shell: `store` (all SQL),
//! `inbound`, `outbound`, `pipeline`, `server`.

pub mod cli;
pub mod config;
pub mod error;
pub mod health;
pub mod inbound;
pub mod mail;
pub mod net;
pub mod outbound;
pub mod pipeline;
pub mod rules;
pub mod server;
pub mod sla;
pub mod store;
pub mod templates;
pub mod text_enum;
pub mod tickets;
pub mod units;

pub use error::{Error, Result};
