//! Every way the pip buildpack can fail, and the one place that explains each to the user.

use crate::requirements::REQUIREMENTS_FILE;
use blacklodge_common::command::CommandError;
use blacklodge_common::download::DownloadError;
use blacklodge_common::error::{UserError, UserFacing};
use blacklodge_common::pypi::IndexError;
use std::path::PathBuf;

#[derive(Debug)]
pub(crate) enum PipError {
    /// `python3` is not on PATH: the runtime buildpack did not run.
    NoPython(CommandError),
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    FindPip {
        index: String,
        error: IndexError,
    },
    DownloadPip(DownloadError),
    InstallPip(CommandError),
    CreateVenv(CommandError),
    InstallRequirements(CommandError),
}

/// The last lines of a tool's output: the part that says what went wrong.
fn tail(output: &str, lines: usize) -> String {
    let all: Vec<&str> = output.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// pip's own explanation, recognised where it has a clear cause and fix.
fn explain_pip_failure(output: &str) -> (String, String) {
    if let Some(line) = output.lines().find(|l| l.contains("Invalid requirement")) {
        return (
            format!("{REQUIREMENTS_FILE} has a line pip cannot read:\n{}", line.trim()),
            "Fix that line: each line is a requirement such as `flask==3.0.3`, an option such as `-r other.txt`, or a comment.".to_string(),
        );
    }
    if let Some(line) = output
        .lines()
        .find(|l| l.contains("No matching distribution found for"))
    {
        return (
            format!("A requirement cannot be satisfied by the package index:\n{}", line.trim()),
            "Check the package name and version exist on your index (and support this Python version), then fix requirements.txt.".to_string(),
        );
    }
    if output.contains("ResolutionImpossible") || output.contains("conflicting dependencies") {
        return (
            format!(
                "The requirements conflict with each other:\n{}",
                tail(output, 12)
            ),
            "Relax or align the versions pip lists above so one set satisfies every requirement."
                .to_string(),
        );
    }
    if output.contains("Failed to build")
        || output.contains("error: command 'gcc'")
        || output.contains("fatal error:")
    {
        return (
            format!("A package had to be compiled from source and the compile failed:\n{}", tail(output, 15)),
            "Use a version that ships a wheel for this Python and Linux, or if a C header is missing (`fatal error: X.h`), add the system package providing it to the build image.".to_string(),
        );
    }
    (
        format!("pip failed. Its last lines:\n{}", tail(output, 15)),
        format!("Read pip's output above; usually a line of {REQUIREMENTS_FILE} needs fixing."),
    )
}

impl UserFacing for PipError {
    fn user_error(&self) -> UserError {
        match self {
            Self::NoPython(error) => UserError::new(
                "No Python to install dependencies with",
                format!("`{}` {}.", error.command(), error.reason()),
                "The blacklodge/python buildpack must run before blacklodge/pip: build with the Blacklodge builder or list both buildpacks.",
            ),
            Self::Io {
                action,
                path,
                error,
            } => UserError::new(
                format!("Could not {action} {}", path.display()),
                blacklodge_common::error::io_detail(action, path, error),
                format!(
                    "Check that {REQUIREMENTS_FILE} and the files it includes with -r/-c exist and are readable."
                ),
            ),
            Self::FindPip { index, error } => UserError::new(
                "Could not find pip on the package index",
                format!("Looking for pip on {index} failed: {error}"),
                "Check PIP_INDEX_URL (it must be a simple index that carries pip) and the network.",
            ),
            Self::DownloadPip(error) => UserError::new(
                "Could not download pip",
                error.to_string(),
                "Check PIP_INDEX_URL and the network. A checksum mismatch means the index serves a different pip file than the pinned one.",
            ),
            Self::InstallPip(error) | Self::CreateVenv(error) => UserError::new(
                "Could not prepare the virtual environment",
                format!(
                    "`{}` {}:\n{}",
                    error.command(),
                    error.reason(),
                    tail(error.output(), 15)
                ),
                "This points at a broken Python installation; rebuild without cache (pack build --clear-cache).",
            ),
            Self::InstallRequirements(error) => {
                let (detail, fix) = explain_pip_failure(error.output());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_package_is_explained() {
        let (detail, fix) = explain_pip_failure(
            "ERROR: Could not find a version that satisfies the requirement nopenope==1.0 (from versions: none)\nERROR: No matching distribution found for nopenope==1.0\n",
        );
        assert_eq!(
            detail,
            "A requirement cannot be satisfied by the package index:\nERROR: No matching distribution found for nopenope==1.0"
        );
        assert!(fix.starts_with("Check the package name and version"));
    }

    #[test]
    fn invalid_line_is_quoted() {
        let (detail, _) = explain_pip_failure(
            "ERROR: Invalid requirement: 'flask==>3' (from line 2 of requirements.txt)\n",
        );
        assert!(detail.ends_with(
            "ERROR: Invalid requirement: 'flask==>3' (from line 2 of requirements.txt)"
        ));
    }
}
