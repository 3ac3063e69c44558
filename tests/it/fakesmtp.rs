//! An in-process SMTP server that accepts a mail's data and then never answers:
//! the "slow SMTP session" a real Postfix will not produce on demand. Used in
//! addition to the real server (shutdown and crash tests), never instead of it.

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
