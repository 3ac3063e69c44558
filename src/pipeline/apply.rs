//! Applying a classified, threaded message: what each kind of mail does to
//! tickets, messages, participants and the outbox (recorded in the batch).

use super::{Applied, Inbound, Incoming, Outcome, OutcomeKind, Pipeline, ThreadMatch};
use crate::mail::Mailbox;
use crate::mail::parse::ParsedMail;
use crate::rules::assign::Load;
use crate::store::{Batch, NewEvent, NewMessage, NewTicket};
use crate::tickets::{self, Status};

pub(super) fn event(ticket: i64, row: i64, kind: &'static str, detail: String) -> NewEvent {
    NewEvent {
        ticket_id: Some(ticket),
        message_row: Some(row),
        kind,
        detail,
    }
}

impl Pipeline {
    /// Records an inbound mail with its attachments; returns the message row.
    fn store_inbound<'a>(
        &self,
        b: &mut Batch<'a>,
        m: Incoming<'a>,
        ticket_id: Option<i64>,
        kind: &'static str,
        reason: Option<String>,
    ) -> i64 {
        let Incoming { item, mail, .. } = m;
        let join = |v: &[Mailbox]| {
            v.iter()
                .map(|m| m.email.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let row = b.insert_message(NewMessage {
            ticket_id,
            direction: "in",
            kind,
            message_id: mail.message_id.clone(),
            content_hash: mail.content_hash.clone(),
            from_addr: mail.from.email.clone(),
            from_name: mail.from.name.clone(),
            to_addrs: join(&mail.to),
            cc_addrs: join(&mail.cc),
            recipient: None,
            subject: mail.subject.clone(),
            sent_at: mail.date,
            in_reply_to: mail.in_reply_to.join(" "),
            refs: mail.references.join(" "),
            // The text and HTML are derived from the stored raw bytes when read
            // (`mail::parse::bodies`): storing them again would more than double
            // what every message writes, and writes bound ingest speed.
            text_body: "",
            html_body: None,
            origin: Some(item.origin.clone()),
            reason,
            raw: Some(&m.packed.bytes),
            raw_codec: m.packed.codec,
        });
        for a in &mail.attachments {
            b.attach(row, a);
        }
        row
    }

    /// Keeps a mail that belongs to no ticket (stored with the reason, never answered).
    pub(super) fn keep_unthreaded<'a>(
        &self,
        b: &mut Batch<'a>,
        m: Incoming<'a>,
        kind: &'static str,
        outcome: OutcomeKind,
        why: String,
    ) -> Outcome {
        let item = m.item;
        self.store_inbound(b, m, None, kind, Some(why.clone()));
        self.outcome(item, outcome, None, Some(why))
    }

    pub(super) fn outcome(
        &self,
        item: &Inbound,
        outcome: OutcomeKind,
        ticket: Option<i64>,
        reason: Option<String>,
    ) -> Outcome {
        Outcome {
            file: item.origin.clone(),
            outcome,
            ticket_ref: ticket.map(|t| self.ticket_ref(t)),
            reason,
        }
    }

    pub(super) fn apply_bounce<'a>(
        &self,
        b: &mut Batch<'a>,
        m: Incoming<'a>,
        thread: ThreadMatch,
        reason: &str,
        st: &mut Applied,
    ) -> Outcome {
        let Incoming { item, mail, .. } = m;
        let Some(ticket) = thread.ticket else {
            let why = format!(
                "{reason}; the bounced message is not one of ours: stored, no ticket, not answered"
            );
            return self.keep_unthreaded(b, m, "bounce", OutcomeKind::Bounce, why);
        };
        let row = self.store_inbound(b, m, Some(ticket.id), "bounce", Some(reason.into()));
        st.events.push(event(
            ticket.id,
            row,
            "bounce",
            format!(
                "{reason}; {}; shown to the owner, never answered",
                thread.via
            ),
        ));
        self.notify_owner(b, &ticket, mail, row, "bounce", Some(reason), false, st);
        self.outcome(
            item,
            OutcomeKind::Bounce,
            Some(ticket.id),
            Some(reason.into()),
        )
    }

    pub(super) fn apply_autoreply<'a>(
        &self,
        b: &mut Batch<'a>,
        m: Incoming<'a>,
        thread: ThreadMatch,
        reason: &str,
        st: &mut Applied,
    ) -> Outcome {
        let item = m.item;
        let Some(ticket) = thread.ticket else {
            let why =
                format!("{reason}; answers no known message: stored, no ticket, not acknowledged");
            return self.keep_unthreaded(b, m, "autoreply", OutcomeKind::Autoreply, why);
        };
        let row = self.store_inbound(b, m, Some(ticket.id), "autoreply", Some(reason.into()));
        st.events.push(event(
            ticket.id,
            row,
            "autoreply",
            format!(
                "automatic mail ({reason}); {}; appended, status stays {}, not acknowledged",
                thread.via, ticket.status
            ),
        ));
        self.outcome(
            item,
            OutcomeKind::Autoreply,
            Some(ticket.id),
            Some(reason.into()),
        )
    }

    pub(super) fn apply_agent_reply<'a>(
        &self,
        b: &mut Batch<'a>,
        m: Incoming<'a>,
        thread: ThreadMatch,
        st: &mut Applied,
    ) -> Outcome {
        let Incoming { item, mail, .. } = m;
        let (ticket_id, notification_id) = thread.agent_proof.clone().unwrap_or_default();
        let row = self.store_inbound(b, m, Some(ticket_id), "agent", None);
        b.record_first_response(ticket_id);
        st.events.push(event(
            ticket_id,
            row,
            "agent_reply",
            format!(
                "agent reply from {}: answers notification <{notification_id}> that was sent to them",
                mail.from.email
            ),
        ));
        self.outcome(item, OutcomeKind::AgentReply, Some(ticket_id), None)
    }

    pub(super) fn apply_followup<'a>(
        &self,
        b: &mut Batch<'a>,
        m: Incoming<'a>,
        thread: ThreadMatch,
        st: &mut Applied,
    ) -> Outcome {
        let Incoming { item, mail, .. } = m;
        let Some(mut ticket) = thread.ticket else {
            // find_thread only returns Some here; treat the impossible as new.
            return self.apply_new_ticket(b, m, thread, st);
        };
        let row = self.store_inbound(b, m, Some(ticket.id), "customer", None);
        self.add_participants(b, ticket.id, mail);
        attach_pending_events(st, ticket.id, row);
        st.events.push(event(
            ticket.id,
            row,
            "threading",
            format!("follow-up from {}: {}", mail.from.email, thread.via),
        ));
        for note in thread.notes {
            st.events.push(event(ticket.id, row, "threading", note));
        }
        let current: Status = ticket.status.parse().unwrap_or(Status::Open);
        let reopened = match tickets::after_customer_followup(current) {
            Some(next) => {
                b.set_ticket_status(ticket.id, next.as_str());
                st.events.push(event(
                    ticket.id,
                    row,
                    "status",
                    format!("{current} -> {next}: the customer wrote again"),
                ));
                ticket.status = next.as_str().to_string();
                current == Status::Resolved
            }
            None => {
                b.touch_ticket(ticket.id);
                false
            }
        };
        self.notify_owner(b, &ticket, mail, row, "followup", None, reopened, st);
        self.outcome(item, OutcomeKind::Appended, Some(ticket.id), None)
    }

    pub(super) fn apply_new_ticket<'a>(
        &self,
        b: &mut Batch<'a>,
        m: Incoming<'a>,
        thread: ThreadMatch,
        st: &mut Applied,
    ) -> Outcome {
        let Incoming { item, mail, .. } = m;
        let mut routing = self.current_router().route(mail);
        if routing.drop {
            let why = format!(
                "dropped by the rules, stored without a ticket: {}",
                routing.trace
            );
            return self.keep_unthreaded(b, m, "ignored", OutcomeKind::Ignored, why);
        }
        if routing.area.is_none() {
            routing.area = self.cfg.mailroom.default_area.clone();
        }
        let subject = if mail.subject.is_empty() {
            "(no subject)"
        } else {
            mail.subject.as_str()
        };
        let normalized = self.keys.normalize_subject(subject);
        let customer = mail.reply_address();
        let tags = routing.tags.join(",");
        // An owner named by routing wins; otherwise the area's strategy decides.
        let assignment = match (&routing.owner, &routing.area) {
            (None, Some(area)) if self.assigner.knows(area) => {
                let load = Load {
                    open: b.open_counts(),
                    cursor: b.cursor(area),
                    continuity: b.continuity(&customer.email, area),
                };
                let a = self.assigner.assign(area, &load);
                if let Some(c) = a.cursor {
                    b.set_cursor(area, c);
                }
                Some(a)
            }
            _ => None,
        };
        let owner = routing
            .owner
            .clone()
            .or_else(|| assignment.as_ref().and_then(|a| a.owner.clone()));
        let ticket = b.insert_ticket(&NewTicket {
            subject,
            normalized_subject: &normalized,
            priority: routing.priority.as_str(),
            area: routing.area.as_deref(),
            owner: owner.as_deref(),
            customer: &customer.email,
            customer_name: customer.name.as_deref().or(mail.from.name.as_deref()),
            tags: &tags,
            sla_policy: routing.sla.as_deref(),
        });
        let id = ticket.id;
        let row = self.store_inbound(b, m, Some(id), "customer", None);
        self.add_participants(b, id, mail);
        attach_pending_events(st, id, row);
        st.events
            .push(event(id, row, "threading", thread.via.clone()));
        for note in &thread.notes {
            st.events.push(event(id, row, "threading", note.clone()));
        }
        st.events
            .push(event(id, row, "routing", routing.trace.clone()));
        if let Some(a) = &assignment {
            st.events
                .push(event(id, row, "assignment", a.reason.clone()));
            if let Some(contact) = &a.escalate_to {
                self.notify(
                    b,
                    &ticket,
                    mail,
                    row,
                    contact,
                    "unassigned",
                    None,
                    false,
                    st,
                );
            }
        }

        if routing.suppress_ack {
            st.events.push(event(
                id,
                row,
                "ack",
                "no acknowledgement: a rule suppressed it".into(),
            ));
        } else {
            self.acknowledge(b, &ticket, mail, row, st);
        }
        if ticket.owner.is_some() {
            self.notify_owner(b, &ticket, mail, row, "new", None, false, st);
        } else {
            st.events.push(event(
                id,
                row,
                "notification",
                "no owner: nobody notified".into(),
            ));
        }
        self.outcome(item, OutcomeKind::Created, Some(id), None)
    }

    /// The customer, their Reply-To and everyone they Cc'd (except mailroom and agents).
    fn add_participants(&self, b: &mut Batch<'_>, ticket_id: i64, mail: &ParsedMail) {
        b.add_participant(ticket_id, &mail.from.email, "customer");
        if let Some(r) = &mail.reply_to
            && !self.classifier.is_own_address(&r.email)
        {
            b.add_participant(ticket_id, &r.email, "customer");
        }
        for cc in mail.cc.iter().chain(mail.to.iter()) {
            if !self.classifier.is_own_address(&cc.email) && !self.classifier.is_agent(&cc.email) {
                b.add_participant(ticket_id, &cc.email, "cc");
            }
        }
    }
}

/// Events noted before the ticket was known (classification) belong to it now.
fn attach_pending_events(st: &mut Applied, ticket_id: i64, row: i64) {
    for e in st.events.iter_mut().filter(|e| e.ticket_id.is_none()) {
        e.ticket_id = Some(ticket_id);
        e.message_row = Some(row);
    }
}
