//! Configuration: TOML file (DESIGN §9) or the embedded default, validated with
//! errors that name the file and the key (checks in `validate.rs`). Must not
//! import `digest`, `pipeline`, `store` or `server`: the digest types it needs
//! are in `crate::model`.

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
    /// Where the config was read from (None: embedded default). Relative paths
    /// in the file are resolved against the current directory, like the CLI.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailroomSection {
    #[serde(default = "default_support_address")]
    pub support_address: String,
    #[serde(default = "default_support_name")]
    pub support_name: String,
    #[serde(default = "default_prefix")]
    pub ticket_prefix: String,
    #[serde(default = "default_tz")]
    pub time_zone: String,
    /// Other addresses that are mailroom's own (aliases of the support address).
    #[serde(default)]
    pub own_addresses: Vec<String>,
    /// Owner of new tickets until the rules engine routes them.
    #[serde(default)]
    pub default_owner: Option<String>,
    #[serde(default)]
    pub default_area: Option<String>,
    /// Messages larger than this are quarantined, e.g. "50MiB".
    #[serde(default = "default_max_size")]
    pub max_message_size: String,
    /// RFC 3834: at most this many automatic replies per recipient per hour.
    #[serde(default = "default_ack_limit")]
    pub ack_limit_per_hour: u32,
    /// At most this many notifications to one agent or escalation contact per
    /// hour: a second fence against loops, set well above a busy agent's load.
    #[serde(default = "default_notification_limit")]
    pub notification_limit_per_hour: u32,
    #[serde(default = "default_templates")]
    pub templates_dir: PathBuf,
    /// Messages committed per database transaction when a backlog is drained.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Where `serve` takes piped mail from `ingest -` (`Config::ingest_socket`):
    /// a path, or "off".
    #[serde(default)]
    pub ingest_socket: Option<String>,
}

impl Default for MailroomSection {
    fn default() -> Self {
        MailroomSection {
            support_address: default_support_address(),
            support_name: default_support_name(),
            ticket_prefix: default_prefix(),
            time_zone: default_tz(),
            own_addresses: Vec::new(),
            default_owner: None,
            default_area: None,
            max_message_size: default_max_size(),
            ack_limit_per_hour: default_ack_limit(),
            notification_limit_per_hour: default_notification_limit(),
            templates_dir: default_templates(),
            batch_size: default_batch(),
            ingest_socket: None,
        }
    }
}

fn default_support_address() -> String {
    "support@localhost".into()
}
fn default_support_name() -> String {
    "Support".into()
}
fn default_prefix() -> String {
    "MR".into()
}
fn default_tz() -> String {
    "UTC".into()
}
fn default_max_size() -> String {
    "50MiB".into()
}
fn default_ack_limit() -> u32 {
    10
}
fn default_notification_limit() -> u32 {
    100
}
fn default_templates() -> PathBuf {
    PathBuf::from("templates")
}
fn default_batch() -> usize {
    256
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    #[serde(default = "default_db_url")]
    pub url: String,
    #[serde(default)]
    pub url_env: Option<String>,
    /// Pool size; by default 2 on SQLite and 5 on PostgreSQL (`pool_size`).
    #[serde(default)]
    pub max_connections: Option<u32>,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            url: default_db_url(),
            url_env: None,
            max_connections: None,
        }
    }
}

impl DatabaseSection {
    /// The pool size for a database at `url`. SQLite writes one transaction at
    /// a time, and each of its connections is a thread of its own with its own
    /// page cache and malloc arena: 30,000 mails onto a million stored ones
    /// peaked at 69.4-69.5 MiB with 5 connections and 57.2-58.1 MiB with 2, at
    /// the same throughput (`cargo bench --bench ingest -- --messages 30000
    /// --onto DB --db-connections 2` / `5`). PostgreSQL runs batches of
    /// different mailboxes at once.
    pub fn pool_size(&self, url: &str) -> u32 {
        self.max_connections
            .unwrap_or(if url.starts_with("sqlite:") { 2 } else { 5 })
    }
}

/// The file of a SQLite URL (`sqlite://./mailroom.db?mode=rwc` ->
/// `./mailroom.db`); none for PostgreSQL and in-memory databases.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn default_db_url() -> String {
    "sqlite://./mailroom.db".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboundKind {
    Imap,
    Maildir,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Implicit,
    Starttls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundConfig {
    pub name: String,
    pub kind: InboundKind,
    // maildir
    pub path: Option<PathBuf>,
    // imap: the server (host, port, tls, username, … as keys of the source)
    #[serde(flatten)]
    pub server: EndpointConfig,
    pub folder: Option<String>,
    /// Committed mail is moved here (UID MOVE, or COPY + EXPUNGE).
    pub processed_folder: Option<String>,
    /// Without a processed_folder, committed mail is flagged \Seen (default true).
    pub mark_seen: Option<bool>,
    pub idle: Option<bool>,
    pub poll_interval: Option<String>,
    /// "plain" (AUTHENTICATE PLAIN, the default) or "login" (the LOGIN command).
    pub auth: Option<ImapAuth>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapAuth {
    Plain,
    Login,
}

impl InboundConfig {
    /// A source of `kind` with every optional key unset.
    pub fn new(name: &str, kind: InboundKind) -> InboundConfig {
        InboundConfig {
            name: name.to_string(),
            kind,
            path: None,
            server: EndpointConfig::default(),
            folder: None,
            processed_folder: None,
            mark_seen: None,
            idle: None,
            poll_interval: None,
            auth: None,
        }
    }

    pub fn folder(&self) -> &str {
        self.folder.as_deref().unwrap_or("INBOX")
    }
}

/// `serve`'s HTTP endpoint: /healthz and /metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Address to listen on; "off" disables the endpoint.
    #[serde(default = "default_http_listen")]
    pub listen: String,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: default_http_listen(),
        }
    }
}

fn default_http_listen() -> String {
    "127.0.0.1:9466".into()
}

/// `[security]`: what it takes for a mail to act as an agent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySection {
    /// When set, an agent reply also needs an `Authentication-Results` header
    /// from one of these servers showing dmarc=pass (or dkim=pass) for the
    /// agent's domain. Off (empty) by default.
    #[serde(default)]
    pub trusted_authserv_ids: Vec<String>,
    /// Mail to agents carries `Reply-To: support+<token>@…`, and an agent's
    /// answer must come back through it (on by default; the support
    /// mailbox's server must deliver subaddresses). Off: a Message-ID and the
    /// From are the whole proof.
    #[serde(default = "yes")]
    pub reply_token: bool,
}

impl Default for SecuritySection {
    fn default() -> Self {
        SecuritySection {
            trusted_authserv_ids: Vec::new(),
            reply_token: true,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboundKind {
    Smtp,
    File,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    pub kind: OutboundKind,
    pub path: Option<PathBuf>,
    /// The SMTP server (host, port, tls, username, … as keys of the section).
    #[serde(flatten)]
    pub server: EndpointConfig,
    /// How often `serve` looks for due outbox rows.
    #[serde(default)]
    pub flush_interval: Option<String>,
    /// Wait before the first retry of a failed send (default "1m"); it
    /// doubles per attempt, capped at 4 h.
    #[serde(default)]
    pub retry_first: Option<String>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            kind: OutboundKind::File,
            path: Some(PathBuf::from("./mail/outbox")),
            server: EndpointConfig::default(),
            flush_interval: None,
            retry_first: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub email: String,
    pub name: Option<String>,
    #[serde(default)]
    pub areas: Vec<String>,
    #[serde(default)]
    pub away: bool,
    pub max_open: Option<u32>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaConfig {
    pub name: String,
    pub strategy: Option<String>,
    pub escalation: Option<String>,
    /// Who gets a new ticket's notification: its owner (default), or every
    /// available agent of the area (any of them may answer it).
    #[serde(default)]
    pub notify: AreaNotify,
    /// A `[[calendar]]` name: this area's SLA clocks count its business hours
    /// (unset: calendar hours, around the clock).
    pub calendar: Option<String>,
}

/// `[[area]] notify`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AreaNotify {
    #[default]
    Owner,
    Area,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerConfig {
    /// Lower-cased at load: digests, holds and bounces compare it as is.
    pub email: String,
    #[serde(default)]
    pub areas: Vec<String>,
    /// Cron expression (five fields) in the manager's time zone; unset: no
    /// scheduled digest.
    pub digest: Option<String>,
    /// IANA name; unset: `mailroom.time_zone`.
    pub time_zone: Option<String>,
    /// What a digest's numbers are compared with: `day`, the span of the
    /// same length right before its window; `week`, the same local hours a
    /// week before. The window itself follows `digest` (the time since the
    /// previous scheduled time); without a `digest`, previews and `digest
    /// send` use the schedule `period` implies (`PeriodKind::implied_cron`).
    #[serde(default)]
    pub period: crate::model::PeriodKind,
    /// Send nothing for a period in which nothing happened.
    #[serde(default)]
    pub skip_empty: bool,
}

impl ManagerConfig {
    /// The manager's time zone name, falling back to the global one.
    pub fn time_zone_or<'a>(&'a self, global: &'a str) -> &'a str {
        self.time_zone.as_deref().unwrap_or(global)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    pub file: PathBuf,
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
#[cfg(test)]
mod tests;
mod validate;

pub use endpoint::{Endpoint, EndpointConfig, Protocol, Secret, SecretSource};

pub use crate::sla::{CalendarConfig, SlaConfig};
pub use crate::units::{parse_duration, parse_size};
pub use validate::redact_url;
