//! Reading and validating the rules file: every problem is reported at once,
//! each with `file:line` and the key path of the offending value.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use toml::Spanned;

use super::compile::{self, RuleSet};
use super::model::{Actions, Condition, Customer, Field, Node, Op, Rule, RulesFile};

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

    fn condition(&mut self, v: &Spanned<Node>, path: &str) -> Option<Condition> {
        let t = self.table(v, path)?;
        if t.is_empty() {
            return Some(Condition::All(Vec::new()));
        }
        if t.len() > 1 {
            let keys: Vec<&str> = t.iter().map(|(k, _)| k.get_ref().as_str()).collect();
            self.err(
                &v.span(),
                path,
                format!(
                    "a condition takes exactly one key, found {} ({}); combine them with all = [...] or any = [...]",
                    t.len(),
                    keys.join(", ")
                ),
            );
            // Still look inside, so every problem is reported at once.
            for (key, value) in t {
                self.condition_key(key, value, path);
            }
            return None;
        }
        let (key, value) = &t[0];
        self.condition_key(key, value, path)
    }

    fn condition_key(
        &mut self,
        key: &Spanned<String>,
        value: &Spanned<Node>,
        path: &str,
    ) -> Option<Condition> {
        let k = key.get_ref().as_str();
        let kpath = format!("{path}.{k}");
        match k {
            "all" | "any" => {
                let Node::Array(items) = value.get_ref() else {
                    self.wrong_type(value, &kpath, "a list of conditions");
                    return None;
                };
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.condition(item, &format!("{kpath}[{i}]")) {
                        Some(c) => out.push(c),
                        None => ok = false,
                    }
                }
                if k == "any" && items.is_empty() {
                    self.err(&value.span(), &kpath, "an empty `any` never matches");
                    ok = false;
                }
                ok.then(|| {
                    if k == "all" {
                        Condition::All(out)
                    } else {
                        Condition::Any(out)
                    }
                })
            }
            "not" => self
                .condition(value, &kpath)
                .map(|c| Condition::Not(Box::new(c))),
            _ => match Field::from_key(k) {
                Some(field) => self.test(field, value, &kpath),
                None => {
                    self.err(
                        &key.span(),
                        &kpath,
                        format!(
                            "unknown field (expected all, any, not, {})",
                            Field::NAMES.join(", ")
                        ),
                    );
                    None
                }
            },
        }
    }

    fn test(&mut self, mut field: Field, v: &Spanned<Node>, path: &str) -> Option<Condition> {
        if let (Field::HasAttachment, Node::Boolean(b)) = (&field, v.get_ref()) {
            return Some(Condition::Test {
                field,
                op: Op::Is(*b),
            });
        }
        let t = self.table(v, path)?;
        let (mut ok, ops, header_name) = self.test_keys(&field, t, path);
        if let Field::Header(name) = &mut field {
            match header_name {
                Some(n) => *name = n,
                None if ok => {
                    self.err(&v.span(), path, "missing header `name`");
                    ok = false;
                }
                None => {}
            }
        }
        let op = match ops.as_slice() {
            [] => {
                if ok {
                    self.err(
                        &v.span(),
                        path,
                        format!("no operator (expected one of {})", Op::NAMES.join(", ")),
                    );
                }
                return None;
            }
            [(key, value)] => self.op(
                &field,
                key.get_ref(),
                value,
                &format!("{path}.{}", key.get_ref()),
            )?,
            several => {
                let names: Vec<&str> = several.iter().map(|(k, _)| k.get_ref().as_str()).collect();
                self.err(
                    &v.span(),
                    path,
                    format!(
                        "several operators ({}): use exactly one (combine with all/any)",
                        names.join(", ")
                    ),
                );
                return None;
            }
        };
        ok.then_some(Condition::Test { field, op })
    }

    /// A test's keys: its operators, and a header test's `name`; `false` when
    /// a key was wrong (reported).
    fn test_keys<'v>(
        &mut self,
        field: &Field,
        t: &'v Entries,
        path: &str,
    ) -> (bool, Vec<OpEntry<'v>>, Option<String>) {
        let mut ok = true;
        let mut ops: Vec<OpEntry<'v>> = Vec::new();
        let mut header_name = None;
        for (key, value) in t {
            let k = key.get_ref().as_str();
            if matches!(field, Field::Header(_)) && k == "name" {
                match self.string(value, &format!("{path}.name")) {
                    Some(n) if n.trim().is_empty() => {
                        self.err(&value.span(), &format!("{path}.name"), "empty header name");
                        ok = false;
                    }
                    Some(n) => header_name = Some(n.trim().to_string()),
                    None => ok = false,
                }
            } else if Op::NAMES.contains(&k) {
                ops.push((key, value));
            } else {
                let expected = if matches!(field, Field::Header(_)) {
                    format!("name, {}", Op::NAMES.join(", "))
                } else {
                    Op::NAMES.join(", ")
                };
                self.err(
                    &key.span(),
                    &format!("{path}.{k}"),
                    format!("unknown operator (expected {expected})"),
                );
                ok = false;
            }
        }
        (ok, ops, header_name)
    }

    fn op(&mut self, field: &Field, name: &str, v: &Spanned<Node>, path: &str) -> Option<Op> {
        if *field == Field::HasAttachment {
            if name != "equals" {
                self.err(
                    &v.span(),
                    path,
                    "has_attachment takes only true/false (or equals = true/false)",
                );
                return None;
            }
            return self.boolean(v, path).map(Op::Is);
        }
        let op = match name {
            "contains" => Op::Contains(self.string(v, path)?),
            "equals" => Op::Equals(self.string(v, path)?),
            "contains_any" => Op::ContainsAny(self.strings(v, path)?),
            "in" => Op::In(self.strings(v, path)?),
            "matches" => {
                let re = self.string(v, path)?;
                if let Err(e) = compile::regex(&re) {
                    self.err(&v.span(), path, regex_error(&e));
                    return None;
                }
                Op::Matches(re)
            }
            _ => return None,
        };
        if let Op::ContainsAny(l) | Op::In(l) = &op
            && l.is_empty()
        {
            self.err(&v.span(), path, "an empty list never matches");
            return None;
        }
        Some(op)
    }

    fn actions(&mut self, v: &Spanned<Node>, path: &str) -> Option<Actions> {
        let t = self.table(v, path)?;
        let mut a = Actions::default();
        let mut ok = true;
        for (key, value) in t {
            let k = key.get_ref().as_str();
            let kpath = format!("{path}.{k}");
            let before = self.errors.len();
            match k {
                "area" => {
                    if let Some(area) = self.string(value, &kpath) {
                        let area = area.trim().to_string();
                        if !self.areas.is_empty() && !self.areas.contains(&area) {
                            self.err(
                                &value.span(),
                                &kpath,
                                format!("unknown area {area:?} (known: {})", self.areas.join(", ")),
                            );
                        }
                        a.area = Some(area);
                    }
                }
                "priority" => {
                    if let Some(p) = self.string(value, &kpath) {
                        match p.parse() {
                            Ok(p) => a.priority = Some(p),
                            Err(e) => self.err(&value.span(), &kpath, e),
                        }
                    }
                }
                "tags" => {
                    if let Some(tags) = self.strings(value, &kpath) {
                        for t in tags {
                            let t = t.trim().to_string();
                            if t.is_empty() {
                                self.err(&value.span(), &kpath, "empty tag");
                            } else if !a.tags.contains(&t) {
                                a.tags.push(t);
                            }
                        }
                    }
                }
                "owner" => {
                    if let Some(o) = self.string(value, &kpath) {
                        let o = o.trim().to_lowercase();
                        if !self.agents.is_empty()
                            && !self.agents.iter().any(|x| x.eq_ignore_ascii_case(&o))
                        {
                            self.err(
                                &value.span(),
                                &kpath,
                                format!("unknown owner {o:?}: not a configured agent"),
                            );
                        }
                        a.owner = Some(o);
                    }
                }
                "sla" => {
                    if let Some(s) = self.string(value, &kpath) {
                        a.sla = Some(s.trim().to_string());
                    }
                }
                "suppress_ack" => a.suppress_ack = self.boolean(value, &kpath),
                "drop" => a.drop = self.boolean(value, &kpath),
                _ => self.err(
                    &key.span(),
                    &kpath,
                    format!("unknown action (expected {})", Actions::NAMES.join(", ")),
                ),
            }
            ok &= self.errors.len() == before;
        }
        ok.then_some(a)
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

/// `regex parse error: unclosed group` from regex's multi-line message.
fn regex_error(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => {
            let detail = s
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error:"))
                .map(str::trim)
                .unwrap_or(s.as_str());
            format!("regex parse error: {detail}")
        }
        other => format!("regex error: {other}"),
    }
}
