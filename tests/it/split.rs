//! Splitting a customer's mail off to a ticket of its own (issue 22): by an
//! agent's `#split` answer to the notification of that mail, and by
//! `tickets split REF --message ID`; threading follows the moved mail, and
//! every refusal says why. Both backends, through the real binary.

use mailroom::mail::ParsedMail;
use serde_json::Value;

use crate::both_backends;
use crate::relay::{Style, agent_reply, reply_body, sent_since};
use crate::support::*;
use crate::voices::TEAM;

struct Desk {
    env: Env,
    seen: usize,
}

impl Desk {
    fn flush(&mut self) -> Vec<(String, ParsedMail)> {
        let new = sent_since(&self.env, self.seen);
        self.seen += new.len();
        new
    }

    fn bob(&self, notif: &ParsedMail, id: &str, words: &str) -> Value {
        let body = reply_body(words, notif, Style::Gmail);
        let o = self
            .env
            .ingest(&agent_reply("bob@example.test", notif, id, &body, ""));
        assert_eq!(o["outcome"], "agent_reply", "{o}");
        o
    }

    fn split(&self, args: &[&str]) -> (bool, String) {
        let mut all = vec!["tickets", "split"];
        all.extend_from_slice(args);
        self.env.run_text(&all)
    }
}

/// The newest notification in `sent`.
fn notification(sent: &[(String, ParsedMail)]) -> ParsedMail {
    sent.iter()
        .rev()
        .find(|(n, _)| n.ends_with("-notification.eml"))
        .expect("a notification")
        .1
        .clone()
}

/// A reply from `from` to the mail `to`.
fn answer(from: &str, to: &str, subject: &str, id: &str, text: &str) -> String {
    format!(
        "From: {from}\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nIn-Reply-To: <{to}>\r\nReferences: <{to}>\r\nDate: Mon, 30 Nov 2026 11:00:00 +0000\r\n\r\n{text}\r\n"
    )
}

/// The Message-IDs of the customer side's mail on a ticket.
fn message_ids(t: &Value) -> Vec<String> {
    messages(t)
        .iter()
        .filter(|m| m["kind"] == "customer")
        .filter_map(|m| m["message_id"].as_str().map(str::to_string))
        .collect()
}

both_backends! {
    /// Dan, in Cc of Amy's ticket, asks something else in its thread; Bob
    /// answers that mail's notification with `#split`: Dan's mail gets a
    /// ticket of its own, linked to Amy's, and Dan's next answer lands there.
    fn a_split_by_mail_gives_the_mail_its_own_ticket(b) {
        let mut d = Desk { env: Env::with_config(b, TEAM, ""), seen: 0 };
        let o = d.env.ingest(&mail("Amy <amy@customer.test>", "Invoice", "s1@customer.test", "Cc: Dan <dan@customer.test>\r\n", "The invoice is wrong."));
        assert_eq!(o["ref"], "MR-1");
        let first = notification(&d.flush());
        let o = d.env.ingest(&answer("Dan <dan@customer.test>", "s1@customer.test", "Re: Invoice", "d1@customer.test", "Unrelated: my password reset link never arrives."));
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-1")), "{o}");
        let dans = notification(&d.flush());

        // The mail that opened MR-1 is the ticket itself: refused, explained.
        d.bob(&first, "bob-split-0@example.test", "#split");
        let sent = d.flush();
        let why = sent.iter().find(|(n, m)| n.ends_with("-system.eml") && m.subject.contains("Not split")).expect("explanation").1.clone();
        assert!(why.text.contains("<s1@customer.test> opened MR-1: it is the ticket itself"), "{}", why.text);

        d.bob(&dans, "bob-split-1@example.test", "#split");
        let two = d.env.ticket("MR-2");
        assert_eq!(two["customer"], "dan@customer.test");
        assert_eq!(two["subject"], "Re: Invoice");
        assert_eq!(two["owner"], "bob@example.test");
        assert_eq!(two["linked"]["continues"], "MR-1");
        assert_eq!(message_ids(&two), ["d1@customer.test"]);
        assert!(events_text(&two).contains("split off MR-1 by bob@example.test: <d1@customer.test> from dan@customer.test and the mail answering it moved here"), "{two}");
        let one = d.env.ticket("MR-1");
        assert!(!message_ids(&one).contains(&"d1@customer.test".to_string()), "{one}");
        assert!(events_text(&one).contains("<d1@customer.test> from dan@customer.test and the mail answering it split off to MR-2"), "{one}");

        // Threading follows the moved mail.
        let o = d.env.ingest(&answer("Dan <dan@customer.test>", "d1@customer.test", "Re: Invoice", "d2@customer.test", "Still nothing."));
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-2")), "{o}");
        let o = d.env.ingest(&answer("Amy <amy@customer.test>", "s1@customer.test", "Re: Invoice", "s2@customer.test", "Any news?"));
        assert_eq!(o["ref"], "MR-1", "{o}");
    }

    /// `tickets split`: a dry run changes nothing; the mail and the mail
    /// answering it move; refusals name the reason and exit 1.
    fn tickets_split_moves_a_mail_and_its_answers(b) {
        let d = Desk { env: Env::with_config(b, TEAM, ""), seen: 0 };
        d.env.ingest(&mail("Amy <amy@customer.test>", "Printer", "t1@customer.test", "", "It jams."));
        d.env.ingest(&answer("Amy <amy@customer.test>", "t1@customer.test", "Re: Printer", "t2@customer.test", "Also: the scanner is slow."));
        d.env.ingest(&answer("Amy <amy@customer.test>", "t2@customer.test", "Re: Printer", "t3@customer.test", "The scanner takes a minute per page."));
        let (ok, out) = d.split(&["MR-1", "--message", "<t2@customer.test>", "--dry-run"]);
        assert!(ok && out.starts_with("dry run, nothing changed: MR-") && out.contains(": split off MR-1"), "{out}");
        assert_eq!(d.env.count("SELECT COUNT(*) FROM tickets"), 1, "a dry run changes nothing");
        let (ok, out) = d.split(&["MR-1", "--message", "t2@customer.test"]);
        assert!(ok, "{out}");
        // PostgreSQL's sequences keep what the dry run reserved: MR-3 there.
        let new_ref = out.split(':').next().expect("ref").to_string();
        let two = d.env.ticket(&new_ref);
        let notified: Vec<&Value> = messages(&two).iter().filter(|m| m["kind"] == "notification").collect();
        assert_eq!(notified.len(), 2, "the notifications about the moved mail moved too: {two}");
        assert_eq!(message_ids(&two), ["t2@customer.test", "t3@customer.test"], "the mail and the one answering it");
        assert_eq!(message_ids(&d.env.ticket("MR-1")), ["t1@customer.test"]);
        for (args, why) in [
            (["MR-1", "--message", "t1@customer.test"], "opened MR-1: it is the ticket itself"),
            (["MR-1", "--message", "nope@customer.test"], "no mail <nope@customer.test> on MR-1"),
            (["MR-1", "--message", "t2@customer.test"], "no mail <t2@customer.test> on MR-1"),
            (["MR-9", "--message", "t1@customer.test"], "no mail <t1@customer.test> on MR-9"),
        ] {
            let (ok, out) = d.split(&args);
            assert!(!ok && out.contains("not split: ") && out.contains(why), "{args:?}: {out}");
        }
    }
}
