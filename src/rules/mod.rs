//! Routing: which area, priority and owner a new ticket gets. This is the seam
//! the rules engine plugs into; today it applies the config defaults.

pub mod assign;

use crate::config::Config;
use crate::mail::ParsedMail;
use crate::tickets::Priority;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub area: Option<String>,
    pub priority: Priority,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub suppress_ack: bool,
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
    pub fn from_config(cfg: &Config) -> DefaultRouter {
        // An away default owner gets nothing new: the ticket stays unassigned.
        let owner = cfg.mailroom.default_owner.as_ref().and_then(|o| {
            let o = o.to_ascii_lowercase();
            let away = cfg
                .agent
                .iter()
                .any(|a| a.email.eq_ignore_ascii_case(&o) && a.away);
            (!away).then_some(o)
        });
        DefaultRouter {
            area: cfg.mailroom.default_area.clone(),
            owner,
        }
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
            trace,
        }
    }
}
