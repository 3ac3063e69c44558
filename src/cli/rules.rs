//! `rules check` and `rules explain`: no database needed.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use super::RulesCmd;
use crate::config::{Config, parse_duration};
use crate::rules::RuleSet;
use crate::rules::backtest::{Route, candidate_route, differs};
use crate::store::Store;
use crate::tickets;

fn rules_path(cfg: &Config, flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    flag.or_else(|| cfg.rules.as_ref().map(|r| r.file.clone()))
        .context("no rules file: set [rules] file in the config or pass --rules FILE")
}

pub(super) fn rules_command(cfg: &Config, cmd: RulesCmd) -> anyhow::Result<()> {
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
        RulesCmd::Backtest { .. } => anyhow::bail!("rules backtest needs the database"),
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

/// Replays the mail that opened each ticket of the period through `candidate`
/// and lists the tickets that would route differently. Changes nothing.
pub(super) async fn backtest(
    cfg: &Config,
    store: &Store,
    candidate: &std::path::Path,
    since: &str,
    json_out: bool,
) -> anyhow::Result<()> {
    let set = crate::pipeline::load_rules(cfg, candidate)?;
    let period = parse_duration(since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let from = super::now() - chrono::Duration::from_std(period).context("--since is too long")?;
    let (replayed, changed) = replay(cfg, store, &set, from).await?;
    if json_out {
        let v = json!({ "since": from, "replayed": replayed, "changed": changed.len(), "tickets": changed });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print_changed(&changed);
    println!(
        "{} of {} ticket(s) created since {} would route differently with {}",
        changed.len(),
        replayed,
        from.format("%Y-%m-%d %H:%M UTC"),
        candidate.display()
    );
    Ok(())
}

/// Replays the opening mail of each ticket created since `from` through `set`:
/// how many were replayed, and the ones that route differently.
async fn replay(
    cfg: &Config,
    store: &Store,
    set: &RuleSet,
    from: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(usize, Vec<serde_json::Value>)> {
    let prefix = &cfg.mailroom.ticket_prefix;
    let mut replayed = 0usize;
    let mut changed = Vec::new();
    let mut after = 0i64;
    loop {
        let page = store.routing_history(from, after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for t in page {
            replayed += 1;
            let Ok(mail) = crate::mail::parse(&t.raw) else {
                continue;
            };
            let decision = set.decide(&set.input(&mail));
            let current = Route {
                area: t.area,
                priority: t.priority.as_str().to_string(),
                owner: t.owner,
            };
            let proposed = candidate_route(&decision, cfg.mailroom.default_area.as_deref());
            if differs(&current, &proposed) {
                changed.push(json!({
                    "ref": tickets::format_ref(prefix, t.id),
                    "subject": t.subject,
                    "current": current,
                    "candidate": proposed,
                    "matched": decision.matched,
                }));
            }
        }
    }
    Ok((replayed, changed))
}

/// The table of tickets that would route differently.
fn print_changed(changed: &[serde_json::Value]) {
    let show = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    println!(
        "{:<9} {:<22} {:<20} {:<40} SUBJECT",
        "REF", "AREA", "PRIORITY", "OWNER"
    );
    for c in changed {
        let (cur, new) = (&c["current"], &c["candidate"]);
        let owner_new = if new["owner"].is_null() {
            "(by strategy)".into()
        } else {
            show(&new["owner"])
        };
        println!(
            "{:<9} {:<22} {:<20} {:<40} {}",
            show(&c["ref"]),
            format!("{} -> {}", show(&cur["area"]), show(&new["area"])),
            format!("{} -> {}", show(&cur["priority"]), show(&new["priority"])),
            format!("{} -> {}", show(&cur["owner"]), owner_new),
            show(&c["subject"])
        );
    }
}
