//! `replies list [--json]` and `replies preview NAME --ticket REF [--agent
//! ADDRESS]`: the saved replies `#reply NAME` puts in an agent's answer.

use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::store::Store;
use crate::templates::SavedReplies;
use crate::tickets;

/// Needs no database: the templates folder only.
pub(super) fn list(cfg: &Config, json: bool) -> anyhow::Result<()> {
    let dir = &cfg.mailroom.templates_dir;
    let saved = SavedReplies::load(dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(saved.list())?);
        return Ok(());
    }
    if saved.is_empty() {
        println!("no saved replies in {}", dir.join("replies").display());
        return Ok(());
    }
    println!("{:<16} {:<5} {:<28} FIRST LINE", "NAME", "HTML", "COMMANDS");
    for r in saved.list() {
        let commands = match r.commands.is_empty() {
            true => "-".to_string(),
            false => r.commands.join(", "),
        };
        let first = match &r.problem {
            Some(p) => format!("(cannot be used: {p})"),
            None => r.first_line.clone(),
        };
        let html = if r.html { "yes" } else { "no" };
        println!("{:<16} {html:<5} {commands:<28} {first}", r.name);
    }
    Ok(())
}

pub(super) async fn preview(
    cfg: &Arc<Config>,
    store: &Store,
    name: &str,
    reference: &str,
    agent: Option<&str>,
) -> anyhow::Result<()> {
    let prefix = &cfg.mailroom.ticket_prefix;
    let id = tickets::parse_ref(prefix, reference).with_context(|| {
        format!("{reference:?} is not a ticket reference like {prefix}-1042 or 1042")
    })?;
    let pipeline = Pipeline::new(cfg.clone())?;
    let p = pipeline.preview_saved_reply(store, name, id, agent).await?;
    let r = &p.reply;
    println!(
        "saved reply {:?} for {}{}",
        r.name,
        p.ticket_ref,
        p.agent.map(|a| format!(" as {a}")).unwrap_or_default()
    );
    let commands = match r.commands.is_empty() {
        true => "none".to_string(),
        false => r.commands.join(", "),
    };
    println!("commands: {commands}");
    println!("--- text");
    println!("{}", r.text);
    if let Some(html) = &r.html {
        println!("--- html");
        println!("{html}");
    }
    Ok(())
}
