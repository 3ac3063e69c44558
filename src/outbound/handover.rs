//! Each mail sent once, even when its sender is killed in the middle of a send.
//!
//! SMTP's weak spot: once the final dot is on the wire the server may queue the
//! mail, and a sender killed before it records the server's "250" would send it
//! again. So the hand-over is recorded before the dot: the stream under lettre
//! holds the dot (lettre writes it on its own) until the outbox row's
//! `handed_over_at` is committed. A sender killed after that leaves a row that
//! recovery marks sent, noting the doubt, instead of sending it again; killed
//! before it, the server never saw a complete mail and drops it, and the row is
//! sent again. What remains is a kill during that commit (PostgreSQL finishes
//! it for a dead client) or before the dot's write: then the mail is lost, and
//! its row says "in doubt". That window is one round trip (the commit does not
//! wait for PostgreSQL's WAL flush), far shorter than the wait for the
//! server's answer that made duplicates. SMTP allows no exactly-once: this
//! trades a duplicate for a rarer loss, so only automatic mail (acks,
//! notifications, escalations, digests) takes the gate; an agent's answer
//! (relay) is sent again instead (worker/send.rs).
//!
//! The gate has to see plaintext, above TLS. lettre's STARTTLS puts TLS under
//! the stream it was given, so mailroom speaks the plaintext EHLO and STARTTLS
//! itself ([`starttls`]) and hands lettre the encrypted stream, with the
//! greeting lettre waits for.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use lettre::transport::smtp::client::AsyncTokioStream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;

/// The final dot of a mail's data, as lettre writes it.
const FINAL_DOT: &[u8] = b"\r\n.\r\n";

/// Records the hand-over of one mail; true when recorded (the claim still holds).
pub type Handover = Pin<Box<dyn Future<Output = bool> + Send>>;

/// Where the next mail's [`Handover`] waits for its dot.
#[derive(Clone, Default)]
pub(super) struct Gate(Arc<Mutex<Option<Handover>>>);

impl Gate {
    pub(super) fn arm(&self, h: Handover) {
        *self.slot() = Some(h);
    }

    pub(super) fn disarm(&self) {
        *self.slot() = None;
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Handover>> {
        // A panic elsewhere cannot leave the slot half-written: take it as is.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connection's stream with the gate in its write path.
pub(super) struct Gated<S> {
    inner: S,
    gate: Gate,
    /// A greeting to read before the stream's own bytes (after STARTTLS).
    greeting: &'static [u8],
}

impl<S> Gated<S> {
    pub(super) fn new(inner: S, gate: Gate) -> Gated<S> {
        Gated {
            inner,
            gate,
            greeting: b"",
        }
    }

    /// After mailroom's own STARTTLS, lettre still waits for a server greeting.
    pub(super) fn after_starttls(inner: S, gate: Gate) -> Gated<S> {
        Gated {
            inner,
            gate,
            greeting: b"220 TLS established\r\n",
        }
    }
}

impl<S> std::fmt::Debug for Gated<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gated")
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Gated<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.greeting.is_empty() {
            let n = self.greeting.len().min(buf.remaining());
            buf.put_slice(&self.greeting[..n]);
            self.greeting = &self.greeting[n..];
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Gated<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if buf == FINAL_DOT {
            let gate = self.gate.clone();
            let mut slot = gate.slot();
            if let Some(handover) = slot.as_mut() {
                match handover.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(recorded) => {
                        *slot = None;
                        if !recorded {
                            // No dot: the server drops the unfinished mail.
                            return Poll::Ready(Err(std::io::Error::other(
                                "the hand-over could not be recorded; mail withheld",
                            )));
                        }
                    }
                }
            }
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncTokioStream> AsyncTokioStream for Gated<S> {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.inner.peer_addr()
    }
}

/// The plaintext start of a STARTTLS session: greeting, EHLO, STARTTLS, then
/// the TLS handshake (certificate verified). Never falls back to plaintext.
pub(super) async fn starttls(
    mut tcp: TcpStream,
    config: Arc<ClientConfig>,
    host: &str,
    hello: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    reply(&mut tcp, "greeting", 220).await?;
    send(&mut tcp, &format!("EHLO {hello}\r\n")).await?;
    let ehlo = reply(&mut tcp, "EHLO", 250).await?;
    let offered = ehlo.lines().any(|l| {
        l.get(4..)
            .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offered {
        return Err("the server does not offer STARTTLS (outbound.tls = \"starttls\")".into());
    }
    send(&mut tcp, "STARTTLS\r\n").await?;
    reply(&mut tcp, "STARTTLS", 220).await?;
    let name = crate::net::server_name(host)?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            format!("STARTTLS: {e} (certificate not trusted? for a private CA set ca_file)")
        })
}

async fn send(tcp: &mut TcpStream, line: &str) -> Result<(), String> {
    tcp.write_all(line.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))
}

/// Reads one (multi-line) reply; its text, or an error unless its code is `want`.
/// Byte by byte: nothing past the reply may be read before the TLS handshake.
async fn reply(tcp: &mut TcpStream, what: &str, want: u16) -> Result<String, String> {
    let mut text = String::new();
    let mut line = Vec::new();
    loop {
        let b = tcp
            .read_u8()
            .await
            .map_err(|e| format!("{what}: reading the reply: {e}"))?;
        line.push(b);
        if line.len() > 4096 {
            return Err(format!("{what}: reply line too long"));
        }
        if !line.ends_with(b"\r\n") {
            continue;
        }
        let l = String::from_utf8_lossy(&line).trim_end().to_string();
        line.clear();
        text.push_str(&l);
        text.push('\n');
        // "250-…" continues, "250 …" (or a bare "250") ends the reply.
        if l.as_bytes().get(3) == Some(&b'-') {
            continue;
        }
        return match l.get(..3).and_then(|c| c.parse::<u16>().ok()) {
            Some(code) if code == want => Ok(text),
            _ => Err(format!("{what}: the server answered {l:?}")),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a mail's data and its dot through a gate whose hand-over
    /// answers `recorded`; what reached the other end, and the dot's result.
    async fn through_gate(recorded: bool) -> (Vec<u8>, std::io::Result<()>) {
        let (client, mut server) = tokio::io::duplex(1024);
        let gate = Gate::default();
        let mut stream = Gated::new(client, gate.clone());
        stream
            .write_all(b"Subject: x\r\n\r\nhi")
            .await
            .expect("data");
        gate.arm(Box::pin(async move {
            tokio::task::yield_now().await;
            recorded
        }));
        let dot = stream.write_all(FINAL_DOT).await;
        drop(stream);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.expect("read");
        (got, dot)
    }

    #[tokio::test]
    async fn the_dot_goes_only_after_the_hand_over_is_recorded() {
        let (got, dot) = through_gate(true).await;
        assert!(dot.is_ok());
        assert_eq!(got, b"Subject: x\r\n\r\nhi\r\n.\r\n");
        let (got, dot) = through_gate(false).await;
        assert!(dot.is_err(), "a hand-over not recorded withholds the dot");
        assert_eq!(
            got, b"Subject: x\r\n\r\nhi",
            "the server never gets a complete mail"
        );
    }

    #[tokio::test]
    async fn the_greeting_after_starttls_comes_first() {
        let (client, mut server) = tokio::io::duplex(64);
        server.write_all(b"250 ok\r\n").await.expect("write");
        let mut stream = Gated::after_starttls(client, Gate::default());
        let mut buf = vec![0u8; 64];
        let mut got = Vec::new();
        while got.len() < 29 {
            let n = stream.read(&mut buf).await.expect("read");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"220 TLS established\r\n250 ok\r\n");
    }
}
