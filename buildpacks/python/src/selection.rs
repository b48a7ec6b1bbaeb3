//! Which Python the app gets, and why.
//!
//! Every place an app can state its Python version is read, in this order of precedence:
//!
//! 1. `BP_PYTHON_VERSION` (build variable)
//! 2. `.python-version` (pyenv)
//! 3. `runtime.txt` (legacy, with a warning)
//! 4. `pyproject.toml`: `[project] requires-python`, then `[tool.poetry.dependencies] python`
//! 5. `Pipfile`: `[requires] python_full_version`, else `python_version`
//! 6. `uv.lock`: `requires-python`
//!
//! The first one found decides: a pin selects the newest patch of its minor (`3.12`) or that
//! exact release (`3.12.4`); a range selects the newest release that satisfies it. Without
//! any, the newest available release is installed. Every other source found must accept the
//! selected version, or the build fails naming both (an image has one Python, and a file that
//! disagrees is a mistake waiting to surface at install or run time). `BP_PYTHON_VERSION` is an
//! explicit override: files that disagree with it are only reported, as a warning.

use crate::errors::PythonError;
use crate::manifest::Archive;
use crate::support::Support;
use crate::version::{PythonVersion, VersionRequest, parse_pin};
use crate::{project_files, python_version_file, runtime_txt};
use libcnb::Env;
use std::fmt::Display;
use std::path::Path;

pub(crate) const VERSION_VARIABLE: &str = "BP_PYTHON_VERSION";

/// Where a version request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Variable,
    PythonVersionFile,
    RuntimeTxt,
    RequiresPython,
    PoetryPython,
    PipfileFullVersion,
    PipfileVersion,
    UvLock,
}

impl Origin {
    /// The file (relative to the app root) this origin is read from.
    pub(crate) fn file(&self) -> Option<&'static str> {
        match self {
            Self::Variable => None,
            Self::PythonVersionFile => Some(python_version_file::FILE_NAME),
            Self::RuntimeTxt => Some(runtime_txt::FILE_NAME),
            Self::RequiresPython | Self::PoetryPython => Some(project_files::PYPROJECT),
            Self::PipfileFullVersion | Self::PipfileVersion => Some(project_files::PIPFILE),
            Self::UvLock => Some(project_files::UV_LOCK),
        }
    }

    /// The key inside the file, for files with several.
    pub(crate) fn key(&self) -> Option<&'static str> {
        match self {
            Self::RequiresPython | Self::UvLock => Some("requires-python"),
            Self::PoetryPython => Some("[tool.poetry.dependencies] python"),
            Self::PipfileFullVersion => Some("python_full_version"),
            Self::PipfileVersion => Some("python_version"),
            Self::Variable | Self::PythonVersionFile | Self::RuntimeTxt => None,
        }
    }
}

impl Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.file(), self.key()) {
            (None, _) => f.write_str(VERSION_VARIABLE),
            (Some(file), None) => f.write_str(file),
            (Some(file), Some(key)) => write!(f, "{file} {key}"),
        }
    }
}

/// A version request and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requested {
    pub(crate) request: VersionRequest,
    pub(crate) origin: Origin,
}

/// Every version request of the app, highest precedence first.
pub(crate) fn find_requests(app_dir: &Path, env: &Env) -> Result<Vec<Requested>, PythonError> {
    let mut found = Vec::new();
    let mut push = |origin: Origin, request: VersionRequest| {
        found.push(Requested { request, origin });
    };
    if let Some(value) = blacklodge_common::env::string(env, VERSION_VARIABLE) {
        let request =
            parse_pin(&value).map_err(|()| PythonError::InvalidVersionVariable { value })?;
        push(Origin::Variable, request);
    }
    if let Some(text) = read_optional(app_dir, python_version_file::FILE_NAME)? {
        push(
            Origin::PythonVersionFile,
            python_version_file::parse(&text).map_err(PythonError::PythonVersionFile)?,
        );
    }
    if let Some(text) = read_optional(app_dir, runtime_txt::FILE_NAME)? {
        push(
            Origin::RuntimeTxt,
            runtime_txt::parse(&text).map_err(PythonError::RuntimeTxt)?,
        );
    }
    if let Some(text) = read_optional(app_dir, project_files::PYPROJECT)? {
        for (origin, request) in
            project_files::pyproject(&text).map_err(PythonError::ProjectFile)?
        {
            push(origin, request);
        }
    }
    if let Some(text) = read_optional(app_dir, project_files::PIPFILE)?
        && let Some((origin, request)) =
            project_files::pipfile(&text).map_err(PythonError::ProjectFile)?
    {
        push(origin, request);
    }
    if let Some(text) = read_optional(app_dir, project_files::UV_LOCK)?
        && let Some((origin, request)) =
            project_files::uv_lock(&text).map_err(PythonError::ProjectFile)?
    {
        push(origin, request);
    }
    Ok(found)
}

fn read_optional(app_dir: &Path, name: &str) -> Result<Option<String>, PythonError> {
    let path = app_dir.join(name);
    match fs_err::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(PythonError::Io {
            action: "read",
            path,
            error,
        }),
    }
}

/// The outcome: which archive, which request decided (none: the default), which other
/// requests agree and which were overridden by `BP_PYTHON_VERSION`.
#[derive(Debug)]
pub(crate) struct Decision<'a> {
    pub(crate) archive: &'a Archive,
    pub(crate) decided_by: Option<Requested>,
    pub(crate) agreeing: Vec<Requested>,
    pub(crate) overridden: Vec<Requested>,
}

/// Chooses among `archives` (supported ones, newest first) for `requests` (precedence order).
pub(crate) fn decide<'a>(
    requests: &[Requested],
    archives: &'a [Archive],
    support: Support,
) -> Result<Decision<'a>, PythonError> {
    let available = || {
        let mut versions: Vec<PythonVersion> = archives.iter().map(|a| a.version).collect();
        versions.dedup();
        versions
    };
    let Some((first, others)) = requests.split_first() else {
        let archive = archives.first().ok_or(PythonError::NothingSupported {
            oldest: support.oldest,
        })?;
        return Ok(Decision {
            archive,
            decided_by: None,
            agreeing: Vec::new(),
            overridden: Vec::new(),
        });
    };
    if let Some(minor) = first.request.pinned_minor()
        && minor < support.oldest
    {
        return Err(PythonError::EndOfLife {
            requested: first.clone(),
            oldest: support.oldest,
            newest: archives.first().map(|a| a.version.minor_version()),
        });
    }
    let archive = archives
        .iter()
        .find(|archive| first.request.matches(archive.version))
        .ok_or_else(|| PythonError::UnknownVersion {
            requested: first.clone(),
            available: available(),
        })?;
    let (agreeing, disagreeing): (Vec<Requested>, Vec<Requested>) = others
        .iter()
        .cloned()
        .partition(|other| other.request.matches(archive.version));
    if first.origin == Origin::Variable || disagreeing.is_empty() {
        return Ok(Decision {
            archive,
            decided_by: Some(first.clone()),
            agreeing,
            overridden: disagreeing,
        });
    }
    Err(PythonError::ConflictingVersions {
        decided_by: first.clone(),
        selected: archive.version,
        conflicting: disagreeing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::MinorVersion;

    fn archives(versions: &[&str]) -> Vec<Archive> {
        versions
            .iter()
            .map(|version| Archive {
                version: version.parse().expect("valid"),
                arch: "x86_64".into(),
                url: format!("http://mirror/{version}.tar.gz"),
                sha256: "00".into(),
            })
            .collect()
    }

    fn support() -> Support {
        Support {
            oldest: MinorVersion {
                major: 3,
                minor: 10,
            },
        }
    }

    fn pin(origin: Origin, text: &str) -> Requested {
        Requested {
            request: parse_pin(text).expect("valid pin"),
            origin,
        }
    }

    fn range(origin: Origin, text: &str) -> Requested {
        Requested {
            request: VersionRequest::parse_specifiers(text).expect("valid range"),
            origin,
        }
    }

    const BENCH: &[&str] = &["3.13.5", "3.13.1", "3.11.9", "3.11.2"];

    #[test]
    fn no_request_takes_the_newest() {
        let archives = archives(BENCH);
        let decision = decide(&[], &archives, support()).expect("default");
        assert_eq!(decision.archive.version.to_string(), "3.13.5");
        assert_eq!(decision.decided_by, None);
    }

    #[test]
    fn minor_exact_and_range() {
        let archives = archives(BENCH);
        let chosen = |requests: &[Requested]| {
            decide(requests, &archives, support())
                .expect("decided")
                .archive
                .version
                .to_string()
        };
        assert_eq!(chosen(&[pin(Origin::PythonVersionFile, "3.11")]), "3.11.9");
        assert_eq!(chosen(&[pin(Origin::RuntimeTxt, "3.11.2")]), "3.11.2");
        assert_eq!(chosen(&[range(Origin::RequiresPython, ">=3.11")]), "3.13.5");
        assert_eq!(chosen(&[range(Origin::UvLock, ">=3.11, <3.13")]), "3.11.9");
        assert_eq!(
            chosen(&[range(Origin::RequiresPython, "!=3.13.5, >=3.12")]),
            "3.13.1"
        );
    }

    #[test]
    fn the_first_source_decides_and_others_must_agree() {
        let archives = archives(BENCH);
        let requests = [
            pin(Origin::PythonVersionFile, "3.11"),
            range(Origin::RequiresPython, ">=3.10"),
            range(Origin::UvLock, "<3.12"),
        ];
        let decision = decide(&requests, &archives, support()).expect("all agree");
        assert_eq!(decision.archive.version.to_string(), "3.11.9");
        assert_eq!(decision.decided_by, Some(requests[0].clone()));
        assert_eq!(decision.agreeing, requests[1..].to_vec());

        let requests = [
            pin(Origin::PythonVersionFile, "3.11"),
            range(Origin::RequiresPython, ">=3.12"),
            range(Origin::UvLock, ">=3.10"),
        ];
        let Err(PythonError::ConflictingVersions {
            decided_by,
            selected,
            conflicting,
        }) = decide(&requests, &archives, support())
        else {
            panic!("requires-python excludes 3.11");
        };
        assert_eq!(decided_by, requests[0]);
        assert_eq!(selected.to_string(), "3.11.9");
        assert_eq!(conflicting, vec![requests[1].clone()]);
    }

    #[test]
    fn the_variable_overrides_disagreeing_files() {
        let archives = archives(BENCH);
        let requests = [
            pin(Origin::Variable, "3.13"),
            pin(Origin::PythonVersionFile, "3.11"),
            range(Origin::RequiresPython, ">=3.11"),
        ];
        let decision = decide(&requests, &archives, support()).expect("override");
        assert_eq!(decision.archive.version.to_string(), "3.13.5");
        assert_eq!(decision.overridden, vec![requests[1].clone()]);
        assert_eq!(decision.agreeing, vec![requests[2].clone()]);
    }

    #[test]
    fn end_of_life_and_unknown_versions() {
        let archives = archives(BENCH);
        assert!(matches!(
            decide(&[pin(Origin::RuntimeTxt, "3.8.10")], &archives, support()),
            Err(PythonError::EndOfLife { .. })
        ));
        let Err(PythonError::UnknownVersion { available, .. }) = decide(
            &[pin(Origin::PythonVersionFile, "3.12")],
            &archives,
            support(),
        ) else {
            panic!("3.12 is not in the manifest");
        };
        assert_eq!(
            available
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            BENCH
        );
        assert!(matches!(
            decide(&[range(Origin::UvLock, ">=3.14")], &archives, support()),
            Err(PythonError::UnknownVersion { .. })
        ));
    }

    #[test]
    fn requests_are_read_in_precedence_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            fs_err::write(dir.path().join(name), text).expect("write");
        };
        write("uv.lock", "version = 1\nrequires-python = \">=3.11\"\n");
        write("Pipfile", "[requires]\npython_version = \"3.11\"\n");
        write(
            "pyproject.toml",
            "[project]\nrequires-python = \">=3.10\"\n[tool.poetry.dependencies]\npython = \"^3.10\"\n",
        );
        write("runtime.txt", "python-3.11.2\n");
        write(".python-version", "3.11\n");
        let mut env = Env::new();
        env.insert(VERSION_VARIABLE, "3.13");
        let origins: Vec<String> = find_requests(dir.path(), &env)
            .expect("valid")
            .iter()
            .map(|requested| requested.origin.to_string())
            .collect();
        assert_eq!(
            origins,
            vec![
                "BP_PYTHON_VERSION",
                ".python-version",
                "runtime.txt",
                "pyproject.toml requires-python",
                "pyproject.toml [tool.poetry.dependencies] python",
                "Pipfile python_version",
                "uv.lock requires-python",
            ]
        );
        let mut env = Env::new();
        env.insert(VERSION_VARIABLE, "three");
        assert!(matches!(
            find_requests(dir.path(), &env),
            Err(PythonError::InvalidVersionVariable { .. })
        ));
    }
}
