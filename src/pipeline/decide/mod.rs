//! What one message causes, decided against the batch's view without touching
//! it: a [`Decision`]. `apply` carries it out. Keeping the two apart means
//! every path a mail can take is visible in one enum, and the decision can be
//! shown (`mailroom inspect`) or tested without a database.

use std::sync::Arc;

use super::agent::{AgentPlan, Answers, NotProven};
use super::lifecycle::Lifecycle;
use super::rules_file::Rules;
use super::source::OutcomeKind;
use super::thread::{ThreadMatch, Threading};
use super::unit::UnitOfWork;
use crate::mail::parse::ParsedMail;
use crate::mail::{Class, Classifier};
use crate::rules::Router;
use crate::rules::assign::{Assigner, Load};
use crate::tickets::roles::{Speaker, role_of};
use crate::tickets::{self, EventKind, MessageKind, ParticipantRole, Role, Ticket};

mod plans;
mod rating;

pub(crate) use super::events::Notes;
pub(crate) use plans::{FollowUpPlan, NewTicketPlan, NotePlan, RatingPlan};

pub(crate) enum Decision {
    /// This exact mail is stored already.
    Duplicate {
        ticket: Option<i64>,
        message_id: String,
    },
    /// Stored without a ticket: mailroom's own mail coming back, a rule's
    /// drop, automatic mail that answers nothing we know.
    Unthreaded {
        kind: MessageKind,
        outcome: OutcomeKind,
        why: String,
    },
    NewTicket(Box<NewTicketPlan>),
    /// The customer's side wrote on a ticket.
    FollowUp(Box<FollowUpPlan>),
    /// Staff or an outsider wrote on a ticket without an agent's proof: an
    /// internal note, never relayed; no command runs, no status or clock moves.
    InternalNote(Box<NotePlan>),
    AgentReply(Box<AgentPlan>),
    /// The customer's side answering the satisfaction question with a
    /// score: recorded on the ticket, which stays as it is.
    Rating(Box<RatingPlan>),
    /// A bounce of a mail on `ticket`: shown to its owner, never answered.
    Bounce {
        ticket: Ticket,
        reason: String,
        via: String,
        /// The staff address whose mail bounced (a notification, an
        /// explanation): nothing more goes there for a while.
        staff: Option<String>,
    },
    /// A bounce of a manager's digest (mail without a ticket) to `staff`:
    /// stored without a ticket; nothing more goes there for a while.
    DigestBounce {
        staff: String,
        reason: String,
    },
    /// An auto-reply on `ticket`: appended, changes nothing, never answered.
    AutoReply {
        ticket: Ticket,
        reason: String,
        via: String,
    },
}

/// What deciding reads: the classifier, threading, the rules, assignment,
/// and what an agent's answer is checked against.
pub(super) struct Decide {
    classifier: Arc<Classifier>,
    threading: Threading,
    rules: Rules,
    assigner: Arc<Assigner>,
    /// `mailroom.default_area`: the area of a new ticket no rule routes.
    default_area: Option<String>,
    answers: Answers,
    /// The reopen window: a late mail opens a new ticket.
    lifecycle: Arc<Lifecycle>,
}

impl Decide {
    pub(super) fn new(
        classifier: Arc<Classifier>,
        threading: Threading,
        rules: Rules,
        assigner: Arc<Assigner>,
        default_area: Option<String>,
        answers: Answers,
        lifecycle: Arc<Lifecycle>,
    ) -> Decide {
        Decide {
            classifier,
            threading,
            rules,
            assigner,
            default_area,
            answers,
            lifecycle,
        }
    }

    /// The rules from now on (a reload).
    pub(super) fn set_router(&self, fresh: Arc<dyn Router>) {
        self.rules.set(fresh);
    }

    pub(super) fn decide(&self, u: &UnitOfWork<'_>, mail: &ParsedMail) -> Decision {
        if let Some(ticket) = u.find_message(&mail.message_id, &mail.content_hash, &mail.text_hash)
        {
            return Decision::Duplicate {
                ticket,
                message_id: mail.message_id.clone(),
            };
        }
        let class = self.classifier.classify(mail);
        let thread = self.threading.find_thread(u, mail, &class);
        match class {
            Class::OwnLoop { reason } => Decision::Unthreaded {
                kind: MessageKind::Ignored,
                outcome: OutcomeKind::Ignored,
                why: reason,
            },
            Class::Bounce { reason } => match thread.ticket {
                Some(ticket) => Decision::Bounce {
                    staff: u
                        .on_tickets(&mail.report.original_message_ids)
                        .iter()
                        .find(|r| matches!(r.kind, MessageKind::Notification | MessageKind::System))
                        .and_then(|r| r.recipient.clone()),
                    ticket,
                    reason,
                    via: thread.via,
                },
                None => match u.digest_recipient(&mail.report.original_message_ids) {
                    Some(staff) => Decision::DigestBounce { staff, reason },
                    None => Decision::Unthreaded {
                        kind: MessageKind::Bounce,
                        outcome: OutcomeKind::Bounce,
                        why: format!(
                            "{reason}; the bounced message is not one of ours: stored, no ticket, not answered"
                        ),
                    },
                },
            },
            Class::AutoReply { reason } => match thread.ticket {
                Some(ticket) => Decision::AutoReply {
                    ticket,
                    reason,
                    via: thread.via,
                },
                None => Decision::Unthreaded {
                    kind: MessageKind::Autoreply,
                    outcome: OutcomeKind::Autoreply,
                    why: format!(
                        "{reason}; answers no known message: stored, no ticket, not acknowledged"
                    ),
                },
            },
            Class::Bulk { reason } => match thread.ticket {
                // On a ticket it is appended like an auto-reply: it changes nothing.
                Some(ticket) => Decision::AutoReply {
                    ticket,
                    reason,
                    via: thread.via,
                },
                None => self.new_ticket(u, mail, thread, Vec::new(), Some(reason)),
            },
            Class::AgentCandidate => match self.answers.agent_reply(u, mail) {
                Ok(plan) => Decision::AgentReply(Box::new(plan)),
                Err(not_proven) => self.person_mail(u, mail, thread, Some(not_proven)),
            },
            Class::Customer => self.person_mail(u, mail, thread, None),
        }
    }

    /// A person's mail that is not a proven agent's answer: a new ticket, the
    /// customer's side writing again, or an internal note — by role.
    fn person_mail(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        thread: ThreadMatch,
        not_proven: Option<NotProven>,
    ) -> Decision {
        let Some(ticket) = thread.ticket.clone() else {
            let notes = not_proven
                .map(|n| {
                    vec![(
                        EventKind::Classification,
                        format!("{}: handled as customer mail", n.why),
                    )]
                })
                .unwrap_or_default();
            return self.new_ticket(u, mail, thread, notes, None);
        };
        let (role, why) = self.role_on(u, mail, &ticket, &thread);
        if role.is_customer_side() {
            return self.customer_mail(u, mail, thread, Vec::new(), (role, why));
        }
        // A roster sender's own reason (what their proof lacks) says more.
        let (why, tell_agent) = match not_proven {
            Some(n) if role == Role::Colleague => {
                let tell = n.tell_agent.then(|| n.why.clone());
                (n.why, tell)
            }
            _ => (why, None),
        };
        Decision::InternalNote(Box::new(NotePlan {
            ticket,
            thread,
            role,
            why,
            tell_agent,
        }))
    }

    /// The role of a mail that threads onto `ticket` and is not a proven
    /// agent's answer (see tickets::roles).
    fn role_on(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        ticket: &Ticket,
        thread: &ThreadMatch,
    ) -> (Role, String) {
        let from = mail.from.email.as_str();
        let (mut customer, mut participant) = (ticket.customer == from, false);
        for (email, role) in u.participants(ticket.id) {
            if email == from {
                match role {
                    ParticipantRole::Customer | ParticipantRole::Sender => customer = true,
                    ParticipantRole::Cc => participant = true,
                }
            }
        }
        role_of(&Speaker {
            from,
            owner: ticket.owner.as_deref(),
            on_roster: self.classifier.is_agent(from),
            proven: false,
            customer,
            participant,
            answers_internal: thread.answers_internal,
        })
    }

    /// A stored ticket-less mail released by an operator: customer mail now,
    /// whatever it was classified as before (no duplicate check: it is the
    /// stored copy itself that joins a ticket).
    pub(super) fn decide_release(&self, u: &UnitOfWork<'_>, mail: &ParsedMail) -> Decision {
        let thread = self.threading.find_thread(u, mail, &Class::Customer);
        let note = (
            EventKind::Release,
            "released by an operator (`mailroom suspended release`): processed as customer mail"
                .to_string(),
        );
        let role = match &thread.ticket {
            Some(t) if t.customer != mail.from.email => Role::Participant,
            _ => Role::Customer,
        };
        let why = format!("{} released as the customer side's mail", mail.from.email);
        self.customer_mail(u, mail, thread, vec![note], (role, why))
    }

    /// The customer's side writing to support: a follow-up on a ticket or a new one.
    fn customer_mail(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        thread: ThreadMatch,
        mut notes: Notes,
        (role, why): (Role, String),
    ) -> Decision {
        // A rating changes nothing but the score: before the reopen window.
        if let Some(ticket) = thread.ticket.clone().filter(|_| thread.answers_survey) {
            match self.rating_in(u, mail, &ticket, &thread) {
                Ok(rating) => {
                    return Decision::Rating(Box::new(RatingPlan {
                        ticket,
                        thread,
                        role,
                        why,
                        rating,
                        notes,
                    }));
                }
                Err(not) => notes.push((EventKind::Satisfaction, not)),
            }
        }
        if let Some(ticket) = thread.ticket.clone()
            && let Some(why) = self.lifecycle.reopens_as_new(&ticket, u.now())
        {
            // Too late to reopen: a new ticket that says what it continues.
            notes.push((EventKind::Threading, format!("{}; {why}", thread.via)));
            let fresh = ThreadMatch {
                ticket: None,
                via: format!(
                    "new ticket, linked to {}",
                    self.threading.ticket_ref(ticket.id)
                ),
                ..thread
            };
            let mut d = self.new_ticket(u, mail, fresh, notes, None);
            if let Decision::NewTicket(plan) = &mut d {
                plan.linked_to = Some(ticket.id);
            }
            return d;
        }
        if let Some(ticket) = thread.ticket.clone() {
            if thread.answers_internal {
                // It also answers internal mail (quoting a notification, say):
                // kept on the ticket as the customer side's mail, nothing
                // more — no command runs, nobody joins the Cc from it.
                notes.push((
                    EventKind::Classification,
                    format!(
                        "{} ({role}) refers to internal mail: handled as the customer side's mail, no commands run, nobody added to the Cc from it",
                        mail.from.email
                    ),
                ));
            }
            // The owner's notification shows the new words; when there is no
            // telling them apart (answers between quoted lines) it shows all.
            if mail.reply().kept_whole == Some(crate::mail::reply::KeptWhole::Interleaved) {
                notes.push((
                    EventKind::Quoting,
                    format!("quoted history: {}", mail.reply().detail),
                ));
            }
            let reopen = tickets::transitions::after_customer_followup(ticket.status);
            return Decision::FollowUp(Box::new(FollowUpPlan {
                ticket,
                thread,
                role,
                why,
                reopen,
                notes,
            }));
        }
        self.new_ticket(u, mail, thread, notes, None)
    }

    /// A new ticket, routed by the rules (which may drop it) and assigned.
    fn new_ticket(
        &self,
        u: &UnitOfWork<'_>,
        mail: &ParsedMail,
        thread: ThreadMatch,
        notes: Notes,
        bulk: Option<String>,
    ) -> Decision {
        let mut routing = self.rules.current().route(mail);
        if routing.drop {
            return Decision::Unthreaded {
                kind: MessageKind::Ignored,
                outcome: OutcomeKind::Ignored,
                why: format!(
                    "dropped by the rules, stored without a ticket: {}",
                    routing.trace
                ),
            };
        }
        if routing.area.is_none() {
            routing.area = self.default_area.clone();
        }
        if bulk.is_some() && !routing.tags.iter().any(|t| t == "bulk") {
            routing.tags.push("bulk".into());
        }
        let customer = mail.reply_address().clone();
        // An owner named by routing wins; otherwise the area's strategy decides.
        let assignment = match (&routing.owner, &routing.area) {
            (None, Some(area)) if self.assigner.knows(area) => {
                let load = Load {
                    open: u.open_counts(),
                    cursor: u.cursor(area),
                    continuity: u.continuity(&customer.email, area),
                };
                Some(self.assigner.assign(area, &load))
            }
            _ => None,
        };
        let owner = routing
            .owner
            .clone()
            .or_else(|| assignment.as_ref().and_then(|a| a.owner.clone()));
        Decision::NewTicket(Box::new(NewTicketPlan {
            routing,
            bulk,
            assignment,
            owner,
            customer,
            thread,
            notes,
            linked_to: None,
        }))
    }
}
