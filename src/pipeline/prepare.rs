//! The prepare step (DESIGN §1), the CPU half of a batch: parse every
//! message, strip quotes where they matter, and collect what the batch's
//! decisions will look up. No database: a source prepares the next batch on
//! another core while the current one commits.

use std::sync::Arc;

use crate::mail::parse::ParsedMail;
use crate::mail::thread::referenced_ids;
use crate::mail::{Classifier, ThreadKeys};
use crate::store::{BatchKeys, codec};

use super::fault;
use super::source::{Inbound, Prepared};
use crate::tickets::commands::{merge_targets, split_requested};

/// What preparing a batch reads.
pub(super) struct Prepare {
    /// `mailroom.max_message_size` in bytes: a longer message is quarantined.
    max_size: usize,
    /// Subject tags: a mail that carries one answers something.
    keys: Arc<ThreadKeys>,
    /// Agents' mail is looked up by what it answers.
    classifier: Arc<Classifier>,
    /// Some area assigns owners: the batch loads what assignment reads.
    assigns: bool,
    /// Staff addresses, lowercased.
    staff: Vec<String>,
}

impl Prepare {
    pub(super) fn new(
        max_size: usize,
        keys: Arc<ThreadKeys>,
        classifier: Arc<Classifier>,
        assigns: bool,
        staff: Vec<String>,
    ) -> Prepare {
        Prepare {
            max_size,
            keys,
            classifier,
            assigns,
            staff,
        }
    }

    pub(super) fn max_size(&self) -> usize {
        self.max_size
    }

    /// The CPU half of a batch: parse every message and collect what the batch
    /// will look up. Needs no database, so a source can prepare the next batch
    /// on another core while the current one commits.
    pub(super) fn batch(&self, mut items: Vec<Inbound>) -> Prepared {
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
    pub(super) fn batch_keys(
        &self,
        parsed: &[std::result::Result<ParsedMail, String>],
    ) -> BatchKeys {
        let mut keys = BatchKeys {
            assignment: self.assigns,
            // Notifications to staff are rate-limited too.
            auto_recipients: self.staff.clone(),
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
            // and they carry no ID of internal mail (UnitOfWork::customer_chain).
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
                // A `#merge` names a ticket the answer will change too.
                keys.tag_tickets
                    .extend(merge_targets(&m.text, self.keys.ticket_prefix()));
                // A `#split` moves the mail the answered notification showed.
                if split_requested(&m.text) {
                    keys.split_refs
                        .extend(referenced_ids(&m.in_reply_to, &m.references));
                }
            }
        }
        keys
    }
}
