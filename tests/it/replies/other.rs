//! Other public reply corpora (`tests/fixtures/replies`, MANIFEST.tsv:
//! source repository, path, commit, license, compare mode), scored through
//! `inspect` like the shared corpus. No fixed target: the score is printed
//! and may not fall under what was measured before issue 20's work, and
//! every sample listed in `PASSING` must match.

use std::path::Path;

use super::{as_mail, inspect_all, sample_names, score};

/// Licenses that let the samples be copied here (with their source named).
const LICENSES: &[&str] = &["MIT", "Apache-2.0"];

/// Exact matches through `inspect` when these fixtures were added, before
/// issue 20's changes to the stripping (36 of 68).
const EXACT_BEFORE: usize = 36;

/// The samples that match after issue 20's work (54 of 68): each must keep
/// matching.
const PASSING: &[&str] = &[
    "discourse__delimiter_before_forwarded_message.txt",
    "discourse__separate_inline_images_before_reply_text.txt",
    "talon_html__crlf.html",
    "talon_html__date_block.html",
    "talon_html__from_block.html",
    "talon_html__from_block_and_quotations_in_separate_divs.html",
    "talon_html__gmail_forwarded_msg.html",
    "talon_html__gmail_quote.html",
    "talon_html__gmail_quote_compact.html",
    "talon_html__no_blockquote.html",
    "talon_html__quotation_splitter_inside_blockquote.html",
    "talon_html__quotation_splitter_outside_blockquote.html",
    "talon_html__regular_blockquote.html",
    "talon_html__reply_shares_div_with_from_block.html",
    "talon_text__bold_from_block.txt",
    "talon_text__danish_from_block.txt",
    "talon_text__danish_original_message.txt",
    "talon_text__date_time_email_splitter.txt",
    "talon_text__dutch_from_block.txt",
    "talon_text__english_from_block.txt",
    "talon_text__english_original_message.txt",
    "talon_text__english_reply_message.txt",
    "talon_text__forwarded_message_in_quotations.txt",
    "talon_text__french_from_block.txt",
    "talon_text__french_multiline_from_block.txt",
    "talon_text__from_block_starts_with_date.txt",
    "talon_text__german_antwort_nachricht.txt",
    "talon_text__german_from_block.txt",
    "talon_text__german_original_message.txt",
    "talon_text__line_starts_with_on.txt",
    "talon_text__link_breaks_quotation_markers_sequence_1.txt",
    "talon_text__link_breaks_quotation_markers_sequence_2.txt",
    "talon_text__norwegian_from_line.txt",
    "talon_text__pattern_date_email_with_unicode.txt",
    "talon_text__pattern_on_date_somebody_sent.txt",
    "talon_text__pattern_on_date_somebody_wrote.txt",
    "talon_text__pattern_on_date_somebody_wrote_allows_space_in_front.txt",
    "talon_text__pattern_on_date_somebody_wrote_date_with_slashes.txt",
    "talon_text__pattern_on_date_wrote_somebody.txt",
    "talon_text__pattern_sent_from_samsung_smb_wrote.txt",
    "talon_text__polish_from_block.txt",
    "talon_text__preprocess_postprocess_2_links.txt",
    "talon_text__quotation_marker_false_positive.txt",
    "talon_text__quotation_separator_takes_3_lines.txt",
    "talon_text__reply_after_quotations.txt",
    "talon_text__reply_and_quotation_splitter_share_line_1.txt",
    "talon_text__reply_and_quotation_splitter_share_line_2.txt",
    "talon_text__reply_and_quotation_splitter_share_line_3.txt",
    "talon_text__short_quotation.txt",
    "talon_text__short_quotation_with_newline.txt",
    "talon_text__swedish_from_block.txt",
    "talon_text__swedish_from_line.txt",
    "talon_text__weird_date_format_in_date_block.txt",
    "talon_text__with_indent.txt",
];

/// Why the others miss (README, "Quote stripping"). Printed with each miss.
const REASONS: &[(&str, &str)] = &[
    (
        "discourse__complete_german_quote_at_end.txt",
        "closing policy: discourse keeps \"Viele Grüße\" and the name; mailroom drops a closing formula",
    ),
    (
        "discourse__delimiter_inside_new_reply.txt",
        "closing policy: discourse keeps \"Best regards,\" and the name; mailroom drops it (the rule inside the reply is kept by both)",
    ),
    (
        "discourse__inline_images_before_reply_text.txt",
        "closing policy: discourse keeps \"Best regards,\" and the name; mailroom drops it",
    ),
    (
        "discourse__lone_bullet_vs_separator.txt",
        "signature policy: discourse drops a \"--\" signature block; mailroom keeps it",
    ),
    (
        "discourse__reply_after_selected_german_quote.txt",
        "interleaving policy: discourse drops only the attribution of a quote with answers around it; mailroom keeps the whole text",
    ),
    (
        "talon_html__blockquote_disclaimer.html",
        "blockquote policy: talon cuts a plain <blockquote>; for mailroom it is formatting",
    ),
    (
        "talon_html__unicode_in_reply.html",
        "blockquote policy: talon cuts a plain <blockquote>; for mailroom it is formatting",
    ),
    (
        "talon_html__gmail_quote_blockquote.html",
        "gmail_quote policy: talon keeps a gmail_quote blockquote without an attribution; mailroom cuts every gmail_quote container",
    ),
    (
        "talon_html__readable_html_empty.html",
        "talon keeps everything when the reply itself sits inside the blockquote; mailroom cuts at the attribution inside it",
    ),
    (
        "talon_text__dont_parse_quotations_for_forwarded_messages.txt",
        "forward policy: talon keeps a forwarded message; mailroom cuts at a forward separator followed by a header block",
    ),
    (
        "talon_text__link_closed_with_quotation_marker_on_new_line.txt",
        "a lone \"From: address\" line followed by a link: mailroom needs two header fields before it cuts free-standing text",
    ),
    (
        "talon_text__quotation_separator_takes_2_lines.txt",
        "interleaving policy: a sign-off under the quote; talon keeps reply and sign-off, mailroom keeps the whole text",
    ),
    (
        "talon_text__reply_wraps_nested_quotations.txt",
        "interleaving policy: a sign-off under the quote; talon keeps reply and sign-off, mailroom keeps the whole text",
    ),
    (
        "talon_text__reply_wraps_quotations.txt",
        "interleaving policy: a sign-off under the quote; talon keeps reply and sign-off, mailroom keeps the whole text",
    ),
];

#[test]
fn other_reply_corpora() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("read MANIFEST.tsv");
    let rows: Vec<Vec<&str>> = manifest
        .lines()
        .skip(1)
        .map(|r| r.split('\t').collect())
        .collect();
    let names = sample_names(&dir);
    let mut samples = Vec::new();
    let mut mails = Vec::new();
    for name in &names {
        let row = rows
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("{name} has no MANIFEST row"));
        assert_eq!(row.len(), 6, "{name}: MANIFEST row {row:?}");
        assert!(LICENSES.contains(&row[4]), "{name}: license {}", row[4]);
        assert!(
            !row[1].is_empty() && row[3].len() == 40,
            "{name}: source {row:?}"
        );
        let expected = std::fs::read_to_string(dir.join(format!("{name}.expected")))
            .unwrap_or_else(|e| panic!("{name}.expected: {e}"));
        let raw = std::fs::read(dir.join(name)).expect("read sample");
        mails.push((name.clone(), as_mail(name, &raw)));
        samples.push((name.clone(), expected, row[5].to_string()));
    }
    assert_eq!(rows.len(), names.len(), "MANIFEST rows without a sample");
    let seen = inspect_all(&mails);
    let exact = score("other reply corpora", &samples, &seen, REASONS);
    for source in ["talon_text__", "talon_html__", "discourse__"] {
        let total = names.iter().filter(|n| n.starts_with(source)).count();
        let hit = exact.iter().filter(|n| n.starts_with(source)).count();
        println!("  {source}: {hit}/{total}");
    }
    assert!(
        exact.len() >= EXACT_BEFORE,
        "{} exact, fewer than the {EXACT_BEFORE} before",
        exact.len()
    );
    let lost: Vec<&&str> = PASSING
        .iter()
        .filter(|n| !exact.iter().any(|e| e == *n))
        .collect();
    assert!(lost.is_empty(), "passing before, miss now: {lost:?}");
    let unexplained: Vec<&String> = samples
        .iter()
        .map(|(n, _, _)| n)
        .filter(|n| !exact.contains(n) && !REASONS.iter().any(|(r, _)| r == n))
        .collect();
    assert!(
        unexplained.is_empty(),
        "misses without a reason: {unexplained:?}"
    );
}
