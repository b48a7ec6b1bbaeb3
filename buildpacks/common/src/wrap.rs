//! Wrapping the prose of a message for an 80-column terminal, without breaking what the user
//! must read or copy as it is.
//!
//! The rule, line by line:
//! - A line that fits is kept.
//! - A line that starts with white space is kept: it is an indented block (a command to run,
//!   the continuation of a list item, a tool's indented output).
//! - A line ending with `:` introduces quoted material (a tool's output, a command): the
//!   lines after it, up to the next blank line, are kept as they are. When what it
//!   introduces is a list (its first line starts with `- `), the list is kept: its items and
//!   their indented lines, up to a blank line or the first other line, which is prose again.
//! - Any other line is prose and is broken at spaces into lines of at most `width`
//!   characters. A list item (`- ` in front) continues under its text, two spaces in.
//! - Prose is never broken inside a word, so URLs and paths stay whole (one longer than the
//!   width stands alone on its line), nor inside a `backticked`, 'single-quoted' or
//!   "double-quoted" span: a command or value is never split across lines.

/// `text` wrapped to `width` columns by the rule of this module.
#[must_use]
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = Vec::new();
    let mut block = Block::Prose;
    for line in text.lines() {
        if line.trim().is_empty() {
            block = Block::Prose;
            out.push(line.to_string());
            continue;
        }
        block = match block {
            Block::Introduced if line.starts_with("- ") => Block::List,
            Block::Introduced => Block::Quoted,
            Block::List if !line.starts_with("- ") && !line.starts_with(char::is_whitespace) => {
                Block::Prose
            }
            other => other,
        };
        let keep = block != Block::Prose || line.starts_with(char::is_whitespace);
        if line.trim_end().ends_with(':') && block == Block::Prose {
            block = Block::Introduced;
        }
        if keep || line.chars().count() <= width {
            out.push(line.to_string());
        } else if let Some(item) = line.strip_prefix("- ") {
            out.extend(fill(item, width - 2, "- ", "  "));
        } else {
            out.extend(fill(line, width, "", ""));
        }
    }
    let mut wrapped = out.join("\n");
    if text.ends_with('\n') {
        wrapped.push('\n');
    }
    wrapped
}

/// `text` wrapped by the rule of this module to fit `width` columns together with `margin`,
/// which starts each of its lines (a blank line gets the margin without trailing spaces);
/// every line ends with a newline. How errors and warnings lay out their text behind `! `.
#[must_use]
pub fn in_margin(text: &str, margin: &str, width: usize) -> String {
    let mut out = String::new();
    for line in wrap(text, width - margin.chars().count()).lines() {
        if line.is_empty() {
            out.push_str(margin.trim_end());
        } else {
            out.push_str(margin);
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Where a line stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    /// Our own text.
    Prose,
    /// Right after a line ending with `:`.
    Introduced,
    /// What a colon introduced, kept up to the next blank line.
    Quoted,
    /// A list a colon introduced: its items (`- `) and their indented lines, kept.
    List,
}

/// The words of `line` joined into lines of at most `width` characters (a span longer than
/// that on its own line), the first behind `first`, the others behind `rest`.
fn fill(line: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for span in spans(line) {
        if !current.is_empty() && current.chars().count() + 1 + span.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&span);
    }
    lines.push(current);
    lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| format!("{}{line}", if i == 0 { first } else { rest }))
        .collect()
}

/// The units of `line` that are never split: words, and a quoted span (from a word that
/// opens a quote to the word that closes it) as one. A quote that is never closed quotes
/// nothing.
fn spans(line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').filter(|word| !word.is_empty()).collect();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let end = closing(&words, i).unwrap_or(i);
        spans.push(words[i..=end].join(" "));
        i = end + 1;
    }
    spans
}

/// When `words[start]` opens a quoted span that it does not close itself, the index of the
/// word that closes it.
fn closing(words: &[&str], start: usize) -> Option<usize> {
    let word = words[start].trim_start_matches(['(', '[']);
    let quote = word
        .chars()
        .next()
        .filter(|c| matches!(c, '`' | '\'' | '"'))?;
    if closes(&word[1..], quote) {
        return None;
    }
    (start + 1..words.len()).find(|&i| closes(words[i], quote))
}

/// Whether `word` ends a span quoted with `quote` (trailing punctuation aside).
fn closes(word: &str, quote: char) -> bool {
    word.trim_end_matches(['.', ',', ';', ':', ')', ']', '?', '!'])
        .ends_with(quote)
}

#[cfg(test)]
mod tests {
    use super::{in_margin, wrap};

    #[test]
    fn short_lines_are_kept() {
        assert_eq!(wrap("One line.\n\nAnother.", 20), "One line.\n\nAnother.");
        assert_eq!(wrap("", 20), "");
        assert_eq!(wrap("Ends in a newline.\n", 20), "Ends in a newline.\n");
    }

    #[test]
    fn prose_breaks_at_spaces() {
        assert_eq!(
            wrap("The quick brown fox jumps over the lazy dog.", 20),
            "The quick brown fox\njumps over the lazy\ndog."
        );
        // A word of exactly the width fits.
        assert_eq!(wrap("abcde fghij", 5), "abcde\nfghij");
    }

    #[test]
    fn urls_and_paths_stay_whole() {
        assert_eq!(
            wrap(
                "See https://packages.debian.org/bookworm/libpq-dev for it, or /layers/blacklodge_pip/venv.",
                20
            ),
            "See\nhttps://packages.debian.org/bookworm/libpq-dev\nfor it, or\n/layers/blacklodge_pip/venv."
        );
    }

    #[test]
    fn quoted_spans_stay_on_one_line() {
        assert_eq!(
            wrap(
                "Then run `pack build --env BP_PIP_INSTALLER=pip`, or set it to 'three words here'.",
                30
            ),
            "Then run\n`pack build --env BP_PIP_INSTALLER=pip`,\nor set it to\n'three words here'."
        );
        assert_eq!(
            wrap("Set (\"a b\" or `c d`) now please", 12),
            "Set (\"a b\"\nor `c d`)\nnow please"
        );
        // An apostrophe or a quote never closed does not glue the rest of the line.
        assert_eq!(
            wrap("pip's rule: 'open quote and more words", 12),
            "pip's rule:\n'open quote\nand more\nwords"
        );
    }

    #[test]
    fn indented_lines_are_kept() {
        let text = "Make it executable and commit the mode, in these two steps:\n  git update-index --chmod=+x bin/post_compile --and-a-long-tail";
        assert_eq!(
            wrap(text, 30),
            "Make it executable and commit\nthe mode, in these two steps:\n  git update-index --chmod=+x bin/post_compile --and-a-long-tail"
        );
    }

    #[test]
    fn what_a_colon_introduces_is_kept_up_to_a_blank_line() {
        let text = "pip exited with code 1:\nERROR: No matching distribution found for nopenope==1.0\n- a list item that is also long\n\nAfter the block, prose wraps again.";
        assert_eq!(
            wrap(text, 20),
            "pip exited with code\n1:\nERROR: No matching distribution found for nopenope==1.0\n- a list item that is also long\n\nAfter the block,\nprose wraps again."
        );
    }

    #[test]
    fn a_list_a_colon_introduces_is_kept_and_prose_after_it_wraps() {
        let text = "The files disagree:\n- pyproject.toml requires-python asks for >=3.12\n  an indented line of the item\nThe first file takes precedence over the others.";
        assert_eq!(
            wrap(text, 24),
            "The files disagree:\n- pyproject.toml requires-python asks for >=3.12\n  an indented line of the item\nThe first file takes\nprecedence over the\nothers."
        );
    }

    #[test]
    fn list_items_continue_under_their_text() {
        assert_eq!(
            wrap(
                "- line 2 of requirements.txt: uv has no such preference.",
                24
            ),
            "- line 2 of\n  requirements.txt: uv\n  has no such\n  preference."
        );
    }

    #[test]
    fn a_margin_starts_every_line_and_counts_in_the_width() {
        assert_eq!(
            in_margin("The quick brown fox jumps.\n\nOver a dog.", "!   ", 14),
            "!   The quick\n!   brown fox\n!   jumps.\n!\n!   Over a\n!   dog.\n"
        );
        assert_eq!(in_margin("", "! ", 10), "");
    }
}
