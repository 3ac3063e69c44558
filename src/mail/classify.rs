//! Classification (DESIGN §5, §6): what kind of mail is this, before threading.

use regex::{Regex, RegexSet};

use super::parse::{DAEMON_LOCAL_PARTS, ParsedMail};

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
    bounce_body: RegexSet,
    challenge: [Regex; 3],
    complaint_subject: Regex,
}

/// Subjects of delivery failure notices. A subject alone never makes a mail a
/// bounce: it only counts next to machine evidence (daemon sender, empty
/// Return-Path, Auto-Submitted), because customers write about deliveries too.
const BOUNCE_SUBJECTS: &[&str] = &[
    r"(?i)^\s*undeliver(ed|able)\b",
    r"(?i)delivery status notification",
    r"(?i)delivery (failure|notification|problem|has failed|failed)",
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
    r"(?i)message status - undeliverable",
];

/// Out-of-office and auto-reply subjects (RFC 3834 responders that set no
/// header). Anchored: the marker is the prefix an auto-responder puts before
/// the original subject ("Automatic reply: …", Lotus Notes' upper-case
/// "AUTO: …"), a bracketed tag, or the "(Automatic Response)" suffix. Words
/// such as "vacation", "absence" or "automatic reply" inside a customer's own
/// subject do not count.
const AUTOREPLY_SUBJECTS: &[&str] = &[
    concat!(
        r"(?i)^\s*\[?\s*(",
        r"out of (the )?office( auto ?reply)?|ooo|autoreply|auto[- ]reply|auto[- ]?response|",
        r"automatic (reply|response)|automated (reply|response)|",
        r"automatische antwort|abwesenheitsnotiz|",
        r"r[ée]ponse automatique|respuesta autom[áa]tica|fuera de la oficina|",
        r"risposta automatica|resposta autom[áa]tica|",
        r"automatisch antwoord|autosvar|automatisk svar|automaattinen vastaus|",
        r"automatyczna odpowied[źz]|odpowied[źz] automatyczna|",
        r"автоответ|автоматический ответ|vacation (reply|notice|message)",
        r")\s*(:|\])"
    ),
    r"^\s*AUTO:\s",
    r"(?i)\((auto(matic|mated)?[- ]?(reply|response)|out of (the )?office)\)\s*$",
];

/// Body phrases of delivery failure notices; only used with machine evidence.
const BOUNCE_BODY: &[&str] = &[
    r"(?i)could\s*n[o']t\s+be\s+delivered",
    r"(?i)\bundeliverable\b",
    r"(?i)delivery\s+to\s+the\s+following\s+recipients?\s+(failed|has\s+failed|was\s+unsuccessful)",
    r"(?i)permanent\s+(fatal\s+)?error",
    r"(?i)\b(user|recipient|mailbox|address)(\s+address)?\s+(unknown|not\s+found|unavailable|does\s+not\s+exist|disabled|suspended)",
    r"(?i)\b(unknown|invalid|non-?existent)\s+(user|recipient|mailbox|address)\b",
    r"(?i)\bno\s+such\s+(user|mailbox|recipient|address|domain)\b",
    r"(?i)\b(message|delivery)\s+(could\s+not|has\s+failed|failed|was\s+not\s+delivered)",
    r"(?i)\bwas\s+not\s+delivered\b",
    r"(?i)returned\s+to\s+sender",
    r"(?i)\b(over|exceeded?(\s+the)?|exceeds(\s+the)?)\s+(disk\s+|storage\s+|mailbox\s+)?quota\b|\bmailbox\s+(is\s+)?full\b",
    r"(?i)\b[45][0-9][0-9][\s-][245]\.[0-9]{1,3}\.[0-9]{1,3}\b",
    r"(?i)\b(said|replied|responded|reason):\s*[45][0-9][0-9]\b",
    r"(?i)\b(host|domain)\s+(not\s+found|unknown)\b",
    r"(?i)\bmessage\s+(is\s+)?too\s+(large|big)\b",
    r"(?i)\b(delayed|not\s+yet\s+been\s+delivered|will\s+(continue\s+to\s+)?(be\s+)?retr(y|ied))\b",
];

/// Challenge-response systems: a notice in the vocabulary of sender lists or
/// confirmations (1), asking for an action (2), about the sender's message,
/// address or server (3). All three must appear, plus a link or another sign
/// of machine mail, before a mail is treated as a challenge. A bounce that
/// merely says "ask the recipient to add you to our whitelist" asks for no
/// action of the sender's own and stays a bounce.
const CHALLENGE: [&str; 3] = [
    concat!(
        r"(?i)white\s*list|allow(ed)?[-\s]*(senders?\s+)?list|guest\s+list|approved[-\s]+senders?|",
        r"pre-?approved|wait\s*list(ed)?|sender\s+verification|verification\s+process|",
        r"requires?\s+(confirmation|verification)"
    ),
    r"(?i)\bclick\b|\bvisit\b|\bconfirm|\bverif(y|ication)|\badd\s+yourself\b|(following|the|this)\s+link|link\s+below",
    r"(?i)\byour\s+(e-?mail|message|mail|server|address)\b|ensure\s+(the\s+)?delivery|be\s+delivered",
];

impl Classifier {
    pub fn new(own_addresses: Vec<String>, loop_id: &str, roster: Vec<String>) -> Classifier {
        Classifier {
            own_addresses: own_addresses
                .into_iter()
                .map(|a| a.to_ascii_lowercase())
                .collect(),
            loop_id: loop_id.to_ascii_lowercase(),
            roster: roster.into_iter().map(|r| r.to_ascii_lowercase()).collect(),
            bounce_subjects: RegexSet::new(BOUNCE_SUBJECTS)
                .expect("static bounce patterns compile"),
            autoreply_subjects: RegexSet::new(AUTOREPLY_SUBJECTS)
                .expect("static autoreply patterns compile"),
            bounce_body: RegexSet::new(BOUNCE_BODY).expect("static bounce body patterns compile"),
            challenge: CHALLENGE.map(|p| Regex::new(p).expect("static challenge patterns compile")),
            complaint_subject: Regex::new(r"(?i)\b(complaint|abuse|spam)\b")
                .expect("static complaint pattern compiles"),
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

        let sender_local = m.from.email.split('@').next().unwrap_or("");
        let daemon_sender = DAEMON_LOCAL_PARTS.contains(&sender_local)
            || sender_local.starts_with("mailer-daemon")
            || sender_local.starts_with("postmaster");
        // `Return-Path: <>`; local delivery agents also write `<MAILER-DAEMON>`.
        let null_return_path = m.auto.return_path.as_deref().is_some_and(|rp| {
            rp.is_empty() || DAEMON_LOCAL_PARTS.contains(&rp.split('@').next().unwrap_or(rp))
        });
        let auto_submitted = m
            .auto
            .auto_submitted
            .as_deref()
            .filter(|v| !v.trim().to_ascii_lowercase().starts_with("no"));
        let notice = notification_text(&m.text);

        // 2. Challenge-response notices ("verify you are a sender", "add yourself
        // to my guest list"), even when they come dressed as a DSN: the mail is
        // held until the sender acts, it did not bounce.
        if let Some(why) = self.challenge(
            notice,
            daemon_sender
                || null_return_path
                || auto_submitted.is_some()
                || m.report.delivery_status,
        ) {
            return Class::AutoReply {
                reason: format!("challenge-response notice ({why})"),
            };
        }

        // 3. Delivery-status reports (RFC 3464) and other bounces.
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

        let subject_says_bounce = self.bounce_subjects.is_match(&m.subject);
        let body_says_bounce = self.bounce_body.is_match(notice);
        let encloses_original = !m.report.original_message_ids.is_empty()
            || m.attachments.iter().any(|a| {
                matches!(
                    a.content_type.as_str(),
                    "message/rfc822"
                        | "message/global"
                        | "text/rfc822-headers"
                        | "message/rfc822-headers"
                )
            });

        // 5. Non-standard bounces: a mail system's notice without a DSN part.
        if daemon_sender {
            if subject_says_bounce || body_says_bounce || null_return_path || encloses_original {
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
        if (null_return_path || auto_submitted.is_some()) && subject_says_bounce && body_says_bounce
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

        // 7. Auto-replies and bulk mail (DESIGN §6).
        if let Some(v) = auto_submitted {
            return Class::AutoReply {
                reason: format!("Auto-Submitted: {v}"),
            };
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
            if lv
                .split([',', ' '])
                .any(|t| t == "all" || t == "autoreply" || t == "oof")
            {
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
        if self.autoreply_subjects.is_match(&m.subject) {
            return Class::AutoReply {
                reason: format!("auto-reply subject {:?}", m.subject),
            };
        }

        if self.is_agent(&m.from.email) {
            return Class::AgentCandidate;
        }
        Class::Customer
    }

    /// Which challenge-response phrases the notice holds, when it holds all three
    /// kinds and either a link or another sign of machine mail.
    fn challenge(&self, notice: &str, machine: bool) -> Option<String> {
        let hits: Vec<String> = self
            .challenge
            .iter()
            .map(|re| {
                re.find(notice)
                    .map(|m| m.as_str().split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect::<Option<_>>()?;
        let has_link = notice.contains("http://") || notice.contains("https://");
        (machine || has_link).then(|| hits.join(" / "))
    }

    /// A provider's complaint report without ARF structure: no text of its own,
    /// a complaint/abuse/spam subject, and an enclosed message that was sent from
    /// the domain the report is addressed to.
    fn silent_complaint(&self, m: &ParsedMail) -> Option<String> {
        if !m.text.trim().is_empty() || !self.complaint_subject.is_match(&m.subject) {
            return None;
        }
        let to_domains: Vec<&str> =
            m.to.iter()
                .chain(m.cc.iter())
                .map(|mb| mb.email.as_str())
                .chain(self.own_addresses.iter().map(String::as_str))
                .filter_map(|e| e.rsplit_once('@').map(|(_, d)| d))
                .collect();
        m.attachments
            .iter()
            .filter(|a| matches!(a.content_type.as_str(), "message/rfc822" | "message/global"))
            .filter_map(|a| enclosed_sender(&a.data))
            .find(|sender| {
                sender
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| to_domains.contains(&d))
            })
            .map(|sender| {
                format!(
                    "complaint report {:?} enclosing a message from {sender}, without text of its own",
                    m.subject
                )
            })
    }
}

/// The lowercased From address of an enclosed message.
fn enclosed_sender(raw: &[u8]) -> Option<String> {
    let headers = mail_parser::MessageParser::default().parse_headers(raw)?;
    let addr = headers
        .from()?
        .first()?
        .address()?
        .trim()
        .to_ascii_lowercase();
    addr.contains('@').then_some(addr)
}

/// The part of a notice written by its sender: non-standard bounces append the
/// returned message inline, and its text must not count as the notice's own.
fn notification_text(text: &str) -> &str {
    const MARKERS: &[&str] = &[
        "----- original message -----",
        "-----original message-----",
        "------ this is a copy of the message",
        "--- below this line is a copy of the message",
        "original message follows",
        "----- message text follows -----",
        "------ original message header",
        "---------- forwarded message ----------",
    ];
    // Only the head of a long notice matters; it also bounds the work.
    let head = match text.char_indices().nth(8192) {
        Some((i, _)) => &text[..i],
        None => text,
    };
    let lower = head.to_ascii_lowercase();
    let cut = MARKERS
        .iter()
        .filter_map(|mk| lower.find(mk))
        .min()
        .unwrap_or(head.len());
    &head[..cut]
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
        let c = class_of(
            "From: a@customer.test\r\nSubject: Printer broken\r\n",
            "It is broken.",
        );
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
        let c = class_of(
            "From: a@c.test\r\nAuto-Submitted: no\r\nSubject: hello\r\n",
            "x",
        );
        assert_eq!(c, Class::Customer);
    }

    #[test]
    fn out_of_office_subjects() {
        for s in [
            "Out of Office: Re: help",
            "Automatic reply: help",
            "Abwesenheitsnotiz: help",
            "Auto-Reply: x",
        ] {
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

    fn classify_raw(raw: &str) -> Class {
        classifier().classify(&parse(raw.as_bytes()).expect("test mail parses"))
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

    #[test]
    fn auto_reply_subject_markers() {
        for s in [
            "AUTO: Smith, John is out of the office (returning 05/01/2026)",
            "[Automatyczna odpowiedź] test",
            "Re: help (Automatic Response)",
            "Réponse automatique : help",
        ] {
            let c = class_of(&format!("From: a@c.test\r\nSubject: {s}\r\n"), "I am away");
            assert!(matches!(c, Class::AutoReply { .. }), "{s}: {c:?}");
        }
    }

    #[test]
    fn challenge_response_is_an_autoreply() {
        // A plain challenge from the protected person's address.
        let c = class_of(
            "From: user@protected.test\r\nSubject: RE: help\r\n",
            "Your message was received.\r\n\r\nThis account is protected. Please click on the following link to have\r\nyour address added to the recipient's allowed\r\nlist and to ensure delivery of your email.\r\n\r\nhttps://cr.test/verify/1",
        );
        assert!(matches!(c, Class::AutoReply { .. }), "{c:?}");
        // Dressed as a DSN: the remote server asks the sending server to confirm itself.
        let c = classify_raw(concat!(
            "From: MAILER-DAEMON@mx.test\r\nSubject: Undelivered Mail Returned to Sender\r\n",
            "Message-ID: <dsn@mx.test>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n",
            "--B\r\nContent-Type: text/plain\r\n\r\n<x@y.test>: host mx.y.test said: 550 Your server requires\r\n",
            "    confirmation. Visit http://y.test/Whitelist.aspx to confirm this mail server.\r\n",
            "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\n",
            "Final-Recipient: rfc822; x@y.test\r\nAction: failed\r\nStatus: 5.0.0\r\n--B--\r\n"
        ));
        assert!(matches!(c, Class::AutoReply { .. }), "{c:?}");
    }

    #[test]
    fn whitelist_talk_without_a_challenge_is_not_one() {
        // A customer talking about whitelists, without a link.
        let c = class_of(
            "From: a@customer.test\r\nSubject: your mails go to spam\r\n",
            "I added your address to my whitelist, please confirm you got my message.",
        );
        assert_eq!(c, Class::Customer);
        // A bounce that tells the sender to ask the recipient for whitelisting asks
        // for no action of the sender's own: still a bounce.
        let c = class_of(
            "From: MAILER-DAEMON@mx.test\r\nReturn-Path: <>\r\nSubject: Undelivered Mail Returned to Sender\r\n",
            "<a@b.test>: host 10.0.0.1 said: 500 Mail appears to be unsolicited -- report errors by\r\ntelephoning the person you are emailing so they may add you to our whitelist.",
        );
        assert!(matches!(c, Class::Bounce { .. }), "{c:?}");
        // Challenge wording inside the returned copy of the original does not count.
        let c = class_of(
            "From: MAILER-DAEMON@mx.test\r\nSubject: failure notice\r\n",
            "Sorry, I couldn't deliver your message: user unknown.\r\n\r\n--- Below this line is a copy of the message.\r\n\r\nClick https://shop.test to add us to your whitelist so your email is delivered.",
        );
        assert!(matches!(c, Class::Bounce { .. }), "{c:?}");
    }

    #[test]
    fn mail_system_sender_without_report_is_automatic() {
        let c = class_of(
            "From: Bob <postmaster@example.org>\r\nSubject: Please enjoy this link\r\n",
            "http://example.org/",
        );
        assert!(matches!(c, Class::AutoReply { .. }), "{c:?}");
    }

    #[test]
    fn machine_sent_bounce_from_an_ordinary_address() {
        let c = class_of(
            "From: mail-system@isp.test\r\nReturn-Path: <>\r\nSubject: Delivery failure\r\n",
            "Your message could not be delivered: mailbox unavailable.",
        );
        assert!(matches!(c, Class::Bounce { .. }), "{c:?}");
        // The same subject and body from a person: a customer.
        let c = class_of(
            "From: a@customer.test\r\nSubject: Delivery failure\r\n",
            "Your message could not be delivered: mailbox unavailable. What now?",
        );
        assert_eq!(c, Class::Customer);
    }

    fn complaint(to: &str, enclosed_from: &str, text: &str) -> String {
        format!(
            "From: staff@provider.test\r\nTo: {to}\r\nSubject: complaint about message from 192.0.2.1\r\nMessage-ID: <c@provider.test>\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n{text}--B\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\nFrom: News <{enclosed_from}>\r\nTo: someone@provider.test\r\nSubject: Offers\r\nMessage-ID: <o@x.test>\r\n\r\nBuy now\r\n--B--\r\n"
        )
    }

    #[test]
    fn provider_complaint_without_arf() {
        let c = classify_raw(&complaint("fbl@ourdomain.test", "news@ourdomain.test", ""));
        assert!(matches!(c, Class::AutoReply { .. }), "{c:?}");
        // The enclosed mail is not from the recipient's domain: a person forwarding spam.
        let c = classify_raw(&complaint("fbl@ourdomain.test", "spam@elsewhere.test", ""));
        assert_eq!(c, Class::Customer);
        // With text of its own: a person writing about it.
        let c = classify_raw(&complaint(
            "fbl@ourdomain.test",
            "news@ourdomain.test",
            "--B\r\nContent-Type: text/plain\r\n\r\nPlease stop sending me this.\r\n",
        ));
        assert_eq!(c, Class::Customer);
    }
}
