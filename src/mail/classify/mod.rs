//! Classification (DESIGN §5, §6): what kind of mail is this, before threading.
//!
//! `Classifier::classify` holds the decision order; the submodules hold the
//! evidence its steps look at.

mod bounce;
mod challenge;
mod complaint;
mod subjects;

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::parse::ParsedMail;

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

    pub fn classify(&self, m: &ParsedMail) -> Class {
        // 1. Our own mail coming back.
        if m.auto.loop_values.iter().any(|v| v == &self.loop_id) {
            return Class::OwnLoop {
                reason: format!("carries our loop header {}", super::parse::LOOP_HEADER),
            };
        }
        if self.is_own_address(&m.from.email) {
            return Class::OwnLoop {
                reason: format!("sender {} is mailroom's own address", m.from.email),
            };
        }

        let daemon_sender = bounce::is_mail_system_sender(&m.from.email);
        let null_return_path = bounce::has_null_return_path(m);
        let auto_submitted = m
            .auto
            .auto_submitted
            .as_deref()
            .filter(|v| !v.trim().to_ascii_lowercase().starts_with("no"));
        // The notice text and the body patterns cost a scan of the body: only
        // computed for mail that can be a challenge or a bounce at all.
        let notice = || bounce::notification_text(&m.text);
        let machine = daemon_sender
            || null_return_path
            || auto_submitted.is_some()
            || m.report.delivery_status;

        // 2. Challenge-response notices ("verify you are a sender", "add yourself
        // to my guest list"), even when they come dressed as a DSN: the mail is
        // held until the sender acts, it did not bounce.
        if (machine || m.text.contains("http://") || m.text.contains("https://"))
            && let Some(why) = self.challenge(notice(), machine)
        {
            return Class::AutoReply {
                reason: format!("challenge-response notice ({why})"),
            };
        }

        // 3. Delivery-status reports (RFC 3464) and other bounces.
        if m.report.delivery_status {
            let action = m.report.dsn_action.as_deref().unwrap_or("failed");
            // RFC 3464: delayed, delivered, relayed and expanded say the mail
            // is on its way; only `failed` is a bounce (and suppresses).
            if matches!(action, "delayed" | "delivered" | "relayed" | "expanded") {
                return Class::AutoReply {
                    reason: format!(
                        "delivery-status report (action {action}): not a failure, nothing is held back"
                    ),
                };
            }
            return Class::Bounce {
                reason: format!(
                    "delivery-status report (action {action}{})",
                    m.report
                        .dsn_status
                        .as_deref()
                        .map(|s| format!(", status {s}"))
                        .unwrap_or_default()
                ),
            };
        }
        if let Some(fr) = &m.auto.x_failed_recipients {
            return Class::Bounce {
                reason: format!("X-Failed-Recipients: {fr}"),
            };
        }

        // 4. Reports that are not bounces: abuse feedback, read receipts.
        if m.report.feedback_report || m.auto.feedback_type.is_some() {
            return Class::AutoReply {
                reason: "abuse feedback report (ARF)".into(),
            };
        }
        if m.report.disposition_notification {
            return Class::AutoReply {
                reason: "read receipt (message disposition notification)".into(),
            };
        }

        // Closures: most mail is neither machine-sent nor from a daemon, and a
        // one-shot `ingest -` should not compile patterns it never needs.
        let subject_says_bounce = || BOUNCE_SUBJECTS.is_match(&m.subject);
        let body_says_bounce = || BOUNCE_BODY.is_match(notice());
        let encloses_original = bounce::encloses_original(m);

        // 5. Non-standard bounces: a mail system's notice without a DSN part.
        if daemon_sender {
            if null_return_path || encloses_original || subject_says_bounce() || body_says_bounce()
            {
                return Class::Bounce {
                    reason: format!("non-standard bounce sent by {}", m.from.email),
                };
            }
            // DESIGN §6: never acknowledge a postmaster/MAILER-DAEMON sender.
            return Class::AutoReply {
                reason: format!(
                    "sent from the mail-system address {} (no delivery report found)",
                    m.from.email
                ),
            };
        }
        if (null_return_path || auto_submitted.is_some())
            && subject_says_bounce()
            && body_says_bounce()
        {
            return Class::Bounce {
                reason: format!("non-standard bounce: machine-sent, subject {:?}", m.subject),
            };
        }

        // 6. Complaint reports in a provider's own format (not ARF): nothing but
        // the complained-about message, which came from the recipient's domain.
        if let Some(why) = self.silent_complaint(m) {
            return Class::AutoReply { reason: why };
        }

        // 7. Auto-replies: a machine answering a mail (DESIGN §6). They win over
        // bulk headers: an out-of-office often carries Precedence: bulk too.
        if let Some(v) = auto_submitted
            && v.trim().to_ascii_lowercase().starts_with("auto-replied")
        {
            return Class::AutoReply {
                reason: format!("Auto-Submitted: {v}"),
            };
        }
        let precedence = m.auto.precedence.as_deref().map(str::to_ascii_lowercase);
        if let Some(p) = &precedence
            && ["auto_reply", "auto-reply"].contains(&p.as_str())
        {
            return Class::AutoReply {
                reason: format!("Precedence: {p}"),
            };
        }
        if let Some(v) = &m.auto.x_auto_response_suppress {
            let lv = v.to_ascii_lowercase();
            if lv
                .split([',', ' '])
                .any(|t| t == "all" || t == "autoreply" || t == "oof")
            {
                return Class::AutoReply {
                    reason: format!("X-Auto-Response-Suppress: {v}"),
                };
            }
        }
        if m.auto.x_autoreply {
            return Class::AutoReply {
                reason: "X-Autoreply header".into(),
            };
        }
        if subjects::may_mark_autoreply(&m.subject) && AUTOREPLY_SUBJECTS.is_match(&m.subject) {
            return Class::AutoReply {
                reason: format!("auto-reply subject {:?}", m.subject),
            };
        }
        if null_return_path {
            return Class::AutoReply {
                reason: "empty Return-Path (<>): sent by a machine".into(),
            };
        }

        // 8. Bulk and list mail: never acknowledged, but a real ticket (rules
        // may route or drop it), so nobody's mail is hidden out of sight.
        if let Some(v) = auto_submitted {
            return Class::Bulk {
                reason: format!("Auto-Submitted: {v}"),
            };
        }
        if let Some(p) = &precedence
            && ["bulk", "junk", "list"].contains(&p.as_str())
        {
            return Class::Bulk {
                reason: format!("Precedence: {p}"),
            };
        }
        if let Some(l) = &m.auto.list_id {
            return Class::Bulk {
                reason: format!("mailing list mail (List-Id: {l})"),
            };
        }
        if m.auto.list_unsubscribe {
            return Class::Bulk {
                reason: "bulk mail (List-Unsubscribe present)".into(),
            };
        }

        if self.is_agent(&m.from.email) {
            return Class::AgentCandidate;
        }
        Class::Customer
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
