//! Unit tests of plain-text stripping: one inline sample per language and
//! per rule of the issue.

use crate::mail::reply::{Cut, KeptWhole, marker_line, strip_text};

fn kept(input: &str) -> String {
    strip_text(input).text
}

#[test]
fn attribution_in_every_language() {
    let cases = [
        (
            "Thanks, that works.",
            "On Tue, 3 Mar 2026 at 10:02, Alice <a@x.test> wrote:",
        ),
        (
            "Danke, passt.",
            "Am Di., 3. März 2026 um 10:02 Uhr schrieb Alice <a@x.test>:",
        ),
        (
            "Merci, c'est bon.",
            "Le mar. 3 mars 2026 à 10:02, Alice <a@x.test> a écrit :",
        ),
        (
            "Gracias, funciona.",
            "El mar, 3 mar 2026 a las 10:02, Alicia <a@x.test> escribió:",
        ),
        (
            "Grazie, funziona.",
            "Il giorno mar 3 mar 2026 alle ore 10:02 Alice <a@x.test> ha scritto:",
        ),
        (
            "Obrigado, funciona.",
            "Em ter., 3 de mar. de 2026 às 10:02, Alice <a@x.test> escreveu:",
        ),
        (
            "Bedankt, het werkt.",
            "Op di 3 mrt. 2026 om 10:02 schreef Alice <a@x.test>:",
        ),
        (
            "Dzięki, działa.",
            "W dniu 3.03.2026 o 10:02, Alice <a@x.test> napisał(a):",
        ),
        (
            "Dzięki, działa.",
            "Dnia 3 marca 2026 10:02 Alice <a@x.test> napisała:",
        ),
        (
            "Tack, det fungerar.",
            "Den 3 mars 2026 kl. 10:02 skrev Alice <a@x.test>:",
        ),
        (
            "Takk, det virker.",
            "tir. 3. mar. 2026 kl. 10:02 skrev Alice <a@x.test>:",
        ),
        (
            "Tak, det virker.",
            "Den tirs. 3. mar. 2026 kl. 10.02 skrev Alice <a@x.test>:",
        ),
        (
            "Kiitos, toimii.",
            "ti 3. maalisk. 2026 klo 10.02 Alice <a@x.test> kirjoitti:",
        ),
        (
            "Спасибо, работает.",
            "3 марта 2026 г., в 10:02, Алиса <a@x.test> написал(а):",
        ),
        (
            "好的，谢谢。",
            "在 2026年3月3日 周二 10:02，Alice <a@x.test> 写道：",
        ),
        (
            "承知しました。",
            "2026/03/03 10:02、Alice <a@x.test> は書きました:",
        ),
        ("承知しました。", "2026年3月3日(火) 10:02 Alice <a@x.test>:"),
    ];
    for (reply, header) in cases {
        let input = format!("{reply}\n\n{header}\n> quoted text\n> more\n");
        let r = strip_text(&input);
        assert_eq!(r.text, reply, "{header}");
        assert_eq!(r.cut, Cut::QuoteHeader, "{header}");
        // Without `>` (clients that quote by indentation or not at all).
        let input = format!("{reply}\n\n{header}\n\nthe original text\n");
        assert_eq!(kept(&input), reply, "unquoted: {header}");
    }
}

#[test]
fn wrapped_and_iso_attributions() {
    let two = "Fixed.\n\nOn Tue, 3 Mar 2026 at 10:02, Alice Example <\nalice@example.test> wrote:\n\n> old\n";
    assert_eq!(kept(two), "Fixed.");
    let three = "Fixed.\n\nOn Tue, 3 Mar 2026 at 10:02 AM, Alice Example\n<alice@example.test>\nwrote:\n\n> old\n";
    assert_eq!(kept(three), "Fixed.");
    let french = "Corrigé.\n\nLe mar. 3 mars 2026 à 10:02, Alice <a@x.test>\na écrit :\n\nold\n";
    assert_eq!(kept(french), "Corrigé.");
    let iso = "Fixed.\n\n2026-03-03 10:02 GMT+01:00 Alice <a@x.test>:\n\n> old\n";
    assert_eq!(kept(iso), "Fixed.");
    let zoho = "Fixed.\n\n---- On Tue, 03 Mar 2026 10:02:50 +0100 a@x.test wrote ----\n\nold\n";
    assert_eq!(kept(zoho), "Fixed.");
}

#[test]
fn sentences_about_on_and_wrote_are_not_headers() {
    let greedy = "On your remote host you can run:\n\n    telnet 127.0.0.1 52698\n\nOn the other hand, Bob wrote the docs.\nAs Alice wrote:\nit works.";
    let r = strip_text(greedy);
    assert_eq!(r.text, greedy);
    assert_eq!(r.cut, Cut::None);
    assert_eq!(r.detail, "no quoted history found");
    let one =
        "One outstanding question I had:\n\nOn Oct 1, 2012, at 11:55 PM, Dave wrote:\n\n> old";
    assert_eq!(kept(one), "One outstanding question I had:");
    // A prose line with a date just above a complete attribution stays.
    let prose =
        "We shipped 2.4 on 2026-03-01\nOn Tue, 3 Mar 2026 at 10:02, Alice <a@x.test> wrote:\n> old";
    assert_eq!(kept(prose), "We shipped 2.4 on 2026-03-01");
}

#[test]
fn outlook_blocks_in_any_order_and_language() {
    let german = "Passt so.\n\nBetreff: AW: Drucker\nDatum: 3. März 2026 um 10:02\nAn: support@example.test\nVon: Alice <a@x.test>\n\nDer Drucker druckt nicht.\n";
    let r = strip_text(german);
    assert_eq!(r.text, "Passt so.");
    assert_eq!(r.cut, Cut::OutlookHeader);
    let french = "C'est corrigé.\n\nObjet : Imprimante\nÀ : support@example.test\nDe : Alice <a@x.test>\nEnvoyé : mardi 3 mars 2026 10:02\n\nL'imprimante…\n";
    assert_eq!(kept(french), "C'est corrigé.");
    let bold = "Done.\n\n*From:* Alice [mailto:a@x.test]\n*Sent:* Tuesday, March 3, 2026 10:02 AM\n*To:* support@example.test\n*Subject:* printer\n\nold\n";
    assert_eq!(kept(bold), "Done.");
    // Exchange omits addresses: a dated Sent line and a Subject suffice.
    let exchange = "Done.\n\n________________________________\nFrom: Smith, Alice\nSent: Tuesday, March 3, 2026 10:02 AM\nTo: Jones, Bob\nSubject: printer\n\nold\n";
    assert_eq!(kept(exchange), "Done.");
    // A value the client wrapped onto its own line.
    let split = "Done.\n\nFrom: Human Resources\n<hr-long-address@example.test>\nSent: Monday, March 2, 2026 4:37 PM\nTo: Bob <bob@example.test>\nSubject: x\n\nold";
    assert_eq!(kept(split), "Done.");
    // Travel plans are not a header block.
    let travel = "Booked:\nFrom: Berlin\nTo: Paris\nDate: 3 March\n\nSee you.";
    assert_eq!(kept(travel), travel);
}

#[test]
fn original_message_separators() {
    for sep in [
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message d'origine --------",
        "-------- Mensaje original --------",
        "-------- Messaggio originale --------",
        "-------- Oorspronkelijk bericht --------",
        "-------- Originalmeddelande --------",
        "-------- Opprinnelig melding --------",
        "-------- Alkuperäinen viesti --------",
        "-------- Исходное сообщение --------",
    ] {
        let r = strip_text(&format!("Done.\n\n{sep}\nold text\n"));
        assert_eq!(r.text, "Done.", "{sep}");
        assert_eq!(r.cut, Cut::OriginalMessage, "{sep}");
    }
}

#[test]
fn forwarded_message_is_cut_only_before_headers() {
    let fwd = "FYI, see below.\n\nBegin forwarded message:\n\nthe text I forward";
    assert_eq!(kept(fwd), fwd);
    let with_headers = "FYI.\n\n---------- Forwarded message ---------\nFrom: Alice <a@x.test>\nDate: Tue, 3 Mar 2026 at 10:02\nSubject: x\nTo: b@y.test\n\nold";
    assert_eq!(kept(with_headers), "FYI.");
}

#[test]
fn marker_unquoted_and_quoted() {
    let marker = marker_line("MR-7");
    assert_eq!(marker, "##- Reply above this line to answer MR-7 -##");
    let plain = format!("Done.\n\n{marker}\n\nInternal: VIP customer\n");
    let r = strip_text(&plain);
    assert_eq!(r.text, "Done.");
    assert_eq!(r.cut, Cut::Marker);
    assert!(r.marker_found);
    for quoting in ["> ", "> > ", "   > ", ">"] {
        let input = format!(
            "Done.\n\nOn Tue, 3 Mar 2026 at 10:02, Example Support <\nsupport@example.test> wrote:\n\n{quoting}{marker}\n{quoting}Internal: VIP customer\n"
        );
        let r = strip_text(&input);
        assert_eq!(r.text, "Done.", "{quoting:?}");
        assert_eq!(r.cut, Cut::Marker);
    }
    // Wrapped by the client's quoting.
    let wrapped = "Done.\n\n> ##- Reply above this line to answer\n> MR-7 -##\n> internal";
    assert_eq!(kept(wrapped), "Done.");
    // The marker wins over everything below it.
    let below = format!("Done.\n\n{marker}\nOn Tue, 3 Mar 2026, Alice <a@x.test> wrote:\n> x");
    assert!(strip_text(&below).detail.starts_with("marker at line 3"));
}

#[test]
fn marker_takes_the_outlook_header_above_it() {
    let marker = marker_line("MR-7");
    let english = format!(
        "Done, the refund is on its way.\n\nBob\n\n________________________________\nFrom: Example Support <support@example.test>\nSent: Tuesday, March 3, 2026 10:02 AM\nTo: Bob <bob@example.test>\nSubject: [MR-7] Refund\n\n{marker}\n\nInternal: customer is on the enterprise plan.\n"
    );
    let german = format!(
        "Erledigt.\n\n-----Ursprüngliche Nachricht-----\nBetreff: [MR-7] Erstattung\nAn: Bob <bob@example.test>\nVon: Example Support <support@example.test>\nGesendet: Dienstag, 3. März 2026 10:02\n\n{marker}\nIntern: Großkunde\n"
    );
    // Labels of a language we do not know, with an address: still gone.
    let unknown = format!(
        "Hotovo.\n\nKimden: Example Support <support@example.test>\nKime: Bob <bob@example.test>\nKonu: [MR-7]\n\n{marker}\nInternal\n"
    );
    let greek = format!(
        "Έγινε.\n\nΣτις Τρί 3 Μαρ 2026, ο χρήστης Example Support <\nsupport@example.test> γράφει:\n\n> {marker}\n> Internal\n"
    );
    let flat = format!(
        "Done.\n\nFrom: Example Support <support@example.test> Sent: Tue To: Bob <bob@example.test> Subject: [MR-7]\n{marker}\nInternal\n"
    );
    // A subject that wrapped onto a line of its own.
    let wrapped = format!(
        "Done.\n\nFrom: Example Support <support@example.test>\nSent: Tuesday, March 3, 2026 10:02 AM\nTo: Bob <bob@example.test>\nSubject: [MR-7] A subject long enough that\n Outlook wrapped it\n\n{marker}\nInternal\n"
    );
    // Only one client header goes: the agent's own "Key: value" lines stay.
    let own = format!(
        "Status: fixed\nContact: ops@example.test\n\nOn Tue, 3 Mar 2026 at 10:02, Support <support@example.test> wrote:\n> {marker}\n> Internal\n"
    );
    for (input, want) in [
        (wrapped, "Done."),
        (own, "Status: fixed\nContact: ops@example.test"),
        (english, "Done, the refund is on its way.\n\nBob"),
        (german, "Erledigt."),
        (unknown, "Hotovo."),
        (greek, "Έγινε."),
        (flat, "Done."),
    ] {
        let r = strip_text(&input);
        assert_eq!(r.text, want);
        assert_eq!(r.cut, Cut::Marker);
        assert!(!r.text.contains("bob@example.test"), "{}", r.text);
        assert!(!r.text.to_lowercase().contains("intern"), "{}", r.text);
    }
}

#[test]
fn empty_reply_above_marker_returns_nothing_of_the_notification() {
    let input = format!(
        "\n\nOn Tue, 3 Mar 2026 at 10:02, Support <support@example.test> wrote:\n> {}\n> secret internal note\n",
        marker_line("MR-7")
    );
    let r = strip_text(&input);
    assert_eq!(r.kept_whole, Some(KeptWhole::WouldBeEmpty));
    assert_eq!(r.text, "");
    assert!(r.marker_found);
}

#[test]
fn interleaved_answers_are_kept_whole() {
    let input =
        "Hi,\n\n> Can you refund the order?\nYes, done.\n\n> And cancel the plan?\nNo, it stays.\n";
    let r = strip_text(input);
    assert_eq!(r.kept_whole, Some(KeptWhole::Interleaved));
    assert_eq!(r.text, input.trim());
    assert_eq!(
        r.detail,
        "interleaved answer: quoted lines between new text, kept whole"
    );
    // A top-post with only a signature under the quote is not interleaved.
    let sig =
        "Answer.\n\nOn Tue, 3 Mar 2026 at 10:02, Alice <a@x.test> wrote:\n> q\n\n-- \nAlice\n";
    assert_eq!(kept(sig), "Answer.");
    // An answer under the whole quote (bottom-post) is the new text.
    let bottom =
        "On Tue, 3 Mar 2026 at 10:02, Alice <a@x.test> wrote:\n> q\n> q2\n\nAnswer below.\n";
    let r = strip_text(bottom);
    assert_eq!(r.text, "Answer below.");
    assert_eq!(r.cut, Cut::QuoteBlock);
    // A quoted line for context, the answer, then the quoted history.
    let context = "> Can I get a refund?\n\nYes, refunded today.\n\nOn Tue, 3 Mar 2026 at 10:02, Alice <a@x.test> wrote:\n> Can I get a refund?\n";
    assert_eq!(kept(context), "Yes, refunded today.");
    // A long quoted line wrapped without its '>' is still quote.
    let wrapped = "Answer.\n\n> a long quoted line that the client wrapped at seventy-two columns an\nd went on\n>\n";
    assert_eq!(kept(wrapped), "Answer.");
}

#[test]
fn would_be_empty_keeps_the_whole_text() {
    let input = "On Tue, 3 Mar 2026 at 10:02, Alice <a@x.test> wrote:\n> only a quote\n";
    let r = strip_text(input);
    assert_eq!(r.kept_whole, Some(KeptWhole::WouldBeEmpty));
    assert_eq!(r.text, input.trim());
    assert!(strip_text("  \r\n ").text.is_empty());
}

#[test]
fn quote_block_and_line_endings() {
    let r = strip_text("Hi\r\n\r\nOn Tue, 3 Mar 2026 at 10:02, A <a@x.test> wrote:\r\n> q\r\n");
    assert_eq!(r.text, "Hi");
    assert_eq!(
        r.detail,
        "cut at line 3 (\"On Tue, 3 Mar 2026 at 10:02, A <a@x.test> wrote:\")"
    );
    let formatting = "\n\nFirst:\n\n  - one\n  - two\n\n\nLast line.   \n> quoted\n";
    let r = strip_text(formatting);
    assert_eq!(r.text, "First:\n\n  - one\n  - two\n\n\nLast line.");
    assert_eq!(r.cut, Cut::QuoteBlock);
}

#[test]
fn mobile_footers_at_the_end_only() {
    for footer in [
        "Sent from my iPhone",
        "Sent from my Verizon Wireless 4G LTE smartphone",
        "Sent from my BlackBerry® wireless device",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPhone",
        "Enviado desde mi iPhone",
        "Inviato da iPhone",
        "Verzonden vanaf mijn iPhone",
        "Wysłane z mojego iPhone'a",
        "Skickat från min iPhone",
        "Sendt fra min iPhone",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Gesendet von Outlook für Android<https://aka.ms/AAb9ysg>",
    ] {
        let r = strip_text(&format!("Will do.\n\n{footer}\n"));
        assert_eq!(r.text, "Will do.", "{footer}");
        assert!(r.footer_removed, "{footer}");
    }
    let sentence = "Here it is.\n\nSent from my desk, is much easier then my mobile phone.";
    assert_eq!(kept(sentence), sentence);
    // Mobile clients quote under the footer without a header.
    let r = strip_text("Will do.\n\nSent from my iPhone\n\nthe original message\n");
    assert_eq!(r.text, "Will do.");
    assert_eq!(r.cut, Cut::MobileFooter);
}

#[test]
fn signature_policy() {
    // Closing formula with the lines under it: dropped.
    let r = strip_text("Please retry.\n\nBest regards,\n\nBob Smith\nSupport Engineer\n");
    assert_eq!(r.text, "Please retry.");
    assert!(r.closing_removed);
    assert_eq!(
        kept("Bitte erneut versuchen.\n\nMit freundlichen Grüßen\nAlice"),
        "Bitte erneut versuchen."
    );
    // Kept: "-- " blocks, "-Name", "Thanks,", "regards" in a sentence.
    for text in [
        "Hello\n\n-- \nBob\nAcme Support, +1 555 0100",
        "Oh thanks.\n\n-Abhishek Kona",
        "Hi. I am fine.\n\nThanks,\nAlex",
        "Hello,\n\nwith regards to the payment: it arrived.",
        "Dear customer,\n\nyour domain expires.\n\nSincerely,\nDomain Manager",
    ] {
        assert_eq!(kept(text), text);
    }
    // Mailing-list footer: dropped.
    let r = strip_text(
        "Question?\n\n-Abhishek\n\n___\nriak-users mailing list\nhttp://lists.example.test/mailman/listinfo/riak",
    );
    assert_eq!(r.text, "Question?\n\n-Abhishek");
    assert!(r.list_footer_removed);
}

#[test]
fn cut_serializes_snake_case() {
    let r = strip_text("a\n\n> b");
    let json = serde_json::to_value(&r).expect("serialize");
    assert_eq!(json["cut"], "quote_block");
    assert_eq!(json["kept_whole"], serde_json::Value::Null);
    let json = serde_json::to_value(strip_text("> b")).expect("serialize");
    assert_eq!(json["kept_whole"], "would_be_empty");
}

#[test]
fn large_and_pathological_inputs_stay_linear() {
    let started = std::time::Instant::now();
    for line in [
        "> quoted line",
        "From: Alice <a@x.test>",
        "On Tue, 3 Mar 2026 at 10:02, Alice",
        "plain prose without an end",
        "",
        "##-",
        "Sent from my iPhone",
        "<div class=gmail_quote><blockquote>",
    ] {
        let input = format!("Answer.\n{}", format!("{line}\n").repeat(20_000));
        let r = strip_text(&input);
        assert!(r.text.starts_with("Answer."));
        let _ = crate::mail::reply::strip_html(&input);
    }
    // Generous: a debug build on a loaded 2-core machine.
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}
