//! The content hash: the same mail delivered twice hashes the same, so a
//! repeated delivery is recognised; it also stands in for a missing Message-ID.

use sha2::{Digest, Sha256};

/// Transport headers that differ between deliveries of one mail; left out of the content hash.
const TRANSPORT_HEADERS: &[&str] = &[
    "received",
    "delivered-to",
    "return-path",
    "x-original-to",
    "x-delivered-to",
    "envelope-to",
    "x-envelope-to",
    "x-rcpt-to",
    "x-received",
    "authentication-results",
    "arc-seal",
    "arc-message-signature",
    "arc-authentication-results",
    "received-spf",
    "dkim-signature",
    "x-mailroom-origin",
];

/// Header families that relays, filters and mail providers add on the way.
const TRANSPORT_PREFIXES: &[&str] = &[
    "arc-",
    "x-forwarded-",
    "x-spam-",
    "x-rspamd-",
    "x-virus-",
    "x-ms-exchange-",
    "x-google-",
];

fn is_transport(name: &str) -> bool {
    TRANSPORT_HEADERS.contains(&name) || TRANSPORT_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// SHA-256 of what a person sees in a mail: sender, date, subject, the decoded
/// text and the attachments' hashes. A relay that re-encodes the body
/// (quoted-printable to base64) changes the content hash but not this.
pub fn text_hash(
    from: &str,
    date: Option<i64>,
    subject: &str,
    text: &str,
    attachments: &[&str],
) -> String {
    let mut h = Sha256::new();
    for part in [
        from,
        &date.map(|d| d.to_string()).unwrap_or_default(),
        subject,
    ] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    // Line endings and trailing blanks vary with the transfer encoding.
    for line in text.lines() {
        h.update(line.trim_end().as_bytes());
        h.update(b"\n");
    }
    for a in attachments {
        h.update(b"\0");
        h.update(a.as_bytes());
    }
    hex::encode(h.finalize())
}

/// SHA-256 over the header fields that are not transport headers, then the body.
/// The same mail delivered twice (other Received/Delivered-To) hashes the same.
pub fn content_hash(raw: &[u8]) -> String {
    let (head, body) = split_header_body(raw);
    let mut h = Sha256::new();
    for field in header_fields(head) {
        let name_end = field.iter().position(|&b| b == b':').unwrap_or(field.len());
        let name = String::from_utf8_lossy(&field[..name_end])
            .trim()
            .to_ascii_lowercase();
        if is_transport(&name) {
            continue;
        }
        // Line endings are normalised: one hop may rewrite CRLF to LF.
        for line in field.split(|&b| b == b'\n') {
            h.update(line.strip_suffix(b"\r").unwrap_or(line));
            h.update(b"\n");
        }
    }
    h.update(b"\n");
    for line in body.split(|&b| b == b'\n') {
        h.update(line.strip_suffix(b"\r").unwrap_or(line));
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

fn split_header_body(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    while i < raw.len() {
        // A line that is empty (after an optional CR) ends the header block.
        let rest = &raw[i..];
        if rest.starts_with(b"\r\n") {
            return (&raw[..i], &raw[i + 2..]);
        }
        if rest.starts_with(b"\n") {
            return (&raw[..i], &raw[i + 1..]);
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(p) => i += p + 1,
            None => return (raw, &[]),
        }
    }
    (raw, &[])
}

/// Splits a header block into fields, keeping folded continuation lines with their field.
fn header_fields(head: &[u8]) -> Vec<&[u8]> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < head.len() {
        let end = head[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| i + p + 1)
            .unwrap_or(head.len());
        let next_is_continuation = head.get(end).is_some_and(|b| *b == b' ' || *b == b'\t');
        if !next_is_continuation {
            fields.push(&head[start..end]);
            start = end;
        }
        i = end;
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::test_support::SIMPLE;

    #[test]
    fn content_hash_ignores_transport_headers_only() {
        let a = content_hash(SIMPLE.as_bytes());
        let other_delivery = SIMPLE.replace(
            "Received: from a by b\r\n",
            "Received: from c by d\r\nDelivered-To: sales@example.test\r\n",
        );
        assert_eq!(a, content_hash(other_delivery.as_bytes()));
        let lf_only = SIMPLE.replace("\r\n", "\n");
        assert_eq!(a, content_hash(lf_only.as_bytes()));
        let other_body = SIMPLE.replace("Hello there", "Hello again");
        assert_ne!(a, content_hash(other_body.as_bytes()));
        let filtered = SIMPLE.replace(
            "Received: from a by b\r\n",
            "DKIM-Signature: v=1; a=rsa-sha256; d=c.test\r\nARC-Seal: i=1\r\nX-Forwarded-For: x\r\nX-Spam-Score: 1\r\nX-Rspamd-Queue-Id: 1\r\nX-Virus-Status: clean\r\nX-MS-Exchange-Organization-SCL: 1\r\nX-Google-Smtp-Source: y\r\nReceived-SPF: pass\r\n",
        );
        assert_eq!(a, content_hash(filtered.as_bytes()));
    }
}
