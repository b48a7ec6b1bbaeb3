//! Every way the conda buildpack can fail, and the one place that explains each to the user.

use crate::config::{self, ConfigError};
use crate::explicit::ExplicitFailure;
use crate::install::InstallFailure;
use crate::pip::{self, PipFailure};
use crate::solve::SolveFailure;
use crate::spec::{self, SpecError};
use blacklodge_common::error::{UserError, UserFacing};
use blacklodge_python_deps::errors::DepsError;

#[derive(Debug)]
pub(crate) enum CondaError {
    Deps(DepsError),
    Config(ConfigError),
    Spec(SpecError),
    /// conda chosen with `BP_PYTHON_PACKAGE_MANAGER`, but no file says what to install.
    NoFiles,
    Solve {
        file: &'static str,
        failure: SolveFailure,
    },
    Explicit {
        file: &'static str,
        failure: ExplicitFailure,
    },
    Install(InstallFailure),
    /// The environment has no Python package.
    NoPython(&'static str),
    Pip {
        file: &'static str,
        failure: PipFailure,
    },
    Activation(String),
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

const CHANNEL_FIX: &str = "Check the channel names and URLs (the environment file's `channels:`, BP_CONDA_CHANNELS, BP_CONDA_CHANNEL_ALIAS or .condarc's channel_alias), that the server is reachable from the build, and its credentials (BP_CONDA_AUTH_FILE). For builds without network, vendor a channel directory in the app and name it as a channel (e.g. ./vendor/conda-channel).";

fn spec_error(error: &SpecError) -> UserError {
    match error {
        SpecError::Read { file, error } => UserError::new(
            format!("Could not read {file}"),
            format!("Reading {file}: {error}"),
            format!("Make {file} a readable file."),
        ),
        SpecError::Yaml { file, message } => UserError::new(
            format!("Invalid {file}"),
            format!("{file} is not a valid conda environment file: {message}."),
            format!(
                "Fix {file} at the place named (YAML: `dependencies:` is a list of package specs such as `python=3.13` and at most one `pip:` list; `channels:` a list of names or URLs). `conda env create --dry-run -f {file}` checks it locally."
            ),
        ),
        SpecError::Explicit { file, message } => UserError::new(
            format!("Invalid {file}"),
            format!("{file} is not an explicit package list: {message}."),
            format!(
                "Write {file} with `conda list --explicit --md5 > {file}` (it starts with `@EXPLICIT`, then one package URL per line, each with `#<md5>`)."
            ),
        ),
        SpecError::Lock(message) => UserError::new(
            format!("Invalid {}", spec::CONDA_LOCK),
            format!("{} cannot be installed: {message}", spec::CONDA_LOCK),
            format!(
                "Regenerate it with `conda-lock -f environment.yml -p {}` and commit it.",
                crate::install::PLATFORM.as_str()
            ),
        ),
        SpecError::Empty(file) => UserError::new(
            format!("{file} lists no packages"),
            format!(
                "{file} has no conda package under `dependencies:`, so there is no environment to install."
            ),
            format!("List the packages under `dependencies:` in {file}, at least `python`."),
        ),
    }
}

fn solve_error(file: &str, failure: &SolveFailure) -> UserError {
    match failure {
        SolveFailure::BadChannel { channel, error } => UserError::new(
            "Invalid conda channel",
            format!(
                "The channel '{channel}' is neither a channel name, a URL nor a path: {error}."
            ),
            "Name channels like `conda-forge`, `https://repo.example.com/channel` or `./vendor/channel` (a directory in the app).",
        ),
        SolveFailure::Index { channels, error } => UserError::new(
            "Could not read the conda channels",
            format!(
                "The package index of the channels could not be read:\n{}\n\n{error}",
                channels
                    .iter()
                    .map(|channel| format!("- {channel}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            CHANNEL_FIX,
        ),
        SolveFailure::Unknown { names, channels } => UserError::new(
            format!(
                "{} not found",
                blacklodge_common::output::noun(names.len(), "Package", "Packages")
            ),
            format!(
                "{file} asks for {}, which no channel has. Channels searched:\n{}",
                names
                    .iter()
                    .map(|name| format!("'{name}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                channels
                    .iter()
                    .map(|channel| format!("- {channel}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            format!(
                "Check the spelling of the package names in {file}, or add the channel that has them to `channels:`. Packages only on PyPI go in the `pip:` section."
            ),
        ),
        SolveFailure::Unsatisfiable(explanation) => UserError::new(
            format!("The packages in {file} cannot be installed together"),
            format!("No set of packages satisfies {file}:\n{explanation}"),
            format!(
                "Loosen or change the version constraints named above in {file} (or add a channel that has versions that fit)."
            ),
        ),
        SolveFailure::Override { variable, error } => UserError::new(
            "Invalid CONDA_OVERRIDE value",
            format!("{variable}: {error}."),
            "Set the CONDA_OVERRIDE_* variable to a version (e.g. CONDA_OVERRIDE_GLIBC=2.17), or unset it to use the build machine's.",
        ),
        SolveFailure::Client(error) => UserError::new(
            "Could not set up conda downloads",
            error.clone(),
            format!(
                "Point {} at a readable JSON file of credentials by host (rattler's format), e.g. from a binding.",
                config::AUTH_FILE_VARIABLE
            ),
        ),
    }
}

fn explicit_error(file: &str, failure: &ExplicitFailure) -> UserError {
    match failure {
        ExplicitFailure::Download { url, error } => UserError::new(
            format!("Could not download a package of {file}"),
            format!("Downloading {url}: {error}"),
            CHANNEL_FIX,
        ),
        ExplicitFailure::HashMismatch {
            url,
            kind,
            expected,
            actual,
        } => UserError::new(
            format!("A package of {file} does not match its hash"),
            format!(
                "{url}\nhas the {kind} {actual}, but {file} lists {expected}. The channel serves a different file than the one locked: it was rebuilt, replaced or tampered with, or the list was edited."
            ),
            format!(
                "If the new file is trusted, regenerate {file} (`conda list --explicit --md5`, or `conda-lock`) and commit it; otherwise find out why the channel changed."
            ),
        ),
        ExplicitFailure::Archive { url, error } => UserError::new(
            format!("A package of {file} is not a conda package"),
            format!("{url}: {error}"),
            format!("List only conda packages (.conda or .tar.bz2) in {file}."),
        ),
        ExplicitFailure::Io { path, error } => UserError::io(
            "write",
            path,
            error,
            "This points at a full disk or a broken build cache; rebuild without cache (`pack build --clear-cache`).",
        ),
    }
}

fn config_error(error: &ConfigError) -> UserError {
    let condarc = config::CONDARC;
    let readable = config::condarc_key_names();
    match error {
        ConfigError::Variable(error) => error.into(),
        ConfigError::CondarcRead(error) => UserError::io(
            "read",
            std::path::Path::new(condarc),
            error,
            format!("Make {condarc} a readable UTF-8 text file, or delete it."),
        ),
        ConfigError::CondarcSyntax(message) => UserError::new(
            format!("Invalid {condarc}"),
            format!("{condarc} in the app is not valid YAML: {message}."),
            format!(
                "Fix {condarc} at the place named: one `key: value` setting a line, nested lines indented with spaces (not tabs), e.g. `channels: [conda-forge]`. This buildpack reads its {readable}; delete {condarc} if the build needs none of them."
            ),
        ),
        ConfigError::CondarcNotMapping { found } => UserError::new(
            format!("Invalid {condarc}"),
            format!(
                "{condarc} in the app is {found}, not a mapping of settings (`key: value` lines)."
            ),
            format!(
                "Write {condarc} as `key: value` lines, e.g. `channels: [conda-forge]` (this buildpack reads {readable}), or delete it."
            ),
        ),
        ConfigError::CondarcValue { key, line, found } => UserError::new(
            format!("Invalid {condarc}"),
            format!(
                "{} in {condarc}{} is {found}: it must be {}.",
                key.name,
                line.map(|line| format!(" (line {line})"))
                    .unwrap_or_default(),
                key.form
            ),
            format!(
                "In {condarc}, set {} to {}, e.g. `{}`, or delete it.",
                key.name, key.form, key.example
            ),
        ),
        ConfigError::Alias { value } => UserError::new(
            "Invalid conda channel alias",
            format!(
                "{}={} is not an http, https or file URL.",
                config::ALIAS_VARIABLE,
                blacklodge_common::error::quote(value)
            ),
            format!(
                "Set {} to the URL that channel names are appended to, e.g. https://conda.example.com/, or unset it.",
                config::ALIAS_VARIABLE
            ),
        ),
    }
}

impl UserFacing for CondaError {
    fn user_error(&self) -> UserError {
        match self {
            Self::Deps(error) => error.user_error(),
            Self::Config(error) => config_error(error),
            Self::Spec(error) => spec_error(error),
            Self::NoFiles => UserError::new(
                "No conda environment file",
                format!(
                    "BP_PYTHON_PACKAGE_MANAGER chooses conda, but the app has none of {}, {} or {}.",
                    spec::ENVIRONMENT_FILES.join(", "),
                    spec::PACKAGE_LIST,
                    spec::CONDA_LOCK
                ),
                "Commit the app's environment.yml (or a package-list.txt / conda-lock.yml), or choose another package manager.",
            ),
            Self::Solve { file, failure } => solve_error(file, failure),
            Self::Explicit { file, failure } => explicit_error(file, failure),
            Self::Install(InstallFailure::Install(error)) => UserError::new(
                "Could not install the conda packages",
                error.clone(),
                "A download or extraction failed: check the channel is reachable and serves complete packages, then build again.",
            ),
            Self::Install(InstallFailure::Io { path, error }) => UserError::io(
                "update",
                path,
                error,
                "This points at a broken build cache; rebuild without cache (`pack build --clear-cache`).",
            ),
            Self::NoPython(file) => UserError::new(
                "The conda environment has no Python",
                format!(
                    "The packages of {file} do not include `python`, which runs the app (and pip, the wrapper and the web server)."
                ),
                format!("Add `python` (e.g. `python=3.13`) to the packages of {file}."),
            ),
            Self::Pip {
                file,
                failure: PipFailure::Pip(error),
            } => {
                let package = pip::failed_requirement(error.output());
                UserError::new(
                    match &package {
                        Some(package) => format!("Could not install the pip package {package}"),
                        None => format!("Could not install the pip packages of {file}"),
                    },
                    format!(
                        "pip, installing the pip packages of {file} into the conda environment, {}:\n{}",
                        error.reason(),
                        blacklodge_python_deps::explain::tail(error.output(), 15)
                    ),
                    format!(
                        "Check the name and version{} in the pip section of {file} against the index (PIP_INDEX_URL, default PyPI); a package that needs compiling may need its conda package instead.",
                        package
                            .map(|package| format!(" of {package}"))
                            .unwrap_or_default()
                    ),
                )
            }
            Self::Pip {
                file,
                failure: PipFailure::Io(error),
            } => UserError::new(
                format!("Could not prepare the pip packages of {file}"),
                error.to_string(),
                "This points at a full disk or a broken build cache; rebuild without cache (`pack build --clear-cache`).",
            ),
            Self::Activation(error) => UserError::new(
                "Could not activate the conda environment",
                format!("Running the environment's activation scripts failed: {error}"),
                "A package's etc/conda/activate.d script failed; check which package ships it.",
            ),
            Self::Io {
                action,
                path,
                error,
            } => UserError::io(
                action,
                path,
                error,
                "This points at a broken build cache; rebuild without cache (`pack build --clear-cache`).",
            ),
        }
    }
}

impl From<DepsError> for CondaError {
    fn from(error: DepsError) -> Self {
        Self::Deps(error)
    }
}

impl From<CondaError> for libcnb::Error<CondaError> {
    fn from(error: CondaError) -> Self {
        Self::BuildpackError(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::command::CommandError;
    use blacklodge_common::env::InvalidVariable;
    use blacklodge_common::error::render_all;

    const ENV: &str = "environment.yml";
    const LIST: &str = spec::PACKAGE_LIST;

    fn channels() -> Vec<String> {
        vec!["conda-forge (https://conda.anaconda.org/conda-forge/)".into()]
    }

    /// Every variant's whole message, as the build log shows it (`Deps` renders the shared
    /// dependency errors, pinned in blacklodge-python-deps).
    #[test]
    #[allow(clippy::too_many_lines)]
    fn every_message_whole() {
        let cases = [
            (
                "config_variable",
                CondaError::Config(ConfigError::Variable(InvalidVariable {
                    name: config::PRIORITY_VARIABLE.into(),
                    value: "first".into(),
                    expected: "strict, flexible or disabled".into(),
                })),
            ),
            (
                "config_condarc_read",
                CondaError::Config(ConfigError::CondarcRead(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                ))),
            ),
            (
                "config_condarc_syntax",
                CondaError::Config(ConfigError::CondarcSyntax(
                    "did not find expected ',' or ']' at line 2 column 1, while parsing a flow sequence at line 1 column 11".into(),
                )),
            ),
            (
                "config_condarc_not_mapping",
                CondaError::Config(ConfigError::CondarcNotMapping {
                    found: "a list".into(),
                }),
            ),
            (
                "config_condarc_value",
                CondaError::Config(ConfigError::CondarcValue {
                    key: config::CONDARC_KEYS[0],
                    line: Some(3),
                    found: "a list whose item 2 is the number 5".into(),
                }),
            ),
            (
                "config_condarc_value_without_line",
                CondaError::Config(ConfigError::CondarcValue {
                    key: config::CONDARC_KEYS[2],
                    line: None,
                    found: "'sometimes'".into(),
                }),
            ),
            (
                "config_alias",
                CondaError::Config(ConfigError::Alias {
                    value: "ftp://mirror.example/".into(),
                }),
            ),
            (
                "spec_read",
                CondaError::Spec(SpecError::Read {
                    file: ENV,
                    error: std::io::Error::from_raw_os_error(21),
                }),
            ),
            (
                "spec_yaml",
                CondaError::Spec(SpecError::Yaml {
                    file: ENV,
                    message: "did not find expected key at line 4 column 2, while parsing a block mapping".into(),
                }),
            ),
            (
                "spec_explicit",
                CondaError::Spec(SpecError::Explicit {
                    file: LIST,
                    message: "line 1 is not `@EXPLICIT`".into(),
                }),
            ),
            (
                "spec_lock",
                CondaError::Spec(SpecError::Lock(
                    "it has no packages for the platform linux-64".into(),
                )),
            ),
            ("spec_empty", CondaError::Spec(SpecError::Empty(ENV))),
            ("no_files", CondaError::NoFiles),
            (
                "solve_bad_channel",
                CondaError::Solve {
                    file: ENV,
                    failure: SolveFailure::BadChannel {
                        channel: "::".into(),
                        error: "invalid channel".into(),
                    },
                },
            ),
            (
                "solve_index",
                CondaError::Solve {
                    file: ENV,
                    failure: SolveFailure::Index {
                        channels: channels(),
                        error: "error sending request for url (https://conda.anaconda.org/conda-forge/linux-64/repodata_shards.msgpack.zst): client error (Connect)".into(),
                    },
                },
            ),
            (
                "solve_unknown",
                CondaError::Solve {
                    file: ENV,
                    failure: SolveFailure::Unknown {
                        names: vec!["flaskk".into(), "numpyy".into()],
                        channels: channels(),
                    },
                },
            ),
            (
                "solve_unsatisfiable",
                CondaError::Solve {
                    file: ENV,
                    failure: SolveFailure::Unsatisfiable(
                        "flask >=3.1 cannot be installed because there are no viable options:\n└─ flask 3.1.1 would require\n   └─ werkzeug >=3.1.0, for which no candidates were found.".into(),
                    ),
                },
            ),
            (
                "solve_override",
                CondaError::Solve {
                    file: ENV,
                    failure: SolveFailure::Override {
                        variable: "CONDA_OVERRIDE_GLIBC".into(),
                        error: "'two' is not a version".into(),
                    },
                },
            ),
            (
                "solve_client",
                CondaError::Solve {
                    file: ENV,
                    failure: SolveFailure::Client(
                        "/platform/bindings/conda/auth.json: expected value at line 1 column 1".into(),
                    ),
                },
            ),
            (
                "explicit_download",
                CondaError::Explicit {
                    file: LIST,
                    failure: ExplicitFailure::Download {
                        url: "https://conda.anaconda.org/conda-forge/noarch/flask-3.1.1-pyhd8ed1ab_0.conda".into(),
                        error: "HTTP 404 Not Found".into(),
                    },
                },
            ),
            (
                "explicit_hash_mismatch",
                CondaError::Explicit {
                    file: LIST,
                    failure: ExplicitFailure::HashMismatch {
                        url: "https://conda.anaconda.org/conda-forge/noarch/flask-3.1.1-pyhd8ed1ab_0.conda".into(),
                        kind: "md5",
                        expected: "0".repeat(32),
                        actual: "f".repeat(32),
                    },
                },
            ),
            (
                "explicit_archive",
                CondaError::Explicit {
                    file: LIST,
                    failure: ExplicitFailure::Archive {
                        url: "https://example.com/flask.zip".into(),
                        error: "not a .conda or .tar.bz2 archive".into(),
                    },
                },
            ),
            (
                "explicit_io",
                CondaError::Explicit {
                    file: LIST,
                    failure: ExplicitFailure::Io {
                        path: "/layers/blacklodge_conda/pkgs/flask.conda".into(),
                        error: std::io::Error::from_raw_os_error(28),
                    },
                },
            ),
            (
                "install",
                CondaError::Install(InstallFailure::Install(
                    "failed to link flask-3.1.1: No space left on device (os error 28)".into(),
                )),
            ),
            (
                "install_io",
                CondaError::Install(InstallFailure::Io {
                    path: "/layers/blacklodge_conda/env/conda-meta".into(),
                    error: std::io::Error::from_raw_os_error(13),
                }),
            ),
            ("no_python", CondaError::NoPython(ENV)),
            (
                "pip",
                CondaError::Pip {
                    file: ENV,
                    failure: PipFailure::Pip(CommandError::failed(
                        "pip install",
                        1,
                        "ERROR: Could not find a version that satisfies the requirement nope==1.0 (from versions: none)\nERROR: No matching distribution found for nope==1.0\n",
                    )),
                },
            ),
            (
                "pip_unknown_package",
                CondaError::Pip {
                    file: ENV,
                    failure: PipFailure::Pip(CommandError::failed(
                        "pip install",
                        2,
                        "ERROR: Invalid requirement: '=='\n",
                    )),
                },
            ),
            (
                "pip_io",
                CondaError::Pip {
                    file: ENV,
                    failure: PipFailure::Io(std::io::Error::from_raw_os_error(28)),
                },
            ),
            (
                "activation",
                CondaError::Activation(
                    "etc/conda/activate.d/gdal.sh exited with code 1".into(),
                ),
            ),
            (
                "io",
                CondaError::Io {
                    action: "write",
                    path: "/layers/blacklodge_conda/env/etc/profile".into(),
                    error: std::io::Error::from_raw_os_error(13),
                },
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }
}
