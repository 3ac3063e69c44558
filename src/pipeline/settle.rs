//! Deciding a batch on PostgreSQL beside other instances (store/contention.rs):
//! decide once against what the batch's first locks protect, lock what the
//! decision turned out to touch (the areas it assigned in), read that again,
//! reserve the ids it needs and decide again — until a decision needs nothing
//! the batch does not hold.
//! Deciding is pure and in memory: no database round trip happens in it.
//! SQLite has one writer at a time: one decision is final there.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::unit::UnitOfWork;
use crate::error::{Error, Result};
use crate::store::{Loaded, Tx, Writes};

/// A decision needs a third round only when the second one changed course
/// (an agent reached max_open meanwhile, say); four is plenty.
const MAX_ROUNDS: usize = 4;

/// Runs `decide` against `loaded` until its decision is final (see the module).
pub(crate) async fn settle<'a, T>(
    tx: &mut Tx,
    mut loaded: Loaded,
    now: DateTime<Utc>,
    mut decide: impl FnMut(&mut UnitOfWork<'a>) -> Result<T>,
) -> Result<(T, Writes<'a>)> {
    if !tx.is_shared() {
        let mut u = UnitOfWork::new(loaded, now);
        let out = decide(&mut u)?;
        return Ok((out, u.into_writes()));
    }
    let mut held: BTreeSet<String> = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        let mut u = UnitOfWork::new(loaded.clone(), now);
        let out = decide(&mut u)?;
        let needs = u.needs();
        if !needs.overdrawn && needs.locks.is_subset(&held) {
            return Ok((out, u.into_writes()));
        }
        let new: Vec<String> = needs.locks.difference(&held).cloned().collect();
        if !new.is_empty() {
            tx.lock_keys(&new).await?;
            // Only assignment takes third-class locks (apply/customer.rs).
            tx.load_assignment_state(&mut loaded).await?;
            held.extend(new);
        }
        let reserved = loaded.reserved.get_or_insert_with(Default::default);
        let (tickets, messages) = tx
            .reserve_ids(
                needs.tickets.saturating_sub(reserved.0.len()),
                needs.messages.saturating_sub(reserved.1.len()),
            )
            .await?;
        reserved.0.extend(tickets);
        reserved.1.extend(messages);
    }
    Err(Error::Internal(format!(
        "the batch's decision changed in each of {MAX_ROUNDS} rounds; it is tried again"
    )))
}

/// An operator's command (`tickets merge`, `tickets split`): decided like a
/// batch (`settle`); written and committed when it succeeded and is no dry
/// run, else rolled back. Returns what the decision returned.
pub(crate) async fn operator_command<'a, E>(
    mut tx: Tx,
    loaded: Loaded,
    (now, dry_run): (DateTime<Utc>, bool),
    decide: impl FnMut(&mut UnitOfWork<'a>) -> Result<std::result::Result<String, E>>,
) -> Result<std::result::Result<String, E>> {
    let (outcome, writes) = settle(&mut tx, loaded, now, decide).await?;
    if outcome.is_ok() && !dry_run {
        tx.write_batch(&writes, now).await?;
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(outcome)
}
