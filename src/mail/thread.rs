//! Thread keys (DESIGN §4): referenced Message-IDs, subject tag, normalised subject.

use std::sync::OnceLock;

use regex::Regex;

/// At most this many referenced IDs are looked up (References can be very long).
pub const MAX_REFERENCES: usize = 64;

/// Reply and forward prefixes of many languages: Re, Fwd, Fw, AW (de), WG (de),
/// SV (sv/da/no), VS (no/da), Antw (nl), Odp (pl), RIF/R (it), TR/RE (fr),
/// Enc/Res (pt), RV (es), YNT (tr), VL/VB (fi), PD (pl), ΑΠ/ΣΧΕΤ (el), 回复/转发 (zh),
/// Ynt, Atb (lv), Ats (lt), Odg (hr), Továbbítás (hu), with counters like "RE[2]:".
const PREFIX_PATTERN: &str = r"(?i)^\s*(?:(?:re|fwd?|aw|wg|sv|vs|vb|vl|antw|antwort|doorst|odp|pd|rif|r|tr|enc|encaminhado|res|rv|reenv|ynt|ilt|atb|ats|odg|fw|fwd|továbbítás|vá|απ|σχετ|πρθ|回复|回覆|答复|转发|轉寄|転送|返信)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+";

pub struct ThreadKeys {
    ticket_prefix: String,
    // Compiled on first use, and only for subjects that can hold what they look
    // for: a one-shot `ingest -` (one process per mail) whose subject has no
    // '[' or ':' never compiles them.
    prefix_re: OnceLock<Regex>,
    tag_re: OnceLock<Regex>,
}

impl ThreadKeys {
    /// `ticket_prefix` is validated to be alphanumeric by the config.
    pub fn new(ticket_prefix: &str) -> ThreadKeys {
        ThreadKeys {
            ticket_prefix: ticket_prefix.to_string(),
            prefix_re: OnceLock::new(),
            tag_re: OnceLock::new(),
        }
    }

    /// `MR` of `MR-12`.
    pub fn ticket_prefix(&self) -> &str {
        &self.ticket_prefix
    }

    fn tag_re(&self) -> &Regex {
        self.tag_re.get_or_init(|| {
            // ASCII digits: the number is parsed as an i64.
            Regex::new(&format!(
                r"(?i)\[{}-([0-9]{{1,18}})\]",
                regex::escape(&self.ticket_prefix)
            ))
            .expect("escaped tag pattern compiles")
        })
    }

    fn prefix_re(&self) -> &Regex {
        self.prefix_re
            .get_or_init(|| Regex::new(PREFIX_PATTERN).expect("static prefix pattern compiles"))
    }

    /// The ticket number in a `[MR-1042]` subject tag (the last one when several).
    pub fn subject_tag(&self, subject: &str) -> Option<i64> {
        if !subject.contains('[') {
            return None;
        }
        self.tag_re()
            .captures_iter(subject)
            .filter_map(|c| c.get(1)?.as_str().parse().ok())
            .last()
    }

    /// Subject without reply/forward prefixes, ticket tags and extra whitespace.
    pub fn normalize_subject(&self, subject: &str) -> String {
        let mut s = if subject.contains('[') {
            self.tag_re().replace_all(subject, " ").into_owned()
        } else {
            subject.to_string()
        };
        // Every prefix ends with a colon (ASCII or full-width).
        while s.contains([':', '\u{FF1A}']) {
            let stripped = self.prefix_re().replace(&s, "").into_owned();
            // A bracketed list tag like "[users]" in front of a prefix.
            if stripped == s {
                break;
            }
            s = stripped;
        }
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A References chain bounded to `max` IDs: the thread root and the newest.
pub fn capped_references(refs: &[String], max: usize) -> Vec<String> {
    if refs.len() <= max || max < 2 {
        return refs.iter().take(max).cloned().collect();
    }
    let mut out = vec![refs[0].clone()];
    out.extend(refs[refs.len() - (max - 1)..].iter().cloned());
    out
}

/// IDs to look up, most specific first: In-Reply-To, then References from the
/// newest back; de-duplicated and bounded.
pub fn referenced_ids(in_reply_to: &[String], references: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in in_reply_to.iter().chain(references.iter().rev()) {
        if !id.is_empty() && !out.iter().any(|x| x == id) {
            out.push(id.clone());
            if out.len() == MAX_REFERENCES {
                break;
            }
        }
    }
    out
}

/// [`referenced_ids`] of a stored message, whose In-Reply-To and References
/// are kept as space-separated IDs.
pub fn stored_references(in_reply_to: &str, references: &str) -> Vec<String> {
    let split = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    referenced_ids(&split(in_reply_to), &split(references))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_prefixes_of_many_languages() {
        let k = ThreadKeys::new("MR");
        for (input, want) in [
            ("Re: Printer broken", "Printer broken"),
            ("RE: RE: Printer broken", "Printer broken"),
            ("Fwd: Printer broken", "Printer broken"),
            ("FW: Printer broken", "Printer broken"),
            ("AW: WG: Printer broken", "Printer broken"),
            ("SV: VS: Printer broken", "Printer broken"),
            ("Antw: Printer broken", "Printer broken"),
            ("RE[2]: Printer broken", "Printer broken"),
            ("Re(3): Printer broken", "Printer broken"),
            ("TR : Printer broken", "Printer broken"),
            ("Odp: Printer broken", "Printer broken"),
            ("回复：Printer broken", "Printer broken"),
            ("Re: Printer broken [MR-12]", "Printer broken"),
            ("Rechnung falsch", "Rechnung falsch"),
            ("Reply needed", "Reply needed"),
            ("Invoice: March", "Invoice: March"),
        ] {
            assert_eq!(k.normalize_subject(input), want, "input {input:?}");
        }
    }

    #[test]
    fn finds_subject_tag() {
        let k = ThreadKeys::new("MR");
        assert_eq!(k.subject_tag("Re: help [MR-1042]"), Some(1042));
        assert_eq!(k.subject_tag("Re: help [mr-7]"), Some(7));
        assert_eq!(k.subject_tag("Re: help MR-1042"), None);
        assert_eq!(k.subject_tag("Re: help [XY-3]"), None);
        assert_eq!(ThreadKeys::new("XY").subject_tag("[XY-3]"), Some(3));
    }

    #[test]
    fn stored_references_keep_root_and_newest() {
        let many: Vec<String> = (0..500).map(|i| i.to_string()).collect();
        let c = capped_references(&many, MAX_REFERENCES);
        assert_eq!(c.len(), MAX_REFERENCES);
        assert_eq!(c[0], "0");
        assert_eq!(c[1], "437");
        assert_eq!(c.last().map(String::as_str), Some("499"));
        assert_eq!(capped_references(&many[..3], MAX_REFERENCES).len(), 3);
    }

    #[test]
    fn referenced_ids_order_and_bounds() {
        let irt = vec!["c".to_string()];
        let refs = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(referenced_ids(&irt, &refs), vec!["c", "b", "a"]);
        let many: Vec<String> = (0..500).map(|i| i.to_string()).collect();
        assert_eq!(referenced_ids(&[], &many).len(), MAX_REFERENCES);
    }
}
