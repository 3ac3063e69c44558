//! Database faults are temporary (issue 20, item 5): real faults of a real
//! PostgreSQL — a role over its connection limit, a statement out of
//! resources, the backend terminated in the middle of a batch — make
//! `ingest` exit 75 (the MTA retries) and never quarantine or isolate a valid
//! mail. SQLSTATEs are all digits for some of these (53300, 53400): they were
//! read as SQLite result codes, called permanent, and the mail quarantined.

use crate::support::*;

fn migrated() -> Env {
    let env = Env::new(Backend::Postgres);
    env.run_ok(&["migrate"]);
    std::fs::write(
        env.path("m.eml"),
        mail(
            "alice@customer.test",
            "Printer",
            "f1@customer.test",
            "",
            "It is broken.",
        ),
    )
    .expect("mail");
    env
}

/// `ingest m.eml` exits 75 with nothing stored and nothing quarantined.
fn assert_temporary(env: &Env, what: &str) {
    let out = env.run(&["ingest", "m.eml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{what}: {stderr}");
}

fn assert_nothing_lost(env: &Env) {
    assert_eq!(
        env.count("SELECT COUNT(*) FROM quarantine"),
        0,
        "a valid mail is never quarantined"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM messages"), 0);
}

/// After the fault, the same mail goes in.
fn assert_stored_after(env: &Env) {
    let out = env.run_ok(&["ingest", "--json", "m.eml"]);
    assert!(out.contains("\"created\""), "{out}");
}

#[test]
fn a_role_over_its_connection_limit_is_temporary() {
    let env = migrated();
    let role = format!("mr_limited_{}", uuid::Uuid::new_v4().simple());
    env.sql(&format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"));
    let text = std::fs::read_to_string(&env.config).expect("config");
    let limited = env
        .db_url
        .replacen("postgres://postgres", &format!("postgres://{role}"), 1);
    assert_ne!(limited, env.db_url, "the test URL names the postgres role");
    std::fs::write(&env.config, text.replace(&env.db_url, &limited)).expect("config");
    assert_temporary(&env, "53300 too many connections for role");
    // Piped, as an MTA delivers: 75 as well.
    let out = env
        .command()
        .args(["ingest", "-"])
        .stdin(std::fs::File::open(env.path("m.eml")).expect("mail"))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&env.config, text).expect("config");
    assert_nothing_lost(&env);
    env.sql(&format!("DROP ROLE {role}"));
    assert_stored_after(&env);
}

#[test]
fn a_statement_out_of_resources_is_temporary() {
    let env = migrated();
    // A real 53400 (configuration limit exceeded): the trigger's sort spills
    // to a temporary file over temp_file_limit.
    env.sql(
        "CREATE FUNCTION mr_spill() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         PERFORM set_config('work_mem', '64kB', true); \
         PERFORM set_config('temp_file_limit', '64kB', true); \
         PERFORM count(*) FROM (SELECT md5(g::text) AS h FROM generate_series(1, 200000) g ORDER BY 1) s; \
         RETURN NEW; END $$",
    );
    env.sql("CREATE TRIGGER mr_spill BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION mr_spill()");
    assert_temporary(&env, "53400 temporary file size exceeds temp_file_limit");
    assert_nothing_lost(&env);
    env.sql("DROP TRIGGER mr_spill ON messages");
    assert_stored_after(&env);
}

#[test]
fn a_backend_terminated_mid_batch_is_temporary() {
    let env = migrated();
    env.sql(
        "CREATE FUNCTION mr_kill() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$",
    );
    env.sql(
        "CREATE TRIGGER mr_kill BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION mr_kill()",
    );
    assert_temporary(
        &env,
        "57P01 terminating connection due to administrator command",
    );
    assert_nothing_lost(&env);
    env.sql("DROP TRIGGER mr_kill ON messages");
    assert_stored_after(&env);
}
