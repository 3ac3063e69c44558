//! What ends the new words without being quoted history: mobile-client
//! footers, mailing-list footers, closing formulas ("Regards,"), and the
//! signature delimiter. See the signature policy in the module doc (`mod.rs`).

use super::headers::{is_blank, is_rule, lowercase_words};

/// How a mail app's footer line starts ("Sent from my iPhone", "Get Outlook
/// for iOS"…), lowercase, one space between words; a device or app name
/// follows (see `is_mobile_footer`).
pub(super) const MOBILE_PREFIXES: &[&str] = &[
    "sent from",
    "sent via",
    "sent using",
    "get outlook for",
    "download outlook for",
    "gesendet von",
    "gesendet mit",
    "gesendet vom",
    "envoyé de mon",
    "envoyé depuis",
    "envoyé à partir de",
    "envoyé avec",
    "obtenir outlook pour",
    "télécharger outlook pour",
    "enviado desde",
    "enviado con",
    "obtener outlook para",
    "inviato da",
    "inviato dal mio",
    "scarica outlook per",
    "enviado do meu",
    "enviado de meu",
    "obter o outlook para",
    "verzonden vanaf",
    "verzonden met",
    "verzonden van",
    "verstuurd vanaf",
    "verstuurd met",
    "verstuurd van",
    "wysłane z",
    "wysłano z",
    "skickat från",
    "skickades från",
    "hämta outlook för",
    "sendt fra",
    "отправлено с",
    "отправлено из",
];

/// A footer line's words (lowercase, one space between them): one of
/// `MOBILE_PREFIXES` and more, or a form with the device in the middle
/// ("Von meinem iPhone gesendet", "Lähetetty iPhonesta", "iPhoneから送信",
/// "發自我的iPhone", "從我的iPhone傳送"). Plain string work: the same test
/// as a case-insensitive regex costs more to compile than a one-mail
/// `ingest -` has for the whole mail.
pub(super) fn is_mobile_footer_words(w: &str) -> bool {
    let one_word = !w.contains(' ');
    MOBILE_PREFIXES
        .iter()
        .any(|p| w.strip_prefix(p).is_some_and(|rest| rest.starts_with(' ')))
        || w.strip_prefix("von meinem ")
            .and_then(|r| r.strip_suffix(" gesendet"))
            .is_some_and(|device| (1..=40).contains(&device.chars().count()))
        || w.strip_prefix("lähetetty ").is_some_and(|device| {
            !device.contains(' ') && (device.ends_with("sta") || device.ends_with("stä"))
        })
        || one_word && w.strip_suffix("から送信").is_some_and(|d| !d.is_empty())
        || w.starts_with("发自我的")
        || one_word
            && w.strip_prefix("從我的")
                .and_then(|r| r.strip_suffix("傳送"))
                .is_some_and(|d| !d.is_empty())
}

/// Closing formulas: a line with nothing but "Regards," / "Mit freundlichen
/// Grüßen" / "Cordialement" etc. "Thanks" and "Sincerely" are left out on
/// purpose: a lone "Thanks!" is often the whole message, and "Sincerely"
/// closes notices whose signer line is the only word on who wrote them.
/// Lowercase, one space between words; "… regards" is tested apart (see
/// `is_closing`).
pub(super) const CLOSINGS: &[&str] = &[
    "best wishes",
    "best",
    "cheers",
    "all the best",
    "warm wishes",
    "take care",
    "freundlichen grüßen",
    "besten grüßen",
    "herzlichen grüßen",
    "lieben grüßen",
    "vielen grüßen",
    "schönen grüßen",
    "mit freundlichen grüßen",
    "mit besten grüßen",
    "mit herzlichen grüßen",
    "mit lieben grüßen",
    "mit vielen grüßen",
    "mit schönen grüßen",
    "freundliche grüße",
    "beste grüße",
    "herzliche grüße",
    "liebe grüße",
    "viele grüße",
    "schöne grüße",
    "grüße",
    "gruß",
    "mfg",
    "lg",
    "vg",
    "cordialement",
    "bien cordialement",
    "bien à vous",
    "bien à toi",
    "meilleures salutations",
    "sincères salutations",
    "salutations",
    "amicalement",
    "saludo",
    "saludo cordiales",
    "saludos",
    "saludos cordiales",
    "un saludo",
    "un saludo cordiales",
    "un saludos",
    "un saludos cordiales",
    "atentamente",
    "cordiali saluti",
    "distinti saluti",
    "saluti",
    "un saluto",
    "atenciosamente",
    "cumprimentos",
    "met vriendelijke groet",
    "met vriendelijke groeten",
    "vriendelijke groet",
    "vriendelijke groeten",
    "groet",
    "groeten",
    "groetjes",
    "pozdrawiam",
    "z poważaniem",
    "vänliga hälsningar",
    "med vänliga hälsningar",
    "hälsningar",
    "mvh",
    "venlig hilse",
    "venlig hilsen",
    "venlige hilse",
    "venlige hilsen",
    "vennlig hilse",
    "vennlig hilsen",
    "vennlige hilse",
    "vennlige hilsen",
    "med venlig hilse",
    "med venlig hilsen",
    "med venlige hilse",
    "med venlige hilsen",
    "med vennlig hilse",
    "med vennlig hilsen",
    "med vennlige hilse",
    "med vennlige hilsen",
    "hilsen",
    "ystävällisin terveisin",
    "terveisin",
    "с уважением",
];

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
    !sentence && is_mobile_footer_words(&lowercase_words(t))
}

pub(crate) fn is_closing(line: &str) -> bool {
    let t = line.trim();
    if t.len() > 40 {
        return false;
    }
    let words = lowercase_words(t);
    // One closing mark may follow: "Regards," "Cheers!"
    let words = words
        .strip_suffix([',', '.', '!'])
        .map_or(words.as_str(), str::trim_end);
    // "Regards", "Best regards", "Kind regards", "With best regards"…
    let regards = words.strip_suffix("regards").is_some_and(|before| {
        before.is_empty()
            || before.ends_with(' ')
                && before.split_whitespace().count() <= 2
                && before
                    .split_whitespace()
                    .all(|w| w.chars().all(|c| c.is_alphanumeric() || c == '_'))
    });
    regards || CLOSINGS.contains(&words)
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
