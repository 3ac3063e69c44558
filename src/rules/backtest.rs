//! Comparing a ticket's stored routing with what candidate rules would decide
//! (`rules backtest`). Pure.

use serde::Serialize;

use super::Decision;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub area: Option<String>,
    pub priority: String,
    /// The owner; for the candidate, `None` means "chosen by the area's strategy".
    pub owner: Option<String>,
}

/// What the candidate would do with a ticket that is routed as `current`.
/// Owners picked by an area's strategy cannot be replayed (they depend on the
/// load at the time), so an owner only counts as changed when the candidate
/// names one, or moves the ticket to another area.
pub fn candidate_route(d: &Decision, default_area: Option<&str>) -> Route {
    Route {
        area: d.area.clone().or_else(|| default_area.map(str::to_string)),
        priority: d
            .priority
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "normal".into()),
        owner: d.owner.clone(),
    }
}

pub fn differs(current: &Route, candidate: &Route) -> bool {
    current.area != candidate.area
        || current.priority != candidate.priority
        || (candidate.owner.is_some() && candidate.owner != current.owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::Priority;

    fn route(area: Option<&str>, priority: &str, owner: Option<&str>) -> Route {
        Route {
            area: area.map(str::to_string),
            priority: priority.into(),
            owner: owner.map(str::to_string),
        }
    }

    #[test]
    fn only_real_differences_count() {
        let d = Decision {
            area: Some("billing".into()),
            priority: Some(Priority::High),
            ..Decision::default()
        };
        let c = candidate_route(&d, None);
        assert_eq!(c, route(Some("billing"), "high", None));
        // The strategy picked bob; the candidate names nobody: unchanged.
        assert!(!differs(&route(Some("billing"), "high", Some("bob@x")), &c));
        assert!(differs(&route(Some("tech"), "high", Some("bob@x")), &c));
        assert!(differs(&route(Some("billing"), "normal", None), &c));
        let named = Route {
            owner: Some("ann@x".into()),
            ..c.clone()
        };
        assert!(differs(
            &route(Some("billing"), "high", Some("bob@x")),
            &named
        ));
        // Nothing set: default area, normal priority.
        assert_eq!(
            candidate_route(&Decision::default(), Some("tech")),
            route(Some("tech"), "normal", None)
        );
    }
}
