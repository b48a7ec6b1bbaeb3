//! Every way the Pipenv buildpack can fail, and the one place that explains each to the user.

use crate::pipfile::{Hashing, LockError};
use blacklodge_common::error::{UserError, UserFacing};
use blacklodge_python_deps::errors::{self, DepsError};
use blacklodge_python_deps::lock_buildpack::Missing;
use blacklodge_python_deps::translated::TranslatedError;

#[derive(Debug)]
pub(crate) enum PipenvError {
    Deps(DepsError),
    /// The manifest or the lock is not in the app.
    Missing(Missing),
    InvalidPipfile(toml::de::Error),
    InvalidLock(serde_json::Error),
    /// The hash the lock records, and the Pipfile's hash by each Pipenv hashing.
    LockOutOfSync {
        locked: String,
        current: Vec<(Hashing, String)>,
    },
    Lock(LockError),
    /// `${VAR}` in a source URL with `VAR` unset.
    UnsetVariable {
        variable: String,
        source: String,
    },
    Translated(TranslatedError),
}

impl UserFacing for PipenvError {
    fn user_error(&self) -> UserError {
        match self {
            Self::Deps(error) => error.user_error(),
            Self::Missing(Missing::Manifest) => UserError::new(
                "No Pipfile",
                "The app has a Pipfile.lock but no Pipfile; the lock cannot be checked against it.",
                "Commit the Pipfile together with Pipfile.lock.",
            ),
            Self::Missing(Missing::Lock) => UserError::new(
                "No Pipfile.lock",
                "The app has a Pipfile but no Pipfile.lock. The build installs like `pipenv install --deploy`: exactly the locked, hash-checked versions, never a fresh resolution.",
                "Run `pipenv lock` and commit Pipfile.lock.",
            ),
            Self::InvalidPipfile(error) => UserError::new(
                "Pipfile is not valid TOML",
                format!("Pipfile: {error}"),
                "Fix the Pipfile (Pipenv itself cannot read it either).",
            ),
            Self::InvalidLock(error) => UserError::new(
                "Pipfile.lock is not a valid lock",
                format!("Pipfile.lock: {error}"),
                "Regenerate it with `pipenv lock` and commit it.",
            ),
            Self::LockOutOfSync { locked, current } => {
                // Names already in their PEP 503 form hash the same either way.
                let hashes = if current.windows(2).all(|pair| pair[0].1 == pair[1].1) {
                    current
                        .first()
                        .map(|(_, hash)| hash.clone())
                        .unwrap_or_default()
                } else {
                    current
                        .iter()
                        .map(|(hashing, hash)| format!("{hash} ({})", hashing.pipenv_versions()))
                        .collect::<Vec<_>>()
                        .join(" or ")
                };
                UserError::new(
                    "Pipfile.lock is out of date",
                    format!(
                        "Pipfile.lock was generated for a different Pipfile: it records the Pipfile hash {locked}, the Pipfile now hashes to {hashes} (what `pipenv install --deploy` refuses).",
                    ),
                    "Run `pipenv lock` and commit Pipfile.lock.",
                )
            }
            Self::Lock(error) => lock_error(error),
            Self::UnsetVariable { variable, source } => UserError::new(
                format!("{variable} is not set"),
                format!(
                    "The Pipfile source `{source}` uses ${{{variable}}} in its URL, and the build has no such variable."
                ),
                format!(
                    "Pass it to the build (`pack build --env {variable}=…`); it is used at build time only and never stored in the image."
                ),
            ),
            Self::Translated(error) => error.user_error(
                "Pipfile.lock",
                "pipenv lock",
                "remove it from the Pipfile and run `pipenv lock`",
            ),
        }
    }
}

fn lock_error(error: &LockError) -> UserError {
    match error {
        LockError::UnknownCategory { category, known } => UserError::new(
            format!("Unknown package category `{category}`"),
            format!(
                "BP_PIPENV_CATEGORIES names `{category}`, but Pipfile.lock has only: {}.",
                known.join(", ")
            ),
            "Set BP_PIPENV_CATEGORIES to categories of the Pipfile (dev-packages is `develop`), or unset it for [packages] only.",
        ),
        LockError::Unsupported { package, what } => UserError::new(
            "A locked package has no exact version",
            format!(
                "Pipfile.lock lists {package} from the index with {what}, not a pinned `==version`."
            ),
            "Regenerate the lock with `pipenv lock` and commit it.",
        ),
        LockError::GitWithoutCommit {
            package,
            url,
            reference,
        } => UserError::new(
            "A git dependency has no locked commit",
            format!(
                "Pipfile.lock installs {package} from the git repository {url}, but its `ref` is {}, not a commit id. Without one the build would install whatever the branch holds today.",
                reference
                    .as_ref()
                    .map_or_else(|| "missing".to_string(), |r| format!("`{r}`"))
            ),
            "Run `pipenv lock` with access to the repository (it records the commit as `ref`), and commit Pipfile.lock.",
        ),
        LockError::NoHashes { package } => errors::no_hashes(
            format!("Pipfile.lock lists no hashes for {package}."),
            "pipenv lock",
        ),
    }
}

blacklodge_python_deps::translated_lock_error!(PipenvError);

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::command::CommandError;
    use blacklodge_common::error::render_all;
    use std::path::PathBuf;

    /// Every variant's whole message, as the build log shows it.
    #[test]
    fn every_message_whole() {
        let invalid_toml = toml::from_str::<toml::Table>(
            "[packages
flask = \"*\"",
        )
        .expect_err("invalid");
        let invalid_json =
            serde_json::from_str::<serde_json::Value>("{\"_meta\": ").expect_err("invalid");
        let out_of_sync = |as_written: &str| PipenvError::LockOutOfSync {
            locked: "aaa".into(),
            current: vec![
                (Hashing::Normalized, "bbb".into()),
                (Hashing::AsWritten, as_written.into()),
            ],
        };
        let cases = [
            ("missing_pipfile", PipenvError::Missing(Missing::Manifest)),
            ("missing_lock", PipenvError::Missing(Missing::Lock)),
            ("invalid_pipfile", PipenvError::InvalidPipfile(invalid_toml)),
            ("invalid_lock", PipenvError::InvalidLock(invalid_json)),
            // Names already in their PEP 503 form hash the same with every Pipenv.
            ("lock_out_of_sync", out_of_sync("bbb")),
            ("lock_out_of_sync_by_pipenv_version", out_of_sync("ccc")),
            (
                "local_path_missing",
                PipenvError::Translated(TranslatedError::LocalPathMissing {
                    package: "tool".into(),
                    path: PathBuf::from("libs/tool"),
                }),
            ),
            (
                "unset_variable",
                PipenvError::UnsetVariable {
                    variable: "INDEX_TOKEN".into(),
                    source: "private".into(),
                },
            ),
            (
                "io",
                PipenvError::Translated(TranslatedError::Io {
                    path: PathBuf::from("/workspace/Pipfile.lock"),
                    error: std::io::Error::from_raw_os_error(13),
                }),
            ),
            (
                "install_hash_mismatch",
                PipenvError::Translated(TranslatedError::Install(CommandError::failed(
                    "uv pip sync requirements.txt",
                    1,
                    "error: Failed to prepare distributions\n  Caused by: Failed to fetch wheel: flask==3.1.2\n  Caused by: Hash mismatch for `flask==3.1.2`\n\nExpected:\n  sha256:aaaa\n\nComputed:\n  sha256:bbbb",
                ))),
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }

    /// Every lock error's whole message.
    #[test]
    fn every_lock_message_whole() {
        let git = |reference: Option<&str>| LockError::GitWithoutCommit {
            package: "tool".into(),
            url: "https://github.com/org/tool.git".into(),
            reference: reference.map(str::to_string),
        };
        let known = vec!["default".to_string(), "develop".to_string()];
        let cases = [
            (
                "lock_unknown_category",
                LockError::UnknownCategory {
                    category: "docs".into(),
                    known,
                },
            ),
            (
                "lock_unsupported",
                LockError::Unsupported {
                    package: "flask".into(),
                    what: "version \">=3\"".into(),
                },
            ),
            ("lock_git_without_commit", git(Some("main"))),
            ("lock_git_without_ref", git(None)),
            (
                "lock_no_hashes",
                LockError::NoHashes {
                    package: "flask".into(),
                },
            ),
        ];
        let cases = cases.map(|(name, error)| (name, PipenvError::Lock(error)));
        insta::assert_snapshot!(render_all(&cases));
    }
}
