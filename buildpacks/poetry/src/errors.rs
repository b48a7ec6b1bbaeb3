//! Every way the Poetry buildpack can fail, and the one place that explains each to the user.

use crate::lock::LockError;
use blacklodge_common::error::{UserError, UserFacing};
use blacklodge_python_deps::errors::{self, DepsError};
use blacklodge_python_deps::lock_buildpack::Missing;
use blacklodge_python_deps::translated::TranslatedError;

#[derive(Debug)]
pub(crate) enum PoetryError {
    Deps(DepsError),
    /// The manifest or the lock is not in the app.
    Missing(Missing),
    InvalidToml {
        file: &'static str,
        error: toml::de::Error,
    },
    LockOutOfSync {
        locked: String,
        current: String,
    },
    Lock(LockError),
    Translated(TranslatedError),
}

impl UserFacing for PoetryError {
    fn user_error(&self) -> UserError {
        match self {
            Self::Deps(error) => error.user_error(),
            Self::Missing(Missing::Manifest) => UserError::new(
                "No pyproject.toml",
                "The app has a poetry.lock but no pyproject.toml next to it.",
                "Commit the project's pyproject.toml together with poetry.lock.",
            ),
            Self::Missing(Missing::Lock) => UserError::new(
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
            Self::Lock(error) => lock_error(error),
            Self::Translated(error) => error.user_error(
                "poetry.lock",
                "poetry lock",
                "remove the dependency from pyproject.toml and run `poetry lock`",
            ),
        }
    }
}

fn lock_error(error: &LockError) -> UserError {
    match error {
        LockError::TooOld { lock_version } => UserError::new(
            "poetry.lock is too old",
            format!(
                "poetry.lock has lock-version {lock_version}. The build needs lock-version 2.1 (Poetry 2.0 or later), which records each package's groups and markers."
            ),
            "Regenerate the lock with Poetry 2: `poetry lock`, and commit it.",
        ),
        LockError::UnsupportedSource { package, kind } => UserError::new(
            "A locked package has an unknown source type",
            format!(
                "poetry.lock installs {package} from a source of type `{kind}`; the build knows index sources (`legacy`), `git`, `url`, `file` and `directory`."
            ),
            format!(
                "Declare {package} as an index, git, URL or path dependency in pyproject.toml and run `poetry lock`."
            ),
        ),
        LockError::GitWithoutCommit {
            package,
            url,
            reference,
        } => UserError::new(
            "A git dependency has no locked commit",
            format!(
                "poetry.lock installs {package} from the git repository {url}{}, but records no commit id (`resolved_reference`). Without it the build would install whatever the branch holds today.",
                reference
                    .as_ref()
                    .map(|r| format!(" (reference `{r}`)"))
                    .unwrap_or_default()
            ),
            "Run `poetry lock` with access to the repository (it records the commit), and commit poetry.lock.",
        ),
        LockError::UnknownExtra { extra, known } => UserError::new(
            format!("Unknown extra `{extra}`"),
            if known.is_empty() {
                format!("BP_POETRY_EXTRAS names `{extra}`, but poetry.lock declares no extras.")
            } else {
                format!(
                    "BP_POETRY_EXTRAS names `{extra}`, but poetry.lock has only: {}.",
                    known.join(", ")
                )
            },
            "Set BP_POETRY_EXTRAS to extras declared in pyproject.toml ([project.optional-dependencies] or [tool.poetry.extras]), or `all`, or unset it for none; after adding an extra, run `poetry lock`.",
        ),
        LockError::InvalidMarkers {
            package,
            markers,
            error,
        } => UserError::new(
            "A locked package has invalid markers",
            format!("poetry.lock gives {package} the markers `{markers}`: {error}"),
            "Regenerate the lock with `poetry lock` and commit it.",
        ),
        LockError::NoHashes { package } => errors::no_hashes(
            format!("poetry.lock lists no files (and hashes) for {package}."),
            "poetry lock",
        ),
        LockError::UnknownGroup { group, known } => UserError::new(
            format!("Unknown dependency group `{group}`"),
            format!(
                "BP_POETRY_GROUPS names `{group}`, but poetry.lock has only: {}.",
                known.join(", ")
            ),
            "Set BP_POETRY_GROUPS to groups declared in pyproject.toml ([tool.poetry.group.<name>]), or unset it for the main group only.",
        ),
    }
}

blacklodge_python_deps::translated_lock_error!(PoetryError);

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::command::CommandError;
    use blacklodge_common::error::render_all;
    use std::path::PathBuf;

    /// Every variant's whole message, as the build log shows it.
    #[test]
    fn every_message_whole() {
        let invalid_toml =
            toml::from_str::<toml::Table>("[tool.poetry\nname = 1").expect_err("invalid");
        let cases = [
            ("missing_pyproject", PoetryError::Missing(Missing::Manifest)),
            ("missing_lock", PoetryError::Missing(Missing::Lock)),
            (
                "invalid_toml",
                PoetryError::InvalidToml {
                    file: "pyproject.toml",
                    error: invalid_toml,
                },
            ),
            (
                "lock_out_of_sync",
                PoetryError::LockOutOfSync {
                    locked: "aaa".into(),
                    current: "bbb".into(),
                },
            ),
            (
                "local_path_missing",
                PoetryError::Translated(TranslatedError::LocalPathMissing {
                    package: "tool".into(),
                    path: PathBuf::from("../tool"),
                }),
            ),
            (
                "io",
                PoetryError::Translated(TranslatedError::Io {
                    path: PathBuf::from("/workspace/poetry.lock"),
                    error: std::io::Error::from_raw_os_error(13),
                }),
            ),
            (
                "install_unreachable",
                PoetryError::Translated(TranslatedError::Install(CommandError::failed(
                    "uv pip sync requirements.txt",
                    2,
                    "error: Failed to fetch: `https://pypi.example/simple/flask/`\n  Caused by: Request failed after 3 retries\n  Caused by: error sending request for url (https://pypi.example/simple/flask/)\n  Caused by: client error (Connect)\n  Caused by: dns error: failed to lookup address information: Name or service not known",
                ))),
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(ToString::to_string).collect()
    }

    fn git(reference: Option<&str>) -> LockError {
        LockError::GitWithoutCommit {
            package: "tool".into(),
            url: "https://github.com/org/tool.git".into(),
            reference: reference.map(str::to_string),
        }
    }

    /// Every lock error's whole message.
    #[test]
    fn every_lock_message_whole() {
        let package = || "flask".to_string();
        let cases = [
            (
                "lock_too_old",
                LockError::TooOld {
                    lock_version: "1.1".into(),
                },
            ),
            (
                "lock_unsupported_source",
                LockError::UnsupportedSource {
                    package: package(),
                    kind: "hg".into(),
                },
            ),
            ("lock_git_without_commit", git(Some("main"))),
            ("lock_git_without_commit_or_reference", git(None)),
            (
                "lock_unknown_extra",
                LockError::UnknownExtra {
                    extra: "pdf".into(),
                    known: strings(&["s3", "yaml"]),
                },
            ),
            (
                "lock_unknown_extra_none_declared",
                LockError::UnknownExtra {
                    extra: "pdf".into(),
                    known: vec![],
                },
            ),
            (
                "lock_invalid_markers",
                LockError::InvalidMarkers {
                    package: package(),
                    markers: "os_name === \"nt\"".into(),
                    error: "unknown operator `===`".into(),
                },
            ),
            ("lock_no_hashes", LockError::NoHashes { package: package() }),
            (
                "lock_unknown_group",
                LockError::UnknownGroup {
                    group: "docs".into(),
                    known: strings(&["main", "dev"]),
                },
            ),
        ];
        let cases = cases.map(|(name, error)| (name, PoetryError::Lock(error)));
        insta::assert_snapshot!(render_all(&cases));
    }
}
