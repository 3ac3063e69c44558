//! Unit tests of HTML stripping, `html_to_text`, and a fuzz-ish loop over
//! strings built from reply fragments (no panic, only cuts).

use crate::mail::reply::{Cut, KeptWhole, html_to_text, marker_line, strip_html, strip_text};

fn text_of(html: &str) -> String {
    html_to_text(&strip_html(html).html)
}

#[test]
fn gmail_quote_is_cut_with_its_attribution() {
    let html = r#"<div dir="ltr">Thanks, fixed!<br></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, Mar 3, 2026 at 10:02 AM Alice &lt;<a href="mailto:a@x.test">a@x.test</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px">old text</blockquote></div>"#;
    let r = strip_html(html);
    assert_eq!(r.cut, Cut::HtmlQuote);
    assert_eq!(html_to_text(&r.html), "Thanks, fixed!");
    assert!(r.detail.starts_with("cut at gmail_quote"), "{}", r.detail);
    // Attribute matching ignores case and quoting style.
    let upper = "<P>Fixed.</P><DIV CLASS='GMAIL_QUOTE'>old</DIV>";
    assert_eq!(text_of(upper), "Fixed.");
}

#[test]
fn plain_blockquote_is_formatting() {
    let html =
        "<p>As the manual says:</p><blockquote>Restart first.</blockquote><p>Then retry.</p>";
    let r = strip_html(html);
    assert_eq!(r.cut, Cut::None);
    assert_eq!(r.kept_whole, None);
    assert!(
        r.html.contains("<blockquote>Restart first.</blockquote>"),
        "{}",
        r.html
    );
    assert!(r.html.contains("Then retry."));
    // Under an attribution (Yandex, mail.ru) it is a quote.
    let yandex = "<p>Fine.<br /><br />03.03.2026, 10:02, \"Alice\" &lt;a@x.test&gt;:</p><blockquote>old</blockquote>";
    assert_eq!(text_of(yandex), "Fine.");
}

#[test]
fn cite_blockquotes_and_their_attributions() {
    let apple = r#"<div>Yes.</div><div><br></div><div>On Mar 3, 2026, at 10:02, Alice &lt;a@x.test&gt; wrote:</div><br><blockquote type="cite"><div>old</div></blockquote>"#;
    assert_eq!(text_of(apple), "Yes.");
    let thunderbird = r#"Yes.<br><div class="moz-cite-prefix">On 03.03.2026 10:02, Alice wrote:<br></div><blockquote type=cite cite="mid:x@y">old</blockquote>"#;
    assert_eq!(text_of(thunderbird), "Yes.");
}

#[test]
fn outlook_separators() {
    let owa = r#"<div>Done.</div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Support &lt;support@example.test&gt;<br><b>To:</b> Bob &lt;bob@example.test&gt;<br><b>Subject:</b> x</div><div>old</div>"#;
    let r = strip_html(owa);
    assert_eq!(html_to_text(&r.html), "Done.");
    assert!(!r.html.contains("bob@example.test"));
    let border = r#"<p class=MsoNormal>Done.</p><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in"><p class=MsoNormal><b>From:</b> Alice &lt;a@x.test&gt;<br><b>Sent:</b> Tuesday, March 3, 2026 10:02 AM<br><b>To:</b> support@example.test</p></div><p>old</p>"#;
    assert_eq!(text_of(border), "Done.");
    let olk = r#"<div>Reply</div><span id="OLK_SRC_BODY_SECTION"><div>From: Bob</div></span>"#;
    assert_eq!(text_of(olk), "Reply");
    let hotmail = r#"<div>Fine.<br><br><div><hr id="stopSpelling">Date: Tue<br>old</div></div>"#;
    assert_eq!(text_of(hotmail), "Fine.");
    let yahoo = r#"<div>Ok.</div><div class="yahoo_quoted" id="yahoo_quoted_123">old</div>"#;
    assert_eq!(text_of(yahoo), "Ok.");
}

#[test]
fn hr_is_a_cut_only_before_a_header_block() {
    let rule = "<p>Part one</p><hr><p>Part two</p>";
    let r = strip_html(rule);
    assert_eq!(r.cut, Cut::None);
    assert!(r.html.contains("Part two"));
    let quoted = "<div>Hi</div><div><hr><b>From: </b>bob@example.test<br><b>To: </b>x@y.test<br><b>Subject: </b>Hello</div><p>old</p>";
    assert_eq!(text_of(quoted), "Hi");
    // Outlook 2010 writes the header block without any separator.
    let bare = "<p>Done.</p><p><b>From:</b> Foo [mailto:foo@bar.test]<br><b>Sent:</b> Monday, January 01, 2026 12:00 AM<br><b>To:</b> john@bar.test<br><b>Subject:</b> x</p><p>old</p>";
    let r = strip_html(bare);
    assert_eq!(r.cut, Cut::OutlookHeader);
    assert_eq!(html_to_text(&r.html), "Done.");
}

#[test]
fn marker_in_html() {
    let marker = marker_line("MR-7");
    let gmail = format!(
        r#"<div>Done.</div><div class="gmail_quote">On Tue, Mar 3, 2026 at 10:02 AM Support &lt;support@example.test&gt; wrote:<blockquote class="gmail_quote"><div>{marker}</div><div>Internal: VIP</div></blockquote></div>"#
    );
    let r = strip_html(&gmail);
    assert_eq!(r.cut, Cut::Marker);
    assert!(r.marker_found);
    assert_eq!(html_to_text(&r.html), "Done.");
    // Outlook puts no container around it: its header block goes too.
    let outlook = format!(
        r#"<p>Done.</p><div style="border:none;border-top:solid #E1E1E1 1.0pt"><p><b>From:</b> Support<br><b>To:</b> Bob &lt;bob@example.test&gt;<br><b>Subject:</b> [MR-7]</p></div><p>{marker}</p><p>Internal: VIP</p>"#
    );
    let r = strip_html(&outlook);
    assert_eq!(r.cut, Cut::Marker);
    assert_eq!(html_to_text(&r.html), "Done.");
    assert!(!r.html.contains("bob@example.test"));
    // A plain blockquote around the marker (no attribution) goes as well.
    let plain = format!("<p>Done.</p><blockquote><p>{marker}</p><p>Internal</p></blockquote>");
    assert_eq!(text_of(&plain), "Done.");
}

#[test]
fn interleaved_bottom_and_empty_html() {
    let inline = r#"<div>Hi,</div><blockquote type="cite">Refund?</blockquote><div>Yes.</div><blockquote type="cite">Cancel?</blockquote><div>No.</div>"#;
    let r = strip_html(inline);
    assert_eq!(r.kept_whole, Some(KeptWhole::Interleaved));
    assert!(r.html.contains("Refund?") && r.html.contains("No."));
    let bottom = r#"<blockquote type="cite">old</blockquote><div>Answer</div>"#;
    let r = strip_html(bottom);
    assert_eq!(html_to_text(&r.html), "Answer");
    let thunderbird = r#"<div class="moz-cite-prefix">On 03.03.2026 10:02, Alice wrote:<br></div><blockquote type="cite">old</blockquote>Answer<br>"#;
    assert_eq!(text_of(thunderbird), "Answer");
    let inline_below = r#"<blockquote type="cite">q1</blockquote><div>a1</div><blockquote type="cite">q2</blockquote><div>a2</div>"#;
    assert_eq!(
        strip_html(inline_below).kept_whole,
        Some(KeptWhole::Interleaved)
    );
    let empty = r#"<div class="gmail_quote">old</div>"#;
    let r = strip_html(empty);
    assert_eq!(r.kept_whole, Some(KeptWhole::WouldBeEmpty));
    assert!(r.html.contains("old"));
    // An image alone is content.
    let image = r#"<img src="cid:shot"><div class="gmail_quote">old</div>"#;
    assert_eq!(strip_html(image).kept_whole, None);
}

#[test]
fn output_is_sanitized() {
    let r = strip_html(
        "<p onclick=\"x()\">Hi<script>alert(1)</script></p><div class=gmail_quote>q</div>",
    );
    assert!(
        !r.html.contains("script") && !r.html.contains("onclick"),
        "{}",
        r.html
    );
    assert_eq!(html_to_text(&r.html), "Hi");
}

#[test]
fn html_to_text_breaks_blocks() {
    assert_eq!(html_to_text("<div>Hi</div><div>there</div>"), "Hi\nthere");
    assert_eq!(html_to_text("<body>\n  <p> Hi </p>\n</body>"), "Hi");
    assert_eq!(
        html_to_text("<p>Hi &amp; bye</p><p>next<br>line</p>"),
        "Hi & bye\nnext\nline"
    );
}

/// SplitMix64: deterministic pseudo-random numbers for the fuzz loop.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const FRAGMENTS: &[&str] = &[
    "Hi,",
    "",
    "> quoted",
    "> > nested",
    ">",
    ">:",
    "On Tue, 3 Mar 2026 at 10:02, Alice <a@x.test> wrote:",
    "On Tue, 3 Mar 2026 at 10:02, Alice <",
    "a@x.test> wrote:",
    "Am 3. März 2026 schrieb Bob <b@y.test>:",
    "-----Original Message-----",
    "________________________________",
    "From: Alice <a@x.test>",
    "Sent: Tuesday, March 3, 2026",
    "To: Bob <bob@example.test>",
    "Subject: x",
    "Von:",
    "*From:*",
    "##- Reply above this line to answer MR-7 -##",
    "##-",
    "-##",
    "-- ",
    "--",
    "Sent from my iPhone",
    "Regards,",
    "Bob",
    "写道：",
    "\u{a0}",
    "\r",
    "<div class=\"gmail_quote\">",
    "<blockquote type=cite>",
    "<blockquote>",
    "</blockquote>",
    "<hr>",
    "<br>",
    "</div>",
    "<!--",
    "-->",
    "<style>",
    "&amp;",
    "&#x1F600;",
    "&#99999999;",
    "&",
    "<",
    "<a href='x",
    "é",
    "日本",
];

#[test]
fn arbitrary_inputs_never_panic_and_only_cut() {
    let mut rng = Rng(0x6d61_696c_726f_6f6d);
    for round in 0..3000 {
        let mut s = String::new();
        for _ in 0..rng.below(14) {
            s.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
            s.push_str(["\n", "\r\n", " ", ""][rng.below(4)]);
        }
        if round % 3 == 0 {
            // Raw bytes, as a broken charset would leave them.
            let bytes: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
            s.push_str(&String::from_utf8_lossy(&bytes));
        }
        // Cut at a random char boundary.
        let mut end = rng.below(s.len() + 1);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let input = &s[..end];
        let r = strip_text(input);
        let normalized = input.replace("\r\n", "\n").replace('\r', "\n");
        for line in r.text.lines() {
            assert!(normalized.contains(line), "{input:?} -> {:?}", r.text);
        }
        let h = strip_html(input);
        assert!(!h.html.contains("<script"), "{input:?}");
        let _ = html_to_text(input);
    }
}
