//! Configuration: TOML file (DESIGN §9) or the embedded default, validated with
//! errors that name the file and the key (the sections in `sections.rs`, checks
//! in `validate.rs`). Must not import `digest`, `pipeline`, `store` or `server`:
//! the digest types it needs are in `crate::model`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub mailroom: MailroomSection,
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub inbound: Vec<InboundConfig>,
    #[serde(default)]
    pub outbound: OutboundConfig,
    #[serde(default)]
    pub agent: Vec<AgentConfig>,
    #[serde(default)]
    pub area: Vec<AreaConfig>,
    #[serde(default)]
    pub manager: Vec<ManagerConfig>,
    /// Business-hours calendars that areas name (`[[area]] calendar`).
    #[serde(default)]
    pub calendar: Vec<CalendarConfig>,
    #[serde(default)]
    pub sla: BTreeMap<String, SlaConfig>,
    #[serde(default)]
    pub rules: Option<RulesSection>,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub security: SecuritySection,
    #[serde(default)]
    pub lifecycle: LifecycleSection,
    /// Where the config was read from (None: embedded default). Relative paths
    /// in the file are resolved against the current directory, like the CLI.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Where to look for the config: explicit flag, then env, then ./mailroom.toml.
pub fn locate(flag: Option<&Path>) -> Option<(PathBuf, bool)> {
    if let Some(p) = flag {
        return Some((p.to_path_buf(), true));
    }
    if let Ok(p) = std::env::var("MAILROOM_CONFIG")
        && !p.is_empty()
    {
        return Some((PathBuf::from(p), true));
    }
    let p = PathBuf::from("mailroom.toml");
    p.exists().then_some((p, false))
}

impl Config {
    /// The roster agents of `area` who get its new tickets' notifications
    /// besides the owner (`notify = "area"`; agents away are skipped).
    pub fn area_watchers(&self, area: Option<&str>) -> Vec<String> {
        let Some(area) = area else {
            return Vec::new();
        };
        let notify = self
            .area
            .iter()
            .find(|a| a.name == area)
            .map(|a| a.notify)
            .unwrap_or_default();
        if notify != AreaNotify::Area {
            return Vec::new();
        }
        self.agent
            .iter()
            .filter(|a| !a.away && a.areas.iter().any(|x| x == area))
            .map(|a| a.email.to_ascii_lowercase())
            .collect()
    }

    /// The escalation contact of `area` (lower-cased), if the area has one.
    pub fn escalation_contact(&self, area: Option<&str>) -> Option<String> {
        let area = area?;
        self.area
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(area))
            .and_then(|a| a.escalation.as_deref())
            .map(str::to_ascii_lowercase)
    }

    /// The embedded default: SQLite in ./mailroom.db, Maildir ./mail/inbox,
    /// file outbox ./mail/outbox, support@localhost.
    pub fn embedded_default() -> Config {
        Config {
            mailroom: MailroomSection::default(),
            database: DatabaseSection::default(),
            inbound: vec![InboundConfig {
                path: Some(PathBuf::from("./mail/inbox")),
                ..InboundConfig::new("inbox", InboundKind::Maildir)
            }],
            outbound: OutboundConfig::default(),
            agent: Vec::new(),
            area: Vec::new(),
            manager: Vec::new(),
            calendar: Vec::new(),
            sla: BTreeMap::new(),
            rules: None,
            http: HttpSection::default(),
            security: SecuritySection::default(),
            lifecycle: LifecycleSection::default(),
            source: None,
        }
    }

    /// Load from `flag`/env/./mailroom.toml, or the embedded default when none exists.
    pub fn load(flag: Option<&Path>) -> Result<Config> {
        match locate(flag) {
            None => Ok(Config::embedded_default()),
            Some((path, _explicit)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::Config {
                    file: path.display().to_string(),
                    message: format!("cannot read: {e}"),
                })?;
                Config::parse(&text, &path.display().to_string())
            }
        }
    }

    pub fn parse(text: &str, file: &str) -> Result<Config> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| Error::Config {
            file: file.to_string(),
            // The toml crate names line, column and key; indent its multi-line excerpt.
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        cfg.source = Some(PathBuf::from(file));
        // Addresses are compared as given from here on (digests' recipients,
        // bounce holds): one spelling, once.
        for m in &mut cfg.manager {
            m.email = m.email.to_ascii_lowercase();
        }
        if cfg.inbound.is_empty() {
            // No source configured: the embedded default's Maildir, like every other unset key.
            cfg.inbound = Config::embedded_default().inbound;
        }
        cfg.validate().map_err(|message| Error::Config {
            file: file.to_string(),
            message,
        })?;
        Ok(cfg)
    }

    pub fn max_message_size(&self) -> usize {
        parse_size(&self.mailroom.max_message_size).unwrap_or(50 * 1024 * 1024)
    }

    /// The Unix socket on which `serve` takes mail from `ingest -`
    /// (`inbound::handoff`): `mailroom.ingest_socket`, or by default the SQLite
    /// database's file with `.sock` appended; none when set to "off", and none
    /// by default on PostgreSQL (no file to put it beside).
    pub fn ingest_socket(&self) -> Option<PathBuf> {
        match self.mailroom.ingest_socket.as_deref() {
            Some("off") => None,
            Some(path) => Some(PathBuf::from(path)),
            None => {
                let db = sqlite_file(&self.database_url().ok()?)?;
                let mut name = db.into_os_string();
                name.push(".sock");
                Some(PathBuf::from(name))
            }
        }
    }

    /// Database URL, from `url_env` when set (so a password stays out of the file).
    pub fn database_url(&self) -> Result<String> {
        if let Some(var) = &self.database.url_env {
            return std::env::var(var).map_err(|_| Error::Config {
                file: self.source_name(),
                message: format!("key database.url_env: environment variable {var} is not set"),
            });
        }
        Ok(self.database.url.clone())
    }

    pub fn source_name(&self) -> String {
        self.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(embedded default)".into())
    }

    /// Addresses that are never a customer's: the staff and mailroom's own, lowercased.
    pub fn internal_addresses(&self) -> Vec<String> {
        let mut v = self.own_addresses();
        v.extend(self.staff_addresses());
        v.sort();
        v.dedup();
        v
    }

    /// Agents, managers and area escalation contacts, lowercased: people whose
    /// addresses never reach a customer.
    pub fn staff_addresses(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .agent
            .iter()
            .map(|a| a.email.to_ascii_lowercase())
            .collect();
        v.extend(self.manager.iter().map(|m| m.email.to_ascii_lowercase()));
        v.extend(
            self.area
                .iter()
                .filter_map(|a| a.escalation.as_ref())
                .map(|e| e.to_ascii_lowercase()),
        );
        v.sort();
        v.dedup();
        v
    }

    /// The roster's display name for an agent address.
    pub fn agent_name(&self, email: &str) -> Option<&str> {
        self.agent
            .iter()
            .find(|a| a.email.eq_ignore_ascii_case(email))
            .and_then(|a| a.name.as_deref())
    }

    /// All addresses that are mailroom itself, lowercased.
    pub fn own_addresses(&self) -> Vec<String> {
        let mut v: Vec<String> = std::iter::once(&self.mailroom.support_address)
            .chain(self.mailroom.own_addresses.iter())
            .map(|a| a.to_ascii_lowercase())
            .collect();
        for ib in &self.inbound {
            if let Some(u) = &ib.server.username
                && u.contains('@')
            {
                v.push(u.to_ascii_lowercase());
            }
        }
        v.sort();
        v.dedup();
        v
    }
}

mod endpoint;
mod into_core;
mod sections;
#[cfg(test)]
mod tests;
mod validate;

pub use endpoint::{Endpoint, EndpointConfig, Protocol, Secret, SecretSource};
pub use sections::*;

pub use crate::sla::{CalendarConfig, SlaConfig};
pub use crate::units::{parse_duration, parse_size};
pub use validate::redact_url;
