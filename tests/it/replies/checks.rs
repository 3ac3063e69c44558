//! The shared corpus's samples without a `.expected` sidecar: the weaker
//! check their source's test makes (MANIFEST notes), on what `inspect` shows.

use super::Seen;

/// Samples without a sidecar: the check their source's test makes.
pub type Check = fn(&Seen, &str) -> bool;

pub fn no_sidecar_checks() -> Vec<(&'static str, &'static str, Check)> {
    fn whole(r: &Seen, input: &str) -> bool {
        r.kept_whole.is_none() && r.text == input.replace("\r\n", "\n").trim()
    }
    vec![
        (
            "ghrp__correct_sig.txt",
            "\"--\" mid-line is no delimiter; signature kept",
            |r, _| {
                r.text
                    .starts_with("this is an email with a correct -- signature.")
                    && r.text.ends_with("rick")
            },
        ),
        (
            "ghrp__email_1_2.txt",
            "interleaved: kept whole, starts with \"Hi,\"",
            |r, _| {
                r.kept_whole.as_deref() == Some("interleaved") && r.text.starts_with("Hi,\nOn Tue")
            },
        ),
        (
            "ghrp__email_1_3.txt",
            "fragment 0 starts \"Oh thanks.\\n\\nHaving\"",
            |r, _| r.text.starts_with("Oh thanks.\n\nHaving") && !r.text.contains("Russell Brown"),
        ),
        (
            "ghrp__email_1_4.txt",
            "reply starts \"Awesome\", quote gone",
            |r, _| r.text.starts_with("Awesome") && !r.text.contains("Loader"),
        ),
        ("ghrp__email_1_5.txt", "one fragment: nothing cut", whole),
        (
            "ghrp__email_1_6.txt",
            "wrapped header: reply starts \"I get\"",
            |r, _| r.text.starts_with("I get") && !r.text.contains("Was this caching"),
        ),
        ("ghrp__email_1_7.txt", "CRLF: reply \":+1:\"", |r, _| {
            r.text == ":+1:"
        }),
        (
            "ghrp__email_1_8.txt",
            "inline answers: kept whole",
            |r, _| r.kept_whole.as_deref() == Some("interleaved"),
        ),
        (
            "ghrp__email_one_is_not_on.txt",
            "\"One\" is not \"On\"",
            |r, _| {
                r.text.contains("One outstanding question") && !r.text.contains("On Oct 1, 2012")
            },
        ),
        (
            "ghrp__email_sig_delimiter_in_middle_of_line.txt",
            "one fragment",
            whole,
        ),
        (
            "ghrp__greedy_on.txt",
            "\"On your remote host\" is text",
            |r, _| {
                r.text.starts_with("On your remote host")
                    && r.text.ends_with("the tunnel is not working.")
            },
        ),
        (
            "ghrp__pathological.txt",
            "pathological input (timed below)",
            |r, _| {
                r.text.starts_with("I think you're onto something") && !r.text.contains("Sullivan")
            },
        ),
        (
            "crisp__correct_sig.txt",
            "signature kept (policy)",
            |r, _| {
                r.text
                    .starts_with("this is an email with a correct -- signature.")
            },
        ),
        (
            "crisp__email_19.txt",
            "\"On Thursday, …\" is text",
            |r, _| {
                r.text.starts_with("On Thursday, I get proper rendering.")
                    && !r.text.contains("Was this caching")
            },
        ),
        ("crisp__email_2_1.txt", "Outlook", |r, _| {
            r.text == "Outlook with a reply"
        }),
        (
            "crisp__email_20.txt",
            "\"On Thursday.\" above a quote",
            |r, _| r.text == "On Thursday.",
        ),
        (
            "crisp__email_21.txt",
            "large mail without quote (timed below)",
            whole,
        ),
        ("crisp__email_4.txt", "reply starts \"Awesome\"", |r, _| {
            r.text.starts_with("Awesome") && !r.text.contains("Loader")
        }),
        (
            "crisp__email_6.txt",
            "wrapped header: reply starts \"I get\"",
            |r, _| r.text.starts_with("I get") && !r.text.contains("Was this caching"),
        ),
        (
            "crisp__email_bullets.txt",
            "bullets kept, quote gone",
            |r, _| {
                r.text.starts_with("test 2 this should list second")
                    && r.text.ends_with("   - and another")
            },
        ),
        (
            "crisp__email_custom_quote_header.txt",
            "Hungarian header",
            |r, _| r.text == "Thank you!",
        ),
        (
            "crisp__email_customer_quote_header_2.txt",
            "Outlook [mailto:]",
            |r, _| r.text == "Thank you very much.",
        ),
        (
            "crisp__email_customer_quote_header_3.txt",
            "indented French header",
            |r, _| r.text.starts_with("bonjour,") && r.text.ends_with("merci d'avance"),
        ),
        (
            "crisp__email_not_a_signature.txt",
            "no signature: one fragment",
            whole,
        ),
        (
            "crisp__email_not_a_signature_2.txt",
            "no signature: one fragment",
            whole,
        ),
        (
            "crisp__email_reply_header.txt",
            "\"On the other hand\" is text",
            |r, _| {
                r.text.starts_with("This is the latest reply.")
                    && r.text.contains("On the other hand, it could happen TWICE!")
                    && !r.text.contains("Mister Example")
            },
        ),
        (
            "crisp__email_thread.txt",
            "header wrapped over 3 lines",
            |r, _| r.text == "This is new email reply in thread from bellow.",
        ),
        (
            "crisp__email_unquoted_reply.txt",
            "\"On … you wrote:\" without >",
            |r, _| r.text == "This is my reply.",
        ),
        (
            "crisp__email_with_date_headers.txt",
            "[DATE] placeholder: text kept",
            |r, _| r.text.starts_with("Thank you very much."),
        ),
        (
            "crisp__email_with_from_headers.txt",
            "[FROM] placeholder: text kept",
            |r, _| r.text.contains("My email is"),
        ),
        (
            "crisp__sig_no_empty_line.txt",
            "signature kept (policy)",
            |r, _| {
                r.text
                    .starts_with("this is an email with a signature with no empty line above.")
            },
        ),
        (
            "talon__reply-quotations-share-block.eml",
            "non-empty, no \"From\"",
            |r, _| !r.text.trim().is_empty() && !r.text.contains("From"),
        ),
    ]
}
