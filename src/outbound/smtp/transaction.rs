//! One SMTP transaction, spoken by mailroom: MAIL with the parameters the
//! mail needs, one RCPT per recipient (a refusal is noted with the server's
//! reply and the next one asked), and DATA to those the server took.

use lettre::Address;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};

use super::{SmtpTransport, reply_text};
use crate::outbound::{Refusal, SendError};

/// A recipient as given, and as an envelope address.
pub(super) type Recipient = (String, Address);

/// How far one transaction got. With `error` set nobody got the mail in it.
#[derive(Default)]
pub(super) struct Attempt {
    /// Recipients the server took at RCPT.
    pub(super) accepted: Vec<String>,
    pub(super) refused: Vec<Refusal>,
    pub(super) error: Option<SendError>,
}

impl SmtpTransport {
    /// One SMTP transaction, modelled on lettre's `send`: MAIL, one RCPT per
    /// recipient (a refusal is noted and the next one asked), and DATA to
    /// those accepted; with none accepted, RSET (the connection stays usable).
    pub(super) async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        from: &Address,
        to: &[Recipient],
        raw: &[u8],
    ) -> Attempt {
        let mut a = Attempt::default();
        let Some((to, options)) = self.envelope(conn, from, to, raw, &mut a) else {
            return a;
        };
        if let Err(e) = conn.command(Mail::new(Some(from.clone()), options)).await {
            a.error = Some(self.lettre_failed(&e));
            return a;
        }
        if !self.rcpt_each(conn, &to, &mut a).await {
            return a;
        }
        if a.accepted.is_empty() {
            if let Err(e) = conn.command(Rset).await {
                a.error = Some(self.lettre_failed(&e));
            }
            return a;
        }
        let data = match conn.command(Data).await {
            // The final dot goes through the gate (handover.rs).
            Ok(_) => conn.message(raw).await,
            Err(e) => Err(e),
        };
        if let Err(e) = data {
            a.error = Some(self.lettre_failed(&e));
        }
        a
    }

    /// The recipients the server can take and the MAIL parameters the mail
    /// needs (SMTPUTF8, 8BITMIME). None: the transaction does not start, with
    /// `a` saying why (an error, or every recipient refused).
    fn envelope<'t>(
        &self,
        conn: &AsyncSmtpConnection,
        from: &Address,
        to: &'t [Recipient],
        raw: &[u8],
        a: &mut Attempt,
    ) -> Option<(Vec<&'t Recipient>, Vec<MailParameter>)> {
        let mut options = Vec::new();
        let utf8 = conn.server_info().supports_feature(Extension::SmtpUtfEight);
        if !AsRef::<str>::as_ref(from).is_ascii() && !utf8 {
            a.error = Some(self.failed(
                "the sender is a non-ASCII address and the server does not support SMTPUTF8",
                false,
            ));
            return None;
        }
        // A non-ASCII recipient the server cannot take is refused alone,
        // before the transaction starts; the others still get the mail.
        let (to, cannot): (Vec<_>, Vec<_>) =
            to.iter().partition(|(given, _)| utf8 || given.is_ascii());
        a.refused
            .extend(cannot.into_iter().map(|(given, _)| Refusal {
                address: given.clone(),
                code: None,
                text: "a non-ASCII address, and the server does not support SMTPUTF8".into(),
                permanent: true,
            }));
        if to.is_empty() {
            return None;
        }
        if !AsRef::<str>::as_ref(from).is_ascii() || to.iter().any(|(given, _)| !given.is_ascii()) {
            options.push(MailParameter::SmtpUtfEight);
        }
        if !raw.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                a.error = Some(self.failed(
                    "the message has non-ASCII bytes and the server does not support 8BITMIME",
                    false,
                ));
                return None;
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        Some((to, options))
    }

    /// One RCPT per recipient: each is accepted or refused with the server's
    /// reply. False: the session broke (`a.error`).
    async fn rcpt_each(
        &self,
        conn: &mut AsyncSmtpConnection,
        to: &[&Recipient],
        a: &mut Attempt,
    ) -> bool {
        for (given, address) in to {
            match conn.command(Rcpt::new(address.clone(), vec![])).await {
                Ok(_) => a.accepted.push(given.clone()),
                // The server answered no for this one: the session goes on.
                Err(e) if e.status().is_some() => a.refused.push(Refusal {
                    address: given.clone(),
                    code: e.status().map(u16::from),
                    text: reply_text(&e),
                    permanent: e.is_permanent(),
                }),
                Err(e) => {
                    a.error = Some(self.lettre_failed(&e));
                    return false;
                }
            }
        }
        true
    }
}
