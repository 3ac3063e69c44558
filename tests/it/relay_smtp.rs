//! The whole conversation through real servers (issue "agents answer from
//! their mail client", item 8): a customer writes by SMTP, Postfix delivers
//! into Dovecot, `serve` picks it up over IMAP IDLE and sends the
//! acknowledgement and the owner's notification back out through Postfix; the
//! owner answers from a mail client by SMTP; the customer's INBOX gets the
//! relay. A forged reply and a `#note` never reach the customer, and a relay
//! queued while Postfix is down is delivered exactly once when it is back.

use std::time::Instant;

use mailroom::mail::{ParsedMail, parse};

use crate::both_backends;
use crate::imap::{Serve, healthz, smtp_env, wait_until};
use crate::mailenv::{MailEnv, USER};
use crate::relay::{Style, agent_reply, reply_body, with_attachment};
use crate::support::*;

const CUSTOMER_BOX: &str = "catchall@example.test";
const AGENT_BOX: &str = "sales@example.test";

fn inbox(mev: &MailEnv, user: &str) -> Vec<ParsedMail> {
    mev.fetch_all(user, "INBOX")
        .iter()
        .map(|raw| parse(raw).expect("delivered mail parses"))
        .collect()
}

both_backends! {
    fn agent_answers_by_mail_through_postfix_and_dovecot(b) {
        let mev = MailEnv::start();
        let env = smtp_env(b, &mev, "host = \"127.0.0.1\"\ntls = \"none\"\nretry_first = \"1s\"");
        let serve = Serve::start(&env);
        wait_until(30, "the source to enter IDLE", || {
            healthz(&env).is_some_and(|(_, h)| h["sources"]["support"]["state"] == "idle")
        });
        mev.smtp_send(USER, &[mail("Alice <alice@customer.test>", "Printer on fire", "e2e-1@customer.test", "", "It burns.")]);
        wait_until(30, "the acknowledgement in the customer's INBOX", || mev.status(CUSTOMER_BOX, "INBOX").0 >= 1);
        wait_until(30, "the notification in the owner's INBOX", || mev.status(AGENT_BOX, "INBOX").0 >= 1);
        let notif = inbox(&mev, AGENT_BOX).remove(0);
        assert_eq!(notif.text.lines().next(), Some("##- Reply above this line to answer MR-1 -##"));

        // Sally answers from her mail client: a command on top, a file, the notification quoted.
        let body = reply_body("#priority high\r\n\r\nHello Alice,\r\nunplug it and wait a minute.\r\n\r\nSally", &notif, Style::Gmail);
        let answer = with_attachment(&agent_reply("Sally <sales@example.test>", &notif, "e2e-r1@example.test", &body, ""), "steps.txt", "1. unplug\r\n2. wait");
        let sent_at = Instant::now();
        mev.smtp_send(USER, &[answer]);
        let took = wait_until(30, "the relay in the customer's INBOX", || mev.status(CUSTOMER_BOX, "INBOX").0 >= 2);
        eprintln!("agent's SMTP send -> relay in the customer's INBOX: {:?}", took.min(sent_at.elapsed()));
        let boxed = inbox(&mev, CUSTOMER_BOX);
        let relay = boxed.iter().find(|m| m.auto.auto_submitted.is_none()).expect("the relay (not automatic)");
        assert_eq!(relay.subject, "Re: Printer on fire [MR-1]");
        assert_eq!(relay.from.name.as_deref(), Some("Sally at Example Support"));
        assert_eq!(relay.from.email, "support@example.test");
        assert!(relay.references.contains(&"e2e-1@customer.test".to_string()), "{:?}", relay.references);
        assert_eq!(relay.in_reply_to, ["e2e-1@customer.test"]);
        assert!(relay.text.contains("unplug it and wait a minute."), "{}", relay.text);
        for leaked in ["#priority", "##-", "It burns.", "wrote:", "sales@example.test", "Area:"] {
            assert!(!relay.text.contains(leaked), "{leaked:?} in the relay:\n{}", relay.text);
        }
        assert_eq!(relay.attachments.iter().filter_map(|a| a.filename.as_deref()).collect::<Vec<_>>(), ["steps.txt"]);
        let t = env.ticket("MR-1");
        assert_eq!(t["priority"], "high");
        assert_eq!(t["status"], "pending");

        // A forged answer (Sally's address, no notification answered) and a note.
        let forged = mail("sales@example.test", "Re: Printer on fire [MR-1]", "e2e-f1@evil.test", "In-Reply-To: <e2e-1@customer.test>\r\n", "#close\r\nForged answer for the customer.");
        let note = agent_reply("sales@example.test", &notif, "e2e-n1@example.test", &reply_body("#note\r\nInternal: check the firmware.", &notif, Style::Outlook), "");
        mev.smtp_send(USER, &[forged, note]);
        wait_until(30, "the forged mail and the note on the ticket", || {
            // The forged mail proves nothing: an internal note (a colleague's, by its From).
            kinds(&env.ticket("MR-1")).iter().filter(|k| *k == "note").count() == 2
        });
        let t = env.ticket("MR-1");
        let forged = messages(&t).iter().find(|m| m["message_id"] == "e2e-f1@evil.test").expect("the forged mail");
        assert_eq!((forged["kind"].as_str(), forged["role"].as_str()), (Some("note"), Some("colleague")));
        assert_eq!(t["status"], "pending", "the forged #close did nothing");

        // Postfix goes down; Sally's next answer still reaches mailroom (LMTP into Dovecot).
        mev.stop_postfix();
        let body = reply_body("Alice, a new printer is on its way.", &notif, Style::Gmail);
        mev.lmtp_deliver(USER, &[agent_reply("sales@example.test", &notif, "e2e-r2@example.test", &body, "")]);
        wait_until(30, "the relay to fail once while Postfix is down", || {
            env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'relay' AND status = 'queued' AND attempts >= 1") == 1
        });
        mev.start_postfix();
        wait_until(60, "the retried relay in the customer's INBOX", || mev.status(CUSTOMER_BOX, "INBOX").0 >= 3);
        std::thread::sleep(std::time::Duration::from_secs(3));
        let boxed = inbox(&mev, CUSTOMER_BOX);
        assert_eq!(boxed.len(), 3, "ack + two relays, each once: {:?}", boxed.iter().map(|m| &m.subject).collect::<Vec<_>>());
        let second: Vec<_> = boxed.iter().filter(|m| m.text.contains("a new printer is on its way")).collect();
        assert_eq!(second.len(), 1, "delivered exactly once");
        for m in &boxed {
            assert!(!m.text.contains("Forged answer") && !m.text.contains("Internal: check the firmware"), "{}", m.text);
        }
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'relay' AND status = 'sent'"), 2);
        let status = serve.terminate();
        assert!(status.success(), "{status:?}");
    }
}
