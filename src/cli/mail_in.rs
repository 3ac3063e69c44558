//! Commands that take mail in: `ingest` (files, stdin) and `poll --once`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::config::{Config, InboundKind};
use crate::inbound::Batcher;
use crate::inbound::maildir::Maildir;
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
    let pipeline = Pipeline::new(cfg.clone())?;
    let files = if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files
    };
    let mut batcher = Batcher::new(cfg.mailroom.batch_size);
    let total = files.len();
    for (i, f) in files.into_iter().enumerate() {
        let raw = if f.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading stdin")?;
            buf
        } else {
            std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?
        };
        let full = batcher.push(Inbound {
            origin: f.display().to_string(),
            raw,
        });
        if full || i + 1 == total {
            for o in pipeline
                .process_batch(store, batcher.take(), chrono::Utc::now())
                .await?
            {
                print_outcome(&o, json);
            }
        }
    }
    std::io::stdout().flush().ok();
    Ok(())
}

pub(super) async fn poll_once(cfg: &Arc<Config>, store: &Store) -> anyhow::Result<()> {
    let pipeline = Arc::new(Pipeline::new(cfg.clone())?);
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for ib in &cfg.inbound {
        match ib.kind {
            InboundKind::Maildir => {
                let path = ib.path.as_deref().context("maildir source without path")?;
                let md = Maildir::new(&ib.name, path);
                md.drain(
                    &pipeline,
                    store,
                    cfg.mailroom.batch_size,
                    &|| false,
                    &mut |o| {
                        *counts.entry(o.outcome.as_str()).or_default() += 1;
                    },
                )
                .await
                .with_context(|| format!("inbound {:?}", ib.name))?;
            }
            InboundKind::Imap => bail!(
                "inbound {:?}: kind = \"imap\" is not in this build yet",
                ib.name
            ),
        }
    }
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
    Ok(())
}
