//! Mailboxes from address headers, and the stand-in sender of a mail-system
//! report whose From holds no usable address.

use mail_parser::Address;

use super::header_values::unfold;
use super::{Mailbox, ParseFailure, ReportEvidence};

/// Local parts that mail systems use for the null sender of their reports.
pub const DAEMON_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "mail-daemon",
    "mailerdaemon",
    "mdaemon",
    "postmaster",
];

/// The sender, and where it came from when not From: From, then Sender, then
/// a mail system's stand-in (an unqualified MAILER-DAEMON, a report without
/// a From), then Reply-To, then an address written in the From text without
/// brackets (`From: Test test@example.com`). None of them: a parse failure
/// that lists what was tried.
pub(super) fn sender(
    msg: &mail_parser::Message<'_>,
    report: &ReportEvidence,
    message_id: &str,
) -> Result<(Mailbox, Option<String>), ParseFailure> {
    if let Some(m) = first_mailbox(msg.from()) {
        return Ok((m, None));
    }
    let raw_from = msg.header_raw("From").map(|v| unfold(v).trim().to_string());
    let why = match &raw_from {
        Some(v) => format!("From {v:?} holds no usable address"),
        None => "no From header".to_string(),
    };
    if let Some(m) = first_mailbox(msg.sender()) {
        return Ok((m, Some(format!("{why}: the sender is taken from Sender"))));
    }
    if let Some(m) = machine_sender(msg, report, message_id) {
        return Ok((
            m,
            Some(format!(
                "{why}: a mail system's report, the sender is named after it"
            )),
        ));
    }
    if let Some(m) = first_mailbox(msg.reply_to()) {
        return Ok((m, Some(format!("{why}: the sender is taken from Reply-To"))));
    }
    if let Some(m) = raw_from.as_deref().and_then(bare_address) {
        return Ok((
            m,
            Some(format!("{why}: the sender is the address written in it")),
        ));
    }
    Err(ParseFailure::NoSender(format!(
        "{why}; tried Sender, a mail system's report, Reply-To and an address in the From text"
    )))
}

/// The sender of a delivery report whose From holds no usable address: an
/// unqualified `MAILER-DAEMON`, `<>`, or no From at all on a delivery-status
/// report. The mail system is named after the host in its Message-ID when
/// there is one. Anything else without a sender stays a parse failure.
pub(super) fn machine_sender(
    msg: &mail_parser::Message<'_>,
    report: &ReportEvidence,
    message_id: &str,
) -> Option<Mailbox> {
    // `MAILER-DAEMON (Mail Delivery System)`: the comment is no part of it.
    let raw_from = strip_comments(&msg.header_raw("From").map(unfold).unwrap_or_default());
    let (name, addr) = match (raw_from.find('<'), raw_from.rfind('>')) {
        (Some(s), Some(e)) if e > s => (raw_from[..s].trim(), raw_from[s + 1..e].trim()),
        _ => ("", raw_from.trim()),
    };
    let name = name.trim_matches('"').trim();
    let addr_is_daemon = DAEMON_LOCAL_PARTS
        .iter()
        .any(|d| addr.eq_ignore_ascii_case(d));
    let name_is_daemon = DAEMON_LOCAL_PARTS
        .iter()
        .any(|d| name.eq_ignore_ascii_case(d));
    // `From: MAILER-DAEMON`, `From: Mail Delivery Subsystem <MAILER-DAEMON>`,
    // `From: MAILER-DAEMON <>`; `From: <>` or no From only on a delivery report.
    let machine = addr_is_daemon || (addr.is_empty() && (name_is_daemon || report.delivery_status));
    if !machine {
        return None;
    }
    let local = if addr_is_daemon {
        addr.to_ascii_lowercase()
    } else {
        "mailer-daemon".into()
    };
    let host = message_id
        .rsplit_once('@')
        .map(|(_, h)| h.trim().to_ascii_lowercase())
        .filter(|h| {
            h.contains('.') && !h.ends_with("mailroom.invalid") && !h.contains(char::is_whitespace)
        })
        .unwrap_or_else(|| "unknown.invalid".into());
    Some(Mailbox {
        name: Some(if name.is_empty() {
            "MAILER-DAEMON".to_string()
        } else {
            name.to_string()
        }),
        email: format!("{local}@{host}"),
    })
}

/// RFC 5322 comments `( … )` removed (they may nest; a quoted string keeps its parentheses).
fn strip_comments(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let (mut depth, mut quoted) = (0usize, false);
    for c in v.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// An address written into a From without angle brackets, among other words
/// (`Test test@example.com`): the one word that is an address; the rest is the name.
pub(super) fn bare_address(raw_from: &str) -> Option<Mailbox> {
    let text = strip_comments(raw_from);
    let words: Vec<&str> = text.split_whitespace().collect();
    let found: Vec<Mailbox> = words
        .iter()
        .filter_map(|w| {
            let w = w.trim_matches(|c: char| matches!(c, '<' | '>' | '"' | ',' | ';' | '\''));
            let (local, domain) = w.split_once('@')?;
            let ok = !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && w.chars().all(|c| c.is_ascii_graphic())
                && w.matches('@').count() == 1;
            ok.then(|| to_mailbox(None, Some(w)))?
        })
        .collect();
    // Two addresses in it: no telling which is the sender's.
    let [only] = found.as_slice() else {
        return None;
    };
    let name: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !w.contains('@'))
        .map(|w| w.trim_matches('"'))
        .filter(|w| !w.is_empty())
        .collect();
    Some(Mailbox {
        name: (!name.is_empty()).then(|| name.join(" ")),
        email: only.email.clone(),
    })
}

fn to_mailbox(name: Option<&str>, address: Option<&str>) -> Option<Mailbox> {
    let email = address?
        .trim()
        .trim_matches(['<', '>'])
        .to_ascii_lowercase();
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || domain.is_empty() || email.contains(char::is_whitespace) {
        return None;
    }
    let name = name
        .map(|n| n.trim().trim_matches('"').trim().to_string())
        .filter(|n| !n.is_empty());
    Some(Mailbox { name, email })
}

pub(super) fn mailboxes(addr: Option<&Address<'_>>) -> Vec<Mailbox> {
    addr.map(|a| {
        a.iter()
            .filter_map(|x| to_mailbox(x.name(), x.address()))
            .collect()
    })
    .unwrap_or_default()
}

pub(super) fn first_mailbox(addr: Option<&Address<'_>>) -> Option<Mailbox> {
    mailboxes(addr).into_iter().next()
}

#[cfg(test)]
mod tests {
    use crate::mail::parse::{ParseFailure, parse};

    const DSN_BODY: &str = "Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\nFinal-Recipient: rfc822; x@y.test\r\nAction: failed\r\nStatus: 5.3.4\r\n--B--\r\n";

    #[test]
    fn unqualified_mail_system_sender_is_accepted() {
        for from in [
            "From: MAILER-DAEMON\r\n",
            "From: Mail Delivery Subsystem <MAILER-DAEMON>\r\n",
            "From: MAILER-DAEMON <>\r\n",
            "From: <>\r\n",
            "",
        ] {
            let raw = format!(
                "{from}Subject: Returned mail\r\nMessage-ID: <b1@smtp.mx.test>\r\n{DSN_BODY}"
            );
            let m = parse(raw.as_bytes()).unwrap_or_else(|e| panic!("{from:?}: {e}"));
            assert!(
                m.from.email.ends_with("@smtp.mx.test"),
                "{from:?}: {}",
                m.from.email
            );
            assert!(m.report.delivery_status);
        }
        // Not a report and not a mail-system name: still no sender.
        let raw = "From: <>\r\nSubject: hi\r\n\r\nbody\r\n";
        assert!(matches!(
            parse(raw.as_bytes()),
            Err(ParseFailure::NoSender(_))
        ));
    }

    #[test]
    fn a_sender_whenever_there_is_one() {
        let sender = |headers: &str| {
            let raw = format!("{headers}Subject: hi\r\nMessage-ID: <s1@host.test>\r\n\r\nbody\r\n");
            parse(raw.as_bytes()).map(|m| (m.from.email, m.from.name, m.sender_via))
        };
        let (email, name, via) = sender("From: Test test@example.com\r\n").expect("a bare address");
        assert_eq!(
            (email.as_str(), name.as_deref()),
            ("test@example.com", Some("Test"))
        );
        assert!(
            via.unwrap_or_default()
                .contains("the address written in it")
        );
        let (email, _, via) =
            sender("From: Customer Service\r\nReply-To: help@shop.test\r\n").expect("Reply-To");
        assert_eq!(email, "help@shop.test");
        assert!(via.unwrap_or_default().contains("taken from Reply-To"));
        let (email, _, via) =
            sender("From: nobody\r\nSender: list-owner@lists.test\r\nReply-To: x@y.test\r\n")
                .expect("Sender first");
        assert_eq!(email, "list-owner@lists.test");
        assert!(via.unwrap_or_default().contains("Sender"));
        let (email, _, via) = sender("From: a@b.test\r\nReply-To: x@y.test\r\n").expect("From");
        assert_eq!((email.as_str(), via), ("a@b.test", None));
        // Two bare addresses: no telling which.
        let e = sender("From: a@b.test or c@d.test\r\n").expect_err("ambiguous");
        assert!(
            e.to_string().contains(
                "tried Sender, a mail system's report, Reply-To and an address in the From text"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_mailer_daemon_with_a_comment_and_no_domain_is_a_mail_system() {
        // A non-standard bounce: no DSN part, the daemon named in a comment's company.
        let raw = "From: MAILER-DAEMON (Mail Delivery System)\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <nb1@smtp.mx.test>\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n";
        let m = parse(raw.as_bytes()).expect("parses");
        assert_eq!(m.from.email, "mailer-daemon@smtp.mx.test");
        assert!(m.sender_via.is_some());
    }
}
