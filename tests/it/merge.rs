//! Merging tickets (issue 22): by an agent's `#merge` and by `tickets merge`,
//! every refusal, the source's number as an alias (subject tags, replies to
//! its old mail, chains), who hears of it, what the digests count, and mail
//! that arrives while a merge runs. Both backends, through the real binary.

use mailroom::mail::ParsedMail;
use serde_json::Value;

use crate::both_backends;
use crate::relay::{Style, agent_reply, reply_body, sent_since};
use crate::support::*;
use crate::voices::TEAM;

/// A desk with Bob as every ticket's owner; every outbox file read so far.
struct Desk {
    env: Env,
    seen: usize,
}

impl Desk {
    fn new(b: Backend) -> Desk {
        Desk {
            env: Env::with_config(b, TEAM, ""),
            seen: 0,
        }
    }

    /// A customer's new mail; its ticket's reference.
    fn open(&self, from: &str, subject: &str, id: &str, extra: &str) -> String {
        let o = self
            .env
            .ingest(&mail(from, subject, id, extra, "Please help."));
        assert_eq!(o["outcome"], "created", "{o}");
        o["ref"].as_str().expect("ref").to_string()
    }

    /// Flushes the outbox; the mails written now.
    fn flush(&mut self) -> Vec<(String, ParsedMail)> {
        let new = sent_since(&self.env, self.seen);
        self.seen += new.len();
        new
    }

    /// The newest mail of this flush whose subject starts with `[REF]`.
    fn newest(sent: &[(String, ParsedMail)], reference: &str, kind: &str) -> ParsedMail {
        sent.iter()
            .rev()
            .find(|(n, m)| {
                n.ends_with(&format!("-{kind}.eml"))
                    && m.subject.contains(&format!("[{reference}]"))
            })
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("no {kind} on {reference} in {:?}", names(sent)))
    }

    /// Bob answers the notification `notif` with `words` on top.
    fn bob_answers(&self, notif: &ParsedMail, id: &str, words: &str) -> Value {
        let body = reply_body(words, notif, Style::Gmail);
        self.env
            .ingest(&agent_reply("bob@example.test", notif, id, &body, ""))
    }

    fn merge(&self, args: &[&str]) -> (bool, String) {
        let mut all = vec!["tickets", "merge"];
        all.extend_from_slice(args);
        self.env.run_text(&all)
    }
}

fn names(sent: &[(String, ParsedMail)]) -> Vec<String> {
    sent.iter()
        .map(|(n, m)| format!("{n}: {}", m.subject))
        .collect()
}

fn message_ids(t: &Value) -> Vec<String> {
    messages(t)
        .iter()
        .filter_map(|m| m["message_id"].as_str().map(str::to_string))
        .collect()
}

fn participants(t: &Value) -> Vec<String> {
    t["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["email"].as_str().unwrap_or(""),
                p["role"].as_str().unwrap_or("")
            )
        })
        .collect()
}

both_backends! {
    /// `#merge MR-1` in Bob's answer to MR-2's notification: MR-2's mail,
    /// events and Cc move to MR-1, which keeps its owner; MR-2's number,
    /// subject tag and old mail lead to MR-1 from then on; nobody outside
    /// takes part by naming it; the digests count one new ticket.
    fn a_merge_by_mail_moves_the_ticket_and_its_number_leads_there(b) {
        let mut d = Desk::new(b);
        let one = d.open("Amy <amy@customer.test>", "Invoice wrong", "m1@customer.test", "");
        let two = d.open("Amy <amy@customer.test>", "Invoice still wrong", "m2@customer.test", "Cc: Cat <cat@customer.test>\r\n");
        assert_eq!((one.as_str(), two.as_str()), ("MR-1", "MR-2"));
        let sent = d.flush();
        let ack_two = Desk::newest(&sent, "MR-2", "ack");
        let notif = Desk::newest(&sent, "MR-2", "notification");
        let o = d.bob_answers(&notif, "bob-merge@example.test", "#merge MR-1\n#tag duplicate");
        assert_eq!(o["outcome"], "agent_reply", "{o}");

        let two_now = d.env.ticket("MR-2");
        assert_eq!(two_now["status"], "merged");
        assert_eq!(two_now["merged_into"], "MR-1");
        assert!(messages(&two_now).is_empty(), "{two_now}");
        let ev = events_text(&two_now);
        assert!(ev.contains("merged into MR-1 by bob@example.test (status was open); MR-2 is an alias of MR-1"), "{ev}");
        let shown = d.env.run_ok(&["tickets", "show", "MR-2"]);
        assert!(shown.contains("merged into MR-1: its mail and history are there now"), "{shown}");

        let one_now = d.env.ticket("MR-1");
        assert_eq!(one_now["aliases"], serde_json::json!(["MR-2"]));
        assert_eq!(one_now["owner"], "bob@example.test");
        let ids = message_ids(&one_now);
        for id in ["m1@customer.test", "m2@customer.test", "bob-merge@example.test"] {
            assert!(ids.iter().any(|m| m == id), "{id} not on MR-1: {ids:?}");
        }
        assert!(participants(&one_now).contains(&"cat@customer.test cc".to_string()), "{one_now}");
        assert_eq!(one_now["tags"], serde_json::json!(["duplicate"]));
        let ev = events_text(&one_now);
        assert!(ev.contains("MR-2 (\"Invoice still wrong\", amy@customer.test) merged into MR-1 by bob@example.test"), "{ev}");
        assert!(ev.contains("cat@customer.test joins as cc"), "{ev}");
        // MR-2's own history moved with it (its routing and acknowledgement).
        assert!(ev.contains("acknowledgement queued to amy@customer.test"), "{ev}");
        // Bob merged it himself: nobody is told.
        let sent = d.flush();
        assert!(sent.iter().all(|(_, m)| !m.text.contains("merged MR-2 into")), "{:?}", names(&sent));

        // Amy answers MR-2's acknowledgement: it lands on MR-1.
        let reply = format!(
            "From: Amy <amy@customer.test>\r\nTo: support@example.test\r\nSubject: Re: {}\r\nMessage-ID: <m3@customer.test>\r\nIn-Reply-To: <{}>\r\nReferences: <{}>\r\nDate: Mon, 30 Nov 2026 11:00:00 +0000\r\n\r\nStill wrong.\r\n",
            ack_two.subject, ack_two.message_id, ack_two.message_id
        );
        let o = d.env.ingest(&reply);
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-1")), "{o}");
        // Cat names MR-2 by its subject tag alone: she is a participant of MR-1 now.
        let o = d.env.ingest(&mail("Cat <cat@customer.test>", "[MR-2] me too", "m4@customer.test", "", "Same here."));
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-1")), "{o}");
        let ev = events_text(&d.env.ticket("MR-1"));
        assert!(ev.contains("threaded by subject tag [MR-2], merged into MR-1: cat@customer.test is a participant"), "{ev}");
        // A stranger who names MR-2 gets a ticket of their own.
        let o = d.env.ingest(&mail("eve@evil.test", "[MR-2] let me in", "m5@evil.test", "", "Hi."));
        assert_eq!(o["outcome"], "created", "{o}");
        assert_eq!(d.env.ticket("MR-2")["status"], "merged", "nothing lands on the alias");
        assert!(messages(&d.env.ticket("MR-2")).is_empty());

        // Amy's two tickets count as one new ticket; the stranger's is the other.
        let stats: Value = serde_json::from_str(&d.env.run_ok(&["stats", "--since", "7d", "--json"])).expect("json");
        assert_eq!(stats["new"], 2, "{stats}");
    }

    /// Refused by mail: a ticket that does not exist, another customer's
    /// ticket without "force", a merge into itself. Each explained to Bob;
    /// nothing merged.
    fn a_refused_merge_by_mail_is_explained_and_changes_nothing(b) {
        let mut d = Desk::new(b);
        d.open("amy@customer.test", "Question", "r1@customer.test", "");
        d.open("ben@other.test", "Another question", "r2@other.test", "");
        let sent = d.flush();
        let notif = Desk::newest(&sent, "MR-2", "notification");
        // (the event's reason as it starts, and a piece of it the mail shows)
        for (n, words, refused, why) in [
            (1, "#merge MR-9", "there is no ticket MR-9", "there is no ticket MR-9"),
            (2, "#merge MR-1", "MR-2 is ben@other.test's and MR-1 is amy@customer.test's", "add \"force\" to merge anyway"),
            (3, "#merge MR-2", "a ticket cannot be merged into itself", "a ticket cannot be merged into itself"),
        ] {
            let o = d.bob_answers(&notif, &format!("refused-{n}@example.test"), words);
            assert_eq!(o["outcome"], "agent_reply", "{o}");
            let sent = d.flush();
            let explain = Desk::newest(&sent, "MR-2", "system");
            assert!(explain.subject.contains("Not merged"), "{}", explain.subject);
            assert!(explain.text.contains(why), "{why}: {}", explain.text);
            assert!(explain.text.contains("The rest of your reply was carried out"), "{}", explain.text);
            let ev = events_text(&d.env.ticket("MR-2"));
            assert!(ev.contains(&format!("by bob@example.test: refused: {refused}")), "{ev}");
            assert!(ev.contains(why), "{ev}");
        }
        assert_eq!(d.env.ticket("MR-2")["status"], "open");
        assert!(d.env.ticket("MR-2")["merged_into"].is_null());
        assert!(d.env.ticket("MR-1")["aliases"].as_array().expect("aliases").is_empty());
    }

    /// `tickets merge`: refusals with the reason and a failing exit, a dry
    /// run that changes nothing, a forced merge across customers that tells
    /// the owner and makes the other customer a participant (who never gets
    /// an internal note), and a chain A→B→C where A's number leads to C.
    fn tickets_merge_refuses_forces_and_follows_chains(b) {
        let mut d = Desk::new(b);
        d.open("amy@customer.test", "Printer", "c1@customer.test", "");
        d.open("ben@other.test", "Printer too", "c2@other.test", "");
        d.flush();
        let (ok, out) = d.merge(&["MR-2", "--into", "MR-2"]);
        assert!(!ok && out.contains("not merged: a ticket cannot be merged into itself"), "{out}");
        let (ok, out) = d.merge(&["MR-2", "--into", "MR-1"]);
        assert!(!ok && out.contains("MR-2 is ben@other.test's and MR-1 is amy@customer.test's"), "{out}");
        let (ok, out) = d.merge(&["MR-2", "--into", "MR-7"]);
        assert!(!ok && out.contains("there is no ticket MR-7"), "{out}");
        let (ok, out) = d.merge(&["MR-2", "--into", "MR-1", "--force", "--dry-run"]);
        assert!(ok && out.starts_with("dry run, nothing changed: MR-2"), "{out}");
        assert_eq!(d.env.ticket("MR-2")["status"], "open", "a dry run changes nothing");
        assert!(d.flush().is_empty(), "a dry run sends nothing");

        let (ok, out) = d.merge(&["MR-2", "--into", "MR-1", "--force"]);
        assert!(ok, "{out}");
        assert!(out.contains("merged into MR-1 by an operator (mailroom tickets merge)"), "{out}");
        let one = d.env.ticket("MR-1");
        assert!(participants(&one).contains(&"ben@other.test cc".to_string()), "{one}");
        // Bob owns MR-1 and did not merge it: he is told, with Ben's mail.
        let sent = d.flush();
        let told = Desk::newest(&sent, "MR-1", "notification");
        assert!(told.text.contains("an operator (mailroom tickets merge) merged MR-2 into MR-1"), "{}", told.text);
        assert!(told.text.contains("Please help."), "{}", told.text);
        assert!(sent.iter().all(|(_, m)| m.to.iter().all(|t| t.email != "ben@other.test")), "customers hear nothing: {:?}", names(&sent));

        // Bob's internal note on MR-1 reaches nobody on the customer's side.
        let o = d.bob_answers(&told, "note-1@example.test", "#note Ben's printer is the same model");
        assert_eq!(o["outcome"], "agent_reply", "{o}");
        let sent = d.flush();
        assert!(sent.iter().all(|(_, m)| m.to.iter().chain(&m.cc).all(|t| t.email != "ben@other.test" && t.email != "amy@customer.test")), "{:?}", names(&sent));

        // Into an alias: refused, naming the end of the chain.
        d.open("amy@customer.test", "Scanner", "c3@customer.test", "");
        d.open("amy@customer.test", "Scanner again", "c4@customer.test", "");
        let (ok, out) = d.merge(&["MR-3", "--into", "MR-2"]);
        assert!(!ok && out.contains("MR-2 was merged into MR-1: name MR-1 instead"), "{out}");
        // A chain: MR-3 into MR-4, then MR-4 into MR-1: MR-3 leads to MR-1.
        assert!(d.merge(&["MR-3", "--into", "MR-4"]).0);
        assert!(d.merge(&["MR-4", "--into", "MR-1"]).0);
        assert_eq!(d.env.ticket("MR-3")["merged_into"], "MR-1");
        assert_eq!(d.env.ticket("MR-1")["aliases"], serde_json::json!(["MR-2", "MR-3", "MR-4"]));
        let o = d.env.ingest(&mail("amy@customer.test", "[MR-3] scanner", "c5@customer.test", "", "Any news?"));
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-1")), "{o}");
        let (ok, out) = d.merge(&["MR-3", "--into", "MR-1"]);
        assert!(!ok && out.contains("MR-3 was merged into MR-1 already"), "{out}");
    }

    /// A customer's follow-up that arrives while the operator merges its
    /// ticket is stored once, on the ticket that lives: never on the alias,
    /// never lost (PostgreSQL runs both at once; SQLite one after the other).
    fn mail_arriving_during_a_merge_is_not_lost(b) {
        let mut d = Desk::new(b);
        for round in 0..4 {
            let keep = d.open("amy@customer.test", &format!("Round {round}"), &format!("k{round}@customer.test"), "");
            let go = d.open("amy@customer.test", &format!("Round {round} again"), &format!("g{round}@customer.test"), "");
            let sent = d.flush();
            let ack = Desk::newest(&sent, &go, "ack");
            let reply = format!(
                "From: amy@customer.test\r\nTo: support@example.test\r\nSubject: Re: {}\r\nMessage-ID: <f{round}@customer.test>\r\nIn-Reply-To: <{}>\r\nReferences: <{}>\r\nDate: Mon, 30 Nov 2026 11:00:00 +0000\r\n\r\nAnything?\r\n",
                ack.subject, ack.message_id, ack.message_id
            );
            let path = d.env.path(&format!("f{round}.eml"));
            std::fs::write(&path, reply).expect("write");
            let mut merge = d.env.command().args(["tickets", "merge", &go, "--into", &keep])
                .stdout(std::process::Stdio::null()).spawn().expect("spawn merge");
            let mut ingest = d.env.command().args(["ingest", &path.display().to_string()])
                .stdout(std::process::Stdio::null()).spawn().expect("spawn ingest");
            assert!(merge.wait().expect("merge").success());
            assert!(ingest.wait().expect("ingest").success());
            let on = d.env.strings(&format!("SELECT t.status FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = 'f{round}@customer.test'"));
            assert_eq!(on, ["open"], "round {round}: stored once, on the live ticket");
            let kept = d.env.ticket(&keep);
            assert!(message_ids(&kept).contains(&format!("f{round}@customer.test")), "round {round}: {kept}");
            assert!(messages(&d.env.ticket(&go)).is_empty(), "round {round}");
        }
    }

    /// `[lifecycle] merge_notifies_customer = true`: the merged ticket's
    /// customer gets one notice naming the ticket that goes on, greeted as
    /// themselves; the other customer gets nothing.
    fn with_merge_notifies_customer_the_merged_tickets_customer_is_told(b) {
        let mut d = Desk {
            env: Env::with_config(b, TEAM, "[lifecycle]\nmerge_notifies_customer = true\n"),
            seen: 0,
        };
        d.open("Amy <amy@customer.test>", "Printer", "n1@customer.test", "");
        d.open("Ben <ben@other.test>", "Printer too", "n2@other.test", "");
        d.flush();
        let (ok, out) = d.merge(&["MR-2", "--into", "MR-1", "--force"]);
        assert!(ok, "{out}");
        let sent = d.flush();
        let to_ben: Vec<&ParsedMail> = sent.iter().map(|(_, m)| m).filter(|m| m.to.iter().any(|t| t.email == "ben@other.test")).collect();
        assert_eq!(to_ben.len(), 1, "{:?}", names(&sent));
        let notice = to_ben[0];
        assert!(notice.text.contains("Hello Ben,"), "{}", notice.text);
        assert!(notice.text.contains("your request MR-2 is now handled together with MR-1"), "{}", notice.text);
        assert!(notice.text.contains("Printer too"), "{}", notice.text);
        assert_eq!(notice.in_reply_to, ["n2@other.test"], "threaded in Ben's conversation");
        // Only IDs of Ben's side: never a notification's or another ticket's.
        assert!(notice.references.iter().all(|r| r == "n2@other.test" || r.starts_with("mr.ack.")), "{:?}", notice.references);
        assert!(!notice.text.contains("Amy") && !notice.text.contains("amy@customer.test"), "{}", notice.text);
        assert!(sent.iter().all(|(_, m)| m.to.iter().all(|t| t.email != "amy@customer.test")), "{:?}", names(&sent));
    }

    /// Only a proven agent's answer merges or splits: Amy writing the
    /// commands on top of her answer, and a mail with Bob's From and the
    /// notification's Message-ID but not its reply address, change nothing.
    fn the_customer_side_or_a_forged_owner_merges_and_splits_nothing(b) {
        let mut d = Desk::new(b);
        d.open("Amy <amy@customer.test>", "Invoice wrong", "h1@customer.test", "");
        d.open("Amy <amy@customer.test>", "Invoice again", "h2@customer.test", "");
        let sent = d.flush();
        let ack = Desk::newest(&sent, "MR-2", "ack");
        let notif = Desk::newest(&sent, "MR-2", "notification");
        let amy = format!(
            "From: Amy <amy@customer.test>\r\nTo: support@example.test\r\nSubject: Re: {}\r\nMessage-ID: <h3@customer.test>\r\nIn-Reply-To: <{}>\r\nReferences: <{}>\r\nDate: Mon, 30 Nov 2026 11:00:00 +0000\r\n\r\n#merge MR-1 force\r\n#split\r\n\r\nPlease merge.\r\n",
            ack.subject, ack.message_id, ack.message_id
        );
        let o = d.env.ingest(&amy);
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-2")), "{o}");
        let forged = format!(
            "From: Bob <bob@example.test>\r\nTo: support@example.test\r\nSubject: Re: {}\r\nMessage-ID: <h4@evil.test>\r\nIn-Reply-To: <{}>\r\nReferences: <{}>\r\nDate: Mon, 30 Nov 2026 11:05:00 +0000\r\n\r\n#merge MR-1 force\r\n#split\r\n",
            notif.subject, notif.message_id, notif.message_id
        );
        let o = d.env.ingest(&forged);
        assert_ne!(o["outcome"], "agent_reply", "{o}");
        let two = d.env.ticket("MR-2");
        assert_eq!(two["status"], "open");
        assert!(two["merged_into"].is_null(), "{two}");
        assert!(d.env.ticket("MR-1")["aliases"].as_array().expect("aliases").is_empty());
        assert_eq!(d.env.count("SELECT COUNT(*) FROM tickets"), 2, "nothing split off");
        let ev = events_text(&two);
        assert!(!ev.contains("merged into") && !ev.contains("split off"), "{ev}");
        assert!(ev.contains("not through its reply address"), "the forgery is named: {ev}");
    }
}
