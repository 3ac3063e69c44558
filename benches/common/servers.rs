//! The mail servers and the `mailroom serve` process of the server benchmarks
//! (shared by `benches/imap.rs`, `benches/relay.rs`, `benches/outbox.rs` and
//! `benches/instances.rs`, included with `#[path]`): a private Dovecot + Postfix
//! (`scripts/mailenv.sh`) and mail put straight into its Maildirs, `serve`
//! with its /healthz and /metrics, a minimal SMTP client, IMAP login, the
//! read-only view of serve's SQLite database, and the statistics and
//! environment checks they report with. One job (talking to the servers of a
//! live run), so it is kept in one file though it is over 400 lines.

// Each bench uses a different subset of these items.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of every user of a mailenv instance (scripts/README-mailenv.md).
pub const PASSWORD: &str = "secret";
/// `/proc/pressure/io` avg10 (%) above which the disk counts as busy.
pub const PRESSURE_LIMIT: f64 = 5.0;

/// The bench's working directory (see `proc::work_dir`), short enough for
/// mailenv: Dovecot's and Postfix's unix sockets live below it.
pub fn work_dir(
    keep: Option<&Path>,
    prefix: &str,
) -> Result<(Option<tempfile::TempDir>, PathBuf), String> {
    let (temp, dir) = super::proc::work_dir(keep, prefix, Path::new("/tmp"))?;
    let len = dir.as_os_str().as_bytes().len();
    if len > 60 {
        return Err(format!(
            "work dir {} is {len} characters; mailenv.sh needs at most 60 (unix socket paths)",
            dir.display()
        ));
    }
    Ok((temp, dir))
}

/// Nearest-rank percentile of sorted values.
pub fn pct(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A sample of the Prometheus text format: `name{labels} value` whose labels
/// include all of `want`.
pub fn metric(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let (n, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        if n != name {
            return None;
        }
        let has = |k: &str, v: &str| {
            labels
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .any(|(lk, lv)| lk == k && lv.trim_matches('"') == v)
        };
        want.iter()
            .all(|(k, v)| has(k, v))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// Polls `f` every 10 ms until it returns true; an error or `limit` ends it.
pub fn wait_for(
    limit: Duration,
    mut f: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if f()? {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!("timed out after {:.0} s", limit.as_secs_f64()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// GET on serve's HTTP endpoint: (status code, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let code = resp.get(9..12)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

/// Free TCP ports on 127.0.0.1, all bound at once so none repeats.
pub fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("finding a free port: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("finding a free port: {e}"))
}

/// `/proc/pressure/io`'s "some" line and its avg10.
pub fn io_pressure() -> Option<(String, f64)> {
    let s = std::fs::read_to_string("/proc/pressure/io").ok()?;
    let some = s.lines().find(|l| l.starts_with("some"))?;
    let avg10: f64 = some
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()?;
    Some((some.trim().to_string(), avg10))
}

/// Waits up to 30 s for the disk to calm down (avg10 <= 5 %: another
/// process's I/O, or the cleanup of a previous run); returns the last reading,
/// marked when the disk is still under pressure.
pub fn calm_disk(bench: &str) -> Option<String> {
    let start = Instant::now();
    let mut reading = io_pressure()?;
    if reading.1 > PRESSURE_LIMIT {
        eprintln!(
            "{bench} bench: disk busy ({}); waiting up to 30 s for it to calm down",
            reading.0
        );
    }
    while reading.1 > PRESSURE_LIMIT && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_secs(1));
        reading = io_pressure()?;
    }
    Some(if reading.1 > PRESSURE_LIMIT {
        format!(
            "{}  (avg10 > 5: disk under outside pressure, numbers will be low)",
            reading.0
        )
    } else {
        reading.0
    })
}

/// A private Dovecot + Postfix (scripts/mailenv.sh); stopped on drop too.
pub struct MailEnv {
    /// Names the bench in messages printed on drop.
    bench: &'static str,
    dir: PathBuf,
    pub imap: u16,
    /// IMAP with implicit TLS; the certificate is `ca_file()`.
    pub imaps: u16,
    pub smtp: u16,
    stopped: bool,
}

impl MailEnv {
    pub fn start(bench: &'static str, dir: &Path, ports: [u16; 4]) -> Result<MailEnv, String> {
        MailEnv::start_with_users(bench, dir, ports, &[])
    }

    /// `start` with more Dovecot users (full addresses, same password;
    /// `MAILENV_EXTRA_USERS` in scripts/README-mailenv.md).
    pub fn start_with_users(
        bench: &'static str,
        dir: &Path,
        [imap, imaps, smtp, lmtp]: [u16; 4],
        extra: &[String],
    ) -> Result<MailEnv, String> {
        let mut env = MailEnv {
            bench,
            dir: dir.to_path_buf(),
            imap,
            imaps,
            smtp,
            stopped: true,
        };
        let ports = [imap, imaps, smtp, lmtp].map(|p| p.to_string());
        let mut args = vec!["start", dir.to_str().ok_or("work dir is not UTF-8")?];
        args.extend(ports.iter().map(String::as_str));
        // From here on a half-started instance must be stopped too.
        env.stopped = false;
        env.script_env(&extra.join(" "), &args)?;
        Ok(env)
    }

    fn script(&self, args: &[&str]) -> Result<(), String> {
        self.script_env("", args)
    }

    fn script_env(&self, extra_users: &str, args: &[&str]) -> Result<(), String> {
        let out = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mailenv.sh"))
            .args(args)
            .env("MAILENV_EXTRA_USERS", extra_users)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run scripts/mailenv.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "scripts/mailenv.sh {} failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The instance's self-signed certificate (IMAPS, STARTTLS), to be
    /// trusted as `ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("tls/cert.pem")
    }

    /// CPU seconds (user + sys) of the Dovecot master's exited children, such
    /// as the imap process of a finished session.
    pub fn dovecot_children_cpu(&self) -> Option<f64> {
        let pid = std::fs::read_to_string(self.dir.join("run/master.pid")).ok()?;
        // cutime and cstime (fields 16 and 17).
        proc_cpu_seconds(&format!("/proc/{}/stat", pid.trim()), 13)
    }

    pub fn stop(mut self) -> Result<(), String> {
        self.stopped = true;
        let dir = self.dir.display().to_string();
        self.script(&["stop", &dir])
    }
}

impl Drop for MailEnv {
    fn drop(&mut self) {
        if !self.stopped {
            let dir = self.dir.display().to_string();
            if let Err(e) = self.script(&["stop", &dir]) {
                eprintln!("{} bench: {e}", self.bench);
            }
        }
    }
}

/// `mailroom serve`, killed on drop unless terminated.
pub struct Serve {
    child: Option<Child>,
    log: PathBuf,
}

impl Serve {
    pub fn start(bin: &Path, config: &Path, dir: &Path, log: &Path) -> Result<Serve, String> {
        let stderr = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .current_dir(dir)
            .env_remove("MAILROOM_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("cannot start {} serve: {e}", bin.display()))?;
        Ok(Serve {
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn check_running(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => Ok(()),
            Some(Ok(Some(s))) => Err(format!("serve exited early ({s})")),
            Some(Err(e)) => Err(format!("waiting for serve: {e}")),
            None => Err("serve is not running".into()),
        }
    }

    /// VmHWM of the running process.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        super::proc::peak_rss_mib_of(self.child.as_ref()?.id())
    }

    /// CPU seconds (user + sys) the running process has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id();
        proc_cpu_seconds(&format!("/proc/{pid}/stat"), 11)
    }

    /// SIGTERM; Ok(true) when serve exits 0 within 20 s.
    pub fn terminate(&mut self) -> Result<bool, String> {
        let Some(mut child) = self.child.take() else {
            return Err("serve is not running".into());
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            return Err(format!(
                "SIGTERM to serve: {}",
                std::io::Error::last_os_error()
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait() {
                Ok(Some(s)) => return Ok(s.success()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("serve did not stop within 20 s of SIGTERM".into());
                }
                Err(e) => return Err(format!("waiting for serve: {e}")),
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Two CPU-time fields of a `/proc/<pid>/stat` file, summed, in seconds:
/// `first` and the next, counted from the state field after "(comm) " (0):
/// 11 for utime + stime, 13 for cutime + cstime.
fn proc_cpu_seconds(stat_file: &str, first: usize) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_file).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks: f64 =
        fields.get(first)?.parse::<f64>().ok()? + fields.get(first + 1)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

/// Dovecot runs mail processes as the stock `mail` user (uid/gid 8).
pub const MAIL_UID: libc::uid_t = 8;
pub const MAIL_GID: libc::gid_t = 8;

/// `user`'s Maildir in a mailenv instance under `dir`, created (with new/,
/// cur/, tmp/) and owned by the `mail` user if missing.
pub fn user_maildir(dir: &Path, user: &str) -> Result<PathBuf, String> {
    let maildir = dir.join("mail").join(user);
    for sub in ["", "new", "cur", "tmp"] {
        let d = maildir.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        chown_mail(&d)?;
    }
    Ok(maildir)
}

/// Puts `raw` into `maildir` the way an MDA delivers (written to tmp/, owned
/// by the `mail` user, renamed into new/) and the way Dovecot stores what it
/// delivers itself: LF line ends (IMAP clients get CRLF again, so mailroom
/// sees the bytes given here), the file size and the CRLF size in the name.
pub fn maildir_deliver(maildir: &Path, name: &str, raw: &[u8]) -> std::io::Result<()> {
    let lf = crlf_to_lf(raw);
    let vsize = lf.len() + lf.iter().filter(|&&b| b == b'\n').count();
    let file = format!("{name},S={},W={vsize}", lf.len());
    let (t, f) = (
        maildir.join("tmp").join(&file),
        maildir.join("new").join(&file),
    );
    std::fs::write(&t, &lf)?;
    chown_mail(&t).map_err(std::io::Error::other)?;
    std::fs::rename(&t, &f)
}

fn crlf_to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, &b) in raw.iter().enumerate() {
        if !(b == b'\r' && raw.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

fn chown_mail(path: &Path) -> Result<(), String> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: NUL in path", path.display()))?;
    // SAFETY: a valid NUL-terminated path; chown(2) has no other preconditions.
    if unsafe { libc::chown(c.as_ptr(), MAIL_UID, MAIL_GID) } != 0 {
        return Err(format!(
            "chown {} to {MAIL_UID}:{MAIL_GID}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// A minimal SMTP client dialog, like a customer's MTA.
pub struct Dialog {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Dialog {
    pub fn open(port: u16, hello: &str) -> Result<Dialog, String> {
        let s = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("connect to Postfix on port {port}: {e}"))?;
        s.set_nodelay(true).ok();
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let mut d = Dialog {
            reader: BufReader::new(s.try_clone().map_err(|e| format!("clone socket: {e}"))?),
            writer: s,
        };
        d.expect("220")?;
        d.command(hello, "250")?;
        Ok(d)
    }

    /// Reads a (multi-line) reply and checks its code.
    pub fn expect(&mut self, code: &str) -> Result<String, String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader
                .read_line(&mut line)
                .map_err(|e| format!("SMTP: reading a reply: {e}"))?;
            all.push_str(&line);
            if !line.starts_with(code) {
                return Err(format!("SMTP: expected {code}, got: {all:?}"));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(all);
            }
        }
    }

    pub fn command(&mut self, cmd: &str, code: &str) -> Result<String, String> {
        self.writer
            .write_all(format!("{cmd}\r\n").as_bytes())
            .map_err(|e| format!("SMTP: writing {cmd}: {e}"))?;
        self.expect(code)
    }

    /// MAIL, RCPT, DATA; returns once the server accepted the message (250).
    pub fn transaction(&mut self, from: &str, to: &str, raw: &str) -> Result<(), String> {
        self.command(&format!("MAIL FROM:<{from}>"), "250")?;
        self.command(&format!("RCPT TO:<{to}>"), "250")?;
        self.command("DATA", "354")?;
        let mut body = String::with_capacity(raw.len() + 8);
        for line in raw.replace("\r\n", "\n").split('\n') {
            if line.starts_with('.') {
                body.push('.');
            }
            body.push_str(line);
            body.push_str("\r\n");
        }
        body.push_str(".\r\n");
        self.writer
            .write_all(body.as_bytes())
            .map_err(|e| format!("SMTP: writing DATA: {e}"))?;
        self.expect("250").map(drop)
    }

    pub fn quit(mut self) {
        let _ = self.writer.write_all(b"QUIT\r\n");
        let mut line = String::new();
        let _ = self.reader.read_line(&mut line);
    }
}

/// Logs in to the mailenv instance's Dovecot over plain IMAP on loopback.
pub async fn imap_login(
    port: u16,
    user: &str,
) -> Result<async_imap::Session<tokio::net::TcpStream>, String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect to Dovecot: {e}"))?;
    let mut client = async_imap::Client::new(tcp);
    client
        .read_response()
        .await
        .map_err(|e| format!("IMAP greeting: {e}"))?;
    client
        .login(user, PASSWORD)
        .await
        .map_err(|(e, _)| format!("IMAP login {user}: {e}"))
}

/// Whether serve's /healthz shows `source` in IDLE.
pub fn source_idle(http_port: u16, source: &str) -> bool {
    http_get(http_port, "/healthz")
        .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
        .is_some_and(|h| h["sources"][source]["state"] == "idle")
}

/// `_count` and `_sum` of a summary serve exports on /metrics, for `source`.
pub fn metric_count_sum(http_port: u16, name: &str, source: &str) -> Option<(f64, f64)> {
    let text = http_get(http_port, "/metrics")?.1;
    let labels = [("source", source)];
    Some((
        metric(&text, &format!("{name}_count"), &labels).unwrap_or(0.0),
        metric(&text, &format!("{name}_sum"), &labels).unwrap_or(0.0),
    ))
}

/// A read-only connection to serve's SQLite database: the bench watches what
/// serve commits without taking a write lock.
pub fn read_only_db(
    rt: &tokio::runtime::Runtime,
    path: &Path,
) -> Result<sqlx::SqliteConnection, String> {
    let url = format!("sqlite://{}", path.display());
    rt.block_on(async {
        use sqlx::ConnectOptions;
        use std::str::FromStr;
        sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .map_err(|e| format!("{url}: {e}"))?
            .read_only(true)
            .connect()
            .await
            .map_err(|e| format!("open {url}: {e}"))
    })
}

/// Mean of the values (zero when there are none).
pub fn mean(values: &[Duration]) -> Duration {
    if values.is_empty() {
        Duration::ZERO
    } else {
        values.iter().sum::<Duration>() / values.len() as u32
    }
}

/// How often `ImapWatch` asks Dovecot for news.
const WATCH_POLL: Duration = Duration::from_millis(5);
/// A search also runs this often without news (a missed EXISTS costs no more).
const WATCH_RESEARCH: Duration = Duration::from_millis(500);

/// A mailbox watched the way a fast mail client would: one session, NOOP
/// every 5 ms, and a `UID SEARCH` only when EXISTS grew, so Dovecot does
/// little work between arrivals.
pub struct ImapWatch {
    session: async_imap::Session<tokio::net::TcpStream>,
    exists: u32,
}

impl ImapWatch {
    /// Logs in as `user` and selects `folder`.
    pub async fn open(port: u16, user: &str, folder: &str) -> Result<ImapWatch, String> {
        let mut session = imap_login(port, user).await?;
        let mb = session
            .select(folder)
            .await
            .map_err(|e| format!("SELECT {folder}: {e}"))?;
        Ok(ImapWatch {
            session,
            exists: mb.exists,
        })
    }

    /// UIDs matching an IMAP search `query` now.
    pub async fn search(&mut self, query: &str) -> Result<Vec<u32>, String> {
        let mut uids: Vec<u32> = self
            .session
            .uid_search(query)
            .await
            .map_err(|e| format!("UID SEARCH {query}: {e}"))?
            .into_iter()
            .collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Waits until `query` matches (looking at what is there first): the UIDs
    /// and when the NOOP that announced them returned; None at `deadline`.
    pub async fn wait_match(
        &mut self,
        query: &str,
        deadline: Instant,
    ) -> Result<Option<(Vec<u32>, Instant)>, String> {
        let (mut seen_at, mut last_search) = (Instant::now(), None::<Instant>);
        loop {
            let news = self.drain_exists();
            if news || last_search.is_none_or(|t| t.elapsed() >= WATCH_RESEARCH) {
                last_search = Some(Instant::now());
                let uids = self.search(query).await?;
                if !uids.is_empty() {
                    return Ok(Some((uids, seen_at)));
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(WATCH_POLL).await;
            self.session
                .noop()
                .await
                .map_err(|e| format!("IMAP NOOP: {e}"))?;
            seen_at = Instant::now();
        }
    }

    /// The whole raw message `uid` (BODY.PEEK: its flags stay as they are).
    pub async fn fetch(&mut self, uid: u32) -> Result<Vec<u8>, String> {
        use futures_util::TryStreamExt;
        let mut stream = self
            .session
            .uid_fetch(uid.to_string(), "BODY.PEEK[]")
            .await
            .map_err(|e| format!("UID FETCH {uid}: {e}"))?;
        let mut body = None;
        while let Some(f) = stream
            .try_next()
            .await
            .map_err(|e| format!("UID FETCH {uid}: {e}"))?
        {
            if let Some(b) = f.body() {
                body = Some(b.to_vec());
            }
        }
        body.ok_or_else(|| format!("UID FETCH {uid}: no body"))
    }

    pub async fn logout(mut self) {
        self.session.logout().await.ok();
    }

    /// Takes the untagged responses the last commands left; true when EXISTS
    /// changed. (The channel holds 100 and drops the rest, so it is emptied
    /// after every command.)
    fn drain_exists(&mut self) -> bool {
        let mut changed = false;
        while let Ok(r) = self.session.unsolicited_responses.try_recv() {
            if let async_imap::types::UnsolicitedResponse::Exists(n) = r
                && n != self.exists
            {
                self.exists = n;
                changed = true;
            }
        }
        changed
    }
}
