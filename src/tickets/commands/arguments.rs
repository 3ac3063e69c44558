//! Command arguments (pure): the agent, area, tag, address, ticket or wait
//! a command names, checked against the `Directory`.

use std::str::FromStr;

use super::{Command, Directory, Wait};

/// `Wait::For` in JSON: seconds.
pub(super) fn seconds<S: serde::Serializer>(d: &chrono::Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.num_seconds())
}

/// `3d`, `36h`: a wait as written back.
pub(super) fn wait_text(d: chrono::Duration) -> String {
    if d.num_seconds() % 86_400 == 0 {
        format!("{}d", d.num_days())
    } else if d.num_seconds() % 3600 == 0 {
        format!("{}h", d.num_hours())
    } else {
        format!("{}m", d.num_minutes())
    }
}

/// The longest wait `#pending` takes: a year.
const MAX_WAIT_DAYS: i64 = 366;

/// `#pending 3d`, `#pending 2w`, `#pending until 2027-01-15`.
pub(super) fn pending(arg: &str) -> Result<Wait, String> {
    let usage = "#pending takes a wait like 3d, 36h or 2w, or \"until YYYY-MM-DD\"";
    if let Some(date) = arg
        .strip_prefix("until ")
        .or_else(|| arg.strip_prefix("UNTIL "))
    {
        return chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
            .map(Wait::Until)
            .map_err(|_| format!("{usage} (got {arg:?})"));
    }
    let d = humantime::parse_duration(arg)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .filter(|d| *d >= chrono::Duration::minutes(1))
        .ok_or_else(|| format!("{usage} (got {arg:?})"))?;
    if d > chrono::Duration::days(MAX_WAIT_DAYS) {
        return Err(format!("#pending waits at most a year (got {arg:?})"));
    }
    Ok(Wait::For(d))
}

/// `#merge MR-12` or `#merge MR-12 force`.
pub(super) fn merge(arg: &str, dir: &Directory) -> Result<Command, String> {
    let mut words = arg.split_whitespace();
    let target = words.next().unwrap_or_default();
    let force = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("force") => true,
        Some(w) => return Err(format!("#merge takes a ticket and \"force\" (got {w:?})")),
    };
    if let Some(w) = words.next() {
        return Err(format!("#merge takes a ticket and \"force\" (got {w:?})"));
    }
    let into = crate::tickets::parse_ref(&dir.ticket_prefix, target).ok_or_else(|| {
        format!(
            "#merge: {target:?} is not a ticket like {}",
            crate::tickets::format_ref(&dir.ticket_prefix, 12)
        )
    })?;
    Ok(Command::Merge { into, force })
}

/// `#assign` an agent by address or roster name.
pub(super) fn assign(arg: &str, dir: &Directory) -> Result<Command, String> {
    let lower = arg.to_ascii_lowercase();
    dir.agents
        .iter()
        .find(|(email, name)| {
            *email == lower
                || name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(arg.trim()))
        })
        .map(|(email, _)| Command::Assign(email.clone()))
        .ok_or_else(|| format!("no agent {arg:?} on the roster"))
}

/// `#area` by name, any case.
pub(super) fn area(arg: &str, dir: &Directory) -> Result<Command, String> {
    dir.areas
        .iter()
        .find(|a| a.eq_ignore_ascii_case(arg))
        .map(|a| Command::Area(a.clone()))
        .ok_or_else(|| {
            format!(
                "no area {arg:?} (areas: {})",
                if dir.areas.is_empty() {
                    "none configured".into()
                } else {
                    dir.areas.join(", ")
                }
            )
        })
}

/// `#tag` or `#untag` (`word`) one word.
pub(super) fn tag(word: &str, arg: &str) -> Result<Command, String> {
    let tag = arg.to_ascii_lowercase();
    let ok = !tag.is_empty()
        && tag.len() <= 64
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'));
    if !ok {
        return Err(format!(
            "#{} needs one word of letters, digits, - _ . : / (got {arg:?})",
            word.to_ascii_lowercase()
        ));
    }
    Ok(if word.eq_ignore_ascii_case("tag") {
        Command::Tag(tag)
    } else {
        Command::Untag(tag)
    })
}

/// `#cc` "Name <addr>" or a bare address; never an internal one.
pub(super) fn cc(arg: &str, dir: &Directory) -> Result<Command, String> {
    let addr = match (arg.rfind('<'), arg.rfind('>')) {
        (Some(a), Some(b)) if a < b => &arg[a + 1..b],
        _ => arg,
    }
    .trim()
    .to_ascii_lowercase();
    if lettre::Address::from_str(&addr).is_err() {
        return Err(format!("#cc: {arg:?} is not an email address"));
    }
    if dir.internal.contains(&addr) {
        return Err(format!(
            "#cc: {addr} is an internal address (an agent, a manager or mailroom itself) and never goes to a customer's thread"
        ));
    }
    Ok(Command::Cc(addr))
}
