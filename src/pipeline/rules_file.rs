//! The rules file: read and checked against the config's areas and agents
//! at start, and again on reload (SIGHUP or a changed file), where bad rules
//! keep the previous set in force (`Rules`: the set in force).

use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::error::Result;
use crate::rules::{Router, RuleSet, RulesRouter};

/// The rules in force: swapped whole on reload; a batch reads them once per
/// message.
pub(super) struct Rules(RwLock<Arc<dyn Router>>);

impl Rules {
    pub(super) fn new(router: Arc<dyn Router>) -> Rules {
        Rules(RwLock::new(router))
    }

    /// The rules from now on: batches already running keep theirs.
    pub(super) fn set(&self, fresh: Arc<dyn Router>) {
        match self.0.write() {
            Ok(mut r) => *r = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }

    pub(super) fn current(&self) -> Arc<dyn Router> {
        match self.0.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The rules file's router when `[rules] file` is set (invalid rules refuse to
/// start, listing every error), else the config defaults.
pub(super) fn router(cfg: &Config) -> Result<Arc<dyn Router>> {
    let Some(rules) = &cfg.rules else {
        return Ok(Arc::new(cfg.default_router()));
    };
    Ok(Arc::new(RulesRouter::new(load_rules(cfg, &rules.file)?)))
}

/// Loads and checks a rules file against the config's areas and agents.
pub fn load_rules(cfg: &Config, path: &std::path::Path) -> Result<RuleSet> {
    let areas: Vec<String> = cfg.area.iter().map(|a| a.name.clone()).collect();
    let agents: Vec<String> = cfg
        .agent
        .iter()
        .map(|a| a.email.to_ascii_lowercase())
        .collect();
    // The rules engine is pure: the file is read here, in the shell.
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::Config {
        file: path.display().to_string(),
        message: format!("cannot read rules file: {e}"),
    })?;
    let name = path.display().to_string();
    RuleSet::parse(&text, &name, &areas, &agents).map_err(|errors| crate::Error::Config {
        file: path.display().to_string(),
        message: format!(
            "{} error(s):\n  {}",
            errors.len(),
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
    })
}

/// The rules file read again (None without `[rules] file`): its router and
/// how many rules it holds. Bad rules are an error listing every problem.
pub(super) fn reread(cfg: &Config) -> Result<Option<(Arc<dyn Router>, usize)>> {
    let Some(rules) = &cfg.rules else {
        return Ok(None);
    };
    let set = load_rules(cfg, &rules.file)?;
    let n = set.len();
    Ok(Some((Arc::new(RulesRouter::new(set)), n)))
}
