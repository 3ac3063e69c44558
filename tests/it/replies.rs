//! Quote stripping against the shared replies corpus (`../shared/corpus/replies`,
//! see its README): every sample with a `.expected` sidecar is compared
//! (score ≥ 95 %, every miss printed and documented below), every sample
//! without one must pass the weaker check its source's test makes (MANIFEST
//! notes). Run with `cargo test --test it replies -- --nocapture` to see the
//! score and the misses.
//!
//! Comparison, per the MANIFEST's compare mode: `exact`, `trim` and
//! `exact after strip` compare after whitespace normalisation (trailing
//! spaces of each line, runs of blank lines, both ends);
//! `whitespace-insensitive` removes all whitespace. HTML samples compare
//! `html_to_text` of the stripped HTML; when the expected text is HTML itself
//! (talon's OLK_SRC_BODY_SECTION and `<hr>` fixtures, talon's own
//! `extract_from_html` output) it goes through the same path first
//! (`sanitize_html`, then `html_to_text`), so both sides are text rendered
//! the same way.

use crate::support::shared_corpus;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mailroom::mail::parse::sanitize_html;
use mailroom::mail::reply::{self, KeptWhole, Reply};

const SIDECARS: usize = 76;
const MIN_SCORE: f64 = 95.0;

/// The misses the signature and interleaving policies cost (README,
/// "Quote stripping"). Any other miss fails the test.
const DOCUMENTED_MISSES: &[(&str, &str)] = &[
    (
        "ghrp__email_1_1.txt",
        "signature conflict: ghrp hides the \"-Abhishek Kona\" sign-off, crisp__email_1 (same \
         text) keeps it; mailroom keeps \"-Name\" lines",
    ),
    (
        "crisp__email_2.txt",
        "interleaved answer: crisp expects only the first fragment \"Hi,\"; mailroom keeps an \
         answer written under the quote whole",
    ),
    (
        "talon__iphone.eml",
        "signature conflict: talon keeps \"Sent from my iPhone\"; mailroom drops mobile footers",
    ),
];

/// Samples without a sidecar: the check their source's test makes.
type Check = fn(&Reply, &str) -> bool;

fn no_sidecar_checks() -> Vec<(&'static str, &'static str, Check)> {
    fn whole(r: &Reply, input: &str) -> bool {
        r.kept_whole.is_none() && r.text == input.replace("\r\n", "\n").trim()
    }
    vec![
        (
            "ghrp__correct_sig.txt",
            "\"--\" mid-line is no delimiter; signature kept",
            |r, _| {
                r.text
                    .starts_with("this is an email with a correct -- signature.")
                    && r.text.ends_with("rick")
            },
        ),
        (
            "ghrp__email_1_2.txt",
            "interleaved: kept whole, starts with \"Hi,\"",
            |r, _| {
                r.kept_whole == Some(KeptWhole::Interleaved) && r.text.starts_with("Hi,\nOn Tue")
            },
        ),
        (
            "ghrp__email_1_3.txt",
            "fragment 0 starts \"Oh thanks.\\n\\nHaving\"",
            |r, _| r.text.starts_with("Oh thanks.\n\nHaving") && !r.text.contains("Russell Brown"),
        ),
        (
            "ghrp__email_1_4.txt",
            "reply starts \"Awesome\", quote gone",
            |r, _| r.text.starts_with("Awesome") && !r.text.contains("Loader"),
        ),
        ("ghrp__email_1_5.txt", "one fragment: nothing cut", whole),
        (
            "ghrp__email_1_6.txt",
            "wrapped header: reply starts \"I get\"",
            |r, _| r.text.starts_with("I get") && !r.text.contains("Was this caching"),
        ),
        ("ghrp__email_1_7.txt", "CRLF: reply \":+1:\"", |r, _| {
            r.text == ":+1:"
        }),
        (
            "ghrp__email_1_8.txt",
            "inline answers: kept whole",
            |r, _| r.kept_whole == Some(KeptWhole::Interleaved),
        ),
        (
            "ghrp__email_one_is_not_on.txt",
            "\"One\" is not \"On\"",
            |r, _| {
                r.text.contains("One outstanding question") && !r.text.contains("On Oct 1, 2012")
            },
        ),
        (
            "ghrp__email_sig_delimiter_in_middle_of_line.txt",
            "one fragment",
            whole,
        ),
        (
            "ghrp__greedy_on.txt",
            "\"On your remote host\" is text",
            |r, _| {
                r.text.starts_with("On your remote host")
                    && r.text.ends_with("the tunnel is not working.")
            },
        ),
        (
            "ghrp__pathological.txt",
            "pathological input (timed below)",
            |r, _| {
                r.text.starts_with("I think you're onto something") && !r.text.contains("Sullivan")
            },
        ),
        (
            "crisp__correct_sig.txt",
            "signature kept (policy)",
            |r, _| {
                r.text
                    .starts_with("this is an email with a correct -- signature.")
            },
        ),
        (
            "crisp__email_19.txt",
            "\"On Thursday, …\" is text",
            |r, _| {
                r.text.starts_with("On Thursday, I get proper rendering.")
                    && !r.text.contains("Was this caching")
            },
        ),
        ("crisp__email_2_1.txt", "Outlook", |r, _| {
            r.text == "Outlook with a reply"
        }),
        (
            "crisp__email_20.txt",
            "\"On Thursday.\" above a quote",
            |r, _| r.text == "On Thursday.",
        ),
        (
            "crisp__email_21.txt",
            "large mail without quote (timed below)",
            whole,
        ),
        ("crisp__email_4.txt", "reply starts \"Awesome\"", |r, _| {
            r.text.starts_with("Awesome") && !r.text.contains("Loader")
        }),
        (
            "crisp__email_6.txt",
            "wrapped header: reply starts \"I get\"",
            |r, _| r.text.starts_with("I get") && !r.text.contains("Was this caching"),
        ),
        (
            "crisp__email_bullets.txt",
            "bullets kept, quote gone",
            |r, _| {
                r.text.starts_with("test 2 this should list second")
                    && r.text.ends_with("   - and another")
            },
        ),
        (
            "crisp__email_custom_quote_header.txt",
            "Hungarian header",
            |r, _| r.text == "Thank you!",
        ),
        (
            "crisp__email_customer_quote_header_2.txt",
            "Outlook [mailto:]",
            |r, _| r.text == "Thank you very much.",
        ),
        (
            "crisp__email_customer_quote_header_3.txt",
            "indented French header",
            |r, _| r.text.starts_with("bonjour,") && r.text.ends_with("merci d'avance"),
        ),
        (
            "crisp__email_not_a_signature.txt",
            "no signature: one fragment",
            whole,
        ),
        (
            "crisp__email_not_a_signature_2.txt",
            "no signature: one fragment",
            whole,
        ),
        (
            "crisp__email_reply_header.txt",
            "\"On the other hand\" is text",
            |r, _| {
                r.text.starts_with("This is the latest reply.")
                    && r.text.contains("On the other hand, it could happen TWICE!")
                    && !r.text.contains("Mister Example")
            },
        ),
        (
            "crisp__email_thread.txt",
            "header wrapped over 3 lines",
            |r, _| r.text == "This is new email reply in thread from bellow.",
        ),
        (
            "crisp__email_unquoted_reply.txt",
            "\"On … you wrote:\" without >",
            |r, _| r.text == "This is my reply.",
        ),
        (
            "crisp__email_with_date_headers.txt",
            "[DATE] placeholder: text kept",
            |r, _| r.text.starts_with("Thank you very much."),
        ),
        (
            "crisp__email_with_from_headers.txt",
            "[FROM] placeholder: text kept",
            |r, _| r.text.contains("My email is"),
        ),
        (
            "crisp__sig_no_empty_line.txt",
            "signature kept (policy)",
            |r, _| {
                r.text
                    .starts_with("this is an email with a signature with no empty line above.")
            },
        ),
        (
            "talon__reply-quotations-share-block.eml",
            "non-empty, no \"From\"",
            |r, _| !r.text.trim().is_empty() && !r.text.contains("From"),
        ),
    ]
}

/// Whitespace normalisation for every compare mode: trailing spaces of each
/// line, runs of blank lines, both ends.
fn normalise(s: &str) -> String {
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

/// The compare mode of each `.expected` file (MANIFEST column 7, "compare=…").
fn compare_modes(corpus: &Path) -> HashMap<String, String> {
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("read MANIFEST.tsv");
    let mut modes = HashMap::new();
    for row in manifest.lines() {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 7 || !cols[0].ends_with(".expected") {
            continue;
        }
        let notes = cols[6];
        let mode = notes.split("compare=").nth(1).unwrap_or("");
        let mode = [
            "exact after strip",
            "whitespace-insensitive",
            "exact",
            "trim",
        ]
        .into_iter()
        .find(|m| mode.starts_with(m))
        .unwrap_or_else(|| panic!("no compare mode in MANIFEST row {row}"));
        let name = cols[0].trim_start_matches("replies/").to_string();
        modes.insert(name, mode.to_string());
    }
    modes
}

enum Stripped {
    Text(Reply),
    Html(reply::HtmlReply),
}

fn strip(path: &Path, raw: &[u8]) -> Stripped {
    match path.extension().and_then(|e| e.to_str()) {
        Some("eml") => {
            let mail = mailroom::mail::parse(raw)
                .unwrap_or_else(|e| panic!("{}: parse failed: {e}", path.display()));
            Stripped::Text(reply::strip_text(&mail.text))
        }
        Some("html") => Stripped::Html(reply::strip_html(&String::from_utf8_lossy(raw))),
        _ => Stripped::Text(reply::strip_text(&String::from_utf8_lossy(raw))),
    }
}

fn samples(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "expected"))
        .collect();
    files.sort();
    files
}

#[test]
fn replies_corpus() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let corpus = corpus.as_path();
    let modes = compare_modes(corpus);
    let checks = no_sidecar_checks();
    let documented: HashMap<&str, &str> = DOCUMENTED_MISSES.iter().copied().collect();
    let mut total = 0usize;
    let mut exact = 0usize;
    let mut misses: Vec<String> = Vec::new();
    let mut undocumented: Vec<String> = Vec::new();
    let mut failed_checks: Vec<String> = Vec::new();
    let mut unchecked: Vec<String> = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    // MAILROOM_CORPUS_VERBOSE=1 prints the cut and detail of every sample.
    let verbose = std::env::var_os("MAILROOM_CORPUS_VERBOSE").is_some();

    for path in samples(&corpus.join("replies")) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let raw = std::fs::read(&path).expect("read sample");
        let started = Instant::now();
        let stripped = strip(&path, &raw);
        let took = started.elapsed();
        if took > slowest.0 {
            slowest = (took, name.clone());
        }
        assert!(
            took < Duration::from_secs(1),
            "{name}: took {took:?} (must be < 1 s)"
        );
        if verbose {
            match &stripped {
                Stripped::Text(r) => {
                    println!("{name}: {:?} {:?} | {}", r.cut, r.kept_whole, r.detail)
                }
                Stripped::Html(r) => {
                    println!("{name}: {:?} {:?} | {}", r.cut, r.kept_whole, r.detail)
                }
            }
        }

        let sidecar = path.with_file_name(format!("{name}.expected"));
        if !sidecar.is_file() {
            let Stripped::Text(r) = &stripped else {
                unchecked.push(name);
                continue;
            };
            let input = String::from_utf8_lossy(&raw);
            match checks.iter().find(|(f, _, _)| *f == name) {
                Some((_, what, check)) if !check(r, &input) => failed_checks.push(format!(
                    "{name}: {what}\n    got ({:?}, {}): {:?}",
                    r.cut, r.detail, r.text
                )),
                Some(_) => {}
                None => unchecked.push(name),
            }
            continue;
        }

        total += 1;
        let expected = std::fs::read_to_string(&sidecar).expect("read sidecar");
        let mode = modes
            .get(&format!("{name}.expected"))
            .unwrap_or_else(|| panic!("{name}.expected has no MANIFEST row"));
        let (got, want, detail) = match &stripped {
            Stripped::Text(r) => (r.text.clone(), expected.clone(), r.detail.clone()),
            Stripped::Html(r) => {
                let want = if expected.trim_start().starts_with('<') {
                    reply::html_to_text(&sanitize_html(&expected))
                } else {
                    expected.clone()
                };
                (reply::html_to_text(&r.html), want, r.detail.clone())
            }
        };
        let same = if mode == "whitespace-insensitive" {
            no_whitespace(&got) == no_whitespace(&want)
        } else {
            normalise(&got) == normalise(&want)
        };
        if same {
            exact += 1;
            continue;
        }
        let reason = documented
            .get(name.as_str())
            .copied()
            .unwrap_or("UNDOCUMENTED");
        let line = format!(
            "MISS {name} [{mode}] ({reason})\n    detail:   {detail}\n    expected: {:?}\n    got:      {:?}",
            normalise(&want),
            normalise(&got)
        );
        if !documented.contains_key(name.as_str()) {
            undocumented.push(line.clone());
        }
        misses.push(line);
    }

    let score = 100.0 * exact as f64 / total.max(1) as f64;
    println!("replies: {exact}/{total} exact ({score:.1} %)");
    for m in &misses {
        println!("{m}");
    }
    println!("slowest sample: {} in {:?}", slowest.1, slowest.0);
    for f in &failed_checks {
        println!("CHECK FAILED {f}");
    }
    assert_eq!(total, SIDECARS, "samples with a .expected sidecar");
    assert!(score >= MIN_SCORE, "score {score:.1} % < {MIN_SCORE} %");
    assert!(
        undocumented.is_empty(),
        "undocumented misses:\n{}",
        undocumented.join("\n")
    );
    assert!(
        failed_checks.is_empty(),
        "{} weak checks failed",
        failed_checks.len()
    );
    assert!(
        unchecked.is_empty(),
        "samples without a sidecar and without a check: {unchecked:?}"
    );
}
