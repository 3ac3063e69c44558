use super::*;

#[test]
fn embedded_default_is_valid() {
    let c = Config::embedded_default();
    assert!(c.validate().is_ok());
    assert_eq!(c.mailroom.support_address, "support@localhost");
    assert_eq!(c.max_message_size(), 50 * 1024 * 1024);
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let err = Config::parse("[mailroom]\nsupport_adress = \"x@y\"\n", "m.toml").unwrap_err();
    let s = err.to_string();
    assert!(s.contains("m.toml"), "{s}");
    assert!(s.contains("support_adress"), "{s}");
    assert!(s.contains("line 2"), "{s}");
}

#[test]
fn validation_names_key() {
    let err =
        Config::parse("[[inbound]]\nname = \"a\"\nkind = \"maildir\"\n", "m.toml").unwrap_err();
    assert!(err.to_string().contains("inbound[0].path"), "{err}");
    let err =
        Config::parse("[mailroom]\nmax_message_size = \"12 parsecs\"\n", "m.toml").unwrap_err();
    assert!(
        err.to_string().contains("mailroom.max_message_size"),
        "{err}"
    );
}

#[test]
fn full_contract_example_parses() {
    let text = r#"
[mailroom]
support_address = "support@example.test"
support_name    = "Example Support"
ticket_prefix   = "MR"
time_zone       = "UTC"
[database]
url = "sqlite://./mailroom.db"
[[inbound]]
name = "support"
kind = "imap"
host = "127.0.0.1"
port = 993
tls  = "implicit"
username = "support@example.test"
password_env = "MAILROOM_IMAP_PASSWORD"
folder = "INBOX"
processed_folder = "Processed"
idle = true
poll_interval = "30s"
[outbound]
kind = "smtp"
host = "127.0.0.1"
port = 587
tls  = "starttls"
username = "support@example.test"
password_env = "MAILROOM_SMTP_PASSWORD"
[[agent]]
email = "bob@example.test"
name  = "Bob"
areas = ["billing"]
away  = false
[[area]]
name = "billing"
strategy = "round_robin"
escalation = "carol@example.test"
calendar = "berlin"
[[calendar]]
name = "berlin"
time_zone = "Europe/Berlin"
weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri"]
hours = "09:00-17:00"
holidays = ["2026-12-24", "2026-12-25"]
[[manager]]
email = "carol@example.test"
areas = ["*"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
period = "day"
skip_empty = false
[sla.urgent]
first_response = "1h"
next_response = "4h"
resolution = "8h"
[security]
trusted_authserv_ids = []
[rules]
file = "rules.toml"
"#;
    let c = Config::parse(text, "full.toml").expect("contract example parses");
    assert_eq!(c.inbound[0].kind, InboundKind::Imap);
    assert_eq!(c.own_addresses(), vec!["support@example.test".to_string()]);
}

#[test]
fn shipped_example_parses() {
    let c = Config::parse(
        include_str!("../../mailroom.example.toml"),
        "mailroom.example.toml",
    )
    .expect("the shipped example is valid");
    assert_eq!(
        c.mailroom.default_owner.as_deref(),
        Some("bob@example.test")
    );
    assert_eq!(
        c.own_addresses(),
        vec!["help@example.test", "support@example.test"]
    );
}

#[test]
fn file_without_sources_gets_the_default_maildir() {
    let c = Config::parse("[mailroom]\nsupport_address = \"s@x.test\"\n", "m.toml").unwrap();
    assert_eq!(c.inbound.len(), 1);
    assert_eq!(c.inbound[0].kind, InboundKind::Maildir);
}

#[test]
fn sizes_and_urls() {
    assert_eq!(parse_size("1KiB").unwrap(), 1024);
    assert_eq!(parse_size("3").unwrap(), 3);
    assert!(parse_size("x").is_err());
    assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://…@h/db");
}

#[test]
fn area_strategy_is_checked() {
    let err = Config::parse(
        "[[area]]\nname = \"billing\"\nstrategy = \"random\"\n",
        "m.toml",
    )
    .unwrap_err();
    assert!(err.to_string().contains("area[0].strategy"), "{err}");
}

#[test]
fn server_keys_are_checked_where_they_are_written() {
    let imap = |extra: &str| {
        format!(
            "[[inbound]]\nname = \"s\"\nkind = \"imap\"\nhost = \"imap.example.test\"\nusername = \"u@example.test\"\npassword_env = \"PW\"\n{extra}"
        )
    };
    assert!(Config::parse(&imap(""), "m.toml").is_ok());
    let err = Config::parse(&imap("tls = \"none\"\n"), "m.toml").unwrap_err();
    assert!(err.to_string().contains("inbound[0].tls"), "{err}");
    let err = Config::parse(&imap("processed_folder = \"INBOX\"\n"), "m.toml").unwrap_err();
    assert!(
        err.to_string().contains("inbound[0].processed_folder"),
        "{err}"
    );
    let err = Config::parse(
        "[outbound]\nkind = \"smtp\"\nhost = \"smtp.example.test\"\nusername = \"u\"\n",
        "m.toml",
    )
    .unwrap_err();
    assert!(err.to_string().contains("outbound.password_env"), "{err}");
    let err = Config::parse("[http]\nlisten = \"everywhere\"\n", "m.toml").unwrap_err();
    assert!(err.to_string().contains("http.listen"), "{err}");
    assert!(Config::parse("[http]\nlisten = \"off\"\n", "m.toml").is_ok());
}

#[test]
fn endpoint_keys_read_the_same_in_both_sections() {
    // Every server key, written as config files have always written them.
    let text = r#"
[[inbound]]
name = "support"
kind = "imap"
host = " imap.example.test "
port = 1993
tls = "starttls"
username = "support@example.test"
password_file = "/run/secrets/imap"
ca_file = "/etc/mailroom/ca.pem"
folder = "Support"
[outbound]
kind = "smtp"
host = "127.0.0.1"
port = 2525
tls = "none"
username = "relay"
password_env = "SMTP_PW"
retry_first = "5s"
"#;
    let c = Config::parse(text, "m.toml").expect("parses as before");
    let i = c.inbound[0]
        .endpoint("inbound[0]".into())
        .expect("imap endpoint");
    assert_eq!(
        (i.host.as_str(), i.port, i.tls, i.username.as_deref()),
        (
            "imap.example.test",
            1993,
            TlsMode::Starttls,
            Some("support@example.test")
        )
    );
    assert_eq!(i.password, SecretSource::File("/run/secrets/imap".into()));
    assert_eq!(i.ca_file, Some(PathBuf::from("/etc/mailroom/ca.pem")));
    assert_eq!(c.inbound[0].folder(), "Support");
    let o = c.outbound.endpoint().expect("smtp endpoint");
    assert_eq!(
        (
            o.key.as_str(),
            o.host.as_str(),
            o.port,
            o.tls,
            o.username.as_deref()
        ),
        ("outbound", "127.0.0.1", 2525, TlsMode::None, Some("relay"))
    );
    assert_eq!(o.password, SecretSource::Env("SMTP_PW".into()));
    assert_eq!(o.ca_file, None);
    assert_eq!(c.outbound.retry_first.as_deref(), Some("5s"));
    // Defaults still follow the protocol.
    let c = Config::parse(
        "[outbound]\nkind = \"smtp\"\nhost = \"smtp.example.test\"\n",
        "m.toml",
    )
    .expect("parses");
    let o = c.outbound.endpoint().expect("smtp endpoint");
    assert_eq!((o.port, o.tls), (587, TlsMode::Starttls));
}

#[test]
fn unknown_and_mistyped_server_keys_are_still_refused() {
    for text in [
        "[outbound]\nkind = \"smtp\"\nhost = \"h.test\"\nhots = \"x\"\n",
        "[[inbound]]\nname = \"s\"\nkind = \"imap\"\nhost = \"h.test\"\nhots = \"x\"\n",
    ] {
        let err = Config::parse(text, "m.toml").unwrap_err().to_string();
        assert!(
            err.contains("m.toml") && err.contains("unknown field `hots`"),
            "{err}"
        );
    }
    let err = Config::parse(
        "[outbound]\nkind = \"smtp\"\nhost = \"h.test\"\nport = \"x\"\n",
        "m.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("m.toml")
            && err.contains("key `port`: invalid type: string \"x\", expected u16"),
        "{err}"
    );
    let err = Config::parse(
        "[outbound]\nkind = \"smtp\"\nhost = \"h.test\"\ntls = \"sometimes\"\n",
        "m.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("key `tls`: unknown variant `sometimes`"),
        "{err}"
    );
}

const SLA_CONFIG: &str = r#"
[mailroom]
time_zone = "Europe/Berlin"
[[area]]
name = "billing"
calendar = "berlin"
[[area]]
name = "tech"
[[calendar]]
name = "berlin"
time_zone = "Europe/Berlin"
weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri"]
hours = "09:00-17:00"
holidays = ["2026-12-24", "2026-12-25"]
[[manager]]
email = "carol@example.test"
areas = ["*"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
period = "week"
skip_empty = true
[[manager]]
email = "dave@example.test"
areas = ["billing"]
digest = "30 7 * * *"
[sla.urgent]
first_response = "1h"
next_response = "4h"
resolution = "8h"
"#;

#[test]
fn sla_keys_parse() {
    let c = Config::parse(SLA_CONFIG, "m.toml").expect("valid");
    assert_eq!(c.area[0].calendar.as_deref(), Some("berlin"));
    assert_eq!(c.calendar[0].holidays.len(), 2);
    assert_eq!(c.manager[0].period, crate::model::PeriodKind::Week);
    assert!(c.manager[0].skip_empty);
    // Defaults: a daily digest, sent even when empty, in the global zone.
    assert_eq!(c.manager[1].period, crate::model::PeriodKind::Day);
    assert!(!c.manager[1].skip_empty);
    assert_eq!(
        c.manager[1].time_zone_or(&c.mailroom.time_zone),
        "Europe/Berlin"
    );
    assert_eq!(c.sla["urgent"].next_response.as_deref(), Some("4h"));
    let cals = c.calendars().expect("calendars");
    assert_eq!(cals.for_area(Some("billing")).name(), "berlin");
    assert!(cals.for_area(Some("tech")).is_always());
    assert!(cals.for_area(None).is_always());
    assert!(cals.for_area(Some("unknown")).is_always());
    // Weekdays default to Monday to Friday.
    let c = Config::parse(
        "[[calendar]]\nname = \"x\"\ntime_zone = \"UTC\"\nhours = \"08:00-16:00\"\n",
        "m.toml",
    )
    .expect("valid");
    assert_eq!(c.calendar[0].weekdays, ["Mon", "Tue", "Wed", "Thu", "Fri"]);
}

#[test]
fn digest_crons_firing_at_most_hourly_pass() {
    for cron in ["0 * * * *", "0 8 29 2 *", "@daily", "59 23 31 12 *"] {
        let text = SLA_CONFIG.replacen("30 7 * * *", cron, 1);
        if let Err(e) = Config::parse(&text, "m.toml") {
            panic!("{cron:?}: {e}");
        }
    }
}

#[test]
fn manager_emails_are_lowercased_at_load() {
    let text = SLA_CONFIG.replacen("dave@example.test", "Dave@Example.TEST", 1);
    let c = Config::parse(&text, "m.toml").expect("valid");
    assert_eq!(c.manager[1].email, "dave@example.test");
}

#[test]
fn sla_errors_name_the_key() {
    let err = |from: &str, to: &str| {
        let text = SLA_CONFIG.replacen(from, to, 1);
        assert_ne!(text, SLA_CONFIG, "{from:?} not in the config");
        Config::parse(&text, "m.toml")
            .expect_err("invalid")
            .to_string()
    };
    let cases = [
        ("09:00-17:00", "9-5", "key calendar[0].hours: \"9-5\""),
        ("09:00-17:00", "17:00-09:00", "key calendar[0].hours:"),
        (
            "time_zone = \"Europe/Berlin\"\nweekdays",
            "time_zone = \"Europe/Berln\"\nweekdays",
            "key calendar[0].time_zone: unknown time zone \"Europe/Berln\"",
        ),
        (
            "\"Mon\", \"Tue\"",
            "\"Mon\", \"Tu\"",
            "key calendar[0].weekdays: \"Tu\" is not a weekday",
        ),
        (
            "\"2026-12-25\"",
            "\"2026-12-32\"",
            "key calendar[0].holidays: \"2026-12-32\" is not a date",
        ),
        (
            "name = \"tech\"",
            "name = \"tech\"\ncalendar = \"x\"",
            "key area[1].calendar: no calendar \"x\"",
        ),
        (
            "0 8 * * Mon-Fri",
            "0 8 * *",
            "key manager[0].digest: bad cron \"0 8 * *\"",
        ),
        (
            "30 7 * * *",
            "every morning",
            "key manager[1].digest: bad cron",
        ),
        (
            "0 8 * * Mon-Fri",
            "0 8 30 2 *",
            "key manager[0].digest: cron \"0 8 30 2 *\" never fires",
        ),
        (
            "30 7 * * *",
            "*/30 7 * * *",
            "key manager[1].digest: cron \"*/30 7 * * *\" fires more often than hourly",
        ),
        (
            "30 7 * * *",
            "0,30 7 * * *",
            "key manager[1].digest: cron \"0,30 7 * * *\" fires more often than hourly",
        ),
        (
            "time_zone = \"Europe/Berlin\"\nperiod",
            "time_zone = \"Mars/Olympus\"\nperiod",
            "key manager[0].time_zone: unknown time zone",
        ),
        (
            "email = \"dave@example.test\"",
            "email = \"dave\"",
            "key manager[1].email",
        ),
        (
            "first_response = \"1h\"",
            "first_response = \"soon\"",
            "key sla.urgent.first_response:",
        ),
        (
            "next_response = \"4h\"",
            "next_response = \"0m\"",
            "key sla.urgent.next_response:",
        ),
        (
            "resolution = \"8h\"",
            "resolution = \"2years\"",
            "key sla.urgent.resolution: \"2years\": a target must be at most a year",
        ),
        (
            "[mailroom]\ntime_zone = \"Europe/Berlin\"",
            "[mailroom]\ntime_zone = \"CEST\"",
            "key mailroom.time_zone: unknown time zone \"CEST\"",
        ),
        ("period = \"week\"", "period = \"month\"", "period"),
        ("skip_empty = true", "skip_empty = \"yes\"", "skip_empty"),
        ("hours = \"09:00-17:00\"\n", "", "hours"),
    ];
    for (from, to, want) in cases {
        let e = err(from, to);
        assert!(e.contains(want), "{from:?} -> {to:?}: {e}");
    }
    let twice = format!(
        "{SLA_CONFIG}[[calendar]]\nname = \"berlin\"\ntime_zone = \"UTC\"\nhours = \"08:00-16:00\"\n"
    );
    let e = Config::parse(&twice, "m.toml")
        .expect_err("duplicate")
        .to_string();
    assert!(
        e.contains("key calendar[1].name: duplicate calendar name"),
        "{e}"
    );
    let e = Config::parse(
        "[[calendar]]\nname = \"x\"\ntime_zone = \"UTC\"\nhours = \"08:00-16:00\"\nweekdays = []\n",
        "m.toml",
    )
    .expect_err("no days")
    .to_string();
    assert!(e.contains("key calendar[0].weekdays: at least one"), "{e}");
    let e = Config::parse(
        "[[agent]]\nemail = \"a@x.test\"\ntime_zone = \"Berlin\"\n",
        "m.toml",
    )
    .expect_err("zone")
    .to_string();
    assert!(e.contains("key agent[0].time_zone"), "{e}");
}

#[test]
fn pool_size_defaults_by_backend_and_yields_to_the_config() {
    let mut db = DatabaseSection::default();
    assert_eq!(db.pool_size("sqlite://./mailroom.db"), 2);
    assert_eq!(db.pool_size("postgres://localhost/mailroom"), 5);
    db.max_connections = Some(7);
    assert_eq!(db.pool_size("sqlite://./mailroom.db"), 7);
    assert_eq!(db.pool_size("postgres://localhost/mailroom"), 7);
}

#[test]
fn the_ingest_socket_is_beside_the_sqlite_database_unless_set() {
    assert_eq!(
        Config::embedded_default().ingest_socket(),
        Some(PathBuf::from("./mailroom.db.sock")),
        "default"
    );
    let pg = "[database]\nurl = \"postgres://db/mr\"\n";
    let cases = [
        (
            "[database]\nurl = \"sqlite:///var/lib/mailroom/m.db?mode=rwc\"\n".to_string(),
            Some("/var/lib/mailroom/m.db.sock"),
        ),
        // No file to put it beside.
        (pg.to_string(), None),
        (
            format!("[mailroom]\ningest_socket = \"/run/mailroom/in.sock\"\n{pg}"),
            Some("/run/mailroom/in.sock"),
        ),
        ("[mailroom]\ningest_socket = \"off\"\n".to_string(), None),
    ];
    for (text, want) in cases {
        let c = Config::parse(&text, "m.toml").expect("config");
        assert_eq!(c.ingest_socket(), want.map(PathBuf::from), "{text}");
    }
    let long = format!("[mailroom]\ningest_socket = \"/{}\"\n", "x".repeat(120));
    let err = Config::parse(&long, "m.toml").unwrap_err();
    assert!(err.to_string().contains("mailroom.ingest_socket"), "{err}");
}
