//! What messages and commands do to a ticket: pure functions from the current
//! state to the next one and the list of changes (each becomes an event).

use super::{Command, Priority, Status};

/// The fields of a ticket that mail can change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    pub status: Status,
    pub priority: Priority,
    pub area: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Status {
        from: Status,
        to: Status,
    },
    Priority {
        from: Priority,
        to: Priority,
    },
    Area {
        from: Option<String>,
        to: String,
    },
    Owner {
        from: Option<String>,
        to: String,
    },
    Tagged(String),
    Untagged(String),
    /// Someone added to the Cc of the customer's thread.
    Cc(String),
}

impl Change {
    pub fn describe(&self) -> String {
        let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        match self {
            Change::Status { from, to } => format!("status {from} -> {to}"),
            Change::Priority { from, to } => format!("priority {from} -> {to}"),
            Change::Area { from, to } => format!("area {} -> {to}", none(from)),
            Change::Owner { from, to } => format!("owner {} -> {to}", none(from)),
            Change::Tagged(t) => format!("tag {t} added"),
            Change::Untagged(t) => format!("tag {t} removed"),
            Change::Cc(a) => format!("{a} added to the Cc of the customer's thread"),
        }
    }
}

/// What a customer follow-up does to a ticket's status.
pub fn after_customer_followup(current: Status) -> Option<Status> {
    match current {
        // Mail for a merged ticket lands on the one it went to.
        Status::Open | Status::Merged => None,
        // The customer answered: the ball is in support's court again.
        Status::Pending | Status::Resolved => Some(Status::Open),
    }
}

/// What an agent's reply does: its commands in order (`#take` gives the ticket
/// to `author`); then, when an answer was relayed to the customer and no
/// command chose a status, the ticket waits for the customer (`pending`).
pub fn after_agent_reply(
    state: &TicketState,
    commands: &[Command],
    relayed: bool,
    author: &str,
) -> (TicketState, Vec<Change>) {
    let mut next = state.clone();
    let mut changes = Vec::new();
    let mut status_set = false;
    for c in commands {
        match c {
            Command::Note => {}
            Command::Resolve | Command::Pending(_) | Command::Open => {
                let to = match c {
                    Command::Resolve => Status::Resolved,
                    Command::Pending(_) => Status::Pending,
                    _ => Status::Open,
                };
                status_set = true;
                set_status(&mut next, &mut changes, to);
            }
            Command::Assign(_) | Command::Take => {
                let a = match c {
                    Command::Assign(a) => a.as_str(),
                    _ => author,
                };
                if next.owner.as_deref() != Some(a) {
                    changes.push(Change::Owner {
                        from: next.owner.clone(),
                        to: a.to_string(),
                    });
                    next.owner = Some(a.to_string());
                }
            }
            Command::Area(a) => {
                if next.area.as_deref() != Some(a.as_str()) {
                    changes.push(Change::Area {
                        from: next.area.clone(),
                        to: a.clone(),
                    });
                    next.area = Some(a.clone());
                }
            }
            Command::Priority(p) => {
                if next.priority != *p {
                    changes.push(Change::Priority {
                        from: next.priority,
                        to: *p,
                    });
                    next.priority = *p;
                }
            }
            Command::Tag(t) => {
                if !next.tags.contains(t) {
                    next.tags.push(t.clone());
                    changes.push(Change::Tagged(t.clone()));
                }
            }
            Command::Untag(t) => {
                if next.tags.contains(t) {
                    next.tags.retain(|x| x != t);
                    changes.push(Change::Untagged(t.clone()));
                }
            }
            Command::Cc(a) => changes.push(Change::Cc(a.clone())),
            // Two tickets change: the pipeline's merge step does it.
            Command::Merge { .. } | Command::Split => {}
        }
    }
    if relayed && !status_set {
        set_status(&mut next, &mut changes, Status::Pending);
    }
    (next, changes)
}

fn set_status(next: &mut TicketState, changes: &mut Vec<Change>, to: Status) {
    if next.status != to {
        changes.push(Change::Status {
            from: next.status,
            to,
        });
        next.status = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB: &str = "bob@example.test";

    fn open() -> TicketState {
        TicketState {
            status: Status::Open,
            priority: Priority::Normal,
            area: Some("billing".into()),
            owner: Some("bob@example.test".into()),
            tags: vec!["bulk".into()],
        }
    }

    #[test]
    fn followup_reopens() {
        assert_eq!(
            after_customer_followup(Status::Resolved),
            Some(Status::Open)
        );
        assert_eq!(after_customer_followup(Status::Pending), Some(Status::Open));
        assert_eq!(after_customer_followup(Status::Open), None);
    }

    #[test]
    fn relayed_reply_waits_for_the_customer() {
        let (next, changes) = after_agent_reply(&open(), &[], true, BOB);
        assert_eq!(next.status, Status::Pending);
        assert_eq!(
            changes,
            vec![Change::Status {
                from: Status::Open,
                to: Status::Pending
            }]
        );
        // Nothing relayed, no command: nothing changes.
        assert_eq!(
            after_agent_reply(&open(), &[], false, BOB),
            (open(), vec![])
        );
    }

    #[test]
    fn commands_apply_in_order_and_a_status_command_wins() {
        let cmds = [
            Command::Priority(Priority::High),
            Command::Resolve,
            Command::Tag("vip".into()),
            Command::Untag("bulk".into()),
            Command::Untag("absent".into()),
            Command::Assign("erin@example.test".into()),
            Command::Area("tech".into()),
            Command::Cc("dan@customer.test".into()),
        ];
        let (next, changes) = after_agent_reply(&open(), &cmds, true, BOB);
        assert_eq!(
            next.status,
            Status::Resolved,
            "#close beats the relay's pending"
        );
        assert_eq!(next.priority, Priority::High);
        assert_eq!(next.tags, vec!["vip".to_string()]);
        assert_eq!(next.owner.as_deref(), Some("erin@example.test"));
        assert_eq!(next.area.as_deref(), Some("tech"));
        let described: Vec<String> = changes.iter().map(Change::describe).collect();
        assert_eq!(
            described,
            vec![
                "priority normal -> high",
                "status open -> resolved",
                "tag vip added",
                "tag bulk removed",
                "owner bob@example.test -> erin@example.test",
                "area billing -> tech",
                "dan@customer.test added to the Cc of the customer's thread",
            ]
        );
    }

    #[test]
    fn take_gives_the_ticket_to_the_author() {
        let (next, changes) =
            after_agent_reply(&open(), &[Command::Take], true, "tess@example.test");
        assert_eq!(next.owner.as_deref(), Some("tess@example.test"));
        assert_eq!(
            changes[0].describe(),
            "owner bob@example.test -> tess@example.test"
        );
        // The owner taking their own ticket changes nothing but the status.
        let (next, changes) = after_agent_reply(&open(), &[Command::Take], false, BOB);
        assert_eq!((next, changes), (open(), vec![]));
    }
}
