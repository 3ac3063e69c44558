//! Which ticket a mail belongs to (DESIGN §4), with the reason as text.

use std::sync::Arc;

use super::unit::UnitOfWork;
use crate::mail::parse::ParsedMail;
use crate::mail::thread::referenced_ids;
use crate::mail::{Class, ThreadKeys};
use crate::tickets::{self, MessageKind, Ticket};

#[derive(Debug, Default, Clone)]
pub struct ThreadMatch {
    pub ticket: Option<Ticket>,
    /// Why it matched (or why a new ticket), stored as an event.
    pub via: String,
    /// Other observations worth keeping (an ignored subject tag, …).
    pub notes: Vec<String>,
    /// The mail answers internal mail (a notification, an explanation, an
    /// agent's reply or note): its sender has seen what only staff see.
    pub answers_internal: bool,
    /// The mail answers the satisfaction question (its most specific
    /// reference is a `survey` mail): it may be a rating.
    pub answers_survey: bool,
}

/// What threading reads: the subject tags, and the ticket prefix its
/// reasons name tickets by.
pub(super) struct Threading {
    keys: Arc<ThreadKeys>,
    ticket_prefix: String,
}

impl Threading {
    pub(super) fn new(keys: Arc<ThreadKeys>, ticket_prefix: String) -> Threading {
        Threading {
            keys,
            ticket_prefix,
        }
    }

    /// `MR-12` for ticket 12.
    pub(super) fn ticket_ref(&self, id: i64) -> String {
        tickets::format_ref(&self.ticket_prefix, id)
    }

    /// `, merged into MR-12` when the ticket `asked` for went into `live`.
    fn merged_note(&self, asked: i64, live: Option<&Ticket>) -> String {
        match live {
            Some(t) if t.id != asked => format!(", merged into {}", self.ticket_ref(t.id)),
            _ => String::new(),
        }
    }

    /// The first rule that finds a ticket decides (DESIGN §4): a reference to
    /// a stored mail, a follow-up stored before this mail, the subject tag of
    /// a ticket the sender takes part in; else a new ticket, and why.
    pub(super) fn find_thread(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        class: &Class,
    ) -> ThreadMatch {
        // A report encloses the mail it is about (a bounce, a delay notice).
        let report = matches!(class, Class::Bounce { .. } | Class::AutoReply { .. });
        let ids = looked_up_ids(mail, report);
        let mut m = ThreadMatch::default();
        let hits = u.on_tickets(&ids);
        m.answers_internal = hits.iter().any(|h| h.kind.is_internal());

        // The most specific reference wins: In-Reply-To, then References newest first.
        let best = ids
            .iter()
            .find_map(|id| hits.iter().find(|h| &h.message_id == id));
        if let Some(hit) = best
            && let Some(ticket_id) = hit.ticket_id
        {
            let header = if report && mail.report.original_message_ids.contains(&hit.message_id) {
                "the enclosed original"
            } else if mail.in_reply_to.contains(&hit.message_id) {
                "In-Reply-To"
            } else {
                "References"
            };
            m.ticket = u.live_ticket(ticket_id).cloned();
            m.answers_survey = hit.kind == MessageKind::Survey;
            m.via = format!(
                "threaded by {header}: <{}> is our stored {} message on {}{}",
                hit.message_id,
                hit.kind,
                self.ticket_ref(ticket_id),
                self.merged_note(ticket_id, m.ticket.as_ref())
            );
            return m;
        }
        if !matches!(class, Class::Bounce { .. })
            && let Some((t, via)) = self.by_earlier_follow_up(u, mail)
        {
            m.ticket = Some(t);
            m.via = via;
            return m;
        }
        if self.by_subject_tag(u, mail, &mut m) {
            return m;
        }
        m.via = if ids.is_empty() {
            "new ticket: no In-Reply-To/References and no usable subject tag".into()
        } else {
            format!(
                "new ticket: none of the {} referenced Message-IDs is stored, no usable subject tag",
                ids.len()
            )
        };
        m
    }

    /// A follow-up to this mail was stored before it (through another
    /// mailbox, or earlier in the batch): join the follow-up's ticket. Only
    /// the same customer's: nobody pulls another's mail into their ticket by
    /// naming its Message-ID in advance.
    fn by_earlier_follow_up(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
    ) -> Option<(Ticket, String)> {
        if mail.message_id.is_empty() {
            return None;
        }
        let customer = &mail.reply_address().email;
        let t = u
            .referred_by(&mail.message_id)
            .iter()
            .filter_map(|t| u.live_ticket(*t))
            .find(|t| &t.customer == customer)?;
        let via = format!(
            "threaded by a follow-up stored before it: {} refers to <{}>",
            self.ticket_ref(t.id),
            mail.message_id
        );
        Some((t.clone(), via))
    }

    /// The subject tag, when the sender takes part in that ticket (no
    /// hijacking by ticket number); notes why a tag was ignored. True when it
    /// matched.
    fn by_subject_tag(&self, u: &UnitOfWork<'_>, mail: &ParsedMail, m: &mut ThreadMatch) -> bool {
        let Some(n) = self.keys.subject_tag(&mail.subject) else {
            return false;
        };
        let tag = self.ticket_ref(n);
        match u.live_ticket(n).cloned() {
            Some(t) if u.is_participant(t.id, &mail.from.email) => {
                m.via = format!(
                    "threaded by subject tag [{tag}]{}: {} is a participant",
                    self.merged_note(n, Some(&t)),
                    mail.from.email
                );
                m.ticket = Some(t);
                return true;
            }
            Some(_) => m.notes.push(format!(
                "subject tag [{tag}] ignored: {} is not a participant of {tag} (no hijacking by ticket number)",
                mail.from.email
            )),
            None => m
                .notes
                .push(format!("subject tag [{tag}] names no existing ticket")),
        }
        false
    }
}

/// The Message-IDs a mail is looked up by, most specific first: a report's
/// enclosed original, In-Reply-To, References newest first.
fn looked_up_ids(mail: &ParsedMail, report: bool) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    if report {
        ids.extend(mail.report.original_message_ids.iter().cloned());
    }
    for id in referenced_ids(&mail.in_reply_to, &mail.references) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}
