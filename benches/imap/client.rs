//! The bench's own IMAP sessions with the mailenv Dovecot (`benches/imap.rs`):
//! plain IMAP, or IMAPS (implicit TLS) trusting the instance's certificate,
//! the same way mailroom connects in that run, so the reference numbers
//! (bare fetch) pay for TLS too when mailroom does.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, pki_types};

use super::servers::PASSWORD;

/// A plain TCP or TLS stream, whichever the session uses.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

pub type Session = async_imap::Session<Box<dyn Io>>;

/// Dovecot's IMAP port, and the TLS connector when it is the IMAPS port.
pub struct Imap {
    pub port: u16,
    tls: Option<TlsConnector>,
}

impl Imap {
    pub fn plain(port: u16) -> Imap {
        Imap { port, tls: None }
    }

    /// IMAPS on `port`, trusting only the certificate(s) in `ca_file`.
    pub fn tls(port: u16, ca_file: &Path) -> Result<Imap, String> {
        use pki_types::pem::PemObject;
        let pem = std::fs::read(ca_file).map_err(|e| format!("{}: {e}", ca_file.display()))?;
        let mut roots = RootCertStore::empty();
        for cert in pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("{}: {e}", ca_file.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", ca_file.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("{}: no certificate", ca_file.display()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Imap {
            port,
            tls: Some(TlsConnector::from(Arc::new(config))),
        })
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// "TLS: on" or "TLS: off", for every line the bench prints.
    pub fn tag(&self) -> &'static str {
        if self.is_tls() { "TLS: on" } else { "TLS: off" }
    }

    /// Connects (TLS handshake on the IMAPS port) and logs in as `user`.
    pub async fn login(&self, user: &str) -> Result<Session, String> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(|e| format!("connect to Dovecot on port {}: {e}", self.port))?;
        let stream: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some(connector) => {
                // The certificate names IP 127.0.0.1 (scripts/README-mailenv.md).
                let name = pki_types::ServerName::try_from("127.0.0.1")
                    .map_err(|e| format!("TLS server name: {e}"))?;
                Box::new(
                    connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| format!("TLS handshake with Dovecot: {e}"))?,
                )
            }
        };
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await
            .map_err(|e| format!("IMAP greeting: {e}"))?;
        client
            .login(user, PASSWORD)
            .await
            .map_err(|(e, _)| format!("IMAP login {user}: {e}"))
    }

    /// EXISTS after SELECT (Dovecot syncs the Maildir for it).
    pub async fn select_count(&self, user: &str, folder: &str) -> Result<u32, String> {
        let mut s = self.login(user).await?;
        let mb = s
            .select(folder)
            .await
            .map_err(|e| format!("SELECT {folder}: {e}"))?;
        s.logout().await.ok();
        Ok(mb.exists)
    }

    /// Fetches every body of `folder` (read-only: EXAMINE, BODY.PEEK) in
    /// batches of 256 UIDs, as mailroom does: (messages, bytes, time from
    /// connect).
    pub async fn fetch_all(
        &self,
        user: &str,
        folder: &str,
    ) -> Result<(usize, u64, Duration), String> {
        use futures_util::TryStreamExt;
        let start = Instant::now();
        let mut s = self.login(user).await?;
        s.examine(folder)
            .await
            .map_err(|e| format!("EXAMINE {folder}: {e}"))?;
        let mut uids: Vec<u32> = s
            .uid_fetch("1:*", "(UID RFC822.SIZE)")
            .await
            .map_err(|e| format!("UID FETCH: {e}"))?
            .try_filter_map(|f| async move { Ok(f.uid) })
            .try_collect()
            .await
            .map_err(|e| format!("UID FETCH: {e}"))?;
        uids.sort_unstable();
        let (mut count, mut bytes) = (0, 0u64);
        for chunk in uids.chunks(256) {
            let set = format!("{}:{}", chunk[0], chunk[chunk.len() - 1]);
            let mut stream = s
                .uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
                .await
                .map_err(|e| format!("UID FETCH {set}: {e}"))?;
            while let Some(f) = stream
                .try_next()
                .await
                .map_err(|e| format!("UID FETCH {set}: {e}"))?
            {
                if let Some(b) = f.body() {
                    count += 1;
                    bytes += b.len() as u64;
                }
            }
        }
        let took = start.elapsed();
        s.logout().await.ok();
        Ok((count, bytes, took))
    }

    /// UNSEEN of `folder` (IMAP STATUS).
    pub async fn unseen(&self, user: &str, folder: &str) -> Result<u32, String> {
        let mut s = self.login(user).await?;
        let mb = s
            .status(folder, "(MESSAGES UNSEEN)")
            .await
            .map_err(|e| format!("STATUS {folder}: {e}"))?;
        s.logout().await.ok();
        Ok(mb.unseen.unwrap_or(0))
    }
}
