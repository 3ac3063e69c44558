//! [`RulesRouter`]: the rules engine behind the [`Router`] seam.

use super::compile::RuleSet;
use super::eval::Decision;
use super::{Router, Routing};
use crate::mail::ParsedMail;
use crate::tickets::Priority;

/// Routes by a rules file. The owner is only a rule's explicit `owner`;
/// assignment strategies come later.
#[derive(Debug, Clone)]
pub struct RulesRouter {
    rules: RuleSet,
}

impl RulesRouter {
    pub fn new(rules: RuleSet) -> RulesRouter {
        RulesRouter { rules }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The routing a decision stands for.
    pub fn routing(d: Decision) -> Routing {
        let mut trace = summary(&d);
        for t in &d.trace {
            trace.push_str(&format!("; {:?}: {}", t.name, t.conditions.join(", ")));
        }
        Routing {
            area: d.area,
            priority: d.priority.unwrap_or(Priority::Normal),
            owner: d.owner,
            tags: d.tags,
            suppress_ack: d.suppress_ack || d.drop,
            drop: d.drop,
            sla: d.sla,
            trace,
        }
    }
}

impl Router for RulesRouter {
    fn route(&self, mail: &ParsedMail) -> Routing {
        let input = self.rules.input(mail);
        RulesRouter::routing(self.rules.decide_explained(&input))
    }
}

/// `rules: matched "enterprise first", "billing" -> area billing, priority urgent`.
pub fn summary(d: &Decision) -> String {
    let mut s = if d.matched.is_empty() {
        "rules: no rule matched".to_string()
    } else {
        let names: Vec<String> = d.matched.iter().map(|n| format!("{n:?}")).collect();
        format!("rules: matched {}", names.join(", "))
    };
    s.push_str(" -> area ");
    s.push_str(d.area.as_deref().unwrap_or("none"));
    s.push_str(", priority ");
    s.push_str(d.priority.unwrap_or(Priority::Normal).as_str());
    if let Some(o) = &d.owner {
        s.push_str(&format!(", owner {o}"));
    }
    if !d.tags.is_empty() {
        s.push_str(&format!(", tags {}", d.tags.join(" ")));
    }
    if let Some(sla) = &d.sla {
        s.push_str(&format!(", sla {sla}"));
    }
    if d.drop {
        s.push_str(", dropped");
    } else if d.suppress_ack {
        s.push_str(", no acknowledgement");
    }
    s
}
