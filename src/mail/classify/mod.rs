//! Classification (DESIGN §5, §6): what kind of mail is this, before threading.
//!
//! `Classifier::classify` holds the decision order; the submodules hold the
//! evidence its steps look at.

mod bounce;
mod challenge;
mod complaint;
mod steps;
mod subjects;

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::parse::ParsedMail;
use steps::{Signals, auto_reply, bulk, delivery_status, non_standard_bounce};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// A person writing to support.
    Customer,
    /// The sender is on the roster; whether it acts as an agent depends on proof
    /// the pipeline checks (it answers a notification sent to that agent).
    AgentCandidate,
    /// A delivery-status report or a non-standard bounce.
    Bounce { reason: String },
    /// Machine-sent mail that must never be answered or change a ticket's status.
    AutoReply { reason: String },
    /// Bulk or list mail (newsletters, notifications of other systems): a
    /// ticket without acknowledgement when it answers nothing, so rules can
    /// route or drop it; never answered.
    Bulk { reason: String },
    /// Mailroom's own mail coming back.
    OwnLoop { reason: String },
}

impl Class {
    pub fn label(&self) -> &'static str {
        match self {
            Class::Customer => "customer",
            Class::AgentCandidate => "agent",
            Class::Bounce { .. } => "bounce",
            Class::AutoReply { .. } => "autoreply",
            Class::Bulk { .. } => "bulk",
            Class::OwnLoop { .. } => "own_loop",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Class::Bounce { reason }
            | Class::AutoReply { reason }
            | Class::Bulk { reason }
            | Class::OwnLoop { reason } => Some(reason),
            _ => None,
        }
    }
}

pub struct Classifier {
    /// Lowercased addresses that are mailroom itself.
    own_addresses: Vec<String>,
    /// Value of our loop header (the lowercased support address).
    loop_id: String,
    /// Lowercased agent addresses.
    roster: Vec<String>,
}

// Compiled on first use: a one-shot `ingest -` (one process per mail) pays only
// for the patterns its mail gets to, and most mail never reaches the bounce
// body, challenge or complaint checks.
static BOUNCE_SUBJECTS: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(subjects::BOUNCE_SUBJECTS).expect("static bounce patterns compile")
});
static AUTOREPLY_SUBJECTS: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(subjects::AUTOREPLY_SUBJECTS).expect("static autoreply patterns compile")
});
static BOUNCE_BODY: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(bounce::BOUNCE_BODY).expect("static bounce body patterns compile")
});
static CHALLENGE: LazyLock<[Regex; 3]> = LazyLock::new(|| {
    challenge::CHALLENGE.map(|p| Regex::new(p).expect("static challenge patterns compile"))
});
static COMPLAINT_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(complaint::COMPLAINT_SUBJECT).expect("static complaint pattern compiles")
});

impl Classifier {
    pub fn new(own_addresses: Vec<String>, loop_id: &str, roster: Vec<String>) -> Classifier {
        Classifier {
            own_addresses: own_addresses
                .into_iter()
                .map(|a| a.to_ascii_lowercase())
                .collect(),
            loop_id: loop_id.to_ascii_lowercase(),
            roster: roster.into_iter().map(|r| r.to_ascii_lowercase()).collect(),
        }
    }

    /// Mailroom's own address, also with a subaddress: `support+token@…` is
    /// where agents' replies come back (their notification's Reply-To).
    pub fn is_own_address(&self, email: &str) -> bool {
        self.own_addresses
            .iter()
            .any(|a| a == email || super::address::subaddress_of(email, a).is_some())
    }

    pub fn is_agent(&self, email: &str) -> bool {
        self.roster.iter().any(|a| a == email)
    }

    /// The first step (DESIGN §6 order) that recognises the mail decides.
    pub fn classify(&self, m: &ParsedMail) -> Class {
        if let Some(own) = self.own_loop(m) {
            return own;
        }
        let s = Signals::of(m);
        self.challenge_or_report(m, &s)
            .or_else(|| non_standard_bounce(m, &s))
            .or_else(|| {
                // 6. Complaint reports in a provider's own format (not ARF):
                // nothing but the complained-about message, which came from
                // the recipient's domain.
                self.silent_complaint(m)
                    .map(|reason| Class::AutoReply { reason })
            })
            .or_else(|| auto_reply(m, &s))
            .or_else(|| bulk(m, &s))
            .unwrap_or(if self.is_agent(&m.from.email) {
                Class::AgentCandidate
            } else {
                Class::Customer
            })
    }

    /// Step 1: our own mail coming back.
    fn own_loop(&self, m: &ParsedMail) -> Option<Class> {
        if m.auto.loop_values.iter().any(|v| v == &self.loop_id) {
            return Some(Class::OwnLoop {
                reason: format!("carries our loop header {}", super::parse::LOOP_HEADER),
            });
        }
        self.is_own_address(&m.from.email).then(|| Class::OwnLoop {
            reason: format!("sender {} is mailroom's own address", m.from.email),
        })
    }

    /// Steps 2 to 4: challenges, delivery reports, feedback and read receipts.
    fn challenge_or_report(&self, m: &ParsedMail, s: &Signals) -> Option<Class> {
        // 2. Challenge-response notices ("verify you are a sender", "add
        // yourself to my guest list"), even when they come dressed as a DSN:
        // the mail is held until the sender acts, it did not bounce.
        if (s.machine || m.text.contains("http://") || m.text.contains("https://"))
            && let Some(why) = self.challenge(bounce::notification_text(&m.text), s.machine)
        {
            return Some(Class::AutoReply {
                reason: format!("challenge-response notice ({why})"),
            });
        }
        // 3. Delivery-status reports (RFC 3464) and other bounces.
        if m.report.delivery_status {
            return Some(delivery_status(m));
        }
        if let Some(fr) = &m.auto.x_failed_recipients {
            return Some(Class::Bounce {
                reason: format!("X-Failed-Recipients: {fr}"),
            });
        }
        // 4. Reports that are not bounces: abuse feedback, read receipts.
        if m.report.feedback_report || m.auto.feedback_type.is_some() {
            return Some(Class::AutoReply {
                reason: "abuse feedback report (ARF)".into(),
            });
        }
        m.report.disposition_notification.then(|| Class::AutoReply {
            reason: "read receipt (message disposition notification)".into(),
        })
    }
}

/// Classifies mails written inline; shared by the unit tests here and in the submodules.
#[cfg(test)]
mod test_support {
    use super::{Class, Classifier};
    use crate::mail::parse::parse;

    fn classifier() -> Classifier {
        Classifier::new(
            vec!["support@example.test".into()],
            "support@example.test",
            vec!["bob@example.test".into()],
        )
    }

    pub(super) fn class_of(headers: &str, body: &str) -> Class {
        let raw = format!("{headers}Message-ID: <t@x.test>\r\n\r\n{body}\r\n");
        classifier().classify(&parse(raw.as_bytes()).expect("test mail parses"))
    }

    pub(super) fn classify_raw(raw: &str) -> Class {
        classifier().classify(&parse(raw.as_bytes()).expect("test mail parses"))
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::class_of;
    use super::*;

    #[test]
    fn plain_customer_mail() {
        let c = class_of(
            "From: a@customer.test\r\nSubject: Printer broken\r\n",
            "It is broken.",
        );
        assert_eq!(c, Class::Customer);
    }

    #[test]
    fn only_failed_delivery_reports_are_bounces() {
        let dsn = |blocks: &str| {
            super::test_support::classify_raw(&format!(
                "From: MAILER-DAEMON@mx.test\r\nSubject: Delivery Status Notification\r\nMessage-ID: <d@mx.test>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nReport\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\n{blocks}--B--\r\n"
            ))
        };
        for action in ["delayed", "delivered", "relayed", "expanded"] {
            let c = dsn(&format!(
                "Final-Recipient: rfc822; a@b.test\r\nAction: {action}\r\nStatus: 4.4.7\r\n"
            ));
            assert!(
                matches!(&c, Class::AutoReply { reason } if reason.contains(&format!("action {action}")) && reason.contains("not a failure")),
                "{action}: {c:?}"
            );
        }
        // One recipient delayed, another failed: a bounce, with the failure's status.
        let c = dsn(
            "Final-Recipient: rfc822; a@b.test\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\nFinal-Recipient: rfc822; c@d.test\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        );
        assert!(
            matches!(&c, Class::Bounce { reason } if reason.contains("action failed, status 5.1.1")),
            "{c:?}"
        );
        // No Action field at all: a failure, as before.
        assert!(matches!(
            dsn("Final-Recipient: rfc822; a@b.test\r\n"),
            Class::Bounce { .. }
        ));
    }

    #[test]
    fn roster_sender_is_only_a_candidate() {
        let c = class_of("From: Bob <BOB@example.test>\r\nSubject: hi\r\n", "x");
        assert_eq!(c, Class::AgentCandidate);
    }

    #[test]
    fn own_loop() {
        let c = class_of("From: support@example.test\r\nSubject: x\r\n", "x");
        assert!(matches!(c, Class::OwnLoop { .. }));
        let c = class_of(
            "From: a@c.test\r\nX-Mailroom-Loop: support@example.test\r\nSubject: x\r\n",
            "x",
        );
        assert!(matches!(c, Class::OwnLoop { .. }));
        // Another mailroom's loop header is not ours, but its ack is still automatic.
        let c = class_of(
            "From: help@other.test\r\nX-Mailroom-Loop: help@other.test\r\nAuto-Submitted: auto-replied\r\nSubject: x\r\n",
            "x",
        );
        assert!(matches!(c, Class::AutoReply { .. }));
    }

    #[test]
    fn auto_headers() {
        for h in [
            "Auto-Submitted: auto-replied\r\n",
            "X-Auto-Response-Suppress: All\r\n",
            "X-Auto-Response-Suppress: OOF, AutoReply\r\n",
            "Return-Path: <>\r\n",
            "X-Autoreply: yes\r\n",
            // An out-of-office with list headers is still an out-of-office.
            "Precedence: bulk\r\nAuto-Submitted: auto-replied\r\n",
        ] {
            let c = class_of(&format!("From: a@c.test\r\nSubject: hello\r\n{h}"), "x");
            assert!(matches!(c, Class::AutoReply { .. }), "{h}: {c:?}");
        }
        let c = class_of(
            "From: a@c.test\r\nSubject: Out of Office: Re: help\r\nPrecedence: bulk\r\n",
            "x",
        );
        assert!(matches!(c, Class::AutoReply { .. }), "{c:?}");
        for h in [
            "Auto-Submitted: auto-generated\r\n",
            "Precedence: bulk\r\n",
            "Precedence: list\r\n",
            "Precedence: junk\r\n",
            "List-Id: <users.lists.test>\r\n",
            "List-Unsubscribe: <mailto:u@lists.test>\r\n",
        ] {
            let c = class_of(&format!("From: a@c.test\r\nSubject: hello\r\n{h}"), "x");
            assert!(matches!(c, Class::Bulk { .. }), "{h}: {c:?}");
        }
        let c = class_of(
            "From: a@c.test\r\nAuto-Submitted: no\r\nSubject: hello\r\n",
            "x",
        );
        assert_eq!(c, Class::Customer);
    }

    #[test]
    fn customer_writing_about_delivery_or_quota_stays_customer() {
        for (subject, body) in [
            (
                "Delivery problem with my order",
                "The delivery failed twice and the parcel was returned to sender.",
            ),
            (
                "Undelivered parcel",
                "My parcel was not delivered. Tracking says permanent error 550 5.1.1.",
            ),
            (
                "Mailbox quota",
                "I am over quota on my mailbox, mail could not be delivered to me.",
            ),
            (
                "Returned mail",
                "Your shop returned mail I sent about the delivery.",
            ),
            ("Thank you for your help", "It works now."),
            (
                "Re: Thank you for contacting Example Support",
                "One more question.",
            ),
            (
                "Vacation booking refund",
                "I cancelled my vacation booking.",
            ),
            (
                "Automatic reply settings do not work",
                "How do I switch them on?",
            ),
            (
                "Please verify my account",
                "I never got the verification mail.",
            ),
            ("Out of office feature broken", "It never sends."),
            (
                "Auto: insurance renewal",
                "My car insurance renewal is due.",
            ),
            ("Absence of invoices", "No invoice since May."),
            ("Our admin is out of the office", "Who else can approve?"),
            ("Colleague is on leave", "Please send it to me instead."),
        ] {
            let c = class_of(
                &format!("From: a@customer.test\r\nSubject: {subject}\r\n"),
                body,
            );
            assert_eq!(c, Class::Customer, "{subject:?} / {body:?}");
        }
    }
}
