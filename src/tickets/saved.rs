//! Saved replies in an agent's words (issue 22): `#reply NAME` on a line of
//! its own stands for a saved reply's text, and a saved reply's leading
//! command lines are its header, applied as if the agent had written them.
//! Pure: rendering a saved reply is the templates' job, passed in here.

use super::commands::is_command_line;

/// The name a `#reply NAME` line asks for (`""` when it names none), or
/// None for any other line. The word is read in any case, like commands.
pub fn reply_line(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix('#')?;
    let word = rest.get(..5)?;
    let after = &rest[5..];
    let ends = after.is_empty() || after.starts_with(char::is_whitespace);
    (word.eq_ignore_ascii_case("reply") && ends).then(|| after.trim())
}

/// A saved reply's source split at the end of its header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The command lines at the top (trimmed), as written.
    pub commands: Vec<String>,
    /// The text below them, leading blank lines removed.
    pub body: String,
}

/// The header block is the lines written like commands (`#` and a letter)
/// before the first other line, blank lines between them skipped, the way
/// an agent's own command block is read.
pub fn split_header(source: &str) -> Header {
    let mut commands = Vec::new();
    let mut rest = source;
    while !rest.is_empty() {
        let (line, next) = match rest.split_once('\n') {
            Some((l, n)) => (l, n),
            None => (rest, ""),
        };
        if line.trim().is_empty() {
            rest = next;
            continue;
        }
        if !is_command_line(line) {
            break;
        }
        commands.push(line.trim().to_string());
        rest = next;
    }
    Header {
        commands,
        body: rest.to_string(),
    }
}

/// `text` with every `#reply NAME` line replaced by what `render` makes of
/// the line (trimmed, as written) and NAME: its text, already rendered,
/// never read again for commands or template syntax. Every problem at
/// once, so the agent fixes all in one go.
pub fn expand(
    text: &str,
    mut render: impl FnMut(&str, &str) -> Result<String, String>,
) -> Result<String, Vec<String>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for line in text.lines() {
        match reply_line(line) {
            None => out.push(line.to_string()),
            Some(name) => match render(line.trim(), name) {
                Ok(rendered) => out.push(rendered.trim_end().to_string()),
                Err(problem) => problems.push(problem),
            },
        }
    }
    if problems.is_empty() {
        Ok(out.join("\n"))
    } else {
        Err(problems)
    }
}

/// Whether `text` has a `#reply` line at all.
pub fn has_reply_line(text: &str) -> bool {
    text.lines().any(|l| reply_line(l).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines_are_the_word_and_a_name() {
        assert_eq!(reply_line("#reply refund"), Some("refund"));
        assert_eq!(reply_line("  #REPLY  refund  "), Some("refund"));
        assert_eq!(reply_line("#reply"), Some(""));
        assert_eq!(reply_line("#replying soon"), None);
        assert_eq!(reply_line("I #reply refund"), None);
        assert_eq!(reply_line("> #reply refund"), None);
        assert_eq!(reply_line("#rep"), None);
        assert_eq!(reply_line("#réply x"), None);
    }

    #[test]
    fn the_header_is_the_command_lines_on_top() {
        let h = split_header("#tag refund\n\n#pending\nHello {{ customer_name }},\n#tag x\n");
        assert_eq!(h.commands, ["#tag refund", "#pending"]);
        assert_eq!(h.body, "Hello {{ customer_name }},\n#tag x\n");
        let h = split_header("# Heading\nText");
        assert!(h.commands.is_empty());
        assert_eq!(h.body, "# Heading\nText");
        let h = split_header("#close\n");
        assert_eq!(h.commands, ["#close"]);
        assert_eq!(h.body, "");
    }

    #[test]
    fn reply_lines_are_replaced_where_they_stand() {
        let text = "Hi Alice,\n#reply refund\nBest, Bob\n#reply bye";
        let out = expand(text, |_, name| Ok(format!("<{name} text>\n\n")));
        assert_eq!(
            out.as_deref(),
            Ok("Hi Alice,\n<refund text>\nBest, Bob\n<bye text>")
        );
        assert_eq!(
            expand("no saved reply", |_, _| Err("x".into())).as_deref(),
            Ok("no saved reply")
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let out = expand("#reply a\n#reply b\n#reply", |_, name| {
            Err(format!("no saved reply {name:?}"))
        });
        assert_eq!(
            out,
            Err(vec![
                "no saved reply \"a\"".to_string(),
                "no saved reply \"b\"".to_string(),
                "no saved reply \"\"".to_string(),
            ])
        );
    }

    #[test]
    fn rendered_text_is_not_read_again() {
        let out = expand("  #REPLY a ", |line, _| {
            assert_eq!(line, "#REPLY a");
            Ok("#reply a\n{{ agent }}".into())
        });
        assert_eq!(out.as_deref(), Ok("#reply a\n{{ agent }}"));
    }
}
