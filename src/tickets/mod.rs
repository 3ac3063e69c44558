//! Pure ticket model: statuses, priorities, references and the transitions a
//! message causes.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for support.
    Open,
    /// Waiting for the customer.
    Pending,
    /// Answered and done; a customer follow-up reopens it.
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Resolved => "resolved",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "open" => Ok(Status::Open),
            "pending" => Ok(Status::Pending),
            "resolved" | "closed" => Ok(Status::Resolved),
            other => Err(format!(
                "unknown status {other:?} (open, pending, resolved)"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            "urgent" => Ok(Priority::Urgent),
            other => Err(format!(
                "unknown priority {other:?} (low, normal, high, urgent)"
            )),
        }
    }
}

/// What a customer follow-up does to a ticket's status.
pub fn after_customer_followup(current: Status) -> Option<Status> {
    match current {
        Status::Open => None,
        // The customer answered: the ball is in support's court again.
        Status::Pending | Status::Resolved => Some(Status::Open),
    }
}

/// `MR-1042` for ticket 1042.
pub fn format_ref(prefix: &str, id: i64) -> String {
    format!("{prefix}-{id}")
}

/// Accepts `MR-1042`, `mr-1042`, `[MR-1042]` or `1042`.
pub fn parse_ref(prefix: &str, s: &str) -> Option<i64> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    let num = match s.split_once('-') {
        Some((p, n)) if p.eq_ignore_ascii_case(prefix) => n,
        Some(_) => return None,
        None => s,
    };
    num.parse().ok().filter(|n: &i64| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        assert_eq!(format_ref("MR", 7), "MR-7");
        assert_eq!(parse_ref("MR", "MR-1042"), Some(1042));
        assert_eq!(parse_ref("MR", "mr-1042"), Some(1042));
        assert_eq!(parse_ref("MR", "[MR-3]"), Some(3));
        assert_eq!(parse_ref("MR", "1042"), Some(1042));
        assert_eq!(parse_ref("MR", "XY-1042"), None);
        assert_eq!(parse_ref("MR", "MR-x"), None);
        assert_eq!(parse_ref("MR", "0"), None);
    }

    #[test]
    fn followup_reopens() {
        assert_eq!(
            after_customer_followup(Status::Resolved),
            Some(Status::Open)
        );
        assert_eq!(after_customer_followup(Status::Pending), Some(Status::Open));
        assert_eq!(after_customer_followup(Status::Open), None);
        assert_eq!("closed".parse::<Status>(), Ok(Status::Resolved));
        assert!("weird".parse::<Status>().is_err());
    }
}
