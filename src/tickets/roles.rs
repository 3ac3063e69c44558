//! Who speaks on a ticket (DESIGN §5): the role of a person's mail that
//! threads onto an existing ticket, and what each role may do. Pure: the
//! pipeline gathers the facts (who the sender is to the ticket, whether the
//! mail carries an agent's proof, what it answers) and this decides.

use super::Role;

/// What is known about the sender of a mail that threads onto a ticket.
#[derive(Debug, Clone, Copy, Default)]
pub struct Speaker<'a> {
    pub from: &'a str,
    /// The ticket's owner, if any.
    pub owner: Option<&'a str>,
    /// The sender is on the roster (`[[agent]]`).
    pub on_roster: bool,
    /// The mail carries what mailroom gave only this agent for this ticket:
    /// it answers a mail sent to them, through that mail's reply token (and
    /// passes `trusted_authserv_ids` when set).
    pub proven: bool,
    /// The sender is the ticket's customer (their address, Reply-To or the
    /// address that opened it).
    pub customer: bool,
    /// The sender is already a participant of the customer's side (Cc'd by
    /// the customer, added with `#cc`, or wrote on their side before).
    pub participant: bool,
    /// The mail answers internal mail (a notification, an explanation, an
    /// agent's reply or note), not the customer's conversation.
    pub answers_internal: bool,
}

/// The role of the mail, and why, for the ticket's event.
pub fn role_of(s: &Speaker<'_>) -> (Role, String) {
    let from = s.from;
    if s.proven {
        return if s.owner == Some(from) {
            (Role::Owner, format!("{from} is the owner, proven"))
        } else {
            (
                Role::Colleague,
                format!("{from} is an agent answering mail sent to them, proven"),
            )
        };
    }
    // A roster address that proves nothing is staff talking, never the
    // customer's side: an internal note (a forged From lands here too).
    if s.on_roster {
        return (
            Role::Colleague,
            format!("{from} is on the roster, without an agent's proof for this ticket"),
        );
    }
    if s.customer {
        return (Role::Customer, format!("{from} is the customer"));
    }
    if s.participant {
        return (
            Role::Participant,
            format!("{from} is a participant on the customer's side"),
        );
    }
    if s.answers_internal {
        return (
            Role::ThirdParty,
            format!(
                "{from} answers internal mail (a notification forwarded to them?) and is neither staff nor on the customer's side"
            ),
        );
    }
    (
        Role::Participant,
        format!("{from} writes on the customer's conversation: joins its Cc"),
    )
}

impl Role {
    /// Mail of the customer's side: it reopens the ticket, moves the
    /// customer-facing SLA clocks and counts as "the customer wrote".
    pub fn is_customer_side(self) -> bool {
        matches!(self, Role::Customer | Role::Participant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speaker() -> Speaker<'static> {
        Speaker {
            from: "x@example.test",
            owner: Some("bob@example.test"),
            ..Speaker::default()
        }
    }

    #[test]
    fn proof_decides_owner_and_colleague() {
        let owner = Speaker {
            from: "bob@example.test",
            on_roster: true,
            proven: true,
            ..speaker()
        };
        assert_eq!(role_of(&owner).0, Role::Owner);
        let tess = Speaker {
            from: "tess@example.test",
            ..owner
        };
        assert_eq!(role_of(&tess).0, Role::Colleague);
        // The owner's address without proof is not the owner.
        let forged = Speaker {
            proven: false,
            ..owner
        };
        let (role, why) = role_of(&forged);
        assert_eq!(role, Role::Colleague);
        assert!(why.contains("without an agent's proof"), "{why}");
        // Even when it also claims to be the customer.
        let both = Speaker {
            customer: true,
            ..forged
        };
        assert_eq!(role_of(&both).0, Role::Colleague);
    }

    #[test]
    fn the_customer_side_and_outsiders() {
        let customer = Speaker {
            customer: true,
            answers_internal: true,
            ..speaker()
        };
        assert_eq!(
            role_of(&customer).0,
            Role::Customer,
            "quoting a notification does not change who the customer is"
        );
        let cc = Speaker {
            participant: true,
            answers_internal: true,
            ..speaker()
        };
        assert_eq!(role_of(&cc).0, Role::Participant);
        let vendor = Speaker {
            answers_internal: true,
            ..speaker()
        };
        assert_eq!(role_of(&vendor).0, Role::ThirdParty);
        let newcomer = speaker();
        assert_eq!(role_of(&newcomer).0, Role::Participant);
    }

    #[test]
    fn rights() {
        let side: Vec<Role> = Role::ALL
            .iter()
            .copied()
            .filter(|r| r.is_customer_side())
            .collect();
        assert_eq!(side, [Role::Customer, Role::Participant]);
        assert_eq!(Role::ThirdParty.as_str(), "third_party");
        assert_eq!(
            serde_json::to_value(Role::ThirdParty).ok(),
            Some(serde_json::json!("third_party"))
        );
        assert_eq!("third_party".parse::<Role>(), Ok(Role::ThirdParty));
    }
}
