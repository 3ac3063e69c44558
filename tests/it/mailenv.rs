//! A private Dovecot + Postfix for one test (scripts/mailenv.sh does the
//! server side), plus the small clients tests use to put mail in and look at
//! the mailbox: SMTP and LMTP senders and an IMAP STATUS probe.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::free_port;

pub const USER: &str = "support@example.test";
pub const PASSWORD: &str = "secret";

pub struct MailEnv {
    pub dir: tempfile::TempDir,
    pub imap: u16,
    pub imaps: u16,
    pub smtp: u16,
    pub lmtp: u16,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mailenv.sh")
}

impl MailEnv {
    /// Starts both servers in a fresh short temp dir (Unix socket paths are
    /// limited to 107 bytes). Panics with the servers' logs when they fail.
    pub fn start() -> MailEnv {
        MailEnv::start_with_users(&[])
    }

    /// Like `start`, with more mailboxes: full addresses, password
    /// `PASSWORD`; mail to their domains lands in their own INBOX, not the
    /// catch-all (scripts/mailenv.sh, MAILENV_EXTRA_USERS).
    pub fn start_with_users(extra: &[String]) -> MailEnv {
        let dir = tempfile::Builder::new()
            .prefix("mev")
            .tempdir_in("/tmp")
            .expect("temp dir for the mail servers");
        let env = MailEnv {
            dir,
            imap: free_port(),
            imaps: free_port(),
            smtp: free_port(),
            lmtp: free_port(),
        };
        env.script_env(
            &[("MAILENV_EXTRA_USERS", &extra.join(" "))],
            &[
                "start",
                &env.dir_str(),
                &env.imap.to_string(),
                &env.imaps.to_string(),
                &env.smtp.to_string(),
                &env.lmtp.to_string(),
            ],
        );
        env
    }

    fn dir_str(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn script(&self, args: &[&str]) -> String {
        self.script_env(&[], args)
    }

    fn script_env(&self, vars: &[(&str, &str)], args: &[&str]) -> String {
        let out = Command::new("bash")
            .arg(script())
            .args(args)
            .envs(vars.iter().copied())
            .output()
            .expect("run scripts/mailenv.sh");
        assert!(
            out.status.success(),
            "scripts/mailenv.sh {args:?} failed ({:?}); Dovecot and Postfix are required \
             (the README test command installs them):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("tls/cert.pem")
    }

    pub fn stop_dovecot(&self) {
        self.script(&["stop-dovecot", &self.dir_str()]);
    }

    pub fn start_dovecot(&self) {
        self.script(&["start-dovecot", &self.dir_str()]);
    }

    pub fn reset_uidvalidity(&self, user: &str) {
        self.script(&["reset-uidvalidity", &self.dir_str(), user]);
    }

    /// An `[[inbound]]` block for `user` over plain IMAP on loopback, with a
    /// password file; `extra` adds keys (processed_folder, idle, …).
    pub fn inbound(&self, name: &str, user: &str, password: &str, extra: &str) -> String {
        let pw = self.dir.path().join(format!("pw-{name}"));
        std::fs::write(&pw, format!("{password}\n")).expect("password file");
        format!(
            "\n[[inbound]]\nname = \"{name}\"\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{user}\"\npassword_file = \"{}\"\n{extra}\n",
            self.imap,
            pw.display()
        )
    }

    /// Sends mails through Postfix over one SMTP session, like a customer's MTA.
    pub fn smtp_send(&self, to: &str, mails: &[String]) {
        let mut c = Dialog::open(self.smtp, "EHLO test.example");
        for raw in mails {
            c.transaction("customer@customer.test", to, raw);
        }
        c.quit();
    }

    /// Delivers straight into Dovecot over LMTP: fast seeding where the test is
    /// not about SMTP.
    pub fn lmtp_deliver(&self, to: &str, mails: &[String]) {
        let mut c = Dialog::open(self.lmtp, "LHLO test.example");
        for raw in mails {
            c.transaction("customer@customer.test", to, raw);
        }
        c.quit();
    }

    /// Logs in as `user` over IMAP, runs `f` on the session, logs out.
    fn imap<T>(
        &self,
        user: &str,
        f: impl AsyncFnOnce(&mut async_imap::Session<tokio::net::TcpStream>) -> T,
    ) -> T {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.imap))
                .await
                .expect("connect to dovecot");
            let mut client = async_imap::Client::new(tcp);
            client.read_response().await.expect("greeting");
            let mut s = client
                .login(user, PASSWORD)
                .await
                .map_err(|(e, _)| e)
                .expect("login");
            let out = f(&mut s).await;
            s.logout().await.ok();
            out
        })
    }

    /// (messages, unseen) in `folder` of `user`, asked over IMAP STATUS.
    pub fn status(&self, user: &str, folder: &str) -> (u32, u32) {
        self.imap(user, async |s| {
            let mb = s
                .status(folder, "(MESSAGES UNSEEN)")
                .await
                .unwrap_or_else(|e| panic!("STATUS {folder}: {e}"));
            (mb.exists, mb.unseen.unwrap_or(0))
        })
    }

    /// Replaces the recipients Postfix refuses at RCPT time (an access
    /// regexp table, `refuse.regexp`; scripts/mailenv.sh has the default) and
    /// restarts Postfix, so no open session keeps the old table.
    pub fn refuse(&self, table: &str) {
        let path = self.dir.path().join("postfix/refuse.regexp");
        std::fs::write(&path, table).expect("write refuse.regexp");
        // Postfix waits ~2 s at start for a table younger than that.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(old))
            .expect("backdate refuse.regexp");
        self.stop_postfix();
        self.start_postfix();
    }

    pub fn stop_postfix(&self) {
        self.script(&["stop-postfix", &self.dir_str()]);
    }

    pub fn start_postfix(&self) {
        self.script(&["start-postfix", &self.dir_str()]);
    }

    /// Every message in `user`'s `folder`, fetched over IMAP (BODY.PEEK[]: nothing is marked read).
    pub fn fetch_all(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        use futures_util::TryStreamExt;
        self.imap(user, async |s| {
            let mb = s.select(folder).await.expect("select");
            if mb.exists == 0 {
                return Vec::new();
            }
            let fetches: Vec<_> = s
                .uid_fetch("1:*", "BODY.PEEK[]")
                .await
                .expect("fetch")
                .try_collect()
                .await
                .expect("fetch answers");
            fetches
                .iter()
                .filter_map(|f| f.body().map(<[u8]>::to_vec))
                .collect()
        })
    }

    /// Waits until `user`'s `folder` holds `n` messages (delivery is asynchronous).
    pub fn wait_for_count(&self, user: &str, folder: &str, n: u32) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (have, _) = self.status(user, folder);
            if have >= n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{folder} of {user} has {have} of {n} messages after 60 s; postfix log:\n{}",
                self.log("postfix.log")
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Mails in Postfix's queue (received, not yet delivered or bounced):
    /// the queue files under its incoming, active, deferred, hold and
    /// maildrop directories.
    pub fn queued(&self) -> usize {
        fn files(dir: &Path) -> usize {
            std::fs::read_dir(dir).map_or(0, |rd| {
                rd.filter_map(Result::ok)
                    .map(|e| match e.file_type() {
                        Ok(t) if t.is_dir() => files(&e.path()),
                        Ok(_) => 1,
                        Err(_) => 0,
                    })
                    .sum()
            })
        }
        let spool = self.dir.path().join("spool");
        ["incoming", "active", "deferred", "hold", "maildrop"]
            .iter()
            .map(|d| files(&spool.join(d)))
            .sum()
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

impl Drop for MailEnv {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", &self.dir_str()])
            .output();
    }
}

/// A minimal SMTP/LMTP client dialog (the two differ only in the greeting verb).
struct Dialog {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Dialog {
    fn open(port: u16, hello: &str) -> Dialog {
        // A loaded Postfix (the whole suite runs at once) now and then closes a
        // new connection before its greeting; a real client tries again.
        for _ in 0..10 {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to mail server");
            let mut d = Dialog {
                reader: BufReader::new(s.try_clone().expect("clone socket")),
                writer: s,
            };
            let mut greeting = String::new();
            if d.reader.read_line(&mut greeting).unwrap_or(0) == 0 {
                std::thread::sleep(std::time::Duration::from_millis(300));
                continue;
            }
            assert!(greeting.starts_with("220"), "expected 220, got: {greeting}");
            while greeting.as_bytes().get(3) == Some(&b'-') {
                greeting.clear();
                d.reader.read_line(&mut greeting).expect("read greeting");
            }
            d.command(hello, "250");
            return d;
        }
        panic!("port {port}: the connection was closed before a greeting, 10 times");
    }

    /// Reads a (multi-line) reply and checks its code.
    fn expect(&mut self, code: &str) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("read reply");
            all.push_str(&line);
            assert!(line.starts_with(code), "expected {code}, got: {all}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    fn command(&mut self, cmd: &str, code: &str) -> String {
        self.writer
            .write_all(format!("{cmd}\r\n").as_bytes())
            .expect("write command");
        self.expect(code)
    }

    fn transaction(&mut self, from: &str, to: &str, raw: &str) {
        self.command(&format!("MAIL FROM:<{from}>"), "250");
        self.command(&format!("RCPT TO:<{to}>"), "250");
        self.command("DATA", "354");
        let mut body = String::with_capacity(raw.len() + 8);
        for line in raw.replace("\r\n", "\n").split('\n') {
            if line.starts_with('.') {
                body.push('.');
            }
            body.push_str(line);
            body.push_str("\r\n");
        }
        body.push_str(".\r\n");
        self.writer.write_all(body.as_bytes()).expect("write data");
        self.expect("250");
    }

    fn quit(mut self) {
        let _ = self.writer.write_all(b"QUIT\r\n");
        let mut line = String::new();
        let _ = self.reader.read_line(&mut line);
    }
}
