//! The deterministic mail corpus of the benchmarks (shared by `benches/ingest.rs`,
//! `benches/imap.rs` and others; included with `#[path]`, so Cargo does not build it
//! as a bench target of its own): 1-50 KiB plain-text mail from ~200 customers
//! at ~40 domains, ~30% follow-ups that answer an earlier message of the same
//! customer (In-Reply-To/References, "Re: <subject>"), ~10% with an attachment
//! (base64 binary or a text .log). The same seed gives the same bytes.

// Each bench uses a different subset of these items.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, FixedOffset, TimeZone};

const SEED: u64 = 0x6d61_696c_726f_6f6d; // "mailroom"
const MAX_MESSAGE: usize = 50 * 1024;
const MIN_MESSAGE: usize = 1024;
const DOMAINS: usize = 40;
const CUSTOMERS: usize = 200;
const FOLLOWUP_PERCENT: u64 = 30;
const ATTACHMENT_PERCENT: u64 = 10;
const CC_PERCENT: u64 = 8;
/// Open threads remembered per customer (bounded: the generator streams).
const THREADS_PER_CUSTOMER: usize = 4;
/// References kept per thread (first + newest), like real clients trim them.
const MAX_REFS: usize = 8;
pub const SUPPORT: &str = "support@bench.test";
pub const AGENT: &str = "agent@bench.test";

/// SplitMix64: small, fast, deterministic.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    pub fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

const FIRST: &[&str] = &[
    "Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
    "Lena", "Marco", "Nadia", "Olaf", "Priya", "Quentin", "Rosa", "Sven", "Tamara", "Umar", "Vera",
    "Wei", "Xenia", "Yusuf", "Zoe",
];
const LAST: &[&str] = &[
    "Albrecht", "Barros", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Hoffmann", "Ivanova",
    "Jansen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Weber",
];
const ORG_A: &[&str] = &[
    "acme", "blue", "north", "quantum", "river", "silver", "summit", "urban",
];
const ORG_B: &[&str] = &["logistics", "foods", "media", "labs", "retail"];
const TLDS: &[&str] = &["test", "example", "test", "example.com"];
const TZ_MINUTES: &[i32] = &[0, 60, 120, -300, -480, 330, 540, 0, 60, -240];
const AGENTS_UA: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.8.0",
    "Microsoft Outlook 16.0",
    "Apple Mail (2.3774.400.31)",
    "Roundcube Webmail/1.6.6",
];

const PROBLEMS: &[&str] = &[
    "Cannot log in to",
    "Error when exporting from",
    "Slow response times in",
    "Question about",
    "Invoice numbers missing in",
    "Sync stopped working for",
    "Wrong totals shown in",
    "How do I configure",
    "Timeout while uploading to",
    "Password reset link broken for",
    "Feature request for",
    "Duplicate entries in",
    "Access rights for new colleague in",
    "Report layout broken in",
];
const THINGS: &[&str] = &[
    "the dashboard",
    "the mobile app",
    "our billing account",
    "the CSV export",
    "the API",
    "the reporting module",
    "the calendar integration",
    "the admin console",
    "the customer portal",
    "the warehouse scanner app",
    "the webhook settings",
    "single sign-on",
];
const WORDS: &[&str] = &[
    "account",
    "after",
    "again",
    "all",
    "also",
    "always",
    "and",
    "any",
    "app",
    "are",
    "around",
    "attached",
    "before",
    "browser",
    "but",
    "button",
    "cache",
    "can",
    "change",
    "checked",
    "colleague",
    "configuration",
    "could",
    "customer",
    "dashboard",
    "data",
    "day",
    "did",
    "different",
    "does",
    "done",
    "download",
    "each",
    "entries",
    "error",
    "even",
    "every",
    "export",
    "field",
    "file",
    "filter",
    "first",
    "for",
    "from",
    "got",
    "had",
    "happens",
    "have",
    "help",
    "here",
    "however",
    "if",
    "import",
    "in",
    "invoice",
    "is",
    "it",
    "just",
    "last",
    "later",
    "like",
    "list",
    "loading",
    "log",
    "login",
    "look",
    "made",
    "manager",
    "maybe",
    "menu",
    "message",
    "minutes",
    "monday",
    "more",
    "morning",
    "never",
    "new",
    "not",
    "now",
    "number",
    "of",
    "old",
    "once",
    "only",
    "open",
    "order",
    "our",
    "page",
    "password",
    "people",
    "please",
    "possible",
    "problem",
    "project",
    "quickly",
    "really",
    "record",
    "refresh",
    "report",
    "restart",
    "right",
    "same",
    "saved",
    "screen",
    "see",
    "seems",
    "server",
    "settings",
    "several",
    "should",
    "shows",
    "since",
    "slow",
    "some",
    "still",
    "sure",
    "system",
    "team",
    "than",
    "that",
    "the",
    "then",
    "there",
    "this",
    "time",
    "to",
    "today",
    "tried",
    "update",
    "upload",
    "user",
    "using",
    "version",
    "was",
    "we",
    "week",
    "what",
    "when",
    "which",
    "while",
    "window",
    "with",
    "without",
    "work",
    "working",
    "would",
    "yesterday",
    "you",
    "your",
];
const OPENERS: &[&str] = &[
    "Hello,",
    "Hi support team,",
    "Dear support,",
    "Good morning,",
    "Hi,",
    "Hello there,",
];
const CLOSERS: &[&str] = &[
    "Best regards,",
    "Thanks,",
    "Kind regards,",
    "Cheers,",
    "Thank you in advance,",
];

#[derive(Clone)]
pub struct Customer {
    pub name: String,
    pub email: String,
    pub domain: String,
    pub tz_minutes: i32,
    pub threads: Vec<Thread>,
}

#[derive(Clone)]
pub struct Thread {
    pub subject: String,
    pub last_id: String,
    pub refs: Vec<String>,
}

#[derive(Default)]
pub struct Generated {
    pub messages: usize,
    pub followups: usize,
    pub attachments: usize,
    pub bytes: u64,
    pub largest: usize,
}

pub fn customers() -> Vec<Customer> {
    let mut domains = Vec::with_capacity(DOMAINS);
    'outer: for (i, a) in ORG_A.iter().enumerate() {
        for (j, b) in ORG_B.iter().enumerate() {
            domains.push(format!("{a}-{b}.{}", TLDS[(i + j) % TLDS.len()]));
            if domains.len() == DOMAINS {
                break 'outer;
            }
        }
    }
    (0..CUSTOMERS)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i / FIRST.len() + i * 7) % LAST.len()];
            let domain = domains[i % DOMAINS].clone();
            Customer {
                name: format!("{first} {last}"),
                email: format!(
                    "{}.{}{}@{domain}",
                    first.to_ascii_lowercase(),
                    last.to_ascii_lowercase(),
                    i / DOMAINS
                ),
                tz_minutes: TZ_MINUTES[i % DOMAINS % TZ_MINUTES.len()],
                domain,
                threads: Vec::new(),
            }
        })
        .collect()
}

/// Writes `n` messages into `new_dir`, one file each, in an order where every
/// follow-up's file name sorts after the message it answers.
pub fn generate(new_dir: &Path, n: usize) -> std::io::Result<Generated> {
    generate_with(n, |name, raw| {
        let mut f = BufWriter::new(File::create(new_dir.join(name))?);
        f.write_all(raw)?;
        f.flush()
    })
}

/// Generates `n` messages and hands each to `store` with its Maildir base
/// name (`<time>.M<seq>P4242.bench.test`; names sort in generation order, so
/// every follow-up comes after the message it answers).
pub fn generate_with(
    n: usize,
    store: impl FnMut(&str, &[u8]) -> std::io::Result<()>,
) -> std::io::Result<Generated> {
    generate_seeded(SEED, n, store)
}

/// `generate_with` from another seed: the same customers, other mails (other
/// Message-IDs, subjects, bodies), e.g. one corpus per mailbox.
pub fn generate_seeded(
    seed: u64,
    n: usize,
    mut store: impl FnMut(&str, &[u8]) -> std::io::Result<()>,
) -> std::io::Result<Generated> {
    let mut rng = Rng(seed);
    let mut people = customers();
    let base = FixedOffset::east_opt(0)
        .expect("utc")
        .with_ymd_and_hms(2024, 3, 4, 7, 30, 0)
        .single()
        .expect("date");
    let mut g = Generated::default();
    let mut buf = String::with_capacity(MAX_MESSAGE + 4096);
    let mut body = String::with_capacity(MAX_MESSAGE);
    for seq in 0..n {
        buf.clear();
        body.clear();
        // ~37 s apart: 10,000 messages span about four days.
        let date = base + chrono::Duration::seconds(seq as i64 * 37 + rng.below(30) as i64);
        let followup =
            rng.percent(FOLLOWUP_PERCENT) && people.iter().any(|c| !c.threads.is_empty());
        let who = if followup {
            loop {
                let c = rng.below(CUSTOMERS);
                if !people[c].threads.is_empty() {
                    break c;
                }
            }
        } else {
            rng.below(CUSTOMERS)
        };
        let cust = &people[who];
        let offset = FixedOffset::east_opt(cust.tz_minutes * 60).expect("offset");
        let local = date.with_timezone(&offset);
        let message_id = format!("{}.{:016x}@mail.{}", 100_000 + seq, rng.next(), cust.domain);

        let (subject, in_reply_to, refs, thread_ix) = if followup {
            let t = rng.below(cust.threads.len());
            let th = &cust.threads[t];
            let mut refs = th.refs.clone();
            refs.push(th.last_id.clone());
            (
                format!("Re: {}", th.subject),
                Some(th.last_id.clone()),
                refs,
                Some(t),
            )
        } else {
            let subject = format!(
                "{} {} (case {})",
                rng.pick(PROBLEMS),
                rng.pick(THINGS),
                1000 + rng.below(9000)
            );
            (subject, None, Vec::new(), None)
        };

        // Size: 1-50 KiB, skewed towards small mail like a real inbox.
        let u = rng.unit();
        let target = MIN_MESSAGE + ((MAX_MESSAGE - MIN_MESSAGE - 1024) as f64 * u * u) as usize;
        let attachment = rng.percent(ATTACHMENT_PERCENT);
        let cc = rng.percent(CC_PERCENT).then(|| (who + DOMAINS) % CUSTOMERS);

        // Headers.
        let ip = 1 + (who % 250);
        let _ = write!(
            buf,
            "Return-Path: <{email}>\r\n\
             Received: from mail.{domain} (mail.{domain} [198.51.100.{ip}])\r\n\
             \tby mx.bench.test (Postfix) with ESMTPS id {qid:010X}\r\n\
             \tfor <{SUPPORT}>; {rdate}\r\n\
             From: \"{name}\" <{email}>\r\n\
             To: Bench Support <{SUPPORT}>\r\n",
            email = cust.email,
            domain = cust.domain,
            qid = rng.next() & 0xff_ffff_ffff,
            rdate = (date + chrono::Duration::seconds(2)).to_rfc2822(),
            name = cust.name,
        );
        if let Some(c) = cc {
            let _ = write!(buf, "Cc: \"{}\" <{}>\r\n", people[c].name, people[c].email);
        }
        let _ = write!(
            buf,
            "Subject: {subject}\r\nDate: {}\r\nMessage-ID: <{message_id}>\r\n",
            local.to_rfc2822()
        );
        if let Some(irt) = &in_reply_to {
            let _ = write!(buf, "In-Reply-To: <{irt}>\r\nReferences:");
            for (i, r) in refs.iter().enumerate() {
                let _ = write!(buf, "{}<{r}>", if i == 0 { " " } else { "\r\n " });
            }
            buf.push_str("\r\n");
        }
        let _ = write!(
            buf,
            "MIME-Version: 1.0\r\nUser-Agent: {}\r\n",
            rng.pick(AGENTS_UA)
        );

        // The attachment is made first so the text fills the rest of the budget.
        let att = attachment.then(|| {
            let room = target.saturating_sub(buf.len() + 1200);
            let raw_len = rng.range(256, (room * 3 / 4).clamp(512, 16 * 1024));
            make_attachment(&mut rng, seq, raw_len, &date)
        });
        let text_budget = target
            .saturating_sub(buf.len() + att.as_ref().map_or(0, |a| a.len() + 400))
            .max(200);
        write_body(
            &mut rng,
            &mut body,
            text_budget,
            cust,
            in_reply_to.is_some(),
            &local,
        );

        if let Some(att) = &att {
            let boundary = format!("----=_Part_{seq}_{:08x}", rng.next() as u32);
            let _ = write!(
                buf,
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
                 This is a multi-part message in MIME format.\r\n\
                 --{boundary}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n\
                 {body}\r\n\
                 --{boundary}\r\n\
                 {att}\r\n\
                 --{boundary}--\r\n"
            );
            g.attachments += 1;
        } else {
            let _ = write!(
                buf,
                "Content-Type: text/plain; charset=utf-8; format=flowed\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
            );
        }

        let name = format!("{}.M{seq:08}P4242.bench.test", 1_709_537_400 + seq);
        store(&name, buf.as_bytes())?;

        g.messages += 1;
        g.bytes += buf.len() as u64;
        g.largest = g.largest.max(buf.len());
        if buf.len() > MAX_MESSAGE {
            return Err(std::io::Error::other(format!(
                "generated message {seq} is {} bytes, over 50 KiB",
                buf.len()
            )));
        }

        // Remember the thread so later follow-ups can answer it (bounded).
        let cust = &mut people[who];
        match thread_ix {
            Some(t) => {
                g.followups += 1;
                let th = &mut cust.threads[t];
                th.refs = refs;
                if th.refs.len() > MAX_REFS {
                    th.refs.drain(1..th.refs.len() - (MAX_REFS - 1));
                }
                th.last_id = message_id;
            }
            None => {
                if cust.threads.len() == THREADS_PER_CUSTOMER {
                    cust.threads.remove(0);
                }
                cust.threads.push(Thread {
                    subject,
                    last_id: message_id,
                    refs: Vec::new(),
                });
            }
        }
    }
    Ok(g)
}

pub fn write_body(
    rng: &mut Rng,
    out: &mut String,
    budget: usize,
    cust: &Customer,
    followup: bool,
    date: &DateTime<FixedOffset>,
) {
    out.push_str(if followup {
        "Hi again,\r\n\r\n"
    } else {
        rng.pick(OPENERS)
    });
    if !followup {
        out.push_str("\r\n\r\n");
    }
    let closing = 120 + cust.name.len() + cust.domain.len();
    let quote = followup && rng.percent(60);
    let text_end = if quote { budget * 2 / 3 } else { budget }.saturating_sub(closing);
    while out.len() < text_end {
        paragraph(rng, out, "");
        if rng.percent(15) {
            let _ = write!(
                out,
                "Order number: {}, user id {}\r\n\r\n",
                40_000 + rng.below(60_000),
                rng.below(9_999)
            );
        }
    }
    let _ = write!(
        out,
        "{}\r\n{}\r\n{}\r\n",
        rng.pick(CLOSERS),
        cust.name,
        cust.domain
    );
    if quote {
        let earlier = *date - chrono::Duration::hours(1 + rng.below(30) as i64);
        let _ = write!(
            out,
            "\r\nOn {}, Bench Support <{SUPPORT}> wrote:\r\n",
            earlier.format("%a, %d %b %Y at %H:%M")
        );
        while out.len() < budget {
            paragraph(rng, out, "> ");
        }
    }
}

/// A paragraph of plain sentences, wrapped at 72 columns, each line prefixed.
pub fn paragraph(rng: &mut Rng, out: &mut String, prefix: &str) {
    let mut col = 0;
    out.push_str(prefix);
    for _ in 0..rng.range(2, 6) {
        let words = rng.range(6, 18);
        for w in 0..words {
            let mut word = rng.pick(WORDS).to_string();
            if w == 0 {
                word[..1].make_ascii_uppercase();
            }
            if w + 1 == words {
                word.push(if rng.percent(12) { '?' } else { '.' });
            }
            if col > 0 && col + word.len() + 1 > 72 {
                out.push_str("\r\n");
                out.push_str(prefix);
                col = 0;
            } else if col > 0 {
                out.push(' ');
                col += 1;
            }
            out.push_str(&word);
            col += word.len();
        }
    }
    out.push_str("\r\n");
    out.push_str(prefix.trim_end());
    out.push_str("\r\n");
}

/// One MIME part (headers + encoded body): a text/plain .log or a base64 binary.
pub fn make_attachment(
    rng: &mut Rng,
    seq: usize,
    raw_len: usize,
    date: &DateTime<FixedOffset>,
) -> String {
    let mut part = String::new();
    if rng.percent(50) {
        let _ = write!(
            part,
            "Content-Type: text/plain; charset=us-ascii; name=\"app-{seq}.log\"\r\n\
             Content-Disposition: attachment; filename=\"app-{seq}.log\"\r\n\
             Content-Transfer-Encoding: 7bit\r\n\r\n"
        );
        let start = part.len();
        let mut t = *date - chrono::Duration::minutes(30);
        const LEVELS: &[&str] = &["INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"];
        const MSGS: &[&str] = &[
            "sync finished batch",
            "request took longer than expected",
            "retrying upload of chunk",
            "cache miss for key",
            "connection reset by peer, reconnecting",
            "exported rows to csv",
        ];
        while part.len() - start < raw_len {
            t += chrono::Duration::milliseconds(rng.range(5, 4000) as i64);
            let _ = write!(
                part,
                "{} {} worker[{}]: {} {}\r\n",
                t.format("%Y-%m-%dT%H:%M:%S%.3f%:z"),
                rng.pick(LEVELS),
                1000 + rng.below(50),
                rng.pick(MSGS),
                rng.below(100_000)
            );
        }
    } else {
        let _ = write!(
            part,
            "Content-Type: application/octet-stream; name=\"dump-{seq}.bin\"\r\n\
             Content-Disposition: attachment; filename=\"dump-{seq}.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        );
        let data: Vec<u8> = (0..raw_len).map(|_| rng.next() as u8).collect();
        base64_lines(&data, &mut part);
    }
    part
}

/// Standard base64 in 76-column lines.
pub fn base64_lines(data: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut col = 0;
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
        col += 4;
        if col == 76 {
            out.push_str("\r\n");
            col = 0;
        }
    }
    if col > 0 {
        out.push_str("\r\n");
    }
}
