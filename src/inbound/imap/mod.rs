//! An IMAP mailbox as a source (DESIGN §1, §3). Each source runs in its own
//! task: connect, resume from the committed (UIDVALIDITY, UID) position, drain
//! everything new in batches, then wait with IDLE (or poll) and drain again.
//! Any error ends the session; the source reconnects with exponential backoff
//! and jitter, and never takes another source down with it.

mod connect;
mod fetch;
mod lease;
mod plan;
mod sync;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{Endpoint, ImapAuth, InboundConfig, parse_duration};
use crate::inbound::{SourceReport, SourceState};
use crate::pipeline::{Outcome, Pipeline};
use crate::store::Store;

pub use connect::ImapSession;

/// Why a session ended. The message names the server and the step; it never
/// contains the password.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {addr}: {message}")]
    Connect { addr: String, message: String },
    #[error("{message}")]
    Tls { message: String },
    #[error("authentication failed for {user} at {addr}: {message}")]
    Auth {
        user: String,
        addr: String,
        message: String,
    },
    #[error("{0}")]
    Config(String),
    #[error("IMAP: {0}")]
    Protocol(String),
    #[error("IMAP server did not answer {0} within 60 s")]
    Timeout(&'static str),
    #[error(transparent)]
    Store(#[from] crate::Error),
    #[error("another instance holds this mailbox's lease and syncs it; skipped")]
    LeaseHeld,
}

impl From<async_imap::error::Error> for ImapError {
    fn from(e: async_imap::error::Error) -> Self {
        ImapError::Protocol(clip(e.to_string()))
    }
}

impl From<std::io::Error> for ImapError {
    fn from(e: std::io::Error) -> Self {
        ImapError::Protocol(clip(format!("connection: {e}")))
    }
}

/// async-imap puts the whole unparsed buffer (possibly a customer's mail)
/// into its parse errors: keep logs and /healthz short and free of mail text.
fn clip(mut s: String) -> String {
    const MAX: usize = 200;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(" …");
    }
    s
}

impl ImapError {
    /// Errors of a running session (a lost connection, an unreadable
    /// response, a timeout), worth a reconnect even in `poll --once`.
    fn is_session_error(&self) -> bool {
        matches!(self, ImapError::Protocol(_) | ImapError::Timeout(_))
    }
}

/// IDLE is re-issued this often: well before the 29 minutes after which a
/// server may drop an idle client (RFC 2177), and often enough to notice a
/// connection that died silently.
const IDLE_REISSUE: Duration = Duration::from_secs(10 * 60);
const DEFAULT_POLL: Duration = Duration::from_secs(30);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
/// `poll --once` reopens a broken session at most this often.
const SYNC_ONCE_RETRIES: u32 = 6;

/// What a source needs from the rest of mailroom.
#[derive(Clone)]
pub struct Context {
    pub pipeline: Arc<Pipeline>,
    pub store: Store,
    pub health: Arc<dyn SourceReport>,
    /// Woken after each commit, so acknowledgements go out at once.
    pub committed: Arc<tokio::sync::Notify>,
    pub batch_size: usize,
    pub max_message_size: u64,
}

impl Context {
    /// The context every IMAP source of `cfg` shares.
    pub fn new(
        cfg: &crate::config::Config,
        pipeline: Arc<Pipeline>,
        store: Store,
        health: Arc<dyn SourceReport>,
        committed: Arc<tokio::sync::Notify>,
    ) -> Context {
        Context {
            pipeline,
            store,
            health,
            committed,
            batch_size: cfg.mailroom.batch_size,
            max_message_size: cfg.max_message_size() as u64,
        }
    }
}

pub struct ImapSource {
    pub name: String,
    endpoint: Endpoint,
    auth: ImapAuth,
    folder: String,
    processed_folder: Option<String>,
    mark_seen: bool,
    idle: bool,
    poll_interval: Duration,
    /// The key of this folder's row in source_positions.
    position_key: String,
    /// Fetch failures per (UIDVALIDITY, UID), with the last error (sync.rs).
    suspects: std::sync::Mutex<std::collections::HashMap<(u32, u32), (u32, String)>>,
}

impl ImapSource {
    /// `key` is the config path (`inbound[0]`) for error messages.
    pub fn from_config(ib: &InboundConfig, key: String) -> Result<ImapSource, ImapError> {
        let endpoint = ib.endpoint(key).map_err(ImapError::Config)?;
        // A missing secret is a start-up error, not a reconnect loop.
        endpoint
            .password
            .read(&endpoint.key)
            .map_err(ImapError::Config)?;
        let folder = ib.folder().to_string();
        Ok(ImapSource {
            name: ib.name.clone(),
            position_key: format!("imap:{}:{}", ib.name, folder),
            endpoint,
            auth: ib.auth.unwrap_or(ImapAuth::Plain),
            folder,
            processed_folder: ib.processed_folder.clone(),
            mark_seen: ib.mark_seen.unwrap_or(true),
            idle: ib.idle.unwrap_or(true),
            poll_interval: ib
                .poll_interval
                .as_deref()
                .and_then(|s| parse_duration(s).ok())
                .unwrap_or(DEFAULT_POLL),
            suspects: Default::default(),
        })
    }

    /// `poll --once`: connect, take everything in the folder now, log out.
    /// A session that breaks midway is reopened a few times (that is also how
    /// a message the server cannot deliver is isolated and set aside).
    pub async fn sync_once(
        &self,
        ctx: &Context,
        on_outcome: &mut (dyn FnMut(&Outcome) + Send),
    ) -> Result<usize, ImapError> {
        // A holder killed a moment ago leaves its lease until PostgreSQL has
        // noticed (milliseconds): ask a few times before skipping the mailbox.
        let mut tries = 0;
        let lease = loop {
            match ctx.store.try_lease(&self.position_key).await? {
                Some(lease) => break lease,
                None if tries < 12 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                None => return Err(ImapError::LeaseHeld),
            }
        };
        let r = self.sync_once_holding(ctx, on_outcome).await;
        lease.release().await;
        r
    }

    async fn sync_once_holding(
        &self,
        ctx: &Context,
        on_outcome: &mut (dyn FnMut(&Outcome) + Send),
    ) -> Result<usize, ImapError> {
        let mut total = 0;
        let mut attempt = 0u32;
        loop {
            let mut count = |o: &Outcome| {
                total += 1;
                on_outcome(o);
            };
            match self.sync_session(ctx, &mut count).await {
                Ok(_) => return Ok(total),
                Err(e) if e.is_session_error() && attempt < SYNC_ONCE_RETRIES => {
                    attempt += 1;
                    let delay = backoff(attempt).min(Duration::from_secs(5));
                    tracing::warn!(source = %self.name, error = %e, attempt, retry_in = ?delay,
                        "imap session failed; reconnecting");
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn sync_session(
        &self,
        ctx: &Context,
        on_outcome: &mut (dyn FnMut(&Outcome) + Send),
    ) -> Result<usize, ImapError> {
        let (_never, mut stop) = watch::channel(false);
        let mut session = connect::open(&self.endpoint, self.auth).await?;
        let mut folder = self.select(&mut session, ctx).await?;
        let n = self
            .drain(&mut session, &mut folder, ctx, &mut stop, None, on_outcome)
            .await?;
        connect::timed("LOGOUT", session.logout()).await.ok();
        Ok(n)
    }

    /// `serve`: runs until `stop` turns true. Syncs only while this instance
    /// holds the mailbox's lease (one instance per mailbox); waits on standby
    /// while another instance holds it, and takes over when that one is gone.
    pub async fn run(self, ctx: Context, stop: watch::Receiver<bool>) {
        ctx.health.register(&self.name, "imap");
        let mut stop = stop;
        while !*stop.borrow() {
            let Some(lease) = self.take_lease(&ctx, &mut stop).await else {
                break;
            };
            if !self.run_holding(&ctx, &stop, lease).await {
                break;
            }
        }
        ctx.health.stopped(&self.name);
        tracing::info!(source = %self.name, "imap source stopped");
    }

    /// Sessions one after another, reconnecting after any error, until `stop`.
    async fn run_sessions(&self, ctx: &Context, mut stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        while !*stop.borrow() {
            ctx.health.state(&self.name, SourceState::Connecting);
            match self.session(ctx, &mut stop, &mut failures).await {
                Ok(()) => break,
                Err(e) => {
                    failures += 1;
                    let delay = backoff(failures);
                    tracing::error!(source = %self.name, error = %e, attempt = failures,
                        retry_in = ?delay, "imap source failed; reconnecting");
                    ctx.health.failed(&self.name, &e.to_string());
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
    }

    /// One connection: sync, then IDLE or poll, until stopped or an error.
    async fn session(
        &self,
        ctx: &Context,
        stop: &mut watch::Receiver<bool>,
        failures: &mut u32,
    ) -> Result<(), ImapError> {
        let mut session = connect::open(&self.endpoint, self.auth).await?;
        let mut folder = self.select(&mut session, ctx).await?;
        let can_idle = folder.can_idle;
        tracing::info!(source = %self.name, server = %self.endpoint.address(), folder = %self.folder,
            uidvalidity = folder.uidvalidity, last_uid = folder.last_uid,
            idle = self.idle && can_idle, "imap source connected");
        let mut notified: Option<Instant> = None;
        let mut rechecks = 0u32;
        loop {
            let mut log = |o: &Outcome| {
                tracing::info!(source = %self.name, origin = %o.file, outcome = o.outcome.as_str(),
                    ticket = o.ticket_ref.as_deref().unwrap_or("-"), "processed");
            };
            // Announcements older than this pass are covered by its listing.
            while session.unsolicited_responses.try_recv().is_ok() {}
            self.drain(&mut session, &mut folder, ctx, stop, notified, &mut log)
                .await?;
            *failures = 0;
            ctx.health.synced(&self.name, Some(folder.last_uid));
            if *stop.borrow() {
                break;
            }
            if self.idle && can_idle {
                // Mail that arrived while this pass ran was announced during it
                // (or is, on this NOOP): look again before IDLE. Dovecot also
                // reports such mail when IDLE starts; RFC 2177 does not promise it.
                connect::timed("NOOP", session.noop()).await?;
                // (Bounded, in case a server announces EXISTS on every NOOP.)
                if rechecks < 10 && new_mail_announced(&session) {
                    rechecks += 1;
                    notified = Some(Instant::now());
                    continue;
                }
                rechecks = 0;
                ctx.health.state(&self.name, SourceState::Idle);
                let (s, woke) = self.wait_idle(session, stop).await?;
                session = s;
                notified = woke;
            } else {
                ctx.health.state(&self.name, SourceState::Polling);
                tokio::select! {
                    _ = tokio::time::sleep(self.poll_interval) => {}
                    _ = stop.changed() => {}
                }
                notified = None;
            }
            ctx.health.state(&self.name, SourceState::Syncing);
        }
        connect::timed("LOGOUT", session.logout()).await.ok();
        Ok(())
    }

    /// How long one IDLE lasts before it is re-issued: at most `IDLE_REISSUE`,
    /// and no longer than `poll_interval`, which also bounds how late a change
    /// a server failed to announce is noticed.
    fn idle_period(&self) -> Duration {
        IDLE_REISSUE.min(self.poll_interval.max(Duration::from_secs(1)))
    }

    /// Waits in IDLE until the server reports a change, the re-issue time
    /// passes, or shutdown. Returns the session and when the change was seen.
    async fn wait_idle(
        &self,
        session: ImapSession,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(ImapSession, Option<Instant>), ImapError> {
        let mut handle = session.idle();
        connect::timed("IDLE", handle.init()).await?;
        let woke = {
            // The stop source must stay bound: dropping it ends IDLE at once.
            let period = self.idle_period();
            let (wait, _interrupt) = handle.wait_with_timeout(period);
            tokio::select! {
                r = wait => {
                    r?;
                    Some(Instant::now())
                }
                _ = tokio::time::sleep(period) => None,
                _ = stop.changed() => None,
            }
        };
        let session = connect::timed("DONE", handle.done()).await?;
        Ok((session, woke))
    }
}

/// True when the server announced new mail (EXISTS or RECENT) since the
/// channel was last emptied.
fn new_mail_announced(session: &ImapSession) -> bool {
    let mut seen = false;
    while let Ok(r) = session.unsolicited_responses.try_recv() {
        seen |= matches!(
            r,
            async_imap::types::UnsolicitedResponse::Exists(_)
                | async_imap::types::UnsolicitedResponse::Recent(_)
        );
    }
    seen
}

/// Exponential backoff with ±25 % jitter, so sources that failed together
/// (a server restart) don't reconnect in lockstep.
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let base = BACKOFF_FIRST.saturating_mul(1u32 << exp).min(BACKOFF_MAX);
    base.mul_f64(0.75 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let d1 = backoff(1);
        assert!(d1 >= Duration::from_millis(750) && d1 <= Duration::from_millis(1250));
        let d4 = backoff(4);
        assert!(d4 >= Duration::from_secs(6) && d4 <= Duration::from_secs(10));
        for n in [10, 30, 1000] {
            assert!(backoff(n) <= BACKOFF_MAX.mul_f64(1.25));
            assert!(backoff(n) >= BACKOFF_MAX.mul_f64(0.75));
        }
    }
}
