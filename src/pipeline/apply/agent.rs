//! An agent's mail carried out: an answer (commands, the relay, the
//! explanation, the new owner's notification) or an internal note.

use super::inbound::store_inbound;
use super::{Apply, Incoming};
use crate::mail::parse::ParsedMail;
use crate::mail::thread::referenced_ids;
use crate::pipeline::agent::AgentPlan;
use crate::pipeline::decide::NotePlan;
use crate::pipeline::events::Events;
use crate::pipeline::merge::MergeRequest;
use crate::pipeline::outgoing::Notify;
use crate::pipeline::relay_plan::RelayPlan;
use crate::pipeline::satisfaction::ask_after_resolution;
use crate::pipeline::sla::ClockEvent;
use crate::pipeline::split::SplitRequest;
use crate::pipeline::unit::UnitOfWork;
use crate::tickets::transitions::Change;
use crate::tickets::{Command, Commands};
use crate::tickets::{EventKind, MessageKind, ParticipantRole, Ticket};

impl Apply {
    /// Staff or an outsider wrote on the ticket without an agent's proof:
    /// kept as an internal note and shown to the owner; nothing else moves.
    /// Returns the outcome's reason.
    pub(super) fn apply_internal_note<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        plan: NotePlan,
    ) -> String {
        let NotePlan {
            ticket,
            thread,
            role,
            why,
            tell_agent,
        } = plan;
        let mail = m.mail;
        let from = mail.from.email.clone();
        let reason = format!("internal note by {from} ({role}): {why}");
        let row = store_inbound(
            u,
            m,
            Some(ticket.id),
            (MessageKind::Note, Some(role)),
            Some(reason.clone()),
        );
        let mut ev = Events::new(ticket.id, row, Vec::new());
        ev.push(
            EventKind::Threading,
            format!("{from} ({role}): {}", thread.via),
        );
        for note in thread.notes {
            ev.push(EventKind::Threading, note);
        }
        ev.push(
            EventKind::Note,
            format!(
                "{reason}; never relayed, no command runs, status stays {} and no SLA clock moves",
                ticket.status
            ),
        );
        // Bookkeeping only: the ticket was written on.
        u.update_ticket(ticket.id, |_| {});
        if let Some(problem) = &tell_agent {
            let text = format!(
                "{problem}. Your mail is kept on the ticket as an internal note and was not sent to the customer; to answer the customer, reply to the notification itself (Reply or Reply All keeps its reply address)."
            );
            self.queue.explain(u, &ticket, mail, &[text], &mut ev);
        }
        // The owner hears who wrote — unless the owner is the sender and was
        // just told directly.
        let told = tell_agent.is_some() && ticket.owner.as_deref() == Some(from.as_str());
        if !told {
            self.queue
                .notify_owner(u, &ticket, &mut ev, Notify::Note { by: &from, role });
        }
        u.add_events(ev.list);
        reason
    }

    /// Returns the outcome's reason when nothing was relayed.
    pub(super) fn apply_agent_reply<'a>(
        &self,
        u: &mut UnitOfWork<'a>,
        m: Incoming<'a>,
        plan: AgentPlan,
    ) -> Option<String> {
        let AgentPlan {
            ticket,
            proof,
            role,
            kind,
            reply,
            commands,
            next,
            changes,
            relay,
            no_relay,
            explain,
            saved,
        } = plan;
        let mail = m.mail;
        // first_response_at is set when the relay is delivered, not here
        // (pipeline/relay_result.rs): an answer nobody got is no response.
        let row = store_inbound(u, m, Some(ticket.id), (kind, Some(role)), no_relay.clone());
        let mut ev = Events::new(ticket.id, row, Vec::new());
        ev.push(
            EventKind::AgentReply,
            format!("{proof} ({role}); quoted history: {}", reply.detail),
        );
        for used in saved {
            ev.push(
                EventKind::Command,
                format!("{used} (by {})", mail.from.email),
            );
        }
        command_events(&commands, &changes, &mail.from.email, &mut ev);
        add_cc(u, ticket.id, &changes);
        let reassigned = changes.iter().find_map(|c| match c {
            Change::Owner { to, .. } => Some(to.clone()),
            _ => None,
        });
        let relayed = relay.is_some();
        let before = ticket.status;
        let now = u.now();
        let wait_ends = self.wait_ends(&ticket, &commands, now, &mut ev);
        u.update_ticket(ticket.id, |t| {
            t.status = next.status;
            t.priority = next.priority;
            t.area = next.area.clone();
            t.owner = next.owner.clone();
            t.tags = next.tags.join(",");
            // Auto-close counts from the last answer the customer was sent.
            if relayed {
                t.answered_at = Some(now);
            }
            if wait_ends.is_some() {
                t.pending_until = wait_ends;
            }
        });
        let clock = if relayed {
            ClockEvent::Answered
        } else {
            ClockEvent::Changed
        };
        self.clocks.refresh(u, ticket.id, Some(before), clock);
        let updated = u.ticket(ticket.id).cloned().unwrap_or(ticket);
        let answer = Answer {
            relay,
            no_relay: no_relay.as_deref(),
            explain: &explain,
            reassigned,
        };
        self.send_answer(u, &updated, mail, answer, &mut ev);
        self.merge_as_told(u, (&updated, row), mail, &commands, relayed, &mut ev);
        // After the merge: a ticket merged away is asked nothing.
        self.ask_satisfaction(u, (updated.id, before), mail, &mut ev);
        u.add_events(ev.list);
        no_relay
    }

    /// The reply's `#split`: the customer mail the answered notification
    /// showed, and the mail answering it, to a new ticket for its sender.
    /// A refused split is explained to the agent.
    fn split_as_told(
        &self,
        u: &mut UnitOfWork<'_>,
        (ticket, row): (&Ticket, i64),
        mail: &ParsedMail,
        relayed: bool,
        ev: &mut Events,
    ) {
        let ids = referenced_ids(&mail.in_reply_to, &mail.references);
        let shown = ids.iter().find_map(|id| u.split_mail(id).cloned());
        let asked = SplitRequest {
            ticket: ticket.id,
            by: &mail.from.email,
            row: Some(row),
        };
        let done = match &shown {
            Some(m) => self.splitting.split(u, m, asked),
            None => Err("the mail it answers shows no customer mail to split off".to_string()),
        };
        if let Err(why) = done {
            ev.push(
                EventKind::Threading,
                format!("#split by {}: refused: {why}", mail.from.email),
            );
            let problem = format!("#split: not split: {why}");
            self.queue
                .explain_not_done(u, ticket, mail, ("Not split", problem, relayed), ev);
        }
    }

    /// The reply's `#merge`: this ticket into the one it names, after the
    /// rest of the reply (its rows move with the ticket's). A refused merge
    /// is explained to the agent.
    fn merge_as_told(
        &self,
        u: &mut UnitOfWork<'_>,
        (ticket, row): (&Ticket, i64),
        mail: &ParsedMail,
        commands: &Commands,
        relayed: bool,
        ev: &mut Events,
    ) {
        for c in &commands.commands {
            if *c == Command::Split {
                self.split_as_told(u, (ticket, row), mail, relayed, ev);
                continue;
            }
            let Command::Merge { into, force } = c else {
                continue;
            };
            let asked = MergeRequest {
                source: ticket.id,
                target: *into,
                force: *force,
                by: &mail.from.email,
                row: Some(row),
            };
            if let Err(why) = self.merging.merge(u, asked) {
                ev.push(
                    EventKind::Merge,
                    format!("{} by {}: refused: {why}", c.text(), mail.from.email),
                );
                let problem = format!("{}: not merged: {why}", c.text());
                self.queue
                    .explain_not_done(u, ticket, mail, ("Not merged", problem, relayed), ev);
            }
        }
    }

    /// The satisfaction question, when the answer resolved ticket `id`
    /// (its status was `before`) and `[lifecycle] satisfaction` asks.
    fn ask_satisfaction(
        &self,
        u: &mut UnitOfWork<'_>,
        (id, before): (i64, crate::tickets::Status),
        mail: &ParsedMail,
        ev: &mut Events,
    ) {
        let how = format!("by {}'s answer", mail.from.email);
        ask_after_resolution((&self.lifecycle, &self.queue), u, (id, before), &how, ev);
    }

    /// When the reply's last `#pending` with a wait (`3d`, `until …`) ends;
    /// the event says so. (A later status command ends the wait with the
    /// pending status: `UnitOfWork::update_ticket`.)
    fn wait_ends(
        &self,
        ticket: &Ticket,
        commands: &Commands,
        now: chrono::DateTime<chrono::Utc>,
        ev: &mut Events,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let (c, wait) = commands.commands.iter().rev().find_map(|c| match c {
            Command::Pending(Some(w)) => Some((c, *w)),
            _ => None,
        })?;
        let ends = self.lifecycle.wait_ends(ticket, wait, now);
        ev.push(
            EventKind::Status,
            format!(
                "{}: pending until {}; then, without an answer from the customer's side, the owner is reminded and the ticket reopens",
                c.text(),
                ends.format("%Y-%m-%d %H:%M UTC")
            ),
        );
        Some(ends)
    }

    /// The mail an agent's answer causes: the relay (or why none), the
    /// explanation to the agent, the new owner's notification.
    fn send_answer(
        &self,
        u: &mut UnitOfWork<'_>,
        updated: &Ticket,
        mail: &ParsedMail,
        answer: Answer<'_>,
        ev: &mut Events,
    ) {
        if let Some(r) = answer.relay {
            self.queue.relay(u, updated, mail, r, ev);
        } else if let Some(why) = answer.no_relay {
            ev.push(
                EventKind::Relay,
                format!("nothing relayed to the customer: {why}"),
            );
        }
        if !answer.explain.is_empty() {
            self.queue.explain(u, updated, mail, answer.explain, ev);
        }
        if let Some(new_owner) = answer.reassigned
            && new_owner != mail.from.email
        {
            self.queue.notify(
                u,
                updated,
                &new_owner,
                ev,
                Notify::Assigned(&mail.from.email),
            );
        }
    }
}

/// `#cc` changes: the address joins the customer's conversation.
fn add_cc(u: &mut UnitOfWork<'_>, ticket: i64, changes: &[Change]) {
    for c in changes {
        if let Change::Cc(addr) = c {
            u.add_participant(ticket, addr, ParticipantRole::Cc);
        }
    }
}

/// Whether `change` is what `command` did.
fn change_of(command: &crate::tickets::Command, change: &Change) -> bool {
    use crate::tickets::Command as C;
    matches!(
        (command, change),
        (C::Resolve | C::Pending(_) | C::Open, Change::Status { .. })
            | (C::Assign(_) | C::Take, Change::Owner { .. })
            | (C::Area(_), Change::Area { .. })
            | (C::Priority(_), Change::Priority { .. })
            | (C::Cc(_), Change::Cc(_))
    ) || matches!((command, change), (C::Tag(a), Change::Tagged(b)) | (C::Untag(a), Change::Untagged(b)) if a == b)
}

/// What an agent's answer sends once the ticket is updated.
struct Answer<'p> {
    relay: Option<RelayPlan>,
    no_relay: Option<&'p str>,
    explain: &'p [String],
    reassigned: Option<String>,
}

/// One event per command (what it changed, or no change), and one for a
/// status change no command made (the relay's: waiting for the customer).
fn command_events(commands: &Commands, changes: &[Change], from: &str, ev: &mut Events) {
    for c in &commands.commands {
        let said = c.text();
        let effect: Vec<String> = changes
            .iter()
            .filter(|ch| change_of(c, ch))
            .map(Change::describe)
            .collect();
        ev.push(
            EventKind::Command,
            if effect.is_empty() {
                format!("{said} by {}: no change", from)
            } else {
                format!("{said} by {}: {}", from, effect.join(", "))
            },
        );
    }
    // A status change no command made is the relay's: waiting for the customer.
    if let Some(ch) = changes.iter().find(|c| matches!(c, Change::Status { .. }))
        && !commands.commands.iter().any(|c| change_of(c, ch))
    {
        ev.push(
            EventKind::Status,
            format!("{}: the answer went to the customer", ch.describe()),
        );
    }
}
