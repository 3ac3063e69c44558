//! What an SMTP server said about a mail's recipients, and the envelope
//! recipients of an outbox row: plain values the outbox worker records and
//! the pipeline reads back (relay results), so the pipeline needs no `outbound`.

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

impl std::fmt::Display for Refusal {
    /// `b@x.test (550 5.1.1 …)`, as logs and the outbox list show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(c) => write!(f, "{} ({c} {})", self.address, self.text),
            None => write!(f, "{} ({})", self.address, self.text),
        }
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

/// The envelope recipients of an outbox row (stored comma-separated).
pub fn envelope_recipients(list: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(r)) {
            out.push(r.to_string());
        }
    }
    out
}
