//! Classification (DESIGN §5, §6): what kind of mail is this, before threading.

use regex::RegexSet;

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
            Class::OwnLoop { .. } => "own_loop",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Class::Bounce { reason } | Class::AutoReply { reason } | Class::OwnLoop { reason } => {
                Some(reason)
            }
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
    bounce_subjects: RegexSet,
    autoreply_subjects: RegexSet,
}

const BOUNCE_SUBJECTS: &[&str] = &[
    r"(?i)^\s*undeliver(ed|able)\b",
    r"(?i)delivery status notification \(failure\)",
    r"(?i)delivery (status notification|failure|notification|problem|has failed)",
    r"(?i)^\s*(mail delivery (failed|failure|system|subsystem)|failure notice)",
    r"(?i)returned mail",
    r"(?i)^\s*(non[- ]?delivery|nondeliverable)",
    r"(?i)could not (be )?deliver",
    r"(?i)^\s*delivery (report|warning)",
    r"(?i)^\s*warning: (could not send|message .* delayed)",
    r"(?i)\bmessage (delivery )?delayed\b",
    r"(?i)^\s*(mail|message) (could not be|not) delivered",
    r"(?i)^\s*(unzustellbar|nicht zustellbar|non recapitabile|non remis|no entregado)",
    r"(?i)^\s*delayed mail",
    r"(?i)^\s*(returned|rejected|bounced) (mail|message)",
    r"(?i)permanent (error|failure)",
    r"(?i)undelivered mail returned to sender",
    r"(?i)^\s*mail system error",
    r"(?i)^\s*error sending message",
];

const AUTOREPLY_SUBJECTS: &[&str] = &[
    r"(?i)\b(out of (the )?office|ooo)\b",
    r"(?i)^\s*auto(matic)?[- ]?(reply|response|antwort|risposta|réponse|respuesta)",
    r"(?i)\bautoreply\b|\bauto-reply\b|\bautoresponse\b",
    r"(?i)\bvacation\b|\bon holiday\b|\babsence\b",
    r"(?i)^\s*(abwesenheitsnotiz|abwesend|fuera de la oficina|absent|réponse automatique|automatische antwort)",
    r"(?i)thank you for (your )?(e-?mail|message|contacting)",
    r"(?i)^\s*(autosvar|automatisch antwoord|odpowiedź automatyczna|automatyczna odpowied)",
    r"(?i)\bchallenge\b.*\b(verify|verification)|please verify|verification required|pending (message|approval)",
    r"(?i)\b(boxbe|bluebottle|spamarrest|mailblocks)\b",
    r"(?i)your (e-?mail|message) .* (awaiting|requires?) (verification|approval)",
];

impl Classifier {
    pub fn new(own_addresses: Vec<String>, loop_id: &str, roster: Vec<String>) -> Classifier {
        Classifier {
            own_addresses,
            loop_id: loop_id.to_ascii_lowercase(),
            roster: roster.into_iter().map(|r| r.to_ascii_lowercase()).collect(),
            bounce_subjects: RegexSet::new(BOUNCE_SUBJECTS).expect("static bounce patterns compile"),
            autoreply_subjects: RegexSet::new(AUTOREPLY_SUBJECTS)
                .expect("static autoreply patterns compile"),
        }
    }

    pub fn is_own_address(&self, email: &str) -> bool {
        self.own_addresses.iter().any(|a| a == email)
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

        // 2. Bounces.
        let sender_local = m.from.email.split('@').next().unwrap_or("");
        let daemon_sender = matches!(
            sender_local,
            "mailer-daemon" | "postmaster" | "mail-daemon" | "mailerdaemon" | "mdaemon"
        ) || sender_local.starts_with("mailer-daemon")
            || sender_local.starts_with("postmaster");
        let null_return_path = m.auto.return_path.as_deref() == Some("");
        if m.report.delivery_status {
            let action = m.report.dsn_action.as_deref().unwrap_or("failed");
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
        let subject_says_bounce = self.bounce_subjects.is_match(&m.subject);
        let subject_says_auto = self.autoreply_subjects.is_match(&m.subject);
        if daemon_sender && !is_challenge(m) {
            return Class::Bounce {
                reason: format!("sent by {}", m.from.email),
            };
        }
        if subject_says_bounce && (null_return_path || body_says_bounce(&m.text)) && !is_challenge(m) {
            return Class::Bounce {
                reason: format!("non-standard bounce: subject {:?}", m.subject),
            };
        }

        // 3. Reports that are not bounces: abuse feedback, read receipts.
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

        // 4. Auto-replies and bulk mail.
        if let Some(v) = &m.auto.auto_submitted {
            let v = v.to_ascii_lowercase();
            if !v.starts_with("no") {
                return Class::AutoReply {
                    reason: format!("Auto-Submitted: {v}"),
                };
            }
        }
        if let Some(p) = &m.auto.precedence {
            let p = p.to_ascii_lowercase();
            if ["bulk", "junk", "list", "auto_reply", "auto-reply"].contains(&p.as_str()) {
                return Class::AutoReply {
                    reason: format!("Precedence: {p}"),
                };
            }
        }
        if let Some(v) = &m.auto.x_auto_response_suppress {
            let lv = v.to_ascii_lowercase();
            if lv.split([',', ' ']).any(|t| t == "all" || t == "autoreply" || t == "oof") {
                return Class::AutoReply {
                    reason: format!("X-Auto-Response-Suppress: {v}"),
                };
            }
        }
        if let Some(l) = &m.auto.list_id {
            return Class::AutoReply {
                reason: format!("mailing list mail (List-Id: {l})"),
            };
        }
        if m.auto.list_unsubscribe {
            return Class::AutoReply {
                reason: "bulk mail (List-Unsubscribe present)".into(),
            };
        }
        if m.auto.x_autoreply {
            return Class::AutoReply {
                reason: "X-Autoreply header".into(),
            };
        }
        if null_return_path {
            return Class::AutoReply {
                reason: "empty Return-Path (<>): sent by a machine".into(),
            };
        }
        if subject_says_auto || is_challenge(m) {
            return Class::AutoReply {
                reason: format!("auto-reply subject {:?}", m.subject),
            };
        }
        if subject_says_bounce {
            // "Undelivered Mail…" from a person or a whitelist service: not a DSN,
            // but not something to acknowledge either.
            return Class::AutoReply {
                reason: format!("delivery notice subject {:?} without a delivery report", m.subject),
            };
        }

        if self.is_agent(&m.from.email) {
            return Class::AgentCandidate;
        }
        Class::Customer
    }
}

/// Challenge-response systems (Boxbe, Bluebottle, …) ask the sender to verify;
/// they are auto-replies even when their subject looks like a bounce.
fn is_challenge(m: &ParsedMail) -> bool {
    let t = m.text.to_ascii_lowercase();
    let body_challenge = (t.contains("verify") || t.contains("verification") || t.contains("whitelist") || t.contains("approved sender"))
        && (t.contains("challenge") || t.contains("boxbe") || t.contains("bluebottle") || t.contains("whitelist") || t.contains("spam protection") || t.contains("approved sender"));
    body_challenge && !m.report.delivery_status
}

fn body_says_bounce(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "could not be delivered",
        "couldn't be delivered",
        "undeliverable",
        "delivery to the following recipient",
        "permanent error",
        "permanent fatal error",
        "user unknown",
        "unknown user",
        "mailbox unavailable",
        "no such user",
        "does not exist",
        "message could not",
        "delivery has failed",
        "was not delivered",
        "delivery failed",
        "returned to sender",
        "550 ",
        "5.1.1",
        "quota",
    ]
    .iter()
    .any(|p| t.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::parse;

    fn classifier() -> Classifier {
        Classifier::new(
            vec!["support@example.test".into()],
            "support@example.test",
            vec!["bob@example.test".into()],
        )
    }

    fn class_of(headers: &str, body: &str) -> Class {
        let raw = format!("{headers}Message-ID: <t@x.test>\r\n\r\n{body}\r\n");
        classifier().classify(&parse(raw.as_bytes()).expect("test mail parses"))
    }

    #[test]
    fn plain_customer_mail() {
        let c = class_of("From: a@customer.test\r\nSubject: Printer broken\r\n", "It is broken.");
        assert_eq!(c, Class::Customer);
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
        let c = class_of("From: a@c.test\r\nX-Mailroom-Loop: support@example.test\r\nSubject: x\r\n", "x");
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
            "Auto-Submitted: auto-generated\r\n",
            "Precedence: bulk\r\n",
            "Precedence: list\r\n",
            "Precedence: junk\r\n",
            "X-Auto-Response-Suppress: All\r\n",
            "X-Auto-Response-Suppress: OOF, AutoReply\r\n",
            "List-Id: <users.lists.test>\r\n",
            "List-Unsubscribe: <mailto:u@lists.test>\r\n",
            "Return-Path: <>\r\n",
        ] {
            let c = class_of(&format!("From: a@c.test\r\nSubject: hello\r\n{h}"), "x");
            assert!(matches!(c, Class::AutoReply { .. }), "{h}: {c:?}");
        }
        let c = class_of("From: a@c.test\r\nAuto-Submitted: no\r\nSubject: hello\r\n", "x");
        assert_eq!(c, Class::Customer);
    }

    #[test]
    fn out_of_office_subjects() {
        for s in ["Out of Office: Re: help", "Automatic reply: help", "Abwesenheitsnotiz: help", "Auto-Reply: x"] {
            let c = class_of(&format!("From: a@c.test\r\nSubject: {s}\r\n"), "I am away");
            assert!(matches!(c, Class::AutoReply { .. }), "{s}: {c:?}");
        }
    }

    #[test]
    fn non_standard_bounce() {
        let c = class_of(
            "From: MAILER-DAEMON@mx.test\r\nSubject: failure notice\r\n",
            "Sorry, we were unable to deliver your message.",
        );
        assert!(matches!(c, Class::Bounce { .. }), "{c:?}");
        let c = class_of(
            "From: postmaster@mx.test\r\nSubject: Returned mail: see transcript\r\n",
            "User unknown",
        );
        assert!(matches!(c, Class::Bounce { .. }), "{c:?}");
    }
}
