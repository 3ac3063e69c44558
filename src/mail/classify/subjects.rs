//! Subject patterns of delivery failure notices and auto-replies.

/// Subjects of delivery failure notices. A subject alone never makes a mail a
/// bounce: it only counts next to machine evidence (daemon sender, empty
/// Return-Path, Auto-Submitted), because customers write about deliveries too.
pub(super) const BOUNCE_SUBJECTS: &[&str] = &[
    r"(?i)^\s*undeliver(ed|able)\b",
    r"(?i)delivery status notification",
    r"(?i)delivery (failure|notification|problem|has failed|failed)",
    r"(?i)^\s*(mail delivery (failed|failure|system|subsystem)|failure notice)",
    r"(?i)returned mail",
    r"(?i)^\s*(non[- ]?delivery|nondeliverable)",
    r"(?i)could not (be )?deliver",
    r"(?i)^\s*delivery (report|warning)",
    r"(?i)^\s*warning: (could not send|message .* delayed)",
    r"(?i)\bmessage (delivery )?delayed\b",
    r"(?i)^\s*(mail|message) (could not be|not) delivered",
    r"(?i)^\s*(unzustellbar|nicht zustellbar|non recapitabile|non remis|no entregado)",
    r"(?i)^\s*delayed mail",
    r"(?i)^\s*(returned|rejected|bounced) (mail|message)",
    r"(?i)permanent (error|failure)",
    r"(?i)undelivered mail returned to sender",
    r"(?i)^\s*mail system error",
    r"(?i)^\s*error sending message",
    r"(?i)message status - undeliverable",
];

/// Out-of-office and auto-reply subjects (RFC 3834 responders that set no
/// header). Anchored: the marker is the prefix an auto-responder puts before
/// the original subject ("Automatic reply: …", Lotus Notes' upper-case
/// "AUTO: …"), a bracketed tag, or the "(Automatic Response)" suffix. Words
/// such as "vacation", "absence" or "automatic reply" inside a customer's own
/// subject do not count.
pub(super) const AUTOREPLY_SUBJECTS: &[&str] = &[
    concat!(
        r"(?i)^\s*\[?\s*(",
        r"out of (the )?office( auto ?reply)?|ooo|autoreply|auto[- ]reply|auto[- ]?response|",
        r"automatic (reply|response)|automated (reply|response)|",
        r"automatische antwort|abwesenheitsnotiz|",
        r"r[ée]ponse automatique|respuesta autom[áa]tica|fuera de la oficina|",
        r"risposta automatica|resposta autom[áa]tica|",
        r"automatisch antwoord|autosvar|automatisk svar|automaattinen vastaus|",
        r"automatyczna odpowied[źz]|odpowied[źz] automatyczna|",
        r"автоответ|автоматический ответ|vacation (reply|notice|message)",
        r")\s*(:|\])"
    ),
    r"^\s*AUTO:\s",
    r"(?i)\((auto(matic|mated)?[- ]?(reply|response)|out of (the )?office)\)\s*$",
];

/// A necessary condition of every `AUTOREPLY_SUBJECTS` pattern, checked before
/// them: each needs a ':' or ']' after its marker, or ends with ')'. Most
/// subjects have none, and the set then never needs compiling.
pub(super) fn may_mark_autoreply(subject: &str) -> bool {
    subject.contains([':', ']']) || subject.trim_end().ends_with(')')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{AUTOREPLY_SUBJECTS, may_mark_autoreply};
    use crate::mail::classify::Class;

    proptest! {
        /// The cheap test in front of the patterns never hides a subject they
        /// would have matched.
        #[test]
        fn the_autoreply_gate_never_hides_a_marker(
            s in "[ \t]{0,2}(\\[ ?)?(Out of Office|out of the office auto reply|Automatic reply|Auto-Response|AUTO|Autoreply|Réponse automatique|Автоответ|vacation notice|help)[ \t]{0,2}[:\\] )(]{0,2}[ a-z]{0,8}(\\((Automatic Response|out of office|auto reply)\\))?[ \t]{0,2}"
        ) {
            let set = regex::RegexSet::new(AUTOREPLY_SUBJECTS).expect("patterns");
            prop_assert!(!set.is_match(&s) || may_mark_autoreply(&s), "{:?}", s);
        }
    }
    use crate::mail::classify::test_support::class_of;

    #[test]
    fn out_of_office_subjects() {
        for s in [
            "Out of Office: Re: help",
            "Automatic reply: help",
            "Abwesenheitsnotiz: help",
            "Auto-Reply: x",
        ] {
            let c = class_of(&format!("From: a@c.test\r\nSubject: {s}\r\n"), "I am away");
            assert!(matches!(c, Class::AutoReply { .. }), "{s}: {c:?}");
        }
    }

    #[test]
    fn auto_reply_subject_markers() {
        for s in [
            "AUTO: Smith, John is out of the office (returning 05/01/2026)",
            "[Automatyczna odpowiedź] test",
            "Re: help (Automatic Response)",
            "Réponse automatique : help",
        ] {
            let c = class_of(&format!("From: a@c.test\r\nSubject: {s}\r\n"), "I am away");
            assert!(matches!(c, Class::AutoReply { .. }), "{s}: {c:?}");
        }
    }
}
