//! mailroom: an email-driven support desk.
//!
//! Pure core: `mail`, `rules`, `tickets`, `sla` (no I/O), and `model` (small
//! types `config` and `digest` share). Shell: `store` (all SQL), `inbound`,
//! `outbound`, `pipeline`, `digest` (managers' digests), `server`.

pub mod cli;
pub mod config;
pub mod digest;
pub mod error;
pub mod inbound;
pub mod mail;
pub mod model;
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
