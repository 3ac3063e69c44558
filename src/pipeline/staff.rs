//! Who is staff, read once from the config: the addresses that never reach a
//! customer, the roster's names, and per area who hears of its new tickets
//! and who is told of trouble. Shared by the steps that mail staff or keep
//! their addresses from customers; each answer is the config's own
//! (`Config::area_watchers`, `Config::escalation_contact`, …), computed once.

use std::collections::HashMap;

use crate::config::Config;

pub(crate) struct Staff {
    /// Agents, managers and escalation contacts, lowercased.
    addresses: Vec<String>,
    /// The staff and mailroom's own addresses, lowercased.
    internal: Vec<String>,
    /// The roster in the config's order: lowercased address and display name.
    names: Vec<(String, Option<String>)>,
    /// Area -> the agents told of each new ticket (`notify = "area"`).
    watchers: HashMap<String, Vec<String>>,
    /// Lower-cased area -> its escalation contact (areas match in any case).
    contacts: HashMap<String, Option<String>>,
}

impl Staff {
    pub(crate) fn new(cfg: &Config) -> Staff {
        let mut watchers = HashMap::new();
        let mut contacts = HashMap::new();
        for a in &cfg.area {
            watchers
                .entry(a.name.clone())
                .or_insert_with(|| cfg.area_watchers(Some(&a.name)));
            contacts
                .entry(a.name.to_ascii_lowercase())
                .or_insert_with(|| cfg.escalation_contact(Some(&a.name)));
        }
        Staff {
            addresses: cfg.staff_addresses(),
            internal: cfg.internal_addresses(),
            names: cfg
                .agent
                .iter()
                .map(|a| (a.email.to_ascii_lowercase(), a.name.clone()))
                .collect(),
            watchers,
            contacts,
        }
    }

    /// Agents, managers and area escalation contacts, lowercased: people
    /// whose addresses never reach a customer.
    pub(crate) fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// Addresses that are never a customer's: the staff and mailroom's own.
    pub(crate) fn internal(&self) -> &[String] {
        &self.internal
    }

    /// The roster's display name for an agent address.
    pub(crate) fn agent_name(&self, email: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(email))
            .and_then(|(_, name)| name.as_deref())
    }

    /// The agents told of every new ticket of `area` (none unless the area
    /// has `notify = "area"`).
    pub(crate) fn area_watchers(&self, area: Option<&str>) -> &[String] {
        area.and_then(|a| self.watchers.get(a))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The escalation contact of `area` (lower-cased), if the area has one.
    pub(crate) fn escalation_contact(&self, area: Option<&str>) -> Option<String> {
        self.contacts.get(&area?.to_ascii_lowercase())?.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_the_config_does() {
        let text = r#"
[mailroom]
support_address = "support@example.test"
[[agent]]
email = "Bob@Example.test"
name  = "Bob"
areas = ["billing", "sales"]
[[agent]]
email = "ann@example.test"
areas = ["billing"]
[[agent]]
email = "max@example.test"
areas = ["billing"]
away = true
[[area]]
name = "billing"
escalation = "Carol@example.test"
notify = "area"
[[area]]
name = "sales"
"#;
        let cfg = Config::parse(text, "m.toml").expect("parses");
        let staff = Staff::new(&cfg);
        assert_eq!(staff.addresses(), cfg.staff_addresses().as_slice());
        assert_eq!(staff.internal(), cfg.internal_addresses().as_slice());
        for email in [
            "bob@example.test",
            "BOB@example.test",
            "ann@example.test",
            "x@y.test",
        ] {
            assert_eq!(staff.agent_name(email), cfg.agent_name(email), "{email}");
        }
        for area in [
            None,
            Some("billing"),
            Some("Billing"),
            Some("sales"),
            Some("none"),
        ] {
            assert_eq!(
                staff.area_watchers(area),
                cfg.area_watchers(area).as_slice(),
                "{area:?}"
            );
            assert_eq!(
                staff.escalation_contact(area),
                cfg.escalation_contact(area),
                "{area:?}"
            );
        }
    }
}
