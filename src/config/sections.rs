//! The config file's sections as serde reads them, with their defaults.

use std::path::PathBuf;

use serde::Deserialize;

use super::EndpointConfig;

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

/// `[lifecycle]`: what happens to a ticket while it waits for the customer,
/// and to a customer's mail long after it was resolved. Unset keys: nothing
/// happens on its own (an agent's `#pending 3d` still reminds them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSection {
    /// "wall" (default): elapsed time in `mailroom.time_zone`; "business":
    /// the area calendar's open time, whole days counted as open days.
    #[serde(default)]
    pub count: LifecycleCount,
    /// A pending ticket with no answer from the customer's side this long
    /// after the last relayed answer is resolved, e.g. "7d".
    #[serde(default)]
    pub autoclose_pending_after: Option<String>,
    /// The customer is told this long before the auto-close, e.g. "2d"
    /// (template `autoclose_warning`).
    #[serde(default)]
    pub autoclose_warning: Option<String>,
    /// A customer's mail on a ticket resolved longer ago opens a new ticket,
    /// linked to the old one, e.g. "30d".
    #[serde(default)]
    pub reopen_window: Option<String>,
    /// A merge tells the merged ticket's customer which ticket goes on
    /// (template `merged`); off by default: customers hear nothing.
    #[serde(default)]
    pub merge_notifies_customer: bool,
    /// Resolving a ticket asks its customer to reply with a score from 1 to
    /// 5 and a comment (template `satisfaction`); their answer is recorded
    /// on the ticket. Default false: nothing is asked.
    #[serde(default)]
    pub satisfaction: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleCount {
    #[default]
    Wall,
    Business,
}
