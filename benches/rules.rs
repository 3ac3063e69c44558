//! Rules engine micro-benchmark (DESIGN §7: "evaluate in microseconds").
//!
//! ```text
//! cargo bench --bench rules
//! ```
//!
//! Builds 1,000 mixed rules (keywords, regexes, sender domains, headers,
//! all/any/not), compiles them once, then evaluates a 10 KiB message 10,000
//! times that no rule but the final catch-all matches, so every rule is
//! evaluated each time. Prints compile time and mean time per evaluation for
//! the routing path (`decide`, no trace) and the `explain` path (`evaluate`,
//! full trace). Target: < 100 µs per routing evaluation. Then criterion
//! measures the same three things with its statistics (compile, decide,
//! evaluate) and prints its usual report.

use std::fmt::Write as _;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use criterion::Criterion;
use mailroom::rules::{RuleInput, RuleSet};

const RULES: usize = 1_000;
const EVALS: u32 = 10_000;
const TARGET_US: f64 = 100.0;

fn rules_file() -> String {
    let mut s = String::new();
    s.push_str("[[customer]]\ndomain = \"bigco.test\"\ntier = \"enterprise\"\n\n");
    for i in 0..RULES - 1 {
        let when = match i % 10 {
            0..=2 => format!(
                "{{ subject = {{ contains_any = [\"kwa{i}\", \"kwb{i}\", \"keyword {i}\"] }} }}"
            ),
            3 | 4 => {
                format!("{{ body = {{ contains_any = [\"phrase number {i}\", \"token{i}x\"] }} }}")
            }
            5 => format!("{{ body = {{ matches = '\\border\\s+#?{i}-\\d{{4}}\\b' }} }}"),
            6 => format!("{{ subject = {{ matches = '^(re: )?case {i}\\b' }} }}"),
            7 => format!("{{ from_domain = {{ in = [\"d{i}.test\", \"e{i}.test\"] }} }}"),
            8 => format!("{{ header = {{ name = \"X-Tag\", contains = \"tag{i}\" }} }}"),
            _ => format!(
                "{{ all = [ {{ from = {{ equals = \"u{i}@x.test\" }} }}, {{ not = {{ body = {{ contains = \"zz{i}\" }} }} }}, {{ any = [ {{ has_attachment = true }}, {{ cc = {{ contains = \"c{i}\" }} }} ] }} ] }}"
            ),
        };
        let _ = write!(
            s,
            "[[rule]]\nname = \"r{i}\"\nwhen = {when}\nthen = {{ area = \"a{}\", tags = [\"t{i}\"] }}\n\n",
            i % 7
        );
    }
    s.push_str("[[rule]]\nname = \"catch-all\"\nwhen = {}\nthen = { area = \"tech\" }\n");
    s
}

fn body() -> String {
    let words = [
        "hello",
        "support",
        "team",
        "our",
        "printer",
        "stopped",
        "working",
        "after",
        "the",
        "update",
        "yesterday",
        "please",
        "advise",
        "thanks",
        "regards",
        "ticket",
        "order",
        "number",
        "server",
        "logs",
        "attached",
        "see",
        "below",
    ];
    let mut b = String::new();
    let mut i = 0usize;
    while b.len() < 10 * 1024 {
        b.push_str(words[(i * 7 + i / 3) % words.len()]);
        b.push(if i % 13 == 12 { '\n' } else { ' ' });
        i += 1;
    }
    b.truncate(10 * 1024);
    b
}

fn main() -> ExitCode {
    let text = rules_file();
    let t = Instant::now();
    let rs = match RuleSet::parse(&text, "bench.toml", &[], &[]) {
        Ok(rs) => rs,
        Err(errs) => {
            for e in errs {
                eprintln!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let compile = t.elapsed();

    let body = body();
    let input = RuleInput {
        from: "alice@customer.test",
        to: vec!["support@example.test"],
        cc: vec!["bob@customer.test"],
        subject: "Printer stopped working after the update",
        body: &body,
        headers: vec![
            ("From", "alice@customer.test"),
            ("Subject", "Printer stopped working after the update"),
            ("X-Tag", "printer"),
        ],
        attachment_names: Vec::new(),
        has_attachment: false,
        customer_tier: None,
    };
    let d = rs.decide(&input);
    if d.matched != ["catch-all"] {
        eprintln!("unexpected match: {:?}", d.matched);
        return ExitCode::FAILURE;
    }

    let t = Instant::now();
    for _ in 0..EVALS {
        black_box(rs.decide(black_box(&input)));
    }
    let decide_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(EVALS);

    let explain_n = EVALS / 10;
    let t = Instant::now();
    for _ in 0..explain_n {
        black_box(rs.evaluate(black_box(&input)));
    }
    let explain_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(explain_n);

    println!("rules: {}", rs.len());
    println!("rules_file_bytes: {}", text.len());
    println!("body_bytes: {}", body.len());
    println!("compile_ms: {:.1}", compile.as_secs_f64() * 1e3);
    println!("decide_us_mean: {decide_us:.1} (over {EVALS} evaluations)");
    println!("explain_us_mean: {explain_us:.1} (over {explain_n} evaluations, full trace)");
    println!(
        "summary: {} rules compile in {:.0} ms; routing evaluation of a 10 KiB mail {:.1} µs mean (target < {TARGET_US} µs), explain {:.0} µs",
        rs.len(),
        compile.as_secs_f64() * 1e3,
        decide_us,
        explain_us
    );

    // The same three measurements through criterion (warm-up, outliers, CI).
    let mut c = Criterion::default().configure_from_args().sample_size(20);
    c.bench_function("rules/compile_1000", |b| {
        b.iter(|| RuleSet::parse(black_box(&text), "bench.toml", &[], &[]).map(|rs| rs.len()))
    });
    c.bench_function("rules/decide_1000_rules_10KiB", |b| {
        b.iter(|| rs.decide(black_box(&input)))
    });
    c.bench_function("rules/explain_1000_rules_10KiB", |b| {
        b.iter(|| rs.evaluate(black_box(&input)))
    });
    c.final_summary();

    if decide_us < TARGET_US {
        ExitCode::SUCCESS
    } else {
        eprintln!("slower than the {TARGET_US} µs target");
        ExitCode::FAILURE
    }
}
