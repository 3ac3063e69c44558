//! Whether automatic mail may go to an address now: the one decision for the
//! pipeline's mail (acks, notifications, explanations) and the managers'
//! digests. Pure: the caller passes the facts (an active bounce hold, what
//! was sent in the rate window), loaded by the batch or by the store.

use chrono::{DateTime, Utc};

use super::MessageKind;

/// The RFC 3834 rate window, in hours.
pub const RATE_WINDOW_HOURS: i64 = 1;

/// How long a staff address whose mail bounced gets nothing (DESIGN §6).
pub const STAFF_BOUNCE_HOLD_HOURS: i64 = 24;

/// The per-recipient limits of `[mailroom]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub ack_per_hour: u32,
    pub notification_per_hour: u32,
}

impl Limits {
    /// The RFC 3834 limit per recipient and hour for automatic mail of
    /// `kind`, and the kinds counted against it: acks, explanations, notices
    /// and satisfaction questions share `ack_limit_per_hour`; notifications
    /// and managers' digests (mail to staff) share
    /// `notification_limit_per_hour`.
    pub fn for_kind(self, kind: MessageKind) -> (i64, &'static [MessageKind]) {
        const STAFF: &[MessageKind] = &[MessageKind::Notification, MessageKind::Digest];
        const REPLIES: &[MessageKind] = &[
            MessageKind::Ack,
            MessageKind::System,
            MessageKind::Notice,
            MessageKind::Survey,
        ];
        match kind {
            MessageKind::Notification | MessageKind::Digest => {
                (i64::from(self.notification_per_hour), STAFF)
            }
            _ => (i64::from(self.ack_per_hour), REPLIES),
        }
    }
}

/// Why automatic mail is not sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Mail to the address bounced: nothing goes there until then (DESIGN §6).
    Bounced { until: DateTime<Utc> },
    /// `recent` mails counted against the limit in the rate window.
    RateLimit { recent: i64, limit: i64 },
}

impl Hold {
    /// A short name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Hold::Bounced { .. } => "bounced",
            Hold::RateLimit { .. } => "rate_limit",
        }
    }
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hold::Bounced { until } => write!(
                f,
                "mail to this address bounced; nothing is sent there until {}",
                until.format("%Y-%m-%d %H:%M UTC")
            ),
            Hold::RateLimit { recent, limit } => write!(
                f,
                "{recent} notifications and digests to this address in the last hour (limit {limit}, RFC 3834)"
            ),
        }
    }
}

/// What holds automatic mail to an address back at `now`: a bounce hold
/// that has not ended (`suppressed_until`), else `recent()` mails of the
/// counted kinds in the rate window reaching `limit`. `recent` is asked only
/// when no bounce holds the mail (the batch counts only what it loaded).
pub fn hold(
    suppressed_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    recent: impl FnOnce() -> i64,
    limit: i64,
) -> Option<Hold> {
    if let Some(until) = suppressed_until.filter(|u| *u > now) {
        return Some(Hold::Bounced { until });
    }
    let recent = recent();
    (recent >= limit).then_some(Hold::RateLimit { recent, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 7, h, 0, 0).unwrap()
    }

    #[test]
    fn a_bounce_hold_wins_and_the_count_is_not_asked() {
        let h = hold(Some(t(10)), t(9), || panic!("counted"), 5);
        assert_eq!(h, Some(Hold::Bounced { until: t(10) }));
    }

    #[test]
    fn an_ended_bounce_hold_leaves_the_rate_limit() {
        assert_eq!(hold(Some(t(9)), t(9), || 4, 5), None, "ends at `until`");
        assert_eq!(
            hold(Some(t(8)), t(9), || 5, 5),
            Some(Hold::RateLimit {
                recent: 5,
                limit: 5
            }),
            "the limit is reached at `limit`"
        );
    }

    #[test]
    fn digests_count_with_notifications() {
        let l = Limits {
            ack_per_hour: 3,
            notification_per_hour: 7,
        };
        assert_eq!(
            l.for_kind(MessageKind::Digest),
            l.for_kind(MessageKind::Notification)
        );
        assert_eq!(l.for_kind(MessageKind::Digest).0, 7);
        assert_eq!(l.for_kind(MessageKind::System).0, 3);
    }
}
