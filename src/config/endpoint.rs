//! The mail server an IMAP source or the SMTP transport talks to. Both config
//! sections spell the same keys: one `EndpointConfig`, flattened into each
//! (the sections keep `deny_unknown_fields`: serde refuses what neither they
//! nor the endpoint know), resolved into this one validated type, checked in
//! one place.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use super::{InboundConfig, OutboundConfig, TlsMode};

/// Which protocol an endpoint speaks; decides the default ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Smtp,
}

/// How the password reaches mailroom. It is read when a connection is made
/// (so a rotated secret applies on the next reconnect) and never logged.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
    None,
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(v) => write!(f, "env {v}"),
            SecretSource::File(p) => write!(f, "file {}", p.display()),
            SecretSource::None => write!(f, "none"),
        }
    }
}

/// A password in memory: Debug and Display never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl SecretSource {
    /// Reads the secret now. The error names the key, never the value.
    pub fn read(&self, key: &str) -> std::result::Result<Option<Secret>, String> {
        match self {
            SecretSource::None => Ok(None),
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Some(Secret(v))),
                _ => Err(format!(
                    "key {key}.password_env: environment variable {var} is not set"
                )),
            },
            SecretSource::File(path) => match std::fs::read_to_string(path) {
                // One trailing newline is an editor's, not the password's.
                Ok(v) => Ok(Some(Secret(
                    v.strip_suffix('\n')
                        .map(|s| s.strip_suffix('\r').unwrap_or(s))
                        .unwrap_or(&v)
                        .to_string(),
                ))),
                Err(e) => Err(format!(
                    "key {key}.password_file: cannot read {}: {e}",
                    path.display()
                )),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Config key path, e.g. `inbound[0]`, for error messages.
    pub key: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: SecretSource,
    pub ca_file: Option<PathBuf>,
}

/// The keys of a mail server, spelled the same in `[[inbound]]` (IMAP) and
/// `[outbound]` (SMTP): both sections flatten this in, so a config file
/// reads as before, and unknown keys are still refused (by the section).
#[derive(Debug, Clone, Default)]
pub struct EndpointConfig {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<TlsMode>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

/// Flattened, these values reach serde without their position in the file
/// (the error points at the section), so a wrong value's error names its key.
impl<'de> serde::Deserialize<'de> for EndpointConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_struct("EndpointConfig", ENDPOINT_KEYS, EndpointVisitor)
    }
}

const ENDPOINT_KEYS: &[&str] = &[
    "host",
    "port",
    "tls",
    "username",
    "password_env",
    "password_file",
    "ca_file",
];

struct EndpointVisitor;

impl<'de> serde::de::Visitor<'de> for EndpointVisitor {
    type Value = EndpointConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the keys of a mail server")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<EndpointConfig, A::Error> {
        fn value<'de, T: serde::Deserialize<'de>, A: serde::de::MapAccess<'de>>(
            map: &mut A,
            key: &str,
        ) -> std::result::Result<Option<T>, A::Error> {
            map.next_value::<T>()
                .map(Some)
                .map_err(|e| serde::de::Error::custom(format!("key `{key}`: {e}")))
        }
        let mut c = EndpointConfig::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "host" => c.host = value(&mut map, &key)?,
                "port" => c.port = value(&mut map, &key)?,
                "tls" => c.tls = value(&mut map, &key)?,
                "username" => c.username = value(&mut map, &key)?,
                "password_env" => c.password_env = value(&mut map, &key)?,
                "password_file" => c.password_file = value(&mut map, &key)?,
                "ca_file" => c.ca_file = value(&mut map, &key)?,
                _ => return Err(serde::de::Error::unknown_field(&key, ENDPOINT_KEYS)),
            }
        }
        Ok(c)
    }
}

impl EndpointConfig {
    /// The validated endpoint; `key` names the section in errors (e.g.
    /// `inbound[0]`), `protocol` decides the defaults.
    pub fn resolve(
        &self,
        key: String,
        protocol: Protocol,
    ) -> std::result::Result<Endpoint, String> {
        let host = self
            .host
            .as_ref()
            .filter(|h| !h.trim().is_empty())
            .ok_or_else(|| format!("key {key}.host: required"))?
            .trim()
            .to_string();
        let tls = self.tls.unwrap_or(match protocol {
            Protocol::Imap => TlsMode::Implicit,
            Protocol::Smtp => TlsMode::Starttls,
        });
        if tls == TlsMode::None && !is_loopback(&host) {
            return Err(format!(
                "key {key}.tls: \"none\" sends the password in clear text and is only allowed for \
                 loopback hosts (127.0.0.1, ::1, localhost), not {host:?}; use \"implicit\" or \"starttls\""
            ));
        }
        let port = self.port.unwrap_or(match (protocol, tls) {
            (Protocol::Imap, TlsMode::Implicit) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Smtp, TlsMode::Implicit) => 465,
            (Protocol::Smtp, TlsMode::Starttls) => 587,
            (Protocol::Smtp, TlsMode::None) => 25,
        });
        let password = match (&self.password_env, &self.password_file) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "key {key}.password_env: set password_env or password_file, not both"
                ));
            }
            (Some(v), None) => SecretSource::Env(v.clone()),
            (None, Some(p)) => SecretSource::File(p.clone()),
            (None, None) => SecretSource::None,
        };
        if self.username.is_some() && password == SecretSource::None {
            return Err(format!(
                "key {key}.password_env: a username needs password_env or password_file \
                 (passwords are never written in the config file)"
            ));
        }
        if let Some(ca) = &self.ca_file
            && tls == TlsMode::None
        {
            return Err(format!(
                "key {key}.ca_file: {} is set but tls = \"none\"",
                ca.display()
            ));
        }
        Ok(Endpoint {
            key,
            host,
            port,
            tls,
            username: self.username.clone(),
            password,
            ca_file: self.ca_file.clone(),
        })
    }
}

impl Endpoint {
    /// `host:port`, for logs and errors (never includes credentials).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl InboundConfig {
    /// The IMAP server of this source (`key` is e.g. `inbound[0]`).
    pub fn endpoint(&self, key: String) -> std::result::Result<Endpoint, String> {
        self.server.resolve(key, Protocol::Imap)
    }
}

impl OutboundConfig {
    pub fn endpoint(&self) -> std::result::Result<Endpoint, String> {
        self.server.resolve("outbound".into(), Protocol::Smtp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imap(host: &str, tls: Option<TlsMode>) -> InboundConfig {
        InboundConfig {
            server: EndpointConfig {
                host: Some(host.into()),
                tls,
                username: Some("u@example.test".into()),
                password_env: Some("PW".into()),
                ..EndpointConfig::default()
            },
            ..InboundConfig::new("s", super::super::InboundKind::Imap)
        }
    }

    #[test]
    fn defaults_follow_tls_mode() {
        let e = imap("imap.example.test", None)
            .endpoint("inbound[0]".into())
            .unwrap();
        assert_eq!((e.tls, e.port), (TlsMode::Implicit, 993));
        let e = imap("imap.example.test", Some(TlsMode::Starttls))
            .endpoint("inbound[0]".into())
            .unwrap();
        assert_eq!(e.port, 143);
        assert_eq!(e.address(), "imap.example.test:143");
    }

    #[test]
    fn plaintext_only_on_loopback() {
        for ok in ["127.0.0.1", "localhost", "::1", "127.5.0.1"] {
            assert!(
                imap(ok, Some(TlsMode::None))
                    .endpoint("inbound[0]".into())
                    .is_ok(),
                "{ok}"
            );
        }
        let err = imap("imap.example.test", Some(TlsMode::None))
            .endpoint("inbound[0]".into())
            .unwrap_err();
        assert!(err.contains("inbound[0].tls"), "{err}");
        assert!(err.contains("loopback"), "{err}");
    }

    #[test]
    fn username_needs_a_secret_source() {
        let mut c = imap("imap.example.test", None);
        c.server.password_env = None;
        let err = c.endpoint("inbound[2]".into()).unwrap_err();
        assert!(err.contains("inbound[2].password_env"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "hunter2\n").unwrap();
        let s = SecretSource::File(f).read("inbound[0]").unwrap().unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let err = SecretSource::Env("MAILROOM_TEST_SURELY_UNSET".into())
            .read("inbound[0]")
            .unwrap_err();
        assert!(err.contains("MAILROOM_TEST_SURELY_UNSET"), "{err}");
    }
}
