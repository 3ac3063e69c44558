//! Managers' digests, one room: the schedule (cron windows, catch-up), the
//! [`Digests`] service (facts from the store, numbers from `sla::stats`, the
//! compared span, holds, queuing) and the rendering. Must not import
//! `pipeline`, `server` or `cli`; SQL stays in `store` (`store/digest.rs`).
//!
//! `schedule.rs` and `render.rs` are pure; `service.rs` and `due.rs` (the
//! scheduler's step) are the shell. The
//! period kind, the window and cron parsing are in `crate::model`, which
//! `config` uses too (so `config` never imports `digest`). The statistics
//! stay in `sla::stats`: the store builds their facts, and `store` must not
//! import `digest`, which imports `store`.

mod due;
pub mod render;
pub mod schedule;
mod service;

#[cfg(test)]
mod tests;

pub use crate::model::{PeriodKind, Window};
pub use due::DigestsDue;
pub use service::{DigestRun, Digests, Which};
