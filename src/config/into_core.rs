//! The core's types built from a parsed config. `config` depends on the core
//! (`sla`, `rules`), never the other way round: the core takes plain values.

use std::collections::HashMap;

use crate::rules::DefaultRouter;
use crate::rules::assign::{Area, Assigner, Member, Strategy};
use crate::sla::Calendars;
use crate::sla::calendar::parse_time_zone;
use crate::sla::lifecycle::{Count, Policy};

use super::{Config, LifecycleCount, parse_duration};

impl Config {
    /// `[lifecycle]` as the core counts it (validated: the durations parse).
    pub fn lifecycle(&self) -> Policy {
        let read = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| parse_duration(s).ok())
                .and_then(|d| chrono::Duration::from_std(d).ok())
        };
        let l = &self.lifecycle;
        Policy {
            count: match l.count {
                LifecycleCount::Wall => {
                    Count::Wall(parse_time_zone(&self.mailroom.time_zone).unwrap_or(chrono_tz::UTC))
                }
                LifecycleCount::Business => Count::Business,
            },
            autoclose_after: read(&l.autoclose_pending_after),
            autoclose_warning: read(&l.autoclose_warning),
            reopen_window: read(&l.reopen_window),
            satisfaction: l.satisfaction,
        }
    }

    /// Each `[[area]]` with its strategy, escalation and the `[[agent]]`s who
    /// work in it (`areas` naming it or `"*"`).
    pub fn assigner(&self) -> Assigner {
        let mut areas = HashMap::new();
        for a in &self.area {
            let members = self
                .agent
                .iter()
                .filter(|ag| ag.areas.iter().any(|x| x == &a.name || x == "*"))
                .map(|ag| Member {
                    email: ag.email.to_ascii_lowercase(),
                    away: ag.away,
                    max_open: ag.max_open,
                })
                .collect();
            let strategy = a
                .strategy
                .as_deref()
                .and_then(Strategy::parse)
                .unwrap_or(Strategy::RoundRobin);
            let area = Area {
                strategy,
                members,
                escalation: a.escalation.clone(),
            };
            areas.insert(a.name.clone(), area);
        }
        Assigner::new(areas)
    }

    /// The router without a rules file: `mailroom.default_area` and
    /// `default_owner`. An away default owner gets nothing new: the ticket
    /// stays unassigned.
    pub fn default_router(&self) -> DefaultRouter {
        let owner = self.mailroom.default_owner.as_ref().and_then(|o| {
            let o = o.to_ascii_lowercase();
            let away = self
                .agent
                .iter()
                .any(|a| a.email.eq_ignore_ascii_case(&o) && a.away);
            (!away).then_some(o)
        });
        DefaultRouter::new(self.mailroom.default_area.clone(), owner)
    }

    /// The `[[calendar]]`s and which one each area counts in; the error names
    /// the key.
    pub fn calendars(&self) -> Result<Calendars, String> {
        let areas = self
            .area
            .iter()
            .filter_map(|a| Some((a.name.clone(), a.calendar.clone()?)));
        Calendars::new(&self.calendar, areas)
    }
}
