//! Mailboxes from address headers, and the stand-in sender of a mail-system
//! report whose From holds no usable address.

use mail_parser::Address;

use super::header_values::unfold;
use super::{Mailbox, ReportEvidence};

/// Local parts that mail systems use for the null sender of their reports.
pub const DAEMON_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "mail-daemon",
    "mailerdaemon",
    "mdaemon",
    "postmaster",
];

/// The sender of a delivery report whose From holds no usable address: an
/// unqualified `MAILER-DAEMON`, `<>`, or no From at all on a delivery-status
/// report. The mail system is named after the host in its Message-ID when
/// there is one. Anything else without a sender stays a parse failure.
pub(super) fn machine_sender(
    msg: &mail_parser::Message<'_>,
    report: &ReportEvidence,
    message_id: &str,
) -> Option<Mailbox> {
    let raw_from = msg.header_raw("From").map(unfold).unwrap_or_default();
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
}
