//! Unit tests of the shapes issue 20 found missing: date-first attributions
//! (also wrapped inside the address or without a colon), quoted names
//! wrapped over lines, embedded attributions, Outlook headers in more
//! languages, HTML-only mails stripped from their HTML (`strip_body`).

use crate::mail::reply::{Cut, KeptWhole, marker_line, strip_body, strip_text};

fn kept(input: &str) -> String {
    strip_text(input).text
}

#[test]
fn date_first_attributions() {
    for header in [
        "2017-02-05 13:29 GMT+02:00 Alice Example <alice@example.com>:",
        // Wrapped inside the address: no space is added when joining.
        "2014-10-17 11:28 GMT+03:00 Postmaster <\npostmaster@sandbox.example.org>:",
        "2017-02-05 13:29 GMT+02:00 Alice Example\n<alice@example.com>:",
        // Some clients write it without a colon: then a `>` quote must follow.
        "2011/4/7 Nathan Иванова <support@example.com>",
    ] {
        let input = format!("Test reply\n\n{header}\n\n> First from site\n>\n");
        let r = strip_text(&input);
        assert_eq!(r.text, "Test reply", "{header:?}");
        assert_eq!(r.cut, Cut::QuoteHeader, "{header:?}");
    }
    // Without a quote under it, a dated line with an address is text.
    let prose = "Minutes\n\n2011/4/7 Nathan <nathan@example.com>\nagreed on the plan.";
    assert_eq!(kept(prose), prose);
}

#[test]
fn quoted_names_wrapped_over_lines() {
    for header in [
        "On Tue, Jan 27, 2015 at 12:42 PM -0800, \"Company\" <\nchristine@example.com> wrote:",
        "On Mon, Feb 5, 2017 at 1:29 PM, \"John Smith\"\n<john@example.com> wrote:",
        "On Mon, Feb 5, 2017 at 1:29 PM, \"John\nSmith\" <john@example.com>\nwrote:",
        " On Mar 8, 2012 9:59 AM, \"Example.com\" <\nr+7f1b094ceb90e18cca93d53d3703feae@example.com> wrote:",
    ] {
        let input = format!("Thanks, done.\n{header}\n\n> the question\n> more\n");
        assert_eq!(kept(&input), "Thanks, done.", "{header:?}");
        // And with the original unquoted under it.
        let input = format!("Thanks, done.\n\n{header}\n\nthe question\n");
        assert_eq!(kept(&input), "Thanks, done.", "{header:?}");
    }
}

#[test]
fn embedded_attribution_keeps_the_words_before_it() {
    let cases = [
        (
            "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:\n> Hi",
            "reply",
        ),
        (
            "reply--- On Wed, Apr 4, 2012 at 3:59 PM, me@example.com wrote:\n> Hi",
            "reply",
        ),
        (
            "reply\nbla-bla - bla--- On Wed, Apr 4, 2012 at 3:59 PM, me@example.com wrote:\n> Hi",
            "reply\nbla-bla - bla",
        ),
        (
            "Thanks! Am 3. März 2026 um 10:02 schrieb Alice <a@example.com>:\n\n> Frage",
            "Thanks!",
        ),
    ];
    for (input, want) in cases {
        let r = strip_text(input);
        assert_eq!(r.text, want, "{input:?}");
        assert_ne!(r.kept_whole, Some(KeptWhole::WouldBeEmpty), "{input:?}");
    }
    // Prose with "on" and an address is no attribution.
    for prose in [
        "We meet on Monday at 10:00 with Bob <bob@example.com>:\n- agenda",
        "Call me On Monday.",
        "2026-03-03 10:02 Alice On Call <a@example.com>:\n> q",
        "> quoted text On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:",
    ] {
        assert!(
            kept(prose).starts_with(prose.lines().next().unwrap_or_default().trim()),
            "{prose:?} -> {:?}",
            kept(prose)
        );
    }
}

#[test]
fn embedded_attribution_above_the_marker_keeps_the_answer() {
    let marker = marker_line("MR-7");
    let input = format!(
        "Done, refunded. On Tue, 3 Mar 2026 at 10:02, Support <support@example.test> wrote:\n> {marker}\n> Internal: VIP\n"
    );
    let r = strip_text(&input);
    assert_eq!(r.text, "Done, refunded.");
    assert_eq!(r.cut, Cut::Marker);
    assert!(!r.text.contains("Internal"));
}

#[test]
fn outlook_headers_in_more_languages() {
    let blocks = [
        // Windows Mail puts left-to-right marks around the date's parts.
        "От: Alexander L\nОтправлено: \u{200e}четверг\u{200e}, \u{200e}26\u{200e} \u{200e}июня\u{200e} \u{200e}2014\u{200e} г. 15:05\nКому: Alex <alex@example.com>\nТема: Re: вопрос",
        "Від: Олена <olena@example.com>\nНадіслано: 3 березня 2026 р. 10:02\nКому: Support\nТема: Re: питання",
        "Από: Νίκος <nikos@example.com>\nΣτάλθηκε: Τρίτη, 3 Μαρτίου 2026 10:02 πμ\nΠρος: Support\nΘέμα: RE: ερώτηση",
        "De la: Ana <ana@example.com>\nTrimis: marți, 3 martie 2026 10:02\nCătre: Support\nSubiect: RE: întrebare",
        "보낸 사람: 김철수 <kim@example.com>\n보낸 날짜: 2026년 3월 3일 화요일 오전 10:02\n받는 사람: Support\n제목: RE: 질문",
        "Dari: Budi <budi@example.com>\nDikirim: Selasa, 03 Maret 2026 10.02\nKepada: Support\nPerihal: RE: pertanyaan",
    ];
    for block in blocks {
        let input = format!("Спасибо, всё работает.\n\n{block}\n\nHello! How are you?\n");
        let r = strip_text(&input);
        assert_eq!(r.text, "Спасибо, всё работает.", "{block:?}");
        assert_eq!(r.cut, Cut::OutlookHeader, "{block:?}");
    }
    // A block that starts with its date and names an address (talon).
    assert_eq!(
        kept("Blah\n\nDate: Wed, 16 May 2012 00:15:02 -0600\nTo: klizhentas@example.com"),
        "Blah"
    );
}

#[test]
fn more_separators_and_verbs() {
    for sep in ["-----Reply Message-----", "-----Antwort Nachricht-----"] {
        assert_eq!(kept(&format!("Test reply\n\n{sep}\n\nTest")), "Test reply");
    }
    let dutch = "Lorem\n\nOp 17-feb.-2015, om 13:18 heeft Julius Caesar <pantheon@rome.com> het volgende geschreven:\n\nSmall batch.";
    assert_eq!(kept(dutch), "Lorem");
    let sent =
        "Test reply\n\nOn 11-Apr-2011, at 6:54 PM, Roman <romant@example.com> sent:\n\n> Test";
    assert_eq!(kept(sent), "Test reply");
    // "sent:" alone is prose.
    let prose = "Here is what I sent:\n\nthe list";
    assert_eq!(kept(prose), prose);
}

#[test]
fn links_wrapped_inside_a_quote_are_quoted() {
    let a = "Blah\n\nOn Thursday, October 25, 2012 at 3:03 PM, Bob wrote:\n\n>\n> Post a response\n>\n (http://example.com/c/YzOTYzMmE) >\n> life is short. (http://example.com/c/YzMmE)\n>\n";
    assert_eq!(kept(a), "Blah");
    let b = "Blah\n\nOn Monday, 24 September, 2012 at 3:46 PM, bob wrote:\n\n> [Ticket #50] test\n>\n> View ticket (http://example.com/action\n_nonce=3dd518)\n>\n";
    assert_eq!(kept(b), "Blah");
}

#[test]
fn html_only_mail_is_stripped_from_its_html() {
    let html = "<div>Reply</div><hr>From: Bob &lt;bob@example.com&gt;<br>Date: Tue, 01 Nov 2011 18:54:39 -0700<br>To: Rob &lt;rob@example.com&gt;<br>Subject: Test<br><br>Hi";
    // What a flat rendering gives: the header glued to the reply.
    let flat = "ReplyFrom: Bob <bob@example.com>\nDate: Tue, 01 Nov 2011 18:54:39 -0700\nTo: Rob <rob@example.com>\nSubject: Test\nHi";
    let r = strip_body(flat, Some(html));
    assert_eq!(r.text, "Reply");
    assert_eq!(r.cut, Cut::HtmlQuote);
    // With a text part of its own (no HTML given), the text is stripped as text.
    assert_eq!(strip_body("Hi\n\n> old", None).text, "Hi");
    // The text pass still drops what it knows (mobile footers).
    let r = strip_body("", Some("<div>Thanks</div><div>Sent from my iPhone</div>"));
    assert_eq!(r.text, "Thanks");
    assert!(r.footer_removed);
    // Answers between quotes keep the whole part.
    let inter = "<div>a</div><blockquote type=\"cite\">q1</blockquote><div>b</div><blockquote type=\"cite\">q2</blockquote><div>c</div>";
    let r = strip_body("", Some(inter));
    assert_eq!(r.kept_whole, Some(KeptWhole::Interleaved));
    assert!(r.text.contains('a') && r.text.contains("q2") && r.text.contains('c'));
}

#[test]
fn html_only_marker_wins_and_nothing_below_it_returns() {
    let marker = marker_line("MR-7");
    let html = format!(
        "<div>Done.</div><div class=\"gmail_quote\">On Tue, Support &lt;s@x.test&gt; wrote:<blockquote>{marker}<br>Internal: VIP</blockquote></div>"
    );
    let r = strip_body("ignored", Some(&html));
    assert_eq!(r.text, "Done.");
    assert!(r.marker_found);
    assert_eq!(r.cut, Cut::Marker);
    // A marker only the rendered text shows: the text pass cuts there.
    let text = format!("Done.\n{marker}\nInternal: VIP");
    let r = strip_body(&text, Some("<p>Done.</p><p>##- Reply above</p>"));
    assert!(r.marker_found);
    assert!(!r.text.contains("Internal"), "{:?}", r.text);
}
