//! When a mail that did not reach everyone is tried again, and how often.

use std::time::Duration;

/// Exponential backoff: 1 min, 2, 4, … capped at 4 h; give up after 12 attempts
/// (about two days), like an MTA's queue lifetime.
pub const MAX_ATTEMPTS: i64 = 12;
pub(crate) const DEFAULT_RETRY_FIRST: Duration = Duration::from_secs(60);
const RETRY_CAP: Duration = Duration::from_secs(4 * 3600);

/// The wait before attempt `attempts + 1`: `first`, doubling, capped at 4 h.
pub fn retry_delay(first: Duration, attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 16) as u32 - 1;
    first.saturating_mul(1u32 << exp).min(RETRY_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let first = DEFAULT_RETRY_FIRST;
        assert_eq!(retry_delay(first, 1), Duration::from_secs(60));
        assert_eq!(retry_delay(first, 2), Duration::from_secs(120));
        assert_eq!(retry_delay(first, 5), Duration::from_secs(960));
        assert_eq!(retry_delay(first, 50), Duration::from_secs(4 * 3600));
        assert_eq!(
            retry_delay(Duration::from_secs(1), 3),
            Duration::from_secs(4)
        );
    }
}
