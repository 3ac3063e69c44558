//! Conditions of the rules file: `all`, `any`, `not` and field tests with
//! their operators.

use toml::Spanned;

use super::super::compile;
use super::super::model::{Condition, Field, Node, Op};
use super::{Cx, Entries, OpEntry};

impl Cx<'_> {
    pub(super) fn condition(&mut self, v: &Spanned<Node>, path: &str) -> Option<Condition> {
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
