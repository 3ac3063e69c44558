//! Quote and signature stripping: the new words of a reply, without the
//! quoted history under (or around) them. Pure: no I/O, no clock.
//!
//! Order of decisions, plain text ([`strip_text`]):
//! 1. **Marker first.** A line holding the notification marker
//!    ([`marker_line`], also `>`-quoted, indented or wrapped) cuts the text,
//!    before any heuristic; the client's attribution, Outlook header block
//!    and separators right above it go too. Nothing below the marker is ever
//!    returned, not even when the text is kept whole.
//! 2. **History start**: the first "On … wrote:" attribution (many languages,
//!    wrapped over up to three lines, ISO dates), Outlook header block
//!    (From/Sent/To/Subject and translations, any order, bold labels, wrapped
//!    values), "-----Original Message-----" separator (and translations), a
//!    rule followed by a header block, or a mobile footer followed by more
//!    text (mobile clients quote without a header).
//! 3. **`>` quotes**: a quote under new text is cut with its attribution
//!    (top-post); new text under the only quote is the answer (bottom-post);
//!    new text above *and* below a quote is an interleaved answer and the
//!    whole text is kept (`kept_whole = Interleaved`).
//! 4. **Trailer** of the new part (see the policy below).
//! 5. Nothing left: the whole text is returned (`kept_whole = WouldBeEmpty`).
//!
//! HTML ([`strip_html`]) cuts at the first quote container (gmail_quote,
//! `blockquote type=cite`, Outlook's divRplyFwdMsg / border-top separator /
//! OLK_SRC_BODY_SECTION, `hr#stopSpelling`, yahoo_quoted, a blockquote right
//! under an attribution, an `<hr>` followed by a header block) or at a quote
//! header found in its text, then sanitizes what is left (ammonia closes
//! the open tags). A plain `<blockquote>` is formatting, never a cut. A
//! single short line that sits in the same block as a separator `<hr>`
//! ("Bob<hr>From: …") goes with the quote, as talon does; longer text there
//! stays. New text outside the quote after a quote container is an answer
//! under it (kept) or, with new text above too, an interleaved answer
//! (the whole part is kept).
//!
//! # Signature policy
//!
//! mailroom keeps what the person wrote and drops what software added or
//! what the relayed mail already says. Dropped, only at the end of the new
//! text: mobile and app footers ("Sent from my iPhone", "Von meinem iPhone
//! gesendet", "Envoyé de mon …", "Get Outlook for iOS", and ten more
//! languages; a line like "Sent from my desk, is much easier…" is a
//! sentence and stays); mailing-list footers (a rule followed by
//! "… mailing list" / "listinfo" / "unsubscribe"); and a closing formula
//! ("Regards,", "Best regards,", "Cheers,", "Mit freundlichen Grüßen",
//! "Cordialement", "Met vriendelijke groet", "Pozdrawiam", "С уважением" …)
//! with the at most four short lines under it (name, title, company): the
//! relayed reply already goes out under the agent's name, and a customer's
//! name and company are on the ticket. Kept: everything else, including a
//! "-- " signature block (where agents put the direct line and hours that
//! customers ask for), a "-Name" sign-off (a leading "-" also starts list
//! items typed without a space), and "Thanks," / "Sincerely," (a lone
//! "Thanks!" is often the whole message; "Sincerely" closes notices whose
//! signer line is the only statement of who wrote them). HTML parts keep
//! their signatures: only quoted history is cut there. What this costs on
//! the shared corpus: ghrp's `email_1_1` (ghrp hides "-Abhishek Kona",
//! crisp keeps it in the same text) and talon's `iphone` (talon keeps
//! "Sent from my iPhone").

mod attribution;
mod body;
mod footers;
mod headers;
mod html;
mod marker;
mod markup;
mod phrases;
mod scan;
mod text;

#[cfg(test)]
mod tests;

pub use body::strip_body;
pub use html::strip_html;
pub use marker::marker_line;
pub use text::strip_text;

/// What ended the new part of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    /// The notification marker (wins whenever it is present).
    Marker,
    /// An "On … wrote:" attribution (any language).
    QuoteHeader,
    /// An Outlook-style From/Sent/To/Subject block.
    OutlookHeader,
    /// "-----Original Message-----" or a translation.
    OriginalMessage,
    /// A `>` quote block without a recognised attribution.
    QuoteBlock,
    /// An HTML quote container (gmail_quote, blockquote type=cite, …).
    HtmlQuote,
    /// A mobile footer with the original under it and no header between.
    MobileFooter,
    /// Nothing: the whole text is new.
    None,
}

/// Why the whole text was kept instead of a cut part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptWhole {
    /// Answers written between quoted lines: cutting would lose them.
    Interleaved,
    /// Stripping would leave no text (the caller decides: an agent's empty
    /// reply is not relayed).
    WouldBeEmpty,
}

/// The new part of a plain-text reply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reply {
    /// The new words. When `kept_whole` is set, the whole text (trimmed)
    /// instead; with a marker, "whole" means everything above the marker
    /// and the client's header over it.
    pub text: String,
    /// What ended the new part (`Marker` wins when present).
    pub cut: Cut,
    pub marker_found: bool,
    pub kept_whole: Option<KeptWhole>,
    /// A mobile "Sent from my …" footer was dropped.
    pub footer_removed: bool,
    /// A closing formula ("Regards,") and the lines under it were dropped.
    pub closing_removed: bool,
    /// A mailing-list footer was dropped.
    pub list_footer_removed: bool,
    /// One line for a ticket event, e.g. `cut at line 7 ("On … wrote:")`.
    pub detail: String,
}

/// The new part of an HTML reply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HtmlReply {
    /// The new part of the HTML, sanitized with
    /// [`crate::mail::parse::sanitize_html`]; the whole sanitized HTML when
    /// kept whole.
    pub html: String,
    pub cut: Cut,
    pub marker_found: bool,
    pub kept_whole: Option<KeptWhole>,
    /// One line for a ticket event, e.g. `cut at <div class="gmail_quote">`.
    pub detail: String,
}

/// The text of an HTML part (mail-parser's converter), with a line break
/// after every block element so paragraphs and `<div>` lines stay apart.
pub fn html_to_text(html: &str) -> String {
    let mut marked = String::with_capacity(html.len() + 64);
    let mut rest = html;
    while let Some(p) = rest.find("</") {
        marked.push_str(&rest[..p]);
        rest = &rest[p..];
        let name: String = rest[2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let end = rest.find('>').map_or(rest.len(), |e| e + 1);
        marked.push_str(&rest[..end]);
        if scan::is_block(&name) && name != "p" {
            marked.push_str("<br>");
        }
        rest = &rest[end..];
    }
    marked.push_str(rest);
    let text = mail_parser::decoders::html::html_to_text(&marked);
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    // The converter keeps source indentation as a space; it means nothing here.
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}
