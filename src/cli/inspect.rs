//! `mailroom inspect FILE [--json]`: what mailroom reads in a mail, storing nothing.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::mail::ParsedMail;
use crate::pipeline::{Inspection, Pipeline};

pub(super) async fn inspect(cfg: &Arc<Config>, file: &Path, json: bool) -> anyhow::Result<()> {
    let raw = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mail = crate::mail::parse(&raw).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e} (mailroom would quarantine this mail with that reason)",
            file.display()
        )
    })?;
    let pipeline = Pipeline::new(cfg.clone())?;
    let mut i = pipeline.inspect(&mail);
    add_role(cfg, &pipeline, &mail, &mut i).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&i)?);
        return Ok(());
    }
    print_who(file, &i);
    print_what(&i);
    Ok(())
}

async fn add_role(
    cfg: &Config,
    pipeline: &Pipeline,
    mail: &ParsedMail,
    i: &mut Inspection,
) -> anyhow::Result<()> {
    // The role needs the tickets: decided against the database as it is (in
    // a transaction rolled back), when there is one. A SQLite file that does
    // not exist yet is not created.
    let url = cfg.database_url()?;
    let exists = crate::config::sqlite_file(&url).is_none_or(|f| f.exists());
    if exists {
        let store = super::open_store(cfg, crate::store::SqliteUse::Long).await?;
        let seen = pipeline.inspect_role(&store, mail, super::now()).await?;
        store.close().await;
        i.role = seen.role;
        i.role_reason = Some(seen.reason);
        i.ticket = seen.ticket;
    } else {
        i.role_reason = Some(format!(
            "no database at {url} yet: the role depends on the tickets stored"
        ));
    }
    Ok(())
}

/// The file, its kind, its author's role, and its addresses.
fn print_who(file: &Path, i: &Inspection) {
    println!("file:        {}", file.display());
    println!(
        "kind:        {}{}",
        i.kind,
        i.reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    if i.roster_sender {
        println!(
            "             the sender is on the roster: an agent reply when it answers a notification sent to them"
        );
    }
    println!(
        "role:        {}{}{}",
        i.role.map(|r| r.as_str()).unwrap_or("-"),
        i.ticket
            .as_deref()
            .map(|t| format!(" on {t}"))
            .unwrap_or_default(),
        i.role_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!("message-id:  <{}>", i.message_id);
    println!(
        "from:        {}{}",
        i.from,
        i.from_name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    );
    if let Some(r) = &i.reply_to {
        println!("reply-to:    {r}");
    }
}

/// The subject and threading, the parts, the reply stripping and commands, the texts.
fn print_what(i: &Inspection) {
    println!("subject:     {}", i.subject);
    println!("normalized:  {}", i.thread_keys.normalized_subject);
    if let Some(t) = &i.thread_keys.subject_tag {
        println!("subject tag: [{t}]");
    }
    for id in &i.thread_keys.lookup {
        println!("references:  <{id}>");
    }
    for a in &i.attachments {
        println!("attachment:  {a}");
    }
    for n in &i.charset_notes {
        println!("charset:     {n}");
    }
    for p in &i.parts {
        println!("{}", part_line(p));
    }
    println!(
        "stripping:   {}{}",
        i.reply.detail,
        if i.reply.footer_removed {
            "; mobile footer removed"
        } else {
            ""
        }
    );
    if let Some(h) = &i.html_reply {
        println!("html:        {}", h.detail);
    }
    for c in &i.commands.commands {
        println!("command:     {}", c.text());
    }
    for e in &i.commands.errors {
        println!("bad command: {}: {}", e.line, e.reason);
    }
    println!("\n--- reply text (what is new) ---\n{}", i.reply_text);
    println!("\n--- whole text ---\n{}", i.text);
}

/// `part 2.1:    text/html, 1234 bytes, utf-8 -> html (note)`.
fn part_line(p: &crate::mail::parse::PartFate) -> String {
    let mut s = format!("{:<13}{}", format!("part {}:", p.path), p.content_type);
    if let Some(f) = &p.filename {
        s.push_str(&format!(" {f:?}"));
    }
    s.push_str(&format!(", {} bytes", p.size));
    if let Some(c) = &p.charset {
        s.push_str(&format!(", {c}"));
    }
    s.push_str(&format!(" -> {}", p.went.as_str()));
    if let Some(n) = &p.note {
        s.push_str(&format!(" ({n})"));
    }
    s
}
