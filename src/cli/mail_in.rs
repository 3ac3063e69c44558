//! Commands that take mail in: `ingest` (files, stdin) and `poll --once`;
//! the reading and draining is `inbound`'s, these print.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::inbound::handoff::{self, HandOff, REPLY_TIMEOUT, Request};
use crate::inbound::{HEADER_KEPT, files, poll, read_capped};
use crate::pipeline::{Inbound, Outcome, Pipeline};
use crate::store::Store;

fn print_outcome(o: &Outcome, json: bool) {
    if json {
        println!("{}", serde_json::to_string(o).unwrap_or_default());
    } else {
        println!(
            "{}: {}{}{}",
            o.file,
            o.outcome.as_str(),
            o.ticket_ref
                .as_deref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default(),
            o.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
}

pub(super) async fn ingest(
    cfg: &Arc<Config>,
    store: &Store,
    json: bool,
    files: Vec<PathBuf>,
) -> anyhow::Result<()> {
    let pipeline = Arc::new(Pipeline::new(cfg.clone())?);
    let files = if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files
    };
    let batch_size = cfg.mailroom.batch_size;
    let print = &mut |o: &Outcome| print_outcome(o, json);
    let stdin_too_big = if files.iter().any(|f| f.as_os_str() == "-") {
        files::ingest_in_order(&pipeline, store, batch_size, files, super::now, print).await
    } else {
        files::ingest_files(pipeline, store, batch_size, files, super::now, print)
            .await
            .map(|()| None)
    };
    std::io::stdout().flush().ok();
    too_big_result(cfg, stdin_too_big?)
}

/// One mail piped by an MTA (`ingest -`), read before anything else.
pub(super) struct Piped {
    item: Inbound,
    /// Its size when over `max_message_size` (`item` holds its header only).
    too_big: Option<u64>,
}

pub(super) fn read_piped(cfg: &Config) -> anyhow::Result<Piped> {
    let limit = cfg.max_message_size();
    let read = read_capped(std::io::stdin().lock(), limit).context("reading stdin")?;
    Ok(Piped {
        too_big: read.too_big(),
        item: read.into_inbound("-".into(), limit, HEADER_KEPT),
    })
}

/// Hands the piped mail to a running `serve` (`inbound::handoff`). `None`
/// when no serve took it: the caller stores it itself.
pub(super) fn hand_off(cfg: &Config, piped: &Piped, json: bool) -> Option<anyhow::Result<()>> {
    let socket = cfg.ingest_socket()?;
    let item = &piped.item;
    let request = Request::new(&item.origin, item.raw.len(), item.rejected.clone());
    match handoff::hand_off(&socket, &request, &item.raw, REPLY_TIMEOUT) {
        HandOff::Stored(outcome) => {
            print_outcome(&outcome, json);
            std::io::stdout().flush().ok();
            Some(too_big_result(cfg, piped.too_big))
        }
        HandOff::Later(error) => Some(Err(crate::Error::HandOffLater(error).into())),
        HandOff::Direct(reason) => {
            tracing::debug!(%reason, "storing the mail without serve");
            None
        }
    }
}

/// `ingest -` when no serve took the mail: one mail, one transaction.
pub(super) async fn ingest_piped(
    cfg: &Arc<Config>,
    store: &Store,
    json: bool,
    piped: Piped,
) -> anyhow::Result<()> {
    let pipeline = Pipeline::new(cfg.clone())?;
    let Piped { item, too_big } = piped;
    let outcomes = pipeline
        .process_batch(store, vec![item], super::now())
        .await?;
    outcomes.iter().for_each(|o| print_outcome(o, json));
    std::io::stdout().flush().ok();
    too_big_result(cfg, too_big)
}

/// A piped mail over the size limit is stored (its header, in the quarantine)
/// and still fails: EX_DATAERR makes the MTA bounce it to its sender.
fn too_big_result(cfg: &Config, too_big: Option<u64>) -> anyhow::Result<()> {
    match too_big {
        Some(size) => Err(crate::Error::MessageTooBig {
            size,
            limit: cfg.max_message_size(),
        }
        .into()),
        None => Ok(()),
    }
}

pub(super) async fn poll_once(cfg: &Arc<Config>, store: &Store) -> anyhow::Result<()> {
    let pipeline = Arc::new(Pipeline::new(cfg.clone())?);
    let report = poll::poll_once(cfg, pipeline, store).await?;
    for line in &report.standby {
        eprintln!("{line}");
    }
    let detail: Vec<String> = report
        .counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!(
        "processed {} message(s){}",
        report.total(),
        if detail.is_empty() {
            String::new()
        } else {
            format!(": {}", detail.join(", "))
        }
    );
    if !report.failed.is_empty() {
        bail!(
            "{} source(s) failed (the others were processed):\n  {}",
            report.failed.len(),
            report.failed.join("\n  ")
        );
    }
    Ok(())
}
