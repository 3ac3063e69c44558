//! The phrase lists of `footers` and `headers` replaced case-insensitive
//! regexes (their compilation took most of a one-mail `ingest -`). These
//! tests hold the lists to the regexes they replaced, on every phrase in many
//! spellings and on lines that are not phrases.

use regex::Regex;

use crate::mail::reply::footers::{CLOSINGS, MOBILE_PREFIXES, is_closing, is_mobile_footer_words};
use crate::mail::reply::headers::{
    FROM, SENT, SUBJECT, TO, header_label, is_forwarded, is_original_message, lowercase_words,
};
use crate::mail::reply::phrases::{
    FORWARDED, FROM_LABELS, ORIGINAL, SENT_LABELS, SUBJECT_LABELS, TO_LABELS,
};

const OLD_MOBILE: &str = r"(?i)^(?:sent\s+from\s+|sent\s+via\s+|sent\s+using\s+|get\s+outlook\s+for\s+|download\s+outlook\s+for\s+|von\s+meinem\s+.{1,40}\s+gesendet$|gesendet\s+(?:von|mit|vom)\s+|envoyé\s+de\s+mon\s+|envoyé\s+depuis\s+|envoyé\s+à\s+partir\s+de\s+|envoyé\s+avec\s+|obtenir\s+outlook\s+pour\s+|télécharger\s+outlook\s+pour\s+|enviado\s+desde\s+|enviado\s+con\s+|obtener\s+outlook\s+para\s+|inviato\s+da\s+|inviato\s+dal\s+mio\s+|scarica\s+outlook\s+per\s+|enviado\s+do\s+meu\s+|enviado\s+de\s+meu\s+|obter\s+o\s+outlook\s+para\s+|verzonden\s+(?:vanaf|met|van)\s+|verstuurd\s+(?:vanaf|met|van)\s+|wysłane\s+z\s+|wysłano\s+z\s+|skickat\s+från\s+|skickades\s+från\s+|hämta\s+outlook\s+för\s+|sendt\s+fra\s+|lähetetty\s+\S+(?:sta|stä)$|отправлено\s+(?:с|из)\s+|\S+から送信$|发自我的|從我的\S+傳送$)";
const OLD_CLOSING: &str = r"(?i)^(?:(?:\w+\s+){0,2}regards|best\s+wishes|best|cheers|all\s+the\s+best|warm\s+wishes|take\s+care|(?:mit\s+)?(?:freundlichen|besten|herzlichen|lieben|vielen|schönen)\s+grüßen|(?:freundliche|beste|herzliche|liebe|viele|schöne)\s+grüße|grüße|gruß|mfg|lg|vg|(?:bien\s+)?cordialement|bien\s+à\s+(?:vous|toi)|(?:meilleures|sincères)\s+salutations|salutations|amicalement|(?:un\s+)?saludos?(?:\s+cordiales)?|atentamente|(?:cordiali|distinti)\s+saluti|saluti|un\s+saluto|atenciosamente|cumprimentos|met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groet(?:en|jes)?|pozdrawiam|z\s+poważaniem|(?:med\s+)?vänliga\s+hälsningar|hälsningar|mvh|(?:med\s+)?venn?lige?\s+hilsen?|hilsen|ystävällisin\s+terveisin|terveisin|с\s+уважением)\s*[,.!]?$";
const OLD_ORIGINAL: &str = r"(?i)^[-=_*~\s]*(?:original\s+message|reply\s+message|antwort\s+nachricht|ursprüngliche\s+nachricht|originalnachricht|message\s+d'origine|message\s+original|mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|originalmeddelande|ursprungligt\s+meddelande|opprinnelig\s+melding|oprindelig\s+besked|oprindelig\s+meddelelse|alkuperäinen\s+viesti|исходное\s+сообщение|wiadomość\s+oryginalna|oryginalna\s+wiadomość|mensagem\s+original|původní\s+zpráva|eredeti\s+üzenet|原始邮件|原始郵件|元のメッセージ)[-=_*~\s]*$";
const OLD_FORWARDED: &str = r"(?i)^[-=_*~\s]*(?:begin\s+forwarded\s+message|forwarded\s+message|weitergeleitete\s+nachricht|message\s+transféré|mensaje\s+reenviado|messaggio\s+inoltrato|doorgestuurd\s+bericht|vidarebefordrat\s+meddelande|videresendt\s+meddelelse|пересылаемое\s+сообщение|wiadomość\s+przekazana)\s*:?[-=_*~\s]*$";

/// Title Case of a lowercase phrase.
fn title(p: &str) -> String {
    p.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A phrase in many spellings, with what may and may not surround it.
fn spellings(phrase: &str) -> Vec<String> {
    let mut forms = vec![
        phrase.to_string(),
        title(phrase),
        phrase.to_uppercase(),
        phrase.replace(' ', "  "),
        phrase.replace(' ', "\t"),
        phrase.replace(' ', "\u{a0}"),
        phrase.replace(' ', "-"),
        phrase.replace(' ', ""),
    ];
    let wrapped: Vec<String> = forms
        .iter()
        .flat_map(|f| {
            [
                format!("{f},"),
                format!("{f}!"),
                format!("{f} ."),
                format!("{f},,"),
                format!("{f}:"),
                format!("{f} :"),
                format!("{f}: ----"),
                format!("-----{f}-----"),
                format!("---- {f} ----"),
                format!("*{f}*"),
                format!("{f} iPhone"),
                format!("{f} my Samsung Galaxy"),
                format!("{f}iPhone"),
                format!("{f} gesendet"),
                format!("Von meinem {f} gesendet"),
                format!("Lähetetty {f}sta"),
                format!("{f}から送信"),
                format!("從我的{f}傳送"),
                format!("Kind {f}"),
                format!("Very kind {f}"),
                format!("One two three {f}"),
                format!("x {f}"),
                format!("{f} and more words"),
            ]
        })
        .collect();
    forms.extend(wrapped);
    forms
}

/// Every phrase an old pattern's alternation spells, lowercase: its text
/// between `^(?:` and the matching `)`, with `\s+` read as one space and the
/// few classes (`\S+`, `.{1,40}`, `\w+`) given a sample word, expanded by
/// regex-syntax's literal extractor. Built from the old pattern, not from the
/// new lists, so a phrase missing from a list is found.
fn old_phrases(pattern: &str) -> Vec<String> {
    let start = pattern.find("(?:").expect("an alternation") + 3;
    let mut depth = 1;
    let mut end = start;
    for (i, c) in pattern[start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            end = start + i;
            break;
        }
    }
    let inner = pattern[start..end]
        .replace(r"\s+", " ")
        .replace(r"(?:\w+ ){0,2}", "kind ")
        .replace(r"\S+", "iphone")
        .replace(".{1,40}", "iphone")
        .replace('$', "");
    let hir = regex_syntax::parse(&inner).expect("old alternation parses");
    let seq = regex_syntax::hir::literal::Extractor::new()
        .limit_total(1000)
        .extract(&hir);
    let literals = seq.literals().expect("a finite set of phrases");
    assert!(literals.iter().all(|l| l.is_exact()), "{inner}");
    literals
        .iter()
        .map(|l| String::from_utf8(l.as_bytes().to_vec()).expect("UTF-8"))
        .collect()
}

fn lines() -> Vec<String> {
    let mut all: Vec<String> = [
        "",
        "-----",
        "Thanks!",
        "Regards",
        "Best regards,",
        "Kind regards.",
        "With kind regards",
        "Warmest regards!",
        "regards to your team",
        "bestregards",
        "Sent from my iPhone",
        "Sent from my desk, is much easier",
        "Get Outlook for iOS",
        "Von meinem iPhone gesendet",
        "Lähetetty iPhonesta",
        "Lähetetty minun iPhonesta",
        "iPhoneから送信",
        "iPhone から送信",
        "发自我的iPhone",
        "從我的iPhone傳送",
        "從我的 iPhone 傳送",
        "-----Original Message-----",
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
        "Forwarded message :",
        "Original Message",
        "Original message follows",
        "The original message is below",
        "Regards, Bob",
        "Cheers mate",
        "Mit freundlichen Grüßen",
        "MIT FREUNDLICHEN GRÜSSEN",
        "Med vennlig hilsen",
        "С уважением,",
        "Z poważaniem",
        "Un saludo cordiales",
        "Отправлено с iPhone",
        "Envoyé de mon iPhone",
        "ENVOYÉ DE MON IPHONE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let old: Vec<String> = [OLD_ORIGINAL, OLD_FORWARDED, OLD_MOBILE, OLD_CLOSING]
        .iter()
        .flat_map(|p| old_phrases(p))
        .collect();
    assert!(old.len() > 150, "{} phrases", old.len());
    let new = ORIGINAL
        .iter()
        .chain(FORWARDED)
        .chain(MOBILE_PREFIXES)
        .chain(CLOSINGS);
    for p in old.iter().map(String::as_str).chain(new.copied()) {
        all.extend(spellings(p.trim()));
    }
    all.extend(spellings("regards"));
    all.extend(spellings("iphone"));
    all
}

#[test]
fn separators_are_what_the_regexes_were() {
    let original = Regex::new(OLD_ORIGINAL).expect("old pattern");
    let forwarded = Regex::new(OLD_FORWARDED).expect("old pattern");
    for line in lines() {
        let t = line.trim();
        let alpha = t.len() <= 80 && t.chars().any(char::is_alphabetic);
        assert_eq!(
            is_original_message(&line),
            alpha && original.is_match(t),
            "{line:?}"
        );
        assert_eq!(
            is_forwarded(&line),
            alpha && forwarded.is_match(t),
            "{line:?}"
        );
    }
}

#[test]
fn closings_are_what_the_regex_was() {
    let closing = Regex::new(OLD_CLOSING).expect("old pattern");
    for line in lines() {
        let t = line.trim();
        assert_eq!(
            is_closing(&line),
            t.len() <= 40 && closing.is_match(t),
            "{line:?}"
        );
    }
}

#[test]
fn mobile_footers_are_what_the_regex_was() {
    let mobile = Regex::new(OLD_MOBILE).expect("old pattern");
    for line in lines() {
        let t = line.trim();
        assert_eq!(
            is_mobile_footer_words(&lowercase_words(t)),
            mobile.is_match(t),
            "{line:?}"
        );
    }
}

const OLD_LABEL: &str = r"(?i)^\s*\*{0,2}\s*(?:(?P<f>from|von|de|da|van|od|från|fra|frá|lähettäjä|от|差出人|发件人|寄件者|feladó|kimden|від|από|de\s+la|보낸\s+사람|dari|šalje)|(?P<s>sent|date|gesendet|datum|envoyé\s+le|envoyé|enviado\s+el|enviado\s+em|enviado|enviada\s+em|fecha|data|inviato|verzonden|wysłano|wysłane|skickat|sendt|dato|lähetetty|päivämäärä|отправлено|дата|送信日時|日付|发送时间|日期|message\s+du|odesláno|küldve|gönderildi|tarih|надіслано|изпратено|στάλθηκε|trimis|보낸\s+날짜|dikirim|poslano|odoslané)|(?P<t>to|cc|bcc|reply-to|an|kopie|copie\s+à|copie|à|a|para|aan|do|dw|till|kopia|til|kopi|vastaanottaja|kopio|кому|копия|宛先|收件人|抄送|komu|címzett|kime|cópia|до|προς|către|받는\s+사람|kepada|prima)|(?P<j>subject|betreff|objet|sujet|asunto|oggetto|assunto|onderwerp|temat|ämne|emne|aihe|тема|件名|主题|主旨|předmět|tárgy|konu|θέμα|subiect|제목|perihal|predmet))\s*\*{0,2}\s*[:：]";

/// The label lists spell what each named group of the old regex did.
#[test]
fn label_lists_are_the_regex_groups() {
    let groups = [
        ("f", FROM_LABELS),
        ("s", SENT_LABELS),
        ("t", TO_LABELS),
        ("j", SUBJECT_LABELS),
    ];
    for (name, list) in groups {
        let open = format!("(?P<{name}>");
        let body = OLD_LABEL.find(&open).expect("group") + open.len();
        // The group's alternation up to its closing parenthesis.
        let mut old = old_phrases(&format!("(?:{}", &OLD_LABEL[body..]));
        old.sort();
        let mut new: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        new.sort();
        assert_eq!(old, new, "group {name}");
    }
}

#[test]
fn header_labels_are_what_the_regex_was() {
    let label = Regex::new(OLD_LABEL).expect("old pattern");
    // The old function: the same early-colon test, then the regex.
    let class = |line: &str| {
        line.find([':', '：']).filter(|&p| p <= 64)?;
        let caps = label.captures(line)?;
        Some(if caps.name("f").is_some() {
            FROM
        } else if caps.name("s").is_some() {
            SENT
        } else if caps.name("t").is_some() {
            TO
        } else {
            SUBJECT
        })
    };
    let mut checked = 0;
    let all = FROM_LABELS
        .iter()
        .chain(SENT_LABELS)
        .chain(TO_LABELS)
        .chain(SUBJECT_LABELS)
        .chain(&[
            "fro",
            "froms",
            "sender",
            "re",
            "dates",
            "a b",
            "",
            "envoyé  le x",
        ]);
    for word in all {
        for form in spellings(word) {
            for line in [
                format!("{form}: Alice <a@x.test>"),
                format!("{form} : x"),
                format!("{form}：x"),
                format!("  {form}:"),
                format!("*{form}:* x"),
                format!("**{form}** : x"),
                format!("***{form}:"),
                format!("* *{form}:"),
                format!("{form}\u{a0}: x"),
                format!("x {form}: y"),
                format!("{form}: a: b"),
                format!("{}{form}: x", "y".repeat(70)),
                form.clone(),
            ] {
                assert_eq!(header_label(&line), class(&line), "{line:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "{checked} lines");
}
