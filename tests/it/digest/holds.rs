//! What holds digests back, and what a digest's bounce holds back: one
//! manager's broken state does not stop the others' digests; a bounce of
//! anything but a digest (or of a digest row that names no recipient) holds
//! nothing; a digest's bounce holds the manager's notifications too, whatever
//! the case of the address in the config.

use super::{WEEKDAYS, digests_to, t};
use crate::both_backends;
use crate::hardening::dsn;
use crate::support::*;

both_backends! {
    fn a_ticketless_bounce_of_anything_but_a_digest_holds_nothing(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), WEEKDAYS);
        // A report about a mail mailroom never stored: stored without a ticket.
        let o = ingest_at(&env, &t("2026-11-30 09:00"), &dsn("dsn-x1@mx.example.test", "carol@example.test", "unknown@elsewhere.test"));
        assert!(o["ref"].is_null(), "{o}");
        // A report about that stored, ticket-less (non-digest) mail.
        let o = ingest_at(&env, &t("2026-11-30 09:05"), &dsn("dsn-x2@mx.example.test", "carol@example.test", "dsn-x1@mx.example.test"));
        assert!(o["ref"].is_null(), "{o}");
        assert_eq!(env.count("SELECT COUNT(*) FROM mail_suppressions"), 0, "nothing is held back");
        assert!(at(&env, &t("2026-12-01 08:30"), &["schedule", "--once"]).contains("digests: 1 queued"));
        assert_eq!(digests_to(&env, "carol@example.test").len(), 1);
    }

    fn a_bounce_of_an_old_digest_row_without_recipient_holds_nothing(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), WEEKDAYS);
        at(&env, &t("2026-11-30 08:30"), &["schedule", "--once"]);
        let digest = digests_to(&env, "carol@example.test").pop().expect("the first digest");
        // Digests queued by earlier versions do not record their manager.
        env.sql("UPDATE messages SET recipient = NULL WHERE kind = 'digest'");
        let o = ingest_at(&env, &t("2026-11-30 11:00"), &dsn("dsn-o1@mx.example.test", "carol@example.test", &digest.message_id));
        assert_eq!(o["outcome"], "bounce", "{o}");
        assert!(o["ref"].is_null(), "{o}");
        assert_eq!(env.count("SELECT COUNT(*) FROM mail_suppressions"), 0, "nothing is held back");
        let out = at(&env, &t("2026-12-01 08:30"), &["schedule", "--once"]);
        assert!(out.contains("digests: 1 queued") && !out.contains("held back"), "{out}");
    }

    fn a_bounced_digest_holds_the_managers_notifications_back(b) {
        // bob owns every ticket and gets a digest; the config spells him
        // in capitals: the hold is on his address however it is written.
        let env = Env::with_config(b, BASE, r#"
[[manager]]
email = "Bob@Example.TEST"
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
"#);
        at(&env, &t("2026-11-30 08:30"), &["schedule", "--once"]);
        let digest = digests_to(&env, "bob@example.test").pop().expect("bob's digest");
        let o = ingest_at(&env, &t("2026-11-30 11:00"), &dsn("dsn-b1@mx.example.test", "bob@example.test", &digest.message_id));
        assert_eq!(o["outcome"], "bounce", "{o}");
        assert_eq!(env.strings("SELECT address FROM mail_suppressions"), vec!["bob@example.test".to_string()]);
        // A new ticket for bob: its notification is held back like the digest.
        ingest_at(&env, &t("2026-11-30 12:00"), &mail("alice@a.test", "Help", "h1@a.test", "", "x"));
        let ev = events_text(&env.ticket("MR-1"));
        assert!(ev.contains("no new notification: mail to bob@example.test bounced; nothing is sent there until 2026-12-01 10:00 UTC"), "{ev}");
        assert_eq!(env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'notification'"), 0);
        let out = at(&env, &t("2026-12-01 08:30"), &["schedule", "--once"]);
        assert!(out.contains("digest for bob@example.test held back: mail to this address bounced"), "{out}");
    }
}

/// One manager whose recorded digest cannot be read (SQLite keeps any text
/// in a time column) fails alone: the others' digests go out, the failure
/// names the manager and `schedule --once` exits 1.
#[test]
fn one_managers_broken_state_does_not_stop_the_others() {
    let env = Env::with_config(
        Backend::Sqlite,
        &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""),
        &format!(
            "{WEEKDAYS}\n[[manager]]\nemail = \"dave@example.test\"\ndigest = \"0 8 * * Mon-Fri\"\ntime_zone = \"Europe/Berlin\"\n"
        ),
    );
    assert!(
        at(&env, &t("2026-11-30 08:30"), &["schedule", "--once"]).contains("digests: 2 queued")
    );
    env.sql(
        "UPDATE digests_sent SET period_end = 'not a time' WHERE manager = 'carol@example.test'",
    );
    let out = env
        .command()
        .args(["schedule", "--once"])
        .env("MAILROOM_NOW", t("2026-12-01 08:30"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("digests: 1 queued"), "{stdout}");
    assert!(
        stdout.contains("digest for carol@example.test failed:"),
        "{stdout}"
    );
    assert_eq!(
        digests_to(&env, "dave@example.test").len(),
        2,
        "dave's Tuesday digest went out"
    );
    assert_eq!(digests_to(&env, "carol@example.test").len(), 1);
}
