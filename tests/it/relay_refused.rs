//! Relay failures are never silent (issue 19, item 6), against the real
//! Postfix and Dovecot with `serve` running: the private Postfix refuses
//! `refused-*` recipients for good (550) and `later-*` ones for now (450) at
//! RCPT time (scripts/mailenv.sh). The recipients it takes still get the
//! agent's answer, those it refused never get it twice, and the agent hears
//! who did not get it, with the server's words. An in-process server adds
//! what Postfix will not do on demand: refusing the data after taking the
//! recipients.

use mailroom::mail::{ParsedMail, parse};
use serde_json::Value;

use crate::both_backends;
use crate::fakesmtp::{ScriptedSmtp, Transaction};
use crate::imap::{SMTP_BASE, Serve, healthz, smtp_env, wait_until};
use crate::mailenv::{MailEnv, USER};
use crate::relay::{Style, agent_reply, reply_body};
use crate::support::*;

const CUSTOMER_BOX: &str = "catchall@example.test";
const AGENT_BOX: &str = "sales@example.test";
const CARL: &str = "refused-carl@customers.test";
const LOU: &str = "later-lou@customers.test";
const REFUSED_REPLY: &str =
    "5.1.1 <refused-carl@customers.test>: Recipient address rejected: mailbox unavailable";

fn inbox(mev: &MailEnv, user: &str) -> Vec<ParsedMail> {
    mev.fetch_all(user, "INBOX")
        .iter()
        .map(|raw| parse(raw).expect("delivered mail parses"))
        .collect()
}

/// Mail written by a person (acks and explanations are automatic).
fn relays(mails: &[ParsedMail]) -> Vec<&ParsedMail> {
    mails
        .iter()
        .filter(|m| m.auto.auto_submitted.is_none())
        .collect()
}

fn explanations(mails: &[ParsedMail]) -> Vec<&ParsedMail> {
    mails
        .iter()
        .filter(|m| m.subject.contains("Your answer"))
        .collect()
}

/// The scripted server's transactions that carried a relay (a person's
/// mail: no Auto-Submitted), or asked for its recipients without data.
fn relay_transactions(smtp: &ScriptedSmtp) -> Vec<Transaction> {
    smtp.transactions()
        .into_iter()
        .filter(|t| match &t.data {
            Some(d) => parse(d).is_ok_and(|m| m.auto.auto_submitted.is_none()),
            None => !t.rcpts.iter().any(|r| r.ends_with("@example.test")),
        })
        .collect()
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn relay_rows(env: &Env) -> Vec<Value> {
    env.outbox()
        .into_iter()
        .filter(|r| r["kind"] == "relay")
        .collect()
}

/// Postfix and Dovecot with two more mailboxes (the refused and the late
/// recipient, so a test can see they got nothing), and `serve` on them.
fn start(b: Backend) -> (MailEnv, Env, Serve) {
    let mev = MailEnv::start_with_users(&[CARL.to_string(), LOU.to_string()]);
    let env = smtp_env(
        b,
        &mev,
        "host = \"127.0.0.1\"\ntls = \"none\"\nretry_first = \"1s\"",
    );
    let serve = Serve::start(&env);
    wait_until(30, "the source to enter IDLE", || {
        healthz(&env).is_some_and(|(_, h)| h["sources"]["support"]["state"] == "idle")
    });
    (mev, env, serve)
}

/// A customer writes (with `extra` headers); Sally answers the notification.
fn conversation(mev: &MailEnv, customer: &str, extra: &str, answer: &str) {
    mev.smtp_send(
        USER,
        &[mail(
            customer,
            "Printer on fire",
            "rr-1@customer.test",
            extra,
            "It burns.",
        )],
    );
    wait_until(30, "the notification in the owner's INBOX", || {
        mev.status(AGENT_BOX, "INBOX").0 >= 1
    });
    let notif = inbox(mev, AGENT_BOX).remove(0);
    let body = reply_body(answer, &notif, Style::Gmail);
    mev.smtp_send(
        USER,
        &[agent_reply(
            "Sally <sales@example.test>",
            &notif,
            "rr-a1@example.test",
            &body,
            "",
        )],
    );
}

both_backends! {
    fn a_refused_cc_gets_nothing_and_the_agent_is_told(b) {
        let (mev, env, serve) = start(b);
        conversation(&mev, "Alice <alice@customer.test>", &format!("Cc: {CARL}\r\n"), "Hello Alice,\r\nunplug it.\r\n\r\nSally");
        wait_until(30, "the relay in the customer's INBOX", || relays(&inbox(&mev, CUSTOMER_BOX)).len() == 1);
        wait_until(30, "the explanation in the agent's INBOX", || mev.status(AGENT_BOX, "INBOX").0 >= 2);
        // Time for a second relay or explanation to show up, if one were coming.
        std::thread::sleep(std::time::Duration::from_secs(3));

        let customer = inbox(&mev, CUSTOMER_BOX);
        let relay = relays(&customer);
        assert_eq!(relay.len(), 1, "the customer got the answer once");
        assert!(relay[0].text.contains("unplug it."), "{}", relay[0].text);
        assert_eq!(relay[0].cc.iter().map(|m| m.email.as_str()).collect::<Vec<_>>(), [CARL], "the refused Cc is still named in the header");
        assert_eq!(mev.status(CARL, "INBOX").0, 0, "the refused recipient got nothing");

        let agent = inbox(&mev, AGENT_BOX);
        let told = explanations(&agent);
        assert_eq!(told.len(), 1, "one explanation: {:?}", agent.iter().map(|m| &m.subject).collect::<Vec<_>>());
        let e = told[0];
        assert_eq!(e.subject, "[MR-1] Your answer did not reach everyone: Printer on fire");
        assert_eq!(e.auto.auto_submitted.as_deref(), Some("auto-generated"));
        assert_eq!(e.in_reply_to, ["rr-a1@example.test"], "threaded under the agent's answer");
        for said in ["reached alice@customer.test, but not:", CARL, "550", REFUSED_REPLY, "unplug it."] {
            assert!(e.text.contains(said), "{said:?} missing in:\n{}", e.text);
        }
        assert!(!e.text.contains("Nothing was sent to the customer"), "{}", e.text);

        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "pending");
        assert!(t["first_response_at"].is_string(), "{t}");
        let ev = events_text(&t);
        assert!(ev.contains(&format!("reached alice@customer.test, but not {CARL}: 550 {REFUSED_REPLY}")), "{ev}");
        assert!(ev.contains("explanation: explanation mailed to sales@example.test"), "{ev}");
        let rows = relay_rows(&env);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["status"], "sent");
        assert_eq!(rows[0]["delivered_to"], "alice@customer.test");
        assert_eq!(rows[0]["refused"][0]["address"], CARL);
        assert_eq!(rows[0]["refused"][0]["code"], 550);
        assert_eq!(rows[0]["refused"][0]["permanent"], true);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'relay' AND reported_at IS NOT NULL"), 1, "reported once");
        let status = serve.terminate();
        assert!(status.success(), "{status:?}");
    }

    fn an_answer_nobody_got_reopens_the_ticket(b) {
        let (mev, env, serve) = start(b);
        // The customer's own address is refused: the acknowledgement fails
        // too (automatic mail: no ticket effect), then the answer.
        conversation(&mev, "Dora <refused-dora@customer.test>", "", "Hello Dora,\r\nplease check the cable.");
        wait_until(30, "the relay to fail", || relay_rows(&env).first().is_some_and(|r| r["status"] == "failed"));
        wait_until(30, "the explanation in the agent's INBOX", || mev.status(AGENT_BOX, "INBOX").0 >= 2);
        std::thread::sleep(std::time::Duration::from_secs(3));

        assert!(relays(&inbox(&mev, CUSTOMER_BOX)).is_empty(), "the catch-all got nothing");
        let agent = inbox(&mev, AGENT_BOX);
        let told = explanations(&agent);
        assert_eq!(told.len(), 1, "one explanation: {:?}", agent.iter().map(|m| &m.subject).collect::<Vec<_>>());
        let e = told[0];
        assert_eq!(e.subject, "[MR-1] Your answer reached nobody: Printer on fire");
        for said in ["reached nobody:", "refused-dora@customer.test", "550", "Recipient address rejected: mailbox unavailable", "please check the cable."] {
            assert!(e.text.contains(said), "{said:?} missing in:\n{}", e.text);
        }

        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "open", "back to open: nobody has the answer");
        assert!(t["first_response_at"].is_null(), "{t}");
        let ev = events_text(&t);
        assert!(ev.contains("reached nobody: refused-dora@customer.test: 550 5.1.1 <refused-dora@customer.test>: Recipient address rejected: mailbox unavailable"), "{ev}");
        assert!(ev.contains("status: pending -> open: the answer reached nobody"), "{ev}");
        assert_eq!(env.count("SELECT COUNT(*) FROM status_changes WHERE from_status = 'pending' AND to_status = 'open'"), 1);
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'system' AND recipients = 'sales@example.test'"), 1);
        let status = serve.terminate();
        assert!(status.success(), "{status:?}");
    }

    fn a_late_recipient_gets_the_answer_once_and_the_others_once(b) {
        let (mev, env, serve) = start(b);
        conversation(&mev, "Alice <alice@customer.test>", &format!("Cc: {LOU}\r\n"), "Hello Alice,\r\na new printer is on its way.");
        wait_until(30, "the relay in the customer's INBOX", || relays(&inbox(&mev, CUSTOMER_BOX)).len() == 1);
        wait_until(30, "the late recipient's refusal on the row", || {
            relay_rows(&env).first().is_some_and(|r| r["status"] != "sent" && r["refused"][0]["address"] == LOU)
        });
        let row = &relay_rows(&env)[0];
        assert_eq!(row["refused"][0]["permanent"], false);
        assert_eq!(row["refused"][0]["code"], 450);
        assert_eq!(row["delivered_to"], "alice@customer.test");
        // The customer has the answer: the first response counts already.
        wait_until(30, "the first response", || env.ticket("MR-1")["first_response_at"].is_string());
        assert_eq!(mev.status(LOU, "INBOX").0, 0);

        // The server takes later-* again; the next attempt goes to Lou alone.
        mev.refuse("/^refused-/ 550 5.1.1 mailbox unavailable\n");
        wait_until(90, "the answer in the late recipient's INBOX", || mev.status(LOU, "INBOX").0 >= 1);
        wait_until(30, "the relay row settled", || relay_rows(&env).first().is_some_and(|r| r["status"] == "sent"));
        std::thread::sleep(std::time::Duration::from_secs(3));

        let lou = inbox(&mev, LOU);
        assert_eq!(lou.len(), 1, "Lou got it exactly once");
        assert!(lou[0].text.contains("a new printer is on its way."), "{}", lou[0].text);
        let customer = inbox(&mev, CUSTOMER_BOX);
        assert_eq!(relays(&customer).len(), 1, "Alice got it exactly once, not again with Lou");
        assert_eq!(relays(&customer)[0].message_id, lou[0].message_id, "the very same mail");
        let row = &relay_rows(&env)[0];
        assert_eq!(row["delivered_to"], "alice@customer.test, later-lou@customers.test");
        assert_eq!(row["refused"], serde_json::json!([]));
        assert!(row["attempts"].as_i64().unwrap_or(0) >= 2, "{row}");
        // Everyone got it in the end: nobody to tell.
        assert!(explanations(&inbox(&mev, AGENT_BOX)).is_empty());
        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "pending");
        assert!(!events_text(&t).contains("but not"), "{}", events_text(&t));
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'relay' AND reported_at IS NOT NULL AND delivery_reported_at IS NOT NULL"), 1);
        let status = serve.terminate();
        assert!(status.success(), "{status:?}");
    }

    fn refused_data_reaches_nobody_and_is_not_retried(b) {
        // Postfix will not refuse a mail's data on demand; this server does,
        // for mail to a `reject-data-` recipient, and records every
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
        let tries = relay_transactions(&smtp);
        assert_eq!(tries.len(), 1, "a permanent refusal is not retried: {tries:?}");
        assert_eq!(sorted(&tries[0].rcpts), ["bo@customer.test", "later-lee@customer.test", "reject-data-ann@customer.test"]);
        assert_eq!(sorted(&tries[0].accepted), ["bo@customer.test", "reject-data-ann@customer.test"]);
        assert!(!tries[0].delivered);
    }

    fn a_data_failure_for_now_is_retried_to_the_waiting_only(b) {
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
}

#[test]
fn the_report_after_a_flush_reads_only_the_unreported_index() {
    // A flush that sent nothing must not cost a scan of the outbox: SQLite
    // plans the step's lookup on the partial index.
    let env = Env::new(Backend::Sqlite);
    env.run_ok(&["migrate"]);
    let plan: String = {
        let url = env.db_url.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect");
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT o.id {} ORDER BY o.id LIMIT 100",
                mailroom::store::unreported_relays()
            );
            let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await
                .expect("plan");
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
        })
    };
    assert!(plan.contains("outbox_relay_unreported"), "{plan}");
    assert!(
        !plan.contains("SCAN o\n") && !plan.ends_with("SCAN o"),
        "{plan}"
    );
}
