//! `digest preview|send` and `stats`: the managers' numbers on demand.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};

use crate::config::{Config, ManagerConfig, parse_duration};
use crate::digest::{Digests, PeriodKind, Which, Window};
use crate::outbound::Renderer;
use crate::store::Store;

pub struct Preview {
    pub manager: String,
    pub period: Option<PeriodKind>,
    pub at: Option<String>,
    pub text: bool,
    pub out: Option<PathBuf>,
}

/// The digests service: no rules file is read (a digest needs none).
fn digests(cfg: &Arc<Config>) -> anyhow::Result<Digests> {
    Ok(Digests::new(cfg.clone(), Renderer::new(cfg)?)?)
}

fn manager<'c>(cfg: &'c Config, email: &str) -> anyhow::Result<&'c ManagerConfig> {
    cfg.manager
        .iter()
        .find(|m| m.email.eq_ignore_ascii_case(email))
        .with_context(|| {
            let known: Vec<&str> = cfg.manager.iter().map(|m| m.email.as_str()).collect();
            format!(
                "no [[manager]] {email:?} in the config (managers: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })
}

/// `--at`: a date (the digest due that local day, or the next scheduled
/// after it) or an RFC 3339 instant (the digest due last at or before it).
fn parse_at(s: &str) -> anyhow::Result<Which> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Which::DueAt(t.with_timezone(&Utc)));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("--at {s:?}: expected YYYY-MM-DD or an RFC 3339 time"))?;
    Ok(Which::DueOn(d))
}

pub(super) async fn preview(cfg: &Arc<Config>, store: &Store, p: Preview) -> anyhow::Result<()> {
    let m = manager(cfg, &p.manager)?;
    let which = match &p.at {
        Some(s) => parse_at(s)?,
        None => Which::Next,
    };
    let now = super::now();
    let digests = digests(cfg)?;
    let run = digests
        .digest_for(store, m, p.period.unwrap_or(m.period), which, now)
        .await?;
    if matches!(which, Which::Next) && m.digest.is_some() && run.window.end <= now {
        let held = digests.hold(store, m, now).await?;
        eprintln!(
            "this digest was due at {}: {}",
            run.window.end.format("%Y-%m-%d %H:%M UTC"),
            match held {
                Some(h) => format!(
                    "held back ({h}); it goes out at the first scheduler run that may send it"
                ),
                None => "the scheduler's next run sends it".to_string(),
            }
        );
    }
    let (subject, r) = digests
        .renderer()
        .render_digest(&m.email, &run.view, "preview@mailroom.invalid", now)
        .map_err(anyhow::Error::msg)?;
    let body = if p.text { r.text } else { r.html };
    match p.out {
        Some(path) => {
            std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{subject}: written to {} (nothing was sent)",
                path.display()
            );
        }
        None => print!("{body}"),
    }
    Ok(())
}

pub(super) async fn send(cfg: &Arc<Config>, store: &Store, email: &str) -> anyhow::Result<()> {
    let m = manager(cfg, email)?;
    let run = match digests(cfg)?.send(store, m, super::now()).await? {
        Ok(run) => run,
        Err(hold) => bail!("digest for {} not queued: {hold}", m.email),
    };
    println!(
        "digest for {} queued ({} to {}); `mailroom outbox flush` sends it",
        m.email,
        run.counted.start.format("%Y-%m-%d %H:%M UTC"),
        run.counted.end.format("%Y-%m-%d %H:%M UTC")
    );
    Ok(())
}

pub(super) async fn stats(
    cfg: &Arc<Config>,
    store: &Store,
    since: &str,
    area: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let span = parse_duration(since).map_err(|e| anyhow::anyhow!("--since {since:?}: {e}"))?;
    let span = chrono::Duration::from_std(span).context("--since is too long")?;
    let now = super::now();
    // The span before it (the comparison) must fit in time too.
    let start = now
        .checked_sub_signed(span)
        .filter(|s| {
            s.checked_sub_signed(span + chrono::Duration::days(2))
                .is_some()
        })
        .with_context(|| format!("--since {since:?} is too long"))?;
    let who = ManagerConfig {
        email: String::new(),
        areas: area.into_iter().collect(),
        digest: None,
        time_zone: None,
        period: PeriodKind::Day,
        skip_empty: false,
    };
    let digests = digests(cfg)?;
    let span = Window { start, end: now };
    let mut run = digests
        .digest_window(store, &who, PeriodKind::Day, span, span)
        .await?;
    if json {
        let mut v = serde_json::to_value(&run.digest)?;
        v["deltas"] = serde_json::to_value(run.digest.deltas())?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    run.view["title"] = serde_json::json!("Statistics");
    run.view["period"] = serde_json::json!(format!(
        "the last {since} ({} – {})",
        start.format("%Y-%m-%d %H:%M"),
        now.format("%Y-%m-%d %H:%M UTC")
    ));
    print!(
        "{}",
        digests
            .renderer()
            .render_text("digest.txt", &run.view)
            .map_err(anyhow::Error::msg)?
    );
    Ok(())
}
