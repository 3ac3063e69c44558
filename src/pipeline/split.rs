//! Splitting a customer's mail off to a ticket of its own, by an agent's
//! `#split` (the mail the answered notification showed) or an operator's
//! `tickets split REF --message ID`: a new ticket for the mail's sender, in
//! the old one's area and with its owner, linked to it; the mail and the
//! mail answering it move there when the batch is written, so later replies
//! thread to the new ticket.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::sla::{ClockEvent, Clocks};
use super::unit::{NewTicket, UnitOfWork};
use crate::mail::ThreadKeys;
use crate::store::{NewEvent, SplitMail, SplitOff, Store};
use crate::tickets::{self, EventKind, MessageKind, ParticipantRole, Status};

pub(super) struct Splitting {
    keys: Arc<ThreadKeys>,
    clocks: Arc<Clocks>,
    ticket_prefix: String,
}

/// One split asked for: of the mail `mail` looked up (a notification's or
/// its own Message-ID) on `ticket`, by whom, and the message that asked.
pub(super) struct SplitRequest<'r> {
    pub ticket: i64,
    pub by: &'r str,
    pub row: Option<i64>,
}

/// What `tickets split` did, or would do with `--dry-run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitOutcome {
    Split(String),
    Refused(String),
}

impl Splitting {
    pub(super) fn new(
        keys: Arc<ThreadKeys>,
        clocks: Arc<Clocks>,
        ticket_prefix: String,
    ) -> Splitting {
        Splitting {
            keys,
            clocks,
            ticket_prefix,
        }
    }

    fn name(&self, id: i64) -> String {
        tickets::format_ref(&self.ticket_prefix, id)
    }

    /// Splits `mail` off `r.ticket`, or says why not. Returns what happened,
    /// as the new ticket's event says it.
    pub(super) fn split(
        &self,
        u: &mut UnitOfWork<'_>,
        mail: &SplitMail,
        r: SplitRequest<'_>,
    ) -> Result<String, String> {
        let old = u
            .ticket(r.ticket)
            .cloned()
            .ok_or_else(|| format!("there is no ticket {}", self.name(r.ticket)))?;
        let from = self.name(old.id);
        if let Some(why) = refusal(&from, &old, mail) {
            return Err(why);
        }
        let subject = if mail.subject.trim().is_empty() {
            "(no subject)"
        } else {
            mail.subject.as_str()
        };
        let normalized = self.keys.normalize_subject(subject);
        let customer = mail.from_addr.to_ascii_lowercase();
        let new = u.insert_ticket(&NewTicket {
            subject,
            normalized_subject: &normalized,
            priority: old.priority,
            area: old.area.as_deref(),
            owner: old.owner.as_deref(),
            customer: &customer,
            customer_name: mail.from_name.as_deref(),
            tags: "",
            sla_policy: old.sla_policy.as_deref(),
            linked_to: Some(old.id),
        });
        u.add_participant(new.id, &customer, ParticipantRole::Customer);
        self.clocks.refresh(u, new.id, None, ClockEvent::Changed);
        // Written on the old ticket: the split's own row moves nowhere.
        u.update_ticket(old.id, |_| {});
        let to = self.name(new.id);
        let detail = format!(
            "split off {from} by {}: <{}> from {customer} and the mail answering it moved here",
            r.by, mail.message_id
        );
        let event = |ticket, detail: String| NewEvent {
            ticket_id: Some(ticket),
            message_row: r.row,
            kind: EventKind::Threading,
            detail,
        };
        u.add_events([
            event(new.id, detail.clone()),
            event(
                old.id,
                format!(
                    "<{}> from {customer} and the mail answering it split off to {to} by {}",
                    mail.message_id, r.by
                ),
            ),
        ]);
        u.split_off(SplitOff {
            from: old.id,
            to: new.id,
            row: mail.row,
            message_id: mail.message_id.clone(),
        });
        Ok(format!("{to}: {detail}"))
    }

    /// `tickets split REF --message ID`: one transaction; nothing is written
    /// on a refusal or a dry run.
    pub(super) async fn by_operator(
        &self,
        store: &Store,
        (ticket, message_id, dry_run): (i64, &str, bool),
        staff: &[String],
        now: DateTime<Utc>,
    ) -> crate::Result<SplitOutcome> {
        let mut tx = store.begin().await?;
        let rate_since = now - Duration::hours(super::outgoing::RATE_WINDOW_HOURS);
        let loaded = tx
            .load_for_split(ticket, message_id, staff, (rate_since, now))
            .await?;
        let split = |u: &mut UnitOfWork<'_>| {
            let Some(mail) = u.split_mail(message_id).cloned() else {
                return Ok(Err(format!(
                    "no mail <{message_id}> on {}",
                    self.name(ticket)
                )));
            };
            let r = SplitRequest {
                ticket,
                by: "an operator (mailroom tickets split)",
                row: None,
            };
            Ok(self.split(u, &mail, r))
        };
        let outcome = super::settle::operator_command(tx, loaded, (now, dry_run), split).await?;
        Ok(match outcome {
            Ok(detail) => SplitOutcome::Split(detail),
            Err(why) => SplitOutcome::Refused(why),
        })
    }
}

/// Why `mail` cannot be split off `old` (named `from`), if it cannot.
fn refusal(from: &str, old: &crate::tickets::Ticket, mail: &SplitMail) -> Option<String> {
    if old.status == Status::Merged {
        return Some(format!("{from} was merged; split on the ticket it went to"));
    }
    if mail.ticket_id != Some(old.id) {
        return Some(format!(
            "<{}> is not on {from} (moved already?)",
            mail.message_id
        ));
    }
    if mail.kind != MessageKind::Customer {
        return Some(format!(
            "<{}> is {} mail, not the customer side's: only their mail starts a ticket",
            mail.message_id, mail.kind
        ));
    }
    if mail.first_row == Some(mail.row) {
        return Some(format!(
            "<{}> opened {from}: it is the ticket itself (split the other mail off instead)",
            mail.message_id
        ));
    }
    None
}
