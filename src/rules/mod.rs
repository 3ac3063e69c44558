//! Routing: which area, priority and owner a new ticket gets. This is the seam
//! the rules engine plugs into: [`DefaultRouter`] applies the config defaults,
//! [`RulesRouter`] a rules file (DESIGN §7). Must not import `store`,
//! `pipeline` or anything that does I/O beyond reading the rules file.
//!
//! The engine is pure: `model` (the file's shape), `check` (parse + validate,
//! every error with file:line and key path), `compile` (one Aho-Corasick
//! automaton and one `RegexSet` per field), `eval` (decisions with traces).

mod check;
mod compile;
mod eval;
pub mod model;
mod router;
#[cfg(test)]
mod tests;

pub use check::{RuleError, parse_file};
pub use compile::RuleSet;
pub use eval::{Decision, RuleInput, RuleTrace};
pub use router::{RulesRouter, summary};

pub mod assign;
pub mod backtest;

use crate::mail::ParsedMail;
use crate::tickets::Priority;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub area: Option<String>,
    pub priority: Priority,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub suppress_ack: bool,
    /// Store the mail but never acknowledge it (implies `suppress_ack`).
    pub drop: bool,
    /// SLA policy name, when a rule set one.
    pub sla: Option<String>,
    /// Human-readable why, stored as an event on the ticket.
    pub trace: String,
}

pub trait Router: Send + Sync {
    fn route(&self, mail: &ParsedMail) -> Routing;
}

/// Routes every mail to the configured default area and owner.
pub struct DefaultRouter {
    area: Option<String>,
    owner: Option<String>,
}

impl DefaultRouter {
    /// `owner` is the default owner when available (not away), lowercase.
    pub fn new(area: Option<String>, owner: Option<String>) -> DefaultRouter {
        DefaultRouter { area, owner }
    }
}

impl Router for DefaultRouter {
    fn route(&self, _mail: &ParsedMail) -> Routing {
        let trace = match &self.owner {
            Some(o) => format!("no rules configured: default owner {o}"),
            None => "no rules configured and no available default owner: unassigned".into(),
        };
        Routing {
            area: self.area.clone(),
            priority: Priority::Normal,
            owner: self.owner.clone(),
            tags: Vec::new(),
            suppress_ack: false,
            drop: false,
            sla: None,
            trace,
        }
    }
}
