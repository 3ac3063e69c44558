//! The Maildir source through `poll --once` and `serve`.

use std::time::{Duration, Instant};

use crate::both_backends;
use crate::support::*;

fn drop_into_inbox(env: &Env, name: &str, raw: &str) {
    let tmp = env.path(&format!("inbox/tmp/{name}"));
    std::fs::create_dir_all(env.path("inbox/tmp")).expect("mkdir");
    std::fs::create_dir_all(env.path("inbox/new")).expect("mkdir");
    std::fs::write(&tmp, raw).expect("write");
    std::fs::rename(&tmp, env.path(&format!("inbox/new/{name}"))).expect("deliver");
}

both_backends! {
    fn poll_once_processes_everything_once(b) {
        let env = Env::new(b);
        for i in 0..30 {
            let extra = if i % 3 == 2 { format!("In-Reply-To: <m{}@c.test>\r\n", i - 1) } else { String::new() };
            drop_into_inbox(&env, &format!("{i:03}.eml"), &mail(&format!("c{}@c.test", i / 3), &format!("s{i}"), &format!("m{i}@c.test"), &extra, "x"));
        }
        let out = env.run_ok(&["poll", "--once"]);
        assert!(out.contains("processed 30 message(s)"), "{out}");
        assert!(out.contains("appended 10") && out.contains("created 20"), "{out}");
        assert_eq!(std::fs::read_dir(env.path("inbox/new")).expect("new").count(), 0);
        assert_eq!(std::fs::read_dir(env.path("inbox/cur")).expect("cur").count(), 30);
        let again = env.run_ok(&["poll", "--once"]);
        assert!(again.contains("processed 0 message(s)"), "{again}");
        assert_eq!(env.tickets().len(), 20);
    }

    fn serve_ingests_sends_and_stops_cleanly(b) {
        let env = Env::new(b);
        let mut child = env.command().arg("serve").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().expect("spawn serve");
        drop_into_inbox(&env, "1.eml", &mail("a@c.test", "live", "live1@c.test", "", "hello"));
        let deadline = Instant::now() + Duration::from_secs(20);
        let outbox_files = || std::fs::read_dir(env.path("outbox")).map(|d| d.count()).unwrap_or(0);
        while outbox_files() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(outbox_files(), 2, "ack and notification written by the running server");
        // SIGTERM: finish what is in hand, exit 0.
        let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let code = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            assert!(Instant::now() < deadline, "serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(code.success(), "serve exit status {code:?}");
        assert_eq!(env.tickets().len(), 1);
    }
}
