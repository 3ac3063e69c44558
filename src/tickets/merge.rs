//! Merging one ticket into another (pure): whether it may happen, and what
//! it makes of both tickets. The store moves the rows (messages, events,
//! outbox); the pipeline decides, records the events and tells the owner.

use chrono::{DateTime, Utc};

use super::{ParticipantRole, Status, Ticket, format_ref};

/// Why a merge is refused, in words an agent reads in their explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRefusal {
    #[error("there is no ticket {ticket}")]
    Unknown { ticket: String },
    #[error("a ticket cannot be merged into itself")]
    IntoItself,
    #[error("{target} was merged into {end}: name {end} instead")]
    IntoMerged { target: String, end: String },
    #[error("{ticket} was merged into {end} already")]
    AlreadyMerged { ticket: String, end: String },
    #[error(
        "{ticket} is {source_customer}'s and {target} is {target_customer}'s: merging would show one customer's answers to the other (add \"force\" to merge anyway)"
    )]
    OtherCustomer {
        ticket: String,
        target: String,
        source_customer: String,
        target_customer: String,
    },
}

/// What a merge makes of the two tickets.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePlan {
    /// The source, now `merged` into the target: no clocks run on it.
    pub source: Ticket,
    /// The target with the source's tags; its owner and SLA clocks stay.
    /// Reopened when the source was waiting for support and it was not.
    pub target: Ticket,
    /// Addresses the target gains, with their role there: the source's
    /// customer (when another) and its participants.
    pub joined: Vec<(String, ParticipantRole)>,
    /// What changed on the target, for its event.
    pub changes: Vec<String>,
}

/// Who joins the target's conversation: the source's customer (when
/// another) and everyone on the source's list not on the target's, the
/// source's customer as a Cc (answers are copied to them).
fn joined(
    source: &Ticket,
    target: &Ticket,
    (source_list, target_list): (&ParticipantList, &ParticipantList),
) -> Vec<(String, ParticipantRole)> {
    let mut joined: Vec<(String, ParticipantRole)> = Vec::new();
    let candidates = std::iter::once((source.customer.clone(), ParticipantRole::Customer))
        .chain(source_list.iter().cloned());
    for (email, role) in candidates {
        let known = email.eq_ignore_ascii_case(&target.customer)
            || target_list
                .iter()
                .any(|(e, _)| e.eq_ignore_ascii_case(&email))
            || joined.iter().any(|(e, _)| e.eq_ignore_ascii_case(&email));
        if known {
            continue;
        }
        let role = match role {
            ParticipantRole::Customer => ParticipantRole::Cc,
            other => other,
        };
        joined.push((email, role));
    }
    joined
}

/// A ticket's participants: address and why it is there.
pub type ParticipantList = [(String, ParticipantRole)];

/// Plans merging `source` into `target` (`source_participants`: the
/// source's list; `target_participants`: the target's). `force` allows two
/// different customers.
pub fn plan(
    prefix: &str,
    source: &Ticket,
    target: &Ticket,
    participants: (&ParticipantList, &ParticipantList),
    force: bool,
    now: DateTime<Utc>,
) -> Result<MergePlan, MergeRefusal> {
    let name = |id| format_ref(prefix, id);
    if source.id == target.id {
        return Err(MergeRefusal::IntoItself);
    }
    if let Some(end) = source.merged_into {
        return Err(MergeRefusal::AlreadyMerged {
            ticket: name(source.id),
            end: name(end),
        });
    }
    if let Some(end) = target.merged_into {
        return Err(MergeRefusal::IntoMerged {
            target: name(target.id),
            end: name(end),
        });
    }
    let other_customer = !source.customer.eq_ignore_ascii_case(&target.customer);
    if other_customer && !force {
        return Err(MergeRefusal::OtherCustomer {
            ticket: name(source.id),
            target: name(target.id),
            source_customer: source.customer.clone(),
            target_customer: target.customer.clone(),
        });
    }
    let joined = joined(source, target, participants);
    let mut changes = Vec::new();
    let mut t = target.clone();
    let mut tags = t.tag_list();
    for tag in source.tag_list() {
        if !tags.contains(&tag) {
            changes.push(format!("tag {tag} added"));
            tags.push(tag);
        }
    }
    t.tags = tags.join(",");
    if source.status == Status::Open && t.status != Status::Open {
        changes.push(format!(
            "status {} -> open: {} was waiting for support",
            t.status,
            name(source.id)
        ));
        t.status = Status::Open;
    }
    for (email, role) in &joined {
        changes.push(format!("{email} joins as {role}"));
    }
    t.updated_at = now;

    let mut s = source.clone();
    s.status = Status::Merged;
    s.merged_into = Some(target.id);
    s.updated_at = now;
    // No clock runs on an alias: its mail is the target's now.
    s.sla_next_check = None;
    s.waiting_since = None;
    s.first_response_due = None;
    s.next_response_due = None;
    s.resolution_due = None;
    Ok(MergePlan {
        source: s,
        target: t,
        joined,
        changes,
    })
}

#[cfg(test)]
mod tests;
