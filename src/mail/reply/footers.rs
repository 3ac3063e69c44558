//! What ends the new words without being quoted history: mobile-client
//! footers, mailing-list footers, closing formulas ("Regards,"), and the
//! signature delimiter. See the signature policy in the module doc (`mod.rs`).

use std::sync::LazyLock;

use regex::Regex;

use super::headers::{is_blank, is_rule};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static pattern")
}

/// A whole-line footer that a mail app adds under the text ("Sent from my
/// iPhone", "Von meinem iPhone gesendet", "Get Outlook for iOS"…). The words
/// after the app part are a device or app name, so the line stays short and
/// has no sentence in it (see `is_mobile_footer`).
static MOBILE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?:sent\s+from\s+|sent\s+via\s+|sent\s+using\s+|get\s+outlook\s+for\s+|download\s+outlook\s+for\s+|von\s+meinem\s+.{1,40}\s+gesendet$|gesendet\s+(?:von|mit|vom)\s+|envoyé\s+de\s+mon\s+|envoyé\s+depuis\s+|envoyé\s+à\s+partir\s+de\s+|envoyé\s+avec\s+|obtenir\s+outlook\s+pour\s+|télécharger\s+outlook\s+pour\s+|enviado\s+desde\s+|enviado\s+con\s+|obtener\s+outlook\s+para\s+|inviato\s+da\s+|inviato\s+dal\s+mio\s+|scarica\s+outlook\s+per\s+|enviado\s+do\s+meu\s+|enviado\s+de\s+meu\s+|obter\s+o\s+outlook\s+para\s+|verzonden\s+(?:vanaf|met|van)\s+|verstuurd\s+(?:vanaf|met|van)\s+|wysłane\s+z\s+|wysłano\s+z\s+|skickat\s+från\s+|skickades\s+från\s+|hämta\s+outlook\s+för\s+|sendt\s+fra\s+|lähetetty\s+\S+(?:sta|stä)$|отправлено\s+(?:с|из)\s+|\S+から送信$|发自我的|從我的\S+傳送$)",
    )
});

/// Closing formulas: a line with nothing but "Regards," / "Mit freundlichen
/// Grüßen" / "Cordialement" etc. "Thanks" and "Sincerely" are left out on
/// purpose: a lone "Thanks!" is often the whole message, and "Sincerely"
/// closes notices whose signer line is the only word on who wrote them.
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?:(?:\w+\s+){0,2}regards|best\s+wishes|best|cheers|all\s+the\s+best|warm\s+wishes|take\s+care|(?:mit\s+)?(?:freundlichen|besten|herzlichen|lieben|vielen|schönen)\s+grüßen|(?:freundliche|beste|herzliche|liebe|viele|schöne)\s+grüße|grüße|gruß|mfg|lg|vg|(?:bien\s+)?cordialement|bien\s+à\s+(?:vous|toi)|(?:meilleures|sincères)\s+salutations|salutations|amicalement|(?:un\s+)?saludos?(?:\s+cordiales)?|atentamente|(?:cordiali|distinti)\s+saluti|saluti|un\s+saluto|atenciosamente|cumprimentos|met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groet(?:en|jes)?|pozdrawiam|z\s+poważaniem|(?:med\s+)?vänliga\s+hälsningar|hälsningar|mvh|(?:med\s+)?venn?lige?\s+hilsen?|hilsen|ystävällisin\s+terveisin|terveisin|с\s+уважением)\s*[,.!]?$",
    )
});

/// Words of a mailing-list footer ("riak-users mailing list", "listinfo").
const LIST_WORDS: &[&str] = &[
    "mailing list",
    "listinfo",
    "unsubscribe",
    "you received this message because you are subscribed",
    "mailman",
];

/// The RFC 3676 signature delimiter ("-- "), also without its space.
pub(crate) fn is_sig_delimiter(line: &str) -> bool {
    matches!(line.trim_end(), "--" | "-- ") || line == "-- "
}

/// A mobile or app footer line ("Sent from my iPhone", "Get Outlook for
/// iOS<https://aka.ms/…>"). "Sent from my desk, is much easier…" is a
/// sentence, not a footer: no sentence punctuation and a short name only.
pub(crate) fn is_mobile_footer(line: &str) -> bool {
    let mut t = line.trim();
    if t.len() > 120 {
        return false;
    }
    // Drop a trailing link ("…iOS<https://aka.ms/o0ukef>", "…(http://…)").
    if let Some(p) = t.find(['<', '(']) {
        let rest = &t[p + 1..];
        if rest.starts_with("http") || rest.starts_with("mailto") {
            t = t[..p].trim_end();
        }
    }
    // K-9 Mail: "Sent from my Android device … Please excuse my brevity."
    for suffix in ["please excuse my brevity.", "please excuse my brevity"] {
        let b = t.as_bytes();
        if b.len() >= suffix.len()
            && b[b.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
        {
            t = t[..t.len() - suffix.len()]
                .trim_end()
                .trim_end_matches('.')
                .trim_end();
        }
    }
    if t.is_empty() || t.len() > 80 || t.split_whitespace().count() > 12 {
        return false;
    }
    let sentence = t
        .char_indices()
        .any(|(i, c)| matches!(c, '.' | '!' | '?' | ';' | ',') && t[i + 1..].starts_with(' '))
        || t.ends_with(['!', '?', ';', ',']);
    !sentence && MOBILE.is_match(t)
}

pub(crate) fn is_closing(line: &str) -> bool {
    let t = line.trim();
    t.len() <= 40 && CLOSING.is_match(t)
}

fn is_list_line(line: &str) -> bool {
    let lower = line.to_lowercase();
    LIST_WORDS.iter().any(|w| lower.contains(w))
}

/// A rule of two or more '_' or '-' (a list footer's "__", a "--" delimiter).
fn is_short_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 2 && (t.chars().all(|c| c == '_') || t.chars().all(|c| c == '-')) || is_rule(line)
}

/// Where a trailing mailing-list footer starts: a rule or delimiter line
/// followed by a few lines, one of which names the list machinery.
fn list_footer_start(lines: &[&str]) -> Option<usize> {
    let last = lines.len().checked_sub(1)?;
    let lowest = last.saturating_sub(10);
    (lowest..=last)
        .rev()
        .find(|&r| is_short_rule(lines[r]) && lines[r + 1..].iter().any(|l| is_list_line(l)))
}

/// Where a trailing closing formula starts: the formula line, then at most
/// four short lines (name, title, company) and nothing else.
fn closing_start(lines: &[&str]) -> Option<usize> {
    let last = lines.len().checked_sub(1)?;
    let lowest = last.saturating_sub(8);
    let v = (lowest..=last).rev().find(|&v| is_closing(lines[v]))?;
    let after: Vec<&&str> = lines[v + 1..].iter().filter(|l| !is_blank(l)).collect();
    (after.len() <= 4 && after.iter().all(|l| l.trim().chars().count() <= 60)).then_some(v)
}

/// Does the text from this line on belong to the trailer (signature, list
/// footer, app footer) rather than to new words? Used to tell "a quote
/// followed only by a signature" from an interleaved answer.
pub(crate) fn starts_trailer(line: &str) -> bool {
    let t = line.trim();
    is_sig_delimiter(line)
        || is_short_rule(line)
        || t.starts_with('\u{2014}') && t.chars().count() <= 2
        || is_mobile_footer(line)
        || is_list_line(line)
}

/// What the trailer cleanup dropped.
#[derive(Default)]
pub(crate) struct Tail {
    pub footer: bool,
    pub closing: bool,
    pub list: bool,
}

fn trim_blank_end(lines: &[&str], mut end: usize) -> usize {
    while end > 0 && is_blank(lines[end - 1]) {
        end -= 1;
    }
    end
}

/// Drops the trailer of the new part: a mailing-list footer, a mobile
/// footer line, a closing formula with the lines under it. Returns the
/// remaining length.
pub(crate) fn clean_tail(lines: &[&str]) -> (usize, Tail) {
    let mut tail = Tail::default();
    let mut end = trim_blank_end(lines, lines.len());
    loop {
        let before = end;
        if let Some(r) = list_footer_start(&lines[..end]) {
            end = trim_blank_end(lines, r);
            tail.list = true;
        }
        if end > 0 && is_mobile_footer(lines[end - 1]) {
            end = trim_blank_end(lines, end - 1);
            tail.footer = true;
            // A delimiter left alone by the footer goes with it.
            if end > 0 && is_sig_delimiter(lines[end - 1]) {
                end = trim_blank_end(lines, end - 1);
            }
        }
        if let Some(v) = closing_start(&lines[..end]) {
            end = trim_blank_end(lines, v);
            tail.closing = true;
        }
        if end == before {
            return (end, tail);
        }
    }
}
