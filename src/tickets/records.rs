//! What mailroom records besides a ticket's own fields: the kinds of events
//! that trace its decisions (`events.kind`) and where a queued mail stands
//! (`outbox.status`).

use crate::text_enum::{text_enum, text_from_str};

text_enum!(
    /// What an event on a ticket is about (`tickets show` lists them).
    EventKind {
        /// Why a mail was threaded where it was.
        Threading => "threading",
        /// What kind of mail it was taken for (a bounce, an auto-reply, …).
        Classification => "classification",
        /// The quoted history cut from a reply.
        Quoting => "quoting",
        /// Which rule routed a new ticket.
        Routing => "routing",
        /// Who got the ticket and why.
        Assignment => "assignment",
        Status => "status",
        Ack => "ack",
        Notification => "notification",
        /// An agent's answer relayed, or why nothing was.
        Relay => "relay",
        /// mailroom explained something to an agent.
        Explanation => "explanation",
        /// An agent's reply and what it did.
        AgentReply => "agent_reply",
        Note => "note",
        Command => "command",
        /// Someone added to or found on the customer's side.
        Participants => "participants",
        Sla => "sla",
        Bounce => "bounce",
        Autoreply => "autoreply",
        /// The address that opened a ticket is not where answers go.
        Sender => "sender",
        /// How a mail's text was decoded when its charset was wrong.
        Charset => "charset",
        /// The same mail arrived again.
        Duplicate => "duplicate",
        /// What became of a queued mail (refused recipients).
        Outbox => "outbox",
        /// A quarantined or suspended mail released by an operator.
        Release => "release",
        /// A ticket merged into another (on both), or a merge refused.
        Merge => "merge",
        /// The satisfaction question asked, or a rating recorded (or why not).
        Satisfaction => "satisfaction",
    } "event kind" stored in "events"."kind"
);

text_from_str!(EventKind, exact);

text_enum!(
    /// Where a mail in the outbox stands.
    OutboxStatus {
        /// Waiting for its time (`next_attempt_at`), first or again.
        Queued => "queued",
        /// Claimed by a sender under a lease.
        Sending => "sending",
        /// Final: someone got it (or it was handed over and the sender died).
        Sent => "sent",
        /// Final: nobody got it.
        Failed => "failed",
    } "outbox status" stored in "outbox"."status"
);

impl OutboxStatus {
    /// Nothing more will be sent.
    pub fn is_final(self) -> bool {
        matches!(self, OutboxStatus::Sent | OutboxStatus::Failed)
    }
}

text_from_str!(OutboxStatus, exact);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>(), Ok(*k));
            assert_eq!(EventKind::try_from(k.as_str().to_string()), Ok(*k));
        }
        for s in OutboxStatus::ALL {
            assert_eq!(s.as_str().parse::<OutboxStatus>(), Ok(*s));
            assert_eq!(OutboxStatus::try_from(s.as_str().to_string()), Ok(*s));
        }
        assert_eq!(EventKind::AgentReply.as_str(), "agent_reply");
        let finals: Vec<_> = OutboxStatus::ALL.iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [&OutboxStatus::Sent, &OutboxStatus::Failed]);
    }

    #[test]
    fn unknown_stored_values_name_their_column() {
        let e = OutboxStatus::try_from("Sent".to_string()).unwrap_err();
        assert_eq!(
            (e.table, e.column, e.value.as_str()),
            ("outbox", "status", "Sent")
        );
        assert!(
            e.to_string().contains("queued, sending, sent, failed"),
            "{e}"
        );
        let e = EventKind::try_from("gossip".to_string()).unwrap_err();
        assert_eq!(
            (e.table, e.column, e.value.as_str()),
            ("events", "kind", "gossip")
        );
        assert!("".parse::<OutboxStatus>().is_err());
        assert!(" relay".parse::<EventKind>().is_err());
    }
}
