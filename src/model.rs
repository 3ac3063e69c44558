//! Small shared types that both `config` and the digests (`digest`) use, so
//! that neither imports the other for them. Owns: the digest's period kind,
//! its window and cron parsing. Must not import any other mailroom module.

use chrono::{DateTime, Datelike, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// What a digest's numbers are compared with (`[[manager]] period`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    /// The span of the same (wall-clock) length right before the window:
    /// Monday's Fri 08:00 to Mon 08:00 against Tue 08:00 to Fri 08:00.
    #[default]
    Day,
    /// The same local hours a week before (whole weeks back, as many as a
    /// longer window needs not to overlap): Monday's Fri 08:00 to Mon 08:00
    /// against the Fri 08:00 to Mon 08:00 of the week before.
    Week,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
        }
    }

    /// The schedule a manager without a cron is previewed with: local
    /// midnight every day (`day`), or Monday 00:00 (`week`).
    pub fn implied_cron(self) -> &'static str {
        match self {
            PeriodKind::Day => "0 0 * * *",
            PeriodKind::Week => "0 0 * * Mon",
        }
    }

    /// How the comparison span is described in a digest.
    pub fn compared_text(self) -> &'static str {
        match self {
            PeriodKind::Day => "the span of the same length before",
            PeriodKind::Week => "the same hours a week before",
        }
    }
}

impl std::str::FromStr for PeriodKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(PeriodKind::Day),
            "week" => Ok(PeriodKind::Week),
            _ => Err(format!("unknown period {s:?} (day, week)")),
        }
    }
}

/// A digest's window: the half-open interval [start, end), in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// A five-field cron expression (minute hour day-of-month month day-of-week;
/// names like `Mon-Fri` and `@daily` work). Day-of-month and day-of-week
/// combine with OR when both are set, as in Vixie cron.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("bad cron {expr:?}: {e} (five fields, e.g. \"0 8 * * Mon-Fri\")"))
}

/// A manager's digest schedule: a cron ([`parse_cron`]) that fires at all
/// (within a century, so a leap day's counts) and at most hourly (its minute
/// field names one minute; two would send digests minutes apart).
pub fn digest_cron(expr: &str) -> Result<Cron, String> {
    let cron = parse_cron(expr)?;
    if cron.pattern.minutes.values().len() != 1 {
        return Err(format!(
            "cron {expr:?} fires more often than hourly; a digest needs one minute, e.g. \"0 8 * * Mon-Fri\""
        ));
    }
    let from = chrono::TimeZone::with_ymd_and_hms(&Utc, 2000, 1, 1, 0, 0, 0).single();
    let fires = from
        .and_then(|f| cron.find_next_occurrence(&f, true).ok())
        .is_some_and(|t: DateTime<Utc>| t.year() < 2100);
    if !fires {
        return Err(format!(
            "cron {expr:?} never fires (no such day); e.g. \"0 8 1 * *\" for the first of each month"
        ));
    }
    Ok(cron)
}
