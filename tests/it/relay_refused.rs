//! Relay failures are never silent (issue 19, item 6), against the real
//! Postfix and Dovecot with `serve` running: the private Postfix refuses
//! `refused-*` recipients for good (550) and `later-*` ones for now (450) at
//! RCPT time (scripts/mailenv.sh). The recipients it takes still get the
//! agent's answer, those it refused never get it twice, and the agent hears
//! who did not get it, with the server's words. It also refuses the data of
//! a mail to a `reject-data-*` address after taking its recipients
//! (header_checks). An in-process server adds what Postfix will not do on
//! demand (relay_scripted.rs).

use mailroom::mail::{ParsedMail, parse};
use serde_json::Value;

use crate::both_backends;
use crate::fakesmtp::{ScriptedSmtp, Transaction};
use crate::imap::{Serve, healthz, smtp_env, wait_until};
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
pub(crate) fn relay_transactions(smtp: &ScriptedSmtp) -> Vec<Transaction> {
    smtp.transactions()
        .into_iter()
        .filter(|t| match &t.data {
            Some(d) => parse(d).is_ok_and(|m| m.auto.auto_submitted.is_none()),
            None => !t.rcpts.iter().any(|r| r.ends_with("@example.test")),
        })
        .collect()
}

pub(crate) fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

pub(crate) fn relay_rows(env: &Env) -> Vec<Value> {
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

    fn refused_data_reaches_nobody_and_is_not_retried_by_postfix(b) {
        // The relay's To names Ann: Postfix takes Ann and Bo at RCPT, Lee
        // for now not, then refuses the data (so does the acknowledgement).
        let (mev, env, serve) = start(b);
        conversation(&mev, "Ann <reject-data-ann@customer.test>", "Cc: later-lee@customer.test, bo@customer.test\r\n", "Hello Ann,\r\nwe are on it.");
        wait_until(30, "the relay to fail", || relay_rows(&env).first().is_some_and(|r| r["status"] == "failed"));
        wait_until(30, "the explanation in the agent's INBOX", || mev.status(AGENT_BOX, "INBOX").0 >= 2);
        // Well past the retry delay (1 s): time for a retry, if one were coming.
        std::thread::sleep(std::time::Duration::from_secs(3));

        assert!(relays(&inbox(&mev, CUSTOMER_BOX)).is_empty(), "the catch-all got nothing");
        let t = env.ticket("MR-1");
        let ev = events_text(&t);
        assert!(ev.contains("reached nobody: "), "{ev}");
        assert!(ev.contains(&format!("reject-data-ann@customer.test: {DATA_REFUSED}")), "{ev}");
        assert!(ev.contains(&format!("bo@customer.test: {DATA_REFUSED}")), "{ev}");
        assert!(ev.contains("later-lee@customer.test: 450 4.2.0 <later-lee@customer.test>: Recipient address rejected: try again later (temporary; not tried again after 1 attempt(s))"), "{ev}");
        assert_eq!(t["status"], "open");
        assert!(t["first_response_at"].is_null());
        let row = &relay_rows(&env)[0];
        assert_eq!(row["status"], "failed");
        assert_eq!(row["delivered_to"], "");
        assert_eq!(row["attempts"], 1, "a permanent refusal is not retried: {row}");
        let told = explanations(&inbox(&mev, AGENT_BOX)).into_iter().map(|m| m.text.clone()).collect::<Vec<_>>();
        assert_eq!(told.len(), 1);
        assert!(told[0].contains(DATA_REFUSED), "{}", told[0]);
        let status = serve.terminate();
        assert!(status.success(), "{status:?}");
    }
}

/// Postfix's answer after the data of a mail it refuses (header_checks).
const DATA_REFUSED: &str = "550 5.7.1 content refused";

#[test]
fn the_report_after_a_flush_reads_only_the_unreported_index() {
    // A flush that sent nothing must not cost a scan of the outbox: SQLite
    // plans both the check whether there is anything to report and the
    // step's lookup on the partial index.
    let env = Env::new(Backend::Sqlite);
    env.run_ok(&["migrate"]);
    let unreported = mailroom::store::unreported_relays();
    for query in [
        format!("SELECT EXISTS(SELECT 1 {unreported})"),
        format!("SELECT o.id {unreported} ORDER BY o.id LIMIT 100"),
    ] {
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
                let sql = format!("EXPLAIN QUERY PLAN {query}");
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
}

#[test]
fn a_flush_with_nothing_to_report_takes_no_report_lock() {
    // PostgreSQL: reporting relays takes an advisory lock (one reporter at
    // a time). A flush with nothing to report must not wait for it: it only
    // reads. Another session holds the lock for the whole test.
    let env = Env::new(Backend::Postgres);
    env.run_ok(&["migrate"]);
    let url = env.db_url.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut holder = rt.block_on(async move {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
        // store/contention.rs: the first 8 bytes of SHA-256 of the name.
        sqlx::query("BEGIN").execute(&mut c).await.expect("begin");
        sqlx::query("SELECT pg_advisory_xact_lock(('x' || substr(encode(sha256('relay-report'::bytea), 'hex'), 1, 16))::bit(64)::bigint)")
            .execute(&mut c)
            .await
            .expect("lock");
        c
    });
    let mut child = env
        .command()
        .args(["outbox", "flush"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    rt.block_on(async {
        sqlx::query("ROLLBACK")
            .execute(&mut holder)
            .await
            .expect("rollback");
    });
    let status = status.expect("outbox flush waited for the report lock with nothing to report");
    assert!(status.success(), "{status:?}");
}
