//! Validation of a parsed config (and redacted URLs for its errors).

use crate::units::{parse_duration, parse_size};

use super::{Config, InboundConfig, InboundKind, OutboundKind};

impl Config {
    /// Each section in turn; the first error found is the one reported.
    pub(super) fn validate(&self) -> std::result::Result<(), String> {
        self.validate_mailroom()?;
        self.validate_database()?;
        self.validate_inbound()?;
        self.validate_outbound_kind()?;
        self.validate_http()?;
        self.validate_outbound_intervals()?;
        self.validate_people()?;
        self.validate_sla()?;
        self.validate_lifecycle()
    }

    /// `[lifecycle]`: durations that parse; a warning only before an auto-close.
    fn validate_lifecycle(&self) -> std::result::Result<(), String> {
        let l = &self.lifecycle;
        let read = |key: &str, v: &Option<String>| {
            v.as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|e| format!("key lifecycle.{key}: {e}"))
        };
        let after = read("autoclose_pending_after", &l.autoclose_pending_after)?;
        let warning = read("autoclose_warning", &l.autoclose_warning)?;
        read("reopen_window", &l.reopen_window)?;
        match (after, warning) {
            (None, Some(_)) => Err(
                "key lifecycle.autoclose_warning: needs lifecycle.autoclose_pending_after (a warning before what?)"
                    .into(),
            ),
            (Some(a), Some(w)) if w >= a => Err(format!(
                "key lifecycle.autoclose_warning: {:?} is not shorter than autoclose_pending_after {:?}",
                l.autoclose_warning.as_deref().unwrap_or_default(),
                l.autoclose_pending_after.as_deref().unwrap_or_default()
            )),
            _ => Ok(()),
        }
    }

    /// `[mailroom]`, but `default_owner` (checked with the agents).
    fn validate_mailroom(&self) -> std::result::Result<(), String> {
        let m = &self.mailroom;
        if !is_plausible_address(&m.support_address) {
            return Err(format!(
                "key mailroom.support_address: {:?} is not an email address",
                m.support_address
            ));
        }
        if m.ticket_prefix.is_empty() || !m.ticket_prefix.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(format!(
                "key mailroom.ticket_prefix: {:?} must be letters and digits",
                m.ticket_prefix
            ));
        }
        parse_size(&m.max_message_size)
            .map_err(|e| format!("key mailroom.max_message_size: {e}"))?;
        if m.batch_size == 0 {
            return Err("key mailroom.batch_size: must be at least 1".into());
        }
        if let Some(path) = m.ingest_socket.as_deref().filter(|p| *p != "off") {
            // sockaddr_un holds 108 bytes with the closing NUL.
            if path.is_empty() || path.len() > 107 {
                return Err(format!(
                    "key mailroom.ingest_socket: {path:?} is {} bytes; a Unix socket path has 1 to 107",
                    path.len()
                ));
            }
        }
        Ok(())
    }

    fn validate_database(&self) -> std::result::Result<(), String> {
        if !(self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres:")
            || self.database.url.starts_with("postgresql:"))
        {
            return Err(format!(
                "key database.url: expected sqlite://… or postgres://…, got {:?}",
                redact_url(&self.database.url)
            ));
        }
        Ok(())
    }

    /// `[[inbound]]`: unique names, and each source's keys for its kind.
    fn validate_inbound(&self) -> std::result::Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for (i, ib) in self.inbound.iter().enumerate() {
            let key = format!("inbound[{i}]");
            if !names.insert(ib.name.as_str()) {
                return Err(format!(
                    "key {key}.name: duplicate source name {:?}",
                    ib.name
                ));
            }
            validate_source(&key, ib)?;
        }
        Ok(())
    }

    fn validate_outbound_kind(&self) -> std::result::Result<(), String> {
        match self.outbound.kind {
            OutboundKind::File => {
                if self.outbound.path.is_none() {
                    return Err("key outbound.path: required for kind = \"file\"".into());
                }
            }
            OutboundKind::Smtp => {
                self.outbound.endpoint()?;
            }
        }
        Ok(())
    }

    fn validate_http(&self) -> std::result::Result<(), String> {
        if self.http.listen != "off" && self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "key http.listen: {:?} is not an address like \"127.0.0.1:9466\" (or \"off\")",
                self.http.listen
            ));
        }
        Ok(())
    }

    fn validate_outbound_intervals(&self) -> std::result::Result<(), String> {
        if let Some(iv) = &self.outbound.retry_first {
            parse_duration(iv).map_err(|e| format!("key outbound.retry_first: {e}"))?;
        }
        if let Some(iv) = &self.outbound.flush_interval {
            parse_duration(iv).map_err(|e| format!("key outbound.flush_interval: {e}"))?;
        }
        Ok(())
    }

    /// `[[area]]` strategies, `[[agent]]` emails, `mailroom.default_owner`.
    fn validate_people(&self) -> std::result::Result<(), String> {
        for (i, a) in self.area.iter().enumerate() {
            if let Some(st) = &a.strategy
                && crate::rules::assign::Strategy::parse(st).is_none()
            {
                return Err(format!(
                    "key area[{i}].strategy: {st:?} is not one of round_robin, least_loaded, fixed"
                ));
            }
        }
        for (i, a) in self.agent.iter().enumerate() {
            if !is_plausible_address(&a.email) {
                return Err(format!(
                    "key agent[{i}].email: {:?} is not an email address",
                    a.email
                ));
            }
        }
        if let Some(o) = &self.mailroom.default_owner
            && !self.agent.iter().any(|a| a.email.eq_ignore_ascii_case(o))
        {
            return Err(format!(
                "key mailroom.default_owner: {o:?} is not an [[agent]] email"
            ));
        }
        Ok(())
    }

    /// `[[calendar]]`, area calendars, `[sla.*]`, `[[manager]]` and the time zones.
    fn validate_sla(&self) -> std::result::Result<(), String> {
        use crate::sla::calendar::{Calendar, parse_time_zone};
        parse_time_zone(&self.mailroom.time_zone)
            .map_err(|e| format!("key mailroom.time_zone: {e}"))?;
        for (i, a) in self.agent.iter().enumerate() {
            if let Some(tz) = &a.time_zone {
                parse_time_zone(tz).map_err(|e| format!("key agent[{i}].time_zone: {e}"))?;
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, c) in self.calendar.iter().enumerate() {
            if !names.insert(c.name.as_str()) {
                return Err(format!(
                    "key calendar[{i}].name: duplicate calendar name {:?}",
                    c.name
                ));
            }
            Calendar::from_config(c).map_err(|e| format!("key calendar[{i}].{e}"))?;
        }
        for (i, a) in self.area.iter().enumerate() {
            if let Some(cal) = &a.calendar
                && !names.contains(cal.as_str())
            {
                return Err(format!("key area[{i}].calendar: no calendar {cal:?}"));
            }
        }
        for (name, sla) in &self.sla {
            crate::sla::Targets::from_config(sla)
                .map_err(|(k, e)| format!("key sla.{name}.{k}: {e}"))?;
        }
        for (i, m) in self.manager.iter().enumerate() {
            if !is_plausible_address(&m.email) {
                return Err(format!(
                    "key manager[{i}].email: {:?} is not an email address",
                    m.email
                ));
            }
            if let Some(tz) = &m.time_zone {
                parse_time_zone(tz).map_err(|e| format!("key manager[{i}].time_zone: {e}"))?;
            }
            if let Some(cron) = &m.digest {
                crate::model::digest_cron(cron)
                    .map_err(|e| format!("key manager[{i}].digest: {e}"))?;
            }
        }
        Ok(())
    }
}

/// One `[[inbound]]` source; `key` is `inbound[i]`.
fn validate_source(key: &str, ib: &InboundConfig) -> std::result::Result<(), String> {
    match ib.kind {
        InboundKind::Maildir => {
            if ib.path.is_none() {
                return Err(format!("key {key}.path: required for kind = \"maildir\""));
            }
        }
        InboundKind::Imap => {
            if ib.server.username.is_none() {
                return Err(format!("key {key}.username: required for kind = \"imap\""));
            }
            ib.endpoint(key.to_string())?;
            if ib.processed_folder.as_deref() == Some(ib.folder()) {
                return Err(format!(
                    "key {key}.processed_folder: must differ from folder {:?}",
                    ib.folder()
                ));
            }
        }
    }
    if let Some(iv) = &ib.poll_interval {
        parse_duration(iv).map_err(|e| format!("key {key}.poll_interval: {e}"))?;
    }
    Ok(())
}

pub(super) fn is_plausible_address(a: &str) -> bool {
    match a.split_once('@') {
        Some((l, d)) => !l.is_empty() && !d.is_empty() && !a.contains(char::is_whitespace),
        None => false,
    }
}

/// Hide credentials when echoing a URL in an error.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}
