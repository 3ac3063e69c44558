//! Mail out of sight, brought back by an operator: `suspended list|release`
//! (stored mail that belongs to no ticket) and `quarantine release` (mail that
//! could not be taken in, processed again after a fix). A release is an event
//! on the ticket it leads to; releasing twice is refused.

use std::sync::Arc;

use anyhow::bail;

use crate::config::Config;
use crate::pipeline::{Inbound, OutcomeKind, Pipeline};
use crate::store::Store;
use crate::tickets::EventKind;

pub(super) async fn suspended_list(store: &Store, json: bool) -> anyhow::Result<()> {
    let rows = store.suspended_list().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for r in &rows {
        println!(
            "{:<6} {} {:<10} {:<32} {:?}: {}",
            r.id,
            r.date.unwrap_or(r.received_at).format("%Y-%m-%d %H:%M"),
            r.kind,
            r.from_addr,
            r.subject,
            r.reason.as_deref().unwrap_or("-")
        );
    }
    println!(
        "{} suspended message(s); `mailroom suspended release ID` processes one as customer mail",
        rows.len()
    );
    Ok(())
}

pub(super) async fn suspended_release(
    cfg: &Arc<Config>,
    store: &Store,
    id: i64,
) -> anyhow::Result<()> {
    match store.inbound_message_ticket(id).await? {
        None => bail!("no stored inbound message {id} (see `mailroom suspended list`)"),
        Some(Some(t)) => bail!(
            "message {id} is already on {}: releasing twice is refused",
            crate::tickets::format_ref(&cfg.mailroom.ticket_prefix, t)
        ),
        Some(None) => {}
    }
    let Some(raw) = store.raw_message(id).await? else {
        bail!("message {id} has no stored bytes");
    };
    let pipeline = Pipeline::new(cfg.clone())?;
    let mut item = Inbound::new(format!("suspended:{id}"), raw);
    item.adopt = Some(id);
    let o = pipeline.process_once(store, item, super::now()).await?;
    match (o.outcome, &o.ticket_ref) {
        (OutcomeKind::Created | OutcomeKind::Appended, Some(r)) => {
            println!("message {id} released: {} {r}", o.outcome.as_str());
            Ok(())
        }
        _ => bail!(
            "message {id} was not released: {}{}",
            o.outcome.as_str(),
            o.reason.map(|r| format!(" ({r})")).unwrap_or_default()
        ),
    }
}

pub(super) async fn quarantine_release(
    cfg: &Arc<Config>,
    store: &Store,
    id: i64,
) -> anyhow::Result<()> {
    let Some((raw, released)) = store.quarantined(id).await? else {
        bail!("no quarantined message {id} (see `mailroom quarantine`)");
    };
    if let Some(was) = released {
        bail!("quarantined message {id} was released already ({was}): releasing twice is refused");
    }
    let pipeline = Pipeline::new(cfg.clone())?;
    let now = super::now();
    let o = pipeline
        .process_once(store, Inbound::new(format!("quarantine:{id}"), raw), now)
        .await?;
    if o.outcome == OutcomeKind::Quarantined {
        bail!(
            "quarantined message {id} still cannot be taken in: {}",
            o.reason.unwrap_or_default()
        );
    }
    let released_as = match &o.ticket_ref {
        Some(r) => format!("{} {r}", o.outcome.as_str()),
        None => o.outcome.as_str().to_string(),
    };
    if !store
        .mark_quarantine_released(id, &released_as, now)
        .await?
    {
        bail!("quarantined message {id} was released by someone else meanwhile");
    }
    if let Some(r) = &o.ticket_ref
        && let Some(t) = crate::tickets::parse_ref(&cfg.mailroom.ticket_prefix, r)
    {
        let detail = format!("quarantined message {id} released by an operator: {released_as}");
        store.add_event(t, EventKind::Release, &detail, now).await?;
    }
    println!("quarantined message {id} released: {released_as}");
    Ok(())
}
