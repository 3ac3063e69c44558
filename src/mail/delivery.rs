//! What an SMTP server said about a mail's recipients: plain values the
//! outbox worker records and the pipeline reads back (relay results), so the
//! pipeline needs no `outbound`. The recipients themselves are
//! `mail::address::Recipients`.

/// One envelope recipient the server did not take, with its reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    pub address: String,
    /// The SMTP reply code; None when mailroom could not even ask (an
    /// address it cannot write in an envelope, or no answer at all).
    pub code: Option<u16>,
    /// The server's reply text (e.g. "5.1.1 <b@x.test>: Recipient address rejected").
    pub text: String,
    /// 5xx: never going to work. 4xx: tried again later.
    pub permanent: bool,
}

impl Refusal {
    /// The server's reply alone: `550 5.1.1 …`.
    pub fn reply(&self) -> impl std::fmt::Display + '_ {
        struct Reply<'a>(&'a Refusal);
        impl std::fmt::Display for Reply<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write_reply(f, self.0.code, &self.0.text)
            }
        }
        Reply(self)
    }

    /// `b@x.test: 550 5.1.1 …`, as a ticket's events and the agent's
    /// explanation say it; a temporary refusal that stays says after how
    /// many `attempts` mailroom stopped trying.
    pub fn describe(&self, attempts: i64) -> String {
        if self.permanent {
            format!("{}: {}", self.address, self.reply())
        } else {
            format!(
                "{}: {} (temporary; not tried again after {attempts} attempt(s))",
                self.address,
                self.reply()
            )
        }
    }
}

impl std::fmt::Display for Refusal {
    /// `b@x.test (550 5.1.1 …)`, as logs and the outbox list show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.address, self.reply())
    }
}

/// Refusals one after the other: `a (550 …); b (450 …)`.
pub fn describe_refusals(refused: &[Refusal]) -> String {
    refused
        .iter()
        .map(Refusal::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A server's reply as mailroom shows it everywhere: `550 5.1.1 …`, or the
/// text alone when no server answered.
pub fn write_reply(
    f: &mut std::fmt::Formatter<'_>,
    code: Option<u16>,
    text: &str,
) -> std::fmt::Result {
    match code {
        Some(c) => write!(f, "{c} {text}"),
        None => f.write_str(text),
    }
}
