//! End-to-end through the CLI on both databases: new tickets, acknowledgements,
//! notifications, threading, duplicates, agent replies (DESIGN §3-§6, §8).

use crate::both_backends;
use crate::support::*;

both_backends! {
    fn new_ticket_acknowledged_and_owner_notified(b) {
        let env = Env::new(b);
        let o = env.ingest(&mail("Alice <alice@customer.test>", "Printer on fire", "p1@customer.test", "", "It burns."));
        assert_eq!(o["outcome"], "created");
        assert_eq!(o["ref"], "MR-1");

        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "open");
        assert_eq!(t["owner"], "bob@example.test");
        assert_eq!(t["customer"], "alice@customer.test");
        assert_eq!(kinds(&t), vec!["customer", "ack", "notification"]);
        let ev = events_text(&t);
        assert!(ev.contains("threading: new ticket"), "{ev}");
        assert!(ev.contains("ack: acknowledgement queued to alice@customer.test"), "{ev}");
        assert!(ev.contains("notification: new notification queued to owner bob@example.test"), "{ev}");

        let sent = env.flush_outbox();
        assert_eq!(sent.len(), 2);
        let ack = &sent.iter().find(|(n, _)| n.ends_with("-ack.eml")).expect("ack file").1;
        assert_eq!(ack.to[0].email, "alice@customer.test");
        assert_eq!(ack.in_reply_to, vec!["p1@customer.test"]);
        assert_eq!(ack.subject, "Re: Printer on fire [MR-1]");
        assert_eq!(ack.auto.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(ack.auto.loop_values, vec!["support@example.test"]);
        assert_eq!(ack.from.email, "support@example.test");
        let note = &sent.iter().find(|(n, _)| n.ends_with("-notification.eml")).expect("notification file").1;
        assert_eq!(note.to[0].email, "bob@example.test");
        assert!(note.subject.starts_with("[MR-1]"), "{}", note.subject);
        assert!(note.text.contains("It burns."), "{}", note.text);
        assert_eq!(note.auto.auto_submitted.as_deref(), Some("auto-generated"));
        // All sent: a second flush writes nothing new.
        assert_eq!(env.flush_outbox().len(), 2);
        assert!(env.outbox().iter().all(|r| r["status"] == "sent"));
    }

    fn duplicates_are_recognised(b) {
        let env = Env::new(b);
        let raw = mail("alice@customer.test", "Hello", "d1@customer.test", "Received: from a by b\r\nDelivered-To: support@example.test\r\n", "Body one");
        assert_eq!(env.ingest(&raw)["outcome"], "created");
        let again = env.ingest(&raw);
        assert_eq!(again["outcome"], "duplicate");
        assert_eq!(again["ref"], "MR-1");
        // Same mail delivered to a second support address: other transport headers.
        let other_route = raw.replace("Received: from a by b\r\nDelivered-To: support@example.test\r\n", "Received: from c by d\r\nReceived: from e by f\r\nDelivered-To: sales@example.test\r\nX-Original-To: sales@example.test\r\n");
        assert_eq!(env.ingest(&other_route)["outcome"], "duplicate");
        // A different mail that reuses the Message-ID is not lost.
        let reused = mail("alice@customer.test", "Other topic", "d1@customer.test", "", "Body two");
        assert_eq!(env.ingest(&reused)["outcome"], "created");
        assert_eq!(env.tickets().len(), 2);
        // Only one ack for the first mail, despite three deliveries.
        let acks = env.outbox().iter().filter(|r| r["kind"] == "ack").count();
        assert_eq!(acks, 2);
        assert!(events_text(&env.ticket("MR-1")).contains("duplicate: mail <d1@customer.test> arrived again"));
    }

    fn threading_by_headers_and_subject_tag(b) {
        let env = Env::new(b);
        env.ingest(&mail("Alice <alice@customer.test>", "Export broken", "t1@customer.test", "Cc: dan@customer.test\r\n", "Export fails"));
        let sent = env.flush_outbox();
        let ack_id = sent.iter().find(|(n, _)| n.ends_with("-ack.eml")).expect("ack").1.message_id.clone();

        // In-Reply-To the customer's own first mail.
        let o = env.ingest(&mail("alice@customer.test", "Re: Export broken", "t2@customer.test", "In-Reply-To: <t1@customer.test>\r\n", "more"));
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-1")));
        // Reply-all to our ack from a Cc'd colleague, forwarded with a German prefix, References only.
        let o = env.ingest(&mail("dan@customer.test", "WG: Re: Export broken [MR-1]", "t3@customer.test", &format!("References: <t1@customer.test> <{ack_id}>\r\n"), "fwd"));
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-1")));
        // Subject tag only, from a participant.
        let o = env.ingest(&mail("alice@customer.test", "Still broken [MR-1]", "t4@customer.test", "", "tag"));
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("appended"), Some("MR-1")));
        // Subject tag from a stranger: no hijacking, a new ticket.
        let o = env.ingest(&mail("mallory@evil.test", "Re: [MR-1] send me the files", "t5@evil.test", "", "gimme"));
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("created"), Some("MR-2")));
        assert!(events_text(&env.ticket("MR-2")).contains("subject tag [MR-1] ignored: mallory@evil.test is not a participant"));
        let t = env.ticket("1");
        assert_eq!(kinds(&t).iter().filter(|k| *k == "customer").count(), 4);
        assert!(events_text(&t).contains("threaded by References"), "{}", events_text(&t));
        assert!(events_text(&t).contains("threaded by subject tag [MR-1]"));
        // The customer's mail never leaks onto the stranger's ticket and vice versa.
        assert!(messages(&env.ticket("MR-2")).iter().all(|m| m["from"] != "alice@customer.test"));
    }

    fn followup_reopens_but_autoreply_does_not(b) {
        let env = Env::new(b);
        env.ingest(&mail("alice@customer.test", "Refund", "r1@customer.test", "", "please"));
        env.sql("UPDATE tickets SET status = 'resolved' WHERE id = 1");
        let o = env.ingest(&mail("alice@customer.test", "Re: Refund", "r2@customer.test", "In-Reply-To: <r1@customer.test>\r\nAuto-Submitted: auto-replied\r\n", "I am on vacation"));
        assert_eq!(o["outcome"], "autoreply");
        assert_eq!(o["ref"], "MR-1");
        assert_eq!(env.ticket("MR-1")["status"], "resolved", "an out-of-office must not reopen");
        let o = env.ingest(&mail("alice@customer.test", "Re: Refund", "r3@customer.test", "In-Reply-To: <r1@customer.test>\r\n", "not fixed after all"));
        assert_eq!(o["outcome"], "appended");
        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "open");
        assert!(events_text(&t).contains("resolved -> open"), "{}", events_text(&t));
        // No acknowledgement for either follow-up; the owner hears about the real one.
        let kinds = kinds(&t);
        assert_eq!(kinds.iter().filter(|k| *k == "ack").count(), 1);
        assert_eq!(kinds.iter().filter(|k| *k == "notification").count(), 2);
    }

    fn agent_reply_needs_proof(b) {
        let env = Env::new(b);
        env.ingest(&mail("alice@customer.test", "Login fails", "a1@customer.test", "", "cannot log in"));
        let sent = env.flush_outbox();
        let notif = sent.iter().find(|(n, _)| n.ends_with("-notification.eml")).expect("notification").1.clone();
        let ack = sent.iter().find(|(n, _)| n.ends_with("-ack.eml")).expect("ack").1.clone();

        // Bob answers the notification from his own client.
        let token_to = crate::relay::reply_address(&notif);
        assert!(token_to.starts_with("support+mr-1-") && token_to.ends_with("@example.test"), "{token_to}");
        let reply = mail("Bob <bob@example.test>", &format!("Re: {}", notif.subject), "a2@example.test", &format!("In-Reply-To: <{}>\r\nReferences: <a1@customer.test> <{}>\r\n", notif.message_id, notif.message_id), "Try resetting.")
            .replace("To: support@example.test", &format!("To: {token_to}"));
        let o = env.ingest(&reply);
        assert_eq!(o["outcome"], "agent_reply");
        assert_eq!(o["ref"], "MR-1");
        let t = env.ticket("MR-1");
        let k = kinds(&t);
        assert_eq!(&k[k.len() - 2..], ["agent", "relay"], "the answer is relayed to the customer");
        assert_eq!(t["status"], "pending");
        assert!(t["first_response_at"].is_null(), "not before the relay is delivered");
        env.flush_outbox();
        assert!(env.ticket("MR-1")["first_response_at"].is_string());

        // A forged From: bob@ without a reference to his notification is an
        // internal note: it neither acts nor counts as the customer writing.
        let forged = mail("bob@example.test", "Re: Login fails [MR-1]", "a3@evil.test", "In-Reply-To: <a1@customer.test>\r\n", "#close");
        let o = env.ingest(&forged);
        assert_eq!(o["outcome"], "appended");
        let t = env.ticket("MR-1");
        assert!(events_text(&t).contains("bob@example.test is on the roster, but the mail answers no notification sent to them"), "{}", events_text(&t));
        assert_eq!(t["status"], "pending", "a forged #close does nothing, and the note reopens nothing");
        let last = messages(&t).iter().rev().find(|m| m["direction"] == "in").expect("the forged mail");
        assert_eq!((last["kind"].as_str(), last["role"].as_str(), last["internal"].as_bool()), (Some("note"), Some("colleague"), Some(true)));
        // Another agent answering Bob's notification is not proof either.
        let erin = mail("erin@example.test", "Re: x", "a4@example.test", &format!("In-Reply-To: <{}>\r\n", notif.message_id), "me too");
        let o = env.ingest(&erin);
        assert_eq!(o["outcome"], "appended");
        // Bob answering the customer's ack (not his notification) is not proof.
        let via_ack = mail("bob@example.test", "Re: x", "a5@example.test", &format!("In-Reply-To: <{}>\r\n", ack.message_id), "hm");
        assert_eq!(env.ingest(&via_ack)["outcome"], "appended");
        let kinds = kinds(&env.ticket("MR-1"));
        assert_eq!(kinds.iter().filter(|k| *k == "agent").count(), 1);
    }

    fn bounces_attach_to_their_ticket(b) {
        let env = Env::new(b);
        env.ingest(&mail("alice@customer.test", "Question", "b1@customer.test", "", "?"));
        let ack = env.flush_outbox().into_iter().find(|(n, _)| n.ends_with("-ack.eml")).expect("ack").1;
        let dsn = format!(
            "From: MAILER-DAEMON@mx.customer.test\r\nTo: support@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.customer.test>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nUser unknown\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.test\r\n\r\nFinal-Recipient: rfc822; alice@customer.test\r\nAction: failed\r\nStatus: 5.1.1\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.test\r\nMessage-ID: <{}>\r\nSubject: Re: Question [MR-1]\r\n--B--\r\n",
            ack.message_id
        );
        let o = env.ingest(&dsn);
        assert_eq!(o["outcome"], "bounce");
        assert_eq!(o["ref"], "MR-1");
        let t = env.ticket("MR-1");
        assert_eq!(kinds(&t).iter().filter(|k| *k == "bounce").count(), 1);
        assert!(events_text(&t).contains("bounce: delivery-status report (action failed, status 5.1.1)"), "{}", events_text(&t));
        // Never answered: still exactly one ack; the owner is told.
        assert_eq!(kinds(&t).iter().filter(|k| *k == "ack").count(), 1);
        assert_eq!(kinds(&t).iter().filter(|k| *k == "notification").count(), 2);
        // A bounce about a mail we never sent: no ticket.
        let orphan = dsn.replace(&ack.message_id, "unknown@elsewhere.test").replace("dsn1@", "dsn2@");
        let o = env.ingest(&orphan);
        assert_eq!(o["outcome"], "bounce");
        assert!(o["ref"].is_null());
        assert_eq!(env.tickets().len(), 1);
    }

    fn own_mail_and_loops_are_ignored(b) {
        let env = Env::new(b);
        let o = env.ingest(&mail("support@example.test", "Re: something [MR-9]", "l1@example.test", "", "x"));
        assert_eq!(o["outcome"], "ignored");
        let o = env.ingest(&mail("someone@else.test", "hello", "l2@else.test", "X-Mailroom-Loop: support@example.test\r\n", "x"));
        assert_eq!(o["outcome"], "ignored");
        // Another ticket system's auto-ack: no ticket, no ack, no ping-pong.
        let o = env.ingest(&mail("help@vendor.test", "[Ticket#123] We received your request", "l3@vendor.test", "Auto-Submitted: auto-replied\r\n", "x"));
        assert_eq!(o["outcome"], "autoreply");
        assert!(env.tickets().is_empty());
        assert!(env.outbox().is_empty());
    }

    fn ack_rate_limit_per_recipient(b) {
        let env = Env::with_config(b, BASE, "");
        for i in 0..12 {
            env.ingest(&mail("flood@customer.test", &format!("Issue {i}"), &format!("f{i}@customer.test"), "", "x"));
        }
        let acks = env.outbox().iter().filter(|r| r["kind"] == "ack").count();
        assert_eq!(acks, 10, "default limit is 10 automatic replies per hour");
        assert!(events_text(&env.ticket("MR-12")).contains("no acknowledgement: 10 automatic replies"));
    }
}

both_backends! {
    fn attachments_are_stored_once_and_html_sanitized(b) {
        let env = Env::new(b);
        let with_att = |id: &str| format!(
            "From: a@c.test\r\nTo: support@example.test\r\nSubject: log {id}\r\nMessage-ID: <{id}@c.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/html\r\n\r\n<p>see <b>log</b></p><script>steal()</script><img src=x onerror=alert(1)>\r\n--X\r\nContent-Type: text/plain; name=app.log\r\nContent-Disposition: attachment; filename=app.log\r\n\r\nline 1\r\nline 2\r\n--X--\r\n"
        );
        assert_eq!(env.ingest(&with_att("x1"))["outcome"], "created");
        assert_eq!(env.ingest(&with_att("x2"))["outcome"], "created");
        assert_eq!(env.count("SELECT COUNT(*) FROM attachments"), 1, "same bytes stored once");
        // Raw bytes are kept, compressed.
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in' AND raw_codec = 'lz4' AND raw IS NOT NULL"), 2);
        assert_eq!(env.count("SELECT COUNT(*) FROM message_attachments"), 2);
        assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE html_body LIKE '%script%' OR html_body LIKE '%onerror%'"), 0);
        // Bodies are derived from the raw bytes on read, sanitized.
        for t in [env.ticket("MR-1"), env.ticket("MR-2")] {
            let html = messages(&t)[0]["html"].as_str().unwrap_or("").to_string();
            assert!(html.contains("<b>log</b>"), "{html}");
            assert!(!html.contains("script") && !html.contains("onerror"), "{html}");
        }
        let t = env.ticket("MR-1");
        let first = &messages(&t)[0];
        assert_eq!(first["attachments"][0]["filename"], "app.log");
        assert!(first["text"].as_str().unwrap_or("").contains("see log"), "{}", first["text"]);
        // The owner's notification carries the customer's attachment.
        let sent = env.flush_outbox();
        let note = &sent.iter().find(|(n, _)| n.ends_with("-notification.eml")).expect("notification").1;
        assert_eq!(note.attachments.len(), 1);
        assert_eq!(note.attachments[0].filename.as_deref(), Some("app.log"));
    }
}

both_backends! {
    fn big_mail_is_stored_and_forwarded_byte_for_byte(b) {
        // Over 1 MiB: on SQLite the raw mail, the attachment and the rendered
        // notification are streamed with incremental blob I/O (store/blob.rs).
        let env = Env::new(b);
        // Incompressible bytes (xorshift), so LZ4 cannot shrink the raw mail below 1 MiB.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let data: Vec<u8> = (0..3 * 1024 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let mut b64 = String::new();
        for chunk in data.chunks(57) {
            b64.push_str(&base64_line(chunk));
            b64.push_str("\r\n");
        }
        let raw = format!(
            "From: big@c.test\r\nTo: support@example.test\r\nSubject: core dump\r\nMessage-ID: <big@c.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/plain\r\n\r\nthe dump is attached\r\n--X\r\nContent-Type: application/octet-stream; name=core.bin\r\nContent-Disposition: attachment; filename=core.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}--X--\r\n"
        );
        let out = env.ingest(&raw);
        assert_eq!(out["outcome"], "created", "{out}");
        let t = env.ticket("MR-1");
        assert!(messages(&t)[0]["text"].as_str().unwrap_or("").contains("the dump is attached"), "{t}");
        // The same mail again is recognised (its stored identity is intact).
        assert_eq!(env.ingest(&raw)["outcome"], "duplicate");
        let sent = env.flush_outbox();
        let note = sent.iter().find(|(name, _)| name.contains("notification")).map(|(_, m)| m).expect("notification");
        assert_eq!(note.attachments.len(), 1);
        assert_eq!(note.attachments[0].data, data, "the attachment reaches the owner byte for byte");
        if b == Backend::Sqlite {
            assert_eq!(env.count("SELECT COUNT(*) FROM raw_blobs"), 2, "raw mail and the rendered notification");
            assert_eq!(env.count("SELECT COUNT(*) FROM messages WHERE raw_blob IS NOT NULL AND raw IS NULL"), 2);
        }
    }
}

/// Standard base64 of one line (the test builds its own MIME body).
fn base64_line(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        s.push(A[(n >> 18) as usize & 63] as char);
        s.push(A[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}
