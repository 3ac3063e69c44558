//! Every voice on a ticket (issue 19): the customer, the people on their side,
//! the owner, colleagues, outsiders and machines each speak with their own
//! rights, and nothing internal reaches the customer's side. Then one test
//! per attack: each asserts that nothing is relayed, no command acts, and the
//! ticket's events say why. Both backends, through the real binary.

use mailroom::mail::ParsedMail;
use serde_json::Value;

use crate::both_backends;
use crate::relay::{Style, agent_reply, find, reply_address, reply_body, sent_since};
use crate::support::*;

/// Bob owns billing tickets (the default owner); Tess is a colleague in
/// billing; SLA clocks run on every ticket.
pub const TEAM: &str = r#"
[mailroom]
support_address = "support@example.test"
support_name = "Example Support"
ticket_prefix = "MR"
default_owner = "bob@example.test"
default_area = "billing"

[[agent]]
email = "bob@example.test"
name = "Bob"
areas = ["billing"]

[[agent]]
email = "tess@example.test"
name = "Tess"
areas = ["billing"]

[sla.normal]
first_response = "4h"
next_response = "8h"
resolution = "3d"
"#;

const STAFF: &[&str] = &["bob@example.test", "tess@example.test"];

/// A ticket opened by Alice (Cc Dan) and its state after each step.
struct Desk {
    env: Env,
    /// Outbox files read so far.
    seen: usize,
    /// Every mail the outbox wrote, in order.
    sent: Vec<(String, ParsedMail)>,
}

impl Desk {
    fn open(b: Backend, extra: &str) -> Desk {
        let env = Env::with_config(b, TEAM, extra);
        let o = env.ingest(&mail(
            "Alice Example <alice@customer.test>",
            "Invoice charged twice",
            "a1@customer.test",
            "Cc: Dan <dan@customer.test>\r\n",
            "I was charged twice for November.",
        ));
        assert_eq!(o["outcome"], "created");
        let mut d = Desk {
            env,
            seen: 0,
            sent: Vec::new(),
        };
        d.flush();
        d
    }

    /// Flushes the outbox; returns the mails written now.
    fn flush(&mut self) -> Vec<(String, ParsedMail)> {
        let new = sent_since(&self.env, self.seen);
        self.seen += new.len();
        self.sent.extend(new.iter().cloned());
        new
    }

    /// The newest notification to `agent` on any ticket.
    fn notification_to(&self, agent: &str) -> ParsedMail {
        self.sent
            .iter()
            .rev()
            .filter(|(n, m)| n.ends_with("-notification.eml") && m.to[0].email == agent)
            .map(|(_, m)| m.clone())
            .next()
            .unwrap_or_else(|| panic!("a notification to {agent}"))
    }

    fn ticket(&self) -> Value {
        self.env.ticket("MR-1")
    }

    /// The ticket's fields a mail might change, to compare before and after.
    fn state(&self) -> Value {
        let t = self.ticket();
        serde_json::json!([
            t["status"],
            t["priority"],
            t["owner"],
            t["tags"],
            t["next_response_due"],
            t["first_response_at"],
            t["participants"]
        ])
    }

    /// Ingests `raw`; asserts it caused no relay and changed nothing a
    /// command or the customer's side could change, and that an event holds
    /// `why`. Returns the outcome.
    fn attack(&mut self, raw: &str, why: &str) -> Value {
        let before = self.state();
        let o = self.env.ingest(raw);
        let sent = self.flush();
        assert!(find(&sent, "relay").is_empty(), "nothing is relayed: {o}");
        assert_eq!(
            self.state(),
            before,
            "no command acted and nothing moved: {o}"
        );
        let ev = events_text(&self.ticket());
        assert!(ev.contains(why), "the event says {why:?}:\n{ev}");
        o
    }
}

/// The last inbound message of the ticket whose From is `from`.
fn last_from<'t>(t: &'t Value, from: &str) -> &'t Value {
    messages(t)
        .iter()
        .rev()
        .find(|m| m["direction"] == "in" && m["from"] == from)
        .unwrap_or_else(|| panic!("a message from {from}"))
}

fn kind_and_role(m: &Value) -> (&str, &str) {
    (
        m["kind"].as_str().unwrap_or("?"),
        m["role"].as_str().unwrap_or("?"),
    )
}

/// A mail from `from` answering `to_id`, with `extra` headers.
fn answer(from: &str, id: &str, to_id: &str, extra: &str, body: &str) -> String {
    mail(
        from,
        "Re: Invoice charged twice [MR-1]",
        id,
        &format!("In-Reply-To: <{to_id}>\r\nReferences: <a1@customer.test> <{to_id}>\r\n{extra}"),
        body,
    )
}

/// Every Message-ID of internal mail on every ticket (notifications,
/// explanations, agents' replies and notes).
pub fn internal_ids(env: &Env) -> Vec<String> {
    env.strings(
        "SELECT message_id FROM messages WHERE kind IN ('notification', 'system', 'agent', 'note', 'digest')",
    )
}

/// The canary over headers: no mail to the customer's side (acks, relays)
/// carries an internal Message-ID, a reply token, a staff address or the
/// reply marker in any header or body. Returns how many mails it checked.
pub fn assert_customer_mail_clean(
    env: &Env,
    sent: &[(String, ParsedMail)],
    staff: &[&str],
) -> usize {
    let internal: std::collections::HashSet<String> = internal_ids(env).into_iter().collect();
    // The Message-IDs a text names: whatever sits between angle brackets.
    let named = |text: &str| -> Vec<String> {
        text.split('<')
            .skip(1)
            .filter_map(|p| p.split_once('>').map(|(id, _)| id.trim().to_string()))
            .collect()
    };
    let mut checked = 0;
    let mut leaks = Vec::new();
    for (name, m) in sent {
        if !(name.ends_with("-ack.eml") || name.ends_with("-relay.eml")) {
            continue;
        }
        checked += 1;
        let headers: Vec<String> = m.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let body = format!("{}\n{}", m.text, m.html.as_deref().unwrap_or(""));
        for h in &headers {
            let lower = h.to_ascii_lowercase();
            for id in named(h) {
                if internal.contains(&id) {
                    leaks.push(format!(
                        "{name}: internal Message-ID <{id}> in header {h:?}"
                    ));
                }
            }
            if lower.contains("support+") {
                leaks.push(format!("{name}: a reply token in header {h:?}"));
            }
            for s in staff {
                if lower.contains(s) {
                    leaks.push(format!("{name}: staff address in header {h:?}"));
                }
            }
        }
        let lower = body.to_ascii_lowercase();
        for needle in staff.iter().copied().chain(["##-", "support+"]) {
            if lower.contains(needle) {
                leaks.push(format!("{name}: {needle:?} in the body"));
            }
        }
        for id in named(&body) {
            if internal.contains(&id) {
                leaks.push(format!("{name}: internal Message-ID <{id}> in the body"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    checked
}

both_backends! {
    fn each_role_has_its_rights(b) {
        let mut d = Desk::open(b, "");
        let n1 = d.notification_to("bob@example.test");
        let token_to = reply_address(&n1);
        assert!(token_to.starts_with("support+mr-1-"), "{token_to}");
        assert_eq!(n1.from.email, "support@example.test", "the From stays the support address");

        // Owner: relayed, the ticket waits for the customer.
        let r1 = agent_reply("Bob <bob@example.test>", &n1, "b1@example.test",
            &reply_body("Hello Alice, we refund the second charge.", &n1, Style::Gmail), "");
        assert_eq!(d.env.ingest(&r1)["outcome"], "agent_reply");
        let sent = d.flush();
        assert_eq!(find(&sent, "relay").len(), 1);
        let t = d.ticket();
        assert_eq!(t["status"], "pending");
        assert!(t["first_response_at"].is_string());
        assert!(t["next_response_due"].is_null(), "nobody waits for support");
        assert_eq!(kind_and_role(last_from(&t, "bob@example.test")), ("agent", "owner"));

        // Colleague: Bob forwarded the notification to Tess; she answers it.
        let tess = answer("Tess <tess@example.test>", "t1@example.test", &n1.message_id,
            "Cc: Bob <bob@example.test>\r\n", "#close\r\nBob, I think it is the SSO certificate.");
        let o = d.env.ingest(&tess);
        assert_eq!(o["outcome"], "appended");
        assert!(o["reason"].as_str().unwrap_or("").contains("internal note by tess@example.test (colleague)"), "{o}");
        let sent = d.flush();
        assert!(find(&sent, "relay").is_empty() && find(&sent, "ack").is_empty(), "never relayed, never acknowledged");
        let t = d.ticket();
        assert_eq!(t["status"], "pending", "a colleague's note reopens nothing (and runs no #close)");
        assert!(t["next_response_due"].is_null(), "no clock starts");
        let m = last_from(&t, "tess@example.test");
        assert_eq!(kind_and_role(m), ("note", "colleague"));
        assert_eq!(m["internal"], true);
        let told = find(&sent, "notification");
        assert_eq!(told.len(), 1, "the owner is notified of the note");
        assert_eq!(told[0].to[0].email, "bob@example.test");
        assert_eq!(told[0].from.name.as_deref(), Some("Tess via Example Support"), "the notification says who wrote");
        assert!(told[0].text.contains("tess@example.test (colleague) wrote an internal note on MR-1"), "{}", told[0].text);
        assert!(told[0].text.contains("SSO certificate"), "{}", told[0].text);

        // Third party: a contractor answers the forwarded notification.
        let carl = answer("Carl <carl@contractor.test>", "c1@contractor.test", &n1.message_id, "", "#cc carl@contractor.test\r\nPatched on our side.");
        assert_eq!(d.env.ingest(&carl)["outcome"], "appended");
        let sent = d.flush();
        assert!(find(&sent, "relay").is_empty() && find(&sent, "ack").is_empty());
        let t = d.ticket();
        assert_eq!(kind_and_role(last_from(&t, "carl@contractor.test")), ("note", "third_party"));
        assert_eq!(t["status"], "pending");
        assert!(!t["participants"].to_string().contains("carl@"), "an outsider joins no conversation: {}", t["participants"]);
        assert!(find(&sent, "notification")[0].text.contains("carl@contractor.test (third party) wrote an internal note"));

        // Participant: Dan, in the customer's Cc, answers the relay.
        let relay1 = find(&d.sent, "relay")[0].clone();
        let dan = answer("Dan <dan@customer.test>", "d1@customer.test", &relay1.message_id, "", "It is still charged twice on my card.");
        assert_eq!(d.env.ingest(&dan)["outcome"], "appended");
        let sent = d.flush();
        let t = d.ticket();
        assert_eq!(kind_and_role(last_from(&t, "dan@customer.test")), ("customer", "participant"));
        assert_eq!(t["status"], "open", "the customer's side reopens");
        assert!(t["next_response_due"].is_string(), "and starts the next-response clock");
        assert!(events_text(&t).contains("pending -> open: dan@customer.test (participant) wrote again"), "{}", events_text(&t));
        assert!(find(&sent, "notification")[0].text.contains("dan@customer.test (on the customer's side) wrote again"));

        // The owner answers again: In-Reply-To is the customer side's latest
        // mail (Dan's), never Tess's or Carl's.
        let n2 = d.notification_to("bob@example.test");
        let r2 = agent_reply("bob@example.test", &n2, "b2@example.test", &reply_body("Dan, the refund is on its way.", &n2, Style::Outlook), "");
        assert_eq!(d.env.ingest(&r2)["outcome"], "agent_reply");
        let sent = d.flush();
        let relay2 = find(&sent, "relay")[0].clone();
        assert_eq!(relay2.in_reply_to, ["d1@customer.test"]);
        assert!(relay2.references.contains(&relay1.message_id), "{:?}", relay2.references);
        assert_eq!(d.ticket()["status"], "pending");

        // System: Alice's out-of-office changes nothing.
        let oof = answer("alice@customer.test", "o1@customer.test", &relay2.message_id, "Auto-Submitted: auto-replied\r\n", "I am away until Monday.");
        assert_eq!(d.env.ingest(&oof)["outcome"], "autoreply");
        let t = d.ticket();
        assert_eq!(kind_and_role(last_from(&t, "alice@customer.test")), ("autoreply", "system"));
        assert_eq!(t["status"], "pending");

        // Customer: Alice writes again.
        let alice = answer("alice@customer.test", "a2@customer.test", &relay2.message_id, "", "Thanks, received.");
        assert_eq!(d.env.ingest(&alice)["outcome"], "appended");
        let t = d.ticket();
        assert_eq!(kind_and_role(last_from(&t, "alice@customer.test")), ("customer", "customer"));
        assert_eq!(t["status"], "open");
        let roles: Vec<&str> = messages(&t).iter().filter(|m| m["direction"] == "in").map(|m| m["role"].as_str().unwrap_or("-")).collect();
        assert_eq!(roles, ["customer", "owner", "colleague", "third_party", "participant", "owner", "system", "customer"]);

        // Nothing internal in any mail the customer's side got.
        d.flush();
        assert_eq!(assert_customer_mail_clean(&d.env, &d.sent, STAFF), 3, "one ack and two relays checked");
        // `tickets show` marks roles and internal mail.
        let shown = d.env.run_ok(&["tickets", "show", "MR-1"]);
        assert!(shown.contains("[note, colleague, internal] "), "{shown}");
        assert!(shown.contains("[customer, participant] "), "{shown}");
    }

    /// The attack of issue 19's opening: a colleague's note, the owner's
    /// relay, then someone on the customer's side sends `From: Bob` with
    /// every Message-ID the customer's side ever received. On the main of
    /// 2026-12-06 the relay handed out the notification's ID and this mail
    /// was taken as Bob's.
    fn a_spoofed_owner_with_every_id_the_customer_saw_acts_as_nobody(b) {
        let mut d = Desk::open(b, "");
        let n1 = d.notification_to("bob@example.test");
        let tess = answer("tess@example.test", "t1@example.test", &n1.message_id, "", "Bob, I think it is the SSO certificate.");
        d.env.ingest(&tess);
        let r1 = agent_reply("bob@example.test", &n1, "b1@example.test", &reply_body("Hello Alice, fixed.", &n1, Style::Gmail), "");
        assert_eq!(d.env.ingest(&r1)["outcome"], "agent_reply");
        d.flush();
        // Every ID in every header of every mail the customer's side received.
        let mut ids: Vec<String> = vec!["a1@customer.test".into()];
        for (name, m) in &d.sent {
            if name.ends_with("-ack.eml") || name.ends_with("-relay.eml") {
                ids.push(m.message_id.clone());
                ids.extend(m.in_reply_to.iter().cloned());
                ids.extend(m.references.iter().cloned());
            }
        }
        ids.sort();
        ids.dedup();
        let internal = internal_ids(&d.env);
        assert!(internal.len() >= 3, "a notification, Tess's note and Bob's reply: {internal:?}");
        for id in &ids {
            assert!(!internal.contains(id), "<{id}> is internal and reached the customer");
        }
        let refs = ids.iter().map(|i| format!("<{i}>")).collect::<Vec<_>>().join(" ");
        let relay = find(&d.sent, "relay")[0].message_id.clone();
        let forged = mail("Bob <bob@example.test>", "Re: Invoice charged twice [MR-1]", "f1@evil.test",
            &format!("In-Reply-To: <{relay}>\r\nReferences: {refs}\r\n"),
            "#cc mallory@evil.test\r\n#priority low\r\nPlease pay the fee at http://evil.test/pay");
        let o = d.attack(&forged, "bob@example.test is on the roster, but the mail answers no notification sent to them");
        assert_eq!(o["outcome"], "appended");
        assert_eq!(kind_and_role(last_from(&d.ticket(), "bob@example.test")), ("note", "colleague"));
    }

    /// A leaked notification ID is not enough either: the reply must come
    /// back through the notification's Reply-To token. The real Bob is told.
    fn a_leaked_notification_id_without_its_reply_token_acts_as_nobody(b) {
        let mut d = Desk::open(b, "");
        let n1 = d.notification_to("bob@example.test");
        let forged = agent_reply("Bob <bob@example.test>", &n1, "f2@evil.test",
            &reply_body("#close\r\nPlease pay at http://evil.test/pay", &n1, Style::Gmail), "")
            .replace(&format!("To: {}", reply_address(&n1)), "To: support@example.test");
        d.attack(&forged, "not through its reply address");
        let sent = d.sent.clone();
        let told = find(&sent, "system");
        assert_eq!(told.len(), 1, "one explanation to the real Bob");
        assert_eq!(told[0].to[0].email, "bob@example.test");
        assert!(told[0].text.contains("not sent to the customer"), "{}", told[0].text);
        // A token of another mail does not fit either.
        let other = agent_reply("bob@example.test", &n1, "f3@evil.test", &reply_body("#close", &n1, Style::Gmail), "")
            .replace(&reply_address(&n1), "support+mr-1-00000000000000000000000000000000@example.test");
        d.attack(&other, "not through its reply address");
    }

    fn a_cc_participant_cannot_command(b) {
        let mut d = Desk::open(b, "");
        let ack = find(&d.sent, "ack")[0].clone();
        let dan = answer("dan@customer.test", "d1@customer.test", &ack.message_id, "",
            "#close\r\n#cc eve@evil.test\r\n#priority urgent\r\nPlease close this.");
        let o = d.env.ingest(&dan);
        assert_eq!(o["outcome"], "appended");
        let sent = d.flush();
        assert!(find(&sent, "relay").is_empty());
        let t = d.ticket();
        assert_eq!((t["status"].as_str(), t["priority"].as_str()), (Some("open"), Some("normal")), "no command ran");
        assert!(!t["participants"].to_string().contains("eve@"), "{}", t["participants"]);
        assert_eq!(kind_and_role(last_from(&t, "dan@customer.test")), ("customer", "participant"));
        assert!(events_text(&t).contains("follow-up from dan@customer.test (participant)"), "{}", events_text(&t));
    }

    fn a_customer_quoting_a_notification_is_still_the_customer(b) {
        let mut d = Desk::open(b, "");
        let n1 = d.notification_to("bob@example.test");
        // Suppose the notification reached Alice (an agent forwarded it):
        // she answers it, commands and marker included.
        let quoted = agent_reply("Alice <alice@customer.test>", &n1, "a9@customer.test",
            &reply_body("#close\r\n#assign tess@example.test\r\nSo who is handling this?", &n1, Style::Gmail), "");
        let before = d.state();
        let o = d.env.ingest(&quoted);
        assert_eq!(o["outcome"], "appended");
        let sent = d.flush();
        assert!(find(&sent, "relay").is_empty());
        let t = d.ticket();
        assert_eq!(t["owner"], before[2], "no #assign");
        assert_eq!(t["status"], "open", "no #close");
        assert_eq!(kind_and_role(last_from(&t, "alice@customer.test")), ("customer", "customer"));
        assert!(events_text(&t).contains("alice@customer.test (customer) refers to internal mail: handled as the customer side's mail, no commands run"), "{}", events_text(&t));
        // Bob answers her: the notification's ID in her References is not
        // echoed back (a relay threads under her mail with the IDs her side
        // wrote or was sent).
        let n2 = d.notification_to("bob@example.test");
        let r = agent_reply("bob@example.test", &n2, "b4@example.test", &reply_body("I am, Alice.", &n2, Style::Gmail), "");
        assert_eq!(d.env.ingest(&r)["outcome"], "agent_reply");
        let sent = d.flush();
        let relay = find(&sent, "relay")[0].clone();
        assert_eq!(relay.in_reply_to, ["a9@customer.test"]);
        assert!(!relay.references.contains(&n1.message_id), "{:?}", relay.references);
        assert_customer_mail_clean(&d.env, &d.sent, STAFF);
    }

    fn the_owner_from_an_alias_off_the_roster_is_a_third_party(b) {
        let mut d = Desk::open(b, "");
        let n1 = d.notification_to("bob@example.test");
        // Bob's private address, through the notification's own reply token.
        let alias = agent_reply("Bob <bob.private@home.test>", &n1, "p1@home.test",
            &reply_body("#close\r\nAlice, all done.", &n1, Style::Apple), "");
        let o = d.attack(&alias, "internal note by bob.private@home.test (third_party)");
        assert_eq!(o["outcome"], "appended");
        assert_eq!(kind_and_role(last_from(&d.ticket(), "bob.private@home.test")), ("note", "third_party"));
    }

    fn a_reply_to_another_tickets_notification_proves_nothing_here(b) {
        let mut d = Desk::open(b, "");
        let n1 = d.notification_to("bob@example.test");
        d.env.ingest(&mail("zed@other.test", "Password reset", "z1@other.test", "", "Reset please."));
        d.flush();
        let n2 = d.notification_to("bob@example.test");
        assert!(n2.subject.contains("MR-2"), "{}", n2.subject);
        // In-Reply-To MR-2's notification, but MR-1's reply token and tag:
        // a mix of two proofs is none.
        let mixed = agent_reply("bob@example.test", &n2, "m1@example.test", &reply_body("#close\r\nDone.", &n2, Style::Gmail), "")
            .replace(&reply_address(&n2), &reply_address(&n1))
            .replace("MR-2", "MR-1");
        let before2 = d.env.ticket("MR-2")["status"].clone();
        d.env.ingest(&mixed);
        let sent = d.flush();
        assert!(find(&sent, "relay").is_empty());
        assert_eq!(d.env.ticket("MR-2")["status"], before2);
        assert_eq!(d.ticket()["status"], "open");
        assert!(events_text(&d.env.ticket("MR-2")).contains("not through its reply address"), "{}", events_text(&d.env.ticket("MR-2")));
        // Bob's real answer to MR-2 acts on MR-2 only.
        let real = agent_reply("bob@example.test", &n2, "m2@example.test", &reply_body("Zed, reset done.", &n2, Style::Gmail), "");
        assert_eq!(d.env.ingest(&real)["ref"], "MR-2");
        assert_eq!(d.ticket()["status"], "open");
    }

    fn forged_authentication_results_prove_nothing(b) {
        let mut d = Desk::open(b, "[security]\ntrusted_authserv_ids = [\"mx.example.test\"]\n");
        let n1 = d.notification_to("bob@example.test");
        let body = reply_body("#close\r\nAlice, fixed.", &n1, Style::Gmail);
        for (i, header) in [
            "Authentication-Results: mx.evil.test; dmarc=pass header.from=example.test\r\n",
            "Authentication-Results: mx.example.test; dmarc=pass header.from=evil.test\r\n",
            "Authentication-Results: mx.example.test; dkim=pass header.d=evil.test; dmarc=fail header.from=example.test\r\n",
        ].iter().enumerate() {
            let forged = agent_reply("bob@example.test", &n1, &format!("fa{i}@evil.test"), &body, header);
            d.attack(&forged, "the sender is not authenticated");
        }
        let genuine = agent_reply("bob@example.test", &n1, "ok1@example.test", &body,
            "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=example.test; dmarc=pass header.from=example.test\r\n");
        assert_eq!(d.env.ingest(&genuine)["outcome"], "agent_reply");
        assert_eq!(d.ticket()["status"], "resolved");
    }

    /// `[[area]] notify = "area"`: every agent of the area gets the new
    /// ticket's notification and may answer it; `#take` makes them the owner.
    fn an_area_colleague_answers_and_takes_the_ticket(b) {
        let mut d = Desk::open(b, "[[area]]\nname = \"billing\"\nnotify = \"area\"\n");
        let to_bob = d.notification_to("bob@example.test");
        let to_tess = d.notification_to("tess@example.test");
        assert_ne!(reply_address(&to_bob), reply_address(&to_tess), "a token per agent");
        assert_eq!(d.ticket()["owner"], "bob@example.test");
        let r = agent_reply("Tess <tess@example.test>", &to_tess, "t5@example.test",
            &reply_body("#take\r\nHello Alice, I am on it.", &to_tess, Style::Gmail), "");
        assert_eq!(d.env.ingest(&r)["outcome"], "agent_reply");
        let sent = d.flush();
        let relay = find(&sent, "relay");
        assert_eq!(relay.len(), 1);
        assert_eq!(relay[0].from.name.as_deref(), Some("Tess at Example Support"));
        let t = d.ticket();
        assert_eq!(t["owner"], "tess@example.test");
        assert_eq!(kind_and_role(last_from(&t, "tess@example.test")), ("agent", "colleague"));
        assert!(events_text(&t).contains("#take by tess@example.test: owner bob@example.test -> tess@example.test"), "{}", events_text(&t));
        // Tess's notification cannot be used by Bob: it was not sent to him.
        let stolen = agent_reply("bob@example.test", &to_tess, "b9@example.test", &reply_body("#close", &to_tess, Style::Gmail), "");
        d.attack(&stolen, "bob@example.test is on the roster, but the mail answers no notification sent to them");
        assert_customer_mail_clean(&d.env, &d.sent, STAFF);
    }

    fn note_text_on_the_command_line(b) {
        let mut d = Desk::open(b, "");
        let n1 = d.notification_to("bob@example.test");
        let r = agent_reply("bob@example.test", &n1, "b3@example.test",
            &reply_body("#note Customer is on the legacy plan, call Monday.", &n1, Style::Gmail), "");
        assert_eq!(d.env.ingest(&r)["outcome"], "agent_reply");
        let sent = d.flush();
        assert!(find(&sent, "relay").is_empty());
        let t = d.ticket();
        assert_eq!(kind_and_role(last_from(&t, "bob@example.test")), ("note", "owner"));
        assert_eq!(t["status"], "open");
        assert!(events_text(&t).contains("nothing relayed to the customer: #note"), "{}", events_text(&t));
    }

    fn inspect_tells_the_role_it_would_give(b) {
        let env = Env::with_config(b, TEAM, "");
        let tess_file = env.path("tess.eml");
        std::fs::write(&tess_file, answer("tess@example.test", "t1@example.test", "n-unknown@example.test", "", "Hi")).expect("write");
        let tess_file = tess_file.display().to_string();
        if b == Backend::Sqlite {
            // No database yet: none is created, and the role is unknown.
            let i: Value = serde_json::from_str(&env.run_ok(&["inspect", "--json", &tess_file])).expect("json");
            assert!(i["role"].is_null(), "{i}");
            assert!(i["role_reason"].as_str().unwrap_or("").contains("no database"), "{i}");
            assert!(!env.path("mailroom.db").exists(), "inspect stores nothing");
        }
        let mut d = Desk { env, seen: 0, sent: Vec::new() };
        d.env.ingest(&mail("Alice <alice@customer.test>", "Invoice charged twice", "a1@customer.test", "", "Charged twice."));
        d.flush();
        let n1 = d.notification_to("bob@example.test");
        let write = |name: &str, raw: String| {
            let p = d.env.path(name);
            std::fs::write(&p, raw).expect("write");
            p.display().to_string()
        };
        let cases = [
            (write("c.eml", answer("tess@example.test", "t2@example.test", &n1.message_id, "", "Bob, SSO?")), "colleague"),
            (write("o.eml", agent_reply("bob@example.test", &n1, "b2@example.test", &reply_body("Done.", &n1, Style::Gmail), "")), "owner"),
            (write("v.eml", answer("carl@contractor.test", "c2@contractor.test", &n1.message_id, "", "Patched.")), "third_party"),
            (write("a.eml", answer("alice@customer.test", "a3@customer.test", "a1@customer.test", "", "Any news?")), "customer"),
        ];
        for (file, role) in &cases {
            let i: Value = serde_json::from_str(&d.env.run_ok(&["inspect", "--json", file])).expect("json");
            assert_eq!(i["role"], *role, "{i}");
            assert_eq!(i["ticket"], "MR-1", "{i}");
            assert!(i["role_reason"].is_string(), "{i}");
        }
        // Nothing was stored by inspecting.
        assert_eq!(messages(&d.ticket()).iter().filter(|m| m["direction"] == "in").count(), 1);
        let text = d.env.run_ok(&["inspect", &cases[0].0]);
        assert!(text.contains("role:        colleague on MR-1"), "{text}");
    }
}
