//! `serve`'s side of the hand-off: accepts `ingest -` connections, reads each
//! mail whole, and commits every mail that has arrived meanwhile in one
//! transaction on a store whose commits are fsynced (`Store::writer`).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedReadHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use super::{REQUEST_LINE_LIMIT, Reply, Request, VERSION};
use crate::error::{Error, Result};
use crate::inbound::SourceReport;
use crate::pipeline::{Inbound, Pipeline};
use crate::store::Store;

/// The hand-off's name in /healthz, /metrics and the logs.
pub const SOURCE: &str = "ingest-socket";
/// How long a client may take to send its request and mail: it has read the
/// mail before it connects, so this only ends connections that hang.
const FRAME_TIMEOUT: Duration = Duration::from_secs(30);
/// Mail up to this size is parsed on the committing task: handing it to a
/// blocking thread costs a thread wake-up (0.1-0.2 ms on an idle VM), more
/// than parsing it.
const INLINE_PARSE_LIMIT: usize = 64 * 1024;
/// Connections served at once; more are told to store the mail themselves.
const MAX_CONNECTIONS: usize = 256;

/// A bound socket, not yet accepting.
pub struct Listener {
    path: PathBuf,
    inner: UnixListener,
}

impl Listener {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Binds the hand-off socket at `path`. A socket left by a serve that was
/// killed is replaced; one that answers belongs to a running serve and is
/// left alone (an error), as is anything that is not a socket.
pub fn bind(path: &Path) -> Result<Listener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(Error::Invalid(format!(
                "{}: exists and is not a socket (mailroom.ingest_socket names a path of its own)",
                path.display()
            )));
        }
        Ok(_) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(Error::Invalid(format!(
                    "{}: another process (a second serve?) is listening on it",
                    path.display()
                )));
            }
            std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    let inner = UnixListener::bind(path).map_err(|e| Error::io(path, e))?;
    // Whoever may connect may hand in mail: the owner and the group, as with
    // the database file that `ingest -` would otherwise write itself.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| Error::io(path, e))?;
    Ok(Listener {
        path: path.to_path_buf(),
        inner,
    })
}

/// What commits handed-off mail.
pub struct Committer {
    pub pipeline: Arc<Pipeline>,
    /// Commits are on the disk when they return (`Store::writer`).
    pub store: Store,
    pub health: Arc<dyn SourceReport>,
    /// Woken after each commit, so an acknowledgement leaves at once.
    pub outbox_wake: Arc<Notify>,
    pub batch_size: usize,
}

struct Job {
    item: Inbound,
    /// The mail's share of the memory budget, given back after its commit.
    budget: OwnedSemaphorePermit,
    reply: oneshot::Sender<Reply>,
}

/// Accepts hand-offs until `stop`, then answers what is in hand (mails read
/// whole are committed, the rest are told to store themselves), removes the
/// socket and returns.
pub async fn serve_handoff(
    listener: Listener,
    committer: Committer,
    mut stop: watch::Receiver<bool>,
) {
    let limit = committer.pipeline.max_message_size();
    let health = committer.health.clone();
    health.register(SOURCE, "socket");
    health.synced(SOURCE, None);
    let (jobs, queue) = mpsc::channel::<Job>(committer.batch_size.max(1));
    let commit_task = tokio::spawn(commit_loop(queue, committer));
    // Mail in memory at once is at most one mail of the largest size.
    let budget = Arc::new(Semaphore::new(kib(limit as u64) as usize));
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tracing::info!(socket = %listener.path.display(), "taking piped mail from ingest -");
    loop {
        let accepted = tokio::select! {
            a = listener.inner.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        match accepted {
            Ok((stream, _)) => {
                let slot = connections.clone().try_acquire_owned().ok();
                tokio::spawn(receive(
                    stream,
                    slot,
                    jobs.clone(),
                    budget.clone(),
                    stop.clone(),
                    limit,
                ));
            }
            Err(e) => {
                // Out of file descriptors, say: try again shortly.
                tracing::warn!(error = %e, "accepting on the ingest socket failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let Listener { path, inner } = listener;
    drop(inner);
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(socket = %path.display(), error = %e, "cannot remove the ingest socket");
    }
    drop(jobs);
    // Ends once every connection in hand has been answered.
    let _ = commit_task.await;
    health.stopped(SOURCE);
}

/// One connection: read the request and the mail, queue it, answer.
async fn receive(
    stream: UnixStream,
    slot: Option<OwnedSemaphorePermit>,
    jobs: mpsc::Sender<Job>,
    budget: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    limit: usize,
) {
    let (rd, mut wr) = stream.into_split();
    let reply = if slot.is_none() {
        Reply::Direct {
            reason: format!("serve has {MAX_CONNECTIONS} hand-offs open"),
        }
    } else {
        let read = tokio::select! {
            r = tokio::time::timeout(FRAME_TIMEOUT, read_mail(rd, &budget, limit)) => {
                r.unwrap_or_else(|_| Err(direct(format!(
                    "the mail did not arrive within {} s", FRAME_TIMEOUT.as_secs()))))
            }
            _ = stop.wait_for(|s| *s) => Err(direct("serve is stopping".into())),
        };
        match read {
            Err(reply) => reply,
            Ok((item, permit)) => {
                let (tx, rx) = oneshot::channel();
                let job = Job {
                    item,
                    budget: permit,
                    reply: tx,
                };
                match jobs.send(job).await {
                    Ok(()) => rx.await.unwrap_or_else(|_| {
                        direct("serve stopped before committing the mail".into())
                    }),
                    Err(_) => direct("serve is stopping".into()),
                }
            }
        }
    };
    drop(slot);
    let mut line = serde_json::to_vec(&reply).unwrap_or_default();
    line.push(b'\n');
    if let Err(e) = wr.write_all(&line).await {
        // The client is gone (the MTA's own timeout?): it will deliver again,
        // and a copy committed here is then recorded as a duplicate.
        tracing::warn!(error = %e, "could not answer ingest -");
    }
}

fn direct(reason: String) -> Reply {
    Reply::Direct { reason }
}

/// KiB, rounded up, as semaphore permits.
fn kib(bytes: u64) -> u32 {
    u32::try_from(bytes / 1024 + 1).unwrap_or(u32::MAX)
}

/// Reads the request line and `len` bytes of mail, after taking the mail's
/// share of the memory budget.
pub(super) async fn read_mail(
    rd: OwnedReadHalf,
    budget: &Arc<Semaphore>,
    limit: usize,
) -> std::result::Result<(Inbound, OwnedSemaphorePermit), Reply> {
    let mut rd = BufReader::new(rd);
    let mut line = Vec::new();
    (&mut rd)
        .take(REQUEST_LINE_LIMIT)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| direct(format!("reading the request: {e}")))?;
    if line.last() != Some(&b'\n') {
        return Err(direct("no request line".into()));
    }
    let req: Request =
        serde_json::from_slice(&line).map_err(|e| direct(format!("unreadable request: {e}")))?;
    if req.v != VERSION {
        return Err(direct(format!(
            "request version {} (this serve speaks {VERSION})",
            req.v
        )));
    }
    if req.len > limit as u64 {
        return Err(direct(format!(
            "the mail is {} bytes, over serve's max_message_size of {limit}",
            req.len
        )));
    }
    let permit = budget
        .clone()
        .acquire_many_owned(kib(req.len))
        .await
        .map_err(|_| direct("serve is stopping".into()))?;
    let mut raw = vec![0u8; req.len as usize];
    rd.read_exact(&mut raw)
        .await
        .map_err(|e| direct(format!("the mail was cut short: {e}")))?;
    let mut item = Inbound::new(req.origin, raw);
    item.rejected = req.rejected;
    Ok((item, permit))
}

/// Commits what is queued, up to a batch at a time: while one transaction
/// commits, the next deliveries queue up and share the next one's fsync.
async fn commit_loop(mut queue: mpsc::Receiver<Job>, c: Committer) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < c.batch_size {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut items = Vec::with_capacity(batch.len());
        let mut waiting = Vec::with_capacity(batch.len());
        for job in batch {
            items.push(job.item);
            waiting.push((job.reply, job.budget));
        }
        let bytes: usize = items.iter().map(|i| i.raw.len()).sum();
        let prepared = if bytes <= INLINE_PARSE_LIMIT {
            Ok(c.pipeline.prepare(items))
        } else {
            // Parsing a big mail takes a while: not on the runtime's threads.
            let pipeline = c.pipeline.clone();
            tokio::task::spawn_blocking(move || pipeline.prepare(items))
                .await
                .map_err(|e| Error::Internal(format!("parsing handed-off mail: {e}")))
        };
        let committed = match prepared {
            Ok(prepared) => c.pipeline.commit(&c.store, &prepared, Utc::now()).await,
            Err(e) => Err(e),
        };
        match committed {
            Ok(outcomes) => {
                c.health.ingested(SOURCE, &outcomes);
                c.health.synced(SOURCE, None);
                c.outbox_wake.notify_one();
                let mut outcomes = outcomes.into_iter();
                for (reply, _budget) in waiting {
                    let answer = match outcomes.next() {
                        Some(o) => {
                            tracing::info!(origin = %o.file, outcome = o.outcome.as_str(), ticket = o.ticket_ref.as_deref().unwrap_or("-"), "processed");
                            Reply::Stored { outcome: o }
                        }
                        // Not reached (one outcome per mail); storing it again is safe.
                        None => direct("serve has no outcome for this mail".into()),
                    };
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, mails = waiting.len(), "handed-off mail not committed; ingest - exits 75 and the MTA retries");
                c.health.failed(SOURCE, &e.to_string());
                for (reply, _budget) in waiting {
                    let _ = reply.send(Reply::Later {
                        error: e.to_string(),
                    });
                }
            }
        }
    }
}
