//! Test harness: a temp dir with a config, the real `mailroom` binary, and a
//! fresh database per test on SQLite or PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub backend: Backend,
    pub db_url: String,
    pg_db: Option<String>,
    counter: std::sync::atomic::AtomicU32,
    /// Port of `serve`'s /healthz and /metrics endpoint.
    pub http_port: u16,
}

/// A port nobody listens on right now (the OS picks it; a test binds it soon
/// after), and never one this test process handed out before: the OS may give
/// a just-released port again (seen: Dovecot's IMAP and IMAPS listeners got
/// the same port and Dovecot refused to start).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("MAILROOM_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
}

/// Base config every test gets; `extra` is appended (more sections, agents, …).
pub const BASE: &str = r#"
[mailroom]
support_address = "support@example.test"
support_name = "Example Support"
ticket_prefix = "MR"
default_owner = "bob@example.test"

[[agent]]
email = "bob@example.test"
name = "Bob"
areas = ["billing"]

[[agent]]
email = "erin@example.test"
name = "Erin"
"#;

impl Env {
    pub fn new(backend: Backend) -> Env {
        Env::with_config(backend, BASE, "")
    }

    /// `mailroom_section` replaces BASE's top part entirely when it starts with "[mailroom]".
    pub fn with_config(backend: Backend, base: &str, extra: &str) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("mr-it-")
            .tempdir()
            .expect("tempdir");
        let (db_url, pg_db) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("mailroom.db").display()),
                None,
            ),
            Backend::Postgres => {
                let name = format!("mr_test_{}", uuid::Uuid::new_v4().simple());
                let admin = pg_admin_url();
                runtime().block_on(async {
                    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                        panic!("PostgreSQL at {admin} is required for the postgres half of the suite (set MAILROOM_TEST_PG_URL): {e}")
                    });
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&mut c)
                        .await
                        .expect("create test database");
                });
                let base_url = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or(admin);
                (format!("{base_url}/{name}"), Some(name))
            }
        };
        let config = dir.path().join("mailroom.toml");
        let http_port = free_port();
        let text = format!(
            "{base}\n[database]\nurl = \"{db_url}\"\n\n[http]\nlisten = \"127.0.0.1:{http_port}\"\n\n[[inbound]]\nname = \"inbox\"\nkind = \"maildir\"\npath = \"{}\"\npoll_interval = \"100ms\"\n\n[outbound]\nkind = \"file\"\npath = \"{}\"\nflush_interval = \"100ms\"\n{extra}\n",
            dir.path().join("inbox").display(),
            dir.path().join("outbox").display(),
        );
        std::fs::write(&config, text).expect("write config");
        Env {
            dir,
            config,
            backend,
            db_url,
            pg_db,
            counter: std::sync::atomic::AtomicU32::new(0),
            http_port,
        }
    }

    /// The config of another instance on the same database and mailboxes:
    /// its own HTTP port, Maildir source and file outbox. Returns (config, port).
    pub fn instance_config(&self, n: u32) -> (PathBuf, u16) {
        let text = std::fs::read_to_string(&self.config).expect("config");
        let port = free_port();
        let text = text
            .replace(
                &format!("127.0.0.1:{}\"", self.http_port),
                &format!("127.0.0.1:{port}\""),
            )
            .replace(
                &format!("{}\"", self.path("inbox").display()),
                &format!("{}\"", self.path(&format!("inbox-{n}")).display()),
            )
            .replace(
                &format!("{}\"", self.path("outbox").display()),
                &format!("{}\"", self.path(&format!("outbox-{n}")).display()),
            );
        let path = self.path(&format!("mailroom-{n}.toml"));
        std::fs::write(&path, text).expect("write config");
        (path, port)
    }

    /// Replaces the config's `[outbound]` section (the file outbox) with `section`.
    pub fn set_outbound(&self, section: &str) {
        let text = std::fs::read_to_string(&self.config).expect("config");
        let cut = text.find("[outbound]").expect("outbound section");
        let rest = &text[cut..];
        let end = rest.find("\n\n").map(|i| cut + i).unwrap_or(text.len());
        std::fs::write(
            &self.config,
            format!("{}{section}\n{}", &text[..cut], &text[end..]),
        )
        .expect("config");
    }

    /// `[outbound]` over plain SMTP to 127.0.0.1:`port`, retrying after a second.
    pub fn smtp_outbound(&self, port: u16) {
        self.set_outbound(&format!(
            "[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nflush_interval = \"100ms\"\nretry_first = \"1s\"\n"
        ));
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn command(&self) -> Command {
        self.command_for(&self.config)
    }

    /// The binary with another config file (a second instance, say).
    pub fn command_for(&self, config: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mailroom"));
        c.arg("--config")
            .arg(config)
            .current_dir(self.dir.path())
            .env_remove("MAILROOM_CONFIG");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run mailroom")
    }

    /// Runs `args` (which may fail): whether it succeeded, and its stdout
    /// and stderr together.
    pub fn run_text(&self, args: &[&str]) -> (bool, String) {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mailroom {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Writes `raw` to a file and ingests it; returns the JSON outcome line.
    pub fn ingest(&self, raw: &str) -> Value {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let file = self.path(&format!("msg-{n}.eml"));
        std::fs::write(&file, raw).expect("write message");
        let file = file.display().to_string();
        let out = self.run_ok(&["ingest", "--json", &file]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "one outcome line expected: {out}");
        serde_json::from_str(lines[0]).expect("outcome is JSON")
    }

    pub fn ingest_files(&self, files: &[&Path]) -> Vec<Value> {
        let mut args = vec!["ingest".to_string(), "--json".to_string()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_ok(&args)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }

    pub fn ticket(&self, reference: &str) -> Value {
        serde_json::from_str(&self.run_ok(&["tickets", "show", reference, "--json"]))
            .expect("ticket JSON")
    }

    pub fn tickets(&self) -> Vec<Value> {
        serde_json::from_str(&self.run_ok(&["tickets", "list", "--json"])).expect("list JSON")
    }

    pub fn outbox(&self) -> Vec<Value> {
        serde_json::from_str(&self.run_ok(&["outbox", "list", "--json"])).expect("outbox JSON")
    }

    /// Delivers `raw` into the config's Maildir the way an MDA does (tmp/ then
    /// rename into new/).
    pub fn deliver(&self, name: &str, raw: &str) {
        std::fs::create_dir_all(self.path("inbox/tmp")).expect("mkdir tmp");
        std::fs::create_dir_all(self.path("inbox/new")).expect("mkdir new");
        let tmp = self.path(&format!("inbox/tmp/{name}"));
        std::fs::write(&tmp, raw).expect("write");
        std::fs::rename(&tmp, self.path(&format!("inbox/new/{name}"))).expect("deliver");
    }

    /// Runs one SQL statement against the test database (to set up states that
    /// later issues will reach through agent commands).
    pub fn sql(&self, stmt: &str) {
        self.scalar(stmt);
    }

    /// Runs a `SELECT COUNT(*) …` against the test database.
    pub fn count(&self, stmt: &str) -> i64 {
        self.scalar(stmt).expect("the statement returns a row")
    }

    /// The first column of every row of `stmt`, as text.
    pub fn strings(&self, stmt: &str) -> Vec<String> {
        self.column(stmt)
    }

    /// Runs `stmt` on a fresh connection; the first column of its first row, if any.
    fn scalar(&self, stmt: &str) -> Option<i64> {
        self.column(stmt).into_iter().next()
    }

    /// Runs `stmt` on a fresh connection: the first column of every row.
    fn column<T>(&self, stmt: &str) -> Vec<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + for<'r> sqlx::Decode<'r, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + Send
            + Unpin,
    {
        let (url, stmt) = (self.db_url.clone(), sqlx::AssertSqlSafe(stmt.to_string()));
        runtime().block_on(async move {
            match self.backend {
                Backend::Sqlite => {
                    let mut c = sqlx::SqliteConnection::connect(&url)
                        .await
                        .expect("sqlite connect");
                    sqlx::query_scalar::<_, T>(stmt).fetch_all(&mut c).await
                }
                Backend::Postgres => {
                    let mut c = sqlx::PgConnection::connect(&url).await.expect("pg connect");
                    sqlx::query_scalar::<_, T>(stmt).fetch_all(&mut c).await
                }
            }
            .expect("sql")
        })
    }

    /// Flushes the outbox and returns the .eml files written, parsed.
    pub fn flush_outbox(&self) -> Vec<(String, mailroom::mail::ParsedMail)> {
        self.run_ok(&["outbox", "flush"]);
        let mut out = Vec::new();
        let dir = self.path("outbox");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return out;
        };
        let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for p in names {
            if p.extension().is_some_and(|e| e == "eml") {
                let raw = std::fs::read(&p).expect("read outbox file");
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push((
                    name,
                    mailroom::mail::parse(&raw).expect("outgoing mail parses"),
                ));
            }
        }
        out
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(name) = self.pg_db.take() {
            let admin = pg_admin_url();
            runtime().block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                }
            });
        }
    }
}

/// Generates `mod $name { fn sqlite(); fn postgres(); }` running one body on both backends.
#[macro_export]
macro_rules! both_backends {
    ($($(#[$m:meta])* fn $name:ident($b:ident) $body:block)*) => {
        $(
            $(#[$m])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                fn run($b: $crate::support::Backend) $body
                #[test]
                fn sqlite() {
                    run($crate::support::Backend::Sqlite)
                }
                #[test]
                fn postgres() {
                    run($crate::support::Backend::Postgres)
                }
            }
        )*
    };
}

/// A plain customer mail.
pub fn mail(
    from: &str,
    subject: &str,
    message_id: &str,
    extra_headers: &str,
    body: &str,
) -> String {
    format!(
        "From: {from}\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n{extra_headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

pub fn messages(t: &Value) -> &Vec<Value> {
    t["messages"].as_array().expect("messages array")
}

pub fn kinds(t: &Value) -> Vec<String> {
    messages(t)
        .iter()
        .map(|m| m["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

pub fn events_text(t: &Value) -> String {
    t["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e["kind"].as_str().unwrap_or(""),
                        e["detail"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The shared real-world corpus (`../shared/corpus`, see its README), or None
/// with a clear message where it is missing. With MAILROOM_REQUIRE_CORPUS set
/// (CI) a missing corpus is a failure, never a skip.
pub fn shared_corpus() -> Option<PathBuf> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if corpus.join("MANIFEST.tsv").is_file() {
        return Some(corpus);
    }
    if std::env::var_os("MAILROOM_REQUIRE_CORPUS").is_some() {
        panic!(
            "corpus not found at {} (MAILROOM_REQUIRE_CORPUS is set): \
             the shared corpus must sit next to the crate",
            corpus.display()
        );
    }
    println!(
        "corpus not found at {}, skipping (set MAILROOM_REQUIRE_CORPUS=1 to require it)",
        corpus.display()
    );
    None
}

/// Runs mailroom at the fixed instant `now` (MAILROOM_NOW, debug builds); its stdout.
pub fn at(env: &Env, now: &str, args: &[&str]) -> String {
    let out = env
        .command()
        .args(args)
        .env("MAILROOM_NOW", now)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{args:?} at {now}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Ingests `raw` at the fixed instant `now`; the JSON outcome.
pub fn ingest_at(env: &Env, now: &str, raw: &str) -> Value {
    let p = env.path(&format!("m-{}.eml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&p, raw).expect("write");
    let out = at(env, now, &["ingest", "--json", &p.display().to_string()]);
    serde_json::from_str(out.trim()).expect("outcome")
}

/// Runs mailroom with `input` (a file) as stdin: its exit code, its stderr and
/// its peak RSS in MiB, which the binary reports itself
/// (MAILROOM_REPORT_PEAK_RSS): `wait4`'s figure would include this test
/// process's own memory.
pub fn run_measured(env: &Env, args: &[&str], input: Option<&Path>) -> (i32, String, f64) {
    let stdin = match input {
        Some(p) => Stdio::from(std::fs::File::open(p).expect("open input")),
        None => Stdio::null(),
    };
    let out = env
        .command()
        .args(args)
        .env("MAILROOM_REPORT_PEAK_RSS", "1")
        .stdin(stdin)
        .stdout(Stdio::null())
        .output()
        .expect("run mailroom");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let kib: f64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("mailroom peak RSS: "))
        .and_then(|v| v.trim_end_matches(" KiB").parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS reported: {stderr}"));
    (out.status.code().unwrap_or(-1), stderr, kib / 1024.0)
}
