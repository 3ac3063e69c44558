//! Challenge-response notices ("add yourself to my allowed list"): held mail
//! waiting for the sender to act, even when dressed as a DSN; not a bounce.

use super::Classifier;

/// Challenge-response systems: a notice in the vocabulary of sender lists or
/// confirmations (1), asking for an action (2), about the sender's message,
/// address or server (3). All three must appear, plus a link or another sign
/// of machine mail, before a mail is treated as a challenge. A bounce that
/// merely says "ask the recipient to add you to our whitelist" asks for no
/// action of the sender's own and stays a bounce.
pub(super) const CHALLENGE: [&str; 3] = [
    concat!(
        r"(?i)white\s*list|allow(ed)?[-\s]*(senders?\s+)?list|guest\s+list|approved[-\s]+senders?|",
        r"pre-?approved|wait\s*list(ed)?|sender\s+verification|verification\s+process|",
        r"requires?\s+(confirmation|verification)"
    ),
    r"(?i)\bclick\b|\bvisit\b|\bconfirm|\bverif(y|ication)|\badd\s+yourself\b|(following|the|this)\s+link|link\s+below",
    r"(?i)\byour\s+(e-?mail|message|mail|server|address)\b|ensure\s+(the\s+)?delivery|be\s+delivered",
];

impl Classifier {
    /// Which challenge-response phrases the notice holds, when it holds all three
    /// kinds and either a link or another sign of machine mail.
    pub(super) fn challenge(&self, notice: &str, machine: bool) -> Option<String> {
        let hits: Vec<String> = super::CHALLENGE
            .iter()
            .map(|re| {
                re.find(notice)
                    .map(|m| m.as_str().split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect::<Option<_>>()?;
        let has_link = notice.contains("http://") || notice.contains("https://");
        (machine || has_link).then(|| hits.join(" / "))
    }
}

#[cfg(test)]
mod tests {
    use crate::mail::classify::Class;
    use crate::mail::classify::test_support::{class_of, classify_raw};

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
}
