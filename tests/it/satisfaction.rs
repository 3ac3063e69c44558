//! Satisfaction by reply (issue 22, item 5): with `[lifecycle] satisfaction
//! = true` a resolution (`#close`, the auto-close) asks the customer once to
//! reply with 1–5 and a comment; a number on the first line of an answer to
//! that question is recorded on the ticket without reopening it and the
//! owner is told; anything else answering it is a follow-up; a stranger the
//! question was forwarded to cannot rate; digests and `stats` count the
//! ratings. Fixed clocks (MAILROOM_NOW), both backends, the real binary.

use mailroom::mail::ParsedMail;
use serde_json::{Value, json};

use crate::both_backends;
use crate::relay::{Style, agent_reply, reply_body, sent_since};
use crate::support::*;
use crate::voices::TEAM;

const ASK: &str = "[lifecycle]\nsatisfaction = true\n";
const CAROL: &str =
    "\n[[manager]]\nemail = \"carol@example.test\"\nareas = [\"*\"]\ntime_zone = \"UTC\"\n";

/// A desk on a fixed clock; every outbox file read so far.
struct Desk {
    env: Env,
    seen: usize,
}

impl Desk {
    fn new(b: Backend, extra: &str) -> Desk {
        Desk {
            env: Env::with_config(b, TEAM, extra),
            seen: 0,
        }
    }

    /// Amy's new mail at `now` (`extra` headers); the notification to Bob.
    fn open(&mut self, now: &str, subject: &str, id: &str, extra: &str) -> (String, ParsedMail) {
        let raw = mail(
            "Amy <amy@customer.test>",
            subject,
            id,
            extra,
            "Please help.",
        );
        let o = ingest_at(&self.env, now, &raw);
        assert_eq!(o["outcome"], "created", "{o}");
        let r = o["ref"].as_str().expect("ref").to_string();
        let notif = self.notification(&r);
        (r, notif)
    }

    /// The latest notification on `r` among the mail sent since the last look.
    fn notification(&mut self, r: &str) -> ParsedMail {
        let sent = self.flush();
        sent.into_iter()
            .rev()
            .find(|(n, m)| {
                n.ends_with("-notification.eml") && m.subject.contains(&format!("[{r}]"))
            })
            .expect("notification")
            .1
    }

    fn flush(&mut self) -> Vec<(String, ParsedMail)> {
        let new = sent_since(&self.env, self.seen);
        self.seen += new.len();
        new
    }

    /// Bob answers `notif` at `now` with `words` (commands on top).
    fn bob(&mut self, now: &str, notif: &ParsedMail, id: &str, words: &str) {
        let body = reply_body(words, notif, Style::Gmail);
        let o = ingest_at(
            &self.env,
            now,
            &agent_reply("bob@example.test", notif, id, &body, ""),
        );
        assert_eq!(o["outcome"], "agent_reply", "{o}");
    }

    /// Bob closes `r` (answering `notif`) at `now`; the question Amy gets.
    fn close(&mut self, now: &str, notif: &ParsedMail, id: &str) -> ParsedMail {
        self.bob(now, notif, id, "#close\n\nFixed on our side.");
        let sent = self.flush();
        let questions = of_kind(&sent, "survey");
        assert_eq!(questions.len(), 1, "one question: {:?}", names(&sent));
        questions[0].clone()
    }
}

fn names(sent: &[(String, ParsedMail)]) -> Vec<&str> {
    sent.iter().map(|(n, _)| n.as_str()).collect()
}

fn of_kind<'a>(sent: &'a [(String, ParsedMail)], kind: &str) -> Vec<&'a ParsedMail> {
    sent.iter()
        .filter(|(n, _)| n.ends_with(&format!("-{kind}.eml")))
        .map(|(_, m)| m)
        .collect()
}

/// `from` answers `to` (a mail from support) at `now` with `words` above a
/// quote of it, as a mail client does.
fn answer(env: &Env, now: &str, from: &str, to: &ParsedMail, id: &str, words: &str) -> Value {
    let quoted: String = to.text.lines().map(|l| format!("> {l}\r\n")).collect();
    let raw = format!(
        "From: {from}\r\nTo: support@example.test\r\nSubject: Re: {}\r\nMessage-ID: <{id}>\r\nIn-Reply-To: <{}>\r\nReferences: <{}>\r\nDate: Mon, 2 Nov 2026 12:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{words}\r\n\r\nOn Mon, 2 Nov 2026 at 10:05, Example Support <support@example.test> wrote:\r\n{quoted}",
        to.subject, to.message_id, to.message_id
    );
    ingest_at(env, now, &raw)
}

both_backends! {
    /// `#close` asks Amy once, threaded in her conversation; her "4 - quick
    /// and kind" is recorded without reopening and Bob is told; closing a
    /// resolved ticket again asks nothing; a later rating replaces the first.
    fn a_rating_is_recorded_without_reopening(b) {
        let mut d = Desk::new(b, ASK);
        let (r, notif) = d.open("2026-11-02T10:00:00Z", "Invoice wrong", "i1@customer.test", "");
        let q = d.close("2026-11-02T10:05:00Z", &notif, "i1-bob@example.test");
        assert_eq!(q.subject, "Re: Invoice wrong [MR-1]");
        assert_eq!(q.to[0].email, "amy@customer.test");
        assert_eq!(q.in_reply_to, ["i1@customer.test"], "threaded under her mail");
        let words = q.text.replace("\r\n", " ").replace('\n', " ");
        assert!(words.contains("How did we do? Reply with a number from 1 (poor) to 5 (great) on the first line"), "{}", q.text);
        assert!(q.auto.auto_submitted.is_some(), "automatic mail says so");
        let t = d.env.ticket(&r);
        assert_eq!(t["status"], "resolved");
        assert!(t["satisfaction"].is_null(), "{t}");
        let ev = events_text(&t);
        assert!(ev.contains("satisfaction: resolved (by bob@example.test's answer) and [lifecycle] satisfaction is on"), "{ev}");
        assert!(ev.contains(&format!("satisfaction: satisfaction question queued to amy@customer.test as <{}>", q.message_id)), "{ev}");

        let o = answer(&d.env, "2026-11-02T12:00:00Z", "Amy <amy@customer.test>", &q, "i2@customer.test", "4 - quick and kind");
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-1")), "{o}");
        assert_eq!(o["reason"], "satisfaction 4/5 recorded");
        let t = d.env.ticket(&r);
        assert_eq!(t["status"], "resolved", "a rating reopens nothing");
        assert_eq!(t["satisfaction"], json!({"score": 4, "comment": "quick and kind", "at": "2026-11-02T12:00:00Z"}));
        let last = messages(&t).iter().rev().find(|m| m["direction"] == "in").expect("her mail").clone();
        assert_eq!((last["kind"].as_str(), last["role"].as_str()), (Some("customer"), Some("customer")), "{last}");
        let ev = events_text(&t);
        assert!(ev.contains("satisfaction: satisfaction 4/5 from amy@customer.test (customer): \"quick and kind\"; status stays resolved, nothing reopens, no SLA clock moves"), "{ev}");
        let sent = d.flush();
        let told = of_kind(&sent, "notification");
        assert_eq!(told.len(), 1, "{:?}", names(&sent));
        assert_eq!(told[0].to[0].email, "bob@example.test");
        assert!(told[0].text.contains("Amy rated MR-1 4/5, answering the satisfaction question. The ticket stays resolved"), "{}", told[0].text);
        assert!(told[0].text.contains("quick and kind"));
        assert_eq!(sent.len(), 1, "nothing to Amy: {:?}", names(&sent));
        let shown = d.env.run_ok(&["tickets", "show", &r]);
        assert!(shown.contains("satisfaction 4/5 (2026-11-02 12:00 UTC): quick and kind"), "{shown}");

        // Bob answers the rating's notification with #close: resolved
        // already, so nobody is asked again.
        d.bob("2026-11-02T12:30:00Z", told[0], "i3-bob@example.test", "#close\n\nThank you!");
        assert!(of_kind(&d.flush(), "survey").is_empty(), "once per resolution");
        // A second rating replaces the first.
        let o = answer(&d.env, "2026-11-02T13:00:00Z", "amy@customer.test", &q, "i4@customer.test", "5/5\nOn second thought: great.");
        assert_eq!(o["reason"], "satisfaction 5/5 recorded");
        let t = d.env.ticket(&r);
        assert_eq!(t["satisfaction"]["score"], 5);
        assert_eq!(t["satisfaction"]["comment"], "On second thought: great.");
        assert!(events_text(&t).contains("replaces the earlier 4/5 of 2026-11-02 12:00 UTC"), "{t}");
    }

    /// Anything else answering the question is a follow-up and reopens —
    /// words, "10", "4.5" — and each new resolution asks again; "5" as a new
    /// mail is a new ticket, "5" answering the relay a follow-up.
    fn other_answers_are_follow_ups(b) {
        let mut d = Desk::new(b, ASK);
        let (r, mut notif) = d.open("2026-11-02T10:00:00Z", "Login", "l1@customer.test", "");
        for (i, words) in ["Still broken, sorry.", "10", "4.5 stars"].iter().enumerate() {
            let q = d.close(&format!("2026-11-0{}T10:05:00Z", i + 2), &notif, &format!("l{i}-bob@example.test"));
            let o = answer(&d.env, &format!("2026-11-0{}T11:00:00Z", i + 2), "amy@customer.test", &q, &format!("l{i}-amy@customer.test"), words);
            assert_eq!(o["outcome"], "appended", "{words}: {o}");
            let t = d.env.ticket(&r);
            assert_eq!(t["status"], "open", "{words:?} reopens");
            assert!(t["satisfaction"].is_null(), "{words:?}: {t}");
            assert!(events_text(&t).contains("amy@customer.test answered the satisfaction question of MR-1 without a score from 1 to 5 on the first line: handled as a follow-up"), "{t}");
            notif = d.notification(&r);
            assert!(notif.text.contains("(ticket reopened)"), "{}", notif.text);
        }
        // "5" answering the relay, not the question: a follow-up.
        d.bob("2026-11-06T10:05:00Z", &notif, "l9-bob@example.test", "#close\n\nNow it works.");
        let sent = d.flush();
        let relay = of_kind(&sent, "relay")[0].clone();
        answer(&d.env, "2026-11-06T11:00:00Z", "amy@customer.test", &relay, "l10@customer.test", "5");
        let t = d.env.ticket(&r);
        assert_eq!(t["status"], "open");
        assert!(t["satisfaction"].is_null(), "{t}");
        // "5" as a mail of its own: a new ticket.
        let o = ingest_at(&d.env, "2026-11-06T12:00:00Z", &mail("amy@customer.test", "5", "l11@customer.test", "", "5"));
        assert_eq!(o["outcome"], "created", "{o}");
        assert!(d.env.ticket(o["ref"].as_str().expect("ref"))["satisfaction"].is_null());
    }

    /// Mallory, to whom Amy forwarded the question, cannot rate: her "1" is
    /// handled as anyone's mail on the conversation, and the event says why
    /// it is no rating. Dan, whom Amy Cc'd, is on her side and may.
    fn a_stranger_cannot_rate(b) {
        let mut d = Desk::new(b, ASK);
        let (r, notif) = d.open("2026-11-02T10:00:00Z", "Refund", "r1@customer.test", "Cc: Dan <dan@customer.test>\r\n");
        let q = d.close("2026-11-02T10:05:00Z", &notif, "r1-bob@example.test");
        let o = answer(&d.env, "2026-11-02T11:00:00Z", "Mallory <mallory@elsewhere.test>", &q, "r2@elsewhere.test", "1 - terrible");
        assert_eq!(o["ref"], r.as_str(), "{o}");
        let t = d.env.ticket(&r);
        assert!(t["satisfaction"].is_null(), "no score from a stranger: {t}");
        assert!(events_text(&t).contains("mallory@elsewhere.test answered the satisfaction question of MR-1 but is neither its customer nor a participant: not taken as a rating (only the customer's side rates)"), "{t}");
        assert_eq!(d.env.count("SELECT COUNT(*) FROM tickets WHERE satisfaction_score IS NOT NULL"), 0);

        let notif = d.notification(&r);
        let q = d.close("2026-11-02T12:05:00Z", &notif, "r3-bob@example.test");
        let o = answer(&d.env, "2026-11-02T13:00:00Z", "Dan <dan@customer.test>", &q, "r4@customer.test", "5: thanks from Dan");
        assert_eq!(o["reason"], "satisfaction 5/5 recorded", "{o}");
        let t = d.env.ticket(&r);
        assert_eq!(t["satisfaction"]["comment"], "thanks from Dan");
        assert!(events_text(&t).contains("satisfaction 5/5 from dan@customer.test (participant)"), "{t}");
        let told = of_kind(&d.flush(), "notification")[0].clone();
        assert!(told.text.contains("dan@customer.test (on the customer's side) rated MR-1 5/5"), "{}", told.text);
    }

    /// The auto-close asks too (the scan's line says so); `inspect` tells a
    /// rating apart before it is stored.
    fn the_auto_close_asks_too(b) {
        let mut d = Desk::new(b, "[lifecycle]\nautoclose_pending_after = \"7d\"\nsatisfaction = true\n");
        let (r, notif) = d.open("2026-11-02T10:00:00Z", "Printer", "p1@customer.test", "");
        d.bob("2026-11-02T10:05:00Z", &notif, "p1-bob@example.test", "Please restart it.");
        assert!(of_kind(&d.flush(), "survey").is_empty(), "pending is not resolved");
        let out = at(&d.env, "2026-11-09T10:06:00Z", &["schedule", "--once"]);
        assert!(out.contains("MR-1: closed (no answer since 2026-11-02 10:05 UTC); satisfaction question queued"), "{out}");
        let sent = d.flush();
        let q = of_kind(&sent, "survey");
        assert_eq!(q.len(), 1, "{:?}", names(&sent));
        assert!(events_text(&d.env.ticket(&r)).contains("resolved (closed automatically) and [lifecycle] satisfaction is on"));
        let o = answer(&d.env, "2026-11-09T12:00:00Z", "amy@customer.test", q[0], "p2@customer.test", "3");
        assert_eq!(o["reason"], "satisfaction 3/5 recorded", "{o}");
        let t = d.env.ticket(&r);
        assert_eq!((t["status"].as_str(), t["satisfaction"]["score"].as_u64()), (Some("resolved"), Some(3)));
        assert_eq!(t["satisfaction"]["comment"], "");
        assert!(at(&d.env, "2026-11-20T10:00:00Z", &["schedule", "--once"]).contains("lifecycle: 0 action(s)"));
    }

    /// `satisfaction = false` (the default): nothing is asked, nothing is a rating.
    fn without_the_key_nothing_is_asked(b) {
        let mut d = Desk::new(b, "");
        let (r, notif) = d.open("2026-11-02T10:00:00Z", "Modem", "m1@customer.test", "");
        d.bob("2026-11-02T10:05:00Z", &notif, "m1-bob@example.test", "#close\n\nDone.");
        let sent = d.flush();
        assert!(of_kind(&sent, "survey").is_empty(), "{:?}", names(&sent));
        let t = d.env.ticket(&r);
        assert!(!events_text(&t).contains("satisfaction"), "{t}");
        let relay = of_kind(&sent, "relay")[0].clone();
        answer(&d.env, "2026-11-02T11:00:00Z", "amy@customer.test", &relay, "m2@customer.test", "5");
        let t = d.env.ticket(&r);
        assert_eq!(t["status"], "open");
        assert!(t["satisfaction"].is_null());
    }

    /// Digests and `stats` show the ratings of the window: the distribution,
    /// the average, per owner and area, the comments (escaped in HTML); a
    /// merged ticket's rating counts nowhere.
    fn digests_and_stats_show_the_ratings(b) {
        let mut d = Desk::new(b, &format!("{ASK}{CAROL}"));
        let mut questions = Vec::new();
        for (i, subject) in ["Alpha", "Beta", "Gamma"].iter().enumerate() {
            let (_, notif) = d.open(&format!("2026-11-02T0{}:00:00Z", i + 1), subject, &format!("d{i}@customer.test"), "");
            questions.push(d.close(&format!("2026-11-02T0{}:30:00Z", i + 1), &notif, &format!("d{i}-bob@example.test")));
        }
        for (i, words) in ["5 - Great <b>help</b> & fast", "2\nToo slow.", "1"].iter().enumerate() {
            let o = answer(&d.env, &format!("2026-11-02T1{i}:00:00Z"), "amy@customer.test", &questions[i], &format!("d{i}-r@customer.test"), words);
            assert!(o["reason"].as_str().is_some_and(|r| r.starts_with("satisfaction")), "{o}");
        }
        at(&d.env, "2026-11-02T14:00:00Z", &["tickets", "merge", "MR-3", "--into", "MR-1"]);

        let stats: Value = serde_json::from_str(&at(&d.env, "2026-11-03T00:00:00Z", &["stats", "--since", "1d", "--json"])).expect("json");
        let s = &stats["satisfaction"];
        assert_eq!(s["count"], 2, "the merged MR-3 counts nowhere: {s}");
        assert_eq!(s["distribution"], json!([0, 1, 0, 0, 1]));
        assert_eq!(s["average"], 3.5);
        assert_eq!(s["per_owner"], json!([{"name": "bob@example.test", "count": 2, "distribution": [0, 1, 0, 0, 1], "average": 3.5}]));
        assert_eq!(s["per_area"][0]["name"], "billing");
        let comments: Vec<(&str, u64)> = s["comments"].as_array().expect("comments").iter()
            .map(|c| (c["comment"].as_str().unwrap_or(""), c["score"].as_u64().unwrap_or(0))).collect();
        assert_eq!(comments, [("Too slow.", 2), ("Great <b>help</b> & fast", 5)], "newest first");

        let text = at(&d.env, "2026-11-03T09:00:00Z", &["digest", "preview", "--manager", "carol@example.test", "--text", "--at", "2026-11-03"]);
        for line in [
            "Satisfaction: 2 ratings, average 3.50 of 5",
            "  5      1",
            "  2      1",
            "  bob@example.test                         2    3.50    0   1   0   0   1",
            "  billing                                  2    3.50    0   1   0   0   1",
            "  MR-2  2/5  bob@example.test, billing, Mon 2 Nov 11:00",
            "      Too slow.",
            "      Great <b>help</b> & fast",
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
        let html = at(&d.env, "2026-11-03T09:00:00Z", &["digest", "preview", "--manager", "carol@example.test", "--at", "2026-11-03"]);
        assert!(html.contains("Great &lt;b&gt;help&lt;&#x2f;b&gt; &amp; fast") || html.contains("Great &lt;b&gt;help&lt;/b&gt; &amp; fast"), "escaped: {html}");
        assert!(!html.contains("<b>help</b>"), "{html}");
        let human = at(&d.env, "2026-11-03T00:00:00Z", &["stats", "--since", "1d"]);
        assert!(human.contains("Satisfaction: 2 ratings, average 3.50 of 5"), "{human}");
    }
}
