//! Reading and validating the rules file: every problem is reported at once,
//! each with `file:line` and the key path of the offending value.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use toml::Spanned;

mod actions;
mod condition;

use super::compile::{self, RuleSet};
use super::model::{Customer, Node, Rule, RulesFile};

/// One problem in a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: String,
    /// 1-based; 0 when the problem has no place in the file (unreadable file).
    pub line: usize,
    /// Key path, e.g. `rule[1] "billing".when.any[1].body.matches`; may be empty.
    pub path: String,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RuleError {}

impl RuleSet {
    /// Parses, validates and compiles a rules file. `known_areas` and
    /// `known_agents` are checked only when non-empty.
    pub fn parse(
        text: &str,
        file_name: &str,
        known_areas: &[String],
        known_agents: &[String],
    ) -> Result<RuleSet, Vec<RuleError>> {
        let file = parse_file(text, file_name, known_areas, known_agents)?;
        Ok(compile::compile(file))
    }
}

/// Parses and validates a rules file into its typed model, without compiling.
pub fn parse_file(
    text: &str,
    file_name: &str,
    known_areas: &[String],
    known_agents: &[String],
) -> Result<RulesFile, Vec<RuleError>> {
    let mut cx = Cx::new(text, file_name, known_areas, known_agents);
    let root: Node = match toml::from_str(text) {
        Ok(root) => root,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().to_string();
            cx.err(&span, "", format!("TOML syntax error: {msg}"));
            return Err(cx.errors);
        }
    };
    let mut file = RulesFile::default();
    let mut rules: Vec<Option<Rule>> = Vec::new();
    let Node::Table(top) = root else {
        cx.err(&(0..0), "", "expected a TOML document");
        return Err(cx.errors);
    };
    for (key, value) in &top {
        match key.get_ref().as_str() {
            "customer" => {
                for (i, item) in cx.array_of_tables(value, "customer").iter().enumerate() {
                    if let Some(c) = cx.customer(item, &format!("customer[{i}]")) {
                        file.customers.push(c);
                    }
                }
            }
            "rule" => {
                for (i, item) in cx.array_of_tables(value, "rule").iter().enumerate() {
                    rules.push(cx.rule(item, i));
                }
            }
            other => cx.err(
                &key.span(),
                other,
                "unknown field (expected [[customer]] or [[rule]])",
            ),
        }
    }
    cx.whole_file_checks(&rules);
    if cx.errors.is_empty() {
        file.rules = rules.into_iter().flatten().collect();
        Ok(file)
    } else {
        cx.errors.sort_by_key(|e| e.line);
        Err(cx.errors)
    }
}

type Entries = [(Spanned<String>, Spanned<Node>)];
/// An operator of a test and its value.
type OpEntry<'v> = (&'v Spanned<String>, &'v Spanned<Node>);

struct Cx<'a> {
    file: &'a str,
    line_starts: Vec<usize>,
    areas: &'a [String],
    agents: &'a [String],
    errors: Vec<RuleError>,
}

impl<'a> Cx<'a> {
    fn new(text: &str, file: &'a str, areas: &'a [String], agents: &'a [String]) -> Cx<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Cx {
            file,
            line_starts,
            areas,
            agents,
            errors: Vec::new(),
        }
    }

    fn line(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    fn err(&mut self, span: &Range<usize>, path: &str, message: impl Into<String>) {
        self.errors.push(RuleError {
            file: self.file.to_string(),
            line: self.line(span.start),
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn wrong_type(&mut self, v: &Spanned<Node>, path: &str, expected: &str) {
        let found = v.get_ref().type_name();
        self.err(
            &v.span(),
            path,
            format!("expected {expected}, found {found}"),
        );
    }

    fn table<'v>(&mut self, v: &'v Spanned<Node>, path: &str) -> Option<&'v Entries> {
        match v.get_ref() {
            Node::Table(t) if v.get_ref().type_name() == "a table" => Some(t),
            _ => {
                self.wrong_type(v, path, "a table");
                None
            }
        }
    }

    fn string(&mut self, v: &Spanned<Node>, path: &str) -> Option<String> {
        match v.get_ref() {
            Node::String(s) => Some(s.clone()),
            _ => {
                self.wrong_type(v, path, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, v: &Spanned<Node>, path: &str) -> Option<bool> {
        match v.get_ref() {
            Node::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(v, path, "true or false");
                None
            }
        }
    }

    fn strings(&mut self, v: &Spanned<Node>, path: &str) -> Option<Vec<String>> {
        let Node::Array(items) = v.get_ref() else {
            self.wrong_type(v, path, "a list of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.string(item, &format!("{path}[{i}]")) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn array_of_tables<'v>(&mut self, v: &'v Spanned<Node>, path: &str) -> Vec<&'v Spanned<Node>> {
        match v.get_ref() {
            Node::Array(items) => items.iter().collect(),
            _ => {
                self.wrong_type(v, path, &format!("an array of tables ([[{path}]])"));
                Vec::new()
            }
        }
    }

    fn customer(&mut self, v: &Spanned<Node>, path: &str) -> Option<Customer> {
        let t = self.table(v, path)?;
        let mut c = Customer {
            line: self.line(v.span().start),
            ..Customer::default()
        };
        let mut ok = true;
        for (key, value) in t {
            let kpath = format!("{path}.{}", key.get_ref());
            let slot = match key.get_ref().as_str() {
                "address" => &mut c.address,
                "domain" => &mut c.domain,
                "name" => &mut c.name,
                "tier" => &mut c.tier,
                _ => {
                    self.err(
                        &key.span(),
                        &kpath,
                        "unknown field (expected address, domain, name, tier)",
                    );
                    ok = false;
                    continue;
                }
            };
            match self.string(value, &kpath) {
                Some(s) => *slot = Some(s.trim().to_string()),
                None => ok = false,
            }
        }
        c.address = c.address.map(|a| a.to_lowercase());
        c.domain = c.domain.map(|d| {
            d.trim_start_matches('@')
                .trim_end_matches('.')
                .to_lowercase()
        });
        match (&c.address, &c.domain) {
            (None, None) => {
                self.err(&v.span(), path, "needs `address` or `domain`");
                ok = false;
            }
            (Some(_), Some(_)) => {
                self.err(
                    &v.span(),
                    path,
                    "has both `address` and `domain`: use one entry for each",
                );
                ok = false;
            }
            (Some(a), None) if a.is_empty() || !a.contains('@') => {
                self.err(
                    &v.span(),
                    &format!("{path}.address"),
                    "not an email address",
                );
                ok = false;
            }
            (None, Some(d)) if d.is_empty() => {
                self.err(&v.span(), &format!("{path}.domain"), "empty domain");
                ok = false;
            }
            _ => {}
        }
        ok.then_some(c)
    }

    fn rule(&mut self, v: &Spanned<Node>, index: usize) -> Option<Rule> {
        let bare = format!("rule[{index}]");
        let t = self.table(v, &bare)?;
        let name = t
            .iter()
            .find(|(k, _)| k.get_ref() == "name")
            .and_then(|(_, v)| match v.get_ref() {
                Node::String(s) => Some(s.clone()),
                _ => None,
            });
        let path = match &name {
            Some(n) => format!("{bare} {n:?}"),
            None => bare,
        };
        let mut ok = true;
        let (mut has_name, mut when, mut then, mut cont) = (false, None, None, false);
        for (key, value) in t {
            let kpath = format!("{path}.{}", key.get_ref());
            match key.get_ref().as_str() {
                "name" => {
                    has_name = true;
                    match self.string(value, &kpath) {
                        Some(n) if n.trim().is_empty() => {
                            self.err(&value.span(), &kpath, "empty rule name");
                            ok = false;
                        }
                        Some(_) => {}
                        None => ok = false,
                    }
                }
                "when" => when = Some(self.condition(value, &kpath)),
                "then" => then = Some(self.actions(value, &kpath)),
                "continue" => match self.boolean(value, &kpath) {
                    Some(b) => cont = b,
                    None => ok = false,
                },
                _ => {
                    self.err(
                        &key.span(),
                        &kpath,
                        "unknown field (expected name, when, then, continue)",
                    );
                    ok = false;
                }
            }
        }
        if !has_name {
            self.err(&v.span(), &path, "missing `name`");
        }
        if when.is_none() {
            self.err(
                &v.span(),
                &path,
                "missing `when` (use `when = {}` to match every mail)",
            );
        }
        if then.is_none() {
            self.err(&v.span(), &path, "missing `then`");
        }
        match (ok, name, when, then) {
            (true, Some(name), Some(Some(when)), Some(Some(then))) => Some(Rule {
                name,
                when,
                then,
                cont,
                line: self.line(v.span().start),
            }),
            _ => None,
        }
    }

    /// Duplicate names and rules that can never run.
    fn whole_file_checks(&mut self, rules: &[Option<Rule>]) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut catch_all: Option<(usize, &Rule)> = None;
        for (i, rule) in rules.iter().enumerate() {
            let Some(rule) = rule else { continue };
            let path = format!("rule[{i}] {:?}", rule.name);
            if let Some(first) = seen.get(rule.name.as_str()) {
                self.errors.push(RuleError {
                    file: self.file.to_string(),
                    line: rule.line,
                    path: format!("{path}.name"),
                    message: format!(
                        "duplicate rule name {:?} (first defined at line {first})",
                        rule.name
                    ),
                });
            } else {
                seen.insert(&rule.name, rule.line);
            }
            if let Some((j, ca)) = catch_all {
                self.errors.push(RuleError {
                    file: self.file.to_string(),
                    line: rule.line,
                    path,
                    message: format!(
                        "unreachable: rule[{j}] {:?} (line {}) matches every mail and has no `continue`",
                        ca.name, ca.line
                    ),
                });
            } else if !rule.cont && rule.when.always_true() {
                catch_all = Some((i, rule));
            }
        }
    }
}
