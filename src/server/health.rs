//! What `serve` reports about itself: per-source state for /healthz and the
//! Prometheus metrics for /metrics. Sources and the outbox worker write here;
//! the HTTP endpoint (`server::http`) only reads.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::inbound::{LeaseState, SourceReport, SourceState};
use crate::pipeline::Outcome;
use crate::text_enum::{text_enum, text_from_str};

/// One inbound source as /healthz shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceHealth {
    pub kind: &'static str,
    pub state: SourceState,
    pub connected: bool,
    pub last_sync: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub messages: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uidvalidity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_uid: Option<u32>,
    /// IMAP: this instance's hold on the mailbox's lease (held | starting |
    /// standby | lost | released).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<&'static str>,
}

text_enum!(
    /// The instance as a whole (/healthz answers 503 unless `ok`).
    HealthStatus {
        Ok => "ok",
        /// Some source has an error or stopped.
        Degraded => "degraded",
    } "health status"
);

text_from_str!(HealthStatus, exact);

impl SourceHealth {
    /// Healthy: no error since the last successful sync.
    pub fn ok(&self) -> bool {
        self.last_error.is_none() && self.state != SourceState::Stopped
    }
}

#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub status: HealthStatus,
    pub sources: BTreeMap<String, SourceHealth>,
    pub outbox_depth: Option<i64>,
    pub outbox_last_error: Option<String>,
    /// The leases this instance holds (mailboxes it syncs).
    pub leases_held: Vec<String>,
}

#[derive(Default)]
pub struct Health {
    sources: Mutex<BTreeMap<String, SourceHealth>>,
    /// Lease name -> held, for /healthz.
    leases: Mutex<BTreeMap<String, bool>>,
    outbox: Mutex<(Option<i64>, Option<String>)>,
}

impl Health {
    pub fn new() -> Health {
        Health::default()
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut SourceHealth)) {
        let mut map = match self.sources.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        f(map.entry(name.to_string()).or_default());
    }

    pub fn outbox(&self, depth: Option<i64>, error: Option<String>) {
        if let Some(d) = depth {
            metrics::gauge!("mailroom_outbox_depth").set(d as f64);
        }
        if error.is_some() {
            metrics::counter!("mailroom_outbox_errors_total").increment(1);
        }
        let mut o = match self.outbox.lock() {
            Ok(o) => o,
            Err(p) => p.into_inner(),
        };
        if depth.is_some() {
            o.0 = depth;
        }
        o.1 = error;
    }

    pub fn snapshot(&self) -> Snapshot {
        let sources = match self.sources.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let (outbox_depth, outbox_last_error) = match self.outbox.lock() {
            Ok(o) => o.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let ok = sources.values().all(SourceHealth::ok);
        let leases_held = self
            .leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, held)| **held)
            .map(|(k, _)| k.clone())
            .collect();
        Snapshot {
            status: if ok {
                HealthStatus::Ok
            } else {
                HealthStatus::Degraded
            },
            sources,
            outbox_depth,
            outbox_last_error,
            leases_held,
        }
    }
}

impl SourceReport for Health {
    fn register(&self, name: &str, kind: &'static str) {
        self.update(name, |s| {
            s.kind = kind;
            s.state = SourceState::Connecting;
        });
    }

    fn state(&self, name: &str, state: SourceState) {
        self.update(name, |s| s.state = state);
    }

    fn connected(&self, name: &str, uidvalidity: u32) {
        metrics::gauge!("mailroom_source_connected", "source" => name.to_string()).set(1.0);
        self.update(name, |s| {
            s.connected = true;
            s.state = SourceState::Syncing;
            s.uidvalidity = Some(uidvalidity);
        });
    }

    /// A sync pass finished: the source is healthy again.
    fn synced(&self, name: &str, last_uid: Option<u32>) {
        let now = Utc::now();
        metrics::gauge!("mailroom_source_last_sync_timestamp_seconds", "source" => name.to_string())
            .set(now.timestamp_millis() as f64 / 1000.0);
        self.update(name, |s| {
            s.last_sync = Some(now);
            s.last_error = None;
            s.consecutive_failures = 0;
            if last_uid.is_some() {
                s.last_uid = last_uid;
            }
        });
    }

    fn failed(&self, name: &str, error: &str) {
        metrics::counter!("mailroom_source_errors_total", "source" => name.to_string())
            .increment(1);
        metrics::gauge!("mailroom_source_connected", "source" => name.to_string()).set(0.0);
        self.update(name, |s| {
            s.connected = false;
            s.state = SourceState::Backoff;
            s.last_error = Some(error.to_string());
            s.last_error_at = Some(Utc::now());
            s.consecutive_failures += 1;
        });
    }

    fn stopped(&self, name: &str) {
        metrics::gauge!("mailroom_source_connected", "source" => name.to_string()).set(0.0);
        self.update(name, |s| {
            s.connected = false;
            s.state = SourceState::Stopped;
        });
    }

    /// A change in this instance's hold on a source's lease `key`.
    fn lease(&self, name: &str, key: &str, state: LeaseState) {
        let held = state == LeaseState::Held;
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let was = leases.insert(key.to_string(), held).unwrap_or(false);
        drop(leases);
        if was != held {
            metrics::counter!("mailroom_lease_changes_total",
                "source" => name.to_string(), "change" => if held { "acquired" } else { state.as_str() })
            .increment(1);
        }
        metrics::gauge!("mailroom_lease_held", "source" => name.to_string()).set(if held {
            1.0
        } else {
            0.0
        });
        self.update(name, |s| {
            s.lease = Some(state.as_str());
            let shown = match state {
                LeaseState::Standby => Some(SourceState::Standby),
                LeaseState::Starting => Some(SourceState::Starting),
                _ => None,
            };
            if let Some(shown) = shown {
                s.state = shown;
                s.connected = false;
                s.last_error = None;
            }
        });
    }

    /// Counts a committed batch's outcomes (messages ingested by outcome).
    fn ingested(&self, name: &str, outcomes: &[Outcome]) {
        for o in outcomes {
            metrics::counter!("mailroom_messages_ingested_total",
                "source" => name.to_string(), "outcome" => o.outcome.as_str())
            .increment(1);
        }
        let n = outcomes.len() as u64;
        self.update(name, |s| s.messages += n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_shown_by_their_text() {
        for s in SourceState::ALL {
            assert_eq!(s.as_str().parse::<SourceState>(), Ok(*s));
        }
        for s in HealthStatus::ALL {
            assert_eq!(s.as_str().parse::<HealthStatus>(), Ok(*s));
        }
        assert!("Idle".parse::<SourceState>().is_err());
        let h = Health::new();
        h.register("inbox", "imap");
        h.lease("inbox", "k", LeaseState::Standby);
        h.register("drop", "maildir");
        h.stopped("drop");
        let json = serde_json::to_value(h.snapshot()).expect("json");
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["sources"]["inbox"]["state"], "standby");
        assert_eq!(json["sources"]["drop"]["state"], "stopped");
    }
}
