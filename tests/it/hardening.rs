//! The mail paths under faults and odd input (issue "never loop, never send
//! twice, never stall, never hide a customer").

use crate::both_backends;
use crate::support::*;

both_backends! {
    fn small_truths_of_listing_and_names(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"Billing\""), "");
        env.ingest(&mail("\"ceo@bigco.test\" <mallory@evil.test>", "Invoice", "s1@evil.test", "", "pay me"));
        env.ingest(&mail("Alice <alice@customer.test>", "Other", "s2@customer.test", "", "hi"));
        env.sql("UPDATE tickets SET status = 'resolved' WHERE id = 1");
        // `closed` is a synonym of resolved in filters.
        let closed: serde_json::Value = serde_json::from_str(&env.run_ok(&["tickets", "list", "--status", "closed", "--json"])).expect("json");
        assert_eq!(closed.as_array().map(|a| a.len()), Some(1));
        assert_eq!(closed[0]["ref"], "MR-1");
        // Areas match regardless of case.
        let billing: serde_json::Value = serde_json::from_str(&env.run_ok(&["tickets", "list", "--area", "BILLING", "--json"])).expect("json");
        assert_eq!(billing.as_array().map(|a| a.len()), Some(2));
        // A display name cannot put a fake address into the notification's From.
        let sent = env.flush_outbox();
        let n = &sent.iter().find(|(f, m)| f.ends_with("-notification.eml") && m.subject.contains("Invoice")).expect("notification").1;
        let name = n.from.name.clone().unwrap_or_default();
        assert!(!name.contains('@') && !name.contains('<') && !name.contains('"'), "{name}");
        assert_eq!(name, "ceobigco.test via Example Support");
        assert_eq!(n.from.email, "support@example.test");
    }
}

both_backends! {
    fn the_smtp_password_is_read_at_each_connect(b) {
        use crate::imap::{Serve, wait_until};
        use crate::mailenv::MailEnv;
        let mev = MailEnv::start();
        let env = Env::new(b);
        let pw = env.path("smtp-password");
        std::fs::write(&pw, "wrong\n").expect("password file");
        // The Env's file outbox becomes SMTP with AUTH to the test Postfix.
        let text = std::fs::read_to_string(&env.config).expect("config");
        let cut = text.find("[outbound]").expect("outbound section");
        let smtp = format!(
            "[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"support@example.test\"\npassword_file = \"{}\"\nflush_interval = \"100ms\"\n",
            mev.smtp,
            pw.display()
        );
        let rest = &text[cut..];
        let end = rest.find("\n\n").map(|i| cut + i).unwrap_or(text.len());
        std::fs::write(&env.config, format!("{}{smtp}{}", &text[..cut], &text[end..])).expect("config");
        let serve = Serve::start(&env);
        env.deliver("1.eml", &mail("alice@customer.test", "First", "pw1@customer.test", "", "one"));
        wait_until(30, "the first acknowledgement to fail on the wrong password", || {
            env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND status = 'failed'") == 1
        });
        // The secret is rotated while serve runs: the next mail goes out with it.
        std::fs::write(&pw, "secret\n").expect("password file");
        env.deliver("2.eml", &mail("bob2@customer.test", "Second", "pw2@customer.test", "", "two"));
        wait_until(30, "the second acknowledgement to be sent", || {
            env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND status = 'sent'") == 1
        });
        mev.wait_for_count("catchall@example.test", "INBOX", 1);
        let log = serve.log();
        assert!(log.contains("SMTP password changed"), "{log}");
        assert!(!log.contains("wrong") && !log.contains("secret\n"), "no password in the log");
        assert!(serve.terminate().success());
    }
}
