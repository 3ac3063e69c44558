//! Quote stripping measured as a user sees it: every sample goes through the
//! real binary, `mailroom inspect --json FILE` in an empty directory (no
//! config, no database), and its `reply_text` is compared with the expected
//! text. Run with `cargo test --test it replies -- --nocapture` to see the
//! scores and every miss.
//!
//! A `.eml` sample is inspected as it is. A `.txt` or `.html` sample is a
//! bare body: it is wrapped in a minimal mail (From, To, Subject, a
//! `text/plain` or `text/html` part in UTF-8, 8bit), as a mail client would
//! send it. `reply_text` of an HTML-only mail is stripped from the HTML
//! (`mail::reply::strip_body`).
//!
//! Comparison: `exact`, `trim` and `exact after strip` compare after
//! whitespace normalisation (trailing spaces of each line, runs of blank
//! lines, both ends); `whitespace-insensitive` removes all whitespace. An
//! expected text of an HTML sample that is HTML itself (talon's
//! extract_from_html output) is compared as its text (`sanitize_html`, then `html_to_text`).

mod checks;
mod other;
mod shared;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailroom::mail::parse::sanitize_html;
use mailroom::mail::reply;

/// What `inspect --json` showed for one sample.
pub struct Seen {
    pub text: String,
    /// `reply.kept_whole` ("interleaved", "would_be_empty").
    pub kept_whole: Option<String>,
    pub detail: String,
}

#[path = "../../../benches/common/reply_samples.rs"]
mod reply_samples;
pub use reply_samples::as_mail;

/// Runs `mailroom inspect --json` on each mail, in an empty directory with
/// no config; also checks that the library function inspect calls gives
/// the same text, within a second.
pub fn inspect_all(mails: &[(String, Vec<u8>)]) -> Vec<Seen> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("sample.eml");
    mails
        .iter()
        .map(|(name, raw)| {
            std::fs::write(&file, raw).expect("write sample");
            let out = Command::new(env!("CARGO_BIN_EXE_mailroom"))
                .args(["inspect", "--json"])
                .arg(&file)
                .current_dir(dir.path())
                .env_remove("MAILROOM_CONFIG")
                .stdin(Stdio::null())
                .output()
                .expect("run mailroom inspect");
            assert!(
                out.status.success(),
                "{name}: inspect failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{name}: inspect JSON: {e}"));
            let seen = Seen {
                text: v["reply_text"].as_str().expect("reply_text").to_string(),
                kept_whole: v["reply"]["kept_whole"].as_str().map(str::to_string),
                detail: v["reply"]["detail"].as_str().unwrap_or("").to_string(),
            };
            let started = Instant::now();
            let mail = mailroom::mail::parse(raw).expect("parse");
            let lib = mail.reply().text.clone();
            let took = started.elapsed();
            assert!(took < Duration::from_secs(1), "{name}: took {took:?}");
            assert_eq!(lib, seen.text, "{name}: the library and inspect differ");
            seen
        })
        .collect()
}

/// Whitespace normalisation for every compare mode but the
/// whitespace-insensitive one.
pub fn normalise(s: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let s = s.replace("\r\n", "\n");
    for line in s.lines() {
        let line = line.trim_end();
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

fn no_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Is `got` the expected text of sample `name` under `mode`?
pub fn same(name: &str, got: &str, expected: &str, mode: &str) -> bool {
    let html = name.ends_with(".html") && expected.trim_start().starts_with('<');
    let want = if html {
        reply::html_to_text(&sanitize_html(expected))
    } else {
        expected.to_string()
    };
    if mode == "whitespace-insensitive" {
        no_whitespace(got) == no_whitespace(&want)
    } else {
        normalise(got) == normalise(&want)
    }
}

/// The samples of a directory (files other than `.expected`, MANIFEST and
/// README), sorted.
pub fn sample_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .filter(|n| !n.ends_with(".expected") && !n.starts_with("MANIFEST") && n != "README.md")
        .collect();
    names.sort();
    names
}

/// Scores the samples that have an expected text; prints the score and
/// every miss with its reason. Returns the names that matched.
pub fn score(
    label: &str,
    samples: &[(String, String, String)],
    seen: &[Seen],
    reasons: &[(&str, &str)],
) -> Vec<String> {
    let mut exact = Vec::new();
    let mut misses = Vec::new();
    for ((name, expected, mode), s) in samples.iter().zip(seen) {
        if same(name, &s.text, expected, mode) {
            exact.push(name.clone());
            continue;
        }
        let reason = reasons
            .iter()
            .find(|(n, _)| n == name)
            .map_or("UNEXPLAINED", |(_, r)| *r);
        misses.push(format!(
            "MISS {name} [{mode}] ({reason})\n    detail:   {}\n    expected: {:?}\n    got:      {:?}",
            s.detail,
            normalise(expected),
            normalise(&s.text)
        ));
    }
    let total = samples.len();
    println!(
        "{label}: {}/{total} exact through `mailroom inspect --json` ({:.1} %)",
        exact.len(),
        100.0 * exact.len() as f64 / total.max(1) as f64
    );
    for m in &misses {
        println!("{m}");
    }
    exact
}
