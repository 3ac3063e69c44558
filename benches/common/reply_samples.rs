//! How a reply sample of a corpus arrives as a mail, shared by the replies
//! bench and the replies test (`tests/it/replies`): both measure exactly
//! what `mailroom inspect` computes from that mail.

/// The mail a `.txt` or `.html` body arrives as; a `.eml` as it is.
pub fn as_mail(name: &str, raw: &[u8]) -> Vec<u8> {
    let kind = if name.ends_with(".eml") {
        return raw.to_vec();
    } else if name.ends_with(".html") {
        "text/html"
    } else {
        "text/plain"
    };
    let mut mail = format!(
        "From: Sender <sender@example.com>\r\nTo: support@example.com\r\nSubject: Re: a question\r\n\
         Message-ID: <sample@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: {kind}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    .into_bytes();
    mail.extend_from_slice(raw);
    mail
}
