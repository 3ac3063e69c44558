//! Evaluating a [`RuleSet`] against one mail: pure, no I/O, no clock.

use serde_json::{Value, json};

use super::compile::{CCond, CRule, Group, Regexes, RuleSet, Test, slot};
use crate::mail::ParsedMail;
use crate::tickets::Priority;

/// What the rules see of a mail. Build it with [`RuleSet::input`] (which also
/// looks up the customer tier) or by hand in tests.
#[derive(Debug, Clone, Default)]
pub struct RuleInput<'a> {
    /// The sender's address (compared case-insensitively).
    pub from: &'a str,
    pub to: Vec<&'a str>,
    pub cc: Vec<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    /// Top-level headers, name as written, value unfolded.
    pub headers: Vec<(&'a str, &'a str)>,
    pub attachment_names: Vec<&'a str>,
    pub has_attachment: bool,
    pub customer_tier: Option<&'a str>,
}

impl<'a> RuleInput<'a> {
    pub fn from_mail(mail: &'a ParsedMail, customer_tier: Option<&'a str>) -> RuleInput<'a> {
        RuleInput {
            from: &mail.from.email,
            to: mail.to.iter().map(|m| m.email.as_str()).collect(),
            cc: mail.cc.iter().map(|m| m.email.as_str()).collect(),
            subject: &mail.subject,
            body: &mail.text,
            headers: mail
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            attachment_names: mail
                .attachments
                .iter()
                .filter_map(|a| a.filename.as_deref())
                .collect(),
            has_attachment: !mail.attachments.is_empty(),
            customer_tier,
        }
    }

    /// The part of `from` after the last `@`.
    pub fn from_domain(&self) -> &'a str {
        self.from.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Per evaluated rule: did it match, and how did each of its tests fare.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleTrace {
    pub name: String,
    pub matched: bool,
    /// One line per test, e.g. `subject contains_any ["invoice","refund"]: no`.
    pub conditions: Vec<String>,
}

/// The outcome of the rules for one mail.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    pub area: Option<String>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    pub sla: Option<String>,
    pub suppress_ack: bool,
    /// Store the mail but never acknowledge it.
    pub drop: bool,
    /// Names of the matching rules, in order.
    pub matched: Vec<String>,
    /// Every evaluated rule (empty from [`RuleSet::decide`]).
    pub trace: Vec<RuleTrace>,
}

impl Decision {
    pub fn to_json(&self) -> Value {
        json!({
            "area": self.area,
            "priority": self.priority.map(Priority::as_str),
            "tags": self.tags,
            "owner": self.owner,
            "sla": self.sla,
            "suppress_ack": self.suppress_ack,
            "drop": self.drop,
            "matched": self.matched,
            "trace": self.trace.iter().map(|t| json!({
                "rule": t.name,
                "matched": t.matched,
                "conditions": t.conditions,
            })).collect::<Vec<_>>(),
        })
    }
}

impl RuleSet {
    /// What the rules see of `mail`, with the sender's customer tier.
    pub fn input<'a>(&'a self, mail: &'a ParsedMail) -> RuleInput<'a> {
        RuleInput::from_mail(mail, self.customer_tier(&mail.from.email))
    }

    /// Evaluates with a full trace (every evaluated rule and each of its tests),
    /// for `rules explain`.
    pub fn evaluate(&self, input: &RuleInput<'_>) -> Decision {
        self.run(input, true)
    }

    /// Evaluates without a trace: the fast path.
    pub fn decide(&self, input: &RuleInput<'_>) -> Decision {
        self.run(input, false)
    }

    /// The fast path plus the trace of the rules that matched (why the mail
    /// went where it did), for the routing event stored on the ticket.
    pub fn decide_explained(&self, input: &RuleInput<'_>) -> Decision {
        let mut d = self.run(input, false);
        let mut ev = Evaluator::new(self, input);
        for rule in self.rules.iter().filter(|r| d.matched.contains(&r.name)) {
            let t = ev.trace(rule);
            d.trace.push(t);
        }
        d
    }

    fn run(&self, input: &RuleInput<'_>, trace: bool) -> Decision {
        let mut ev = Evaluator::new(self, input);
        let mut d = Decision::default();
        let (mut suppress_ack, mut drop) = (None, None);
        for rule in &self.rules {
            let matched = if trace {
                let t = ev.trace(rule);
                let m = t.matched;
                d.trace.push(t);
                m
            } else {
                ev.cond(&rule.cond)
            };
            if !matched {
                continue;
            }
            d.matched.push(rule.name.clone());
            let a = &rule.actions;
            fill(&mut d.area, &a.area);
            fill(&mut d.priority, &a.priority);
            fill(&mut d.owner, &a.owner);
            fill(&mut d.sla, &a.sla);
            fill(&mut suppress_ack, &a.suppress_ack);
            fill(&mut drop, &a.drop);
            for t in &a.tags {
                if !d.tags.contains(t) {
                    d.tags.push(t.clone());
                }
            }
            if !rule.cont {
                break;
            }
        }
        d.suppress_ack = suppress_ack.unwrap_or(false);
        d.drop = drop.unwrap_or(false);
        d
    }
}

/// First setter wins.
fn fill<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
    if slot.is_none() {
        slot.clone_from(value);
    }
}

struct Evaluator<'r, 'a> {
    rs: &'r RuleSet,
    input: &'r RuleInput<'a>,
    /// Which atoms matched, valid for slots in `scanned`.
    atoms: Vec<bool>,
    scanned: Vec<bool>,
    lowered: Vec<Option<Vec<String>>>,
}

impl<'r, 'a> Evaluator<'r, 'a> {
    fn new(rs: &'r RuleSet, input: &'r RuleInput<'a>) -> Self {
        Evaluator {
            rs,
            input,
            atoms: vec![false; rs.atom_count],
            scanned: vec![false; rs.groups.len()],
            lowered: vec![None; rs.groups.len()],
        }
    }

    fn cond(&mut self, c: &CCond) -> bool {
        match c {
            CCond::All(cs) => cs.iter().all(|c| self.cond(c)),
            CCond::Any(cs) => cs.iter().any(|c| self.cond(c)),
            CCond::Not(c) => !self.cond(c),
            CCond::Leaf(i) => self.leaf(*i),
        }
    }

    /// Like `cond` but evaluates every test (no short-circuit) and records one
    /// line per test.
    /// One rule, evaluated with a line per test.
    fn trace(&mut self, rule: &CRule) -> RuleTrace {
        let mut conditions = Vec::new();
        let matched = self.cond_traced(&rule.cond, &mut conditions);
        RuleTrace {
            name: rule.name.clone(),
            matched,
            conditions,
        }
    }

    fn cond_traced(&mut self, c: &CCond, lines: &mut Vec<String>) -> bool {
        match c {
            CCond::All(cs) => cs
                .iter()
                .map(|c| self.cond_traced(c, lines))
                .fold(true, |a, b| a & b),
            CCond::Any(cs) => cs
                .iter()
                .map(|c| self.cond_traced(c, lines))
                .fold(false, |a, b| a | b),
            CCond::Not(c) => !self.cond_traced(c, lines),
            CCond::Leaf(i) => {
                let r = self.leaf(*i);
                let desc = &self.rs.leaves[*i].desc;
                lines.push(format!("{desc}: {}", if r { "yes" } else { "no" }));
                r
            }
        }
    }

    fn leaf(&mut self, i: usize) -> bool {
        let leaf = &self.rs.leaves[i];
        match &leaf.test {
            Test::Is(b) => self.input.has_attachment == *b,
            Test::Atoms(ids) => {
                self.scan(leaf.slot);
                ids.iter().any(|&a| self.atoms[a])
            }
            Test::Equals(wanted) => {
                let values = lowered(&mut self.lowered, self.rs, self.input, leaf.slot);
                values.iter().any(|v| wanted.iter().any(|w| w == v))
            }
        }
    }

    /// Runs the slot's automaton and regex set once, marking matched atoms.
    fn scan(&mut self, s: usize) {
        if self.scanned[s] {
            return;
        }
        self.scanned[s] = true;
        let Group { ac, regexes } = &self.rs.groups[s];
        if let Some((ac, ids)) = ac {
            let values = lowered(&mut self.lowered, self.rs, self.input, s);
            let mut left = ids.len();
            'values: for v in values.iter() {
                for m in ac.find_overlapping_iter(v.as_str()) {
                    let a = ids[m.pattern().as_usize()];
                    if !self.atoms[a] {
                        self.atoms[a] = true;
                        left -= 1;
                        if left == 0 {
                            break 'values;
                        }
                    }
                }
            }
        }
        if let Some((regexes, ids)) = regexes {
            for v in values(self.rs, self.input, s) {
                match regexes {
                    Regexes::Set(set) => {
                        for i in set.matches(v).iter() {
                            self.atoms[ids[i]] = true;
                        }
                    }
                    Regexes::Each(each) => {
                        for (i, re) in each.iter().enumerate() {
                            if re.as_ref().is_some_and(|re| re.is_match(v)) {
                                self.atoms[ids[i]] = true;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The values a slot reads (several for to, cc, attachments and headers).
fn values<'a>(rs: &RuleSet, input: &RuleInput<'a>, s: usize) -> Vec<&'a str> {
    match s {
        slot::FROM => vec![input.from],
        slot::FROM_DOMAIN => vec![input.from_domain()],
        slot::TO => input.to.clone(),
        slot::CC => input.cc.clone(),
        slot::SUBJECT => vec![input.subject],
        slot::BODY => vec![input.body],
        slot::ATTACHMENT_NAME => input.attachment_names.clone(),
        slot::CUSTOMER_TIER => input.customer_tier.into_iter().collect(),
        slot::HAS_ATTACHMENT => Vec::new(),
        _ => {
            let name = &rs.header_names[s - slot::HEADER0];
            input
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
                .collect()
        }
    }
}

fn lowered<'c>(
    cache: &'c mut [Option<Vec<String>>],
    rs: &RuleSet,
    input: &RuleInput<'_>,
    s: usize,
) -> &'c [String] {
    cache[s].get_or_insert_with(|| {
        values(rs, input, s)
            .into_iter()
            .map(str::to_lowercase)
            .collect()
    })
}
