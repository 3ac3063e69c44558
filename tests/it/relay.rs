//! Agents answer from their mail client (DESIGN §5): the reply to a
//! notification is relayed to the customer — only the agent's new words,
//! threaded into the customer's conversation — and commands on top change the
//! ticket. Both backends, through the real binary with the file transport.

use mailroom::mail::ParsedMail;

use crate::both_backends;
use crate::support::*;

/// The files the outbox wrote since `before` files were there.
pub fn sent_since(env: &Env, before: usize) -> Vec<(String, ParsedMail)> {
    env.flush_outbox().into_iter().skip(before).collect()
}

pub fn find<'a>(sent: &'a [(String, ParsedMail)], kind: &str) -> Vec<&'a ParsedMail> {
    sent.iter()
        .filter(|(n, _)| n.ends_with(&format!("-{kind}.eml")))
        .map(|(_, m)| m)
        .collect()
}

fn quoted(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                ">".to_string()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// How a mail client quotes the notification below the agent's words.
#[derive(Clone, Copy, Debug)]
pub enum Style {
    Gmail,
    Outlook,
    OutlookGerman,
    Apple,
    BottomPost,
}

pub const STYLES: &[Style] = &[
    Style::Gmail,
    Style::Outlook,
    Style::OutlookGerman,
    Style::Apple,
    Style::BottomPost,
];

/// The body of an agent's reply: `words` plus the notification quoted in `style`.
pub fn reply_body(words: &str, notif: &ParsedMail, style: Style) -> String {
    let from = "Alice via Example Support <support@example.test>";
    let to = notif
        .to
        .first()
        .map(|m| m.email.clone())
        .unwrap_or_default();
    let words = words.replace("\r\n", "\n").replace('\n', "\r\n");
    let text = notif.text.replace("\r\n", "\n").replace('\n', "\r\n");
    match style {
        Style::Gmail => format!(
            "{words}\r\n\r\nOn Mon, Nov 30, 2026 at 10:00 AM {from} wrote:\r\n\r\n{}\r\n",
            quoted(&text)
        ),
        Style::Outlook => format!(
            "{words}\r\n\r\n________________________________\r\nFrom: {from}\r\nSent: Monday, November 30, 2026 10:00 AM\r\nTo: Bob <{to}>\r\nSubject: {}\r\n\r\n{text}\r\n",
            notif.subject
        ),
        Style::OutlookGerman => format!(
            "{words}\r\n\r\n-----Ursprüngliche Nachricht-----\r\nVon: {from}\r\nGesendet: Montag, 30. November 2026 10:00\r\nAn: Bob <{to}>\r\nBetreff: {}\r\n\r\n{text}\r\n",
            notif.subject
        ),
        Style::Apple => format!(
            "{words}\r\n\r\n> On 30 Nov 2026, at 10:00, {from} wrote:\r\n> \r\n{}\r\n",
            quoted(&text)
        ),
        Style::BottomPost => format!(
            "On Mon, Nov 30, 2026 at 10:00 AM {from} wrote:\r\n{}\r\n\r\n{words}\r\n",
            quoted(&text)
        ),
    }
}

/// Where a mail client sends a reply to `m`: its Reply-To (for a
/// notification, the support address with its reply token).
pub fn reply_address(m: &ParsedMail) -> String {
    m.reply_to
        .as_ref()
        .map(|r| r.email.clone())
        .unwrap_or_else(|| m.from.email.clone())
}

/// An agent's reply to `notif`, as a mail client sends it (To: its Reply-To).
pub fn agent_reply(from: &str, notif: &ParsedMail, id: &str, body: &str, extra: &str) -> String {
    format!(
        "From: {from}\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <{id}>\r\nIn-Reply-To: <{}>\r\nReferences: <{}>\r\nDate: Mon, 30 Nov 2026 10:05:00 +0000\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}",
        reply_address(notif),
        notif.subject,
        notif.message_id,
        notif.message_id
    )
}

pub fn with_attachment(text_mail: &str, name: &str, data: &str) -> String {
    let (head, body) = text_mail.split_once("\r\n\r\n").expect("header/body split");
    let head = head.replace(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit",
        "Content-Type: multipart/mixed; boundary=\"AGENT\"",
    );
    format!(
        "{head}\r\n\r\n--AGENT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n--AGENT\r\nContent-Type: text/plain; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n{data}\r\n--AGENT--\r\n"
    )
}

/// A ticket from Alice (Cc Dan, an Outlook Thread-Index), its notification to Bob.
fn opened(env: &Env) -> ParsedMail {
    let o = env.ingest(&mail(
        "Alice Example <alice@customer.test>",
        "Re: RE: Printer on fire",
        "p1@customer.test",
        "Cc: Dan <dan@customer.test>, Erin <erin@example.test>\r\nReferences: <p0@customer.test>\r\nThread-Index: AQHZ0x5Tq7Vd8c9eQ0uKf2pCq3lX0g==\r\nThread-Topic: Printer on fire\r\n",
        "It burns.\r\nPlease help.",
    ));
    assert_eq!(o["outcome"], "created");
    let sent = sent_since(env, 0);
    let notif = find(&sent, "notification");
    assert_eq!(notif.len(), 1);
    notif[0].clone()
}

both_backends! {
    fn agent_answer_is_relayed_to_the_customer(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        // The marker is the notification's first line, in text and HTML.
        assert_eq!(notif.text.lines().next(), Some("##- Reply above this line to answer MR-1 -##"), "{}", notif.text);
        assert!(notif.html.as_deref().unwrap_or("").contains("##- Reply above this line to answer MR-1 -##"));
        let before = env.flush_outbox().len();

        let body = reply_body("#priority high\r\n\r\nHello Alice,\r\n\r\nunplug it first, then call us.\r\n\r\nBob", &notif, Style::Gmail);
        let raw = with_attachment(&agent_reply("Bob <bob@example.test>", &notif, "r1@example.test", &body, ""), "steps.txt", "1. unplug\r\n2. wait");
        let o = env.ingest(&raw);
        assert_eq!(o["outcome"], "agent_reply", "{o}");
        assert_eq!(o["ref"], "MR-1");
        let t = env.ticket("MR-1");
        assert_eq!(t["priority"], "high");
        assert_eq!(t["status"], "pending");
        assert!(t["first_response_at"].is_null(), "counted once the relay is delivered");
        let ev = events_text(&t);
        assert!(ev.contains("command: #priority high by bob@example.test: priority normal -> high"), "{ev}");
        assert!(ev.contains("status: status open -> pending"), "{ev}");
        assert!(ev.contains("relay: answer by bob@example.test relayed to alice@customer.test, dan@customer.test as <mr.r."), "{ev}");

        let sent = sent_since(&env, before);
        let t = env.ticket("MR-1");
        assert!(t["first_response_at"].is_string(), "the relay was delivered (written out)");
        assert!(events_text(&t).contains("> delivered at "), "{}", events_text(&t));
        let relays = find(&sent, "relay");
        assert_eq!(relays.len(), 1, "{:?}", sent.iter().map(|(n, _)| n).collect::<Vec<_>>());
        let r = relays[0];
        assert_eq!(r.from.email, "support@example.test");
        assert_eq!(r.from.name.as_deref(), Some("Bob at Example Support"));
        assert_eq!(r.reply_to.as_ref().map(|m| m.email.as_str()), Some("support@example.test"));
        assert_eq!(r.to.iter().map(|m| m.email.as_str()).collect::<Vec<_>>(), ["alice@customer.test"]);
        assert_eq!(r.cc.iter().map(|m| m.email.as_str()).collect::<Vec<_>>(), ["dan@customer.test"], "never another agent");
        assert_eq!(r.subject, "Re: Printer on fire [MR-1]", "no Re: pile-up");
        assert_eq!(r.in_reply_to, ["p1@customer.test"]);
        assert_eq!(r.references, ["p0@customer.test", "p1@customer.test"]);
        assert!(r.auto.auto_submitted.is_none(), "a person's answer is not automatic");
        assert_eq!(r.header("Thread-Topic"), Some("Printer on fire"));
        let index = r.header("Thread-Index").expect("Thread-Index");
        assert!(index.len() > "AQHZ0x5Tq7Vd8c9eQ0uKf2pCq3lX0g==".len());
        assert!(r.text.contains("unplug it first, then call us."), "{}", r.text);
        for leaked in ["##-", "#priority", "Priority:", "bob@example.test", "It burns", "wrote:"] {
            assert!(!r.text.contains(leaked), "{leaked:?} leaked into the relay:\n{}", r.text);
        }
        assert!(r.html.is_none(), "the agent wrote plain text: no HTML part");
        assert_eq!(r.attachments.len(), 1);
        assert_eq!(r.attachments[0].filename.as_deref(), Some("steps.txt"));
        // Shown on the ticket as kind relay, with the agent's words.
        let t = env.ticket("MR-1");
        let relay = messages(&t).iter().find(|m| m["kind"] == "relay").expect("relay message");
        assert_eq!(relay["direction"], "out");
        assert!(relay["text"].as_str().unwrap_or("").contains("unplug it first"));
    }

    fn notes_and_command_only_replies_relay_nothing(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        let note = agent_reply("bob@example.test", &notif, "n1@example.test",
            &reply_body("#note\r\n#tag vip\r\nCustomer is on the legacy plan, internal only.", &notif, Style::Outlook), "");
        assert_eq!(env.ingest(&note)["outcome"], "agent_reply");
        let t = env.ticket("MR-1");
        assert!(kinds(&t).contains(&"note".to_string()));
        assert_eq!(t["status"], "open", "a note does not wait for the customer");
        assert_eq!(t["tags"], serde_json::json!(["vip"]));
        assert!(events_text(&t).contains("nothing relayed to the customer: #note"), "{}", events_text(&t));
        assert!(t["first_response_at"].is_null());

        let close = agent_reply("bob@example.test", &notif, "n2@example.test",
            &reply_body("#CLOSE", &notif, Style::Apple), "");
        let o = env.ingest(&close);
        assert_eq!(o["outcome"], "agent_reply");
        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "resolved");
        assert!(events_text(&t).contains("the reply holds only commands"), "{}", events_text(&t));
        let sent = sent_since(&env, before);
        assert!(find(&sent, "relay").is_empty(), "neither a note nor a command-only reply is relayed");
        assert!(find(&sent, "system").is_empty());
    }

    fn bad_commands_change_nothing_and_the_agent_is_told(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        let bad = agent_reply("bob@example.test", &notif, "c1@example.test",
            &reply_body("#priority asap\r\n#close\r\nDone, Alice!", &notif, Style::Gmail), "");
        let o = env.ingest(&bad);
        assert_eq!(o["outcome"], "agent_reply");
        assert!(o["reason"].as_str().unwrap_or("").contains("could not be used"), "{o}");
        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "open", "#close is not applied when another command is wrong");
        assert_eq!(t["priority"], "normal");
        let sent = sent_since(&env, before);
        assert!(find(&sent, "relay").is_empty());
        let explain = find(&sent, "system");
        assert_eq!(explain.len(), 1);
        let e = explain[0];
        assert_eq!(e.to[0].email, "bob@example.test");
        assert!(e.text.contains("#priority asap: unknown priority"), "{}", e.text);
        assert!(e.text.contains("#assign <agent email or name>"), "the accepted commands are listed: {}", e.text);
        assert_eq!(e.auto.auto_submitted.as_deref(), Some("auto-generated"));
        assert_eq!(e.in_reply_to, ["c1@example.test"]);

        // Answering the explanation counts as answering the ticket.
        let fixed = agent_reply("bob@example.test", e, "c2@example.test", &reply_body("#close\r\nDone, Alice!", e, Style::Gmail), "");
        assert_eq!(env.ingest(&fixed)["outcome"], "agent_reply");
        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "resolved");
        let sent = sent_since(&env, before);
        let relays = find(&sent, "relay");
        assert_eq!(relays.len(), 1);
        assert!(relays[0].text.contains("Done, Alice!"));
        assert!(!relays[0].text.contains("#close"));
    }

    fn empty_and_unmarked_interleaved_replies_are_not_relayed(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        // Only the quote: nothing of the agent's own.
        let empty = agent_reply("bob@example.test", &notif, "e1@example.test", &reply_body("", &notif, Style::Gmail), "");
        assert_eq!(env.ingest(&empty)["outcome"], "agent_reply");
        // Bottom-posted below the quoted notification: above the marker there is nothing.
        let bottom = agent_reply("bob@example.test", &notif, "e2@example.test", &reply_body("Answer below the quote.", &notif, Style::BottomPost), "");
        assert_eq!(env.ingest(&bottom)["outcome"], "agent_reply");
        let sent = sent_since(&env, before);
        assert!(find(&sent, "relay").is_empty());
        assert_eq!(find(&sent, "system").len(), 2, "the agent is told each time");
        assert!(find(&sent, "system")[0].text.contains("no text of its own"), "{}", find(&sent, "system")[0].text);
        assert_eq!(env.ticket("MR-1")["status"], "open");
    }

    fn outlook_quote_with_the_agents_address_never_leaks(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        for (i, style) in [Style::Outlook, Style::OutlookGerman, Style::Apple].into_iter().enumerate() {
            let raw = agent_reply("bob@example.test", &notif, &format!("o{i}@example.test"), &reply_body(&format!("Answer {i}."), &notif, style), "");
            assert_eq!(env.ingest(&raw)["outcome"], "agent_reply");
        }
        let sent = sent_since(&env, before);
        let relays = find(&sent, "relay");
        assert_eq!(relays.len(), 3);
        for (i, r) in relays.iter().enumerate() {
            assert!(r.text.contains(&format!("Answer {i}.")), "{}", r.text);
            let raw_text = format!("{}\n{}", r.text, r.html.as_deref().unwrap_or(""));
            for leaked in ["bob@example.test", "##-", "Gesendet", "Sent:", "Area:"] {
                assert!(!raw_text.contains(leaked), "{leaked:?} in relay {i}:\n{raw_text}");
            }
        }
    }

    fn html_reply_is_relayed_without_its_quote(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        let nhtml = notif.html.clone().unwrap_or_default();
        let html = format!("<div dir=\"ltr\"><p>Hello Alice, <b>try this</b>.</p></div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, Nov 30, 2026 at 10:00 AM Alice via Example Support &lt;support@example.test&gt; wrote:<br></div><blockquote class=\"gmail_quote\">{nhtml}</blockquote></div>");
        let text = reply_body("Hello Alice, *try this*.", &notif, Style::Gmail);
        let raw = format!(
            "From: Bob <bob@example.test>\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <h1@example.test>\r\nIn-Reply-To: <{}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=ALT\r\n\r\n--ALT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--ALT--\r\n",
            reply_address(&notif), notif.subject, notif.message_id
        );
        assert_eq!(env.ingest(&raw)["outcome"], "agent_reply");
        let sent = sent_since(&env, before);
        let relays = find(&sent, "relay");
        assert_eq!(relays.len(), 1);
        let h = relays[0].html.as_deref().expect("an HTML part: the agent wrote HTML");
        assert!(h.contains("<b>try this</b>"), "{h}");
        for leaked in ["gmail_quote", "##-", "Priority", "bob@example.test", "It burns"] {
            assert!(!h.contains(leaked), "{leaked:?} in {h}");
        }
    }

    fn attachments_already_on_the_ticket_are_not_sent_again(b) {
        let env = Env::new(b);
        let plain = mail("alice@customer.test", "Log attached", "l1@customer.test", "MIME-Version: 1.0\r\n", "see log")
            .replace("charset=utf-8\r\n", "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n");
        let customer = with_attachment(&plain, "app.log", "line 1");
        assert_eq!(env.ingest(&customer)["outcome"], "created");
        let sent = sent_since(&env, 0);
        let notif = find(&sent, "notification")[0].clone();
        assert_eq!(notif.attachments.len(), 1, "the notification carries the customer's file");
        let before = env.flush_outbox().len();
        // The agent's client forwards the customer's file along with a new one.
        let reply = with_attachment(&agent_reply("bob@example.test", &notif, "a1@example.test", &reply_body("Fixed, see the patch.", &notif, Style::Gmail), ""), "app.log", "line 1");
        let reply = reply.replace("--AGENT--", "--AGENT\r\nContent-Type: text/x-diff; name=\"fix.patch\"\r\nContent-Disposition: attachment; filename=\"fix.patch\"\r\n\r\n+fixed\r\n--AGENT--");
        assert_eq!(env.ingest(&reply)["outcome"], "agent_reply");
        let relays: Vec<ParsedMail> = find(&sent_since(&env, before), "relay").into_iter().cloned().collect();
        assert_eq!(relays.len(), 1);
        let names: Vec<_> = relays[0].attachments.iter().filter_map(|a| a.filename.clone()).collect();
        assert_eq!(names, ["fix.patch"]);
        assert!(events_text(&env.ticket("MR-1")).contains("not sent: app.log (already on the ticket)"));
    }

    fn customer_followup_is_threaded_for_the_owner(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        let followup = mail("alice@customer.test", "Re: Printer on fire [MR-1]", "p2@customer.test",
            "In-Reply-To: <p1@customer.test>\r\n",
            "Still burning!\r\n\r\nOn Mon, Nov 30, 2026 at 9:00 AM Alice wrote:\r\n> It burns.\r\n> Please help.");
        assert_eq!(env.ingest(&followup)["outcome"], "appended");
        let sent = sent_since(&env, before);
        let n = find(&sent, "notification");
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].in_reply_to, std::slice::from_ref(&notif.message_id), "threaded under the owner's previous notification");
        assert!(n[0].text.contains("Still burning!"), "{}", n[0].text);
        assert!(!n[0].text.contains("> It burns."), "{}", n[0].text);
        assert!(n[0].text.contains("earlier messages quoted below this point are hidden"), "{}", n[0].text);
    }

    fn assign_hands_over_and_tells_the_new_owner(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        let raw = agent_reply("bob@example.test", &notif, "s1@example.test", &reply_body("#assign Erin\r\n#cc Carla <carla@customer.test>\r\nErin will take it from here.", &notif, Style::Gmail), "");
        assert_eq!(env.ingest(&raw)["outcome"], "agent_reply");
        let t = env.ticket("MR-1");
        assert_eq!(t["owner"], "erin@example.test");
        let sent = sent_since(&env, before);
        let n = find(&sent, "notification");
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].to[0].email, "erin@example.test");
        assert!(n[0].text.contains("bob@example.test handed MR-1 over to you"), "{}", n[0].text);
        let r = find(&sent, "relay");
        assert_eq!(r.len(), 1);
        let cc: Vec<_> = r[0].cc.iter().map(|m| m.email.as_str()).collect();
        assert_eq!(cc, ["dan@customer.test", "carla@customer.test"]);
        // Erin can answer her own notification; Bob still can answer his.
        let erin = agent_reply("erin@example.test", n[0], "s2@example.test", &reply_body("Hi Alice, Erin here.", n[0], Style::Gmail), "");
        assert_eq!(env.ingest(&erin)["outcome"], "agent_reply");
    }

    fn agents_out_of_office_is_never_relayed(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        let ooo = agent_reply("bob@example.test", &notif, "ooo1@example.test", "I am out of the office until Monday.", "Auto-Submitted: auto-replied\r\n");
        assert_eq!(env.ingest(&ooo)["outcome"], "autoreply");
        assert!(find(&sent_since(&env, before), "relay").is_empty());
        assert_eq!(env.ticket("MR-1")["status"], "open");
    }

    fn trusted_authentication_results_are_required_when_configured(b) {
        let env = Env::with_config(b, BASE, "\n[security]\ntrusted_authserv_ids = [\"mx.example.test\"]\n");
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        let body = reply_body("Hello Alice, fixed.", &notif, Style::Gmail);
        // No Authentication-Results from the trusted server: customer mail.
        let unauth = agent_reply("bob@example.test", &notif, "t1@example.test", &body, "Authentication-Results: mx.evil.test; dmarc=pass header.from=example.test\r\n");
        assert_eq!(env.ingest(&unauth)["outcome"], "appended");
        assert!(events_text(&env.ticket("MR-1")).contains("the sender is not authenticated"), "{}", events_text(&env.ticket("MR-1")));
        let auth = agent_reply("bob@example.test", &notif, "t2@example.test", &body, "Authentication-Results: mx.example.test; spf=pass; dkim=pass header.d=example.test; dmarc=pass header.from=example.test\r\n");
        assert_eq!(env.ingest(&auth)["outcome"], "agent_reply");
        assert_eq!(find(&sent_since(&env, before), "relay").len(), 1);
    }
}

#[test]
fn inspect_shows_what_mailroom_reads_and_stores_nothing() {
    let env = Env::new(Backend::Sqlite);
    let raw = "From: Bob <bob@example.test>\r\nTo: support@example.test\r\nSubject: RE: AW: Printer [MR-4]\r\nMessage-ID: <i1@example.test>\r\nIn-Reply-To: <n1@example.test>\r\nReferences: <c1@customer.test> <n1@example.test>\r\n\r\n#priority urgent\r\n#bogus x\r\nOn it.\r\n\r\nOn Mon, Nov 30, 2026 at 10:00 AM Alice via Example Support <support@example.test> wrote:\r\n> ##- Reply above this line to answer MR-4 -##\r\n> Area: billing\r\n";
    std::fs::write(env.path("i.eml"), raw).expect("write");
    let out = env.run_ok(&["inspect", "--json", "i.eml"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
    assert_eq!(v["kind"], "agent");
    assert_eq!(v["message_id"], "i1@example.test");
    assert_eq!(v["from"], "bob@example.test");
    assert_eq!(v["subject"], "RE: AW: Printer [MR-4]");
    assert_eq!(v["thread_keys"]["subject_tag"], "MR-4");
    assert_eq!(v["thread_keys"]["normalized_subject"], "Printer");
    assert_eq!(
        v["thread_keys"]["lookup"],
        serde_json::json!(["n1@example.test", "c1@customer.test"])
    );
    assert!(v["text"].as_str().unwrap_or("").contains("Area: billing"));
    let reply = v["reply_text"].as_str().unwrap_or("");
    assert!(
        reply.starts_with("#priority urgent\n#bogus x\nOn it."),
        "{reply}"
    );
    assert!(!reply.contains("Area: billing"), "{reply}");
    assert_eq!(v["reply"]["marker_found"], true);
    assert_eq!(v["commands"]["commands"][0]["command"], "priority");
    assert_eq!(v["commands"]["commands"][0]["argument"], "urgent");
    assert_eq!(v["commands"]["errors"][0]["line"], "#bogus x");
    assert!(!env.path("mailroom.db").exists(), "inspect stores nothing");
    // The text form names the same things.
    let text = env.run_ok(&["inspect", "i.eml"]);
    assert!(text.contains("kind:        agent"), "{text}");
    assert!(
        text.contains("bad command: #bogus x: unknown command #bogus"),
        "{text}"
    );
    // A mail without a sender says why it would be quarantined.
    std::fs::write(env.path("bad.eml"), "Subject: x\r\n\r\nbody\r\n").expect("write");
    let out = env.run(&["inspect", "bad.eml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no usable sender"));
}

both_backends! {
    fn a_forwarded_notification_answered_by_someone_else_acts_as_nobody(b) {
        let env = Env::new(b);
        let notif = opened(&env);
        let before = env.flush_outbox().len();
        // Bob forwarded his notification to a contractor, who answers it.
        let third = agent_reply("Carl <carl@contractor.test>", &notif, "x1@contractor.test",
            &reply_body("#close\r\nI fixed this for you.", &notif, Style::Gmail), "");
        let o = env.ingest(&third);
        assert_eq!(o["outcome"], "appended", "an internal note, never an agent reply");
        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "open", "its #close runs nothing");
        let ev = events_text(&t);
        assert!(ev.contains("internal note by carl@contractor.test (third_party): carl@contractor.test answers internal mail"), "{ev}");
        let m = messages(&t).iter().find(|m| m["from"] == "carl@contractor.test").expect("Carl's mail");
        assert_eq!((m["kind"].as_str(), m["role"].as_str()), (Some("note"), Some("third_party")));
        assert!(t["participants"].to_string().find("carl@contractor.test").is_none(), "{}", t["participants"]);
        assert!(find(&sent_since(&env, before), "relay").is_empty());
        // Bob's answer later goes to Alice and Dan only.
        let raw = agent_reply("bob@example.test", &notif, "x2@example.test", &reply_body("Done.", &notif, Style::Gmail), "");
        assert_eq!(env.ingest(&raw)["outcome"], "agent_reply");
        let sent = sent_since(&env, before);
        let r = find(&sent, "relay");
        assert_eq!(r[0].cc.iter().map(|m| m.email.as_str()).collect::<Vec<_>>(), ["dan@customer.test"]);
    }
}
