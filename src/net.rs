//! TLS for the mail servers mailroom talks to: rustls with the ring provider,
//! certificates verified against the Mozilla roots plus an optional private CA
//! (`ca_file`). There is no "skip verification" switch on purpose.

use std::sync::Arc;

use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, pki_types};

use crate::config::Endpoint;

/// A client TLS configuration for `ep`. Errors name the config key.
pub fn client_config(ep: &Endpoint) -> std::result::Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(ca) = &ep.ca_file {
        use pki_types::pem::PemObject;
        let pem = std::fs::read(ca)
            .map_err(|e| format!("key {}.ca_file: cannot read {}: {e}", ep.key, ca.display()))?;
        let mut added = 0;
        for cert in pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert
                .map_err(|e| format!("key {}.ca_file: {} is not PEM: {e}", ep.key, ca.display()))?;
            roots.add(cert).map_err(|e| {
                format!(
                    "key {}.ca_file: {}: unusable certificate: {e}",
                    ep.key,
                    ca.display()
                )
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "key {}.ca_file: {} holds no certificate",
                ep.key,
                ca.display()
            ));
        }
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: a DNS name or an IP address.
pub fn server_name(host: &str) -> std::result::Result<pki_types::ServerName<'static>, String> {
    pki_types::ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| format!("{host:?} is not a valid TLS server name: {e}"))
}

/// Explains a failed TLS handshake; certificate problems say how to fix them.
pub fn describe_tls_error(addr: &str, e: &std::io::Error) -> String {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(why)) => format!(
            "certificate of {addr} not trusted ({why:?}); for a private CA set ca_file to its PEM certificate"
        ),
        Some(other) => format!("TLS handshake with {addr} failed: {other}"),
        None => format!("TLS handshake with {addr} failed: {e}"),
    }
}
