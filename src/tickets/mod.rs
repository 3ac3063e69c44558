//! Pure ticket model: statuses, priorities, message kinds, references, the
//! transitions a message causes, the commands agents send by mail and whether
//! automatic mail may go out (`hold`). Imports no other mailroom module but
//! `text_enum` (the string-backed enums).

pub mod commands;
pub mod hold;
pub mod merge;
mod records;
pub mod roles;
pub mod satisfaction;
pub mod saved;
#[cfg(test)]
pub(crate) mod test_support;
mod ticket;
pub mod transitions;

use std::str::FromStr;

pub use commands::{Command, CommandError, Commands, Directory};
pub use records::{EventKind, OutboxStatus};
pub use satisfaction::Satisfaction;
pub use ticket::Ticket;
pub use transitions::{Change, TicketState};

use crate::text_enum::{text_enum, text_from_str};

text_enum!(
    Status {
        /// Waiting for support.
        Open => "open",
        /// Waiting for the customer.
        Pending => "pending",
        /// Answered and done; a customer follow-up reopens it.
        Resolved => "resolved",
        /// Merged into another ticket (`merged_into`): its number is an
        /// alias of that one, and it counts nowhere on its own.
        Merged => "merged",
    } "status" stored in "tickets"."status"
);

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // "closed" is what many helpdesks call it: a synonym in filters and commands.
        if s.trim().eq_ignore_ascii_case("closed") {
            return Ok(Status::Resolved);
        }
        Status::any_case(s).ok_or_else(|| Status::unknown(s))
    }
}

text_enum!(
    #[derive(PartialOrd, Ord)]
    Priority {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    } "priority" stored in "tickets"."priority"
);

text_from_str!(Priority, any_case);

text_enum!(
    /// What a stored message is (DESIGN §8 `kind`).
    MessageKind {
        /// A customer's mail (new ticket or follow-up).
        Customer => "customer",
        /// An agent's reply by mail (relayed to the customer unless it was only commands).
        Agent => "agent",
        /// An agent's internal note (`#note`): never relayed.
        Note => "note",
        Ack => "ack",
        Notification => "notification",
        /// An agent's answer as sent to the customer.
        Relay => "relay",
        /// mailroom explaining something to an agent (an unknown command, an empty reply).
        System => "system",
        /// A manager's digest (belongs to no ticket).
        Digest => "digest",
        /// An automatic notice to the customer about their ticket (that it
        /// will be closed for want of an answer).
        Notice => "notice",
        /// The satisfaction question to the customer after a resolution
        /// (`[lifecycle] satisfaction`): a reply to it may be a rating.
        Survey => "survey",
        Bounce => "bounce",
        Autoreply => "autoreply",
        /// Stored without effect: mailroom's own mail coming back, dropped by a rule.
        Ignored => "ignored",
    } "message kind"
);

impl MessageKind {
    /// Mail between mailroom and staff (or someone staff forwarded it to):
    /// its Message-ID and words never go to a customer.
    pub fn is_internal(self) -> bool {
        matches!(
            self,
            MessageKind::Notification
                | MessageKind::System
                | MessageKind::Agent
                | MessageKind::Note
                | MessageKind::Digest
        )
    }
}

text_from_str!(MessageKind, any_case);

text_enum!(
    /// Who wrote an inbound mail on a ticket (DESIGN §5, "Who speaks"): one
    /// meaning everywhere — threading, status, SLA clocks, digests, `tickets show`.
    Role {
        /// The requester.
        Customer => "customer",
        /// Someone the customer Cc'd or an agent added with `#cc`, writing
        /// on the customer's side.
        Participant => "participant",
        /// The ticket's owner, proven (the reply token of a notification
        /// mailroom sent to them).
        Owner => "owner",
        /// Another roster agent: their proven answer to a notification sent
        /// to them speaks for support; anything else from them is an internal note.
        Colleague => "colleague",
        /// Anyone else answering internal mail (a forwarded notification, a vendor).
        ThirdParty => "third_party",
        /// A bounce or an auto-reply.
        System => "system",
    } "role"
);

text_from_str!(Role, any_case);

text_enum!(
    /// Why an address is on a ticket's participant list (table `participants`,
    /// column `role`). Who wrote a given mail is its author [`Role`].
    ParticipantRole {
        /// The requester: the address answers go to.
        Customer => "customer",
        /// The address that opened the ticket when its Reply-To differs:
        /// it may write on the ticket, answers do not go to it.
        Sender => "sender",
        /// Someone in the customer's conversation (Cc'd, added with `#cc`, or
        /// who wrote on the customer's side): answers are copied to them.
        Cc => "cc",
    } "participant role" stored in "participants"."role"
);

text_from_str!(ParticipantRole, any_case);

text_enum!(
    Direction {
        In => "in",
        Out => "out",
    } "direction" stored in "messages"."direction"
);

text_from_str!(Direction, any_case);

/// `MR-1042` for ticket 1042.
pub fn format_ref(prefix: &str, id: i64) -> String {
    format!("{prefix}-{id}")
}

/// Accepts `MR-1042`, `mr-1042`, `[MR-1042]` or `1042`.
pub fn parse_ref(prefix: &str, s: &str) -> Option<i64> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    let num = match s.split_once('-') {
        Some((p, n)) if p.eq_ignore_ascii_case(prefix) => n,
        Some(_) => return None,
        None => s,
    };
    num.parse().ok().filter(|n: &i64| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        assert_eq!(format_ref("MR", 7), "MR-7");
        assert_eq!(parse_ref("MR", "MR-1042"), Some(1042));
        assert_eq!(parse_ref("MR", "mr-1042"), Some(1042));
        assert_eq!(parse_ref("MR", "[MR-3]"), Some(3));
        assert_eq!(parse_ref("MR", "1042"), Some(1042));
        assert_eq!(parse_ref("MR", "XY-1042"), None);
        assert_eq!(parse_ref("MR", "MR-x"), None);
        assert_eq!(parse_ref("MR", "0"), None);
    }

    #[test]
    fn enums_parse_strictly() {
        assert_eq!("closed".parse::<Status>(), Ok(Status::Resolved));
        assert_eq!("Pending".parse::<Status>(), Ok(Status::Pending));
        assert!("weird".parse::<Status>().is_err());
        assert!(Status::try_from("".to_string()).is_err());
        assert_eq!("URGENT".parse::<Priority>(), Ok(Priority::Urgent));
        assert!(Priority::try_from("asap".to_string()).is_err());
        assert_eq!("relay".parse::<MessageKind>(), Ok(MessageKind::Relay));
        assert!("nope".parse::<MessageKind>().is_err());
        assert_eq!("out".parse::<Direction>(), Ok(Direction::Out));
        for k in MessageKind::ALL {
            assert_eq!(k.as_str().parse::<MessageKind>(), Ok(*k));
        }
        assert_eq!("cc".parse::<ParticipantRole>(), Ok(ParticipantRole::Cc));
        let e = ParticipantRole::try_from("boss".to_string())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("participants.role") && e.contains("customer, sender, cc"),
            "{e}"
        );
        let e = "x".parse::<Priority>().unwrap_err();
        assert!(e.contains("low, normal, high, urgent"), "{e}");
    }
}
