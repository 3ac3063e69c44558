//! The held-back log: once per manager, window and reason, and no more state
//! than one entry per manager however long digests are held back.

use std::sync::Arc;

use super::*;
use crate::config::Config;
use crate::digest::{Digests, DigestsDue, Window};
use crate::outbound::Renderer;
use crate::tickets::hold::Hold;

const MANAGERS: &str = r#"
[[manager]]
email = "carol@example.test"
digest = "0 8 * * Mon-Fri"

[[manager]]
email = "dave@example.test"
digest = "0 * * * *"
"#;

#[test]
fn held_digests_are_logged_once_and_remembered_per_manager() {
    let cfg = Arc::new(Config::parse(MANAGERS, "m.toml").expect("config"));
    let digests =
        Digests::new(cfg.clone(), Renderer::new(&cfg).expect("renderer")).expect("digests");
    let mut done = DigestsDue::default();
    let limit = Hold::RateLimit {
        recent: 5,
        limit: 5,
    };
    let window = |h: i64| Window {
        start: utc("2026-12-01 07:00") + hours(h),
        end: utc("2026-12-01 08:00") + hours(h),
    };
    assert!(digests.held("carol@example.test", window(0), limit.clone(), &mut done));
    assert!(
        !digests.held("carol@example.test", window(0), limit.clone(), &mut done),
        "said once"
    );
    let bounced = Hold::Bounced {
        until: utc("2026-12-02 08:00"),
    };
    assert!(
        digests.held("carol@example.test", window(0), bounced, &mut done),
        "another reason"
    );
    // A week of hourly retries of ever new windows (the scheduler's state
    // when a manager's mail stays held back).
    for h in 0..24 * 7 {
        assert!(digests.held("dave@example.test", window(h), limit.clone(), &mut done));
    }
    let remembered = digests
        .held_logged
        .lock()
        .map(|m| m.len())
        .unwrap_or(usize::MAX);
    assert_eq!(remembered, 2, "one entry per manager");
    assert_eq!(done.held.len(), 3 + 24 * 7);
}
