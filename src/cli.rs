//! The CLI edge: runs commands, prints results, maps errors to exit codes.
//! (`anyhow` lives here only.)

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::json;

use crate::config::{Config, InboundKind};
use crate::error::Error;
use crate::inbound::Batcher;
use crate::inbound::maildir::Maildir;
use crate::outbound::{self, Transport};
use crate::pipeline::{Inbound, Outcome, Pipeline};
use crate::store::{Store, TicketFilter, TicketRow};
use crate::tickets;

/// EX_TEMPFAIL: an MTA piping into `ingest` requeues and retries.
pub const EXIT_TEMPFAIL: u8 = 75;

pub enum Command {
    Serve,
    PollOnce,
    Ingest { json: bool, files: Vec<PathBuf> },
    Tickets(TicketsCmd),
    Outbox(OutboxCmd),
    Quarantine { json: bool },
    Rules(RulesCmd),
    Migrate,
}

pub enum RulesCmd {
    Check {
        rules: Option<PathBuf>,
    },
    Explain {
        file: PathBuf,
        json: bool,
        rules: Option<PathBuf>,
    },
}

pub enum TicketsCmd {
    List {
        status: Option<String>,
        area: Option<String>,
        owner: Option<String>,
        limit: Option<i64>,
        json: bool,
    },
    Show {
        reference: String,
        json: bool,
    },
}

pub enum OutboxCmd {
    List { json: bool },
    Flush,
}

pub fn run(config: Option<&Path>, command: Command) -> ExitCode {
    let default_level = if matches!(command, Command::Serve) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mailroom: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_TEMPFAIL);
        }
    };
    match runtime.block_on(execute(config, command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailroom: {e:#}");
            let temporary = e
                .chain()
                .any(|c| c.downcast_ref::<Error>().is_some_and(Error::is_temporary));
            ExitCode::from(if temporary { EXIT_TEMPFAIL } else { 1 })
        }
    }
}

async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    let url = cfg.database_url()?;
    let store = Store::connect(&url, cfg.database.max_connections).await?;
    store.migrate().await?;
    Ok(store)
}

async fn execute(config: Option<&Path>, command: Command) -> anyhow::Result<()> {
    let cfg = Arc::new(Config::load(config)?);
    // The rules commands need no database.
    let command = match command {
        Command::Rules(cmd) => return rules_command(&cfg, cmd),
        other => other,
    };
    let store = open_store(&cfg).await?;
    let checkpointer = store.spawn_checkpointer(std::time::Duration::from_millis(200));
    let result = match command {
        Command::Migrate => {
            println!("database schema is up to date ({})", store.backend());
            Ok(())
        }
        Command::Ingest { json, files } => ingest(&cfg, &store, json, files).await,
        Command::PollOnce => poll_once(&cfg, &store).await,
        Command::Serve => crate::server::serve(cfg.clone(), store.clone())
            .await
            .map_err(Into::into),
        Command::Tickets(TicketsCmd::List {
            status,
            area,
            owner,
            limit,
            json,
        }) => {
            if let Some(s) = &status {
                s.parse::<tickets::Status>().map_err(anyhow::Error::msg)?;
            }
            let rows = store
                .list_tickets(&TicketFilter {
                    status,
                    area,
                    owner,
                    limit,
                })
                .await?;
            print_ticket_list(&cfg, &rows, json)
        }
        Command::Tickets(TicketsCmd::Show { reference, json }) => {
            show_ticket(&cfg, &store, &reference, json).await
        }
        Command::Outbox(OutboxCmd::List { json }) => outbox_list(&store, json).await,
        Command::Outbox(OutboxCmd::Flush) => {
            let transport = Transport::from_config(&cfg)?;
            let renderer = outbound::Renderer::new(&cfg)?;
            let r = outbound::flush(&store, &transport, &renderer, chrono::Utc::now).await?;
            println!(
                "sent {}, retrying {}, failed {}",
                r.sent, r.retrying, r.failed
            );
            Ok(())
        }
        Command::Quarantine { json } => quarantine_list(&store, json).await,
        Command::Rules(_) => Ok(()),
    };
    if let Some(c) = checkpointer {
        c.abort();
    }
    store.close().await;
    result
}

fn print_outcome(o: &Outcome, json: bool) {
    if json {
        println!("{}", serde_json::to_string(o).unwrap_or_default());
    } else {
        println!(
            "{}: {}{}{}",
            o.file,
            o.outcome.as_str(),
            o.ticket_ref
                .as_deref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default(),
            o.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
}

async fn ingest(
    cfg: &Arc<Config>,
    store: &Store,
    json: bool,
    files: Vec<PathBuf>,
) -> anyhow::Result<()> {
    let pipeline = Pipeline::new(cfg.clone())?;
    let files = if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files
    };
    let mut batcher = Batcher::new(cfg.mailroom.batch_size);
    let total = files.len();
    for (i, f) in files.into_iter().enumerate() {
        let raw = if f.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading stdin")?;
            buf
        } else {
            std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?
        };
        let full = batcher.push(Inbound {
            origin: f.display().to_string(),
            raw,
        });
        if full || i + 1 == total {
            for o in pipeline
                .process_batch(store, batcher.take(), chrono::Utc::now())
                .await?
            {
                print_outcome(&o, json);
            }
        }
    }
    std::io::stdout().flush().ok();
    Ok(())
}

async fn poll_once(cfg: &Arc<Config>, store: &Store) -> anyhow::Result<()> {
    let pipeline = Arc::new(Pipeline::new(cfg.clone())?);
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for ib in &cfg.inbound {
        match ib.kind {
            InboundKind::Maildir => {
                let path = ib.path.as_deref().context("maildir source without path")?;
                let md = Maildir::new(&ib.name, path);
                md.drain(
                    &pipeline,
                    store,
                    cfg.mailroom.batch_size,
                    &|| false,
                    &mut |o| {
                        *counts.entry(o.outcome.as_str()).or_default() += 1;
                    },
                )
                .await
                .with_context(|| format!("inbound {:?}", ib.name))?;
            }
            InboundKind::Imap => bail!(
                "inbound {:?}: kind = \"imap\" is not in this build yet",
                ib.name
            ),
        }
    }
    let total: usize = counts.values().sum();
    let detail: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "processed {total} message(s){}",
        if detail.is_empty() {
            String::new()
        } else {
            format!(": {}", detail.join(", "))
        }
    );
    Ok(())
}

fn ticket_json(cfg: &Config, t: &TicketRow) -> serde_json::Value {
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
    })
}

fn print_ticket_list(cfg: &Config, rows: &[TicketRow], json: bool) -> anyhow::Result<()> {
    if json {
        let v: Vec<_> = rows.iter().map(|t| ticket_json(cfg, t)).collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{:<9} {:<9} {:<8} {:<10} {:<24} {:<28} SUBJECT",
        "REF", "STATUS", "PRIORITY", "AREA", "OWNER", "CUSTOMER"
    );
    for t in rows {
        println!(
            "{:<9} {:<9} {:<8} {:<10} {:<24} {:<28} {}",
            tickets::format_ref(&cfg.mailroom.ticket_prefix, t.id),
            t.status,
            t.priority,
            t.area.as_deref().unwrap_or("-"),
            t.owner.as_deref().unwrap_or("-"),
            t.customer,
            t.subject
        );
    }
    println!("{} ticket(s)", rows.len());
    Ok(())
}

async fn show_ticket(
    cfg: &Config,
    store: &Store,
    reference: &str,
    json: bool,
) -> anyhow::Result<()> {
    let prefix = &cfg.mailroom.ticket_prefix;
    let id = tickets::parse_ref(prefix, reference).with_context(|| {
        format!("{reference:?} is not a ticket reference like {prefix}-1042 or 1042")
    })?;
    let t = store
        .ticket(id)
        .await?
        .ok_or_else(|| Error::TicketNotFound(reference.to_string()))?;
    let messages = store.ticket_messages(id).await?;
    let events = store.ticket_events(id).await?;
    let participants = store.ticket_participants(id).await?;
    let mut atts = Vec::with_capacity(messages.len());
    let mut texts = Vec::with_capacity(messages.len());
    for m in &messages {
        atts.push(store.message_attachments(m.id).await?);
        // Inbound bodies are not stored twice: derive them from the raw bytes.
        let bodies = if m.direction == "in" && m.text_body.is_empty() {
            match store.raw_message(m.id).await? {
                Some(raw) => crate::mail::parse::bodies(&raw),
                None => (String::new(), None),
            }
        } else {
            (m.text_body.clone(), m.html_body.clone())
        };
        texts.push(bodies);
    }
    if json {
        let mut v = ticket_json(cfg, &t);
        v["participants"] = json!(
            participants
                .iter()
                .map(|(e, r)| json!({"email": e, "role": r}))
                .collect::<Vec<_>>()
        );
        v["messages"] = json!(
            messages
                .iter()
                .zip(&atts)
                .zip(&texts)
                .map(|((m, a), (text, html))| json!({
                    "direction": m.direction,
                    "kind": m.kind,
                    "from": m.from_addr,
                    "from_name": m.from_name,
                    "to": m.to_addrs,
                    "cc": m.cc_addrs,
                    "subject": m.subject,
                    "message_id": m.message_id,
                    "text": text,
                    "html": html,
                    "reason": m.reason,
                    "created_at": m.created_at,
                    "attachments": a,
                }))
                .collect::<Vec<_>>()
        );
        v["events"] = json!(events);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{} {}", tickets::format_ref(prefix, t.id), t.subject);
    println!(
        "  status {}  priority {}  area {}  owner {}",
        t.status,
        t.priority,
        t.area.as_deref().unwrap_or("-"),
        t.owner.as_deref().unwrap_or("-")
    );
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
        participants
            .iter()
            .map(|(e, r)| format!("{e} [{r}]"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  created {}  updated {}",
        t.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        t.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    println!("\nMessages:");
    for ((m, a), (text, _)) in messages.iter().zip(&atts).zip(&texts) {
        let arrow = if m.direction == "in" { "<-" } else { "->" };
        println!(
            "  {arrow} [{}] {} from {} to {}  <{}>",
            m.kind,
            m.created_at.format("%Y-%m-%d %H:%M:%S"),
            m.from_addr,
            m.to_addrs,
            m.message_id
        );
        if m.direction == "out" && text.is_empty() {
            println!("       | (queued; the body is rendered from the templates when it is sent)");
        }
        for line in text.lines().take(12) {
            println!("       | {line}");
        }
        for x in a {
            println!(
                "       + attachment {} ({}, {} bytes)",
                x.filename.as_deref().unwrap_or("(unnamed)"),
                x.content_type,
                x.size
            );
        }
    }
    println!("\nEvents:");
    for e in &events {
        println!(
            "  {} {:<13} {}",
            e.created_at.format("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.detail
        );
    }
    Ok(())
}

async fn outbox_list(store: &Store, json: bool) -> anyhow::Result<()> {
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

async fn quarantine_list(store: &Store, json: bool) -> anyhow::Result<()> {
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

fn rules_path(cfg: &Config, flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    flag.or_else(|| cfg.rules.as_ref().map(|r| r.file.clone()))
        .context("no rules file: set [rules] file in the config or pass --rules FILE")
}

fn rules_command(cfg: &Config, cmd: RulesCmd) -> anyhow::Result<()> {
    match cmd {
        RulesCmd::Check { rules } => {
            let path = rules_path(cfg, rules)?;
            let set = crate::pipeline::load_rules(cfg, &path)?;
            println!(
                "{}: ok, {} rule(s), {} customer(s)",
                path.display(),
                set.len(),
                set.customers().len()
            );
            Ok(())
        }
        RulesCmd::Explain { file, json, rules } => {
            let path = rules_path(cfg, rules)?;
            let set = crate::pipeline::load_rules(cfg, &path)?;
            let raw =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let mail =
                crate::mail::parse(&raw).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let decision = set.evaluate(&set.input(&mail));
            if json {
                let mut v = decision.to_json();
                v["file"] = json!(file.display().to_string());
                v["customer_tier"] = json!(set.customer_tier(&mail.from.email));
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!(
                "{} from {}: {:?}",
                file.display(),
                mail.from.email,
                mail.subject
            );
            if let Some(tier) = set.customer_tier(&mail.from.email) {
                println!("customer tier: {tier}");
            }
            for t in &decision.trace {
                println!(
                    "\n{} rule {:?}",
                    if t.matched { "MATCH" } else { "no   " },
                    t.name
                );
                for c in &t.conditions {
                    println!("    {c}");
                }
            }
            println!("\n{}", crate::rules::summary(&decision));
            if decision.area.is_some() && decision.owner.is_none() {
                println!(
                    "owner: chosen at ingest by the area's strategy (continuity, round_robin, least_loaded or fixed)"
                );
            }
            Ok(())
        }
    }
}
