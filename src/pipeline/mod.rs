//! The one place that decides what a message causes (DESIGN §1). A batch of raw
//! messages is processed in one transaction; a message that breaks the batch is
//! isolated and quarantined, so one poison mail never stalls a mailbox. Must
//! not import `outbound`, `digest`, `inbound` or `server` (they use it).

mod agent;
mod apply;
mod bounce;
mod decide;
pub(crate) mod fault;
mod inspect;
mod outgoing;
mod relay_result;
mod settle;
mod sla;
mod thread;
mod unit;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::Result;
use crate::mail::parse::ParsedMail;
use crate::mail::thread::referenced_ids;
use crate::mail::{Classifier, Mailbox, ThreadKeys};
use crate::rules::assign::Assigner;
use crate::rules::{Router, RuleSet, RulesRouter};
use crate::store::{BatchKeys, Store, codec};
use crate::tickets;

pub use inspect::{Inspection, ThreadKeysSeen};
pub use relay_result::RelayReports;
pub use thread::ThreadMatch;
use unit::UnitOfWork;

/// The rules file's router when `[rules] file` is set (invalid rules refuse to
/// start, listing every error), else the config defaults.
fn router(cfg: &Config) -> Result<std::sync::Arc<dyn Router>> {
    let Some(rules) = &cfg.rules else {
        return Ok(std::sync::Arc::new(cfg.default_router()));
    };
    Ok(std::sync::Arc::new(RulesRouter::new(load_rules(
        cfg,
        &rules.file,
    )?)))
}

/// Loads and checks a rules file against the config's areas and agents.
pub fn load_rules(cfg: &Config, path: &std::path::Path) -> Result<RuleSet> {
    let areas: Vec<String> = cfg.area.iter().map(|a| a.name.clone()).collect();
    let agents: Vec<String> = cfg
        .agent
        .iter()
        .map(|a| a.email.to_ascii_lowercase())
        .collect();
    // The rules engine is pure: the file is read here, in the shell.
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::Config {
        file: path.display().to_string(),
        message: format!("cannot read rules file: {e}"),
    })?;
    let name = path.display().to_string();
    RuleSet::parse(&text, &name, &areas, &agents).map_err(|errors| crate::Error::Config {
        file: path.display().to_string(),
        message: format!(
            "{} error(s):\n  {}",
            errors.len(),
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
    })
}

/// A batch parsed and ready to commit (`Pipeline::prepare`).
pub struct Prepared {
    pub items: Vec<Inbound>,
    parsed: Vec<std::result::Result<ParsedMail, String>>,
    /// The raw bytes as stored (compressed), for the messages that parsed.
    packed: Vec<codec::Stored>,
    keys: BatchKeys,
    position: Option<SourcePosition>,
}

/// How far a source is committed (an IMAP folder's UIDVALIDITY and last UID),
/// written in the same transaction as the batch's messages.
#[derive(Debug, Clone)]
pub struct SourcePosition {
    pub source: String,
    pub uidvalidity: i64,
    pub last_uid: i64,
}

impl Prepared {
    /// Commits `position` together with this batch.
    pub fn at_position(mut self, position: SourcePosition) -> Prepared {
        self.position = Some(position);
        self
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The message being applied: the input, its parse, and its bytes as stored.
#[derive(Clone, Copy)]
pub(crate) struct Incoming<'a> {
    pub(crate) item: &'a Inbound,
    pub(crate) mail: &'a ParsedMail,
    pub(crate) packed: &'a codec::Stored,
}

/// How often a batch runs when PostgreSQL keeps choosing it to break deadlocks.
const CONFLICT_ATTEMPTS: u32 = 5;

/// The slice of a prepared batch one transaction handles (all of it, or one
/// message when a failing batch is isolated).
#[derive(Clone, Copy)]
struct Part<'a> {
    items: &'a [Inbound],
    parsed: &'a [std::result::Result<ParsedMail, String>],
    packed: &'a [codec::Stored],
    keys: &'a BatchKeys,
    position: Option<&'a SourcePosition>,
}

/// One raw message and where it came from (file path, maildir entry, …).
#[derive(Debug, Clone)]
pub struct Inbound {
    pub origin: String,
    pub raw: Vec<u8>,
    /// Set when the source already knows the message cannot be taken in (over
    /// the size limit, or unreadable from the server): it is quarantined with
    /// this reason and whatever bytes the source has in `raw`.
    pub rejected: Option<String>,
    /// `mailroom suspended release`: this stored ticket-less message (its row)
    /// is processed again as customer mail and joins the ticket it leads to.
    pub adopt: Option<i64>,
}

impl Inbound {
    pub fn new(origin: String, raw: Vec<u8>) -> Inbound {
        Inbound {
            origin,
            raw,
            rejected: None,
            adopt: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    Created,
    Appended,
    AgentReply,
    Duplicate,
    Bounce,
    Autoreply,
    Ignored,
    Quarantined,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Created => "created",
            OutcomeKind::Appended => "appended",
            OutcomeKind::AgentReply => "agent_reply",
            OutcomeKind::Duplicate => "duplicate",
            OutcomeKind::Bounce => "bounce",
            OutcomeKind::Autoreply => "autoreply",
            OutcomeKind::Ignored => "ignored",
            OutcomeKind::Quarantined => "quarantined",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub file: String,
    pub outcome: OutcomeKind,
    #[serde(rename = "ref")]
    pub ticket_ref: Option<String>,
    pub reason: Option<String>,
}

pub struct Pipeline {
    pub(crate) cfg: Arc<Config>,
    pub(crate) classifier: Classifier,
    pub(crate) keys: ThreadKeys,
    /// Swapped whole on reload; a batch reads it once per message.
    pub(crate) router: std::sync::RwLock<std::sync::Arc<dyn Router>>,
    pub(crate) assigner: Assigner,
    pub(crate) support: Mailbox,
    /// Business-hours calendars of the areas (SLA clocks).
    pub(crate) calendars: crate::sla::Calendars,
    max_size: usize,
}

impl Pipeline {
    pub fn new(cfg: Arc<Config>) -> Result<Pipeline> {
        let roster = cfg
            .agent
            .iter()
            .map(|a| a.email.to_ascii_lowercase())
            .collect();
        let loop_id = cfg.mailroom.support_address.to_ascii_lowercase();
        Ok(Pipeline {
            classifier: Classifier::new(cfg.own_addresses(), &loop_id, roster),
            keys: ThreadKeys::new(&cfg.mailroom.ticket_prefix),
            router: std::sync::RwLock::new(router(&cfg)?),
            assigner: cfg.assigner(),
            support: Mailbox {
                name: Some(cfg.mailroom.support_name.clone()),
                email: cfg.mailroom.support_address.to_ascii_lowercase(),
            },
            max_size: cfg.max_message_size(),
            calendars: cfg.calendars().map_err(|message| crate::Error::Config {
                file: cfg.source_name(),
                message,
            })?,
            cfg,
        })
    }

    /// Re-reads the rules file. On any error the current rules stay in force
    /// and the error (every problem, with file:line) is returned for the log.
    pub fn reload_rules(&self) -> Result<usize> {
        let Some(rules) = &self.cfg.rules else {
            return Ok(0);
        };
        let set = load_rules(&self.cfg, &rules.file)?;
        let n = set.len();
        let fresh: std::sync::Arc<dyn Router> = std::sync::Arc::new(RulesRouter::new(set));
        match self.router.write() {
            Ok(mut r) => *r = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(n)
    }

    pub(crate) fn current_router(&self) -> std::sync::Arc<dyn Router> {
        match self.router.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// `mailroom.max_message_size` in bytes: sources read no more of a message.
    pub fn max_message_size(&self) -> usize {
        self.max_size
    }

    pub fn ticket_ref(&self, id: i64) -> String {
        tickets::format_ref(&self.cfg.mailroom.ticket_prefix, id)
    }

    /// Processes `batch` in one transaction (see `commit`).
    pub async fn process_batch(
        &self,
        store: &Store,
        batch: Vec<Inbound>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let prepared = self.prepare(batch);
        self.commit(store, &prepared, now).await
    }

    /// Processes one message in one transaction and returns the error instead
    /// of quarantining on failure: for operators' releases, where a failure
    /// must leave everything as it was.
    pub async fn process_once(
        &self,
        store: &Store,
        item: Inbound,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let prepared = self.prepare(vec![item]);
        let part = Part {
            items: &prepared.items,
            parsed: &prepared.parsed,
            packed: &prepared.packed,
            keys: &prepared.keys,
            position: None,
        };
        let mut out = self.try_batch(store, part, now).await?;
        out.pop()
            .ok_or_else(|| crate::Error::Invalid("no outcome for the message".into()))
    }

    /// The CPU half of a batch: parse every message and collect what the batch
    /// will look up. Needs no database, so a source can prepare the next batch
    /// on another core while the current one commits.
    pub fn prepare(&self, mut items: Vec<Inbound>) -> Prepared {
        let parsed: Vec<std::result::Result<ParsedMail, String>> =
            items.iter().map(|i| self.parse(i)).collect();
        // Quote stripping runs here, on the preparing core, for the mails that
        // answer something: agents' replies and customers' follow-ups use it.
        for m in parsed.iter().flatten() {
            if !m.in_reply_to.is_empty()
                || !m.references.is_empty()
                || self.keys.subject_tag(&m.subject).is_some()
            {
                m.reply();
            }
        }
        let keys = self.batch_keys(&parsed);
        // Compressing here keeps it off the database's critical path. A parsed
        // message needs its raw bytes only as stored, so the original is dropped
        // (memory); a message that failed to parse keeps them for the quarantine.
        let packed = items
            .iter_mut()
            .zip(&parsed)
            .map(|(i, p)| match p {
                Ok(_) => codec::store(std::mem::take(&mut i.raw)),
                Err(_) => codec::Stored::default(),
            })
            .collect();
        Prepared {
            items,
            parsed,
            packed,
            keys,
            position: None,
        }
    }

    /// Decides and commits a prepared batch in one transaction. If the batch fails
    /// for a reason other than the database being unavailable, each message is
    /// retried alone (`isolate`): one poison mail never stalls a mailbox.
    pub async fn commit(
        &self,
        store: &Store,
        batch: &Prepared,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let whole = Part {
            items: &batch.items,
            parsed: &batch.parsed,
            packed: &batch.packed,
            keys: &batch.keys,
            position: batch.position.as_ref(),
        };
        match self.try_batch_again(store, whole, now).await {
            Ok(v) => Ok(v),
            Err(e) if e.is_temporary() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, size = batch.items.len(), "batch failed; isolating messages");
                self.isolate(store, batch, now).await
            }
        }
    }

    /// Commits each message of a failed batch alone; one that still fails is
    /// quarantined with the error. The source position is written last.
    async fn isolate(
        &self,
        store: &Store,
        batch: &Prepared,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let mut out = Vec::with_capacity(batch.items.len());
        let each = batch.items.iter().zip(&batch.parsed).zip(&batch.packed);
        for ((item, parsed), packed) in each {
            let one = std::slice::from_ref(parsed);
            let keys = self.batch_keys(one);
            let part = Part {
                items: std::slice::from_ref(item),
                parsed: one,
                packed: std::slice::from_ref(packed),
                keys: &keys,
                position: None,
            };
            match self.try_batch_again(store, part, now).await {
                Ok(mut v) => out.append(&mut v),
                Err(e) if e.is_temporary() => return Err(e),
                Err(e) => out.push(self.quarantine_one(store, item, packed, e, now).await?),
            }
        }
        // Every message is now stored or quarantined; a crash before this
        // line only means the source offers them again as duplicates.
        if let Some(p) = &batch.position {
            let mut tx = store.begin().await?;
            tx.set_source_position(&p.source, p.uidvalidity, p.last_uid, now)
                .await?;
            tx.commit().await?;
        }
        Ok(out)
    }

    /// Keeps a message that could not be processed, with the error as reason.
    async fn quarantine_one(
        &self,
        store: &Store,
        item: &Inbound,
        packed: &codec::Stored,
        error: crate::Error,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let reason = format!("processing failed: {error}");
        tracing::error!(origin = %item.origin, %reason, "quarantining message");
        let raw = if packed.bytes.is_empty() {
            item.raw.clone()
        } else {
            codec::unpack(packed.codec, &packed.bytes)?
        };
        let mut tx = store.begin().await?;
        tx.quarantine(&item.origin, &reason, &raw, now).await?;
        tx.commit().await?;
        Ok(Outcome {
            file: item.origin.clone(),
            outcome: OutcomeKind::Quarantined,
            ticket_ref: None,
            reason: Some(reason),
        })
    }

    /// `try_batch`, run again when PostgreSQL chose it to break a deadlock
    /// with another instance's batch (store/contention.rs makes that rare).
    async fn try_batch_again(
        &self,
        store: &Store,
        part: Part<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let mut attempt = 1;
        loop {
            match self.try_batch(store, part, now).await {
                Err(e) if e.is_conflict() && attempt < CONFLICT_ATTEMPTS => {
                    tracing::info!(error = %e, attempt, "batch conflicted with another instance's; running it again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Loads what the batch reads in a few queries, decides message by message
    /// in memory, writes in a few statements, commits.
    async fn try_batch(
        &self,
        store: &Store,
        part: Part<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>> {
        let Part {
            items,
            parsed,
            packed,
            keys,
            position,
        } = part;
        let mut tx = store.begin().await?;
        let result = async {
            let rate_since = now - chrono::Duration::hours(outgoing::RATE_WINDOW_HOURS);
            let loaded = tx.load_batch(keys, rate_since, now).await?;
            let (outcomes, writes) = settle::settle(&mut tx, loaded, now, |u| {
                let mut outcomes: Vec<Outcome> = Vec::with_capacity(items.len());
                for ((item, p), raw) in items.iter().zip(parsed).zip(packed) {
                    // A panic deciding one message leaves the batch's view half
                    // updated: the whole batch is rolled back and retried message
                    // by message (`isolate`), where this one is quarantined.
                    let one = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.process(u, item, p, raw)
                    }));
                    match one {
                        Ok(o) => outcomes.push(o),
                        Err(panic) => {
                            return Err(crate::Error::Internal(format!(
                                "{} while processing {}",
                                fault::describe(&*panic),
                                item.origin
                            )));
                        }
                    }
                }
                Ok(outcomes)
            })
            .await?;
            tx.write_batch(&writes, now).await?;
            if let Some(p) = position {
                tx.set_source_position(&p.source, p.uidvalidity, p.last_uid, now)
                    .await?;
            }
            Ok::<_, crate::Error>(outcomes)
        }
        .await;
        match result {
            Ok(outcomes) => {
                tx.commit().await?;
                Ok(outcomes)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    fn parse(&self, item: &Inbound) -> std::result::Result<ParsedMail, String> {
        if let Some(reason) = &item.rejected {
            return Err(reason.clone());
        }
        if item.raw.len() > self.max_size {
            return Err(format!(
                "message is {} bytes, over the limit of {} bytes (mailroom.max_message_size)",
                item.raw.len(),
                self.max_size
            ));
        }
        // A panic in the parser is this message's problem only: it is
        // quarantined with the reason, and the batch goes on.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fault::check("parse", &item.raw);
            crate::mail::parse(&item.raw)
        }));
        match parsed {
            Ok(r) => r.map_err(|f| f.to_string()),
            Err(panic) => Err(format!("internal error: {}", fault::describe(&*panic))),
        }
    }

    /// Everything the batch's decisions will look up.
    fn batch_keys(&self, parsed: &[std::result::Result<ParsedMail, String>]) -> BatchKeys {
        let mut keys = BatchKeys {
            assignment: self.assigner.has_areas(),
            // Notifications to staff are rate-limited too.
            auto_recipients: self.cfg.staff_addresses(),
            ..BatchKeys::default()
        };
        for m in parsed.iter().flatten() {
            keys.message_ids.push(m.message_id.clone());
            keys.own_ids.push(m.message_id.clone());
            keys.message_ids
                .extend(m.report.original_message_ids.iter().cloned());
            keys.message_ids
                .extend(referenced_ids(&m.in_reply_to, &m.references));
            // The thread's root too: an acknowledgement's References keep it,
            // and they carry no ID of internal mail (outgoing::customer_chain).
            keys.message_ids.extend(m.references.first().cloned());
            if let Some(t) = self.keys.subject_tag(&m.subject) {
                keys.tag_tickets.push(t);
            }
            keys.auto_recipients.push(m.reply_address().email.clone());
            if self.classifier.is_agent(&m.from.email) {
                // An agent may get an explanation; the ticket they answer may get a relay.
                keys.auto_recipients.push(m.from.email.clone());
                keys.agent_refs
                    .extend(referenced_ids(&m.in_reply_to, &m.references));
            }
        }
        keys
    }

    /// Decides what one message causes, against the batch's view, and records it.
    fn process<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        item: &'a Inbound,
        parsed: &'a std::result::Result<ParsedMail, String>,
        packed: &'a codec::Stored,
    ) -> Outcome {
        match parsed {
            Ok(mail) => {
                fault::check("decide", mail.subject.as_bytes());
                let decision = match item.adopt {
                    Some(_) => self.decide_release(u, mail),
                    None => self.decide(u, mail),
                };
                self.apply(u, Incoming { item, mail, packed }, decision)
            }
            Err(reason) => {
                u.quarantine(&item.origin, reason.clone(), &item.raw);
                Outcome {
                    file: item.origin.clone(),
                    outcome: OutcomeKind::Quarantined,
                    ticket_ref: None,
                    reason: Some(reason.clone()),
                }
            }
        }
    }
}
