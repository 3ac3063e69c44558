//! Relay results against the in-process `ScriptedSmtp` (fakesmtp.rs): what
//! a real server will not do on demand (a data failure for now, a reply
//! with control characters in it, no SMTPUTF8), with every transaction's
//! envelope recorded. The Postfix versions are in relay_refused.rs.

use crate::both_backends;
use crate::fakesmtp::ScriptedSmtp;
use crate::imap::SMTP_BASE;
use crate::relay::{Style, agent_reply, reply_body};
use crate::relay_refused::{relay_rows, relay_transactions, sorted};
use crate::support::*;

/// A customer (`from`, with `extra` headers) writes, the notification goes
/// out through `smtp`, and Sally answers it; the answer is queued, not sent.
fn answered(b: Backend, smtp: &ScriptedSmtp, from: &str, extra: &str) -> Env {
    let env = Env::with_config(b, SMTP_BASE, "");
    env.set_outbound(&format!("[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nretry_first = \"1s\"\n", smtp.port));
    env.ingest(&mail(from, "Question", "sx-1@customer.test", extra, "help"));
    env.run_ok(&["outbox", "flush"]);
    let notif = smtp
        .mails()
        .into_iter()
        .find(|m| m.1.subject.starts_with("[MR-1]"))
        .expect("the notification")
        .1;
    let answer = agent_reply(
        "sales@example.test",
        &notif,
        "sx-a1@example.test",
        &reply_body("Try this.", &notif, Style::Gmail),
        "",
    );
    assert_eq!(env.ingest(&answer)["outcome"], "agent_reply");
    env
}

both_backends! {
    fn refused_data_reaches_nobody_and_is_not_retried(b) {
        // This server refuses the data of mail to a `reject-data-` recipient
        // (Postfix does too, relay_refused.rs) and records every
        // transaction's envelope.
        let smtp = ScriptedSmtp::start();
        let env = Env::with_config(b, SMTP_BASE, "");
        env.set_outbound(&format!("[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nretry_first = \"1s\"\n", smtp.port));
        env.ingest(&mail("reject-data-ann@customer.test", "Broken", "sd-1@customer.test", "Cc: later-lee@customer.test, bo@customer.test\r\n", "help"));
        env.run_ok(&["outbox", "flush"]);
        let notif = smtp.mails().into_iter().find(|m| m.1.subject.starts_with("[MR-1]")).expect("the notification").1;
        let answer = agent_reply("sales@example.test", &notif, "sd-a1@example.test", &reply_body("We are on it.", &notif, Style::Gmail), "");
        assert_eq!(env.ingest(&answer)["outcome"], "agent_reply");
        env.run_ok(&["outbox", "flush"]);
        // Ann's address makes the server refuse the data: nobody got it,
        // although Ann and Bo were taken at RCPT; Lee was refused for now.
        let t = env.ticket("MR-1");
        let ev = events_text(&t);
        assert!(ev.contains("reached nobody: "), "{ev}");
        assert!(ev.contains("reject-data-ann@customer.test: 554 5.6.0 content refused"), "{ev}");
        assert!(ev.contains("bo@customer.test: 554 5.6.0 content refused"), "{ev}");
        assert!(ev.contains("later-lee@customer.test: 450 4.2.0 try again later (temporary; not tried again after 1 attempt(s))"), "{ev}");
        assert_eq!(t["status"], "open");
        assert!(t["first_response_at"].is_null());
        let row = &relay_rows(&env)[0];
        assert_eq!(row["status"], "failed");
        assert_eq!(row["delivered_to"], "");
        // The explanation went out in the same flush (to the server, which takes it).
        let to_agent: Vec<_> = smtp.mails().into_iter().filter(|(rcpts, m)| rcpts == &["sales@example.test"] && m.subject.contains("Your answer reached nobody")).collect();
        assert_eq!(to_agent.len(), 1);
        assert!(to_agent[0].1.text.contains("554 5.6.0 content refused"), "{}", to_agent[0].1.text);
        // Past the retry delay, another flush: still nothing to try again.
        std::thread::sleep(std::time::Duration::from_millis(1200));
        env.run_ok(&["outbox", "flush"]);
        let tries = relay_transactions(&smtp);
        assert_eq!(tries.len(), 1, "a permanent refusal is not retried: {tries:?}");
        assert_eq!(relay_rows(&env)[0]["attempts"], 1);
        assert_eq!(sorted(&tries[0].rcpts), ["bo@customer.test", "later-lee@customer.test", "reject-data-ann@customer.test"]);
        assert_eq!(sorted(&tries[0].accepted), ["bo@customer.test", "reject-data-ann@customer.test"]);
        assert!(!tries[0].delivered);
    }

    /// A 450 at RCPT: the retry asks only the recipient still waiting.
    fn a_temporary_refusal_is_retried_to_the_waiting_only(b) {
        let smtp = ScriptedSmtp::start();
        let env = Env::with_config(b, SMTP_BASE, "");
        env.set_outbound(&format!("[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nretry_first = \"1s\"\n", smtp.port));
        env.ingest(&mail("amy@customer.test", "Slow", "sd-2@customer.test", "Cc: refused-rex@customer.test, later-liz@customer.test\r\n", "help"));
        env.run_ok(&["outbox", "flush"]);
        let notif = smtp.mails().into_iter().find(|m| m.1.subject.starts_with("[MR-1]")).expect("the notification").1;
        let answer = agent_reply("sales@example.test", &notif, "sd-a2@example.test", &reply_body("Fixed.", &notif, Style::Gmail), "");
        assert_eq!(env.ingest(&answer)["outcome"], "agent_reply");
        env.run_ok(&["outbox", "flush"]);
        // Amy has it, Rex never will, Liz is waiting.
        let row = &relay_rows(&env)[0];
        assert_eq!(row["status"], "queued");
        assert_eq!(row["delivered_to"], "amy@customer.test");
        assert!(env.ticket("MR-1")["first_response_at"].is_string(), "Amy's delivery is the first response");
        smtp.take_later();
        std::thread::sleep(std::time::Duration::from_millis(1200));
        env.run_ok(&["outbox", "flush"]);
        let row = &relay_rows(&env)[0];
        assert_eq!(row["status"], "sent", "{row}");
        assert_eq!(row["delivered_to"], "amy@customer.test, later-liz@customer.test");
        assert_eq!(row["refused"][0]["address"], "refused-rex@customer.test");
        let tries = relay_transactions(&smtp);
        let asked: Vec<Vec<String>> = tries.iter().map(|t| sorted(&t.rcpts)).collect();
        assert_eq!(
            asked,
            [sorted(&["amy@customer.test".into(), "later-liz@customer.test".into(), "refused-rex@customer.test".into()]), vec!["later-liz@customer.test".to_string()]],
            "the retry asks only for Liz"
        );
        let got: Vec<&[String]> = tries.iter().filter(|t| t.delivered).map(|t| t.accepted.as_slice()).collect();
        assert_eq!(got, [&["amy@customer.test".to_string()][..], &["later-liz@customer.test".to_string()][..]], "each got it once");
        let ev = events_text(&env.ticket("MR-1"));
        assert!(ev.contains("reached amy@customer.test, later-liz@customer.test, but not refused-rex@customer.test: 550 5.1.1 <refused-rex@customer.test>: mailbox unavailable"), "{ev}");
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'system'"), 1, "one explanation");
    }

    /// A 451 after the final dot: nobody got the mail in that attempt; the
    /// retry asks those still waiting, never the one refused for good.
    fn a_data_failure_for_now_is_retried_to_the_waiting_only(b) {
        let smtp = ScriptedSmtp::start();
        let env = answered(b, &smtp, "defer-data-dan@customer.test", "Cc: refused-rex@customer.test, bo@customer.test\r\n");
        env.run_ok(&["outbox", "flush"]);
        let row = &relay_rows(&env)[0];
        assert_eq!(row["status"], "queued", "{row}");
        assert_eq!(row["delivered_to"], "");
        assert_eq!(row["refused"].as_array().map(Vec::len), Some(1), "{row}");
        assert_eq!(row["refused"][0]["address"], "refused-rex@customer.test");
        assert_eq!(row["refused"][0]["code"], 550);
        assert!(env.ticket("MR-1")["first_response_at"].is_null(), "nobody has it yet");
        let tries = relay_transactions(&smtp);
        assert_eq!(tries.len(), 1, "{tries:?}");
        assert!(tries[0].data.is_some() && !tries[0].delivered, "the data was sent and deferred: {tries:?}");

        smtp.take_later();
        std::thread::sleep(std::time::Duration::from_millis(1200));
        env.run_ok(&["outbox", "flush"]);
        let row = &relay_rows(&env)[0];
        assert_eq!(row["status"], "sent", "{row}");
        assert_eq!(sorted(&envelope(&row["delivered_to"])), ["bo@customer.test", "defer-data-dan@customer.test"]);
        assert_eq!(row["refused"].as_array().map(Vec::len), Some(1), "{row}");
        let tries = relay_transactions(&smtp);
        assert_eq!(tries.len(), 2, "{tries:?}");
        assert_eq!(sorted(&tries[0].rcpts), ["bo@customer.test", "defer-data-dan@customer.test", "refused-rex@customer.test"]);
        assert_eq!(sorted(&tries[1].rcpts), ["bo@customer.test", "defer-data-dan@customer.test"], "Rex is not asked again");
        assert!(tries[1].delivered);
        let t = env.ticket("MR-1");
        assert!(t["first_response_at"].is_string(), "{t}");
        let ev = events_text(&t);
        assert!(ev.contains("but not refused-rex@customer.test: 550 5.1.1 <refused-rex@customer.test>: mailbox unavailable"), "{ev}");
        assert!(!ev.contains("queue full"), "a deferral that was overcome is nobody's news: {ev}");
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'system'"), 1, "one explanation");
    }

    /// Without SMTPUTF8 a non-ASCII recipient cannot be asked for: refused
    /// alone, for good, and the others get the mail.
    fn a_non_ascii_recipient_is_refused_alone_without_smtputf8(b) {
        let smtp = ScriptedSmtp::start();
        let env = answered(b, &smtp, "amy@customer.test", "Cc: j\u{f6}rg@customer.test\r\n");
        env.run_ok(&["outbox", "flush"]);
        let row = &relay_rows(&env)[0];
        assert_eq!(row["status"], "sent", "{row}");
        assert_eq!(row["delivered_to"], "amy@customer.test");
        assert_eq!(row["refused"], serde_json::json!([{
            "address": "j\u{f6}rg@customer.test",
            "code": null,
            "text": "a non-ASCII address, and the server does not support SMTPUTF8",
            "permanent": true,
        }]));
        let tries = relay_transactions(&smtp);
        assert_eq!(tries.len(), 1, "{tries:?}");
        assert_eq!(tries[0].rcpts, ["amy@customer.test"], "the server is never asked for J\u{f6}rg");
        assert!(tries[0].delivered);
        let ev = events_text(&env.ticket("MR-1"));
        assert!(ev.contains("reached amy@customer.test, but not j\u{f6}rg@customer.test: a non-ASCII address, and the server does not support SMTPUTF8"), "{ev}");
    }

    /// A stored recipient that is not an address (a row from an older
    /// version, or edited by hand) is refused alone, for good, without
    /// asking the server; the others get the mail and the outbox goes on.
    fn a_stored_recipient_that_is_no_address_is_refused_alone(b) {
        let smtp = ScriptedSmtp::start();
        let env = answered(b, &smtp, "amy@customer.test", "Cc: bo@customer.test\r\n");
        env.sql("UPDATE outbox SET recipients = 'amy@customer.test, \"x, y\"@customer.test, bo@customer.test' WHERE kind = 'relay'");
        env.run_ok(&["outbox", "flush"]);
        let row = &relay_rows(&env)[0];
        assert_eq!(row["status"], "sent", "{row}");
        assert_eq!(row["delivered_to"], "amy@customer.test, bo@customer.test");
        let refused = row["refused"].as_array().expect("refusals");
        let addresses: Vec<&str> = refused.iter().filter_map(|r| r["address"].as_str()).collect();
        assert_eq!(addresses, ["\"x", "y\"@customer.test"], "both halves of the split: {row}");
        assert!(refused.iter().all(|r| r["code"].is_null() && r["permanent"] == true), "{row}");
        let tries = relay_transactions(&smtp);
        assert_eq!(tries.len(), 1, "{tries:?}");
        assert_eq!(sorted(&tries[0].rcpts), ["amy@customer.test", "bo@customer.test"]);
        let ev = events_text(&env.ticket("MR-1"));
        assert!(ev.contains("reached amy@customer.test, bo@customer.test, but not"), "{ev}");
        // Nothing is left queued behind it.
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued'"), 0);
    }

    /// A reply's bare CR, LF and ESC never reach the row, the events or the
    /// agent: cleaned where the reply enters mailroom.
    fn a_servers_control_characters_are_cleaned(b) {
        let smtp = ScriptedSmtp::start();
        let env = answered(b, &smtp, "amy@customer.test", "Cc: hostile-hal@customer.test\r\n");
        env.run_ok(&["outbox", "flush"]);
        const CLEAN: &str = "5.1.1 <hostile-hal@customer.test> bad Injected: yes X [2J done";
        let row = &relay_rows(&env)[0];
        assert_eq!(row["refused"][0]["text"], CLEAN, "{row}");
        let last_error = row["last_error"].as_str().unwrap_or_default();
        assert_eq!(last_error, format!("refused: hostile-hal@customer.test (550 {CLEAN})"));
        let ev = events_text(&env.ticket("MR-1"));
        assert!(ev.contains(&format!("but not hostile-hal@customer.test: 550 {CLEAN}")), "{ev}");
        assert!(!ev.contains(['\r', '\u{1b}']) && !ev.contains("\nInjected") && !ev.contains("\nX"), "{ev:?}");
        let told: Vec<_> = smtp.mails().into_iter().filter(|(_, m)| m.subject.contains("Your answer did not reach everyone")).collect();
        assert_eq!(told.len(), 1);
        let text = &told[0].1.text;
        assert!(text.contains(CLEAN), "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains("\nInjected"), "{text:?}");
    }

    /// A panic while retrying (a bug) is accounted like any permanent
    /// failure: who got the mail before still has it, the rest are refused.
    fn a_panic_on_a_retry_keeps_who_already_has_the_mail(b) {
        let smtp = ScriptedSmtp::start();
        let env = answered(b, &smtp, "amy@customer.test", "Cc: later-liz@customer.test\r\n");
        env.run_ok(&["outbox", "flush"]);
        assert_eq!(relay_rows(&env)[0]["delivered_to"], "amy@customer.test");
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let out = env.command().args(["outbox", "flush"]).env("MAILROOM_FAULT", "send:Re: Question").output().expect("run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let row = &relay_rows(&env)[0];
        assert_eq!(row["status"], "sent", "Amy has it: {row}");
        assert_eq!(row["delivered_to"], "amy@customer.test");
        // Liz keeps the server's own (temporary) reply, now final.
        assert_eq!(row["refused"].as_array().map(Vec::len), Some(1), "{row}");
        assert_eq!(row["refused"][0]["address"], "later-liz@customer.test");
        assert_eq!(row["refused"][0]["code"], 450);
        let ev = events_text(&env.ticket("MR-1"));
        let reports: Vec<&str> = ev.lines().filter(|l| l.contains("later-liz@customer.test") && l.contains(" not ") && !l.starts_with("explanation:")).collect();
        assert_eq!(reports.len(), 1, "reported once: {ev}");
        assert!(reports[0].starts_with("relay: answer <") && reports[0].contains("reached amy@customer.test, but not later-liz@customer.test: 450 4.2.0 try again later (temporary; not tried again after 2 attempt(s))"), "{ev}");
        assert!(env.ticket("MR-1")["first_response_at"].is_string());
    }
}

/// The addresses of a stored comma-separated list.
fn envelope(list: &serde_json::Value) -> Vec<String> {
    list.as_str()
        .unwrap_or_default()
        .split(", ")
        .map(str::to_string)
        .collect()
}
