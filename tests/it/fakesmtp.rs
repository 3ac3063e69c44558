//! In-process SMTP servers for faults a real Postfix will not produce on
//! demand: `StallingSmtp` accepts a mail's data and then never answers (the
//! "slow SMTP session"), `ScriptedSmtp` refuses a mail's data after taking
//! its recipients. Used in addition to the real server (shutdown, crash and
//! relay-result tests), never instead of it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct StallingSmtp {
    pub port: u16,
    /// Mails whose data was received (and never acknowledged).
    pub stalled: Arc<AtomicUsize>,
}

impl StallingSmtp {
    pub fn start() -> StallingSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake smtp");
        let port = listener.local_addr().expect("addr").port();
        let stalled = Arc::new(AtomicUsize::new(0));
        let counter = stalled.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &counter);
                });
            }
        });
        StallingSmtp { port, stalled }
    }
}

fn session(stream: TcpStream, stalled: &AtomicUsize) -> std::io::Result<()> {
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    w.write_all(b"220 stalling.test ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => w.write_all(b"250-stalling.test\r\n250 8BITMIME\r\n")?,
            "DATA" => {
                w.write_all(b"354 go ahead\r\n")?;
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                }
                stalled.fetch_add(1, Ordering::SeqCst);
                // Never answer: hold the session until the client goes away.
                while r.read_line(&mut line)? > 0 {}
                return Ok(());
            }
            "QUIT" => {
                w.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => w.write_all(b"250 ok\r\n")?,
        }
    }
}

/// One SMTP transaction as `ScriptedSmtp` saw it.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// Every RCPT asked for, in order.
    pub rcpts: Vec<String>,
    /// Those it took.
    pub accepted: Vec<String>,
    /// The data, when the client sent it.
    pub data: Option<Vec<u8>>,
    /// The data was taken (250 after the dot).
    pub delivered: bool,
}

/// An in-process SMTP server that refuses what a test scripts, including
/// what Postfix will not do on demand: RCPT `refused-*` gets 550, `later-*`
/// 450 (until `take_later`), `hostile-*` a 550 whose text holds a bare CR,
/// a bare LF and an ESC; a mail with a `reject-data-*` recipient is refused
/// after its data (554), one with a `defer-data-*` recipient deferred after
/// its data (451, until `take_later`). It offers no SMTPUTF8. Every
/// transaction is recorded.
pub struct ScriptedSmtp {
    pub port: u16,
    log: Arc<std::sync::Mutex<Vec<Transaction>>>,
    later_ok: Arc<std::sync::atomic::AtomicBool>,
}

impl ScriptedSmtp {
    pub fn start() -> ScriptedSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake smtp");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let later_ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (l, ok) = (log.clone(), later_ok.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (l, ok) = (l.clone(), ok.clone());
                std::thread::spawn(move || {
                    let _ = scripted_session(stream, &l, &ok);
                });
            }
        });
        ScriptedSmtp {
            port,
            log,
            later_ok,
        }
    }

    /// From now on `later-*` recipients are taken.
    pub fn take_later(&self) {
        self.later_ok.store(true, Ordering::SeqCst);
    }

    pub fn transactions(&self) -> Vec<Transaction> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The mails taken, with the recipients each went to.
    pub fn mails(&self) -> Vec<(Vec<String>, mailroom::mail::ParsedMail)> {
        self.transactions()
            .into_iter()
            .filter(|t| t.delivered)
            .filter_map(|t| {
                let m = mailroom::mail::parse(t.data.as_deref()?).ok()?;
                Some((t.accepted, m))
            })
            .collect()
    }
}

fn scripted_session(
    stream: TcpStream,
    log: &std::sync::Mutex<Vec<Transaction>>,
    later_ok: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    w.write_all(b"220 scripted.test ESMTP\r\n")?;
    let mut line = String::new();
    let mut tx: Option<Transaction> = None;
    let record = |t: Transaction| log.lock().unwrap_or_else(|p| p.into_inner()).push(t);
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            if let Some(t) = tx.take() {
                record(t);
            }
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            w.write_all(b"250-scripted.test\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("MAIL FROM") {
            tx = Some(Transaction {
                rcpts: Vec::new(),
                accepted: Vec::new(),
                data: None,
                delivered: false,
            });
            w.write_all(b"250 2.1.0 ok\r\n")?;
        } else if upper.starts_with("RCPT TO") {
            let addr = line
                .split_once('<')
                .and_then(|(_, a)| a.split_once('>'))
                .map(|(a, _)| a.to_string())
                .unwrap_or_default();
            let reply: &[u8] = if addr.starts_with("refused-") {
                b"550 5.1.1 <ADDR>: mailbox unavailable\r\n"
            } else if addr.starts_with("hostile-") {
                b"550 5.1.1 <ADDR> bad\rInjected: yes\nX\x1b[2J done\r\n"
            } else if addr.starts_with("later-") && !later_ok.load(Ordering::SeqCst) {
                b"450 4.2.0 try again later\r\n"
            } else {
                b"250 2.1.5 ok\r\n"
            };
            let reply = String::from_utf8_lossy(reply).replace("ADDR", &addr);
            if let Some(t) = tx.as_mut() {
                t.rcpts.push(addr.clone());
                if reply.starts_with("250") {
                    t.accepted.push(addr);
                }
            }
            w.write_all(reply.as_bytes())?;
        } else if upper.starts_with("DATA") {
            w.write_all(b"354 go ahead\r\n")?;
            let mut data = Vec::new();
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.extend_from_slice(l.as_bytes());
            }
            let mut t = tx.take().unwrap_or(Transaction {
                rcpts: Vec::new(),
                accepted: Vec::new(),
                data: None,
                delivered: false,
            });
            let refuse = t.accepted.iter().any(|a| a.starts_with("reject-data-"));
            let defer = !later_ok.load(Ordering::SeqCst)
                && t.accepted.iter().any(|a| a.starts_with("defer-data-"));
            t.data = Some(data);
            t.delivered = !refuse && !defer;
            record(t);
            w.write_all(if refuse {
                b"554 5.6.0 content refused\r\n"
            } else if defer {
                b"451 4.3.0 queue full, try again later\r\n"
            } else {
                b"250 2.0.0 queued\r\n"
            })?;
        } else if upper.starts_with("RSET") {
            if let Some(t) = tx.take() {
                record(t);
            }
            w.write_all(b"250 2.0.0 ok\r\n")?;
        } else if upper.starts_with("QUIT") {
            if let Some(t) = tx.take() {
                record(t);
            }
            w.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            w.write_all(b"250 ok\r\n")?;
        }
    }
}
