//! Python version constraints in project metadata (TOML): `pyproject.toml`
//! (`[project] requires-python`, Poetry's `[tool.poetry.dependencies] python`), `Pipfile`
//! (`[requires] python_full_version` / `python_version`) and `uv.lock` (`requires-python`).
//!
//! Only these keys are read; the rest of each file belongs to the dependency buildpacks.
//! Errors carry the file and line so the user can go straight to the problem.

use crate::poetry_constraint;
use crate::selection::Origin;
use crate::version::{VersionRequest, parse_pin};
use serde::Deserialize;
use toml::Spanned;

pub(crate) const PYPROJECT: &str = "pyproject.toml";
pub(crate) const PIPFILE: &str = "Pipfile";
pub(crate) const UV_LOCK: &str = "uv.lock";

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ProjectFileError {
    /// Not valid TOML, or a key of the wrong type.
    Toml {
        file: &'static str,
        line: Option<usize>,
        message: String,
    },
    /// A version constraint that does not parse.
    InvalidConstraint {
        origin: Origin,
        line: usize,
        value: String,
        message: String,
    },
}

#[derive(Deserialize)]
struct Pyproject {
    project: Option<Project>,
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Project {
    #[serde(rename = "requires-python")]
    requires_python: Option<Spanned<String>>,
}

#[derive(Deserialize)]
struct Tool {
    poetry: Option<Poetry>,
}

#[derive(Deserialize)]
struct Poetry {
    dependencies: Option<PoetryDependencies>,
}

#[derive(Deserialize)]
struct PoetryDependencies {
    python: Option<Spanned<String>>,
}

#[derive(Deserialize)]
struct Pipfile {
    requires: Option<PipfileRequires>,
}

#[derive(Deserialize)]
struct PipfileRequires {
    python_version: Option<Spanned<String>>,
    python_full_version: Option<Spanned<String>>,
}

#[derive(Deserialize)]
struct UvLock {
    #[serde(rename = "requires-python")]
    requires_python: Option<Spanned<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

fn from_toml<'a, T: Deserialize<'a>>(
    file: &'static str,
    text: &'a str,
) -> Result<T, ProjectFileError> {
    toml::from_str(text).map_err(|error| ProjectFileError::Toml {
        file,
        line: error.span().map(|span| line_of(text, span.start)),
        message: error.message().trim_end().to_string(),
    })
}

fn specifiers(
    text: &str,
    origin: Origin,
    value: &Spanned<String>,
) -> Result<(Origin, VersionRequest), ProjectFileError> {
    VersionRequest::parse_specifiers(value.get_ref())
        .or_else(|error| bare_version(value.get_ref()).ok_or(error))
        .map(|request| (origin.clone(), request))
        .map_err(|message| ProjectFileError::InvalidConstraint {
            origin,
            line: line_of(text, value.span().start),
            value: value.get_ref().clone(),
            message,
        })
}

/// A version without operator (`3.12.*`, `3.12`), which PEP 440 rejects but Poetry reads
/// as the release line (`==3.12.*`): read the same way, so a project Poetry builds gets the
/// Python it means.
fn bare_version(text: &str) -> Option<VersionRequest> {
    let text = text.trim();
    let bare = text.starts_with(|c: char| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '*');
    bare.then(|| poetry_constraint::to_specifiers(text).ok())
        .flatten()
        .map(VersionRequest::Range)
}

/// `[project] requires-python` and Poetry's `python` dependency, in that order.
pub(crate) fn pyproject(text: &str) -> Result<Vec<(Origin, VersionRequest)>, ProjectFileError> {
    let pyproject: Pyproject = from_toml(PYPROJECT, text)?;
    let mut found = Vec::new();
    if let Some(value) = pyproject.project.and_then(|p| p.requires_python) {
        found.push(specifiers(text, Origin::RequiresPython, &value)?);
    }
    if let Some(value) = pyproject
        .tool
        .and_then(|tool| tool.poetry)
        .and_then(|poetry| poetry.dependencies)
        .and_then(|dependencies| dependencies.python)
    {
        let request = poetry_constraint::to_specifiers(value.get_ref())
            .map(VersionRequest::Range)
            .map_err(|message| ProjectFileError::InvalidConstraint {
                origin: Origin::PoetryPython,
                line: line_of(text, value.span().start),
                value: value.get_ref().clone(),
                message,
            })?;
        found.push((Origin::PoetryPython, request));
    }
    Ok(found)
}

/// `[requires] python_full_version` (an exact release) or else `python_version` (a minor).
pub(crate) fn pipfile(text: &str) -> Result<Option<(Origin, VersionRequest)>, ProjectFileError> {
    let pipfile: Pipfile = from_toml(PIPFILE, text)?;
    let Some(requires) = pipfile.requires else {
        return Ok(None);
    };
    let (origin, value, expected) = match (requires.python_full_version, requires.python_version) {
        (Some(full), _) => (
            Origin::PipfileFullVersion,
            full,
            "an exact version such as 3.12.4",
        ),
        (None, Some(minor)) => (Origin::PipfileVersion, minor, "a version such as 3.12"),
        (None, None) => return Ok(None),
    };
    let ((Origin::PipfileFullVersion, Ok(request @ VersionRequest::Exact(_)))
    | (Origin::PipfileVersion, Ok(request))) = (&origin, parse_pin(value.get_ref()))
    else {
        return Err(ProjectFileError::InvalidConstraint {
            line: line_of(text, value.span().start),
            value: value.get_ref().clone(),
            message: format!("it is not {expected}"),
            origin,
        });
    };
    Ok(Some((origin, request)))
}

/// The top-level `requires-python` uv wrote when it locked.
pub(crate) fn uv_lock(text: &str) -> Result<Option<(Origin, VersionRequest)>, ProjectFileError> {
    let lock: UvLock = from_toml(UV_LOCK, text)?;
    lock.requires_python
        .map(|value| specifiers(text, Origin::UvLock, &value))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use indoc::indoc;

    fn shown(found: &[(Origin, VersionRequest)]) -> Vec<String> {
        found
            .iter()
            .map(|(origin, request)| format!("{origin}: {request}"))
            .collect()
    }

    #[test]
    fn bare_requires_python_is_read_as_poetry_reads_it() {
        for (value, shown) in [
            ("3.12.*", "==3.12.*"),
            ("3.12", "==3.12.*"),
            ("3.12.4", "==3.12.4"),
        ] {
            let found = pyproject(&format!(
                "[project]\nname = \"x\"\nrequires-python = \"{value}\"\n"
            ))
            .expect("valid");
            assert_eq!(found.len(), 1, "{value}");
            assert_eq!(found[0].1.to_string(), shown, "{value}");
        }
        let found =
            pyproject("[project]\nname = \"x\"\nrequires-python = \"3.12.*\"\n").expect("valid");
        let request = &found[0].1;
        assert!(request.matches("3.12.9".parse().expect("version")));
        assert!(!request.matches("3.13.0".parse().expect("version")));
        assert!(pyproject("[project]\nname = \"x\"\nrequires-python = \"3.x\"\n").is_err());
    }

    #[test]
    fn pyproject_requires_python_and_poetry() {
        let found = pyproject(indoc! {r#"
            [project]
            name = "svc"
            requires-python = ">=3.11"

            [tool.poetry.dependencies]
            python = "^3.11"
            flask = "^3"
        "#})
        .expect("valid");
        assert_eq!(
            shown(&found),
            vec![
                "pyproject.toml requires-python: >=3.11",
                "pyproject.toml [tool.poetry.dependencies] python: >=3.11, <4"
            ]
        );
        assert!(
            pyproject("[project]\nname = \"x\"\n")
                .expect("valid")
                .is_empty()
        );
        assert!(
            pyproject("[build-system]\nrequires = []\n")
                .expect("valid")
                .is_empty()
        );
    }

    #[test]
    fn pyproject_errors_name_the_line() {
        assert_eq!(
            pyproject("[project]\nname = \"x\"\nrequires-python = \">=3.x\"\n"),
            Err(ProjectFileError::InvalidConstraint {
                origin: Origin::RequiresPython,
                line: 3,
                value: ">=3.x".into(),
                message: "Failed to parse version: after parsing `3`, found `.x`, which is not part of a valid version:\n>=3.x\n^^^^^".into()
            })
        );
        let Err(ProjectFileError::Toml {
            file,
            line,
            message,
        }) = pyproject("[project]\nname = \"x\"\nrequires-python = 3.12\n")
        else {
            panic!("a number is not a string");
        };
        assert_eq!((file, line), (PYPROJECT, Some(3)));
        assert!(message.contains("string"), "{message}");
        let Err(ProjectFileError::Toml { line, .. }) = pyproject("[project\nname = 1\n") else {
            panic!("not TOML");
        };
        assert_eq!(line, Some(1));
        assert!(matches!(
            pyproject("[tool.poetry.dependencies]\n\npython = \"^x\"\n"),
            Err(ProjectFileError::InvalidConstraint {
                origin: Origin::PoetryPython,
                line: 3,
                ..
            })
        ));
    }

    #[test]
    fn pipfile_prefers_the_full_version() {
        let found = pipfile(indoc! {r#"
            [packages]
            flask = "*"

            [requires]
            python_version = "3.11"
            python_full_version = "3.11.2"
        "#})
        .expect("valid");
        assert_eq!(
            shown(&found.into_iter().collect::<Vec<_>>()),
            vec!["Pipfile python_full_version: 3.11.2"]
        );
        let found = pipfile("[requires]\npython_version = \"3.13\"\n").expect("valid");
        assert_eq!(
            shown(&found.into_iter().collect::<Vec<_>>()),
            vec!["Pipfile python_version: 3.13"]
        );
        assert_eq!(pipfile("[packages]\n").expect("valid"), None);
    }

    #[test]
    fn pipfile_errors_name_the_line() {
        assert_eq!(
            pipfile("[requires]\npython_version = \"3\"\n"),
            Err(ProjectFileError::InvalidConstraint {
                origin: Origin::PipfileVersion,
                line: 2,
                value: "3".into(),
                message: "it is not a version such as 3.12".into()
            })
        );
        assert!(matches!(
            pipfile("[requires]\n\npython_full_version = \"3.12\"\n"),
            Err(ProjectFileError::InvalidConstraint {
                origin: Origin::PipfileFullVersion,
                line: 3,
                ..
            })
        ));
    }

    #[test]
    fn uv_lock_requires_python() {
        let found = uv_lock(indoc! {r#"
            version = 1
            revision = 2
            requires-python = ">=3.12"

            [[package]]
            name = "flask"
        "#})
        .expect("valid");
        assert_eq!(
            shown(&found.into_iter().collect::<Vec<_>>()),
            vec!["uv.lock requires-python: >=3.12"]
        );
        assert_eq!(uv_lock("version = 1\n").expect("valid"), None);
    }
}
