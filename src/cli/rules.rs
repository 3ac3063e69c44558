//! `rules check` and `rules explain`: no database needed.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use super::RulesCmd;
use crate::config::Config;

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
