//! Quote-stripping throughput (DESIGN §11: >= 20,000 replies/s on one core).
//!
//! ```text
//! cargo bench --bench replies [-- --seconds 3]
//! ```
//!
//! Loads every sample of the shared replies corpus (`../shared/corpus/replies`)
//! as `mailroom inspect` and the test `replies::shared::replies_corpus` read
//! it: a `.eml` as it is, a `.txt` or `.html` body wrapped in a minimal mail
//! of that type. Parsing happens once, outside the timing. Then it computes
//! each sample's reply text exactly as `inspect` does (`strip_body`: the
//! text part, or the HTML when the text is only its rendering) in a loop on
//! one thread for `--seconds`, and prints replies/s (the DESIGN target), the
//! mean time per reply and the slowest samples. It also times `strip_html`
//! on the samples that have an HTML part (what an HTML relay needs, which
//! includes ammonia's sanitizing).

use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mailroom::mail::reply::{strip_body, strip_html};

#[path = "common/reply_samples.rs"]
mod reply_samples;
use reply_samples::as_mail;

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

/// One sample as `inspect` sees it: the text, the HTML when the text is only
/// its rendering, and the HTML part for the relay's stripping.
struct Sample {
    name: String,
    text: String,
    reply_html: Option<String>,
    html: Option<String>,
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
        let mail =
            mailroom::mail::parse(&as_mail(&name, &raw)).map_err(|e| format!("{name}: {e}"))?;
        samples.push(Sample {
            name,
            reply_html: mail.html_source.clone().filter(|_| mail.text_from_html),
            html: mail.html_source.clone(),
            text: mail.text,
        });
    }
    Ok(samples)
}

fn strip(s: &Sample) {
    black_box(strip_body(
        black_box(&s.text),
        black_box(s.reply_html.as_deref()),
    ));
}

fn strip_part(html: &str) {
    black_box(strip_html(black_box(html)));
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
    let htmls: Vec<&str> = samples.iter().filter_map(|s| s.html.as_deref()).collect();
    let from_html = samples.iter().filter(|s| s.reply_html.is_some()).count();
    let bytes: usize = samples
        .iter()
        .map(|s| s.reply_html.as_ref().map_or(s.text.len(), String::len))
        .sum();
    println!(
        "replies: {} samples ({from_html} stripped from their HTML), {:.0} KiB; {} HTML parts",
        samples.len(),
        bytes as f64 / 1024.0,
        htmls.len()
    );

    // Warm-up: compiles the lazy regexes, fills the caches.
    samples.iter().for_each(strip);
    htmls.iter().for_each(|h| strip_part(h));

    let budget = Duration::from_secs_f64(args.seconds.max(0.1));
    let started = Instant::now();
    let (mut reply_time, mut html_time) = (Duration::ZERO, Duration::ZERO);
    let mut passes = 0u64;
    while started.elapsed() < budget {
        let t0 = Instant::now();
        samples.iter().for_each(strip);
        let t1 = Instant::now();
        htmls.iter().for_each(|h| strip_part(h));
        reply_time += t1 - t0;
        html_time += t1.elapsed();
        passes += 1;
    }
    let per = |n: usize, t: Duration| {
        let count = n as f64 * passes as f64;
        (count / t.as_secs_f64(), t.as_secs_f64() * 1e6 / count)
    };
    let (all_rate, all_us) = per(samples.len(), reply_time);
    let (html_rate, html_us) = per(htmls.len(), html_time);
    println!(
        "{passes} passes, {} replies in {:.2} s on one thread",
        passes * samples.len() as u64,
        reply_time.as_secs_f64()
    );
    println!(
        "reply text (as inspect): {all_rate:>9.0} replies/s, mean {all_us:>7.1} µs per reply (target >= {TARGET_PER_SEC:.0} replies/s)"
    );
    println!(
        "HTML part (relay):       {html_rate:>9.0} parts/s,   mean {html_us:>7.1} µs per part"
    );

    // The slowest samples, each timed on its own.
    let mut each: Vec<(f64, &str)> = samples
        .iter()
        .map(|s| {
            let reps = 200;
            let t = Instant::now();
            (0..reps).for_each(|_| strip(s));
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
