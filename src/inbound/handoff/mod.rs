//! Hand-off of one piped mail from `ingest -` to a running `serve` over a
//! Unix socket (`Config::ingest_socket`).
//!
//! An MTA runs `ingest -` once per mail. A process that only opens the
//! database and checks its migrations already takes about 4 ms; a running
//! `serve` has the database open and its statements prepared, and commits the
//! mails of concurrent deliveries in one fsynced transaction (group commit).
//! `ingest -` exits 0 only after serve's commit is on the disk; when no serve
//! answers it stores the mail itself, as it did before.
//!
//! One exchange per connection (version 1):
//! - `ingest -` sends a JSON line ([`Request`]), then exactly `len` bytes of mail;
//! - `serve` answers one JSON line ([`Reply`]) and closes.
//!
//! Why a fallback to storing directly is always safe: serve commits a mail
//! only once it has all its bytes, and a mail stored twice is recognised as a
//! duplicate by its Message-ID and content hash (`messages_identity`). So when
//! serve goes away after reading the mail (killed, or stopping), the client
//! stores it itself and at worst records "duplicate".

mod listen;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use listen::{Committer, Listener, SOURCE, bind, serve_handoff};

use crate::pipeline::Outcome;

/// The wire format's version; serve answers any other with [`Reply::Direct`].
const VERSION: u32 = 1;
/// A request line is a few hundred bytes; this bounds what serve reads
/// before it knows what is coming.
const REQUEST_LINE_LIMIT: u64 = 64 * 1024;
/// A reply line holds one outcome.
const REPLY_LINE_LIMIT: u64 = 64 * 1024;
/// How long `ingest -` waits for serve's answer. A database that does not
/// commit within it is in trouble: the MTA retries later (exit 75), and a
/// copy serve commits after all is a duplicate then.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// What `ingest -` sends before the mail's bytes.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    /// Where the mail came from, as `ingest` prints it ("-").
    pub origin: String,
    /// The number of mail bytes after the line.
    pub len: u64,
    /// Set when the mail was over `max_message_size`: the bytes are its header
    /// only, to be quarantined with this reason (as `ingest -` does itself).
    pub rejected: Option<String>,
}

impl Request {
    /// A request for `len` bytes of mail (this version of the wire format).
    pub fn new(origin: &str, len: usize, rejected: Option<String>) -> Request {
        Request {
            v: VERSION,
            origin: origin.to_string(),
            len: len as u64,
            rejected,
        }
    }
}

/// Serve's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reply {
    /// Committed (and on the disk).
    Stored { outcome: Outcome },
    /// Not committed, and storing it elsewhere now would fail the same way
    /// (the database is unavailable): the MTA should retry later.
    Later { error: String },
    /// Not taken (serve is stopping, is too busy, or cannot read this
    /// request): the client stores the mail itself.
    Direct { reason: String },
}

/// What became of a hand-off, for `ingest -`.
#[derive(Debug)]
pub enum HandOff {
    Stored(Outcome),
    /// Exit 75: the MTA keeps the mail and retries.
    Later(String),
    /// No serve took the mail: store it here. The reason is for the debug log.
    Direct(String),
}

/// Hands one mail to the serve listening on `socket`. Blocking: `ingest -`
/// has nothing else to do meanwhile, and needs no async runtime for it.
pub fn hand_off(socket: &Path, request: &Request, mail: &[u8], timeout: Duration) -> HandOff {
    let mut stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => {
            return HandOff::Direct(format!("no serve listening on {}: {e}", socket.display()));
        }
    };
    let sent = (|| {
        stream.set_write_timeout(Some(timeout))?;
        stream.set_read_timeout(Some(timeout))?;
        let mut line = serde_json::to_vec(request).map_err(std::io::Error::other)?;
        line.push(b'\n');
        stream.write_all(&line)?;
        stream.write_all(mail)?;
        stream.flush()
    })();
    if let Err(e) = sent {
        // Serve commits nothing it has not read whole.
        return HandOff::Direct(format!("serve did not take the mail: {e}"));
    }
    let mut line = String::new();
    let read = BufReader::new(&stream)
        .take(REPLY_LINE_LIMIT)
        .read_line(&mut line);
    match read {
        Ok(0) => HandOff::Direct(
            "serve closed the connection without an answer (stopped or killed)".into(),
        ),
        Ok(_) => match serde_json::from_str::<Reply>(&line) {
            Ok(Reply::Stored { outcome }) => HandOff::Stored(outcome),
            Ok(Reply::Later { error }) => HandOff::Later(error),
            Ok(Reply::Direct { reason }) => HandOff::Direct(reason),
            Err(e) => HandOff::Direct(format!("unreadable answer from serve ({e}): {line:?}")),
        },
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            HandOff::Later(format!(
                "serve did not answer within {} s",
                timeout.as_secs()
            ))
        }
        Err(e) => HandOff::Direct(format!("lost the connection to serve: {e}")),
    }
}

#[cfg(test)]
mod tests;
