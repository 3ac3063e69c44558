//! Compiling a validated [`RulesFile`] into a [`RuleSet`]: every substring test
//! of a field goes into one Aho-Corasick automaton and every regex of a field
//! into one `RegexSet`, so evaluating a mail scans each field it needs once,
//! however many rules there are.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::model::{Actions, Condition, Customer, Field, Op, RulesFile};

/// A compiled rules file. Build it with [`RuleSet::parse`] (the shell reads the file).
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(super) customers: Vec<Customer>,
    pub(super) by_address: HashMap<String, usize>,
    pub(super) by_domain: HashMap<String, usize>,
    pub(super) rules: Vec<CRule>,
    pub(super) leaves: Vec<Leaf>,
    /// One per slot (see `slot`), the matchers of that field.
    pub(super) groups: Vec<Group>,
    /// Lowercased names of the headers rules look at; slot `HEADER0 + i`.
    pub(super) header_names: Vec<String>,
    pub(super) atom_count: usize,
}

#[derive(Debug, Clone)]
pub(super) struct CRule {
    pub name: String,
    pub cond: CCond,
    pub actions: Actions,
    pub cont: bool,
}

#[derive(Debug, Clone)]
pub(super) enum CCond {
    All(Vec<CCond>),
    Any(Vec<CCond>),
    Not(Box<CCond>),
    Leaf(usize),
}

#[derive(Debug, Clone)]
pub(super) struct Leaf {
    pub slot: usize,
    pub test: Test,
    /// `subject contains_any ["invoice","refund"]`, for traces.
    pub desc: String,
}

#[derive(Debug, Clone)]
pub(super) enum Test {
    /// True when any of these atoms (substrings or regexes) matched the slot.
    Atoms(Vec<usize>),
    /// True when any value of the slot equals (lowercased) one of these.
    Equals(Vec<String>),
    /// has_attachment.
    Is(bool),
}

#[derive(Debug, Clone, Default)]
pub(super) struct Group {
    /// Lowercased needles -> atom ids.
    pub ac: Option<(AhoCorasick, Vec<usize>)>,
    pub regexes: Option<(Regexes, Vec<usize>)>,
}

#[derive(Debug, Clone)]
pub(super) enum Regexes {
    Set(RegexSet),
    /// When the combined set is too big to compile.
    Each(Vec<Option<Regex>>),
}

/// Slots: which value of a mail a test reads.
pub(super) mod slot {
    pub const FROM: usize = 0;
    pub const FROM_DOMAIN: usize = 1;
    pub const TO: usize = 2;
    pub const CC: usize = 3;
    pub const SUBJECT: usize = 4;
    pub const BODY: usize = 5;
    pub const ATTACHMENT_NAME: usize = 6;
    pub const CUSTOMER_TIER: usize = 7;
    pub const HAS_ATTACHMENT: usize = 8;
    pub const HEADER0: usize = 9;
}

/// A rule regex: case-insensitive unless it says `(?-i)`.
pub(crate) fn regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 24)
        .build()
}

#[derive(Default)]
struct GroupBuilder {
    needles: Vec<String>,
    needle_atoms: Vec<usize>,
    needle_ids: HashMap<String, usize>,
    patterns: Vec<String>,
    pattern_atoms: Vec<usize>,
    pattern_ids: HashMap<String, usize>,
}

struct Builder {
    groups: Vec<GroupBuilder>,
    header_names: Vec<String>,
    leaves: Vec<Leaf>,
    atoms: usize,
}

impl Builder {
    fn slot(&mut self, field: &Field) -> usize {
        let s = match field {
            Field::From => slot::FROM,
            Field::FromDomain => slot::FROM_DOMAIN,
            Field::To => slot::TO,
            Field::Cc => slot::CC,
            Field::Subject => slot::SUBJECT,
            Field::Body => slot::BODY,
            Field::AttachmentName => slot::ATTACHMENT_NAME,
            Field::CustomerTier => slot::CUSTOMER_TIER,
            Field::HasAttachment => slot::HAS_ATTACHMENT,
            Field::Header(name) => {
                let name = name.to_ascii_lowercase();
                let i = match self.header_names.iter().position(|n| *n == name) {
                    Some(i) => i,
                    None => {
                        self.header_names.push(name);
                        self.header_names.len() - 1
                    }
                };
                slot::HEADER0 + i
            }
        };
        if self.groups.len() <= s {
            self.groups.resize_with(s + 1, GroupBuilder::default);
        }
        s
    }

    fn needle(&mut self, slot: usize, needle: &str) -> usize {
        let needle = needle.to_lowercase();
        let g = &mut self.groups[slot];
        if let Some(&a) = g.needle_ids.get(&needle) {
            return a;
        }
        let a = self.atoms;
        self.atoms += 1;
        g.needle_ids.insert(needle.clone(), a);
        g.needles.push(needle);
        g.needle_atoms.push(a);
        a
    }

    fn pattern(&mut self, slot: usize, pattern: &str) -> usize {
        let g = &mut self.groups[slot];
        if let Some(&a) = g.pattern_ids.get(pattern) {
            return a;
        }
        let a = self.atoms;
        self.atoms += 1;
        g.pattern_ids.insert(pattern.to_string(), a);
        g.patterns.push(pattern.to_string());
        g.pattern_atoms.push(a);
        a
    }

    fn cond(&mut self, c: &Condition) -> CCond {
        match c {
            Condition::All(cs) => CCond::All(cs.iter().map(|c| self.cond(c)).collect()),
            Condition::Any(cs) => CCond::Any(cs.iter().map(|c| self.cond(c)).collect()),
            Condition::Not(c) => CCond::Not(Box::new(self.cond(c))),
            Condition::Test { field, op } => {
                let slot = self.slot(field);
                let test = match op {
                    Op::Contains(s) => Test::Atoms(vec![self.needle(slot, s)]),
                    Op::ContainsAny(l) => {
                        let mut ids: Vec<usize> = l.iter().map(|s| self.needle(slot, s)).collect();
                        ids.dedup();
                        Test::Atoms(ids)
                    }
                    Op::Matches(p) => Test::Atoms(vec![self.pattern(slot, p)]),
                    Op::Equals(s) => Test::Equals(vec![s.to_lowercase()]),
                    Op::In(l) => Test::Equals(l.iter().map(|s| s.to_lowercase()).collect()),
                    Op::Is(b) => Test::Is(*b),
                };
                self.leaves.push(Leaf {
                    slot,
                    test,
                    desc: format!("{field} {op}"),
                });
                CCond::Leaf(self.leaves.len() - 1)
            }
        }
    }
}

/// Compiles a validated rules file (regexes were checked by `check`).
pub(crate) fn compile(file: RulesFile) -> RuleSet {
    let mut b = Builder {
        groups: Vec::new(),
        header_names: Vec::new(),
        leaves: Vec::new(),
        atoms: 0,
    };
    b.groups.resize_with(slot::HEADER0, GroupBuilder::default);
    let rules = file
        .rules
        .into_iter()
        .map(|r| CRule {
            cond: b.cond(&r.when),
            name: r.name,
            actions: r.then,
            cont: r.cont,
        })
        .collect();
    let groups = b.groups.into_iter().map(build_group).collect();

    let mut by_address = HashMap::new();
    let mut by_domain = HashMap::new();
    for (i, c) in file.customers.iter().enumerate() {
        if let Some(a) = &c.address {
            by_address.entry(a.clone()).or_insert(i);
        }
        if let Some(d) = &c.domain {
            by_domain.entry(d.clone()).or_insert(i);
        }
    }
    RuleSet {
        customers: file.customers,
        by_address,
        by_domain,
        rules,
        leaves: b.leaves,
        groups,
        header_names: b.header_names,
        atom_count: b.atoms,
    }
}

fn build_group(g: GroupBuilder) -> Group {
    let ac = if g.needles.is_empty() {
        None
    } else {
        // Needles are plain lowercase text: building cannot fail short of
        // absurd sizes, in which case those tests never match.
        AhoCorasick::new(&g.needles)
            .ok()
            .map(|ac| (ac, g.needle_atoms))
    };
    let regexes = if g.patterns.is_empty() {
        None
    } else {
        let set = RegexSetBuilder::new(&g.patterns)
            .case_insensitive(true)
            .size_limit(1 << 27)
            .dfa_size_limit(1 << 25)
            .build();
        let r = match set {
            Ok(set) => Regexes::Set(set),
            Err(_) => Regexes::Each(g.patterns.iter().map(|p| regex(p).ok()).collect()),
        };
        Some((r, g.pattern_atoms))
    };
    Group { ac, regexes }
}

impl RuleSet {
    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rule names in file order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    pub fn customers(&self) -> &[Customer] {
        &self.customers
    }

    /// The `[[customer]]` a sender belongs to: by exact address first, then by
    /// domain (the most specific of the address's domain and its parents).
    pub fn customer(&self, email: &str) -> Option<&Customer> {
        let email = email.trim().to_lowercase();
        if let Some(&i) = self.by_address.get(&email) {
            return Some(&self.customers[i]);
        }
        let mut domain = email.rsplit_once('@').map(|(_, d)| d)?;
        loop {
            if let Some(&i) = self.by_domain.get(domain) {
                return Some(&self.customers[i]);
            }
            domain = domain.split_once('.')?.1;
        }
    }

    /// The tier of the sender's `[[customer]]`, if any.
    pub fn customer_tier(&self, email: &str) -> Option<&str> {
        self.customer(email).and_then(|c| c.tier.as_deref())
    }
}
