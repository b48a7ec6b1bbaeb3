//! Every way the Poetry buildpack can fail, and the one place that explains each to the user.

use crate::lock::LockError;
use blacklodge_common::command::CommandError;
use blacklodge_common::error::{UserError, UserFacing, io_detail};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::explain;
use std::path::PathBuf;

#[derive(Debug)]
pub(crate) enum PoetryError {
    Deps(DepsError),
    MissingPyproject,
    MissingLock,
    InvalidToml {
        file: &'static str,
        error: toml::de::Error,
    },
    LockOutOfSync {
        locked: String,
        current: String,
    },
    Lock(LockError),
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    Install(CommandError),
}

impl UserFacing for PoetryError {
    fn user_error(&self) -> UserError {
        match self {
            Self::Deps(error) => error.user_error(),
            Self::MissingPyproject => UserError::new(
                "No pyproject.toml",
                "The app has a poetry.lock but no pyproject.toml next to it.",
                "Commit the project's pyproject.toml together with poetry.lock.",
            ),
            Self::MissingLock => UserError::new(
                "No poetry.lock",
                "pyproject.toml is a Poetry project ([tool.poetry]) but there is no poetry.lock. The build installs exactly the locked versions and never resolves on its own.",
                "Run `poetry lock` and commit poetry.lock.",
            ),
            Self::InvalidToml { file, error } => UserError::new(
                format!("{file} is not valid TOML"),
                format!("{file}: {error}"),
                format!("Fix {file} (Poetry itself cannot read it either)."),
            ),
            Self::LockOutOfSync { locked, current } => UserError::new(
                "poetry.lock is out of date",
                format!(
                    "poetry.lock was generated for a different pyproject.toml: its content-hash is {locked}, pyproject.toml now hashes to {current}. Installing it could miss or mismatch dependencies you declared."
                ),
                "Run `poetry lock` (it keeps the locked versions where it can) and commit poetry.lock.",
            ),
            Self::Lock(error) => match error {
                LockError::TooOld { lock_version } => UserError::new(
                    "poetry.lock is too old",
                    format!(
                        "poetry.lock has lock-version {lock_version}. The build needs lock-version 2.1 (Poetry 2.0 or later), which records each package's groups and markers."
                    ),
                    "Regenerate the lock with Poetry 2: `poetry lock`, and commit it.",
                ),
                LockError::UnsupportedSource { package, kind } => UserError::new(
                    "A locked package cannot be installed by hash",
                    format!(
                        "{package} comes from a source of type `{kind}` (git, URL or path); the build installs only index packages, hash-checked."
                    ),
                    format!(
                        "Publish {package} to a package index (a private one works) and declare it as a source, or vendor it as a wheel."
                    ),
                ),
                LockError::NoHashes { package } => UserError::new(
                    "A locked package has no hashes",
                    format!("poetry.lock lists no files (and hashes) for {package}."),
                    "Regenerate the lock with `poetry lock` against an index that publishes hashes.",
                ),
                LockError::UnknownGroup { group, known } => UserError::new(
                    format!("Unknown dependency group `{group}`"),
                    format!(
                        "BP_POETRY_GROUPS names `{group}`, but poetry.lock has only: {}.",
                        known.join(", ")
                    ),
                    "Set BP_POETRY_GROUPS to groups declared in pyproject.toml ([tool.poetry.group.<name>]), or unset it for the main group only.",
                ),
            },
            Self::Io { path, error } => UserError::new(
                format!("Could not read {}", path.display()),
                io_detail("read", path, error),
                "Check the file exists and is readable.",
            ),
            Self::Install(error) => {
                let (detail, fix) =
                    explain::install_failure(error.output(), "poetry.lock", "poetry lock");
                UserError::new("Could not install the packages in poetry.lock", detail, fix)
            }
        }
    }
}

impl From<DepsError> for PoetryError {
    fn from(error: DepsError) -> Self {
        Self::Deps(error)
    }
}

impl From<PoetryError> for libcnb::Error<PoetryError> {
    fn from(error: PoetryError) -> Self {
        Self::BuildpackError(error)
    }
}
