//! The one place that decides what a message causes (DESIGN §1). A batch of raw
//! messages is processed in one transaction; a message that breaks the batch is
//! isolated and quarantined, so one poison mail never stalls a mailbox. Must
//! not import `outbound`, `digest`, `inbound` or `server` (they use it).
//!
//! Each step is a module with a type of its own, built once from the config
//! in `Pipeline::new` and holding only what the step reads; it gets the
//! batch's unit of work and the mail as parameters. In the order of DESIGN §1:
//!
//! - `prepare::Prepare` (size limit, thread keys, classifier, staff
//!   addresses): parse, and what the batch looks up; no database.
//! - `batch` (`impl Pipeline`): one transaction; run again after a deadlock,
//!   else each message alone, a failing one quarantined. `settle` decides
//!   until the decision is final beside other instances.
//! - `decide::Decide` (classifier, the rules' router, assigner, default area):
//!   one `Decision` per message. Which ticket: `thread::Threading` (thread
//!   keys, ticket prefix); an agent's answer: `agent::Answers` (its proof,
//!   the command directory), its `#reply` lines: `saved_reply::Saved` (the
//!   saved replies, loaded once), what it sends the customer:
//!   `relay_plan::RelayPlanner` (staff, names, own addresses).
//! - `apply::Apply` (classifier, thread keys, assigner, staff): the decision
//!   written into the batch's `unit` of work with its `events`; it calls the
//!   two steps below it.
//! - `outgoing::Queue` (support address and name, rate limits, reply tokens):
//!   the mail a decision queues; `sla::Clocks` (policies, calendars): the due
//!   times it moves.
//!
//! Beside them, on the same steps: `sla_scan::SlaScan` (the scheduler's
//! reminders and escalations), `relay_result::RelayResults` (what the outbox
//! reports back), `inspect::Inspect` (`mailroom inspect`). `staff::Staff` is
//! who is staff (per area, computed once), `source` what sources hand in and
//! get back, `rules_file` the rules file. A module uses only those below it;
//! `Pipeline` composes the steps, and no step names it.

mod agent;
mod apply;
mod batch;
mod decide;
mod events;
pub(crate) mod fault;
mod inspect;
mod lifecycle;
mod lifecycle_scan;
mod merge;
mod outgoing;
mod prepare;
mod relay_plan;
mod relay_result;
mod rules_file;
mod satisfaction;
mod saved_reply;
mod settle;
mod sla;
mod sla_scan;
mod source;
mod split;
mod staff;
mod thread;
mod unit;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::error::Result;
use crate::mail::parse::ParsedMail;
use crate::mail::{Classifier, ThreadKeys};
use crate::store::{Store, codec};
use crate::tickets;

use agent::Answers;
use apply::{Apply, Incoming};
use decide::Decide;
use inspect::{Inspect, RoleSeen};
pub use inspect::{Inspection, ThreadKeysSeen};
use lifecycle::Lifecycle;
pub use lifecycle_scan::LifecycleReport;
use lifecycle_scan::LifecycleScan;
pub use merge::{MergeOutcome, OperatorMerge};
use outgoing::Queue;
use prepare::Prepare;
use relay_plan::RelayPlanner;
pub use relay_result::RelayReports;
use relay_result::RelayResults;
use rules_file::Rules;
pub use rules_file::load_rules;
use saved_reply::Saved;
pub use saved_reply::{PreviewError, SavedReplyPreview};
use sla::Clocks;
use sla_scan::SlaScan;
pub use source::{Inbound, Outcome, OutcomeKind, Prepared, SourcePosition};
pub use split::SplitOutcome;
use staff::Staff;
pub use thread::ThreadMatch;
use thread::Threading;
use unit::UnitOfWork;

/// The steps, built once from the config, and the config: the rules file is
/// read again from it on reload.
pub struct Pipeline {
    cfg: Arc<Config>,
    prepare: Prepare,
    decide: Decide,
    apply: Apply,
    sla_scan: SlaScan,
    relay_results: RelayResults,
    lifecycle_scan: LifecycleScan,
    inspect: Inspect,
    staff: Arc<Staff>,
    saved: Arc<Saved>,
}

impl Pipeline {
    pub fn new(cfg: Arc<Config>) -> Result<Pipeline> {
        let roster = cfg
            .agent
            .iter()
            .map(|a| a.email.to_ascii_lowercase())
            .collect();
        let loop_id = cfg.mailroom.support_address.to_ascii_lowercase();
        // Read by several steps: built once, shared.
        let classifier = Arc::new(Classifier::new(cfg.own_addresses(), &loop_id, roster));
        let keys = Arc::new(ThreadKeys::new(&cfg.mailroom.ticket_prefix));
        let assigner = Arc::new(cfg.assigner());
        let staff = Arc::new(Staff::new(&cfg));
        let prefix = &cfg.mailroom.ticket_prefix;
        let directory = agent::directory(&cfg);
        let relays = RelayPlanner::new(staff.clone(), classifier.clone(), prefix.clone());
        let calendars = cfg.calendars().map_err(|message| crate::Error::Config {
            file: cfg.source_name(),
            message,
        })?;
        let lifecycle = Arc::new(Lifecycle::new(
            cfg.lifecycle(),
            calendars.clone(),
            prefix.clone(),
            cfg.lifecycle.merge_notifies_customer,
        ));
        let saved_replies = crate::templates::SavedReplies::load(&cfg.mailroom.templates_dir)?;
        let saved = Arc::new(Saved::new(saved_replies, directory.clone()));
        let decide = Decide::new(
            classifier.clone(),
            Threading::new(keys.clone(), prefix.clone()),
            Rules::new(rules_file::router(&cfg)?),
            assigner.clone(),
            cfg.mailroom.default_area.clone(),
            Answers::new(&cfg, directory.clone(), relays, saved.clone()),
            lifecycle.clone(),
        );
        let queue = Arc::new(Queue::new(&cfg, classifier.clone(), staff.clone()));
        let clocks = Arc::new(Clocks::new(cfg.sla.clone(), calendars));
        Ok(Pipeline {
            prepare: Prepare::new(
                cfg.max_message_size(),
                keys.clone(),
                classifier.clone(),
                assigner.has_areas(),
                staff.addresses().to_vec(),
            ),
            decide,
            apply: Apply::new(
                classifier.clone(),
                keys.clone(),
                assigner,
                staff.clone(),
                apply::Below {
                    queue: queue.clone(),
                    clocks: clocks.clone(),
                    lifecycle: lifecycle.clone(),
                },
                prefix.clone(),
            ),
            sla_scan: SlaScan::new(clocks.clone(), queue.clone(), staff.clone()),
            lifecycle_scan: LifecycleScan::new(
                lifecycle,
                (clocks.clone(), queue.clone()),
                staff.clone(),
                prefix.clone(),
            ),
            relay_results: RelayResults::new(clocks, queue, staff.clone()),
            inspect: Inspect::new(classifier, keys, prefix.clone(), directory),
            staff,
            saved,
            cfg,
        })
    }

    /// `mailroom.max_message_size` in bytes: sources read no more of a message.
    pub fn max_message_size(&self) -> usize {
        self.prepare.max_size()
    }

    pub fn ticket_ref(&self, id: i64) -> String {
        tickets::format_ref(&self.cfg.mailroom.ticket_prefix, id)
    }

    /// The CPU half of a batch: parse every message and collect what the batch
    /// will look up. Needs no database, so a source can prepare the next batch
    /// on another core while the current one commits.
    pub fn prepare(&self, items: Vec<Inbound>) -> Prepared {
        self.prepare.batch(items)
    }

    /// Re-reads the rules file. On any error the current rules stay in force
    /// and the error (every problem, with file:line) is returned for the log.
    pub fn reload_rules(&self) -> Result<usize> {
        let Some((router, n)) = rules_file::reread(&self.cfg)? else {
            return Ok(0);
        };
        self.decide.set_router(router);
        Ok(n)
    }

    /// Sends the SLA reminders and escalations due at `now`, each once
    /// (`sla_scan`). Returns how many alerts were decided.
    pub async fn sla_scan(&self, store: &Store, now: DateTime<Utc>) -> Result<usize> {
        self.sla_scan.run(store, now).await
    }

    /// `tickets merge`: merges (or, dry, says what merging would do) in a
    /// transaction of its own, as `#merge` does by mail (`merge`).
    pub async fn merge_tickets(
        &self,
        store: &Store,
        m: OperatorMerge,
        now: DateTime<Utc>,
    ) -> Result<MergeOutcome> {
        self.apply
            .merging()
            .by_operator(store, m, self.staff.addresses(), now)
            .await
    }

    /// What `sla_scan` would do now (its first page), as event lines;
    /// nothing is written or sent.
    pub async fn sla_scan_dry_run(&self, store: &Store, now: DateTime<Utc>) -> Result<Vec<String>> {
        self.sla_scan
            .dry_run(store, now, &self.cfg.mailroom.ticket_prefix)
            .await
    }

    /// Reminds owners of ended waits and warns and closes unanswered pending
    /// tickets, each once (`lifecycle_scan`); `dry_run` writes nothing.
    pub async fn lifecycle_scan(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<LifecycleReport> {
        self.lifecycle_scan.run(store, now, dry_run).await
    }

    /// `replies preview`: saved reply `name` rendered for ticket `ticket_id`
    /// as `agent` (default: its owner) would send it (`saved_reply`).
    pub async fn preview_saved_reply(
        &self,
        store: &Store,
        name: &str,
        ticket_id: i64,
        agent: Option<&str>,
    ) -> std::result::Result<SavedReplyPreview, PreviewError> {
        self.saved.preview(store, name, ticket_id, agent).await
    }

    /// `tickets split REF --message ID`: splits (or, dry, says what splitting
    /// would do) in a transaction of its own, as `#split` does by mail.
    pub async fn split_ticket(
        &self,
        store: &Store,
        (ticket, message_id, dry_run): (i64, &str, bool),
        now: DateTime<Utc>,
    ) -> Result<SplitOutcome> {
        self.apply
            .splitting()
            .by_operator(
                store,
                (ticket, message_id, dry_run),
                self.staff.addresses(),
                now,
            )
            .await
    }

    /// Reports every relay result not reported yet (`relay_result`).
    pub async fn report_relays(&self, store: &Store, now: DateTime<Utc>) -> Result<RelayReports> {
        self.relay_results.report(store, now).await
    }

    /// What the pipeline reads in a mail, storing nothing (`mailroom inspect`).
    pub fn inspect(&self, mail: &ParsedMail) -> Inspection {
        self.inspect.mail(mail)
    }

    /// Decides `mail` against the database as it is, in a transaction that is
    /// rolled back: the role it would get, where, and why. Nothing is stored.
    pub async fn inspect_role(
        &self,
        store: &Store,
        mail: &ParsedMail,
        now: DateTime<Utc>,
    ) -> Result<RoleSeen> {
        self.inspect
            .role(&self.prepare, &self.decide, store, mail, now)
            .await
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
                    Some(_) => self.decide.decide_release(u, mail),
                    None => self.decide.decide(u, mail),
                };
                self.apply
                    .apply(u, Incoming { item, mail, packed }, decision)
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
