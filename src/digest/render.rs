//! Rendering a manager's digest (issue "timely, visibly", item 3): the numbers
//! of `sla::stats::Digest` as a plain-text part and an HTML part with the same
//! numbers and table-based bars (no images, no scripts: Gmail, Outlook and
//! Apple Mail all show table cells with a background colour and a width).
//! The templates are `outbound::Renderer`'s.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::mail::Mailbox;
use crate::mail::compose::{Outgoing, compose};
use crate::model::Window;
use crate::outbound::{Rendered, Renderer};
use crate::sla::satisfaction::GroupScores;
use crate::sla::stats::{Count, Digest, Percentiles};
use crate::tickets;

/// Widest bar, in pixels.
const BAR: f64 = 240.0;

/// `1 h 12 m`, `3 d 4 h`, `45 s`; "-" for none.
pub fn human(d: Option<Duration>) -> String {
    let Some(d) = d else { return "-".into() };
    let s = d.num_seconds().max(0);
    let (days, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (days, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} m"),
        (0, h, m) => format!("{h} h {m} m"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `+3`, `-1`, `±0`.
fn delta(now: usize, before: Option<usize>) -> String {
    match before {
        Some(b) => match now as i64 - b as i64 {
            0 => "±0".into(),
            d if d > 0 => format!("+{d}"),
            d => format!("{d}"),
        },
        None => String::new(),
    }
}

fn bar(n: usize, max: usize) -> u32 {
    if max == 0 || n == 0 {
        0
    } else {
        ((n as f64 / max as f64) * BAR).round().max(2.0) as u32
    }
}

fn counts(list: &[Count]) -> Value {
    let max = list.iter().map(|c| c.count).max().unwrap_or(0);
    json!(
        list.iter()
            .map(|c| json!({ "name": c.name, "count": c.count, "bar": bar(c.count, max) }))
            .collect::<Vec<_>>()
    )
}

fn times(p: &Percentiles, before: Option<&Percentiles>) -> Value {
    json!({
        "count": p.count,
        "median": human(p.median),
        "p90": human(p.p90),
        "median_before": before.map(|b| human(b.median)),
    })
}

/// What a digest's heading says: its window, what it is compared with, in
/// the manager's time zone.
pub struct Heading<'a> {
    /// The digest's window; the numbers may cover only its beginning
    /// (`Digest::end` earlier: a preview before it is due).
    pub window: Window,
    pub compared: Window,
    /// How the comparison span was chosen (`PeriodKind::compared_text`).
    pub compared_text: &'a str,
    pub tz: Tz,
    /// "all areas", "areas billing, tech".
    pub areas: &'a str,
}

/// `Fri 27 Nov 2026 08:00 CET`: exact, the zone's abbreviation telling the
/// hours a DST change repeats apart.
fn instant_text(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %-d %b %Y %H:%M %Z")
        .to_string()
}

/// `Fri 27 Nov 2026 08:00 CET to Mon 30 Nov 2026 08:00 CET`.
pub fn window_text(w: Window, tz: Tz) -> String {
    format!(
        "{} to {}",
        instant_text(w.start, tz),
        instant_text(w.end, tz)
    )
}

/// What the digest templates get: every number already formatted.
pub fn view(d: &Digest, h: &Heading<'_>, prefix: &str, support_name: &str) -> Value {
    let tz = h.tz;
    let local = |t: DateTime<Utc>| t.with_timezone(&tz);
    let so_far = (d.end < h.window.end).then(|| instant_text(d.end, tz));
    let period = match &so_far {
        Some(t) => format!("{}, so far: until {t}", window_text(h.window, tz)),
        None => window_text(h.window, tz),
    };
    let subject_period = format!(
        "{} – {}{}",
        local(h.window.start).format("%a %-d %b %H:%M"),
        local(h.window.end).format("%a %-d %b %Y %H:%M"),
        if so_far.is_some() { " (so far)" } else { "" }
    );
    let prev = d.previous.as_deref();
    let tref = |id: i64| tickets::format_ref(prefix, id);
    let end = d.end;
    json!({
        // `stats` shows the same view as "Statistics".
        "title": "Digest",
        "period": period,
        "subject_period": subject_period,
        "so_far": so_far,
        "compared": window_text(h.compared, tz),
        "compared_text": h.compared_text,
        "time_zone": tz.name(),
        "areas": h.areas,
        "support_name": support_name,
        "empty": d.is_empty(),
        "has_previous": prev.is_some(),
        "numbers": numbers(d),
        "first_response": times(&d.first_response, prev.map(|p| &p.first_response)),
        "resolution": times(&d.resolution, prev.map(|p| &p.resolution)),
        "breaches": d.breaches.iter().map(|b| json!({
            "ref": tref(b.id), "target": b.target.as_str().replace('_', " "),
            "at": local(b.at).format("%a %-d %b %H:%M").to_string(),
        })).collect::<Vec<_>>(),
        "oldest_waiting": d.oldest_waiting.iter().map(|w| json!({
            "ref": tref(w.id), "since": local(w.since).format("%a %-d %b %H:%M").to_string(),
            "age": human(Some(end - w.since)),
        })).collect::<Vec<_>>(),
        "per_owner": per_owner(d),
        "top_customers": counts(&d.top_customers),
        "top_domains": counts(&d.top_domains),
        "satisfaction": satisfaction(d, &tref, tz),
    })
}

/// The longest comment a digest quotes, in characters (`stats --json` and
/// `tickets show` have them whole).
const COMMENT_CHARS: usize = 300;

/// The ratings of the window: the distribution with bars (5 first), the
/// average against the compared span's, per owner and per area, the
/// comments (each on one line, cut at [`COMMENT_CHARS`]).
fn satisfaction(d: &Digest, tref: &dyn Fn(i64) -> String, tz: Tz) -> Value {
    let r = &d.satisfaction;
    let all = &r.overall;
    let max = all.distribution.iter().copied().max().unwrap_or(0);
    let groups = |list: &[GroupScores], none: &str| -> Vec<Value> {
        list.iter()
            .map(|g| {
                json!({
                    "name": g.name.clone().unwrap_or_else(|| none.to_string()),
                    "count": g.scores.count,
                    "average": g.scores.average_text(),
                    "distribution": g.scores.distribution,
                })
            })
            .collect()
    };
    json!({
        "count": all.count,
        "average": all.average_text(),
        "average_before": d.previous.as_deref().map(|p| p.satisfaction.overall.average_text()),
        "distribution": (1..=5usize).rev().map(|score| {
            let n = all.distribution.get(score - 1).copied().unwrap_or(0);
            json!({ "score": score, "count": n, "bar": bar(n, max) })
        }).collect::<Vec<_>>(),
        "per_owner": groups(&r.per_owner, "(unassigned)"),
        "per_area": groups(&r.per_area, "(no area)"),
        "comments": r.comments.iter().map(|c| {
            let line = c.comment.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut cut: String = line.chars().take(COMMENT_CHARS).collect();
            if cut.len() < line.len() {
                cut.push('…');
            }
            json!({
                "ref": tref(c.id), "score": c.score, "comment": cut,
                "owner": c.owner.clone().unwrap_or_else(|| "(unassigned)".into()),
                "area": c.area.clone().unwrap_or_else(|| "(no area)".into()),
                "at": c.at.with_timezone(&tz).format("%a %-d %b %H:%M").to_string(),
            })
        }).collect::<Vec<_>>(),
    })
}

/// The numbers table: each count, the previous period's, and bars on one scale.
fn numbers(d: &Digest) -> Vec<Value> {
    let prev = d.previous.as_deref();
    let rows = [
        ("New", d.new, prev.map(|p| p.new)),
        ("Resolved", d.resolved, prev.map(|p| p.resolved)),
        ("Reopened", d.reopened, prev.map(|p| p.reopened)),
        (
            "Backlog at the end",
            d.backlog_at_end,
            prev.map(|p| p.backlog_at_end),
        ),
        (
            "SLA breaches",
            d.breaches.len(),
            prev.map(|p| p.breaches.len()),
        ),
    ];
    let max = rows
        .iter()
        .flat_map(|(_, n, b)| [*n, b.unwrap_or(0)])
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(label, n, b)| {
            json!({
                "label": label, "value": n, "before": b, "delta": delta(*n, *b),
                "bar": bar(*n, max), "bar_before": bar(b.unwrap_or(0), max),
            })
        })
        .collect()
}

/// Per owner: open and answered, with bars on one scale.
fn per_owner(d: &Digest) -> Vec<Value> {
    let owner_max = d
        .per_owner
        .iter()
        .map(|o| o.open_load.max(o.answered))
        .max()
        .unwrap_or(0);
    d.per_owner
        .iter()
        .map(|o| {
            json!({
                "owner": o.owner.clone().unwrap_or_else(|| "(unassigned)".into()),
                "open": o.open_load, "answered": o.answered,
                "bar": bar(o.open_load, owner_max), "bar_answered": bar(o.answered, owner_max),
            })
        })
        .collect()
}

impl Renderer {
    /// One template rendered with `view` (the digest's text for `stats`).
    pub fn render_text(&self, template: &str, view: &Value) -> Result<String, String> {
        self.templates()
            .render(template, view)
            .map_err(|e| e.to_string())
    }

    /// The digest mail to `manager`, ready to send (its bytes are stored, so
    /// it goes out exactly as rendered here).
    pub fn render_digest(
        &self,
        manager: &str,
        view: &Value,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Rendered), String> {
        let text = self
            .templates()
            .render("digest.txt", view)
            .map_err(|e| e.to_string())?;
        let html = self
            .templates()
            .render("digest.html", view)
            .map_err(|e| e.to_string())?;
        let subject = format!(
            "[{}] Digest: {}",
            view["support_name"].as_str().unwrap_or("mailroom"),
            view["subject_period"].as_str().unwrap_or("")
        );
        let support = self.support();
        let out = Outgoing {
            from: support.clone(),
            reply_to: None,
            to: vec![Mailbox {
                name: None,
                email: manager.to_string(),
            }],
            cc: Vec::new(),
            subject: subject.clone(),
            message_id: message_id.to_string(),
            in_reply_to: None,
            references: Vec::new(),
            auto_submitted: Some("auto-generated"),
            loop_id: support.email.clone(),
            extra_headers: Vec::new(),
            date: now,
            text: text.clone(),
            html: Some(html.clone()),
            attachments: Vec::new(),
        };
        let raw = compose(out).map_err(|e| e.to_string())?;
        Ok((subject, Rendered { raw, text, html }))
    }
}
