//! A ticket's life while it waits for the customer (issue 22): `#pending 3d`
//! and `#pending until DATE` remind the owner once and reopen; the customer
//! answering ends the wait, an auto-reply does not; `[lifecycle]` warns and
//! closes a pending ticket nobody answered, counted from the last relayed
//! answer; a mail after the reopen window opens a new, linked ticket;
//! business hours count open days. Fixed clocks (MAILROOM_NOW), both
//! backends, through the real binary.

use mailroom::mail::ParsedMail;
use serde_json::Value;

use crate::both_backends;
use crate::relay::{Style, agent_reply, reply_body, sent_since};
use crate::support::*;
use crate::voices::TEAM;

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

    /// Amy's new mail at `now`; the notification to Bob.
    fn open(&mut self, now: &str, subject: &str, id: &str) -> (String, ParsedMail) {
        let o = ingest_at(
            &self.env,
            now,
            &mail("Amy <amy@customer.test>", subject, id, "", "Please help."),
        );
        assert_eq!(o["outcome"], "created", "{o}");
        let r = o["ref"].as_str().expect("ref").to_string();
        let sent = self.flush();
        let notif = sent
            .into_iter()
            .rev()
            .find(|(n, m)| {
                n.ends_with("-notification.eml") && m.subject.contains(&format!("[{r}]"))
            })
            .expect("notification")
            .1;
        (r, notif)
    }

    fn flush(&mut self) -> Vec<(String, ParsedMail)> {
        let new = sent_since(&self.env, self.seen);
        self.seen += new.len();
        new
    }

    /// Bob answers `notif` at `now` with `words` (commands on top).
    fn bob(&mut self, now: &str, notif: &ParsedMail, id: &str, words: &str) -> Value {
        let body = reply_body(words, notif, Style::Gmail);
        let o = ingest_at(
            &self.env,
            now,
            &agent_reply("bob@example.test", notif, id, &body, ""),
        );
        assert_eq!(o["outcome"], "agent_reply", "{o}");
        o
    }

    fn schedule(&self, now: &str) -> String {
        at(&self.env, now, &["schedule", "--once"])
    }
}

/// Amy's answer to `to` (a mail she got) at `now`, with `extra` headers.
fn amy_answers(env: &Env, now: &str, to: &ParsedMail, id: &str, extra: &str) -> Value {
    let raw = format!(
        "From: Amy <amy@customer.test>\r\nTo: support@example.test\r\nSubject: Re: {}\r\nMessage-ID: <{id}>\r\nIn-Reply-To: <{}>\r\nReferences: <{}>\r\nDate: Mon, 2 Nov 2026 12:00:00 +0000\r\n{extra}\r\nThanks, still broken.\r\n",
        to.subject, to.message_id, to.message_id
    );
    ingest_at(env, now, &raw)
}

/// The owner's reminders that the wait on `r` ended.
fn reminders_of<'a>(sent: &'a [(String, ParsedMail)], r: &str) -> Vec<&'a ParsedMail> {
    sent.iter()
        .map(|(_, m)| m)
        .filter(|m| m.text.contains(&format!("the wait on {r} ended")))
        .collect()
}

/// The mails to `who` in `sent`.
fn to_whom<'a>(sent: &'a [(String, ParsedMail)], who: &str) -> Vec<&'a ParsedMail> {
    sent.iter()
        .map(|(_, m)| m)
        .filter(|m| m.to.iter().any(|t| t.email == who))
        .collect()
}

both_backends! {
    /// `#pending 3d`: nothing before it ends; a dry run lists the reminder
    /// and changes nothing; then Bob is reminded once, the ticket reopens,
    /// and a second run (or two instances at once) does nothing more.
    fn a_pending_wait_reminds_the_owner_once_and_reopens(b) {
        let mut d = Desk::new(b, "");
        let (r, notif) = d.open("2026-11-02T10:00:00Z", "Printer", "p1@customer.test");
        d.bob("2026-11-02T10:05:00Z", &notif, "p1-bob@example.test", "#pending 3d\n\nPlease restart it and tell me.");
        let t = d.env.ticket(&r);
        assert_eq!(t["status"], "pending");
        assert_eq!(t["pending_until"], "2026-11-05T10:05:00Z");
        assert!(events_text(&t).contains("#pending 3d: pending until 2026-11-05 10:05 UTC"), "{t}");
        assert!(d.env.run_ok(&["tickets", "show", &r]).contains("pending until 2026-11-05 10:05 UTC"));
        d.flush();

        assert!(d.schedule("2026-11-05T10:00:00Z").contains("lifecycle: 0 action(s)"));
        let dry = at(&d.env, "2026-11-05T10:06:00Z", &["schedule", "--once", "--dry-run"]);
        assert!(dry.contains("lifecycle: MR-1: wait ended on 2026-11-05 10:05 UTC; reopened, owner reminded"), "{dry}");
        assert_eq!(d.env.ticket(&r)["status"], "pending", "a dry run changes nothing");
        assert!(d.flush().is_empty(), "a dry run sends nothing");

        let out = d.schedule("2026-11-05T10:06:00Z");
        assert!(out.contains("lifecycle: 1 action(s)"), "{out}");
        let t = d.env.ticket(&r);
        assert_eq!(t["status"], "open");
        assert!(t["pending_until"].is_null(), "{t}");
        assert!(events_text(&t).contains("the #pending wait ended on 2026-11-05 10:05 UTC without an answer from the customer's side: status pending -> open"), "{t}");
        let sent = d.flush();
        let reminders = reminders_of(&sent, "MR-1");
        assert_eq!(reminders.len(), 1, "one reminder: {:?}", sent.iter().map(|(n, _)| n).collect::<Vec<_>>());
        assert!(reminders[0].text.contains("Reminder: the wait on MR-1 ended on 2026-11-05 10:05 UTC"), "{}", reminders[0].text);
        assert!(reminders[0].to.iter().any(|t| t.email == "bob@example.test"));
        assert!(to_whom(&sent, "amy@customer.test").is_empty(), "the customer hears nothing");
        assert!(d.schedule("2026-11-05T10:07:00Z").contains("lifecycle: 0 action(s)"));

        // Two instances at once: one reminder.
        let (r2, notif2) = d.open("2026-11-06T09:00:00Z", "Scanner", "p2@customer.test");
        d.bob("2026-11-06T09:05:00Z", &notif2, "p2-bob@example.test", "#pending until 2026-11-10\n\nLet me know.");
        assert_eq!(d.env.ticket(&r2)["pending_until"], "2026-11-10T00:00:00Z");
        d.flush();
        let spawn = || d.env.command().args(["schedule", "--once"]).env("MAILROOM_NOW", "2026-11-10T00:01:00Z")
            .stdout(std::process::Stdio::null()).spawn().expect("spawn");
        let (mut x, mut y) = (spawn(), spawn());
        assert!(x.wait().expect("wait").success() && y.wait().expect("wait").success());
        assert_eq!(d.env.count("SELECT COUNT(*) FROM lifecycle_actions WHERE ticket_id = 2"), 1);
        assert_eq!(reminders_of(&d.flush(), "MR-2").len(), 1, "one reminder across instances");
        assert_eq!(d.env.ticket(&r2)["status"], "open");
    }

    /// Amy's answer ends the wait (nothing happens at its end); her
    /// out-of-office does not (the reminder comes).
    fn the_customer_answering_ends_the_wait_and_an_auto_reply_does_not(b) {
        let mut d = Desk::new(b, "");
        let (one, n1) = d.open("2026-11-02T10:00:00Z", "Router", "w1@customer.test");
        let (two, n2) = d.open("2026-11-02T10:01:00Z", "Modem", "w2@customer.test");
        d.bob("2026-11-02T10:05:00Z", &n1, "w1-bob@example.test", "#pending 2d\n\nTry the reset button.");
        d.bob("2026-11-02T10:06:00Z", &n2, "w2-bob@example.test", "#pending 2d\n\nTry the other cable.");
        let sent = d.flush();
        let relays: Vec<&ParsedMail> = to_whom(&sent, "amy@customer.test");
        let relay_one = relays.iter().find(|m| m.subject.contains("Router")).expect("relay one");
        let relay_two = relays.iter().find(|m| m.subject.contains("Modem")).expect("relay two");
        let o = amy_answers(&d.env, "2026-11-03T08:00:00Z", relay_one, "w1-ooo@customer.test", "Auto-Submitted: auto-replied\r\n");
        assert_eq!(o["outcome"], "autoreply", "{o}");
        let o = amy_answers(&d.env, "2026-11-03T08:00:00Z", relay_two, "w2-a@customer.test", "");
        assert_eq!(o["outcome"], "appended", "{o}");
        assert_eq!(d.env.ticket(&one)["status"], "pending", "an auto-reply changes nothing");
        let t2 = d.env.ticket(&two);
        assert_eq!(t2["status"], "open");
        assert!(t2["pending_until"].is_null(), "her answer ended the wait: {t2}");
        let out = d.schedule("2026-11-04T10:10:00Z");
        assert!(out.contains("lifecycle: 1 action(s)") && out.contains("lifecycle: MR-1: wait ended"), "{out}");
        assert_eq!(d.env.ticket(&one)["status"], "open");
    }

    /// `[lifecycle]`: seven days after the last answer, with a warning two
    /// days before. The warning reaches Amy once, threaded in her
    /// conversation; system mail in between moves nothing; then the ticket
    /// is resolved. Where Amy answers after the warning, nothing closes.
    fn an_unanswered_pending_ticket_is_warned_then_closed(b) {
        let mut d = Desk::new(b, "[lifecycle]\nautoclose_pending_after = \"7d\"\nautoclose_warning = \"2d\"\n");
        let (one, n1) = d.open("2026-11-02T10:00:00Z", "Invoice", "a1@customer.test");
        let (two, n2) = d.open("2026-11-02T10:01:00Z", "Receipt", "a2@customer.test");
        d.bob("2026-11-02T10:05:00Z", &n1, "a1-bob@example.test", "Here is the corrected invoice.");
        d.bob("2026-11-02T10:05:00Z", &n2, "a2-bob@example.test", "Here is the receipt.");
        assert_eq!(d.env.ticket(&one)["answered_at"], "2026-11-02T10:05:00Z");
        let sent = d.flush();
        // An out-of-office on day 3: the clock keeps counting from the answer.
        let relay_one = to_whom(&sent, "amy@customer.test").into_iter().find(|m| m.subject.contains("Invoice")).expect("relay").clone();
        amy_answers(&d.env, "2026-11-05T08:00:00Z", &relay_one, "a1-ooo@customer.test", "Auto-Submitted: auto-replied\r\n");

        assert!(d.schedule("2026-11-07T10:00:00Z").contains("lifecycle: 0 action(s)"));
        let out = d.schedule("2026-11-07T10:06:00Z");
        assert!(out.contains("lifecycle: MR-1: customer warned; closes 2026-11-09 10:05 UTC"), "{out}");
        let sent = d.flush();
        let warnings = to_whom(&sent, "amy@customer.test");
        assert_eq!(warnings.len(), 2, "one per ticket");
        let w = warnings.iter().find(|m| m.subject.contains("[MR-1]")).expect("warning on MR-1");
        assert!(w.text.contains("we will close it on Monday, 9 November 2026"), "{}", w.text);
        assert_eq!(w.in_reply_to, ["a1@customer.test"], "threaded under her latest mail (not her out-of-office)");
        assert!(d.schedule("2026-11-08T10:00:00Z").contains("lifecycle: 0 action(s)"), "warned once");

        // Amy answers MR-2's warning: it waits for support now.
        let w2 = warnings.iter().find(|m| m.subject.contains("[MR-2]")).expect("warning on MR-2");
        assert_eq!(amy_answers(&d.env, "2026-11-08T11:00:00Z", w2, "a2-b@customer.test", "")["ref"], two.as_str());

        let out = d.schedule("2026-11-09T10:06:00Z");
        assert!(out.contains("lifecycle: 1 action(s)") && out.contains("MR-1: closed (no answer since 2026-11-02 10:05 UTC)"), "{out}");
        let t = d.env.ticket(&one);
        assert_eq!(t["status"], "resolved");
        assert!(events_text(&t).contains("closed automatically: no answer from the customer's side since the answer of 2026-11-02 10:05 UTC"), "{t}");
        assert_eq!(d.env.ticket(&two)["status"], "open");
        assert!(d.schedule("2026-11-20T10:00:00Z").contains("lifecycle: 0 action(s)"));
    }

    /// `reopen_window = "30d"`: Amy's answer 18 days after the close
    /// reopens the ticket; one 40 days after the next close opens a new
    /// ticket that names the old one, and the old one says where it went.
    fn a_late_mail_opens_a_new_ticket_linked_to_the_old(b) {
        let mut d = Desk::new(b, "[lifecycle]\nreopen_window = \"30d\"\n");
        let (one, n1) = d.open("2026-09-01T10:00:00Z", "Login", "l1@customer.test");
        d.bob("2026-09-01T10:05:00Z", &n1, "l1-bob@example.test", "#close\n\nFixed on our side.");
        let relay = to_whom(&d.flush(), "amy@customer.test").into_iter().next().expect("relay").clone();
        let o = amy_answers(&d.env, "2026-09-19T10:00:00Z", &relay, "l2@customer.test", "");
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some(one.as_str())), "{o}");
        assert_eq!(d.env.ticket(&one)["status"], "open");
        let sent = d.flush();
        let n2 = sent.iter().rev().find(|(n, _)| n.ends_with("-notification.eml")).expect("notification").1.clone();
        d.bob("2026-09-19T11:00:00Z", &n2, "l2-bob@example.test", "#close\n\nFixed again.");
        let o = amy_answers(&d.env, "2026-10-29T10:00:00Z", &relay, "l3@customer.test", "");
        assert_eq!(o["outcome"], "created", "{o}");
        let new_ref = o["ref"].as_str().expect("ref").to_string();
        let fresh = d.env.ticket(&new_ref);
        assert_eq!(fresh["linked"]["continues"], one.as_str());
        assert!(events_text(&fresh).contains("MR-1 was resolved on 2026-09-19 11:00 UTC, longer ago than [lifecycle] reopen_window: a new ticket, linked to it"), "{fresh}");
        let old = d.env.ticket(&one);
        assert_eq!(old["status"], "resolved");
        assert_eq!(old["linked"]["continued_by"], serde_json::json!([new_ref]));
        assert!(events_text(&old).contains(&format!("wrote after the reopen window: continued as {new_ref}")), "{old}");
        assert!(d.env.run_ok(&["tickets", "show", &new_ref]).contains("continues MR-1"));
    }

    /// `count = "business"`: whole days are open days of the area's calendar.
    /// `#pending 1d` on Friday afternoon ends on Monday afternoon.
    fn business_hours_count_open_days(b) {
        let extra = "[lifecycle]\ncount = \"business\"\n\n[[calendar]]\nname = \"office\"\ntime_zone = \"Europe/Berlin\"\nhours = \"09:00-17:00\"\n\n[[area]]\nname = \"billing\"\nstrategy = \"fixed\"\ncalendar = \"office\"\n";
        let mut d = Desk::new(b, extra);
        let (r, notif) = d.open("2026-11-06T14:00:00Z", "Refund", "b1@customer.test");
        // Friday 16:00 in Berlin.
        d.bob("2026-11-06T15:00:00Z", &notif, "b1-bob@example.test", "#pending 1d\n\nWe are checking.");
        assert_eq!(d.env.ticket(&r)["pending_until"], "2026-11-09T15:00:00Z");
        assert!(d.schedule("2026-11-08T15:00:00Z").contains("lifecycle: 0 action(s)"), "not on Sunday");
        assert!(d.schedule("2026-11-09T15:01:00Z").contains("lifecycle: 1 action(s)"));
    }
}
