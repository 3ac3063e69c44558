//! Fault injection for tests of the panic paths, compiled into debug builds
//! only (the test suite runs the debug binary; release builds have no hook).
//! `MAILROOM_FAULT=<point>:<marker>` makes the pipeline panic at `point`
//! (`parse`, `decide`, and `render`, `send` in the outbox worker) for a message whose
//! bytes (parse) or subject (decide, render, send)
//! contain `marker`.

/// Panics at `point` when the fault hook asks for it.
#[cfg(debug_assertions)]
pub(crate) fn check(point: &str, haystack: &[u8]) {
    let Ok(spec) = std::env::var("MAILROOM_FAULT") else {
        return;
    };
    let Some((at, marker)) = spec.split_once(':') else {
        return;
    };
    if at == point
        && !marker.is_empty()
        && haystack
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
    {
        panic!("injected fault at {point} (MAILROOM_FAULT)");
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub(crate) fn check(_point: &str, _haystack: &[u8]) {}

/// A caught panic's message.
pub(crate) fn describe(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    format!("panic: {text}")
}
