//! The steps of `Classifier::classify` that need no classifier state: the
//! machine-sent signals, delivery reports, non-standard bounces, auto-replies
//! and bulk mail.

use super::{AUTOREPLY_SUBJECTS, BOUNCE_BODY, BOUNCE_SUBJECTS, Class, bounce, subjects};
use crate::mail::parse::ParsedMail;

/// What marks a mail as machine-sent, computed once per mail.
pub(super) struct Signals<'a> {
    pub daemon_sender: bool,
    pub null_return_path: bool,
    /// `Auto-Submitted` other than `no`.
    pub auto_submitted: Option<&'a str>,
    /// Lowercase `Precedence`.
    pub precedence: Option<String>,
    pub machine: bool,
}

impl<'a> Signals<'a> {
    pub fn of(m: &'a ParsedMail) -> Signals<'a> {
        let daemon_sender = bounce::is_mail_system_sender(&m.from.email);
        let null_return_path = bounce::has_null_return_path(m);
        let auto_submitted = m
            .auto
            .auto_submitted
            .as_deref()
            .filter(|v| !v.trim().to_ascii_lowercase().starts_with("no"));
        Signals {
            daemon_sender,
            null_return_path,
            auto_submitted,
            precedence: m.auto.precedence.as_deref().map(str::to_ascii_lowercase),
            machine: daemon_sender
                || null_return_path
                || auto_submitted.is_some()
                || m.report.delivery_status,
        }
    }
}

/// A delivery-status report: RFC 3464's delayed, delivered, relayed and
/// expanded say the mail is on its way; only `failed` is a bounce (and
/// suppresses).
pub(super) fn delivery_status(m: &ParsedMail) -> Class {
    let action = m.report.dsn_action.as_deref().unwrap_or("failed");
    if matches!(action, "delayed" | "delivered" | "relayed" | "expanded") {
        return Class::AutoReply {
            reason: format!(
                "delivery-status report (action {action}): not a failure, nothing is held back"
            ),
        };
    }
    Class::Bounce {
        reason: format!(
            "delivery-status report (action {action}{})",
            m.report
                .dsn_status
                .as_deref()
                .map(|s| format!(", status {s}"))
                .unwrap_or_default()
        ),
    }
}

/// Step 5, non-standard bounces: a mail system's notice without a DSN part.
pub(super) fn non_standard_bounce(m: &ParsedMail, s: &Signals) -> Option<Class> {
    // Closures: most mail is neither machine-sent nor from a daemon, and a
    // one-shot `ingest -` should not compile patterns it never needs.
    let subject_says_bounce = || BOUNCE_SUBJECTS.is_match(&m.subject);
    let body_says_bounce = || BOUNCE_BODY.is_match(bounce::notification_text(&m.text));
    if s.daemon_sender {
        if s.null_return_path
            || bounce::encloses_original(m)
            || subject_says_bounce()
            || body_says_bounce()
        {
            return Some(Class::Bounce {
                reason: format!("non-standard bounce sent by {}", m.from.email),
            });
        }
        // DESIGN §6: never acknowledge a postmaster/MAILER-DAEMON sender.
        return Some(Class::AutoReply {
            reason: format!(
                "sent from the mail-system address {} (no delivery report found)",
                m.from.email
            ),
        });
    }
    ((s.null_return_path || s.auto_submitted.is_some())
        && subject_says_bounce()
        && body_says_bounce())
    .then(|| Class::Bounce {
        reason: format!("non-standard bounce: machine-sent, subject {:?}", m.subject),
    })
}

/// Step 7, auto-replies: a machine answering a mail (DESIGN §6). They win over
/// bulk headers: an out-of-office often carries Precedence: bulk too.
pub(super) fn auto_reply(m: &ParsedMail, s: &Signals) -> Option<Class> {
    let because = |reason: String| Some(Class::AutoReply { reason });
    if let Some(v) = s.auto_submitted
        && v.trim().to_ascii_lowercase().starts_with("auto-replied")
    {
        return because(format!("Auto-Submitted: {v}"));
    }
    if let Some(p) = &s.precedence
        && ["auto_reply", "auto-reply"].contains(&p.as_str())
    {
        return because(format!("Precedence: {p}"));
    }
    if let Some(v) = &m.auto.x_auto_response_suppress {
        let lv = v.to_ascii_lowercase();
        if lv
            .split([',', ' '])
            .any(|t| t == "all" || t == "autoreply" || t == "oof")
        {
            return because(format!("X-Auto-Response-Suppress: {v}"));
        }
    }
    if m.auto.x_autoreply {
        return because("X-Autoreply header".into());
    }
    if subjects::may_mark_autoreply(&m.subject) && AUTOREPLY_SUBJECTS.is_match(&m.subject) {
        return because(format!("auto-reply subject {:?}", m.subject));
    }
    if s.null_return_path {
        return because("empty Return-Path (<>): sent by a machine".into());
    }
    None
}

/// Step 8, bulk and list mail: never acknowledged, but a real ticket (rules may
/// route or drop it), so nobody's mail is hidden out of sight.
pub(super) fn bulk(m: &ParsedMail, s: &Signals) -> Option<Class> {
    let because = |reason: String| Some(Class::Bulk { reason });
    if let Some(v) = s.auto_submitted {
        return because(format!("Auto-Submitted: {v}"));
    }
    if let Some(p) = &s.precedence
        && ["bulk", "junk", "list"].contains(&p.as_str())
    {
        return because(format!("Precedence: {p}"));
    }
    if let Some(l) = &m.auto.list_id {
        return because(format!("mailing list mail (List-Id: {l})"));
    }
    if m.auto.list_unsubscribe {
        return because("bulk mail (List-Unsubscribe present)".into());
    }
    None
}
