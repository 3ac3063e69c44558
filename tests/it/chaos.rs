//! Chaos (issue 11; DESIGN §11 "faults"): three `serve` instances on one
//! PostgreSQL database sync two IMAP mailboxes of a real Dovecot, fed by SMTP
//! through a real Postfix, and send their acknowledgements back out through
//! that Postfix into each customer's own Dovecot mailbox, while a random
//! instance is SIGKILLed every 2-4 s and started again. At the end every
//! mail is stored exactly once, every first mail has one ticket of its own,
//! every follow-up sits on its first mail's ticket, and each customer's INBOX
//! holds exactly one acknowledgement per ticket of theirs, none twice (an ack
//! lost "in doubt" to a kill at the final dot is counted and printed, see the
//! INBOX check).
//!
//! `MAILROOM_CHAOS_MESSAGES` (default 5,000) sets the number of mails,
//! `MAILROOM_CHAOS_SEED` replays the plan (the seed is printed; the kills
//! follow the clock), `MAILROOM_CHAOS_STRICT=1` fails on an ack lost in doubt.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use mailroom::mail::parse;

use crate::imap::{Serve, healthz_at};
use crate::mailenv::{MailEnv, PASSWORD};
use crate::support::*;

/// The two support mailboxes (Dovecot users) and their source names.
const MAILBOXES: [&str; 2] = ["support@example.test", "sales@example.test"];
const SOURCES: [&str; 2] = ["support", "sales"];
const INSTANCES: usize = 3;
/// Customers, each with a Dovecot mailbox of their own for the acknowledgements.
const CUSTOMERS: usize = 16;
const FOLLOWUP_PERCENT: u64 = 20;
/// Mails per SMTP session. A follow-up answers a mail of an earlier chunk,
/// and a chunk is sent only once Dovecot holds every mail sent before it:
/// Postfix delivers in no fixed order, and a follow-up that reached the
/// mailbox before its first mail would rightly start the ticket (and get the
/// acknowledgement) itself.
const CHUNK: usize = 250;
const KILL_EVERY_MS: (u64, u64) = (2_000, 4_000);
const DEFAULT_MESSAGES: usize = 5_000;

const CONFIG: &str = r#"
[mailroom]
support_address = "support@example.test"
support_name = "Example Support"
ticket_prefix = "MR"
own_addresses = ["sales@example.test"]
# Each customer opens hundreds of tickets within the hour: the RFC 3834 limit
# (default 10 per recipient and hour) would rightly hold back most acks.
ack_limit_per_hour = 1000000
"#;

/// xorshift64*: the run's only randomness, replayable from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn customer(c: usize) -> String {
    format!("c{c:02}@customers.test")
}

/// One mail of the run.
struct Mail {
    mailbox: usize,
    customer: usize,
    id: String,
    /// The first mail this one answers (an index into the plan).
    parent: Option<usize>,
    raw: String,
}

/// `n` mails over both mailboxes and all customers, about a fifth of them
/// follow-ups (In-Reply-To and References: a first mail of the same
/// customer in the same mailbox, from an earlier chunk).
fn plan(n: usize, rng: &mut Rng) -> Vec<Mail> {
    let mut mails: Vec<Mail> = Vec::with_capacity(n);
    let mut sent = [0usize; 2];
    // (mailbox, customer) -> [(chunk, index)] of first mails, oldest first.
    let mut firsts: HashMap<(usize, usize), Vec<(usize, usize)>> = HashMap::new();
    for i in 0..n {
        let mailbox = rng.below(2) as usize;
        let c = rng.below(CUSTOMERS as u64) as usize;
        let chunk = sent[mailbox] / CHUNK;
        sent[mailbox] += 1;
        let old: Vec<usize> = firsts
            .get(&(mailbox, c))
            .map(|v| {
                v.iter()
                    .take_while(|&&(k, _)| k < chunk)
                    .map(|&(_, ix)| ix)
                    .collect()
            })
            .unwrap_or_default();
        let parent = (rng.below(100) < FOLLOWUP_PERCENT && !old.is_empty())
            .then(|| old[rng.below(old.len() as u64) as usize]);
        let id = format!("chaos-{i}.{:08x}@customers.test", rng.next() as u32);
        let (subject, threading) = match parent {
            Some(p) => (
                format!("Re: Question {p} from c{c:02}"),
                format!("In-Reply-To: <{0}>\r\nReferences: <{0}>\r\n", mails[p].id),
            ),
            None => {
                firsts.entry((mailbox, c)).or_default().push((chunk, i));
                (format!("Question {i} from c{c:02}"), String::new())
            }
        };
        let raw = format!(
            "From: Customer {c:02} <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n{threading}Content-Type: text/plain; charset=utf-8\r\n\r\nMail {i} of the chaos run.\r\n",
            from = customer(c),
            to = MAILBOXES[mailbox],
        );
        mails.push(Mail {
            mailbox,
            customer: c,
            id,
            parent,
            raw,
        });
    }
    mails
}

/// Rows of `sql` from the test database.
fn rows<T>(env: &Env, sql: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(&env.db_url)
            .await
            .expect("connect to the test database");
        sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
}

fn stored(env: &Env) -> i64 {
    env.count("SELECT COUNT(DISTINCT message_id) FROM messages WHERE direction = 'in'")
}

/// What the instances and the database look like now, for a failure message.
fn state(env: &Env, ports: &[u16], instances: &[Option<Serve>]) -> String {
    let mut s = format!(
        "stored {} ({} rows); outbox {:?}\n",
        stored(env),
        env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"),
        rows::<(String, i64)>(
            env,
            "SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status"
        )
    );
    for (i, (port, inst)) in ports.iter().zip(instances).enumerate() {
        let h = healthz_at(*port).map(|(_, h)| h.to_string());
        s += &format!("instance {i}: healthz {h:?}\n");
        if let Some(inst) = inst {
            let log = inst.log();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            s += &format!(
                "  log tail:\n    {}\n",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
            );
        }
    }
    s
}

#[test]
fn three_instances_under_sigkill_store_each_mail_once_and_ack_each_ticket_once() {
    let n: usize = std::env::var("MAILROOM_CHAOS_MESSAGES")
        .ok()
        .map(|v| v.parse().expect("MAILROOM_CHAOS_MESSAGES: a number"))
        .unwrap_or(DEFAULT_MESSAGES);
    let seed: u64 = std::env::var("MAILROOM_CHAOS_SEED")
        .ok()
        .map(|v| v.parse().expect("MAILROOM_CHAOS_SEED: a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    let strict = std::env::var_os("MAILROOM_CHAOS_STRICT").is_some_and(|v| v == "1");
    eprintln!("chaos: {n} messages, seed {seed} (MAILROOM_CHAOS_SEED={seed} replays the plan)");
    let mut rng = Rng(seed.max(1));
    let mails = plan(n, &mut rng);
    let firsts: Vec<usize> = (0..n).filter(|&i| mails[i].parent.is_none()).collect();
    let followups = n - firsts.len();

    let customers: Vec<String> = (0..CUSTOMERS).map(customer).collect();
    let mev = MailEnv::start_with_users(&customers);
    let inbound: String = SOURCES
        .iter()
        .zip(MAILBOXES)
        .map(|(name, user)| mev.inbound(name, user, PASSWORD, "idle = true"))
        .collect();
    let env = Env::with_config(Backend::Postgres, CONFIG, &inbound);
    env.smtp_outbound(mev.smtp);
    let configs: Vec<(std::path::PathBuf, u16)> = (0..INSTANCES)
        .map(|i| env.instance_config(i as u32 + 1))
        .collect();
    let ports: Vec<u16> = configs.iter().map(|(_, p)| *p).collect();
    let start = |i: usize| Some(Serve::start_with(&env, &configs[i].0));
    let mut instances: Vec<Option<Serve>> = (0..INSTANCES).map(start).collect();

    let t0 = Instant::now();
    let mut kills = 0u32;
    let mut kill_times: Vec<String> = Vec::new();
    let (delivered_after, stored_after) = std::thread::scope(|s| {
        let senders: Vec<_> = (0..MAILBOXES.len())
            .map(|m| {
                let (mev, mails) = (&mev, &mails);
                s.spawn(move || {
                    let mine: Vec<String> = mails
                        .iter()
                        .filter(|x| x.mailbox == m)
                        .map(|x| x.raw.clone())
                        .collect();
                    for (k, chunk) in mine.chunks(CHUNK).enumerate() {
                        let before = (k * CHUNK) as u32;
                        let waited = Instant::now();
                        while mev.status(MAILBOXES[m], "INBOX").0 < before {
                            assert!(
                                waited.elapsed() < Duration::from_secs(120),
                                "{}: fewer than {before} mails delivered after 120 s; postfix log:\n{}",
                                MAILBOXES[m],
                                mev.log("postfix.log")
                            );
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        mev.smtp_send(MAILBOXES[m], chunk);
                    }
                    t0.elapsed()
                })
            })
            .collect();
        let mut senders: Vec<_> = senders.into_iter().map(Some).collect();
        let mut delivered = Duration::ZERO;
        let mut next_kill = t0 + Duration::from_millis(rng_ms(&mut rng));
        let deadline = Duration::from_secs(360);
        loop {
            for h in senders.iter_mut() {
                if h.as_ref().is_some_and(|h| h.is_finished()) {
                    let h = h.take().expect("finished sender");
                    let took = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                    delivered = delivered.max(took);
                }
            }
            let sending = senders.iter().any(Option::is_some);
            // Done: all delivered and stored, and a few kills at the least
            // (a short run still crosses a restart or three).
            if !sending && kills >= 3 && stored(&env) >= n as i64 {
                break (delivered, t0.elapsed());
            }
            assert!(
                t0.elapsed() < deadline,
                "not all {n} mails stored after {deadline:?} ({kills} kills, senders done: {}):\n{}",
                !sending,
                state(&env, &ports, &instances)
            );
            for (i, inst) in instances.iter_mut().enumerate() {
                if let Some(status) = inst.as_mut().and_then(Serve::exited) {
                    let log = inst.as_ref().map(Serve::log).unwrap_or_default();
                    panic!("instance {i} exited by itself ({status}):\n{log}");
                }
            }
            if Instant::now() >= next_kill {
                let victim = rng.below(INSTANCES as u64) as usize;
                drop(instances[victim].take()); // SIGKILL, then wait
                kills += 1;
                kill_times.push(format!(
                    "{} #{victim}",
                    chrono::Utc::now().format("%H:%M:%S%.3f")
                ));
                instances[victim] = start(victim);
                next_kill = Instant::now() + Duration::from_millis(rng_ms(&mut rng));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let rate = n as f64 / stored_after.as_secs_f64();
    eprintln!(
        "chaos: {n} mails ({} first, {followups} follow-ups) delivered by SMTP in {:.1} s, all stored after {:.1} s ({rate:.0} messages/s), {kills} SIGKILLs",
        firsts.len(),
        delivered_after.as_secs_f64(),
        stored_after.as_secs_f64()
    );

    // The outbox drains (a killed sender's claim passes to another after its 30 s lease).
    let waited = Instant::now();
    while env.count("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')") > 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(180),
            "outbox not drained 180 s after the last mail was stored:\n{}",
            state(&env, &ports, &instances)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let drained = t0.elapsed();
    for (i, inst) in instances.iter_mut().enumerate() {
        let inst = inst.take().expect("instance running");
        let log = inst.log();
        let status = inst.terminate();
        assert!(
            status.success(),
            "instance {i}: serve exit {status:?}\n{log}"
        );
    }
    // Nothing more can reach a customer once Postfix's queue is empty.
    let waited = Instant::now();
    while mev.queued() > 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "{} mail(s) still in Postfix's queue after 120 s; postfix log tail:\n{}",
            mev.queued(),
            mev.log("postfix.log")
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "chaos: outbox drained after {:.1} s, Postfix's queue empty after {:.1} s; {} mailbox leases taken",
        drained.as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        leases_taken(&env)
    );

    // Every mail stored exactly once.
    assert_eq!(
        env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"),
        n as i64,
        "stored rows"
    );
    assert_eq!(stored(&env), n as i64, "distinct stored Message-IDs");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM quarantine"),
        0,
        "quarantined"
    );
    let in_rows: Vec<(String, Option<i64>)> = rows(
        &env,
        "SELECT message_id, ticket_id FROM messages WHERE direction = 'in'",
    );
    let ticket_of: HashMap<&str, i64> = in_rows
        .iter()
        .map(|(id, t)| {
            (
                id.as_str(),
                t.unwrap_or_else(|| panic!("{id} on no ticket")),
            )
        })
        .collect();
    let ticket = |i: usize| -> i64 {
        *ticket_of
            .get(mails[i].id.as_str())
            .unwrap_or_else(|| panic!("mail {} was not stored", mails[i].id))
    };

    // One ticket per first mail, its customer's; follow-ups on their first mail's ticket.
    let tickets: HashMap<i64, String> =
        rows::<(i64, String)>(&env, "SELECT id, customer FROM tickets")
            .into_iter()
            .collect();
    let mut first_of: HashMap<i64, usize> = HashMap::new();
    for &i in &firsts {
        let t = ticket(i);
        if let Some(other) = first_of.insert(t, i) {
            panic!(
                "first mails {} and {} share ticket {t}",
                mails[other].id, mails[i].id
            );
        }
        assert_eq!(
            tickets.get(&t).map(String::as_str),
            Some(customer(mails[i].customer).as_str()),
            "the customer of ticket {t} (first mail {})",
            mails[i].id
        );
    }
    assert_eq!(
        tickets.len(),
        firsts.len(),
        "tickets: one per first mail, none for a follow-up or twice"
    );
    for (i, m) in mails.iter().enumerate() {
        if let Some(p) = m.parent {
            assert_eq!(
                ticket(i),
                ticket(p),
                "follow-up {} is not on the ticket of {}",
                m.id,
                mails[p].id
            );
        }
    }

    // One acknowledgement per ticket queued and sent, nothing else.
    let acks: Vec<(Option<i64>, String, String, Option<String>)> = rows(
        &env,
        "SELECT o.ticket_id, m.message_id, o.status, o.last_error FROM outbox o \
         JOIN messages m ON m.id = o.message_row WHERE o.kind = 'ack'",
    );
    let mut ack_of: HashMap<i64, String> = HashMap::new();
    let mut in_doubt: HashSet<i64> = HashSet::new();
    for (t, id, status, note) in &acks {
        let t = t.unwrap_or_else(|| panic!("ack {id} on no ticket"));
        assert_eq!(status, "sent", "ack {id} of ticket {t} ({note:?})");
        assert!(
            ack_of.insert(t, id.clone()).is_none(),
            "two acks queued for ticket {t}"
        );
        if note.as_deref().is_some_and(|n| n.starts_with("in doubt")) {
            in_doubt.insert(t);
        }
    }
    assert_eq!(ack_of.len(), firsts.len(), "acks queued");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE kind <> 'ack'"),
        0,
        "only acks are sent (no agents to notify)"
    );

    // Each customer's INBOX: exactly one acknowledgement per ticket of theirs
    // (the one queued for it), and no other mail. One exception, SMTP's own
    // (src/outbound/handover.rs): a sender killed after it recorded handing a
    // mail over and before the final dot reached the server leaves a row that
    // is counted as sent "in doubt" and never sent again (sending it again
    // could deliver it twice), so that one mail is missing. A missing ack is
    // allowed only where it is exactly that: its row says in doubt, and
    // Postfix never queued it. Those are counted and printed;
    // MAILROOM_CHAOS_STRICT=1 fails on them too.
    let postfix_log = mev.log("postfix.log");
    let dovecot_log = mev.log("dovecot.log");
    eprintln!(
        "chaos: Postfix deferred {} deliveries (retried later)",
        postfix_log.matches("status=deferred").count()
    );
    // What Postfix did with a mail (its queue files' lines and the SMTP
    // session that handed it over, to that session's end) and what Dovecot
    // logged about it: for failure messages.
    let trail = |id: &str| -> String {
        let mut out = Vec::new();
        for q in postfix_queue_ids(&postfix_log, id) {
            let (mut session, mut ended) = (None::<String>, false);
            for l in postfix_log.lines() {
                if l.contains(&format!(" {q}: ")) {
                    out.push(l);
                    if session.is_none() && l.contains(": client=") {
                        session = l
                            .split_once(&format!(": {q}: "))
                            .and_then(|(h, _)| h.rsplit(' ').next())
                            .map(|p| format!(" {p}: "));
                    }
                } else if let Some(p) = session.as_deref()
                    && !ended
                    && l.contains(p)
                {
                    out.push(l);
                    ended = l.contains("disconnect from");
                }
            }
        }
        out.extend(dovecot_log.lines().filter(|l| l.contains(id)));
        out.join("\n  ")
    };
    // Where and when mailroom stored a mail (the origin names the UID).
    let stored_as = |id: &str| -> String {
        format!(
            "{:?}",
            rows::<(i64, Option<String>, Option<i64>, String)>(
                &env,
                &format!(
                    "SELECT id, origin, ticket_id, created_at::text FROM messages \
                     WHERE message_id = '{id}'"
                )
            )
        )
    };
    // Everything known about ticket `t`'s ack, for failure messages.
    let ack_story = |t: i64| -> String {
        let id = &ack_of[&t];
        let row = rows::<(String, Option<String>, Option<String>, Option<String>)>(
            &env,
            &format!(
                "SELECT recipients, sent_at::text, handed_over_at::text, last_error FROM outbox \
                 WHERE kind = 'ack' AND ticket_id = {t}"
            ),
        );
        let on_ticket = rows::<(String, String, Option<String>, String)>(
            &env,
            &format!(
                "SELECT message_id, kind, origin, created_at::text FROM messages \
                 WHERE ticket_id = {t} ORDER BY id"
            ),
        );
        format!(
            "ack {id}: {row:?}\nPostfix and Dovecot:\n  {}\nthe ticket's mails: {on_ticket:?}\n\
             events:\n{}\nserve logs:\n{}\nkills (UTC): {kill_times:?}",
            trail(id),
            events_text(&env.ticket(&format!("MR-{t}"))),
            serve_log_lines(&env, &format!("outbox={}", outbox_id(&env, id)))
        )
    };
    let mut in_inboxes = 0;
    let mut lost: Vec<&str> = Vec::new();
    for (c, addr) in customers.iter().enumerate() {
        let expected: HashMap<&str, i64> = firsts
            .iter()
            .filter(|&&i| mails[i].customer == c)
            .map(|&i| (mails[i].id.as_str(), ticket(i)))
            .collect();
        let mut copies: HashMap<i64, usize> = HashMap::new();
        for raw in mev.fetch_all(addr, "INBOX") {
            let m = parse(&raw).expect("a delivered ack parses");
            in_inboxes += 1;
            let answers = m.in_reply_to.first().map(String::as_str).unwrap_or("");
            let t = *expected.get(answers).unwrap_or_else(|| {
                let parent = mails
                    .iter()
                    .find(|x| x.id == answers)
                    .and_then(|x| x.parent)
                    .map_or(String::new(), |p| {
                        format!(
                            "; it answers {answers}, a follow-up of {}\nstored: {} and {}\n\
                             Postfix:\n  {}\n  {}",
                            mails[p].id,
                            stored_as(answers),
                            stored_as(&mails[p].id),
                            trail(answers),
                            trail(&mails[p].id)
                        )
                    });
                panic!(
                    "{addr}'s INBOX holds {:?} ({}), not an ack of one of their first \
                     mails{parent}",
                    m.subject, m.message_id
                )
            });
            assert_eq!(
                m.auto.auto_submitted.as_deref(),
                Some("auto-replied"),
                "{}",
                m.message_id
            );
            assert!(
                m.subject.contains(&format!("[MR-{t}]")),
                "ack subject {:?} names ticket MR-{t}",
                m.subject
            );
            assert_eq!(
                ack_of.get(&t),
                Some(&m.message_id),
                "the ack in {addr}'s INBOX for ticket {t} is the one queued for it"
            );
            *copies.entry(t).or_default() += 1;
        }
        for (first, &t) in &expected {
            match copies.get(&t).copied().unwrap_or(0) {
                1 => {}
                0 if !strict
                    && in_doubt.contains(&t)
                    && !postfix_queued(&postfix_log, &ack_of[&t]) =>
                {
                    lost.push(&ack_of[&t]);
                }
                n => panic!(
                    "{addr}'s INBOX holds {n} acks for ticket MR-{t} (first mail {first}, \
                     stored {}); {}",
                    stored_as(first),
                    ack_story(t)
                ),
            }
        }
    }
    assert_eq!(
        in_inboxes + lost.len(),
        firsts.len(),
        "acks in the customers' INBOXes"
    );
    assert!(
        lost.len() <= kills as usize,
        "{} acks lost in doubt, more than the {kills} kills explain: {lost:?}",
        lost.len()
    );
    eprintln!(
        "chaos: verified {n} stored once, {} tickets, {followups} follow-ups on their tickets, \
         one ack per ticket in {CUSTOMERS} INBOXes, none twice; {} acks in doubt after a kill, \
         {} of them never reached Postfix {lost:?}; total {:.1} s",
        firsts.len(),
        in_doubt.len(),
        lost.len(),
        t0.elapsed().as_secs_f64()
    );
}

/// Postfix's queue IDs of the mails with Message-ID `id`, in the log's order.
fn postfix_queue_ids(log: &str, id: &str) -> Vec<String> {
    let needle = format!(": message-id=<{id}>");
    log.lines()
        .filter(|l| l.ends_with(&needle))
        .filter_map(|l| l.strip_suffix(&needle)?.rsplit(' ').next())
        .map(str::to_string)
        .collect()
}

/// Whether Postfix queued a mail with Message-ID `id` (its queue manager
/// took it: `QID: from=<…>`), rather than dropping a transfer cut short.
fn postfix_queued(log: &str, id: &str) -> bool {
    postfix_queue_ids(log, id)
        .iter()
        .any(|q| log.contains(&format!(" {q}: from=<")))
}

/// The outbox row of the mail with Message-ID `id`.
fn outbox_id(env: &Env, id: &str) -> i64 {
    env.count(&format!(
        "SELECT o.id FROM outbox o JOIN messages m ON m.id = o.message_row WHERE m.message_id = '{id}'"
    ))
}

/// The lines containing `needle` in the logs of every serve process of the
/// run, each after its log's name.
fn serve_log_lines(env: &Env, needle: &str) -> String {
    let mut out = Vec::new();
    for e in std::fs::read_dir(env.dir.path())
        .expect("test dir")
        .filter_map(Result::ok)
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("serve-") {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(30)
                .collect::<String>();
            let last = text
                .lines()
                .last()
                .unwrap_or("")
                .chars()
                .take(30)
                .collect::<String>();
            for l in text.lines().filter(|l| l.contains(needle)) {
                out.push(format!("{name} ({first} .. {last}): {l}"));
            }
        }
    }
    out.join("\n")
}

/// "lease taken" lines in the logs of every serve process of the run.
fn leases_taken(env: &Env) -> usize {
    std::fs::read_dir(env.dir.path())
        .expect("test dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("serve-"))
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .matches("lease taken")
                .count()
        })
        .sum()
}

fn rng_ms(rng: &mut Rng) -> u64 {
    KILL_EVERY_MS.0 + rng.below(KILL_EVERY_MS.1 - KILL_EVERY_MS.0 + 1)
}
