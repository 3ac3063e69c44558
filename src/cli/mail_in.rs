//! Commands that take mail in: `ingest` (files, stdin) and `poll --once`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};

use crate::config::{Config, InboundKind};
use crate::health::Health;
use crate::inbound::handoff::{self, HandOff, REPLY_TIMEOUT, Request};
use crate::inbound::imap::{Context as ImapContext, ImapError, ImapSource};
use crate::inbound::maildir::Maildir;
use crate::inbound::{Batcher, HEADER_KEPT, prepare_ahead, read_capped, read_file_capped};
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
    if !files.iter().any(|f| f.as_os_str() == "-") {
        return ingest_files(cfg, store, json, pipeline, files).await;
    }
    let mut batcher = Batcher::new(cfg.mailroom.batch_size);
    let total = files.len();
    let limit = pipeline.max_message_size();
    let mut stdin_too_big = None;
    for (i, f) in files.into_iter().enumerate() {
        // The size is looked at before the message is read whole.
        let read = if f.as_os_str() == "-" {
            read_capped(std::io::stdin().lock(), limit).context("reading stdin")?
        } else {
            read_file_capped(&f, limit).with_context(|| format!("reading {}", f.display()))?
        };
        if f.as_os_str() == "-" {
            stdin_too_big = stdin_too_big.or(read.too_big());
        }
        let full = batcher.push(read.into_inbound(f.display().to_string(), limit, HEADER_KEPT));
        if full || i + 1 == total {
            for o in pipeline
                .process_batch(store, batcher.take(), super::now())
                .await?
            {
                print_outcome(&o, json);
            }
        }
    }
    std::io::stdout().flush().ok();
    too_big_result(cfg, stdin_too_big)
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

/// `ingest FILE…` like the Maildir path: the next batches are read and parsed
/// on a blocking thread (another core) while the current one commits; at most
/// three batches are in memory. A file that cannot be read ends the command
/// after the batches before it are committed.
async fn ingest_files(
    cfg: &Arc<Config>,
    store: &Store,
    json: bool,
    pipeline: Arc<Pipeline>,
    files: Vec<PathBuf>,
) -> anyhow::Result<()> {
    let limit = pipeline.max_message_size();
    let (mut rx, reader) = prepare_ahead(pipeline.clone(), cfg.mailroom.batch_size, move |push| {
        for f in files {
            let item = match read_file_capped(&f, limit) {
                Ok(read) => read.into_inbound(f.display().to_string(), limit, HEADER_KEPT),
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("reading {}", f.display())));
                }
            };
            if !push(item, ()) {
                break; // the committer stopped
            }
        }
        Ok(())
    });
    let mut result = Ok(());
    while let Some(prepared) = rx.recv().await {
        let committed = match prepared {
            Ok((_, p)) => pipeline.commit(store, &p, super::now()).await,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        match committed {
            Ok(outcomes) => outcomes.iter().for_each(|o| print_outcome(o, json)),
            Err(e) => {
                result = Err(e.into());
                break;
            }
        }
    }
    drop(rx);
    let _ = reader.await;
    std::io::stdout().flush().ok();
    result
}

pub(super) async fn poll_once(cfg: &Arc<Config>, store: &Store) -> anyhow::Result<()> {
    let pipeline = Arc::new(Pipeline::new(cfg.clone())?);
    let counts: Arc<Mutex<BTreeMap<&'static str, usize>>> = Arc::default();
    let count = |counts: &Arc<Mutex<BTreeMap<&'static str, usize>>>, o: &Outcome| {
        if let Ok(mut c) = counts.lock() {
            *c.entry(o.outcome.as_str()).or_default() += 1;
        }
    };
    // IMAP mailboxes are drained concurrently, each on its own connection.
    let ctx = ImapContext::new(
        cfg,
        pipeline.clone(),
        store.clone(),
        Arc::new(Health::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let mut imap = Vec::new();
    for (i, ib) in cfg.inbound.iter().enumerate() {
        if ib.kind != InboundKind::Imap {
            continue;
        }
        let source = ImapSource::from_config(ib, format!("inbound[{i}]"))
            .with_context(|| format!("inbound {:?}", ib.name))?;
        let (ctx, counts) = (ctx.clone(), counts.clone());
        imap.push(tokio::spawn(async move {
            let r = source.sync_once(&ctx, &mut |o| count(&counts, o)).await;
            (source.name, r)
        }));
    }
    let mut failed = Vec::new();
    for ib in &cfg.inbound {
        if ib.kind != InboundKind::Maildir {
            continue;
        }
        let path = ib.path.as_deref().context("maildir source without path")?;
        let md = Maildir::new(&ib.name, path);
        let counts = counts.clone();
        if let Err(e) = md
            .drain(
                &pipeline,
                store,
                cfg.mailroom.batch_size,
                &|| false,
                &mut |o| count(&counts, o),
            )
            .await
        {
            tracing::error!(source = %ib.name, error = %e, "inbound source failed");
            failed.push(format!("{}: {e}", ib.name));
        }
    }
    for task in imap {
        let (name, result) = task.await.context("imap task")?;
        if let Err(e @ ImapError::LeaseHeld) = &result {
            // `serve` on another instance syncs it: nothing is lost by skipping.
            tracing::warn!(source = %name, "{e}");
            eprintln!("{name}: {e}");
        } else if let Err(e) = result {
            tracing::error!(source = %name, error = %e, "inbound source failed");
            failed.push(format!("{name}: {e}"));
        }
    }
    let counts = counts.lock().map(|c| c.clone()).unwrap_or_default();
    let total: usize = counts.values().sum();
    let detail: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "processed {total} message(s){}",
        if detail.is_empty() {
            String::new()
        } else {
            format!(": {}", detail.join(", "))
        }
    );
    if !failed.is_empty() {
        bail!(
            "{} source(s) failed (the others were processed):\n  {}",
            failed.len(),
            failed.join("\n  ")
        );
    }
    Ok(())
}
