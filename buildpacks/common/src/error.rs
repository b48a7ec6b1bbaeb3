//! User-facing errors: every failure a user can cause is shown as a title, what is wrong
//! (naming the file or variable), and how to fix it.

use std::fmt::{Debug, Display, Write as _};

use crate::wrap::in_margin;

/// The width of the terminal a rendered message is laid out for.
pub const WIDTH: usize = 80;

/// A failure explained to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// One line: what failed.
    pub title: String,
    /// What is wrong and where (file, line, variable, URL).
    pub detail: String,
    /// What the user should do about it.
    pub fix: String,
}

impl UserError {
    #[must_use]
    pub fn new(
        title: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            detail: detail.into(),
            fix: fix.into(),
        }
    }

    /// A file-system failure: "Could not {action} {path}" as the title, the system's reason
    /// (not the title again) as the detail, and `fix`.
    #[must_use]
    pub fn io(
        action: &str,
        path: &std::path::Path,
        error: &std::io::Error,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(
            format!("Could not {action} {}", path.display()),
            io_reason(error),
            fix,
        )
    }

    /// The rendered message, as printed to the build log: the detail and the fix wrapped
    /// to fit [`WIDTH`] columns with their margins (see [`crate::wrap`] for what is kept
    /// whole).
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!("\n! ERROR: {}\n!\n", self.title);
        out.push_str(&in_margin(&self.detail, "! ", WIDTH));
        if !self.fix.is_empty() {
            out.push_str("!\n! How to fix:\n");
            out.push_str(&in_margin(&self.fix, "!   ", WIDTH));
        }
        out
    }
}

impl Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// Implemented by each buildpack's top-level error: the one place that turns a variant into
/// the message the user reads.
pub trait UserFacing: Debug {
    fn user_error(&self) -> UserError;
}

/// `From<$error> for libcnb::Error<$error>`, so a buildpack's error enum is returned with `?`
/// from `detect` and `build`; and for each `Variant(Inner)` given, `From<Inner> for $error`
/// (e.g. `buildpack_error!(PipError, Deps(DepsError))`).
#[macro_export]
macro_rules! buildpack_error {
    ($error:ty $(, $variant:ident($inner:ty))* $(,)?) => {
        impl From<$error> for libcnb::Error<$error> {
            fn from(error: $error) -> Self {
                Self::BuildpackError(error)
            }
        }
        $(
            impl From<$inner> for $error {
                fn from(error: $inner) -> Self {
                    Self::$variant(error)
                }
            }
        )*
    };
}

/// The messages of `cases`, each under a `## name` line, as the build log shows them: how a
/// buildpack's tests pin every message whole in one snapshot that reads like the log.
#[must_use]
pub fn render_all<E: UserFacing>(cases: &[(&str, E)]) -> String {
    cases
        .iter()
        .map(|(name, error)| format!("## {name}\n{}", error.user_error().render()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints a libcnb error for the user. Buildpack errors render through [`UserFacing`];
/// framework errors (which mean a bug or a broken platform, not a user mistake) are shown
/// with their debug form so they can be reported.
pub fn report<E: UserFacing>(error: &libcnb::Error<E>) {
    let message = match error {
        libcnb::Error::BuildpackError(inner) => inner.user_error(),
        other => UserError::new(
            "Internal buildpack error",
            format!("The buildpack framework failed: {other}\n\nDetails: {other:?}"),
            "This is not caused by your app. Please report it with the full build log.",
        ),
    };
    crate::output::error(&message.render());
}

/// The detail of an I/O failure whose title already names the action and the path.
#[must_use]
pub fn io_reason(error: &std::io::Error) -> String {
    format!("The system's reason: {error}.")
}

/// The message of an I/O error with the path it concerns (for a title that does not name
/// the path).
#[must_use]
pub fn io_detail(action: &str, path: &std::path::Path, error: &std::io::Error) -> String {
    format!("Could not {action} {}: {error}", path.display())
}

/// A file operation that failed: what was done (`write`, `read`…), to which path, and why.
/// Shared code returns it; each buildpack explains it with its own fix text.
#[derive(Debug)]
pub struct IoFailure {
    pub action: &'static str,
    pub path: std::path::PathBuf,
    pub error: std::io::Error,
}

impl IoFailure {
    /// "Could not <action> <path>", the error, and `fix`.
    #[must_use]
    pub fn user_error(&self, fix: impl Into<String>) -> UserError {
        UserError::io(self.action, &self.path, &self.error, fix)
    }
}

/// For `map_err`: the [`IoFailure`] of `action` on `path`.
pub fn io_failure(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> IoFailure {
    let path = path.to_path_buf();
    move |error| IoFailure {
        action,
        path,
        error,
    }
}

/// Whether `c` cannot be seen in a terminal or editor: control characters and the Unicode
/// format and spacing characters that look like nothing (zero-width spaces, BOM, bidi marks,
/// no-break and soft hyphen).
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00a0}'
                | '\u{00ad}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{feff}'
        )
}

/// A value from the user's files or variables as a message shows it: in single quotes, with
/// every invisible character escaped as Python writes it (`'3.12.0\x1b'`, `'\u200b3.12'`),
/// followed by a sentence saying so when there is one, so a value that looks right in the
/// editor is not a mystery in the log.
#[must_use]
pub fn quote(value: &str) -> String {
    let mut out = String::from("'");
    for c in value.chars() {
        if is_invisible(c) {
            let code = u32::from(c);
            let _ = match code {
                0..=0xff => write!(out, "\\x{code:02x}"),
                0x100..=0xffff => write!(out, "\\u{code:04x}"),
                _ => write!(out, "\\U{code:08x}"),
            };
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The sentence to add to a message quoting `value` with [`quote`]: empty unless it has an
/// invisible character.
#[must_use]
pub fn invisible_note(value: &str) -> &'static str {
    if value.chars().any(is_invisible) {
        " It contains an invisible character (shown escaped, e.g. \\x1b): delete it and retype the value."
    } else {
        ""
    }
}

/// The Levenshtein distance of two strings (in characters): how many insertions, deletions
/// or substitutions turn one into the other. For "did you mean" suggestions.
#[must_use]
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_shown_escaped() {
        assert_eq!(quote("3.12"), "'3.12'");
        assert_eq!(invisible_note("3.12"), "");
        assert_eq!(quote("3.12.0\u{1b}"), "'3.12.0\\x1b'");
        assert_eq!(quote("\u{feff}3.12\t"), "'\\ufeff3.12\\x09'");
        assert_eq!(quote("3.\u{200b}12"), "'3.\\u200b12'");
        assert_eq!(quote("3.12 é"), "'3.12 é'");
        assert_eq!(
            invisible_note("3.12.0\u{1b}"),
            " It contains an invisible character (shown escaped, e.g. \\x1b): delete it and retype the value."
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("libpq", "libpq5"), 1);
        assert_eq!(edit_distance("entrypiont", "entrypoint"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn renders_title_detail_and_fix() {
        let error = UserError::new(
            "Invalid .python-version",
            "Line 2 is 'three'.\n\nIt must be a version.",
            "Write a version like 3.12.",
        );
        assert_eq!(
            error.render(),
            "\n! ERROR: Invalid .python-version\n!\n! Line 2 is 'three'.\n!\n! It must be a version.\n!\n! How to fix:\n!   Write a version like 3.12.\n"
        );
    }

    #[test]
    fn detail_and_fix_fit_80_columns_with_their_margins() {
        let sentence = "Every word of this sentence is ordinary prose that runs on well past the edge of the terminal.";
        let error = UserError::new("Title", sentence, sentence);
        assert_eq!(
            error.render(),
            "\n! ERROR: Title\n!\n\
             ! Every word of this sentence is ordinary prose that runs on well past the edge\n\
             ! of the terminal.\n\
             !\n! How to fix:\n\
             !   Every word of this sentence is ordinary prose that runs on well past the\n\
             !   edge of the terminal.\n"
        );
        assert!(error.render().lines().all(|line| line.len() <= WIDTH));
    }

    #[derive(Debug)]
    struct Example(&'static str);

    impl UserFacing for Example {
        fn user_error(&self) -> UserError {
            UserError::new(self.0, "", "")
        }
    }

    #[test]
    fn all_messages_render_under_their_names() {
        assert_eq!(
            render_all(&[("first", Example("One")), ("second", Example("Two"))]),
            "## first\n\n! ERROR: One\n!\n\n## second\n\n! ERROR: Two\n!\n"
        );
    }

    #[test]
    fn io_errors_name_the_action_and_path() {
        let error = UserError::io(
            "read",
            std::path::Path::new("/workspace/requirements.txt"),
            &std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            "Make it readable.",
        );
        assert_eq!(error.title, "Could not read /workspace/requirements.txt");
        assert_eq!(error.detail, "The system's reason: permission denied.");
        assert_eq!(error.fix, "Make it readable.");
    }
}
