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
[[manager]]
email = "carol@example.test"
areas = ["*"]
digest = "0 8 * * Mon-Fri"
time_zone = "Europe/Berlin"
[sla.urgent]
first_response = "1h"
resolution = "8h"
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
