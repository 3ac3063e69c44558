//! `tickets merge SRC --into DST [--force] [--dry-run]` and `tickets split
//! REF --message ID [--dry-run]`: parse the references and print what the
//! pipeline's merge or split step did.

use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::pipeline::{MergeOutcome, OperatorMerge, Pipeline, SplitOutcome};
use crate::store::Store;
use crate::tickets;

pub(super) async fn merge(
    cfg: &Arc<Config>,
    store: &Store,
    (source, into): (&str, &str),
    force: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    let prefix = &cfg.mailroom.ticket_prefix;
    let id = |r: &str| {
        tickets::parse_ref(prefix, r)
            .with_context(|| format!("{r:?} is not a ticket reference like {prefix}-1042 or 1042"))
    };
    let m = OperatorMerge {
        source: id(source)?,
        target: id(into)?,
        force,
        dry_run,
    };
    let pipeline = Pipeline::new(cfg.clone())?;
    match pipeline.merge_tickets(store, m, super::now()).await? {
        MergeOutcome::Merged(detail) if dry_run => {
            println!("dry run, nothing changed: {detail}");
            Ok(())
        }
        MergeOutcome::Merged(detail) => {
            println!("{detail}");
            Ok(())
        }
        MergeOutcome::Refused(why) => anyhow::bail!("not merged: {why}"),
    }
}

pub(super) async fn split(
    cfg: &Arc<Config>,
    store: &Store,
    (reference, message): (&str, &str),
    dry_run: bool,
) -> anyhow::Result<()> {
    let prefix = &cfg.mailroom.ticket_prefix;
    let ticket = tickets::parse_ref(prefix, reference).with_context(|| {
        format!("{reference:?} is not a ticket reference like {prefix}-1042 or 1042")
    })?;
    let message_id = message.trim().trim_start_matches('<').trim_end_matches('>');
    let pipeline = Pipeline::new(cfg.clone())?;
    match pipeline
        .split_ticket(store, (ticket, message_id, dry_run), super::now())
        .await?
    {
        SplitOutcome::Split(detail) if dry_run => {
            println!("dry run, nothing changed: {detail}");
            Ok(())
        }
        SplitOutcome::Split(detail) => {
            println!("{detail}");
            Ok(())
        }
        SplitOutcome::Refused(why) => anyhow::bail!("not split: {why}"),
    }
}
