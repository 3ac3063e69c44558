//! Classification of the shared real-world corpus (`../shared/corpus`, see its README).
//!
//! Every message in `mime/`, `bounces/`, `autoreplies/` and `misc/` is parsed and
//! classified; the expected class comes from the MANIFEST category (column 6).
//! Run with `cargo test --test it corpus -- --nocapture` to see the confusion table.

use crate::support::shared_corpus;
use std::collections::{BTreeMap, HashMap};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use mailroom::mail::{self, Class, Classifier, ParseFailure, ParsedMail};

const CATEGORIES: &[&str] = &["mime", "bounces", "autoreplies", "misc"];
const COLUMNS: &[&str] = &[
    "customer",
    "agent",
    "bounce",
    "autoreply",
    "bulk",
    "own_loop",
    "parse_error",
    "panic",
];

/// `mime/` messages that may be classified AutoReply or Bulk because they
/// really carry automatic-mail headers (DESIGN §6). Each entry says which
/// header and why. List mail is Bulk: a ticket without acknowledgement.
const MIME_AUTOREPLY_JUSTIFIED: &[&str] = &[
    // "[Fwd: Netscape Enterprise vs. Apache Secure]": a post relayed by the
    // new-httpd list (1990s majordomo): `Precedence: bulk`, `Sender:
    // owner-new-httpd@apache.org`. Bulk list traffic is never acknowledged.
    "mime/flanker__apache-message-news-mime.eml",
    // "Re: running server as root …": the same list, `Precedence: bulk` and
    // `Sender: new-httpd-owner@apache.org`.
    "mime/flanker__from-encoding.eml",
    // "Please enjoy this mega long link": `From: Bob <postmaster@example.com>`.
    // DESIGN §6 lists a postmaster/MAILER-DAEMON sender among the mails that are
    // never acknowledged (a mail system's address answers nobody); with no
    // delivery report in it, it is stored as automatic mail, not as a bounce.
    "mime/flanker__long-links.eml",
    // "I-D ACTION:draft-ietf-http-authentication-00.txt (fwd)": new-httpd list
    // again, `Precedence: bulk`, `Sender: new-httpd-owner@apache.org`.
    "mime/flanker__message-external-body.eml",
    // "[Shapelib] need some help": a post relayed by a Mailman list; it carries
    // `Precedence: list`, `List-Id: <shapelib.lists.maptools.org>` and
    // `List-Unsubscribe`. Mailing-list traffic must never be acknowledged.
    "mime/stalwart__thirdparty-014.eml",
];

/// Messages whose expected class no rule can derive from their content. They are
/// still counted in the table and listed in the output, but do not fail the test.
const KNOWN_LIMITS: &[(&str, &str)] = &[(
    "bounces/cwsmbh__unknown_007.eml",
    "CwsMailBounceHandler's \"unknown\" sample: a plain mail from a person \
     (From: kyoto@example.jp, Subject \"Cannot parse\", body \".\"), with no DSN, \
     no enclosed original, no mail-system sender, no bounce wording. Calling it \
     a bounce would need a rule that also swallows customer mail.",
)];

/// The delay warning that the source project says is not a bounce (its
/// wording only, no delivery-status part). A delivery-status report whose
/// action is `delayed` is not a failure either (RFC 3464; issue 20): filed
/// under bounces/ by their sources, they are automatic mail here.
const DELAY_WARNING: &str = "bounces/bounceparser__warning-6.msg";

enum Outcome {
    Panic(String),
    ParseError(ParseFailure),
    Classified { class: Class, mail: Box<ParsedMail> },
}

impl Outcome {
    fn column(&self) -> &'static str {
        match self {
            Outcome::Panic(_) => "panic",
            Outcome::ParseError(_) => "parse_error",
            Outcome::Classified { class, .. } => class.label(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Outcome::Panic(msg) => format!("PANIC: {msg}"),
            Outcome::ParseError(e) => format!("parse failure: {e}"),
            Outcome::Classified { class, mail } => format!(
                "{} ({}) subject {:?} from {}",
                class.label(),
                class.reason().unwrap_or("no reason"),
                mail.subject,
                mail.from.email
            ),
        }
    }
}

fn classifier() -> Classifier {
    Classifier::new(
        vec!["support@example.test".into()],
        "support@example.test",
        vec!["bob@example.test".into()],
    )
}

fn run_one(classifier: &Classifier, raw: &[u8]) -> Outcome {
    let result = panic::catch_unwind(AssertUnwindSafe(|| match mail::parse(raw) {
        Ok(m) => {
            let class = classifier.classify(&m);
            Ok((class, m))
        }
        Err(e) => Err(e),
    }));
    match result {
        Ok(Ok((class, m))) => Outcome::Classified {
            class,
            mail: Box::new(m),
        },
        Ok(Err(e)) => Outcome::ParseError(e),
        Err(payload) => Outcome::Panic(
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic payload".into()),
        ),
    }
}

/// The automatic-mail headers (DESIGN §6) a message carries, if any.
fn auto_headers(m: &ParsedMail) -> Vec<String> {
    let a = &m.auto;
    let mut out = Vec::new();
    if let Some(v) = &a.auto_submitted
        && !v.to_ascii_lowercase().starts_with("no")
    {
        out.push(format!("Auto-Submitted: {v}"));
    }
    if let Some(v) = &a.precedence {
        out.push(format!("Precedence: {v}"));
    }
    if let Some(v) = &a.list_id {
        out.push(format!("List-Id: {v}"));
    }
    if a.list_unsubscribe {
        out.push("List-Unsubscribe".into());
    }
    if let Some(v) = &a.x_auto_response_suppress {
        out.push(format!("X-Auto-Response-Suppress: {v}"));
    }
    if a.x_autoreply {
        out.push("X-Autoreply".into());
    }
    if a.return_path.as_deref() == Some("") {
        out.push("Return-Path: <>".into());
    }
    // DESIGN §6 names this sender header too.
    let local = m.from.email.split('@').next().unwrap_or("");
    if local == "postmaster" || local == "mailer-daemon" {
        out.push(format!("From: {}", m.from.email));
    }
    out
}

/// `Ok` when the outcome is acceptable for the category, else why not.
fn check(category: &str, file: &str, outcome: &Outcome) -> Result<(), String> {
    if let Outcome::Panic(_) = outcome {
        return Err("panicked".into());
    }
    match (category, outcome) {
        (
            "bounces",
            Outcome::Classified {
                class: Class::Bounce { .. },
                ..
            },
        ) => Ok(()),
        (
            "bounces",
            Outcome::Classified {
                class: Class::AutoReply { reason },
                ..
            },
        ) if file == DELAY_WARNING || reason.contains("(action delayed)") => Ok(()),
        ("bounces", _) => Err("expected bounce".into()),
        (
            "autoreplies",
            Outcome::Classified {
                class: Class::AutoReply { .. },
                ..
            },
        ) => Ok(()),
        ("autoreplies", _) => Err("expected autoreply".into()),
        (
            "misc",
            Outcome::Classified {
                class: Class::AutoReply { .. } | Class::Bounce { .. },
                ..
            },
        ) => Ok(()),
        ("misc", _) => Err("expected autoreply or bounce (never a new ticket)".into()),
        (
            "mime",
            Outcome::Classified {
                class: Class::Customer,
                ..
            },
        ) => Ok(()),
        // The pipeline quarantines these with the reason.
        ("mime", Outcome::ParseError(_)) => Ok(()),
        (
            "mime",
            Outcome::Classified {
                class: Class::AutoReply { .. } | Class::Bulk { .. },
                mail,
            },
        ) => {
            let evidence = auto_headers(mail);
            if evidence.is_empty() {
                Err("autoreply without any automatic-mail header".into())
            } else if !MIME_AUTOREPLY_JUSTIFIED.contains(&file) {
                Err(format!(
                    "autoreply ({}) not justified in MIME_AUTOREPLY_JUSTIFIED",
                    evidence.join(", ")
                ))
            } else {
                Ok(())
            }
        }
        ("mime", _) => Err("expected customer or parse failure".into()),
        (other, _) => Err(format!("unknown category {other:?}")),
    }
}

fn manifest(corpus: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("read MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols.len() >= 6).then(|| (cols[0].to_string(), cols[5].to_string()))
        })
        .collect()
}

#[test]
fn corpus_classification() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let corpus = corpus.as_path();

    let manifest = manifest(corpus);
    // MAILROOM_CORPUS_VERBOSE=1 prints one line per message.
    let verbose = std::env::var_os("MAILROOM_CORPUS_VERBOSE").is_some();
    let classifier = classifier();
    let mut table: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut known: Vec<String> = Vec::new();
    let mut panics = 0usize;
    let mut bounces = 0usize;
    let mut bounces_with_original = 0usize;
    let mut bounces_without_original: Vec<String> = Vec::new();
    let mut total = 0usize;

    for dir in CATEGORIES {
        let mut files: Vec<_> = std::fs::read_dir(corpus.join(dir))
            .unwrap_or_else(|e| panic!("read {}/{dir}: {e}", corpus.display()))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "expected"))
            .collect();
        files.sort();
        for path in files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let rel = format!("{dir}/{name}");
            let Some(category) = manifest.get(&rel) else {
                failures.push(format!("{rel}: not listed in MANIFEST.tsv"));
                continue;
            };
            let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("read {rel}: {e}"));
            let outcome = run_one(&classifier, &raw);
            total += 1;
            *table
                .entry(category.as_str())
                .or_default()
                .entry(outcome.column())
                .or_default() += 1;
            if let Outcome::Panic(_) = outcome {
                panics += 1;
            }
            if verbose {
                println!("{rel}: {}", outcome.describe());
                if let Outcome::Classified { mail, .. } = &outcome {
                    let preview: String = mail.text.chars().take(160).collect();
                    println!(
                        "    rp={:?} atts={:?} orig={:?} dsn={} text={:?}",
                        mail.auto.return_path,
                        mail.attachments
                            .iter()
                            .map(|a| a.content_type.as_str())
                            .collect::<Vec<_>>(),
                        mail.report.original_message_ids,
                        mail.report.delivery_status,
                        preview
                    );
                }
            }
            if let Err(why) = check(category, &rel, &outcome) {
                let line = format!("{rel} [{category}]: {why}; got {}", outcome.describe());
                match KNOWN_LIMITS.iter().find(|(f, _)| *f == rel) {
                    Some((_, because)) => known.push(format!("{line}\n    known limit: {because}")),
                    None => failures.push(line),
                }
            } else if KNOWN_LIMITS.iter().any(|(f, _)| *f == rel) {
                println!("note: {rel} is listed in KNOWN_LIMITS but is now classified correctly");
            }
            if category == "bounces" {
                bounces += 1;
                match &outcome {
                    Outcome::Classified { mail, .. }
                        if !mail.report.original_message_ids.is_empty() =>
                    {
                        bounces_with_original += 1
                    }
                    _ => bounces_without_original.push(rel.clone()),
                }
            }
        }
    }

    println!("corpus classification ({total} messages):");
    print!("{:<12}", "category");
    for c in COLUMNS {
        print!(" {c:>11}");
    }
    println!(" {:>6}", "total");
    for (category, row) in &table {
        print!("{category:<12}");
        for c in COLUMNS {
            print!(" {:>11}", row.get(c).copied().unwrap_or(0));
        }
        println!(" {:>6}", row.values().sum::<usize>());
    }
    println!(
        "bounces with the original's Message-ID (report.original_message_ids): {bounces_with_original}/{bounces}"
    );
    if !bounces_without_original.is_empty() {
        println!(
            "bounces without it: {}",
            bounces_without_original.join(", ")
        );
    }

    if !known.is_empty() {
        println!("known limits ({}), not counted as failures:", known.len());
        for k in &known {
            println!("  {k}");
        }
    }

    assert!(
        total > 0,
        "no corpus messages found under {}",
        corpus.display()
    );
    assert_eq!(
        panics,
        0,
        "parse/classify panicked:\n{}",
        failures.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} misclassified corpus messages:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        bounces_with_original > 0,
        "no bounce yielded the Message-ID of the bounced original"
    );
}
