//! `outbox flush`: sends what is due, then reports the relay results.

use std::sync::Arc;

use crate::config::Config;
use crate::outbound::{self, Transport};
use crate::store::Store;

use super::{now, report_relays, stop_on_signal};

pub(super) async fn flush(cfg: &Arc<Config>, store: &Store) -> anyhow::Result<()> {
    let transport = Transport::from_config(cfg)?;
    let renderer = outbound::Renderer::new(cfg)?;
    let stop = stop_on_signal()?;
    let mut r = outbound::flush(store, &transport, &renderer, now, &stop, true).await?;
    let relays = report_relays(cfg, store).await;
    if relays.is_some_and(|x| x.explained > 0) && !stop.is_set() {
        // The explanations to agents go out in this run too.
        let more = outbound::flush(store, &transport, &renderer, now, &stop, true).await?;
        r.add(&more);
    }
    print_flushed(&r, stop.is_set());
    if let Some(x) = relays.filter(|x| x.partly_refused + x.undelivered > 0) {
        println!(
            "relays: {} reached only some recipients, {} reached nobody; {} agent(s) told",
            x.partly_refused, x.undelivered, x.explained
        );
    }
    Ok(())
}

fn print_flushed(r: &outbound::FlushReport, stopped: bool) {
    println!(
        "sent {}, retrying {}, failed {}{}",
        r.sent,
        r.retrying,
        r.failed,
        if stopped {
            format!(
                "; stopped by a signal, {} given back to the queue{}",
                r.released,
                match r.in_doubt {
                    0 => String::new(),
                    n => format!(", {n} already handed to the server: counted as sent (in doubt)"),
                }
            )
        } else {
            String::new()
        }
    );
}
