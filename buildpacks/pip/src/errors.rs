//! Every way the pip buildpack can fail, and the one place that explains each to the user.

use crate::requirements::REQUIREMENTS_FILE;
use blacklodge_common::command::CommandError;
use blacklodge_common::error::{UserError, UserFacing};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::explain;
use std::path::PathBuf;

#[derive(Debug)]
pub(crate) enum PipError {
    Deps(DepsError),
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    CreateVenv(CommandError),
    InstallRequirements(CommandError),
}

impl UserFacing for PipError {
    fn user_error(&self) -> UserError {
        match self {
            Self::Deps(error) => error.user_error(),
            Self::Io {
                action,
                path,
                error,
            } => UserError::io(
                action,
                path,
                error,
                format!(
                    "Check that {REQUIREMENTS_FILE} and the files it includes with -r/-c exist and are readable."
                ),
            ),
            Self::CreateVenv(error) => UserError::new(
                "Could not prepare the virtual environment",
                format!(
                    "`{}` {}:\n{}",
                    error.command(),
                    error.reason(),
                    explain::tail(error.output(), 15)
                ),
                "This points at a broken Python installation; rebuild without cache (pack build --clear-cache).",
            ),
            Self::InstallRequirements(error) => {
                let (detail, fix) = explain::install_failure(
                    error.output(),
                    REQUIREMENTS_FILE,
                    "pip-compile --generate-hashes",
                );
                UserError::new(
                    format!("Could not install the packages in {REQUIREMENTS_FILE}"),
                    detail,
                    fix,
                )
            }
        }
    }
}

impl From<PipError> for libcnb::Error<PipError> {
    fn from(error: PipError) -> Self {
        Self::BuildpackError(error)
    }
}

impl From<DepsError> for PipError {
    fn from(error: DepsError) -> Self {
        Self::Deps(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::command;
    use std::process::Command;

    #[test]
    fn install_failures_use_the_shared_explanations() {
        let error = command::run_captured(Command::new("sh").args([
            "-c",
            "echo 'ERROR: No matching distribution found for nopenope==1.0'; exit 1",
        ]))
        .expect_err("exit 1");
        let message = PipError::InstallRequirements(error).user_error();
        assert_eq!(
            message.title,
            "Could not install the packages in requirements.txt"
        );
        assert_eq!(
            message.detail,
            "A requirement cannot be satisfied by the package index:\nERROR: No matching distribution found for nopenope==1.0"
        );
    }
}
