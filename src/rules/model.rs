//! The rules file as written (DESIGN §7): a serde model that keeps the byte
//! span of every key and value, and the typed rules read from it.
//!
//! The file is deserialized (serde, via `toml`) into [`Node`], a TOML tree in
//! which every key and value is a [`toml::Spanned`]; `check` walks that tree to
//! build the typed model ([`RulesFile`]) and reports every problem at once with
//! its `file:line` and key path. A derive-based model would stop at the first
//! error, which is why the typed model is built by hand.
//!
//! ```toml
//! [[customer]]
//! domain = "bigco.test"        # or address = "ceo@x.test"
//! name = "BigCo"
//! tier = "enterprise"
//!
//! [[rule]]
//! name = "billing"
//! when = { any = [ { subject = { contains_any = ["invoice", "refund"] } },
//!                  { body = { matches = '(?i)\bcharged? twice\b' } } ] }
//! then = { area = "billing", priority = "high" }
//! continue = false
//! ```

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use crate::tickets::Priority;

/// One TOML value with spans on everything below it.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Array(Vec<Spanned<Node>>),
    /// Keys in file order (a datetime shows up as a one-key table).
    Table(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::String(_) => "a string",
            Node::Integer(_) => "an integer",
            Node::Float(_) => "a float",
            Node::Boolean(_) => "a boolean",
            Node::Array(_) => "an array",
            Node::Table(t) if t.len() == 1 && t[0].0.get_ref().starts_with("$__toml") => {
                "a datetime"
            }
            Node::Table(_) => "a table",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Boolean(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Integer(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v)
            .map(Node::Integer)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Table(entries))
    }
}

/// The whole rules file, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RulesFile {
    pub customers: Vec<Customer>,
    pub rules: Vec<Rule>,
}

/// `[[customer]]`: who the sender is, by exact address or by domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Customer {
    /// Lowercased.
    pub address: Option<String>,
    /// Lowercased, without a leading `@`; subdomains match too.
    pub domain: Option<String>,
    pub name: Option<String>,
    pub tier: Option<String>,
    /// 1-based line of the `[[customer]]` entry.
    pub line: usize,
}

/// `[[rule]]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    pub name: String,
    pub when: Condition,
    pub then: Actions,
    #[serde(rename = "continue")]
    pub cont: bool,
    /// 1-based line of the rule.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// `all = [...]`; `when = {}` is `All([])`, which matches every mail.
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test {
        field: Field,
        op: Op,
    },
}

impl Condition {
    /// True when the condition matches every mail whatever its content.
    pub fn always_true(&self) -> bool {
        match self {
            Condition::All(c) => c.iter().all(Condition::always_true),
            Condition::Any(c) => c.iter().any(Condition::always_true),
            Condition::Not(c) => c.always_false(),
            Condition::Test { .. } => false,
        }
    }

    /// True when the condition can never match (`any = []`, `not {}`).
    pub fn always_false(&self) -> bool {
        match self {
            Condition::All(c) => c.iter().any(Condition::always_false),
            Condition::Any(c) => c.iter().all(Condition::always_false),
            Condition::Not(c) => c.always_true(),
            Condition::Test { .. } => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The sender's (lowercased) address.
    From,
    FromDomain,
    /// Any To address.
    To,
    /// Any Cc address.
    Cc,
    Subject,
    /// The text body.
    Body,
    /// Any value of the named header (name matched case-insensitively).
    Header(String),
    HasAttachment,
    /// Any attachment's file name.
    AttachmentName,
    /// The tier of the `[[customer]]` the sender belongs to.
    CustomerTier,
}

impl Field {
    pub const NAMES: [&'static str; 10] = [
        "from",
        "from_domain",
        "to",
        "cc",
        "subject",
        "body",
        "header",
        "has_attachment",
        "attachment_name",
        "customer_tier",
    ];

    /// The field for a key of the rules file (`header` needs its name).
    pub fn from_key(key: &str) -> Option<Field> {
        Some(match key {
            "from" => Field::From,
            "from_domain" => Field::FromDomain,
            "to" => Field::To,
            "cc" => Field::Cc,
            "subject" => Field::Subject,
            "body" => Field::Body,
            "header" => Field::Header(String::new()),
            "has_attachment" => Field::HasAttachment,
            "attachment_name" => Field::AttachmentName,
            "customer_tier" => Field::CustomerTier,
            _ => return None,
        })
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::From => f.write_str("from"),
            Field::FromDomain => f.write_str("from_domain"),
            Field::To => f.write_str("to"),
            Field::Cc => f.write_str("cc"),
            Field::Subject => f.write_str("subject"),
            Field::Body => f.write_str("body"),
            Field::Header(name) => write!(f, "header {name}"),
            Field::HasAttachment => f.write_str("has_attachment"),
            Field::AttachmentName => f.write_str("attachment_name"),
            Field::CustomerTier => f.write_str("customer_tier"),
        }
    }
}

/// One operator with its operand. Text comparisons are case-insensitive;
/// regexes too unless they turn it off with `(?-i)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Contains(String),
    ContainsAny(Vec<String>),
    Matches(String),
    Equals(String),
    In(Vec<String>),
    /// `has_attachment = true|false`.
    Is(bool),
}

impl Op {
    pub const NAMES: [&'static str; 5] = ["contains", "contains_any", "matches", "equals", "in"];
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = |v: &dyn erased::Json| v.json();
        match self {
            Op::Contains(s) => write!(f, "contains {}", json(s)),
            Op::ContainsAny(l) => write!(f, "contains_any {}", json(l)),
            Op::Matches(s) => write!(f, "matches {}", json(s)),
            Op::Equals(s) => write!(f, "equals {}", json(s)),
            Op::In(l) => write!(f, "in {}", json(l)),
            Op::Is(b) => write!(f, "equals {b}"),
        }
    }
}

mod erased {
    /// Compact JSON text for trace lines: `"x"`, `["a","b"]`.
    pub trait Json {
        fn json(&self) -> String;
    }
    impl Json for String {
        fn json(&self) -> String {
            serde_json::Value::from(self.as_str()).to_string()
        }
    }
    impl Json for Vec<String> {
        fn json(&self) -> String {
            serde_json::Value::from(self.clone()).to_string()
        }
    }
}

/// `then = { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Actions {
    pub area: Option<String>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    /// Lowercased agent address.
    pub owner: Option<String>,
    pub sla: Option<String>,
    pub suppress_ack: Option<bool>,
    pub drop: Option<bool>,
}

impl Actions {
    pub const NAMES: [&'static str; 7] = [
        "area",
        "priority",
        "tags",
        "owner",
        "sla",
        "suppress_ack",
        "drop",
    ];
}
