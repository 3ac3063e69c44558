//! Complaint reports in a provider's own format (not ARF): nothing but the
//! complained-about message, which came from the recipient's domain.

use super::Classifier;
use crate::mail::parse::ParsedMail;

/// Subject of a complaint report; only counts on a mail with no text of its own.
pub(super) const COMPLAINT_SUBJECT: &str = r"(?i)\b(complaint|abuse|spam)\b";

impl Classifier {
    /// A provider's complaint report without ARF structure: no text of its own,
    /// a complaint/abuse/spam subject, and an enclosed message that was sent from
    /// the domain the report is addressed to.
    pub(super) fn silent_complaint(&self, m: &ParsedMail) -> Option<String> {
        if !m.text.trim().is_empty() || !super::COMPLAINT_SUBJECT.is_match(&m.subject) {
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

#[cfg(test)]
mod tests {
    use crate::mail::classify::Class;
    use crate::mail::classify::test_support::classify_raw;

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
