//! SLA policies: which `[sla.<name>]` applies to a ticket, and its targets.

use std::collections::BTreeMap;

use chrono::Duration;

use serde::Deserialize;

/// `[sla.<name>]`: targets as durations ("30m", "4h", "2d"), counted in the
/// area calendar's business time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    pub first_response: Option<String>,
    /// After a customer's follow-up that support has not answered yet.
    pub next_response: Option<String>,
    pub resolution: Option<String>,
}

/// A policy's targets, each an amount of business time (in the area's
/// calendar). "2d" is 48 hours of open time, not two business days: the
/// units mean the same everywhere in the config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets {
    pub first_response: Option<Duration>,
    pub next_response: Option<Duration>,
    pub resolution: Option<Duration>,
}

impl Targets {
    /// The targets of one `[sla.<name>]`; the error names the key inside it.
    pub fn from_config(c: &SlaConfig) -> Result<Targets, (&'static str, String)> {
        let one = |key: &'static str, v: &Option<String>| {
            v.as_deref()
                .map(parse_target)
                .transpose()
                .map_err(|e| (key, e))
        };
        Ok(Targets {
            first_response: one("first_response", &c.first_response)?,
            next_response: one("next_response", &c.next_response)?,
            resolution: one("resolution", &c.resolution)?,
        })
    }
}

/// A target duration ("30m", "4h", "2d"): more than zero, at most a year
/// (anything longer is a typo, and would outrun the calendar's horizon).
pub fn parse_target(s: &str) -> Result<Duration, String> {
    let d = crate::units::parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("{s:?}: a target must be longer than zero"));
    }
    match Duration::from_std(d) {
        Ok(d) if d <= Duration::days(366) => Ok(d),
        _ => Err(format!("{s:?}: a target must be at most a year")),
    }
}

/// The policy for a ticket: the one a rule named wins, else the one named
/// like the priority (`[sla.urgent]` for urgent tickets), else none. A rule
/// naming a policy that does not exist falls back to the priority's, so a
/// typo in the rules never leaves a ticket without a clock it would have had.
/// Names compare case-insensitively. Keys that do not parse count as unset
/// (config validation rejects them at load).
pub fn policy_for(
    sla: &BTreeMap<String, SlaConfig>,
    rule_sla: Option<&str>,
    priority: &str,
) -> Option<(String, Targets)> {
    let find = |name: &str| {
        sla.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.trim()))
    };
    let (name, c) = rule_sla.and_then(find).or_else(|| find(priority))?;
    let t = |v: &Option<String>| v.as_deref().and_then(|s| parse_target(s).ok());
    Some((
        name.clone(),
        Targets {
            first_response: t(&c.first_response),
            next_response: t(&c.next_response),
            resolution: t(&c.resolution),
        },
    ))
}
