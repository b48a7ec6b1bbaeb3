//! Every way the uv buildpack can fail, and the one place that explains each to the user.

use blacklodge_common::command::CommandError;
use blacklodge_common::error::{UserError, UserFacing};
use blacklodge_python_deps::errors::{self, DepsError};
use std::path::PathBuf;

#[derive(Debug)]
pub(crate) enum UvError {
    Deps(DepsError),
    /// `uv.lock` or `pyproject.toml` is missing (uv chosen by `BP_PYTHON_PACKAGE_MANAGER`).
    MissingFile(&'static str),
    /// A uv variable that would skip the lock check is set.
    SkipsLockCheck(&'static str),
    /// uv.lock installs `package` from a directory that is not in the app.
    LocalPathMissing {
        package: String,
        path: PathBuf,
    },
    Sync(CommandError),
}

impl UserFacing for UvError {
    fn user_error(&self) -> UserError {
        match self {
            Self::Deps(error) => error.user_error(),
            Self::MissingFile(file) => UserError::new(
                format!("No {file}"),
                format!(
                    "uv installs a project from pyproject.toml and uv.lock; this app has no {file}."
                ),
                "Run `uv lock` in the project and commit pyproject.toml and uv.lock.",
            ),
            Self::SkipsLockCheck(variable) => UserError::new(
                format!("{variable} is not supported"),
                format!(
                    "{variable} is set for the build. It makes uv install without checking that uv.lock matches pyproject.toml, so an outdated lock would be installed silently."
                ),
                format!(
                    "Unset {variable}. The build runs `uv sync --locked`: it installs exactly uv.lock and fails when the lock is out of date."
                ),
            ),
            Self::LocalPathMissing { package, path } => errors::local_path_missing(
                "uv.lock",
                package,
                path,
                "remove its path source from pyproject.toml (`[tool.uv.sources]`) and run `uv lock`",
            ),
            Self::Sync(error) => errors::lock_install_failure(error, "uv.lock", "uv lock"),
        }
    }
}

blacklodge_common::buildpack_error!(UvError, Deps(DepsError));

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::error::render_all;

    /// Every variant's whole message, as the build log shows it.
    #[test]
    fn every_message_whole() {
        let cases = [
            ("missing_lock", UvError::MissingFile("uv.lock")),
            ("missing_pyproject", UvError::MissingFile("pyproject.toml")),
            ("skips_lock_check", UvError::SkipsLockCheck("UV_FROZEN")),
            (
                "local_path_missing",
                UvError::LocalPathMissing {
                    package: "localpkg".into(),
                    path: PathBuf::from("libs/localpkg"),
                },
            ),
            (
                "sync_no_solution",
                UvError::Sync(CommandError::failed(
                    "uv sync --locked",
                    1,
                    "error: The lockfile at `uv.lock` needs to be updated, but `--locked` was provided. To update the lockfile, run `uv lock`.",
                )),
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }
}
