//! Owner assignment per area (DESIGN §7): continuity first, then the area's
//! strategy over the agents who can take work. Pure: the caller passes the
//! load and the cursor, and stores the new cursor.

use std::collections::HashMap;

use crate::text_enum::{text_enum, text_from_str};

text_enum!(
    /// How an area picks an owner among its available agents (`[[area]] strategy`).
    Strategy {
        RoundRobin => "round_robin",
        LeastLoaded => "least_loaded",
        /// Always the first available agent of the area.
        Fixed => "fixed",
    } "area strategy"
);

impl Strategy {
    pub fn parse(s: &str) -> Option<Strategy> {
        Strategy::named(s)
    }
}

text_from_str!(Strategy, exact);

/// An agent who can take work in an area.
#[derive(Debug, Clone)]
pub struct Member {
    /// Lowercase.
    pub email: String,
    pub away: bool,
    pub max_open: Option<u32>,
}

/// An area as the assigner sees it (`config` builds it from `[[area]]` and
/// `[[agent]]`).
#[derive(Debug, Clone)]
pub struct Area {
    pub strategy: Strategy,
    pub members: Vec<Member>,
    pub escalation: Option<String>,
}

/// What the assigner needs to know about the present.
pub struct Load<'a> {
    /// Open tickets per owner.
    pub open: &'a HashMap<String, i64>,
    /// Round-robin position of the area (index of the last agent chosen).
    pub cursor: Option<i64>,
    /// Owner of the customer's open ticket in the same area, if any.
    pub continuity: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub owner: Option<String>,
    /// New round-robin position to store, when it moved.
    pub cursor: Option<i64>,
    /// Who to tell when nobody could take the ticket.
    pub escalate_to: Option<String>,
    pub reason: String,
}

pub struct Assigner {
    areas: HashMap<String, Area>,
}

impl Assigner {
    pub fn new(areas: HashMap<String, Area>) -> Assigner {
        Assigner { areas }
    }

    pub fn has_areas(&self) -> bool {
        !self.areas.is_empty()
    }

    pub fn knows(&self, area: &str) -> bool {
        self.areas.contains_key(area)
    }

    /// The agents of `area`.
    pub fn members(&self, area: &str) -> impl Iterator<Item = &str> {
        self.areas
            .get(area)
            .into_iter()
            .flat_map(|a| a.members.iter().map(|m| m.email.as_str()))
    }

    /// Picks the owner of a new ticket in `area`.
    pub fn assign(&self, area: &str, load: &Load<'_>) -> Assignment {
        let Some(a) = self.areas.get(area) else {
            return Assignment {
                owner: None,
                cursor: None,
                escalate_to: None,
                reason: format!("area {area:?} has no [[area]] entry: unassigned"),
            };
        };
        let available = |m: &Member| available(load, m);
        if let Some(prev) = load.continuity
            && let Some(m) = a.members.iter().find(|m| m.email == prev)
            && available(m)
        {
            return Assignment {
                owner: Some(m.email.clone()),
                cursor: None,
                escalate_to: None,
                reason: format!(
                    "continuity: the customer's open ticket in {area} is owned by {prev}"
                ),
            };
        }
        let skipped_note = skipped_note(a, load);
        let chosen = choose(a, load);
        match chosen {
            Some(i) => {
                let m = &a.members[i];
                let how = match a.strategy {
                    Strategy::Fixed => "fixed".to_string(),
                    Strategy::LeastLoaded => format!("least_loaded ({} open)", open(load, m)),
                    Strategy::RoundRobin => "round_robin".to_string(),
                };
                Assignment {
                    owner: Some(m.email.clone()),
                    cursor: (a.strategy == Strategy::RoundRobin).then_some(i as i64),
                    escalate_to: None,
                    reason: format!("{area}: {how} -> {}{skipped_note}", m.email),
                }
            }
            None => Assignment {
                owner: None,
                cursor: None,
                escalate_to: a.escalation.clone(),
                reason: format!(
                    "{area}: nobody available{skipped_note}; unassigned{}",
                    a.escalation
                        .as_deref()
                        .map(|e| format!(", escalation contact {e} notified"))
                        .unwrap_or_default()
                ),
            },
        }
    }
}

/// Open tickets of `m`.
fn open(load: &Load<'_>, m: &Member) -> i64 {
    load.open.get(&m.email).copied().unwrap_or(0)
}

/// Not away and below `max_open`.
fn available(load: &Load<'_>, m: &Member) -> bool {
    !m.away && m.max_open.is_none_or(|cap| open(load, m) < i64::from(cap))
}

/// `; skipped a@x (away), b@x (at max_open)`, or nothing.
fn skipped_note(a: &Area, load: &Load<'_>) -> String {
    let skipped: Vec<String> = a
        .members
        .iter()
        .filter(|m| !available(load, m))
        .map(|m| {
            if m.away {
                format!("{} (away)", m.email)
            } else {
                format!("{} (at max_open)", m.email)
            }
        })
        .collect();
    if skipped.is_empty() {
        String::new()
    } else {
        format!("; skipped {}", skipped.join(", "))
    }
}

/// The index of the member the area's strategy picks, if any is available.
fn choose(a: &Area, load: &Load<'_>) -> Option<usize> {
    let available = |m: &Member| available(load, m);
    let n = a.members.len();
    match a.strategy {
        Strategy::Fixed => a.members.iter().position(available),
        Strategy::LeastLoaded => (0..n)
            .filter(|&i| available(&a.members[i]))
            // Fewest open tickets; ties go to roster order.
            .min_by_key(|&i| (open(load, &a.members[i]), i)),
        Strategy::RoundRobin => {
            let start = load
                .cursor
                .map(|c| (c + 1).rem_euclid(n.max(1) as i64) as usize)
                .unwrap_or(0);
            (0..n)
                .map(|k| (start + k) % n)
                .find(|&i| available(&a.members[i]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigner(strategy: &str) -> Assigner {
        let text = format!(
            r#"
[[agent]]
email = "a@x.test"
areas = ["billing"]
[[agent]]
email = "b@x.test"
areas = ["billing"]
max_open = 2
[[agent]]
email = "c@x.test"
areas = ["billing"]
away = true
[[area]]
name = "billing"
strategy = "{strategy}"
escalation = "boss@x.test"
"#
        );
        crate::config::Config::parse(&text, "t.toml")
            .expect("config")
            .assigner()
    }

    fn load<'a>(
        open: &'a HashMap<String, i64>,
        cursor: Option<i64>,
        cont: Option<&'a str>,
    ) -> Load<'a> {
        Load {
            open,
            cursor,
            continuity: cont,
        }
    }

    #[test]
    fn round_robin_rotates_and_skips_away() {
        let a = assigner("round_robin");
        let open = HashMap::new();
        let first = a.assign("billing", &load(&open, None, None));
        assert_eq!(first.owner.as_deref(), Some("a@x.test"));
        let second = a.assign("billing", &load(&open, first.cursor, None));
        assert_eq!(second.owner.as_deref(), Some("b@x.test"));
        // c is away: back to a.
        let third = a.assign("billing", &load(&open, second.cursor, None));
        assert_eq!(third.owner.as_deref(), Some("a@x.test"));
        assert!(third.reason.contains("c@x.test (away)"), "{}", third.reason);
    }

    #[test]
    fn least_loaded_and_capacity() {
        let a = assigner("least_loaded");
        let mut open = HashMap::new();
        open.insert("a@x.test".to_string(), 5);
        open.insert("b@x.test".to_string(), 1);
        assert_eq!(
            a.assign("billing", &load(&open, None, None))
                .owner
                .as_deref(),
            Some("b@x.test")
        );
        open.insert("b@x.test".to_string(), 2); // at max_open
        assert_eq!(
            a.assign("billing", &load(&open, None, None))
                .owner
                .as_deref(),
            Some("a@x.test")
        );
    }

    #[test]
    fn continuity_first_unless_unavailable() {
        let a = assigner("round_robin");
        let open = HashMap::new();
        let r = a.assign("billing", &load(&open, Some(0), Some("b@x.test")));
        assert_eq!(r.owner.as_deref(), Some("b@x.test"));
        assert!(r.reason.starts_with("continuity"));
        assert_eq!(r.cursor, None, "continuity does not move the cursor");
        let r = a.assign("billing", &load(&open, Some(0), Some("c@x.test")));
        assert_ne!(
            r.owner.as_deref(),
            Some("c@x.test"),
            "away agents lose continuity"
        );
    }

    #[test]
    fn nobody_available_escalates() {
        let a = assigner("fixed");
        let mut open = HashMap::new();
        open.insert("b@x.test".to_string(), 9);
        let only_a_busy = a.assign("billing", &load(&open, None, None));
        assert_eq!(only_a_busy.owner.as_deref(), Some("a@x.test"));
        let text = "[[agent]]\nemail = \"c@x.test\"\nareas = [\"billing\"]\naway = true\n[[area]]\nname = \"billing\"\nescalation = \"boss@x.test\"\n";
        let a = crate::config::Config::parse(text, "t.toml")
            .expect("config")
            .assigner();
        let r = a.assign("billing", &load(&open, None, None));
        assert_eq!(r.owner, None);
        assert_eq!(r.escalate_to.as_deref(), Some("boss@x.test"));
        assert!(a.assign("nope", &load(&open, None, None)).owner.is_none());
    }

    #[test]
    fn strategies_parse_exactly() {
        for st in Strategy::ALL {
            assert_eq!(Strategy::parse(st.as_str()), Some(*st));
            assert_eq!(st.as_str().parse::<Strategy>(), Ok(*st));
        }
        // Config values are exact, as before: no case folding, no trimming.
        assert_eq!(Strategy::parse("Fixed"), None);
        assert_eq!(Strategy::parse(" fixed"), None);
        let e = "random".parse::<Strategy>().unwrap_err();
        assert!(e.contains("round_robin, least_loaded, fixed"), "{e}");
    }
}
