//! `.python-version`, with pyenv's semantics: one version per line, `#` comments and blank
//! lines ignored. Exactly one version is accepted: pyenv would fall back through several,
//! but an app image has exactly one Python and a build must not guess which.

use crate::version::{VersionRequest, parse_pin};

pub(crate) const FILE_NAME: &str = ".python-version";

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PythonVersionFileError {
    InvalidLine { line_number: usize, line: String },
    Empty,
    SeveralVersions { lines: Vec<String> },
}

pub(crate) fn parse(contents: &str) -> Result<VersionRequest, PythonVersionFileError> {
    let lines: Vec<(usize, &str)> = contents
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect();
    match lines[..] {
        [(line_number, line)] => {
            parse_pin(line).map_err(|()| PythonVersionFileError::InvalidLine {
                line_number,
                line: line.to_string(),
            })
        }
        [] => Err(PythonVersionFileError::Empty),
        _ => Err(PythonVersionFileError::SeveralVersions {
            lines: lines.iter().map(|(_, line)| (*line).to_string()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::MinorVersion;

    #[test]
    fn comments_and_blank_lines_are_ignored() {
        assert_eq!(
            parse("# pinned for prod\n\n  3.12  \n"),
            Ok(VersionRequest::Minor(MinorVersion {
                major: 3,
                minor: 12
            }))
        );
    }

    #[test]
    fn invalid_lines_report_their_number() {
        assert_eq!(
            parse("# c\n\npypy3.10\n"),
            Err(PythonVersionFileError::InvalidLine {
                line_number: 3,
                line: "pypy3.10".into()
            })
        );
    }

    #[test]
    fn empty_and_multiple_are_errors() {
        assert_eq!(
            parse("# only a comment\n"),
            Err(PythonVersionFileError::Empty)
        );
        assert_eq!(
            parse("3.12\n3.11\n"),
            Err(PythonVersionFileError::SeveralVersions {
                lines: vec!["3.12".into(), "3.11".into()]
            })
        );
    }
}
