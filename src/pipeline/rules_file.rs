//! The rules file: read and checked against the config's areas and agents
//! at start, and again on reload (SIGHUP or a changed file), where bad rules
//! keep the previous set in force.

use crate::config::Config;
use crate::error::Result;
use crate::rules::{Router, RuleSet, RulesRouter};

use super::Pipeline;

/// The rules file's router when `[rules] file` is set (invalid rules refuse to
/// start, listing every error), else the config defaults.
pub(super) fn router(cfg: &Config) -> Result<std::sync::Arc<dyn Router>> {
    let Some(rules) = &cfg.rules else {
        return Ok(std::sync::Arc::new(cfg.default_router()));
    };
    Ok(std::sync::Arc::new(RulesRouter::new(load_rules(
        cfg,
        &rules.file,
    )?)))
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

impl Pipeline {
    /// Re-reads the rules file. On any error the current rules stay in force
    /// and the error (every problem, with file:line) is returned for the log.
    pub fn reload_rules(&self) -> Result<usize> {
        let Some(rules) = &self.cfg.rules else {
            return Ok(0);
        };
        let set = load_rules(&self.cfg, &rules.file)?;
        let n = set.len();
        self.decide
            .set_router(std::sync::Arc::new(RulesRouter::new(set)));
        Ok(n)
    }
}
