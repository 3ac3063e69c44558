//! Satisfaction by reply, not by link (mail scanners "click" links): after a
//! resolution the customer is asked to answer with a number from 1 (poor) to
//! 5 (great) on the first line and anything they want to say below. Pure:
//! what a rating is, and whether the new words of a reply are one.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The longest comment kept, in characters (the rest is cut, with "…").
pub const MAX_COMMENT_CHARS: usize = 2000;

/// A ticket's rating, as recorded (a later one replaces it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Satisfaction {
    /// 1 (poor) to 5 (great).
    pub score: u8,
    /// What the customer wrote besides the number (may be empty).
    pub comment: String,
    /// When the rating arrived.
    pub at: DateTime<Utc>,
}

/// A reply read as a rating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    pub score: u8,
    pub comment: String,
}

/// The rating in a reply's new words (quoted history already cut): the first
/// non-empty line starts with a digit from 1 to 5 that stands alone — not
/// part of a bigger number ("10", "45"), a decimal ("4.5", "4,5"), a score
/// out of something else than 5 ("4/10") or a word ("3rd"). "5", "5/5",
/// "4 - fine", "3: ok" are ratings. The comment is the rest of that line
/// after the number and its separator, and the lines below, up to a
/// signature line ("-- "), trimmed, without control characters, at most
/// [`MAX_COMMENT_CHARS`].
pub fn parse_rating(text: &str) -> Option<Rating> {
    let mut lines = text.lines();
    let first = lines.by_ref().map(str::trim).find(|l| !l.is_empty())?;
    let (score, rest) = score_of(first)?;
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || SEPARATORS.contains(&c));
    let mut comment = rest.to_string();
    for line in lines {
        if line.trim_end() == "--" {
            break;
        }
        comment.push('\n');
        comment.push_str(line);
    }
    Some(Rating {
        score,
        comment: clean_comment(&comment),
    })
}

/// What may stand between the number and the comment: "4 - fine", "3: ok".
const SEPARATORS: &[char] = &[
    '-', '–', '—', ':', '.', ',', ';', ')', '!', '=', '*', '|', '~', '/',
];

/// The score at the start of `line` and what follows it (a "/5" taken).
fn score_of(line: &str) -> Option<(u8, &str)> {
    let first = line.chars().next()?;
    let score = match first {
        '1'..='5' => first as u8 - b'0',
        _ => return None,
    };
    let after = &line[1..];
    let mut chars = after.chars();
    match chars.next() {
        None => return Some((score, after)),
        Some(c) if c.is_alphanumeric() => return None,
        Some('.' | ',') if chars.next().is_some_and(|c| c.is_ascii_digit()) => return None,
        _ => {}
    }
    // "4/5", "4 / 5": out of five, taken; "4/10": not this scale.
    let slash = after.trim_start();
    if let Some(out_of) = slash.strip_prefix('/') {
        let out_of = out_of.trim_start();
        let digits = out_of.len()
            - out_of
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        return match &out_of[..digits] {
            "" => Some((score, after)),
            "5" => Some((score, &out_of[digits..])),
            _ => None,
        };
    }
    Some((score, after))
}

/// A comment as stored: no control characters but line breaks and tabs
/// (NUL would not even fit a PostgreSQL text), trimmed, capped.
fn clean_comment(s: &str) -> String {
    let kept: String = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    let kept = kept.trim();
    if kept.chars().count() <= MAX_COMMENT_CHARS {
        return kept.to_string();
    }
    let mut cut: String = kept.chars().take(MAX_COMMENT_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(text: &str) -> Option<(u8, String)> {
        parse_rating(text).map(|r| (r.score, r.comment))
    }

    #[test]
    fn a_number_on_the_first_line_is_a_rating() {
        let yes = [
            ("5", 5, ""),
            ("5/5", 5, ""),
            ("4 / 5 thanks", 4, "thanks"),
            ("4 - fine", 4, "fine"),
            ("3: ok", 3, "ok"),
            ("1", 1, ""),
            ("2!", 2, ""),
            ("4 – quick and kind", 4, "quick and kind"),
            ("\n\n   5\nGreat help.\nThanks!", 5, "Great help.\nThanks!"),
            ("4) fine", 4, "fine"),
            ("4.", 4, ""),
            ("4. Good, but slow", 4, "Good, but slow"),
            ("3 stars", 3, "stars"),
            ("5\r\nAll good\r\n", 5, "All good"),
        ];
        for (text, score, comment) in yes {
            assert_eq!(rating(text), Some((score, comment.to_string())), "{text:?}");
        }
    }

    #[test]
    fn other_numbers_and_words_are_not() {
        for text in [
            "10",
            "45",
            "4.5",
            "4,5",
            "0",
            "6",
            "6/10",
            "4/10",
            "3rd time I ask",
            "5x",
            "-4",
            "Thanks, 5",
            "",
            "  \n ",
            "five",
            "٣",
            "Ⅴ",
        ] {
            assert_eq!(rating(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_comment_stops_at_a_signature_and_is_cleaned_and_capped() {
        assert_eq!(rating("4\nfast\n-- \nAmy, ACME"), Some((4, "fast".into())));
        assert_eq!(rating("5 ok\u{0}\u{7}\tthen"), Some((5, "ok\tthen".into())));
        let long = format!("3\n{}", "x".repeat(5000));
        let (_, c) = rating(&long).expect("a rating");
        assert_eq!(c.chars().count(), MAX_COMMENT_CHARS);
        assert!(c.ends_with('…'));
        let wide = format!("3 {}", "ü".repeat(3000));
        let (_, c) = rating(&wide).expect("a rating");
        assert_eq!(c.chars().count(), MAX_COMMENT_CHARS);
    }
}
