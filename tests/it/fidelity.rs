//! Every word reaches the engineer (issue 20, items 2, 3 and 8): real mails
//! from public test suites (`tests/fixtures/`, see its MANIFEST) go through
//! the real binary on both backends, and the ticket's text, HTML,
//! attachments and events are checked; `inspect --json` says where each
//! part went and which charset read it.

use std::path::PathBuf;

use serde_json::Value;

use crate::both_backends;
use crate::support::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Ingests one fixture; its outcome line.
fn ingest_fixture(env: &Env, name: &str) -> Value {
    let mut out = env.ingest_files(&[&fixture(name)]);
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0)
}

/// The ticket's first message.
fn first_message(env: &Env, reference: &str) -> (Value, Value) {
    let t = env.ticket(reference);
    let m = messages(&t)[0].clone();
    (t, m)
}

fn text(m: &Value) -> &str {
    m["text"].as_str().unwrap_or("")
}

fn html(m: &Value) -> &str {
    m["html"].as_str().unwrap_or("")
}

fn attachment_names(m: &Value) -> Vec<String> {
    m["attachments"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["filename"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn inspect(env: &Env, name: &str) -> Value {
    let file = fixture(name).display().to_string();
    serde_json::from_str(&env.run_ok(&["inspect", "--json", &file])).expect("inspect JSON")
}

both_backends! {
    fn cjk_charsets_reach_the_ticket(b) {
        let env = Env::new(b);
        for f in [
            "mail__japanese_iso_2022.eml",
            "mail__japanese_shift_jis.eml",
            "mail__ks_c_5601-1987.eml",
            "mail__raw_email_double_at_in_header.eml",
        ] {
            let o = ingest_fixture(&env, f);
            assert_eq!(o["outcome"], "created", "{f}: {o}");
        }
        let (t, m) = first_message(&env, "MR-1");
        assert_eq!(t["subject"], "まみむめも");
        assert_eq!(text(&m).trim(), "すみません。");
        assert!(events_text(&t).contains("charset: part 1 (text/plain): iso-2022-jp, as declared"), "{}", events_text(&t));

        let (t, m) = first_message(&env, "MR-2");
        assert!(text(&m).contains("このメールはテスト用のメールです。"), "{}", text(&m));
        assert!(text(&m).contains("今後ともよろしくお願い申し上げます！"), "{}", text(&m));
        assert!(events_text(&t).contains("shift_jis, as declared"), "{}", events_text(&t));

        let (t, m) = first_message(&env, "MR-3");
        assert_eq!(text(&m).trim(), "스티해");
        assert!(events_text(&t).contains("ks_c_5601-1987, as declared"), "{}", events_text(&t));

        let (t, m) = first_message(&env, "MR-4");
        assert_eq!(t["subject"], "NOTE: 한국말로 하는 것");
        assert!(text(&m).contains("대부분의 마찬가지로, 우리는 하나님을 믿습니다."), "{}", text(&m));
        assert!(text(&m).contains("제 이름은 Jamis입니다."), "{}", text(&m));
        assert!(!text(&m).contains('\u{FFFD}'));

        // inspect says the same, part by part.
        let i = inspect(&env, "mail__japanese_shift_jis.eml");
        assert_eq!(i["parts"][0]["charset"], "shift_jis", "{i}");
        assert_eq!(i["parts"][0]["went"], "text");
        assert!(i["text"].as_str().unwrap_or("").contains("あいうえお"));
        assert_eq!(i["charset_notes"][0], "part 1 (text/plain): shift_jis, as declared");
    }

    fn html_only_mail_has_a_text(b) {
        let env = Env::new(b);
        let o = ingest_fixture(&env, "mail__content_transfer_encoding_text-html.eml");
        assert_eq!(o["outcome"], "created", "{o}");
        let (_, m) = first_message(&env, "MR-1");
        assert!(text(&m).contains("You have qualified for the lowest rate in years."), "{}", text(&m));
        assert!(!text(&m).contains("<br>"), "{}", text(&m));
        assert!(html(&m).contains("Approval Form"), "{}", html(&m));
        let i = inspect(&env, "mail__content_transfer_encoding_text-html.eml");
        let went: Vec<&str> = i["parts"].as_array().expect("parts").iter().map(|p| p["went"].as_str().unwrap_or("")).collect();
        assert_eq!(went, ["html"], "{i}");
    }

    fn apple_mail_split_body_keeps_both_html_parts(b) {
        let env = Env::new(b);
        let o = ingest_fixture(&env, "mail__image_in_the_middle.eml");
        assert_eq!(o["outcome"], "created", "{o}");
        let (_, m) = first_message(&env, "MR-1");
        let h = html(&m);
        let before = h.find("you can put a picture in the middle of a message");
        let after = h.find("fonts!");
        assert!(before.is_some() && after.is_some() && before < after, "both halves, in order: {h}");
        assert!(text(&m).contains("Oh look I am PLaying around with fonts!"), "{}", text(&m));
        assert_eq!(attachment_names(&m), ["IMG_2583.jpeg"]);
        let i = inspect(&env, "mail__image_in_the_middle.eml");
        let parts: Vec<(String, String)> = i["parts"].as_array().expect("parts").iter()
            .map(|p| (p["path"].as_str().unwrap_or("").to_string(), p["went"].as_str().unwrap_or("").to_string()))
            .collect();
        let want: Vec<(String, String)> = [("1", "text"), ("2.1", "html"), ("2.2", "attachment"), ("2.3", "html")]
            .iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(parts, want, "{i}");
    }

    fn tnef_yields_its_body(b) {
        let env = Env::new(b);
        let o = ingest_fixture(&env, "mimekit__ukr.eml");
        assert_eq!(o["outcome"], "created", "{o}");
        let (t, m) = first_message(&env, "MR-1");
        // The koi8-r text part, and the HTML Outlook wrapped in winmail.dat.
        assert!(text(&m).contains("шостий"), "{}", text(&m));
        assert!(html(&m).contains("шостий"), "{}", html(&m));
        assert!(html(&m).contains("RR Test 1"), "{}", html(&m));
        assert!(attachment_names(&m).is_empty(), "winmail.dat is unpacked, not stored: {:?}", attachment_names(&m));
        assert!(events_text(&t).contains("koi8-r, as declared"), "{}", events_text(&t));
        let i = inspect(&env, "mimekit__ukr.eml");
        let went: Vec<&str> = i["parts"].as_array().expect("parts").iter().map(|p| p["went"].as_str().unwrap_or("")).collect();
        assert_eq!(went, ["text", "unpacked", "html"], "{i}");
        assert!(i["parts"][1]["note"].as_str().unwrap_or("").starts_with("TNEF"), "{i}");
    }

    fn a_delay_report_is_not_a_failure(b) {
        let env = Env::new(b);
        // The customer's mail the report is about, then the report.
        env.ingest(&mail(
            "jennifer@sss.sssssss.net.au",
            "Wanted",
            "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au",
            "",
            "Please call me.",
        ));
        let o = ingest_fixture(&env, "mail__report_422.eml");
        assert_eq!((o["outcome"].as_str(), o["ref"].as_str()), (Some("autoreply"), Some("MR-1")), "{o}");
        let t = env.ticket("MR-1");
        assert_eq!(t["status"], "open");
        assert!(events_text(&t).contains("action delayed): not a failure"), "{}", events_text(&t));
        assert_eq!(env.count("SELECT COUNT(*) FROM mail_suppressions"), 0);
        let report = messages(&t)
            .iter()
            .find(|m| m["kind"] == "autoreply")
            .unwrap_or_else(|| panic!("the report on the ticket: {t}"));
        assert!(text(report).contains("THIS IS A WARNING MESSAGE ONLY"), "{}", text(report));
        let names = attachment_names(report);
        assert_eq!(names.len(), 2, "the status and the returned headers are kept: {names:?}");
    }
}
