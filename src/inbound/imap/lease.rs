//! One instance per mailbox: a source syncs only while it holds the
//! mailbox's lease (store::Lease), waits on standby while another instance
//! does, and stops the moment its lease's database session is gone.

use std::time::Duration;

use tokio::sync::watch;

use super::{Context, ImapSource};
use crate::inbound::LeaseState;
use crate::store::Lease;

/// A lease holder checks its lease session this often, and gives it this long
/// to answer; a holder that lost its lease has stopped syncing after
/// `LEASE_BEAT + LEASE_BEAT_TIMEOUT`, so a new holder waits `LEASE_GRACE`
/// (a little longer) before it starts.
pub(super) const LEASE_BEAT: Duration = Duration::from_secs(2);
pub(super) const LEASE_BEAT_TIMEOUT: Duration = Duration::from_secs(3);
pub(super) const LEASE_GRACE: Duration = Duration::from_secs(6);
/// How often an instance on standby tries to take a lease: with the grace,
/// a mailbox whose holder died is synced again within 15 s.
pub(super) const LEASE_RETRY: Duration = Duration::from_secs(5);

impl ImapSource {
    /// Waits until this instance holds the lease (None: stopped first).
    pub(super) async fn take_lease(
        &self,
        ctx: &Context,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Lease> {
        let mut standby_logged = false;
        loop {
            if *stop.borrow() {
                return None;
            }
            match ctx.store.try_lease(&self.position_key).await {
                Ok(Some(lease)) => {
                    if let Lease::Postgres { .. } = lease {
                        // A holder that just lost its session may be finishing a
                        // batch: it stops within LEASE_BEAT + LEASE_BEAT_TIMEOUT.
                        ctx.health
                            .lease(&self.name, &self.position_key, LeaseState::Starting);
                        tokio::select! {
                            _ = tokio::time::sleep(LEASE_GRACE) => {}
                            _ = stop.changed() => { lease.release().await; return None }
                        }
                    }
                    tracing::info!(source = %self.name, lease = %self.position_key, "lease taken: this instance syncs the mailbox");
                    ctx.health
                        .lease(&self.name, &self.position_key, LeaseState::Held);
                    return Some(lease);
                }
                Ok(None) => {
                    if !standby_logged {
                        tracing::info!(source = %self.name, lease = %self.position_key,
                            "another instance syncs this mailbox; standing by");
                        standby_logged = true;
                    }
                    ctx.health
                        .lease(&self.name, &self.position_key, LeaseState::Standby);
                }
                Err(e) => {
                    tracing::error!(source = %self.name, error = %e, "cannot take the mailbox's lease; retrying");
                    ctx.health.failed(&self.name, &format!("lease: {e}"));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(LEASE_RETRY) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Syncs while the lease holds. Returns false when stopped, true when the
    /// lease was lost (syncing has stopped: the session in hand was dropped,
    /// its uncommitted batch rolled back).
    pub(super) async fn run_holding(
        &self,
        ctx: &Context,
        stop: &watch::Receiver<bool>,
        mut lease: Lease,
    ) -> bool {
        let work = self.run_sessions(ctx, stop.clone());
        tokio::pin!(work);
        let mut beat = tokio::time::interval(LEASE_BEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut work => {
                    lease.release().await;
                    ctx.health.lease(&self.name, &self.position_key, LeaseState::Released);
                    return false;
                }
                _ = beat.tick() => {
                    let held = tokio::time::timeout(LEASE_BEAT_TIMEOUT, lease.still_held())
                        .await
                        .unwrap_or(false);
                    if !held {
                        tracing::error!(source = %self.name, lease = %self.position_key,
                            "lost the mailbox's lease (its database session is gone): syncing stopped");
                        ctx.health.lease(&self.name, &self.position_key, LeaseState::Lost);
                        return true;
                    }
                }
            }
        }
    }
}
