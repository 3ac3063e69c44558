//! Commands that show state: tickets, the outbox, the quarantine.

use anyhow::Context;
use serde_json::json;

use crate::config::Config;
use crate::error::Error;
use crate::store::{MessageView, Store, TicketView};
use crate::tickets::{self, Direction, Ticket};

fn ticket_json(cfg: &Config, t: &Ticket) -> serde_json::Value {
    json!({
        "ref": tickets::format_ref(&cfg.mailroom.ticket_prefix, t.id),
        "id": t.id,
        "subject": t.subject,
        "status": t.status,
        "priority": t.priority,
        "area": t.area,
        "owner": t.owner,
        "customer": t.customer,
        "customer_name": t.customer_name,
        "tags": t.tags.split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "first_response_at": t.first_response_at,
        "resolved_at": t.resolved_at,
        "sla_policy": t.sla_policy,
        "first_response_due": t.first_response_due,
        "next_response_due": t.next_response_due,
        "resolution_due": t.resolution_due,
        // The resolution clock stops while the ticket waits for the customer.
        "sla_paused": t.pending_since.is_some(),
        "breached": t.breached(super::now()),
        "merged_into": t.merged_into.map(|id| tickets::format_ref(&cfg.mailroom.ticket_prefix, id)),
        "pending_until": t.pending_until,
        "answered_at": t.answered_at,
        // The customer's latest rating: {"score", "comment", "at"}, or null.
        "satisfaction": t.satisfaction,
    })
}

/// `first response 2026-11-30 10:00 UTC (breached)`, or "-".
fn due_summary(t: &Ticket, now: chrono::DateTime<chrono::Utc>) -> String {
    let parts: Vec<String> = t
        .due_times()
        .into_iter()
        .filter_map(|(target, d)| {
            let d = d?;
            Some(format!(
                "{} {}{}",
                target.as_str().replace('_', " "),
                d.format("%Y-%m-%d %H:%M UTC"),
                if d <= now { " (breached)" } else { "" }
            ))
        })
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

pub(super) fn print_ticket_list(cfg: &Config, rows: &[Ticket], json: bool) -> anyhow::Result<()> {
    if json {
        let v: Vec<_> = rows.iter().map(|t| ticket_json(cfg, t)).collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{:<9} {:<9} {:<8} {:<10} {:<24} {:<28} {:<17} SUBJECT",
        "REF", "STATUS", "PRIORITY", "AREA", "OWNER", "CUSTOMER", "NEXT DUE"
    );
    let now = super::now();
    for t in rows {
        let due = match t.next_due() {
            Some((_, d)) if d <= now => "BREACHED".to_string(),
            Some((_, d)) => d.format("%Y-%m-%d %H:%M").to_string(),
            None => "-".into(),
        };
        println!(
            "{:<9} {:<9} {:<8} {:<10} {:<24} {:<28} {:<17} {}",
            tickets::format_ref(&cfg.mailroom.ticket_prefix, t.id),
            t.status,
            t.priority,
            t.area.as_deref().unwrap_or("-"),
            t.owner.as_deref().unwrap_or("-"),
            t.customer,
            due,
            t.subject
        );
    }
    println!("{} ticket(s)", rows.len());
    Ok(())
}

/// A ticket with everything `show` prints: its messages with their attachments, bodies
/// and author roles, its events and participants.
pub(super) async fn show_ticket(
    cfg: &Config,
    store: &Store,
    reference: &str,
    json: bool,
) -> anyhow::Result<()> {
    let prefix = &cfg.mailroom.ticket_prefix;
    let id = tickets::parse_ref(prefix, reference).with_context(|| {
        format!("{reference:?} is not a ticket reference like {prefix}-1042 or 1042")
    })?;
    let shown = store
        .ticket_view(id)
        .await
        .with_context(|| reference.to_string())?
        .ok_or_else(|| Error::TicketNotFound(reference.to_string()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&shown_json(cfg, &shown))?
        );
        return Ok(());
    }
    print_shown(prefix, &shown);
    Ok(())
}

fn shown_json(cfg: &Config, shown: &TicketView) -> serde_json::Value {
    let mut v = ticket_json(cfg, &shown.ticket);
    v["participants"] = json!(
        shown
            .participants
            .iter()
            .map(|p| json!({"email": p.email, "role": p.role}))
            .collect::<Vec<_>>()
    );
    v["messages"] = json!(shown.messages.iter().map(message_json).collect::<Vec<_>>());
    v["events"] = json!(shown.events);
    let prefix = &cfg.mailroom.ticket_prefix;
    let refs = |ids: &[i64]| {
        ids.iter()
            .map(|id| tickets::format_ref(prefix, *id))
            .collect::<Vec<_>>()
    };
    v["aliases"] = json!(refs(&shown.aliases));
    v["linked"] = json!({
        "continues": shown.ticket.linked_to.map(|id| tickets::format_ref(prefix, id)),
        "continued_by": refs(&shown.continued_by),
    });
    v
}

fn message_json(s: &MessageView) -> serde_json::Value {
    let m = &s.row;
    json!({
        "direction": m.direction,
        "kind": m.kind,
        "role": s.role,
        // Never went to (or came from) the customer's side.
        "internal": m.kind.is_internal(),
        "from": m.from_addr,
        "from_name": m.from_name,
        "to": m.to_addrs,
        "cc": m.cc_addrs,
        "subject": m.subject,
        "message_id": m.message_id,
        "text": s.text,
        "html": s.html,
        "reason": m.reason,
        "created_at": m.created_at,
        "attachments": s.attachments,
    })
}

/// Where a merged ticket went, what was merged into it, its wait and links.
fn print_links(prefix: &str, shown: &TicketView) {
    let t = &shown.ticket;
    if let Some(into) = t.merged_into {
        println!(
            "  merged into {}: its mail and history are there now",
            tickets::format_ref(prefix, into)
        );
    }
    if let Some(until) = t.pending_until {
        println!(
            "  pending until {} (then the owner is reminded and it reopens)",
            until.format("%Y-%m-%d %H:%M UTC")
        );
    }
    if let Some(old) = t.linked_to {
        println!("  continues {}", tickets::format_ref(prefix, old));
    }
    if let Some(s) = &t.satisfaction {
        println!(
            "  satisfaction {}/5 ({}){}",
            s.score,
            s.at.format("%Y-%m-%d %H:%M UTC"),
            if s.comment.is_empty() {
                String::new()
            } else {
                format!(": {}", s.comment.replace('\n', "\n    "))
            }
        );
    }
    if !shown.continued_by.is_empty() {
        let names: Vec<String> = shown
            .continued_by
            .iter()
            .map(|id| tickets::format_ref(prefix, *id))
            .collect();
        println!("  continued by {}", names.join(", "));
    }
    if !shown.aliases.is_empty() {
        let names: Vec<String> = shown
            .aliases
            .iter()
            .map(|id| tickets::format_ref(prefix, *id))
            .collect();
        println!("  merged here: {}", names.join(", "));
    }
}

fn print_shown(prefix: &str, shown: &TicketView) {
    let t = &shown.ticket;
    println!("{} {}", tickets::format_ref(prefix, t.id), t.subject);
    println!(
        "  status {}  priority {}  area {}  owner {}",
        t.status,
        t.priority,
        t.area.as_deref().unwrap_or("-"),
        t.owner.as_deref().unwrap_or("-")
    );
    print_links(prefix, shown);
    println!(
        "  customer {}{}",
        t.customer,
        t.customer_name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    );
    println!(
        "  participants {}",
        shown
            .participants
            .iter()
            .map(|p| format!("{} [{}]", p.email, p.role))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  created {}  updated {}",
        t.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        t.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    println!(
        "  SLA {}: {}{}",
        t.sla_policy.as_deref().unwrap_or(t.priority.as_str()),
        due_summary(t, super::now()),
        if t.pending_since.is_some() {
            " (resolution clock paused: waiting for the customer)"
        } else {
            ""
        }
    );
    println!("\nMessages:");
    for s in &shown.messages {
        print_message(s);
    }
    println!("\nEvents:");
    for e in &shown.events {
        println!(
            "  {} {:<13} {}",
            e.created_at.format("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.detail
        );
    }
}

fn print_message(s: &MessageView) {
    let m = &s.row;
    let arrow = if m.direction == Direction::In {
        "<-"
    } else {
        "->"
    };
    let mut label = m.kind.to_string();
    if let Some(r) = &s.role {
        label.push_str(&format!(", {r}"));
    }
    if m.kind.is_internal() {
        label.push_str(", internal");
    }
    println!(
        "  {arrow} [{label}] {} from {} to {}  <{}>",
        m.created_at.format("%Y-%m-%d %H:%M:%S"),
        m.from_addr,
        m.to_addrs,
        m.message_id
    );
    if m.direction == Direction::Out && s.text.is_empty() {
        println!("       | (queued; the body is rendered from the templates when it is sent)");
    }
    for line in s.text.lines().take(12) {
        println!("       | {line}");
    }
    for x in &s.attachments {
        println!(
            "       + attachment {} ({}, {} bytes)",
            x.filename.as_deref().unwrap_or("(unnamed)"),
            x.content_type,
            x.size
        );
    }
}

pub(super) async fn outbox_list(store: &Store, json: bool) -> anyhow::Result<()> {
    let rows = store.outbox_list().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<6} {:<13} {:<8} {:<5} {:<32} NEXT/SENT",
        "ID", "KIND", "STATUS", "TRIES", "TO"
    );
    for r in &rows {
        let when = r
            .sent_at
            .unwrap_or(r.next_attempt_at)
            .format("%Y-%m-%d %H:%M:%S");
        println!(
            "{:<6} {:<13} {:<8} {:<5} {:<32} {when}{}",
            r.id,
            r.kind,
            r.status,
            r.attempts,
            r.recipients,
            r.last_error
                .as_deref()
                .map(|e| format!("  ({e})"))
                .unwrap_or_default()
        );
    }
    println!("{} message(s)", rows.len());
    Ok(())
}

pub(super) async fn quarantine_list(store: &Store, json: bool) -> anyhow::Result<()> {
    let rows = store.quarantine_list().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for r in &rows {
        println!(
            "{:<5} {} {} ({} bytes): {}",
            r.id,
            r.created_at.format("%Y-%m-%d %H:%M:%S"),
            r.origin,
            r.size,
            r.reason
        );
    }
    println!("{} quarantined message(s)", rows.len());
    Ok(())
}
