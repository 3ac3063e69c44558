//! No internal text ever reaches a customer (issue: "no leak test"). A canary
//! string sits in the internal parts of every notification (the area, a
//! routing line of the template) and in a colleague's and a contractor's
//! notes on every ticket; a participant writes too; then every reply sample
//! of the shared corpus is sent as an agent's answer quoting that
//! notification in the style of several mail clients. No relayed mail may
//! contain the canary, the reply marker or any agent's address, and no mail
//! to the customer's side (acks, relays) may carry any of them, an internal
//! Message-ID or a reply token in any header.

use std::path::Path;

use mailroom::mail::ParsedMail;

use crate::both_backends;
use crate::relay::{STYLES, Style, agent_reply, find, reply_body, sent_since};
use crate::support::*;

const CANARY: &str = "zqcanary";

/// The new words of every reply sample (text of .txt files, text part of .eml).
fn samples() -> Option<Vec<(String, String)>> {
    let dir = shared_corpus()?.join("replies");
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("read corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    for p in names {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(&p).expect("read sample");
        let text = if name.ends_with(".txt") {
            String::from_utf8_lossy(&bytes).into_owned()
        } else if name.ends_with(".eml") {
            match mailroom::mail::parse(&bytes) {
                Ok(m) => m.text,
                Err(_) => continue,
            }
        } else {
            continue;
        };
        out.push((name, text));
    }
    Some(out)
}

both_backends! {
    fn no_relay_carries_internal_text(b) {
        let Some(samples) = samples() else { return };
        let env = Env::with_config(b, &BASE.replace("[mailroom]", &format!("[mailroom]\nnotification_limit_per_hour = 10000\ndefault_area = \"{CANARY}-area\"")), "");
        // The notification template gets an internal routing line with the canary.
        std::fs::create_dir_all(env.path("templates")).expect("templates dir");
        for (name, extra) in [("notification.txt", format!("\nRouting: {CANARY} rule matched\n")), ("notification.html", format!("<p>Routing: {CANARY} rule matched</p>"))] {
            let builtin = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates").join(name)).expect("built-in template");
            std::fs::write(env.path(&format!("templates/{name}")), format!("{builtin}{extra}")).expect("write template");
        }
        let cases: Vec<(usize, &(String, String), Style)> = samples
            .iter()
            .flat_map(|s| STYLES.iter().map(move |st| (s, *st)))
            .enumerate()
            .map(|(i, (s, st))| (i, s, st))
            .collect();
        let write = |name: String, raw: String| {
            let p = env.path(&name);
            std::fs::write(&p, raw).expect("write mail");
            p
        };
        let opening: Vec<_> = cases.iter().map(|(i, _, _)| write(format!("open-{i}.eml"), mail(
            &format!("c{i}@customer.test"), &format!("Case {i}"), &format!("open{i}@customer.test"), "", "Something is broken."))).collect();
        let refs: Vec<&Path> = opening.iter().map(|p| p.as_path()).collect();
        assert!(env.ingest_files(&refs).iter().all(|o| o["outcome"] == "created"));
        let sent = sent_since(&env, 0);
        let notifications: Vec<&ParsedMail> = find(&sent, "notification");
        assert_eq!(notifications.len(), cases.len());
        let notif_of = |i: usize| notifications.iter().find(|n| n.subject.ends_with(&format!("] Case {i}"))).copied().expect("notification of the case");
        let n0 = notif_of(0);
        assert!(n0.text.contains(CANARY) && n0.text.contains("Area:"), "the canary is in the notification: {}", n0.text);

        // Mixed roles before the answer: a colleague's note and a contractor's
        // answer to the notification, both with the canary (internal words),
        // and a follow-up from the customer's Cc — on every fourth ticket
        // (all the styles take turns), which keeps the test's time in bounds.
        let voices: Vec<_> = cases.iter().filter(|(i, _, _)| i % 4 == 0).flat_map(|(i, _, _)| {
            let n = notif_of(*i);
            [
                write(format!("colleague-{i}.eml"), mail("erin@example.test", &format!("Re: {}", n.subject), &format!("col{i}@example.test"),
                    &format!("In-Reply-To: <{}>\r\nReferences: <{}>\r\n", n.message_id, n.message_id), &format!("Bob, {CANARY} says the gateway is down."))),
                write(format!("vendor-{i}.eml"), mail("vendor@partner.test", &format!("Re: {}", n.subject), &format!("ven{i}@partner.test"),
                    &format!("In-Reply-To: <{}>\r\n", n.message_id), &format!("Our {CANARY} patch is live."))),
                write(format!("cc-{i}.eml"), mail(&format!("cc{i}@customer.test"), &format!("Re: Case {i}"), &format!("cc{i}@customer.test"),
                    &format!("In-Reply-To: <open{i}@customer.test>\r\nReferences: <open{i}@customer.test>\r\n"), "Any news?")),
            ]
        }).collect();
        let refs: Vec<&Path> = voices.iter().map(|p| p.as_path()).collect();
        assert!(env.ingest_files(&refs).iter().all(|o| o["outcome"] == "appended"));
        let before = env.flush_outbox().len();

        let replies: Vec<_> = cases.iter().map(|(i, (_, words), style)| {
            let n = notif_of(*i);
            write(format!("reply-{i}.eml"), agent_reply("Bob <bob@example.test>", n, &format!("reply{i}@example.test"), &reply_body(words, n, *style), ""))
        }).collect();
        let refs: Vec<&Path> = replies.iter().map(|p| p.as_path()).collect();
        let outcomes = env.ingest_files(&refs);
        assert!(outcomes.iter().all(|o| o["outcome"] == "agent_reply"), "{:?}", outcomes.iter().find(|o| o["outcome"] != "agent_reply"));

        let sent = sent_since(&env, before);
        let relays = find(&sent, "relay");
        let mut leaks = Vec::new();
        for r in &relays {
            let all = format!("{}\n{}", r.text, r.html.as_deref().unwrap_or("")).to_ascii_lowercase();
            for needle in [CANARY, "##-", "bob@example.test", "erin@example.test", "routing:"] {
                if all.contains(needle) {
                    leaks.push(format!("{needle:?} in relay {:?} (In-Reply-To {:?}):\n{}", r.subject, r.in_reply_to, r.text));
                }
            }
        }
        // Every mail to the customer's side — acknowledgements and relays —
        // checked header by header too: no internal Message-ID (the
        // notifications, the notes), no reply token, no staff address.
        let everything = env.flush_outbox();
        let checked = crate::voices::assert_customer_mail_clean(&env, &everything, &["bob@example.test", "erin@example.test", CANARY]);
        assert_eq!(checked, cases.len() + relays.len(), "every ack and every relay checked");
        let top_posted = cases.iter().filter(|(_, _, s)| !matches!(s, Style::BottomPost)).count();
        println!("relay leak test: {} cases, {} relayed, {} explained, {} leaks", cases.len(), relays.len(), find(&sent, "system").len(), leaks.len());
        assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n---\n"));
        // The test must exercise relays: most top-posted answers go out.
        assert!(relays.len() * 10 >= top_posted * 8, "only {} of {top_posted} top-posted answers were relayed", relays.len());
    }
}
