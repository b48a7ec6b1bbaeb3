//! `runtime.txt`: the legacy (Heroku) way to pin Python, `python-3.12.4` or `python-3.12`.
//! Accepted, with a warning to move the version to `.python-version`.

use crate::version::{VersionRequest, parse_pin};

pub(crate) const FILE_NAME: &str = "runtime.txt";

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RuntimeTxtError {
    InvalidLine { line_number: usize, line: String },
    Empty,
    SeveralLines { lines: Vec<String> },
}

pub(crate) fn parse(contents: &str) -> Result<VersionRequest, RuntimeTxtError> {
    let lines: Vec<(usize, &str)> = contents
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty())
        .collect();
    match lines[..] {
        [(line_number, line)] => line
            .strip_prefix("python-")
            .ok_or(())
            .and_then(parse_pin)
            .map_err(|()| RuntimeTxtError::InvalidLine {
                line_number,
                line: line.to_string(),
            }),
        [] => Err(RuntimeTxtError::Empty),
        _ => Err(RuntimeTxtError::SeveralLines {
            lines: lines.iter().map(|(_, line)| (*line).to_string()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exact_and_minor_versions() {
        assert_eq!(
            parse("python-3.12.4\n").map(|request| request.to_string()),
            Ok("3.12.4".to_string())
        );
        assert_eq!(
            parse("\n  python-3.11 \n").map(|request| request.to_string()),
            Ok("3.11".to_string())
        );
    }

    #[test]
    fn rejects_what_is_not_python_dash_version() {
        for (contents, line_number, line) in [
            ("3.12.4", 1, "3.12.4"),
            ("\npython3.12", 2, "python3.12"),
            ("python-3.12.4rc1", 1, "python-3.12.4rc1"),
            ("pypy-3.10", 1, "pypy-3.10"),
        ] {
            assert_eq!(
                parse(contents),
                Err(RuntimeTxtError::InvalidLine {
                    line_number,
                    line: line.to_string()
                }),
                "{contents}"
            );
        }
        assert_eq!(parse(" \n"), Err(RuntimeTxtError::Empty));
        assert!(matches!(
            parse("python-3.12\npython-3.11\n"),
            Err(RuntimeTxtError::SeveralLines { .. })
        ));
    }
}
