//! Failures every dependency buildpack shares, and the one place that explains them.
//! Each buildpack's own error enum wraps [`DepsError`] and delegates to it.

use crate::ca::CaError;
use crate::managers::{MANAGER_VARIABLE, Manager};
use crate::tool::FetchError;
use blacklodge_common::command::CommandError;
use blacklodge_common::env::InvalidVariable;
use blacklodge_common::error::{UserError, UserFacing, io_detail};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum DepsError {
    InvalidVariable(InvalidVariable),
    /// Files of several package managers and no `BP_PYTHON_PACKAGE_MANAGER`.
    Conflict(Vec<(Manager, Vec<&'static str>)>),
    /// The file named (pyproject.toml, setup.cfg, setup.py) declares dependencies but
    /// nothing pins them.
    Unlocked(&'static str),
    /// A manager no Blacklodge buildpack installs with, selected by its files (listed) or by
    /// `BP_PYTHON_PACKAGE_MANAGER` (no files).
    NoBuildpack {
        manager: Manager,
        files: Vec<&'static str>,
    },
    /// `python3` is not on PATH: the runtime buildpack did not run.
    NoPython(CommandError),
    /// The python buildpack kept the runtime without its files, yet the venv must be made.
    RuntimeKept {
        version: String,
    },
    FetchTool {
        tool: String,
        error: FetchError,
    },
    InstallTool {
        tool: String,
        error: CommandError,
    },
    CreateVenv(CommandError),
    Ca(CaError),
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

impl DepsError {
    #[must_use]
    pub fn user_error(&self) -> UserError {
        match self {
            Self::InvalidVariable(error) => error.into(),
            Self::Conflict(found) => {
                let listed: Vec<String> = found
                    .iter()
                    .map(|(manager, files)| format!("- {}: {}", manager.name(), files.join(", ")))
                    .collect();
                let choices: Vec<&str> = found.iter().map(|(manager, _)| manager.id()).collect();
                UserError::new(
                    "More than one package manager",
                    format!(
                        "The app has files of several package managers:\n{}\n\nOnly one may install the dependencies, and guessing could install the wrong set.",
                        listed.join("\n")
                    ),
                    format!(
                        "Remove the files of the managers you do not use, or choose one with {MANAGER_VARIABLE} (one of: {}), e.g. `pack build --env {MANAGER_VARIABLE}={}`.",
                        choices.join(", "),
                        choices.first().copied().unwrap_or("pip")
                    ),
                )
            }
            Self::Unlocked(file) => unlocked(file),
            Self::NoBuildpack { manager, files } => no_buildpack(*manager, files),
            Self::NoPython(error) => UserError::new(
                "No Python to install dependencies with",
                format!("`{}` {}.", error.command(), error.reason()),
                "The blacklodge/python buildpack must run before the dependency buildpack: build with the Blacklodge builder or list both buildpacks.",
            ),
            Self::RuntimeKept { version } => UserError::new(
                "The Python runtime's files are not in this build",
                format!(
                    "The python buildpack kept Python {version} of the previous image by its metadata, because the dependency buildpack's inputs were unchanged, yet the virtual environment must be made again: the two disagree (a bug in the buildpacks)."
                ),
                "Build once without the previous image (a new image name, or remove it), which installs the runtime, and report the build log.",
            ),
            Self::FetchTool { tool, error } => UserError::new(
                format!("Could not get {tool}"),
                format!("Fetching {tool}: {error}"),
                format!(
                    "Check the index URL (UV_DEFAULT_INDEX / PIP_INDEX_URL), its credentials and the network. For offline builds put the pinned wheel of {tool} in vendor/ (see docs/dependencies.md). A checksum mismatch means the index serves a different file than the pinned one."
                ),
            ),
            Self::InstallTool { tool, error } => command_failure(
                format!("Could not install {tool}"),
                error,
                "This points at a broken Python installation or cache; rebuild without cache (`pack build --clear-cache`).",
            ),
            Self::CreateVenv(error) => command_failure(
                "Could not create the virtual environment",
                error,
                BROKEN_PYTHON,
            ),
            Self::Ca(error) => match error {
                CaError::Io { path, error } => UserError::new(
                    "Could not read the CA certificate binding",
                    io_detail("read", path, error),
                    "Check the files of the `ca-certificates` binding are readable.",
                ),
                CaError::NotPem { binding, file } => UserError::new(
                    "Invalid CA certificate binding",
                    format!(
                        "The binding `{binding}` (type ca-certificates) has the file {}, which holds no PEM certificate.",
                        file.display()
                    ),
                    "Put only PEM certificates (-----BEGIN CERTIFICATE-----) next to the `type` file of the binding.",
                ),
                CaError::Empty { binding } => UserError::new(
                    "Empty CA certificate binding",
                    format!(
                        "The binding `{binding}` has type ca-certificates but no certificate file."
                    ),
                    "Add the PEM certificate file to the binding directory, next to `type`.",
                ),
            },
            Self::Io {
                action,
                path,
                error,
            } => UserError::io(
                action,
                path,
                error,
                if *action == "read" {
                    "Check that the file exists and is readable."
                } else {
                    "The build could not change its own files: check the free disk space of the build, then rebuild without cache (`pack build --clear-cache`)."
                },
            ),
        }
    }
}

impl UserFacing for DepsError {
    fn user_error(&self) -> UserError {
        DepsError::user_error(self)
    }
}

impl From<InvalidVariable> for DepsError {
    fn from(error: InvalidVariable) -> Self {
        Self::InvalidVariable(error)
    }
}

impl From<CaError> for DepsError {
    fn from(error: CaError) -> Self {
        Self::Ca(error)
    }
}

/// The fix for a failed step that only a broken Python makes fail.
pub const BROKEN_PYTHON: &str = "This points at a broken Python installation; rebuild without cache (`pack build --clear-cache`).";

/// A tool of the build that failed where the app cannot be the cause: `title`, the command
/// with how it ended and the last lines of its output, and `fix`.
#[must_use]
pub fn command_failure(
    title: impl Into<String>,
    error: &CommandError,
    fix: impl Into<String>,
) -> UserError {
    UserError::new(
        title,
        format!(
            "`{}` {}:\n{}",
            error.command(),
            error.reason(),
            crate::explain::tail(error.output(), 15)
        ),
        fix,
    )
}

/// Installing the packages of `lock_file` failed: the installer's output explained, with
/// `relock` as the command that regenerates the lock.
#[must_use]
pub fn lock_install_failure(error: &CommandError, lock_file: &str, relock: &str) -> UserError {
    let (detail, fix) = crate::explain::install_failure(error.output(), lock_file, relock);
    UserError::new(
        format!("Could not install the packages in {lock_file}"),
        detail,
        fix,
    )
}

/// `lock_file` installs `package` from `path`, which is not in the app; `or_else` is the
/// other way out (after "Commit the path with the app, or").
#[must_use]
pub fn local_path_missing(lock_file: &str, package: &str, path: &Path, or_else: &str) -> UserError {
    UserError::new(
        "A path dependency is missing",
        format!(
            "{lock_file} installs {package} from the path `{}`, which does not exist in the app. {}",
            path.display(),
            crate::local_sources::why_missing(path)
        ),
        format!(
            "Commit `{}` with the app (inside the app directory), or {or_else}.",
            path.display()
        ),
    )
}

/// Dependencies declared in `file` (pyproject.toml, setup.cfg, setup.py) and nothing that
/// pins them.
fn unlocked(file: &str) -> UserError {
    UserError::new(
        format!("No lockfile for the dependencies in {file}"),
        format!(
            "{file} declares dependencies, but no file pins the versions to install, so the image would lack them (the build installs locked or listed dependencies, never an unpinned resolution on its own). Each package manager needs:\n{}",
            Manager::ALL
                .iter()
                .filter(|manager| manager.has_buildpack())
                .map(|manager| format!("- {}: {}", manager.name(), manager.needs()))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        format!(
            "Lock the dependencies and commit the result: `uv lock` or `poetry lock` (pyproject.toml), or `uv pip compile {file} -o requirements.txt`. To install the project with its dependencies unpinned, as `pip install .` does, commit a requirements.txt with the line `.`."
        ),
    )
}

/// A selected manager no Blacklodge buildpack installs with (`files`: the files that
/// selected it; none when `BP_PYTHON_PACKAGE_MANAGER` did).
fn no_buildpack(manager: Manager, files: &[&str]) -> UserError {
    let supported: Vec<&str> = Manager::ALL
        .iter()
        .filter(|other| other.has_buildpack())
        .map(|other| other.name())
        .collect();
    let (why, fix) = if files.is_empty() {
        (
            format!(
                "{MANAGER_VARIABLE}={} selects {}",
                manager.id(),
                manager.name()
            ),
            format!(
                "Set {MANAGER_VARIABLE} to one of: {}.",
                Manager::ALL
                    .iter()
                    .filter(|other| other.has_buildpack())
                    .map(|other| other.id())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        (
            format!(
                "The app has {}, the file of {} environments",
                files.join(" and "),
                manager.name()
            ),
            format!(
                "Declare the dependencies for {} instead (for example the pip packages of {} as requirements.txt) and remove {}, or build with a builder that supports {}.",
                supported.join(", "),
                files[0],
                files.join(" and "),
                manager.name()
            ),
        )
    };
    UserError::new(
        format!("{} is not supported", manager.name()),
        format!(
            "{why}, but no Blacklodge buildpack installs with {}: building without it would give an image without the app's dependencies. Supported: {}.",
            manager.name(),
            supported.join(", ")
        ),
        fix,
    )
}

/// A file of the app (a manifest or lock) could not be read.
#[must_use]
pub fn unreadable(path: &Path, error: &std::io::Error) -> UserError {
    UserError::io(
        "read",
        path,
        error,
        "Check the file exists and is readable.",
    )
}

/// A locked package without hashes (`detail` says what the lock lists); `relock` regenerates it.
#[must_use]
pub fn no_hashes(detail: String, relock: &str) -> UserError {
    UserError::new(
        "A locked package has no hashes",
        detail,
        format!("Regenerate the lock with `{relock}` against an index that publishes hashes."),
    )
}

/// A [`DepsError`] as the libcnb error of the buildpack `E` belongs to.
#[must_use]
pub fn fail<E: From<DepsError>>(error: DepsError) -> libcnb::Error<E> {
    libcnb::Error::BuildpackError(E::from(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::error::render_all;

    #[test]
    fn lock_messages_name_the_lock_and_its_command() {
        let missing = local_path_missing(
            "poetry.lock",
            "localpkg",
            Path::new("libs/localpkg"),
            "remove the dependency from pyproject.toml and run `poetry lock`",
        );
        assert_eq!(missing.title, "A path dependency is missing");
        assert!(
            missing.detail.starts_with(
                "poetry.lock installs localpkg from the path `libs/localpkg`, which does not exist in the app. "
            ),
            "{}",
            missing.detail
        );
        assert_eq!(
            missing.fix,
            "Commit `libs/localpkg` with the app (inside the app directory), or remove the dependency from pyproject.toml and run `poetry lock`."
        );
        let hashes = no_hashes(
            "Pipfile.lock lists no hashes for idna.".into(),
            "pipenv lock",
        );
        assert_eq!(
            hashes.fix,
            "Regenerate the lock with `pipenv lock` against an index that publishes hashes."
        );
    }

    /// No manager lacks a buildpack today; the message is checked with conda's names (the
    /// last one to get its buildpack).
    #[test]
    fn a_manager_without_buildpack_is_explained() {
        let by_file = DepsError::NoBuildpack {
            manager: Manager::Conda,
            files: vec!["environment.yml"],
        }
        .user_error();
        assert_eq!(by_file.title, "conda is not supported");
        assert_eq!(
            by_file.detail,
            "The app has environment.yml, the file of conda environments, but no Blacklodge buildpack installs with conda: building without it would give an image without the app's dependencies. Supported: uv, Poetry, Pipenv, pip, conda."
        );
        assert_eq!(
            by_file.fix,
            "Declare the dependencies for uv, Poetry, Pipenv, pip, conda instead (for example the pip packages of environment.yml as requirements.txt) and remove environment.yml, or build with a builder that supports conda."
        );
        let by_variable = DepsError::NoBuildpack {
            manager: Manager::Conda,
            files: Vec::new(),
        }
        .user_error();
        assert_eq!(
            by_variable.detail,
            "BP_PYTHON_PACKAGE_MANAGER=conda selects conda, but no Blacklodge buildpack installs with conda: building without it would give an image without the app's dependencies. Supported: uv, Poetry, Pipenv, pip, conda."
        );
        assert_eq!(
            by_variable.fix,
            "Set BP_PYTHON_PACKAGE_MANAGER to one of: uv, poetry, pipenv, pip, conda."
        );
    }

    /// Every variant's whole message, as the build log shows it (a manager without a
    /// buildpack: above).
    #[test]
    fn every_message_whole() {
        use crate::tool::FetchError;
        use blacklodge_common::download::DownloadError;
        use blacklodge_common::pypi::IndexError;
        let cases = [
            (
                "invalid_variable",
                DepsError::InvalidVariable(InvalidVariable {
                    name: MANAGER_VARIABLE.into(),
                    value: "pipx\u{200b}".into(),
                    expected: "uv, poetry, pipenv or pip".into(),
                }),
            ),
            (
                "conflict",
                DepsError::Conflict(vec![
                    (Manager::Uv, vec!["uv.lock"]),
                    (Manager::Pip, vec!["requirements.txt"]),
                ]),
            ),
            ("unlocked", DepsError::Unlocked("pyproject.toml")),
            (
                "no_python",
                DepsError::NoPython(CommandError::Spawn {
                    command: "python3 --version".into(),
                    error: std::io::Error::from_raw_os_error(2),
                }),
            ),
            (
                "runtime_kept",
                DepsError::RuntimeKept {
                    version: "3.11.2".into(),
                },
            ),
            (
                "fetch_tool_not_listed",
                DepsError::FetchTool {
                    tool: "uv 0.9.5".into(),
                    error: FetchError::Find {
                        index: "https://pypi.org/simple".into(),
                        error: IndexError::NotFound {
                            index: "https://pypi.org/simple".into(),
                            filename: "uv-0.9.5-py3-none-manylinux_2_17_x86_64.whl".into(),
                        },
                    },
                },
            ),
            (
                "fetch_tool_checksum",
                DepsError::FetchTool {
                    tool: "pip 26.3".into(),
                    error: FetchError::Download(DownloadError::Checksum {
                        url: "https://files.example/pip-26.3-py3-none-any.whl".into(),
                        expected: "aaaa".into(),
                        actual: "bbbb".into(),
                    }),
                },
            ),
            (
                "install_tool",
                DepsError::InstallTool {
                    tool: "uv 0.9.5".into(),
                    error: CommandError::failed(
                        "python3 -m pip install uv.whl",
                        2,
                        "ERROR: uv.whl is not a valid wheel filename.",
                    ),
                },
            ),
            (
                "create_venv",
                DepsError::CreateVenv(CommandError::failed(
                    "uv venv /layers/venv",
                    2,
                    "error: No interpreter found at path `/layers/python/bin/python3`",
                )),
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }

    /// The whole messages of failures with files: the CA binding's and the build's own.
    #[test]
    fn every_file_message_whole() {
        let cases = [
            (
                "ca_io",
                DepsError::Ca(CaError::Io {
                    path: PathBuf::from("/platform/bindings/ca/corp.pem"),
                    error: std::io::Error::from_raw_os_error(13),
                }),
            ),
            (
                "ca_not_pem",
                DepsError::Ca(CaError::NotPem {
                    binding: "ca".into(),
                    file: PathBuf::from("/platform/bindings/ca/corp.der"),
                }),
            ),
            (
                "ca_empty",
                DepsError::Ca(CaError::Empty {
                    binding: "ca".into(),
                }),
            ),
            (
                "io",
                DepsError::Io {
                    action: "write",
                    path: PathBuf::from("/layers/venv/pyvenv.cfg"),
                    error: std::io::Error::from_raw_os_error(28),
                },
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
        insta::assert_snapshot!(
            "unreadable",
            unreadable(
                Path::new("/workspace/uv.lock"),
                &std::io::Error::from_raw_os_error(21)
            )
            .render()
        );
    }
}
