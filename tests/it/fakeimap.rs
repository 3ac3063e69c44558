//! An in-process IMAP server for the one fault a real Dovecot cannot produce:
//! a FETCH response that cannot be parsed. Used in addition to the real
//! server, never instead of it. It speaks just enough IMAP4rev1 for one
//! folder: CAPABILITY, AUTHENTICATE PLAIN, LOGIN, SELECT, UID FETCH,
//! UID STORE, NOOP, LOGOUT.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What goes wrong with one message's FETCH answer.
#[derive(Clone, Copy)]
pub enum Fault {
    /// Not IMAP: a response line the client cannot parse.
    Garbage(u32),
    /// A well-formed answer without the body.
    NoBody(u32),
}

pub struct FakeImap {
    pub port: u16,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
}

impl FakeImap {
    /// Serves `mails` as UIDs 1..=n; the answer for one UID has `fault`.
    pub fn start(mails: Vec<String>, fault: Fault) -> FakeImap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake imap");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let mails = Arc::new(mails);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let mails = mails.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &mails, fault);
                });
            }
        });
        FakeImap { port, connections }
    }
}

fn uids_in(set: &str, max: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for part in set.split(',') {
        let (a, b) = part.split_once(':').unwrap_or((part, part));
        let parse = |s: &str| {
            if s == "*" {
                max
            } else {
                s.parse().unwrap_or(0)
            }
        };
        let (a, b) = (parse(a), parse(b));
        let (lo, hi) = (a.min(b), a.max(b));
        out.extend((lo..=hi).filter(|u| *u >= 1 && *u <= max));
    }
    out
}

fn session(stream: TcpStream, mails: &[String], fault: Fault) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut w = stream;
    let n = mails.len() as u32;
    w.write_all(b"* OK fake IMAP ready\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let tag = parts.next().unwrap_or("*").to_string();
        let cmd = parts.next().unwrap_or("").to_ascii_uppercase();
        let rest = parts.next().unwrap_or("").to_string();
        let ok =
            |w: &mut TcpStream, text: &str| w.write_all(format!("{tag} OK {text}\r\n").as_bytes());
        match cmd.as_str() {
            "CAPABILITY" => {
                w.write_all(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN UIDPLUS\r\n")?;
                ok(&mut w, "done")?;
            }
            "AUTHENTICATE" => {
                w.write_all(b"+ \r\n")?;
                let mut creds = String::new();
                reader.read_line(&mut creds)?;
                ok(&mut w, "logged in")?;
            }
            "LOGIN" => ok(&mut w, "logged in")?,
            "SELECT" => {
                w.write_all(format!("* {n} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 77] ok\r\n* OK [UIDNEXT {}] ok\r\n", n + 1).as_bytes())?;
                ok(&mut w, "[READ-WRITE] selected")?;
            }
            "UID" => {
                let mut sub = rest.splitn(3, ' ');
                let verb = sub.next().unwrap_or("").to_ascii_uppercase();
                let set = sub.next().unwrap_or("");
                let items = sub.next().unwrap_or("").to_ascii_uppercase();
                if verb == "FETCH" {
                    for uid in uids_in(set, n) {
                        let raw = &mails[uid as usize - 1];
                        if items.contains("BODY.PEEK[]") {
                            if matches!(fault, Fault::Garbage(p) if p == uid) {
                                // Not IMAP: an unparseable response line.
                                w.write_all(
                                    format!("* {uid} FETCH (UID {uid} BODY[] ]]]garbage)\r\n")
                                        .as_bytes(),
                                )?;
                            } else if matches!(fault, Fault::NoBody(p) if p == uid) {
                                w.write_all(format!("* {uid} FETCH (UID {uid} INTERNALDATE \"26-Nov-2026 07:00:00 +0000\")\r\n").as_bytes())?;
                            } else {
                                w.write_all(format!("* {uid} FETCH (UID {uid} INTERNALDATE \"26-Nov-2026 07:00:00 +0000\" BODY[] {{{}}}\r\n", raw.len()).as_bytes())?;
                                w.write_all(raw.as_bytes())?;
                                w.write_all(b")\r\n")?;
                            }
                        } else {
                            w.write_all(
                                format!("* {uid} FETCH (UID {uid} RFC822.SIZE {})\r\n", raw.len())
                                    .as_bytes(),
                            )?;
                        }
                    }
                }
                ok(&mut w, "done")?;
            }
            "LOGOUT" => {
                w.write_all(b"* BYE logging out\r\n")?;
                ok(&mut w, "bye")?;
                return Ok(());
            }
            _ => ok(&mut w, "done")?,
        }
    }
}
