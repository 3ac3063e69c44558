//! The one place that decides what a message causes (DESIGN §1). A batch of raw
//! messages is processed in one transaction; a message that breaks the batch is
//! isolated and quarantined, so one poison mail never stalls a mailbox. Must
//! not import `outbound`, `digest`, `inbound` or `server` (they use it).
//!
//! The steps, each in its own file: `prepare` (parse, what the batch looks
//! up) -> `batch` (one transaction, retry and isolation) -> `thread` (which
//! ticket) -> `decide` (one `Decision` per message; agents' answers in
//! `agent`) -> `apply` (the decision written into the batch's `unit` of work,
//! with `events`) -> `outgoing` (mail queued by it: acknowledgements,
//! notifications, relays). Around them: `source` (what sources hand in and
//! get back), `rules_file`, `sla` (clocks and the scheduler's scan),
//! `relay_result` (what the outbox reports back), `inspect`.

mod agent;
mod apply;
mod batch;
mod decide;
mod events;
pub(crate) mod fault;
mod inspect;
mod outgoing;
mod prepare;
mod relay_plan;
mod relay_result;
mod rules_file;
mod settle;
mod sla;
mod source;
mod staff;
mod thread;
mod unit;

use std::sync::Arc;

use crate::config::Config;
use crate::error::Result;
use crate::mail::parse::ParsedMail;
use crate::mail::{Classifier, ThreadKeys};
use crate::store::codec;
use crate::tickets;

use agent::Answers;
use apply::{Apply, Incoming};
use decide::Decide;
pub use inspect::{Inspection, ThreadKeysSeen};
use outgoing::Queue;
use prepare::Prepare;
use relay_plan::RelayPlanner;
pub use relay_result::RelayReports;
pub use rules_file::load_rules;
use rules_file::router;
use sla::Clocks;
pub use source::{Inbound, Outcome, OutcomeKind, Prepared, SourcePosition};
use staff::Staff;
pub use thread::ThreadMatch;
use thread::Threading;
use unit::UnitOfWork;

pub struct Pipeline {
    pub(crate) cfg: Arc<Config>,
    pub(crate) classifier: Arc<Classifier>,
    pub(crate) keys: Arc<ThreadKeys>,
    pub(crate) staff: Arc<Staff>,
    pub(crate) queue: Arc<Queue>,
    pub(crate) clocks: Arc<Clocks>,
    prepare: Prepare,
    decide: Decide,
    apply: Apply,
}

impl Pipeline {
    pub fn new(cfg: Arc<Config>) -> Result<Pipeline> {
        let roster = cfg
            .agent
            .iter()
            .map(|a| a.email.to_ascii_lowercase())
            .collect();
        let loop_id = cfg.mailroom.support_address.to_ascii_lowercase();
        let classifier = Arc::new(Classifier::new(cfg.own_addresses(), &loop_id, roster));
        let staff = Arc::new(Staff::new(&cfg));
        let keys = Arc::new(ThreadKeys::new(&cfg.mailroom.ticket_prefix));
        let assigner = Arc::new(cfg.assigner());
        let prefix = &cfg.mailroom.ticket_prefix;
        let relays = RelayPlanner::new(staff.clone(), classifier.clone(), prefix.clone());
        let decide = Decide::new(
            classifier.clone(),
            Threading::new(keys.clone(), prefix.clone()),
            router(&cfg)?,
            assigner.clone(),
            cfg.mailroom.default_area.clone(),
            Answers::new(&cfg, agent::directory(&cfg), relays),
        );
        let calendars = cfg.calendars().map_err(|message| crate::Error::Config {
            file: cfg.source_name(),
            message,
        })?;
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
                (queue.clone(), clocks.clone()),
                prefix.clone(),
            ),
            queue,
            clocks,
            classifier,
            staff,
            keys,
            cfg,
        })
    }

    /// `mailroom.max_message_size` in bytes: sources read no more of a message.
    pub fn max_message_size(&self) -> usize {
        self.prepare.max_size()
    }

    /// The CPU half of a batch: parse every message and collect what the batch
    /// will look up. Needs no database, so a source can prepare the next batch
    /// on another core while the current one commits.
    pub fn prepare(&self, items: Vec<Inbound>) -> Prepared {
        self.prepare.batch(items)
    }

    pub fn ticket_ref(&self, id: i64) -> String {
        tickets::format_ref(&self.cfg.mailroom.ticket_prefix, id)
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
