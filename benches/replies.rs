//! Quote-stripping throughput (DESIGN §11: >= 20,000 replies/s on one core).
//!
//! ```text
//! cargo bench --bench replies [-- --seconds 3]
//! ```
//!
//! Loads every sample of the shared replies corpus (`../shared/corpus/replies`):
//! `.txt` bodies and the text part of `.eml` messages go through
//! `strip_text`, `.html` bodies and the HTML part of `.eml` messages through
//! `strip_html` (which includes the ammonia sanitizing of the result). Parsing
//! the `.eml` files happens once, outside the timing. Then it strips all of
//! them in a loop on one thread for `--seconds` and prints replies/s, the
//! mean time per reply, the text/HTML split and the slowest samples.

use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mailroom::mail::reply::{strip_html, strip_text};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/replies");
const TARGET_PER_SEC: f64 = 20_000.0;

#[derive(clap::Parser)]
struct Args {
    /// How long to strip the corpus in a loop.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Passed by `cargo bench` to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

enum Input {
    Text(String),
    Html(String),
}

struct Sample {
    name: String,
    input: Input,
}

fn load(dir: &Path) -> Result<Vec<Sample>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("corpus not found at {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e != "expected"))
        .collect();
    paths.sort();
    let mut samples = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let raw = std::fs::read(&path).map_err(|e| format!("{name}: {e}"))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("eml") => {
                let mail = mailroom::mail::parse(&raw).map_err(|e| format!("{name}: {e}"))?;
                if let Some(html) = mail.html {
                    samples.push(Sample {
                        name: format!("{name} (html)"),
                        input: Input::Html(html),
                    });
                }
                samples.push(Sample {
                    name,
                    input: Input::Text(mail.text),
                });
            }
            Some("html") => samples.push(Sample {
                name,
                input: Input::Html(String::from_utf8_lossy(&raw).into_owned()),
            }),
            _ => samples.push(Sample {
                name,
                input: Input::Text(String::from_utf8_lossy(&raw).into_owned()),
            }),
        }
    }
    Ok(samples)
}

fn strip(input: &Input) {
    match input {
        Input::Text(t) => {
            black_box(strip_text(black_box(t)));
        }
        Input::Html(h) => {
            black_box(strip_html(black_box(h)));
        }
    }
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let samples = match load(Path::new(CORPUS)) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => {
            eprintln!("replies bench: no samples in {CORPUS}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("replies bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (texts, htmls): (Vec<&Sample>, Vec<&Sample>) = samples
        .iter()
        .partition(|s| matches!(s.input, Input::Text(_)));
    let bytes: usize = samples
        .iter()
        .map(|s| match &s.input {
            Input::Text(t) | Input::Html(t) => t.len(),
        })
        .sum();
    println!(
        "replies: {} samples ({} text, {} HTML), {:.0} KiB",
        samples.len(),
        texts.len(),
        htmls.len(),
        bytes as f64 / 1024.0
    );

    // Warm-up: compiles the lazy regexes, fills the caches.
    samples.iter().for_each(|s| strip(&s.input));

    let budget = Duration::from_secs_f64(args.seconds.max(0.1));
    let started = Instant::now();
    let (mut text_time, mut html_time) = (Duration::ZERO, Duration::ZERO);
    let mut passes = 0u64;
    while started.elapsed() < budget {
        let t0 = Instant::now();
        texts.iter().for_each(|s| strip(&s.input));
        let t1 = Instant::now();
        htmls.iter().for_each(|s| strip(&s.input));
        text_time += t1 - t0;
        html_time += t1.elapsed();
        passes += 1;
    }
    let per = |n: usize, t: Duration| {
        let count = n as f64 * passes as f64;
        (count / t.as_secs_f64(), t.as_secs_f64() * 1e6 / count)
    };
    let (all_rate, all_us) = per(samples.len(), text_time + html_time);
    let (text_rate, text_us) = per(texts.len(), text_time);
    let (html_rate, html_us) = per(htmls.len(), html_time);
    println!(
        "{passes} passes, {} replies in {:.2} s on one thread",
        passes * samples.len() as u64,
        (text_time + html_time).as_secs_f64()
    );
    println!(
        "all:  {all_rate:>9.0} replies/s, mean {all_us:>7.1} µs per reply (target >= {TARGET_PER_SEC:.0} replies/s)"
    );
    println!("text: {text_rate:>9.0} replies/s, mean {text_us:>7.1} µs per reply");
    println!("html: {html_rate:>9.0} replies/s, mean {html_us:>7.1} µs per reply");

    // The slowest samples, each timed on its own.
    let mut each: Vec<(f64, &str)> = samples
        .iter()
        .map(|s| {
            let reps = 200;
            let t = Instant::now();
            (0..reps).for_each(|_| strip(&s.input));
            (
                t.elapsed().as_secs_f64() * 1e6 / reps as f64,
                s.name.as_str(),
            )
        })
        .collect();
    each.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (us, name) in each.iter().take(5) {
        println!("slow: {us:>8.1} µs  {name}");
    }
    if all_rate < TARGET_PER_SEC {
        eprintln!("below the {TARGET_PER_SEC:.0} replies/s target");
    }
    ExitCode::SUCCESS
}
