//! Which Python version the app asks for, and where that request came from.
//!
//! Precedence: `BP_PYTHON_VERSION`, then `.python-version`, then the newest version in the
//! manifest.

use crate::errors::{PythonError, VersionFileError};
use crate::version::VersionRequest;
use libcnb::Env;
use std::fmt::Display;
use std::path::Path;

pub(crate) const PYTHON_VERSION_FILE: &str = ".python-version";
pub(crate) const VERSION_VARIABLE: &str = "BP_PYTHON_VERSION";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Variable,
    PythonVersionFile,
    Default,
}

impl Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Variable => write!(f, "{VERSION_VARIABLE}"),
            Self::PythonVersionFile => write!(f, "{PYTHON_VERSION_FILE}"),
            Self::Default => write!(f, "the default: newest available"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requested {
    pub(crate) request: Option<VersionRequest>,
    pub(crate) origin: Origin,
}

pub(crate) fn requested_version(app_dir: &Path, env: &Env) -> Result<Requested, PythonError> {
    if let Some(value) = blacklodge_common::env::string(env, VERSION_VARIABLE) {
        let request = value
            .parse()
            .map_err(|()| PythonError::InvalidVersionVariable { value })?;
        return Ok(Requested {
            request: Some(request),
            origin: Origin::Variable,
        });
    }
    let path = app_dir.join(PYTHON_VERSION_FILE);
    match fs_err::read_to_string(&path) {
        Ok(contents) => Ok(Requested {
            request: Some(parse_python_version_file(&contents).map_err(PythonError::VersionFile)?),
            origin: Origin::PythonVersionFile,
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Requested {
            request: None,
            origin: Origin::Default,
        }),
        Err(error) => Err(PythonError::Io {
            action: "read",
            path,
            error,
        }),
    }
}

/// pyenv's format: one version per line; `#` comments and blank lines are ignored. Exactly
/// one version is accepted (pyenv would fall back through several; a build must not guess).
pub(crate) fn parse_python_version_file(
    contents: &str,
) -> Result<VersionRequest, VersionFileError> {
    let lines: Vec<(usize, &str)> = contents
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect();
    match lines[..] {
        [(line_number, line)] => line.parse().map_err(|()| VersionFileError::InvalidLine {
            line_number,
            line: line.to_string(),
        }),
        [] => Err(VersionFileError::Empty),
        _ => Err(VersionFileError::SeveralVersions {
            lines: lines.iter().map(|(_, line)| (*line).to_string()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_ignored() {
        assert_eq!(
            parse_python_version_file("# pinned for prod\n\n  3.12  \n"),
            Ok(VersionRequest::Minor {
                major: 3,
                minor: 12
            })
        );
    }

    #[test]
    fn invalid_lines_report_their_number() {
        assert_eq!(
            parse_python_version_file("# c\n\npypy3.10\n"),
            Err(VersionFileError::InvalidLine {
                line_number: 3,
                line: "pypy3.10".into()
            })
        );
    }

    #[test]
    fn empty_and_multiple_are_errors() {
        assert_eq!(
            parse_python_version_file("# only a comment\n"),
            Err(VersionFileError::Empty)
        );
        assert!(matches!(
            parse_python_version_file("3.12\n3.11\n"),
            Err(VersionFileError::SeveralVersions { .. })
        ));
    }

    #[test]
    fn variable_wins_over_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(dir.path().join(PYTHON_VERSION_FILE), "3.11\n").expect("write");
        let mut env = Env::new();
        env.insert(VERSION_VARIABLE, "3.12");
        let requested = requested_version(dir.path(), &env).expect("valid");
        assert_eq!(requested.origin, Origin::Variable);
        assert_eq!(
            requested.request,
            Some(VersionRequest::Minor {
                major: 3,
                minor: 12
            })
        );
        let requested = requested_version(dir.path(), &Env::new()).expect("valid");
        assert_eq!(requested.origin, Origin::PythonVersionFile);
    }
}
