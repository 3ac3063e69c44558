//! The digest's ratings: the window by the time a rating arrived, the
//! distribution and average overall, per owner and per area, the comments
//! newest first and at most ten, an empty digest when nothing but a rating
//! happened being not empty.

use super::stats::fact;
use super::*;
use crate::sla::satisfaction::{Comment, GroupScores, Ratings, Scores, ratings};
use crate::sla::{QuietBacklog, TicketFact, digest};
use crate::tickets::{Satisfaction, Status};

/// Ticket `id` of `owner` in `area`, created on Sunday, rated `score` at `at`.
fn rated(
    id: i64,
    owner: Option<&str>,
    area: Option<&str>,
    score: u8,
    at: &str,
    comment: &str,
) -> TicketFact {
    let mut f = fact(id, "2026-03-15 09:00", Status::Resolved, owner, "c@x.test");
    f.area = area.map(String::from);
    f.satisfaction = Some(Satisfaction {
        score,
        comment: comment.into(),
        at: utc(at),
    });
    f
}

fn scores(count: usize, distribution: [usize; 5], average_x100: Option<u32>) -> Scores {
    Scores {
        count,
        distribution,
        average_x100,
    }
}

fn monday_ratings() -> Vec<TicketFact> {
    vec![
        rated(
            1,
            Some("bob"),
            Some("billing"),
            5,
            "2026-03-16 09:00",
            "Quick and kind",
        ),
        rated(2, Some("bob"), Some("billing"), 4, "2026-03-16 10:00", ""),
        rated(
            3,
            Some("tess"),
            Some("tech"),
            2,
            "2026-03-16 11:00",
            "Slow.\nVery slow.",
        ),
        rated(4, None, None, 5, "2026-03-16 12:00", "<b>great</b>"),
        // Before and after the window: not counted.
        rated(
            5,
            Some("tess"),
            Some("tech"),
            1,
            "2026-03-15 23:59",
            "yesterday",
        ),
        rated(
            6,
            Some("bob"),
            Some("billing"),
            1,
            "2026-03-17 00:00",
            "tomorrow",
        ),
        // Never rated.
        fact(7, "2026-03-16 08:00", Status::Open, Some("bob"), "d@y.test"),
    ]
}

#[test]
fn ratings_in_the_window_by_owner_and_area() {
    let r = ratings(
        &monday_ratings(),
        utc("2026-03-16 00:00"),
        utc("2026-03-17 00:00"),
    );
    assert_eq!(r.overall, scores(4, [0, 1, 0, 1, 2], Some(400)));
    assert_eq!(r.overall.average_text(), "4.00");
    let group = |name: Option<&str>, s: Scores| GroupScores {
        name: name.map(String::from),
        scores: s,
    };
    assert_eq!(
        r.per_owner,
        vec![
            group(Some("bob"), scores(2, [0, 0, 0, 1, 1], Some(450))),
            group(Some("tess"), scores(1, [0, 1, 0, 0, 0], Some(200))),
            group(None, scores(1, [0, 0, 0, 0, 1], Some(500))),
        ]
    );
    assert_eq!(
        r.per_area
            .iter()
            .map(|g| (g.name.as_deref(), g.scores.count))
            .collect::<Vec<_>>(),
        vec![(Some("billing"), 2), (Some("tech"), 1), (None, 1)]
    );
    // Newest first; a rating without words is no comment.
    let said: Vec<(i64, &str)> = r
        .comments
        .iter()
        .map(|c: &Comment| (c.id, c.comment.as_str()))
        .collect();
    assert_eq!(
        said,
        vec![
            (4, "<b>great</b>"),
            (3, "Slow.\nVery slow."),
            (1, "Quick and kind")
        ]
    );
    assert_eq!(r.comments[1].owner.as_deref(), Some("tess"));
    assert_eq!(r.comments[1].area.as_deref(), Some("tech"));
    assert_eq!(r.comments[1].score, 2);
}

#[test]
fn averages_round_to_hundredths_and_none_without_ratings() {
    let facts: Vec<TicketFact> = [5, 4, 4]
        .iter()
        .enumerate()
        .map(|(i, s)| rated(i as i64 + 1, Some("bob"), None, *s, "2026-03-16 09:00", ""))
        .collect();
    let r = ratings(&facts, utc("2026-03-16 00:00"), utc("2026-03-17 00:00"));
    assert_eq!(r.overall.average_x100, Some(433));
    assert_eq!(r.overall.average_text(), "4.33");
    let j = serde_json::to_value(&r).expect("json");
    assert_eq!(j["average"], 4.33);
    assert_eq!(j["distribution"], serde_json::json!([0, 0, 0, 2, 1]));
    assert_eq!(j["per_owner"][0]["name"], "bob");
    assert_eq!(j["per_owner"][0]["average"], 4.33);
    let none = ratings(&facts, utc("2026-03-18 00:00"), utc("2026-03-19 00:00"));
    assert_eq!(none, Ratings::default());
    assert_eq!(none.overall.average_text(), "-");
    assert!(serde_json::to_value(&none).expect("json")["average"].is_null());
}

#[test]
fn the_digest_keeps_ten_comments_and_a_rating_is_news() {
    let facts: Vec<TicketFact> = (1..=12)
        .map(|i| {
            rated(
                i,
                Some("bob"),
                None,
                3,
                &format!("2026-03-16 {:02}:00", i + 6),
                "ok",
            )
        })
        .collect();
    let always = Calendar::always();
    let d = digest(
        &facts,
        &QuietBacklog::default(),
        utc("2026-03-16 00:00"),
        utc("2026-03-17 00:00"),
        |_| &always,
    );
    assert_eq!(d.satisfaction.overall.count, 12);
    assert_eq!(d.satisfaction.comments.len(), 10);
    assert_eq!(d.satisfaction.comments[0].id, 12, "newest first");
    assert!(!d.is_empty(), "nothing else happened, but ratings came in");
    let quiet = digest(
        &facts,
        &QuietBacklog::default(),
        utc("2026-03-18 00:00"),
        utc("2026-03-19 00:00"),
        |_| &always,
    );
    assert!(quiet.is_empty());
}
