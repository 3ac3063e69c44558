//! A sender whenever there is one (issue 20, item 4): a broken From falls
//! back to Sender, a mail system's report, Reply-To or the address written in
//! it, and the ticket says which; a MAILER-DAEMON without a domain is a
//! bounce; a delay notice is not a failure and holds nothing back. Both
//! backends, through the real binary.

use crate::both_backends;
use crate::support::*;

both_backends! {
    fn a_broken_from_still_has_a_sender(b) {
        let env = Env::new(b);
        let bare = "From: Test test@example.com\r\nTo: support@example.test\r\nSubject: Login\r\nMessage-ID: <bf1@example.com>\r\n\r\nI cannot log in.\r\n";
        let o = env.ingest(bare);
        assert_eq!(o["outcome"], "created", "{o}");
        let t = env.ticket("MR-1");
        assert_eq!(t["customer"], "test@example.com");
        assert!(events_text(&t).contains("sender: test@example.com: From \"Test test@example.com\" holds no usable address: the sender is the address written in it"), "{}", events_text(&t));
        let reply_to = "From: Customer Service\r\nReply-To: help@shop.test\r\nTo: support@example.test\r\nSubject: Order\r\nMessage-ID: <bf2@shop.test>\r\n\r\nWhere is it?\r\n";
        assert_eq!(env.ingest(reply_to)["outcome"], "created");
        assert!(events_text(&env.ticket("MR-2")).contains("the sender is taken from Reply-To"));
        // Nothing to go by: quarantined with what was tried.
        let none = "From: undisclosed\r\nTo: support@example.test\r\nSubject: ?\r\nMessage-ID: <bf3@x.test>\r\n\r\n?\r\n";
        let o = env.ingest(none);
        assert_eq!(o["outcome"], "quarantined");
        assert!(o["reason"].as_str().unwrap_or("").contains("tried Sender, a mail system's report, Reply-To and an address in the From text"), "{o}");
        // The acknowledgements went to the addresses found.
        let acks: Vec<String> = env.flush_outbox().into_iter().filter(|(n, _)| n.ends_with("-ack.eml")).map(|(_, m)| m.to[0].email.clone()).collect();
        assert_eq!(acks, ["test@example.com", "help@shop.test"]);
    }

    fn daemon_reports_without_a_domain_and_delay_notices(b) {
        let env = Env::new(b);
        env.ingest(&mail("alice@customer.test", "Question", "q1@customer.test", "", "?"));
        let ack = env.flush_outbox().into_iter().find(|(n, _)| n.ends_with("-ack.eml")).expect("ack").1;
        let bounce = format!(
            "From: MAILER-DAEMON (Mail Delivery System)\r\nTo: support@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <nb1@smtp.mx.test>\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: support@example.test\r\nMessage-ID: <{}>\r\nSubject: Re: Question [MR-1]\r\n\r\nhi\r\n--B--\r\n",
            ack.message_id
        );
        let o = env.ingest(&bounce);
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("bounce"), Some("MR-1")), "{o}");
        // A delay notice about a notification to Bob: appended, nothing held back.
        let notif = env.flush_outbox().into_iter().find(|(n, _)| n.ends_with("-notification.eml")).expect("notification").1;
        let delay = format!(
            "From: MAILER-DAEMON@mx.example.test\r\nTo: support@example.test\r\nSubject: Delayed Mail (still being retried)\r\nMessage-ID: <dl1@mx.example.test>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nStill trying.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\nFinal-Recipient: rfc822; bob@example.test\r\nAction: delayed\r\nStatus: 4.4.1\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.test\r\nMessage-ID: <{}>\r\n--B--\r\n",
            notif.message_id
        );
        let o = env.ingest(&delay);
        assert_eq!(o["outcome"], "autoreply", "{o}");
        assert_eq!(env.count("SELECT COUNT(*) FROM mail_suppressions"), 0, "a delay holds nothing back");
        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "open");
        assert!(events_text(&t).contains("action delayed): not a failure"), "{}", events_text(&t));
    }
}
