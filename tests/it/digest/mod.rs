//! Managers' digests and `stats` (issue "timely, visibly", items 3-5), with a
//! fixed clock (MAILROOM_NOW, debug builds): exact numbers on fixture tickets,
//! one digest per manager and period across restarts and instances, a missed
//! schedule caught up once, empty periods.

mod holds;
mod recorded;

use crate::both_backends;
use crate::relay::{Style, agent_reply, find, reply_body, sent_since};
use crate::support::*;

const TEAM: &str = r#"
[[area]]
name = "billing"
escalation = "carol@example.test"
calendar = "berlin"

[[area]]
name = "tech"

[[calendar]]
name = "berlin"
time_zone = "Europe/Berlin"
hours = "09:00-17:00"

[sla.normal]
first_response = "1h"
resolution = "8h"

[[manager]]
email = "carol@example.test"
areas = ["billing"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"

[[manager]]
email = "dave@example.test"
areas = ["tech"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
skip_empty = true

[[manager]]
email = "frank@example.test"
areas = ["tech"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
"#;

/// Monday 30 Nov 2026 (Berlin): MR-1 answered after 30 minutes, MR-2 never
/// (its first response breached at 12:00 Berlin), MR-3 answered and closed
/// after 2 hours.
fn monday(env: &Env) {
    let customer = |who: &str, id: &str| {
        mail(
            who,
            &format!("Question {id}"),
            &format!("{id}@customer.test"),
            "",
            "help",
        )
    };
    ingest_at(env, "2026-11-30T09:00:00Z", &customer("alice@a.test", "q1"));
    ingest_at(env, "2026-11-30T10:00:00Z", &customer("dan@b.test", "q2"));
    ingest_at(env, "2026-11-30T11:00:00Z", &customer("eve@a.test", "q3"));
    let sent = sent_since(env, 0);
    let notif = |r: &str| {
        find(&sent, "notification")
            .into_iter()
            .find(|n| n.subject.starts_with(&format!("[{r}]")))
            .expect("notification")
            .clone()
    };
    let n1 = notif("MR-1");
    let a1 = agent_reply(
        "bob@example.test",
        &n1,
        "a1@example.test",
        &reply_body("On it.", &n1, Style::Gmail),
        "",
    );
    assert_eq!(
        ingest_at(env, "2026-11-30T09:30:00Z", &a1)["outcome"],
        "agent_reply"
    );
    // The first response counts when the answer is delivered.
    at(env, "2026-11-30T09:30:00Z", &["outbox", "flush"]);
    assert!(
        at(env, "2026-11-30T11:05:00Z", &["schedule", "--once"]).contains("sla: 1 "),
        "MR-2's breach"
    );
    let n3 = notif("MR-3");
    let a3 = agent_reply(
        "bob@example.test",
        &n3,
        "a3@example.test",
        &reply_body("#close\r\nDone.", &n3, Style::Gmail),
        "",
    );
    assert_eq!(
        ingest_at(env, "2026-11-30T13:00:00Z", &a3)["outcome"],
        "agent_reply"
    );
    at(env, "2026-11-30T13:00:00Z", &["outbox", "flush"]);
}

both_backends! {
    fn the_daily_digest_has_exact_numbers_and_comes_once(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), TEAM);
        monday(&env);
        let before = env.flush_outbox().len();
        // mailroom was down at 08:00 on Tuesday; it comes back at 10:00 and catches up once.
        let out = at(&env, "2026-12-01T09:00:00Z", &["schedule", "--once"]);
        assert!(out.contains("digests: 2 queued"), "carol's and frank's (dave skips an empty period): {out}");
        assert!(at(&env, "2026-12-01T09:01:00Z", &["schedule", "--once"]).contains("digests: 0 queued"));
        // (Monday's scan at 11:05 already caught up the first digests, Friday
        // 08:00 to Monday 08:00, empty.)
        assert_eq!(env.count("SELECT COUNT(*) FROM digests_sent"), 6, "dave's empty periods are recorded too");
        // Queued at (fake) Tuesday: sent at that time.
        at(&env, "2026-12-01T09:01:30Z", &["outbox", "flush"]);
        let sent: Vec<_> = env.flush_outbox().into_iter().skip(before).collect();
        let digests: Vec<_> = sent.iter().filter(|(n, _)| n.ends_with("-digest.eml")).map(|(_, m)| m).collect();
        assert_eq!(digests.len(), 2);
        let carol = digests.iter().find(|m| m.to[0].email == "carol@example.test").expect("carol's digest");
        assert_eq!(carol.subject, "[Example Support] Digest: Mon 30 Nov 08:00 – Tue 1 Dec 2026 08:00");
        assert_eq!(first_line(carol), "Digest — Mon 30 Nov 2026 08:00 CET to Tue 1 Dec 2026 08:00 CET (Europe/Berlin), areas billing");
        assert_eq!(carol.auto.auto_submitted.as_deref(), Some("auto-generated"));
        let t = &carol.text;
        for line in [
            "New                        3   (+3 against the compared span: 0)",
            "Resolved                   1",
            "Reopened                   0",
            "Backlog at the end         2",
            "SLA breaches               1",
            "First response   median 30 m, p90 2 h 0 m (2 tickets)",
            "Resolution       median 2 h 0 m, p90 2 h 0 m (1 ticket)",
            "MR-2  first response due Mon 30 Nov 12:00",
            "MR-2  since Mon 30 Nov 11:00 (21 h 0 m)",
            "bob@example.test                         2         2",
            "a.test                                   2",
            "b.test                                   1",
        ] {
            assert!(t.contains(line), "missing {line:?} in:\n{t}");
        }
        let h = carol.html_source.as_deref().expect("HTML part");
        assert!(h.contains("width:240px") && h.contains("bgcolor="), "table-based bars: {h}");
        assert!(!h.contains("<img") && !h.contains("<script"), "{h}");
        let frank = digests.iter().find(|m| m.to[0].email == "frank@example.test").expect("frank's digest");
        assert!(frank.text.contains("Nothing happened in this period."), "{}", frank.text);
        // A second instance (or a restart) at the same moment queues nothing more.
        let spawn = || env.command().args(["schedule", "--once"]).env("MAILROOM_NOW", "2026-12-01T09:02:00Z")
            .stdout(std::process::Stdio::null()).spawn().expect("spawn");
        let (mut x, mut y) = (spawn(), spawn());
        assert!(x.wait().expect("wait").success() && y.wait().expect("wait").success());
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'"), 4, "Monday's and Tuesday's of carol and frank");

        // Preview and stats show the same numbers, send queues one on request.
        let preview = at(&env, "2026-12-01T09:00:00Z", &["digest", "preview", "--manager", "carol@example.test", "--text", "--at", "2026-12-01"]);
        assert_eq!(preview.trim(), carol.text.replace("\r\n", "\n").trim());
        let stats: serde_json::Value = serde_json::from_str(&at(&env, "2026-12-01T00:00:00Z", &["stats", "--since", "1d", "--area", "billing", "--json"])).expect("json");
        assert_eq!((stats["new"].as_u64(), stats["resolved"].as_u64(), stats["backlog_at_end"].as_u64()), (Some(3), Some(1), Some(2)));
        assert_eq!(stats["first_response"]["median"], 1800);
        // Tuesday: nothing happened; Monday's open tickets are a quiet backlog,
        // which the store counts instead of loading: the same numbers show.
        let tuesday = at(&env, "2026-12-02T09:00:00Z", &["digest", "preview", "--manager", "carol@example.test", "--text", "--at", "2026-12-02"]);
        for line in ["Backlog at the end         2", "bob@example.test                         2         0", "MR-2"] {
            assert!(tuesday.contains(line), "missing {line:?} in:\n{tuesday}");
        }
        assert!(!tuesday.contains("a.test"), "no new tickets on Tuesday: {tuesday}");
        at(&env, "2026-12-01T09:10:00Z", &["digest", "send", "--manager", "carol@example.test"]);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'"), 5);
    }
}

/// An RFC 3339 instant written in Berlin wall time ("2026-10-23 08:00", one
/// that exists once) or in UTC with a trailing "Z" ("2026-10-25 01:30Z").
fn t(s: &str) -> String {
    use chrono::TimeZone;
    let utc = match s.strip_suffix('Z') {
        Some(u) => chrono::NaiveDateTime::parse_from_str(u, "%Y-%m-%d %H:%M")
            .expect("instant")
            .and_utc(),
        None => chrono_tz::Europe::Berlin
            .from_local_datetime(
                &chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("instant"),
            )
            .single()
            .expect("unambiguous")
            .with_timezone(&chrono::Utc),
    };
    utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What happens at one instant of a simulated week.
enum Step {
    /// A customer mail (its sender is unique: it names the digest it is in).
    Mail(&'static str),
    Schedule,
}

/// Runs `steps` in time order: mails ingested, `schedule --once` at each
/// Schedule; returns how many digests each run queued.
fn simulate(env: &Env, mut steps: Vec<(String, Step)>) -> Vec<(String, u32)> {
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    let mut runs = Vec::new();
    for (i, (now, step)) in steps.iter().enumerate() {
        match step {
            Step::Mail(from) => {
                let o = ingest_at(
                    env,
                    now,
                    &mail(from, "Help", &format!("w{i}@customer.test"), "", "help"),
                );
                assert_eq!(o["outcome"], "created", "{o}");
            }
            Step::Schedule => {
                let out = at(env, now, &["schedule", "--once"]);
                let n = out
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("digests: ")?
                            .strip_suffix(" queued")?
                            .parse()
                            .ok()
                    })
                    .unwrap_or_else(|| panic!("no digests line: {out}"));
                runs.push((now.clone(), n));
            }
        }
    }
    runs
}

/// The digests sent to `who`, in the order they were queued. (The outbox is
/// flushed at a time after every fixed instant of these tests, some of which
/// may lie ahead of the real clock.)
fn digests_to(env: &Env, who: &str) -> Vec<mailroom::mail::ParsedMail> {
    at(env, "2100-01-01T00:00:00Z", &["outbox", "flush"]);
    env.flush_outbox()
        .into_iter()
        .filter(|(n, m)| n.ends_with("-digest.eml") && m.to[0].email == who)
        .map(|(_, m)| m)
        .collect()
}

fn first_line(m: &mailroom::mail::ParsedMail) -> String {
    m.text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// `New   N ...` of a digest's text.
fn new_count(text: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("New")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no New line in:\n{text}"))
}

/// `schedule --once` runs every `step` hours over [from, to), Berlin wall
/// time, except while mailroom is `down`.
fn every(step: i64, from: &str, to: &str, down: Option<(&str, &str)>) -> Vec<(String, Step)> {
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(&t(s))
            .expect("instant")
            .with_timezone(&chrono::Utc)
    };
    let (mut now, end) = (parse(from), parse(to));
    let down = down.map(|(a, b)| (parse(a), parse(b)));
    let mut steps = Vec::new();
    while now < end {
        if !down.is_some_and(|(a, b)| a <= now && now < b) {
            steps.push((
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                Step::Schedule,
            ));
        }
        now += chrono::Duration::hours(step);
    }
    steps
}

const WEEKDAYS: &str = r#"
[[manager]]
email = "carol@example.test"
areas = ["billing"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
"#;

both_backends! {
    fn a_week_of_weekday_digests_across_the_october_change(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), WEEKDAYS);
        // Clocks go back on Sunday 25 October 2026. mailroom runs hourly from
        // Monday 19 October 10:00 and is down from Wednesday 07:00 to
        // Thursday 12:00 (Wednesday's and Thursday's digests are missed).
        let mut steps = every(1, "2026-10-19 10:00", "2026-10-27 12:00", Some(("2026-10-21 07:00", "2026-10-22 12:00")));
        for (when, who) in [
            ("2026-10-19 09:00", "mon@a.test"),
            ("2026-10-20 07:59", "mon-late@a.test"),
            ("2026-10-20 08:00", "tue@a.test"),
            ("2026-10-21 12:00", "wed@a.test"),
            ("2026-10-23 07:59", "thu@a.test"),
            ("2026-10-23 08:00", "fri@a.test"),
            ("2026-10-24 15:00", "sat@a.test"),
            // 02:30 CET, the second 02:30 of that night.
            ("2026-10-25 01:30Z", "sun@a.test"),
            ("2026-10-26 07:59", "mon2-early@a.test"),
            ("2026-10-26 09:00", "mon2@a.test"),
        ] {
            steps.push((t(when), Step::Mail(who)));
        }
        let runs = simulate(&env, steps);
        // Six digests, each queued by one run: the first at the first run,
        // the caught-up one at the first run after the outage.
        let queued: Vec<&(String, u32)> = runs.iter().filter(|(_, n)| *n > 0).collect();
        assert_eq!(queued.iter().map(|(when, n)| (when.as_str(), *n)).collect::<Vec<_>>(), vec![
            (t("2026-10-19 10:00").as_str(), 1),
            (t("2026-10-20 08:00").as_str(), 1),
            (t("2026-10-22 12:00").as_str(), 1),
            (t("2026-10-23 08:00").as_str(), 1),
            (t("2026-10-26 08:00").as_str(), 1),
            (t("2026-10-27 08:00").as_str(), 1),
        ]);
        let digests = digests_to(&env, "carol@example.test");
        let lines: Vec<String> = digests.iter().map(first_line).collect();
        let window = |w: &str| format!("Digest — {w} (Europe/Berlin), areas billing");
        assert_eq!(lines, vec![
            window("Fri 16 Oct 2026 08:00 CEST to Mon 19 Oct 2026 08:00 CEST"),
            window("Mon 19 Oct 2026 08:00 CEST to Tue 20 Oct 2026 08:00 CEST"),
            window("Tue 20 Oct 2026 08:00 CEST to Thu 22 Oct 2026 08:00 CEST"),
            window("Thu 22 Oct 2026 08:00 CEST to Fri 23 Oct 2026 08:00 CEST"),
            window("Fri 23 Oct 2026 08:00 CEST to Mon 26 Oct 2026 08:00 CET"),
            window("Mon 26 Oct 2026 08:00 CET to Tue 27 Oct 2026 08:00 CET"),
        ]);
        // Every customer's ticket is in exactly one digest, the right one.
        let expected: [&[&str]; 6] = [
            &[],
            &["mon@a.test", "mon-late@a.test"],
            &["tue@a.test", "wed@a.test"],
            &["thu@a.test"],
            &["fri@a.test", "sat@a.test", "sun@a.test", "mon2-early@a.test"],
            &["mon2@a.test"],
        ];
        let all: Vec<&str> = expected.iter().flat_map(|e| e.iter().copied()).collect();
        for (d, want) in digests.iter().zip(expected) {
            assert_eq!(new_count(&d.text), want.len() as u64, "{}", d.text);
            for who in &all {
                let listed = d.text.lines().any(|l| l.split_whitespace().next() == Some(*who));
                assert_eq!(listed, want.contains(who), "{who} in:\n{}", d.text);
            }
        }
        assert!(digests[0].text.contains("Nothing happened in this period."), "{}", digests[0].text);
        let fri = &digests[4];
        assert_eq!(fri.subject, "[Example Support] Digest: Fri 23 Oct 08:00 – Mon 26 Oct 2026 08:00");
        assert!(fri.text.contains("Compared with Tue 20 Oct 2026 08:00 CEST to Fri 23 Oct 2026 08:00 CEST (the span of the same length before)."), "{}", fri.text);
        let html = fri.html_source.as_deref().expect("HTML part");
        assert!(html.contains("<h2 style=\"margin:0 0 4px 0\">Digest: Fri 23 Oct 2026 08:00 CEST to Mon 26 Oct 2026 08:00 CET</h2>"), "{html}");
        // The windows recorded follow each other: the first starts where
        // nothing was before, each next one where the last ended.
        assert_eq!(env.count("SELECT COUNT(*) FROM digests_sent"), 6);
        assert_eq!(env.count("SELECT COUNT(*) FROM digests_sent d WHERE NOT EXISTS \
            (SELECT 1 FROM digests_sent p WHERE p.period_end = d.period_start)"), 1, "one chain");
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'"), 6, "each sent once");
    }

    fn a_weekly_digest_across_the_march_change(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), r#"
[[manager]]
email = "dave@example.test"
digest = "0 8 * * Mon"
time_zone = "Europe/Berlin"
period = "week"
"#);
        // Clocks go forward on Sunday 29 March 2026. Runs every 5 hours from
        // Wednesday 11 March, down from Sunday 15 to Tuesday 24 March 09:30.
        let mut steps = every(5, "2026-03-11 15:00", "2026-04-07 12:00", Some(("2026-03-15 00:00", "2026-03-24 09:30")));
        for (when, who) in [
            ("2026-03-03 10:00", "early@a.test"),
            ("2026-03-09 07:59", "w1@a.test"),
            ("2026-03-09 08:00", "w2a@a.test"),
            ("2026-03-20 12:00", "w2b@a.test"),
            ("2026-03-29 01:30", "dst@a.test"),
            ("2026-03-30 07:59", "w4@a.test"),
            ("2026-04-02 12:00", "w5@a.test"),
        ] {
            steps.push((t(when), Step::Mail(who)));
        }
        let runs = simulate(&env, steps);
        assert_eq!(runs.iter().map(|(_, n)| n).sum::<u32>(), 4, "{runs:?}");
        let digests = digests_to(&env, "dave@example.test");
        let lines: Vec<String> = digests.iter().map(first_line).collect();
        let window = |w: &str| format!("Digest — {w} (Europe/Berlin), all areas");
        assert_eq!(lines, vec![
            window("Mon 2 Mar 2026 08:00 CET to Mon 9 Mar 2026 08:00 CET"),
            window("Mon 9 Mar 2026 08:00 CET to Mon 23 Mar 2026 08:00 CET"),
            window("Mon 23 Mar 2026 08:00 CET to Mon 30 Mar 2026 08:00 CEST"),
            window("Mon 30 Mar 2026 08:00 CEST to Mon 6 Apr 2026 08:00 CEST"),
        ]);
        let news: Vec<u64> = digests.iter().map(|d| new_count(&d.text)).collect();
        assert_eq!(news, vec![2, 2, 2, 1]);
        // The catch-up of two weeks is compared with the two weeks before it.
        assert!(digests[1].text.contains("Compared with Mon 23 Feb 2026 08:00 CET to Mon 9 Mar 2026 08:00 CET (the same hours a week before)."), "{}", digests[1].text);
        assert!(digests[1].text.contains("New                        2   (±0 against the compared span: 2)"), "{}", digests[1].text);
        // The short week's digest against the week before.
        assert!(digests[2].text.contains("Compared with Mon 16 Mar 2026 08:00 CET to Mon 23 Mar 2026 08:00 CET"), "{}", digests[2].text);
    }
}

both_backends! {
    fn preview_shows_the_next_digest_so_far(b) {
        let managers = format!("{WEEKDAYS}\n[[manager]]\nemail = \"erin@example.test\"\ntime_zone = \"Europe/Berlin\"\n");
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), &managers);
        assert_eq!(at(&env, &t("2026-12-04 08:30"), &["schedule", "--once"]).lines().last(), Some("digests: 1 queued"));
        ingest_at(&env, &t("2026-12-04 10:00"), &mail("fri@a.test", "Help", "p1@a.test", "", "x"));
        ingest_at(&env, &t("2026-12-05 10:00"), &mail("sat@a.test", "Help", "p2@a.test", "", "x"));
        let preview = |now: &str, extra: &[&str]| {
            let mut args = vec!["digest", "preview", "--manager", "carol@example.test", "--text"];
            args.extend_from_slice(extra);
            at(&env, &t(now), &args)
        };
        // On Sunday: Monday's digest, with this weekend's tickets so far (not
        // the empty weekend-less day before).
        let sunday = preview("2026-12-06 12:00", &[]);
        assert_eq!(sunday.lines().next(), Some("Digest — Fri 4 Dec 2026 08:00 CET to Mon 7 Dec 2026 08:00 CET, so far: until Sun 6 Dec 2026 12:00 CET (Europe/Berlin), areas billing"), "{sunday}");
        assert_eq!(new_count(&sunday), 2, "{sunday}");
        assert!(sunday.contains("Compared with Wed 2 Dec 2026 04:00 CET to Fri 4 Dec 2026 08:00 CET"), "as long a span before: {sunday}");
        // --at names a scheduled digest: the same one, by its day.
        assert_eq!(preview("2026-12-06 12:00", &["--at", "2026-12-07"]), sunday);
        // A ticket on Monday 07:59 joins it; once due, the scheduler sends
        // exactly what preview shows.
        ingest_at(&env, &t("2026-12-07 07:59"), &mail("mon@a.test", "Help", "p3@a.test", "", "x"));
        let due = preview("2026-12-07 08:00", &[]);
        assert_eq!(due.lines().next(), Some("Digest — Fri 4 Dec 2026 08:00 CET to Mon 7 Dec 2026 08:00 CET (Europe/Berlin), areas billing"), "{due}");
        assert_eq!(new_count(&due), 3);
        let out = at(&env, &t("2026-12-07 08:05"), &["schedule", "--once"]);
        assert!(out.contains("digests: 1 queued"), "{out}");
        let sent = digests_to(&env, "carol@example.test");
        assert_eq!(sent.len(), 2, "{:?}", env.outbox());
        assert_eq!(sent[1].text.replace("\r\n", "\n").trim(), due.trim());
        // Afterwards the next one is Tuesday's, empty so far; Friday's (by
        // its date or an instant) is still the one that was sent.
        let next = preview("2026-12-07 09:00", &[]);
        assert!(next.starts_with("Digest — Mon 7 Dec 2026 08:00 CET to Tue 8 Dec 2026 08:00 CET, so far: until Mon 7 Dec 2026 09:00 CET"), "{next}");
        assert_eq!(new_count(&next), 0);
        assert_eq!(preview("2026-12-07 09:00", &["--at", "2026-12-07T07:30:00Z"]), due);
        let friday = preview("2026-12-07 09:00", &["--at", "2026-12-04"]);
        assert!(friday.starts_with("Digest — Thu 3 Dec 2026 08:00 CET to Fri 4 Dec 2026 08:00 CET (Europe/Berlin)"), "{friday}");
        // On a day without a scheduled digest, --at DATE names the next one.
        assert_eq!(preview("2026-12-07 09:00", &["--at", "2026-12-05"]), due);
        // A manager without a cron gets nothing on schedule; preview shows the
        // local day running now.
        let erin = at(&env, &t("2026-12-06 12:00"), &["digest", "preview", "--manager", "erin@example.test", "--text"]);
        assert!(erin.starts_with("Digest — Sun 6 Dec 2026 00:00 CET to Mon 7 Dec 2026 00:00 CET, so far: until Sun 6 Dec 2026 12:00 CET (Europe/Berlin), all areas"), "{erin}");
        assert!(digests_to(&env, "erin@example.test").is_empty());
        // --period week compares with the same hours a week before.
        let weekly = preview("2026-12-07 09:00", &["--at", "2026-12-07", "--period", "week"]);
        assert!(weekly.contains("Compared with Fri 27 Nov 2026 08:00 CET to Mon 30 Nov 2026 08:00 CET (the same hours a week before)."), "{weekly}");
    }

    fn a_bounced_digest_holds_mail_to_its_manager_back(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), WEEKDAYS);
        at(&env, &t("2026-11-30 08:30"), &["schedule", "--once"]);
        let digest = digests_to(&env, "carol@example.test").pop().expect("the first digest");
        let o = ingest_at(&env, &t("2026-11-30 11:00"), &crate::hardening::dsn("dsn-d1@mx.example.test", "carol@example.test", &digest.message_id));
        assert_eq!(o["outcome"], "bounce", "{o}");
        assert!(o["ref"].is_null(), "a digest has no ticket: {o}");
        let reason = o["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("a digest to carol@example.test bounced: nothing is sent to carol@example.test until 2026-12-01 10:00 UTC"), "{reason}");
        assert_eq!(env.count("SELECT COUNT(*) FROM mail_suppressions WHERE address = 'carol@example.test'"), 1);
        assert_eq!(env.count("SELECT COUNT(*) FROM events WHERE ticket_id IS NULL AND kind = 'bounce'"), 1, "an event on the stored bounce");
        let suspended = env.run_ok(&["suspended", "list"]);
        assert!(suspended.contains("a digest to carol@example.test bounced"), "{suspended}");
        // Tuesday's digest waits while the address is held back, and is not
        // recorded: it is owed still.
        ingest_at(&env, &t("2026-11-30 12:00"), &mail("alice@a.test", "Help", "bd1@a.test", "", "x"));
        let out = at(&env, &t("2026-12-01 08:30"), &["schedule", "--once"]);
        assert!(out.contains("digests: 0 queued"), "{out}");
        assert!(out.contains("digest for carol@example.test held back: mail to this address bounced; nothing is sent there until 2026-12-01 10:00 UTC"), "{out}");
        assert_eq!(env.count("SELECT COUNT(*) FROM digests_sent"), 1);
        // --text preview says so on stderr.
        let o = env.command().args(["digest", "preview", "--manager", "carol@example.test", "--text"]).env("MAILROOM_NOW", t("2026-12-01 09:00")).output().expect("run");
        assert!(String::from_utf8_lossy(&o.stderr).contains("held back (mail to this address bounced"), "{}", String::from_utf8_lossy(&o.stderr));
        let o = env.command().args(["digest", "send", "--manager", "carol@example.test"]).env("MAILROOM_NOW", t("2026-12-01 09:00")).output().expect("run");
        assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not queued: mail to this address bounced"), "{}", String::from_utf8_lossy(&o.stderr));
        // A day after the bounce it goes out, once, whole.
        let out = at(&env, &t("2026-12-01 11:05"), &["schedule", "--once"]);
        assert!(out.contains("digests: 1 queued") && !out.contains("held back"), "{out}");
        assert!(at(&env, &t("2026-12-01 11:06"), &["schedule", "--once"]).contains("digests: 0 queued"));
        let sent = digests_to(&env, "carol@example.test");
        assert_eq!(sent.len(), 2);
        assert_eq!(first_line(&sent[1]), "Digest — Mon 30 Nov 2026 08:00 CET to Tue 1 Dec 2026 08:00 CET (Europe/Berlin), areas billing");
        assert_eq!(new_count(&sent[1].text), 1);
    }

    fn digests_count_against_the_rate_limit(b) {
        // bob owns every ticket (notifications) and gets a digest.
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\nnotification_limit_per_hour = 2"), r#"
[[manager]]
email = "bob@example.test"
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
"#);
        let ticket = |now: &str, id: &str| ingest_at(&env, &t(now), &mail(&format!("{id}@a.test"), "Help", &format!("{id}@a.test"), "", "x"));
        ticket("2026-12-01 07:30", "r1");
        ticket("2026-12-01 07:30", "r2");
        // 08:05: two notifications in the last hour, the limit: held back.
        let out = at(&env, &t("2026-12-01 08:05"), &["schedule", "--once"]);
        assert!(out.contains("digests: 0 queued"), "{out}");
        assert!(out.contains("digest for bob@example.test held back: 2 notifications and digests to this address in the last hour (limit 2, RFC 3834)"), "{out}");
        assert!(at(&env, &t("2026-12-01 08:20"), &["schedule", "--once"]).contains("held back"));
        assert_eq!(env.count("SELECT COUNT(*) FROM digests_sent"), 0);
        // An hour after them it goes out.
        assert!(at(&env, &t("2026-12-01 08:31"), &["schedule", "--once"]).contains("digests: 1 queued"));
        // The digest counts: one notification more fits, the next does not.
        ticket("2026-12-01 08:32", "r3");
        ticket("2026-12-01 08:33", "r4");
        let notes = |who: &str| env.count(&format!("SELECT COUNT(*) FROM outbox WHERE kind = 'notification' AND recipients = '{who}'"));
        assert_eq!(notes("bob@example.test"), 3);
        let ev = events_text(&env.ticket("MR-4"));
        assert!(ev.contains("no new notification: 2 notifications and digests to bob@example.test in the last hour (limit 2, RFC 3834)"), "{ev}");
        // Held back over the next scheduled time: Wednesday's digest waits,
        // and the next run that may send it covers Tuesday to Thursday, once.
        ticket("2026-12-02 07:40", "r5");
        ticket("2026-12-02 07:45", "r6");
        assert!(at(&env, &t("2026-12-02 08:05"), &["schedule", "--once"]).contains("held back"));
        let out = at(&env, &t("2026-12-03 09:00"), &["schedule", "--once"]);
        assert!(out.contains("digests: 1 queued"), "{out}");
        let sent = digests_to(&env, "bob@example.test");
        let lines: Vec<String> = sent.iter().map(first_line).collect();
        assert_eq!(lines, vec![
            "Digest — Mon 30 Nov 2026 08:00 CET to Tue 1 Dec 2026 08:00 CET (Europe/Berlin), all areas".to_string(),
            "Digest — Tue 1 Dec 2026 08:00 CET to Thu 3 Dec 2026 08:00 CET (Europe/Berlin), all areas".to_string(),
        ]);
        assert_eq!((new_count(&sent[0].text), new_count(&sent[1].text)), (2, 4));
    }
}
