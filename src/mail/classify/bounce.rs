//! Bounce evidence: signs that a mail system sent the notice, and the notice's
//! own text. Customers write about deliveries too, so wording alone is not enough.

use crate::mail::parse::{DAEMON_LOCAL_PARTS, ParsedMail};

/// Body phrases of delivery failure notices; only used with machine evidence.
pub(super) const BOUNCE_BODY: &[&str] = &[
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

/// A mail-system sender such as `MAILER-DAEMON@…` or `postmaster@…`.
pub(super) fn is_mail_system_sender(email: &str) -> bool {
    let sender_local = email.split('@').next().unwrap_or("");
    DAEMON_LOCAL_PARTS.contains(&sender_local)
        || sender_local.starts_with("mailer-daemon")
        || sender_local.starts_with("postmaster")
}

/// `Return-Path: <>`; local delivery agents also write `<MAILER-DAEMON>`.
pub(super) fn has_null_return_path(m: &ParsedMail) -> bool {
    m.auto.return_path.as_deref().is_some_and(|rp| {
        rp.is_empty() || DAEMON_LOCAL_PARTS.contains(&rp.split('@').next().unwrap_or(rp))
    })
}

/// The mail returns an original: its Message-ID was found, or it is attached.
pub(super) fn encloses_original(m: &ParsedMail) -> bool {
    !m.report.original_message_ids.is_empty()
        || m.attachments.iter().any(|a| {
            matches!(
                a.content_type.as_str(),
                "message/rfc822"
                    | "message/global"
                    | "text/rfc822-headers"
                    | "message/rfc822-headers"
            )
        })
}

/// The part of a notice written by its sender: non-standard bounces append the
/// returned message inline, and its text must not count as the notice's own.
pub(super) fn notification_text(text: &str) -> &str {
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
    use crate::mail::classify::Class;
    use crate::mail::classify::test_support::class_of;

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
}
