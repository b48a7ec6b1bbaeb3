//! Every way the pip buildpack can fail, and the one place that explains each to the user.

use crate::installer::{INSTALLER_VARIABLE, Installer};
use crate::requirements::REQUIREMENTS_FILE;
use crate::translate::Unsupported;
use blacklodge_common::command::CommandError;
use blacklodge_common::error::{UserError, UserFacing};
use blacklodge_python_deps::errors::{self, DepsError};
use blacklodge_python_deps::explain::{self, Cause};
use std::path::PathBuf;

/// The command that regenerates hashed requirements.
const HASH_FIX: &str = "pip-compile --generate-hashes";

#[derive(Debug)]
pub(crate) enum PipError {
    Deps(DepsError),
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    CreateVenv(CommandError),
    /// Options or pip settings uv cannot honour.
    NotForUv(Vec<Unsupported>),
    InstallRequirements(InstallFailure),
}

/// A failed install, with what the buildpack knows beyond the installer's output.
#[derive(Debug)]
pub(crate) struct InstallFailure {
    pub(crate) error: CommandError,
    pub(crate) installer: Installer,
    /// Why hash-checking mode is on (uv), e.g. `--hash on line 2 of requirements.txt`.
    pub(crate) hash_checking: Option<String>,
    /// The line uv could not read, e.g. ``line 2 of requirements.txt: `flask=>3` ``.
    pub(crate) unreadable_line: Option<String>,
}

fn install_failure(failure: &InstallFailure) -> UserError {
    let InstallFailure {
        error,
        installer,
        hash_checking,
        unreadable_line,
    } = failure;
    let mut cause = explain::cause(error.output());
    if let (Cause::InvalidLine { line }, Some(at)) = (&cause, unreadable_line) {
        // The location replaces uv's byte offset and its quote of the line.
        let explanation: Vec<&str> = line
            .lines()
            .filter(|part| !part.contains(" at position ") && !at.ends_with(&format!("`{part}`")))
            .collect();
        cause = Cause::InvalidLine {
            line: std::iter::once(at.as_str())
                .chain(explanation)
                .collect::<Vec<_>>()
                .join("\n"),
        };
    }
    let hash_required = matches!(cause, Cause::HashRequired { .. });
    let invalid_line = matches!(cause, Cause::InvalidLine { .. });
    let (mut detail, mut fix) = explain::explanation(cause, REQUIREMENTS_FILE, HASH_FIX);
    if let (true, Some(origin)) = (hash_required, hash_checking) {
        detail = format!("{detail}\nHash-checking mode is on because of {origin}.");
    }
    if invalid_line && *installer == Installer::Uv {
        fix = format!(
            "{fix} uv reads requirements files as pip does; for a line only pip accepts, install with pip: {INSTALLER_VARIABLE}=pip."
        );
    }
    UserError::new(
        format!("Could not install the packages in {REQUIREMENTS_FILE}"),
        detail,
        fix,
    )
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
                    "Check that {REQUIREMENTS_FILE}, the files it includes with -r/-c and the files PIP_CONSTRAINT names (relative to the app directory) exist and are readable."
                ),
            ),
            Self::CreateVenv(error) => errors::command_failure(
                "Could not prepare the virtual environment",
                error,
                errors::BROKEN_PYTHON,
            ),
            Self::NotForUv(unsupported) => UserError::new(
                "A pip setting uv cannot honour",
                format!(
                    "The requirements are installed with uv, which cannot honour:\n{}",
                    unsupported
                        .iter()
                        .map(|item| {
                            // A variable or a configuration key is its own place.
                            if item.what == item.place {
                                format!("- {}\n  {}", item.place, item.why)
                            } else {
                                format!("- {}: {}\n  {}", item.place, item.what, item.why)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
                format!(
                    "Change or remove what is listed above, or install with pip, which honours all of it: set {INSTALLER_VARIABLE}=pip (`pack build --env {INSTALLER_VARIABLE}=pip`, or in project.toml [[io.buildpacks.build.env]])."
                ),
            ),
            Self::InstallRequirements(failure) => install_failure(failure),
        }
    }
}

blacklodge_common::buildpack_error!(PipError, Deps(DepsError));

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::env::InvalidVariable;
    use blacklodge_common::error::render_all;

    fn install(
        installer: Installer,
        output: &str,
        hash_checking: Option<&str>,
        unreadable_line: Option<&str>,
    ) -> PipError {
        PipError::InstallRequirements(InstallFailure {
            error: CommandError::failed("uv pip install -r requirements.txt", 1, output),
            installer,
            hash_checking: hash_checking.map(str::to_string),
            unreadable_line: unreadable_line.map(str::to_string),
        })
    }

    /// Every variant's whole message, as the build log shows it; for a failed install, each
    /// case where the buildpack adds to the shared explanation.
    #[test]
    fn every_message_whole() {
        let cases = [
            (
                "io",
                PipError::Io {
                    action: "read",
                    path: PathBuf::from("/workspace/requirements/base.txt"),
                    error: std::io::Error::from_raw_os_error(2),
                },
            ),
            (
                "create_venv",
                PipError::CreateVenv(CommandError::failed(
                    "python -m venv /layers/blacklodge_pip/venv",
                    1,
                    "Error: Command '['/layers/blacklodge_pip/venv/bin/python', '-m', 'ensurepip']' returned non-zero exit status 1.",
                )),
            ),
            (
                "not_for_uv",
                PipError::NotForUv(vec![
                    Unsupported {
                        place: "line 2 of requirements.txt".into(),
                        what: "`--prefer-binary`".into(),
                        why: "uv has no such preference.".into(),
                    },
                    Unsupported {
                        place: "pip.conf [install] use-feature".into(),
                        what: "pip.conf [install] use-feature".into(),
                        why: "pip's feature switches have no counterpart in uv.".into(),
                    },
                ]),
            ),
            (
                "install_no_match_pip",
                install(
                    Installer::Pip,
                    "ERROR: No matching distribution found for nopenope==1.0\n",
                    None,
                    None,
                ),
            ),
            (
                "install_unreadable_line_uv",
                install(
                    Installer::Uv,
                    "error: Couldn't parse requirement in `requirements.txt` at position 13\n  cause: no such comparison operator \"=>\", must be one of ~= == != <= >= < > ===\n         flask=>3\n              ^^^\n",
                    None,
                    Some("line 2 of requirements.txt: `flask=>3`"),
                ),
            ),
            (
                "install_hash_required_uv",
                install(
                    Installer::Uv,
                    "error: In `--require-hashes` mode, all requirements must have a hash, but none were provided for: idna==3.10\n",
                    Some("--hash on line 1 of requirements.txt"),
                    None,
                ),
            ),
            (
                "invalid_installer",
                PipError::Deps(DepsError::InvalidVariable(InvalidVariable {
                    name: INSTALLER_VARIABLE.into(),
                    value: "poetry".into(),
                    expected: "uv (the default) or pip".into(),
                })),
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }
}
