//! The digest's satisfaction numbers: the ratings given in a window (a
//! ticket's latest rating, by the time it arrived), their distribution over
//! 1–5 and average overall, per owner and per area, and the comments, newest
//! first. Pure, from the same facts as the rest of the digest.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::stats::{TOP, TicketFact};

/// Ratings of one group (everyone, an owner, an area).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scores {
    pub count: usize,
    /// How many gave 1, 2, 3, 4 and 5.
    pub distribution: [usize; 5],
    /// The mean score in hundredths (433 = 4.33); None without ratings.
    #[serde(rename = "average", serialize_with = "hundredths")]
    pub average_x100: Option<u32>,
}

impl Scores {
    fn add(&mut self, score: u8) {
        if let Some(slot) = usize::from(score)
            .checked_sub(1)
            .and_then(|i| self.distribution.get_mut(i))
        {
            *slot += 1;
            self.count += 1;
        }
    }

    fn finish(mut self) -> Scores {
        let sum: usize = (1..=5).zip(self.distribution).map(|(s, n)| s * n).sum();
        self.average_x100 = (self.count > 0)
            .then(|| u32::try_from((sum * 100 + self.count / 2) / self.count).unwrap_or(u32::MAX));
        self
    }

    /// `4.33`, or "-" without ratings.
    pub fn average_text(&self) -> String {
        match self.average_x100 {
            Some(a) => format!("{}.{:02}", a / 100, a % 100),
            None => "-".into(),
        }
    }
}

/// The ratings of one owner or area (None: unassigned, no area).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupScores {
    pub name: Option<String>,
    #[serde(flatten)]
    pub scores: Scores,
}

/// A rating that came with words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub id: i64,
    pub owner: Option<String>,
    pub area: Option<String>,
    pub score: u8,
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// The satisfaction part of a digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ratings {
    #[serde(flatten)]
    pub overall: Scores,
    /// Most ratings first, then by name; unassigned last.
    pub per_owner: Vec<GroupScores>,
    /// Most ratings first, then by name; no area last.
    pub per_area: Vec<GroupScores>,
    /// Ratings with a comment, newest first, at most [`TOP`].
    pub comments: Vec<Comment>,
}

/// The ratings given in [start, end) among `facts` (merged tickets are not
/// among them: the store leaves them out).
pub fn ratings<'f>(
    facts: impl IntoIterator<Item = &'f TicketFact>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Ratings {
    let mut overall = Scores::default();
    let mut owners: BTreeMap<Option<&str>, Scores> = BTreeMap::new();
    let mut areas: BTreeMap<Option<&str>, Scores> = BTreeMap::new();
    let mut comments = Vec::new();
    for f in facts {
        let Some(s) = f
            .satisfaction
            .as_ref()
            .filter(|s| start <= s.at && s.at < end)
        else {
            continue;
        };
        overall.add(s.score);
        owners.entry(f.owner.as_deref()).or_default().add(s.score);
        areas.entry(f.area.as_deref()).or_default().add(s.score);
        if !s.comment.is_empty() {
            comments.push(Comment {
                id: f.id,
                owner: f.owner.clone(),
                area: f.area.clone(),
                score: s.score,
                comment: s.comment.clone(),
                at: s.at,
            });
        }
    }
    comments.sort_by_key(|c| std::cmp::Reverse((c.at, c.id)));
    comments.truncate(TOP);
    Ratings {
        overall: overall.finish(),
        per_owner: groups(owners),
        per_area: groups(areas),
        comments,
    }
}

/// Most ratings first, ties by name; the group without a name last.
fn groups(map: BTreeMap<Option<&str>, Scores>) -> Vec<GroupScores> {
    let mut v: Vec<GroupScores> = map
        .into_iter()
        .map(|(name, s)| GroupScores {
            name: name.map(str::to_string),
            scores: s.finish(),
        })
        .collect();
    v.sort_by(|a, b| {
        (a.name.is_none(), b.scores.count, &a.name).cmp(&(
            b.name.is_none(),
            a.scores.count,
            &b.name,
        ))
    });
    v
}

/// An average in hundredths as a JSON number (4.33).
fn hundredths<S: serde::Serializer>(a: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => s.serialize_some(&(f64::from(*a) / 100.0)),
        None => s.serialize_none(),
    }
}
