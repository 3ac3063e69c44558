//! Batches side by side (DESIGN §3, store/contention.rs): a follow-up and its
//! first mail end on one ticket whatever order they are stored in, and on
//! PostgreSQL unrelated batches do not wait for each other while related
//! ones do.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::both_backends;
use crate::support::*;

fn write(env: &Env, name: &str, raw: &str) -> PathBuf {
    let p = env.path(name);
    std::fs::write(&p, raw).expect("write mail file");
    p
}

fn first(i: usize) -> String {
    mail(
        &format!("c{i}@customer.test"),
        &format!("Printer {i} is on fire"),
        &format!("first{i}@customer.test"),
        "",
        "It smokes.",
    )
}

fn follow_up(i: usize) -> String {
    mail(
        &format!("c{i}@customer.test"),
        &format!("Re: Printer {i} is on fire"),
        &format!("again{i}@customer.test"),
        &format!(
            "In-Reply-To: <first{i}@customer.test>\r\nReferences: <first{i}@customer.test>\r\n"
        ),
        "Now it is really burning.",
    )
}

/// Each customer's two mails are on one ticket, and there is one ticket per customer.
fn assert_one_ticket_each(env: &Env, customers: usize) {
    assert_eq!(env.count("SELECT COUNT(*) FROM tickets"), customers as i64);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"),
        2 * customers as i64
    );
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM (SELECT ticket_id FROM messages WHERE direction = 'in' \
             GROUP BY ticket_id HAVING COUNT(*) = 2 AND COUNT(DISTINCT from_addr) = 1) t"
        ),
        customers as i64
    );
}

fn spawn_ingest(env: &Env, files: &[PathBuf]) -> Child {
    env.command()
        .arg("ingest")
        .args(files)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn ingest")
}

both_backends! {
    fn a_first_mail_stored_after_its_follow_up_joins_the_follow_ups_ticket(b) {
        let env = Env::new(b);
        // Separate runs: the follow-up opens a ticket, then its first mail arrives.
        env.ingest(&follow_up(0));
        let t = env.ingest(&first(0));
        assert_eq!(t["outcome"], "appended", "{t}");
        // One run, the follow-up earlier in the same batch.
        let files = [write(&env, "r1.eml", &follow_up(1)), write(&env, "f1.eml", &first(1))];
        env.ingest_files(&[&files[0], &files[1]]);
        assert_one_ticket_each(&env, 2);
        let ticket = env.ticket("MR-1");
        assert!(events_text(&ticket).contains("threaded by a follow-up stored before it"), "{ticket}");

        // Another customer naming a Message-ID in advance does not capture it.
        env.ingest(&mail("mallory@elsewhere.test", "Re: hello", "m@elsewhere.test",
            "References: <first9@customer.test>\r\n", "Guess."));
        let t = env.ingest(&first(9));
        assert_eq!(t["outcome"], "created", "{t}");
    }

    fn follow_ups_racing_their_first_mails_land_on_one_ticket_each(b) {
        // Small batches, so the two processes interleave.
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\nbatch_size = 3"), "");
        const N: usize = 40;
        let firsts: Vec<PathBuf> = (0..N).map(|i| write(&env, &format!("f{i}.eml"), &first(i))).collect();
        let replies: Vec<PathBuf> = (0..N).map(|i| write(&env, &format!("r{i}.eml"), &follow_up(i))).collect();
        // Two processes at once, like two instances on two mailboxes.
        let (mut p1, mut p2) = (spawn_ingest(&env, &replies), spawn_ingest(&env, &firsts));
        assert!(p1.wait().expect("wait").success() && p2.wait().expect("wait").success());
        assert_one_ticket_each(&env, N);
        assert_eq!(env.count("SELECT COUNT(DISTINCT id) FROM tickets"), N as i64);
    }
}

/// Waits for `child` up to `secs`; whether it exited successfully in time.
fn finished_ok(child: &mut Child, secs: u64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn unrelated_batches_do_not_wait_for_each_other_and_related_ones_do() {
    let env = Env::new(Backend::Postgres);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // This test's own transaction holds the lock of one Message-ID, as a batch
    // storing that mail elsewhere would.
    let mut holder = rt
        .block_on(sqlx::PgConnection::connect(&env.db_url))
        .expect("connect");
    let key = mailroom::store::lock_key("m:first0@customer.test");
    rt.block_on(async {
        sqlx::query("BEGIN").execute(&mut holder).await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut holder)
            .await
    })
    .expect("hold the lock");

    let blocked = [write(&env, "f0.eml", &first(0))];
    let related = [write(&env, "r0.eml", &follow_up(0))];
    let unrelated = [write(&env, "f1.eml", &first(1))];
    let mut p_first = spawn_ingest(&env, &blocked);
    let mut p_follow = spawn_ingest(&env, &related);
    let mut p_other = spawn_ingest(&env, &unrelated);

    // The unrelated mail is stored while the other two wait for the lock.
    assert!(finished_ok(&mut p_other, 60), "the unrelated batch waited");
    assert_eq!(env.count("SELECT COUNT(*) FROM tickets"), 1);
    assert!(
        p_first.try_wait().expect("try_wait").is_none(),
        "the first mail did not wait"
    );
    assert!(
        p_follow.try_wait().expect("try_wait").is_none(),
        "the follow-up did not wait"
    );

    rt.block_on(sqlx::query("COMMIT").execute(&mut holder))
        .expect("release");
    assert!(finished_ok(&mut p_first, 60) && finished_ok(&mut p_follow, 60));
    assert_eq!(env.count("SELECT COUNT(*) FROM tickets"), 2);
    assert_eq!(
        env.count(
            "SELECT COUNT(DISTINCT ticket_id) FROM messages \
             WHERE message_id IN ('first0@customer.test', 'again0@customer.test')"
        ),
        1,
        "the first mail and its follow-up are on one ticket"
    );
}
