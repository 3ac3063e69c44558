//! Saved replies (issue 22): `#reply NAME` in an agent's answer puts
//! `templates/replies/NAME.txt` (and `.html`) in its place, rendered for the
//! ticket, with its header commands run after the agent's own; an unknown
//! name or a missing variable relays nothing and is explained; a customer's
//! `#reply` is text; a hostile subject stays text; `replies list/preview`.
//! Both backends, through the real binary.

use mailroom::mail::ParsedMail;
use serde_json::Value;

use crate::both_backends;
use crate::relay::{Style, agent_reply, find, reply_address, reply_body, sent_since};
use crate::support::*;
use crate::voices::TEAM;

const REFUND: &str = "#tag refund\n#pending\n\nYour refund for {{ ticket_ref }} ({{ subject }}) is on its way, {{ customer_name | default(\"there\") }}.\n";
const RECEIVED_TXT: &str = "{{ agent_name }} has your message about {{ subject }}.\n";
const RECEIVED_HTML: &str =
    "<p><strong>{{ agent_name }}</strong> has your message about {{ subject }}.</p>\n";
/// Uses the customer's name with no default: fails for a ticket without one.
const GREET: &str = "Dear {{ customer_name }},\n";

/// A desk (Bob owns every ticket) with saved replies in `templates/replies/`.
struct Desk {
    env: Env,
    seen: usize,
}

impl Desk {
    fn new(b: Backend) -> Desk {
        let env = Env::with_config(b, TEAM, "");
        let dir = env.path("templates/replies");
        std::fs::create_dir_all(&dir).expect("replies dir");
        for (name, text) in [
            ("refund.txt", REFUND),
            ("received.txt", RECEIVED_TXT),
            ("received.html", RECEIVED_HTML),
            ("greet.txt", GREET),
        ] {
            std::fs::write(dir.join(name), text).expect("write saved reply");
        }
        Desk { env, seen: 0 }
    }

    /// A customer's new mail and its notification to Bob.
    fn open(&mut self, from: &str, subject: &str) -> ParsedMail {
        let o = self
            .env
            .ingest(&mail(from, subject, "c1@customer.test", "", "Please help."));
        assert_eq!(o["outcome"], "created", "{o}");
        let sent = self.flush();
        find(&sent, "notification")
            .first()
            .map(|m| (*m).clone())
            .expect("a notification to Bob")
    }

    fn flush(&mut self) -> Vec<(String, ParsedMail)> {
        let new = sent_since(&self.env, self.seen);
        self.seen += new.len();
        new
    }

    /// Bob answers `notif` with `words` above the quoted notification.
    fn bob_answers(&self, notif: &ParsedMail, words: &str) -> Value {
        let body = reply_body(words, notif, Style::Gmail);
        self.env.ingest(&agent_reply(
            "bob@example.test",
            notif,
            "a1@example.test",
            &body,
            "",
        ))
    }

    fn replies(&self, args: &[&str]) -> (bool, String) {
        let mut all = vec!["replies"];
        all.extend_from_slice(args);
        self.env.run_text(&all)
    }
}

fn tags(t: &Value) -> Vec<String> {
    t["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect()
}

/// The one explanation mailed in `sent`, with `needle` in its text.
fn explanation<'a>(sent: &'a [(String, ParsedMail)], needle: &str) -> &'a ParsedMail {
    let system = find(sent, "system");
    assert_eq!(system.len(), 1, "one explanation");
    assert!(
        system[0].text.contains(needle),
        "{needle:?} in:\n{}",
        system[0].text
    );
    system[0]
}

both_backends! {
    /// The saved reply stands where its line stood, with Bob's words
    /// around it; its `#tag refund` and `#pending` run after Bob's own
    /// `#priority high`, and the events say where they came from.
    fn a_saved_reply_takes_its_lines_place_and_its_commands_run(b) {
        let mut d = Desk::new(b);
        let notif = d.open("Amy Example <amy@customer.test>", "Charged twice");
        let o = d.bob_answers(&notif, "#priority high\nHi Amy,\n\n#reply refund\n\nBest, Bob");
        assert_eq!(o["outcome"], "agent_reply", "{o}");
        assert!(o["reason"].is_null(), "relayed: {o}");
        let relays = d.flush();
        let relay = find(&relays, "relay");
        assert_eq!(relay.len(), 1);
        let text = relay[0].text.replace("\r\n", "\n");
        assert!(
            text.starts_with("Hi Amy,\n\nYour refund for MR-1 (Charged twice) is on its way, Amy Example.\n\nBest, Bob"),
            "{text}"
        );
        for leaked in ["#reply", "#tag", "#pending", "{{", "#priority"] {
            assert!(!text.contains(leaked), "{leaked:?} in {text}");
        }
        assert!(relay[0].html.is_none(), "Bob wrote text only");
        let t = d.env.ticket("MR-1");
        assert_eq!(tags(&t), ["refund"]);
        assert_eq!(t["status"], "pending");
        assert_eq!(t["priority"], "high");
        let stored = messages(&t).iter().find(|m| m["kind"] == "relay").expect("relay stored");
        assert!(stored["text"].as_str().unwrap_or("").contains("Your refund for MR-1"), "{stored}");
        let events = events_text(&t);
        assert!(events.contains("#reply refund: saved reply \"refund\" in its place, with its commands #tag refund, #pending"), "{events}");
        let order = ["#priority high by", "#tag refund by", "#pending by"].map(|e| events.find(e).unwrap_or_else(|| panic!("{e} in {events}")));
        assert!(order[0] < order[1] && order[1] < order[2], "Bob's own commands first: {events}");
    }

    /// An HTML answer: the saved reply's `.html` goes where the line stood,
    /// and a saved reply without one goes in as its text, escaped.
    fn html_answers_get_the_saved_replies_html(b) {
        let mut d = Desk::new(b);
        let notif = d.open("Amy Example <amy@customer.test>", "Invoice <wrong>");
        let text = reply_body("Hi Amy,\n#reply received\n#reply refund\nBob", &notif, Style::Gmail);
        let nhtml = notif.html.clone().unwrap_or_default();
        let html = format!("<div dir=\"ltr\"><div>Hi Amy,</div><div>#reply received</div><div>#reply refund</div><div>Bob</div></div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, Nov 30, 2026 at 10:00 AM Example Support &lt;support@example.test&gt; wrote:<br></div><blockquote class=\"gmail_quote\">{nhtml}</blockquote></div>");
        let raw = format!(
            "From: Bob <bob@example.test>\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <h1@example.test>\r\nIn-Reply-To: <{}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=ALT\r\n\r\n--ALT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--ALT--\r\n",
            reply_address(&notif), notif.subject, notif.message_id
        );
        assert_eq!(d.env.ingest(&raw)["outcome"], "agent_reply");
        let sent = d.flush();
        let relay = find(&sent, "relay");
        assert_eq!(relay.len(), 1);
        let h = relay[0].html.as_deref().expect("an HTML part: Bob wrote HTML");
        assert!(h.contains("<strong>Bob</strong> has your message about Invoice &lt;wrong&gt;."), "{h}");
        assert!(h.contains("Your refund for MR-1 (Invoice &lt;wrong&gt;) is on its way, Amy Example."), "{h}");
        assert!(!h.contains("#reply") && !h.contains("<wrong>"), "{h}");
        let t = relay[0].text.replace("\r\n", "\n");
        assert!(t.contains("Hi Amy,\nBob has your message about Invoice <wrong>.\nYour refund"), "{t}");
    }

    /// An unknown name: nothing relayed, no command runs (not even Bob's
    /// own), and Bob is told which saved replies there are.
    fn an_unknown_saved_reply_relays_nothing_and_is_explained(b) {
        let mut d = Desk::new(b);
        let notif = d.open("Amy Example <amy@customer.test>", "Charged twice");
        let o = d.bob_answers(&notif, "#tag urgent-ish\nHi Amy,\n#reply refnud\nBob");
        assert_eq!(o["outcome"], "agent_reply");
        let why = "no saved reply \"refnud\" (saved replies: greet, received, refund)";
        assert!(o["reason"].as_str().unwrap_or("").contains(why), "{o}");
        let sent = d.flush();
        assert!(find(&sent, "relay").is_empty(), "nothing relayed");
        explanation(&sent, why);
        let t = d.env.ticket("MR-1");
        assert!(tags(&t).is_empty(), "no command ran: {t}");
        assert_eq!(t["status"], "open");
    }

    /// A variable the ticket has not got (Amy gave no name): nothing
    /// relayed, and the explanation names the variable.
    fn a_missing_variable_relays_nothing_and_is_explained(b) {
        let mut d = Desk::new(b);
        let notif = d.open("amy@customer.test", "Charged twice");
        let o = d.bob_answers(&notif, "#reply greet\nYour refund is on its way.\n#reply refund");
        assert_eq!(o["outcome"], "agent_reply");
        let why = "saved reply \"greet\": undefined variable customer_name (greet.txt, line 1)";
        assert!(o["reason"].as_str().unwrap_or("").contains(why), "{o}");
        let sent = d.flush();
        assert!(find(&sent, "relay").is_empty(), "nothing relayed");
        explanation(&sent, why);
        let t = d.env.ticket("MR-1");
        assert!(tags(&t).is_empty(), "the refund's #tag did not run: {t}");
        assert_eq!(t["status"], "open");
    }

    /// A customer writing `#reply refund` (first mail and follow-up) gets
    /// no saved reply: it is their text, shown to Bob as written.
    fn a_customer_never_triggers_a_saved_reply(b) {
        let mut d = Desk::new(b);
        let o = d.env.ingest(&mail("Amy <amy@customer.test>", "Refund?", "c1@customer.test", "", "#reply refund\n#tag refund\nGive me my money."));
        assert_eq!(o["outcome"], "created");
        let first = d.flush();
        let follow = mail("Amy <amy@customer.test>", "Re: Refund? [MR-1]", "c2@customer.test", "In-Reply-To: <c1@customer.test>\r\n", "#reply refund\nStill waiting.");
        assert_eq!(d.env.ingest(&follow)["outcome"], "appended");
        let second = d.flush();
        for sent in [&first, &second] {
            assert!(find(sent, "relay").is_empty());
            for (_, m) in sent.iter() {
                assert!(!m.text.contains("is on its way"), "no saved reply text anywhere:\n{}", m.text);
            }
        }
        let notif = find(&second, "notification");
        assert!(notif[0].text.contains("#reply refund\nStill waiting.") || notif[0].text.contains("#reply refund\r\nStill waiting."), "{}", notif[0].text);
        let t = d.env.ticket("MR-1");
        assert!(tags(&t).is_empty(), "{t}");
        assert!(!events_text(&t).contains("saved reply"), "{}", events_text(&t));
    }

    /// Subject and customer name are the customer's words: template syntax
    /// in them stays text in the relay, never rendered.
    fn a_hostile_subject_stays_literal(b) {
        let mut d = Desk::new(b);
        let hostile = "{{ agent }} {% for x in range(3) %}x{% endfor %}";
        let notif = d.open("\"{{ owner }}\" <amy@customer.test>", hostile);
        let o = d.bob_answers(&notif, "#reply refund");
        assert_eq!(o["outcome"], "agent_reply");
        assert!(o["reason"].is_null(), "relayed: {o}");
        let sent = d.flush();
        let relay = find(&sent, "relay");
        assert_eq!(relay.len(), 1);
        let text = relay[0].text.replace("\r\n", "\n");
        assert!(text.contains(&format!("Your refund for MR-1 ({hostile}) is on its way, {{{{ owner }}}}.")), "{text}");
        assert!(!text.contains("bob@example.test") && !text.contains(" xxx"), "{text}");
    }

    /// `replies list` (text and JSON) and `replies preview` for a ticket,
    /// with clear errors for an unknown name, ticket or agent.
    fn replies_list_and_preview_show_them(b) {
        let mut d = Desk::new(b);
        d.open("Amy Example <amy@customer.test>", "Charged twice");
        let (ok, out) = d.replies(&["list"]);
        assert!(ok, "{out}");
        let refund = out.lines().find(|l| l.starts_with("refund ")).unwrap_or_else(|| panic!("{out}"));
        assert!(refund.contains(" no ") && refund.contains("#tag refund, #pending") && refund.contains("Your refund for {{ ticket_ref }}"), "{refund}");
        assert!(out.lines().any(|l| l.starts_with("received ") && l.contains(" yes ")), "{out}");
        let (ok, out) = d.replies(&["list", "--json"]);
        assert!(ok, "{out}");
        let list: Value = serde_json::from_str(&out).expect("json");
        let names: Vec<&str> = list.as_array().expect("array").iter().filter_map(|r| r["name"].as_str()).collect();
        assert_eq!(names, ["greet", "received", "refund"]);
        assert_eq!(list[2]["commands"], serde_json::json!(["#tag refund", "#pending"]));
        assert_eq!(list[1]["html"], true);

        let (ok, out) = d.replies(&["preview", "refund", "--ticket", "MR-1"]);
        assert!(ok, "{out}");
        assert!(out.contains("saved reply \"refund\" for MR-1 as bob@example.test"), "{out}");
        assert!(out.contains("commands: #tag refund, #pending"), "{out}");
        assert!(out.contains("Your refund for MR-1 (Charged twice) is on its way, Amy Example."), "{out}");
        let (ok, out) = d.replies(&["preview", "received", "--ticket", "1", "--agent", "tess@example.test"]);
        assert!(ok, "{out}");
        assert!(out.contains("Tess has your message") && out.contains("<strong>Tess</strong>"), "{out}");

        let (ok, out) = d.replies(&["preview", "nope", "--ticket", "MR-1"]);
        assert!(!ok && out.contains("no saved reply \"nope\" (saved replies: greet, received, refund)"), "{out}");
        let (ok, out) = d.replies(&["preview", "refund", "--ticket", "MR-9"]);
        assert!(!ok && out.contains("no ticket MR-9"), "{out}");
        let (ok, out) = d.replies(&["preview", "refund", "--ticket", "MR-1", "--agent", "eve@else.test"]);
        assert!(!ok && out.contains("eve@else.test is not an agent on the roster"), "{out}");
        assert_eq!(d.env.count("SELECT COUNT(*) FROM outbox"), 2, "a preview sends nothing");
    }
}
