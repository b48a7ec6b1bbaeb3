//! Every way the wrapper buildpack can fail, and the one place that explains each to the user.

use crate::config::{
    CONFIG_FILE, ConfigError, KNOWN_VARIABLES, ModeProblem, Origin, PYPROJECT, VAR_ENTRYPOINT,
    VAR_VALIDATE, VAR_VALIDATE_TIMEOUT,
};
use crate::validate::Hung;
use blacklodge_common::command::CommandError;
use blacklodge_common::error::{UserError, UserFacing, io_detail};
use blacklodge_common::output;
use blacklodge_python_deps::errors::DepsError;
use std::path::PathBuf;

/// A failed `blacklodge validate`, as the harness reported it (`{"code", "title", "detail", "fix"}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct ValidationFailure {
    pub(crate) code: String,
    pub(crate) title: String,
    pub(crate) detail: String,
    pub(crate) fix: String,
}

#[derive(Debug)]
pub(crate) enum WrapperError {
    Config(ConfigError),
    /// `python3` missing or unusable: the runtime buildpack did not run.
    NoPython(CommandError),
    /// The environment description printed by Python is not what we expect.
    InspectOutput(String),
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// Fetching or installing the pinned pip (shared with the dependency buildpacks).
    Deps(DepsError),
    /// pip could not install the harness's dependencies next to the app's packages.
    InstallDependencies {
        requirements: Vec<String>,
        /// The app's installed distributions (`name==version`), pinned as constraints.
        app_pins: Vec<String>,
        error: CommandError,
    },
    /// The entry point failed validation.
    Validation(ValidationFailure),
    /// `blacklodge validate` failed without its JSON answer (a crash).
    ValidateCrashed(CommandError),
    /// Importing the entry point did not finish within `BP_BLACKLODGE_VALIDATE_TIMEOUT`.
    ValidateTimeout(Hung),
}

impl From<ConfigError> for WrapperError {
    fn from(error: ConfigError) -> Self {
        Self::Config(error)
    }
}

impl From<WrapperError> for libcnb::Error<WrapperError> {
    fn from(error: WrapperError) -> Self {
        Self::BuildpackError(error)
    }
}

/// The last lines of a tool's output: the part that says what went wrong.
fn tail(output: &str, lines: usize) -> String {
    let all: Vec<&str> = output.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

const SCHEMA_FIX: &str = "The keys are: entrypoint = \"module:attribute\" (required), modes = [\"web\", \"job\"], default-mode = \"web\", name = \"...\", version = \"...\". See docs/wrapper.md.";

fn config_error(error: &ConfigError) -> UserError {
    match error {
        ConfigError::Read { path, error } => UserError::new(
            format!("Could not read {}", path.display()),
            io_detail("read", path, error),
            "Make sure the file is a readable text file.",
        ),
        ConfigError::Invalid { origin, message } => UserError::new(
            format!("Invalid wrapper configuration in {}", origin_file(origin)),
            format!("{origin}: {message}"),
            SCHEMA_FIX,
        ),
        ConfigError::TwoPlaces => UserError::new(
            "The wrapper is configured twice",
            format!(
                "Both {CONFIG_FILE} and a [tool.blacklodge] table in {PYPROJECT} exist; only one may declare the entry point."
            ),
            format!("Keep one of them: delete {CONFIG_FILE}, or remove [tool.blacklodge] from {PYPROJECT}."),
        ),
        ConfigError::NoEntrypoint { origin } => UserError::new(
            "No entry point declared",
            format!("{origin} configures the wrapper but has no `entrypoint`."),
            format!(
                "Add the function or class to serve, e.g. entrypoint = \"model:predict\" (module model.py, function predict), or set {VAR_ENTRYPOINT}."
            ),
        ),
        ConfigError::EntrypointSyntax {
            origin,
            value,
            suggestion,
        } => UserError::new(
            "Invalid entry point",
            format!(
                "{origin} is '{value}', which is not of the form 'module:attribute' (a dotted import path, a colon, a name)."
            ),
            match suggestion {
                Some(suggestion) => format!("Did you mean '{suggestion}'? Set the entry point to that."),
                None => "Set it to 'module:attribute', e.g. 'model:predict' for the function predict in model.py.".to_string(),
            },
        ),
        ConfigError::Mode {
            origin,
            value,
            problem: ModeProblem::Unknown,
        } => UserError::new(
            "Unknown mode",
            format!("{origin} contains '{value}'. The modes are 'web' (HTTP service) and 'job' (one-shot run)."),
            "Use \"web\" and/or \"job\".",
        ),
        ConfigError::Mode {
            origin,
            value,
            problem: ModeProblem::NotYetAvailable,
        } => UserError::new(
            "The worker mode is not available yet",
            format!("{origin} contains '{value}': the Kafka worker is not part of this release of the wrapper."),
            "Remove \"worker\" from the modes; \"web\" and \"job\" are available.",
        ),
        ConfigError::NoModes { origin } => UserError::new(
            "No modes declared",
            format!("modes in {origin} is empty, so the image would have no process."),
            "List at least one mode, e.g. modes = [\"web\"], or remove the key to get both web and job.",
        ),
        ConfigError::DuplicateMode { origin, mode } => UserError::new(
            "A mode is listed twice",
            format!("modes in {origin} lists '{mode}' more than once."),
            "List each mode once.",
        ),
        ConfigError::DefaultNotDeclared {
            origin,
            default,
            modes,
        } => UserError::new(
            "The default mode is not one of the modes",
            format!(
                "{origin} is '{default}', but modes only has {}.",
                modes
                    .iter()
                    .map(|mode| format!("'{mode}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!("Add '{default}' to modes, or choose one of the declared modes as the default."),
        ),
        ConfigError::InvalidText { origin, key, value } => UserError::new(
            format!("Invalid {key} in the wrapper configuration"),
            format!("{key} in {origin} is {value:?}: it must be non-empty printable text of at most 200 characters."),
            format!("Fix {key}, or remove it."),
        ),
        ConfigError::InvalidVariable(error) => UserError::from(error),
        ConfigError::UnknownVariable { name, suggestion } => {
            unknown_variable_error(name, *suggestion)
        }
    }
}

fn unknown_variable_error(name: &str, suggestion: Option<&str>) -> UserError {
    UserError::new(
        "Unknown wrapper variable",
        format!(
            "{name} is not a setting of the blacklodge/wrapper buildpack.{}",
            suggestion.map_or(String::new(), |s| format!(" Did you mean {s}?"))
        ),
        format!(
            "Rename or remove it. The wrapper reads {} (see docs/wrapper.md).",
            KNOWN_VARIABLES.join(", ")
        ),
    )
}

fn origin_file(origin: &Origin) -> &'static str {
    match origin {
        Origin::ConfigFile => CONFIG_FILE,
        Origin::Pyproject => PYPROJECT,
        Origin::Variable => VAR_ENTRYPOINT,
    }
}

/// The app's pins pip named as the other side of the conflict (`(constraint) flask==2.2.5`);
/// the lock's pins are constraints too, but not the app's to change.
fn conflicting_pins(output: &str, app_pins: &[String]) -> Vec<String> {
    let app_pins: Vec<String> = app_pins.iter().map(|pin| pin.to_lowercase()).collect();
    let mut pins: Vec<String> = output
        .lines()
        .filter_map(|line| line.split_once("(constraint) "))
        .map(|(_, pin)| pin.trim().to_string())
        .filter(|pin| app_pins.contains(&pin.to_lowercase()))
        .collect();
    pins.sort();
    pins.dedup();
    pins
}

const LOCK_FILE: &str = "harness/requirements.lock";

fn dependency_error(
    requirements: &[String],
    app_pins: &[String],
    error: &CommandError,
) -> UserError {
    let output = error.output();
    let requirements = requirements.join(", ");
    if output.contains("ResolutionImpossible") || output.contains("conflicting dependencies") {
        let pins = conflicting_pins(output, app_pins);
        let culprits = if pins.is_empty() {
            "packages installed by your app".to_string()
        } else {
            pins.join(", ")
        };
        return UserError::new(
            "The app's packages conflict with the harness's dependencies",
            format!(
                "The harness needs {requirements}, at the versions of its lock ({LOCK_FILE}) for whatever your app does not install itself. The wrapper never replaces a package your app installed, and {culprits} cannot be combined with them.\n\npip says:\n{}",
                tail(output, 12)
            ),
            format!(
                "Change the version of {culprits} in your dependency file (requirements.txt, pyproject.toml, ...) to one compatible with {requirements}, or remove the pin and let the wrapper install a compatible release.\nOr add the harness's dependency that needs a newer version (say flask) to your own dependencies, at a version that works with your pins: the harness uses your app's copy when there is one."
            ),
        );
    }
    if output.contains("DO NOT MATCH THE HASHES") {
        return UserError::new(
            "A harness dependency does not match its locked hash",
            format!(
                "The harness's dependencies are installed from its lock ({LOCK_FILE}), which pins the sha256 of every file. The package index served a file with another hash:\n{}",
                tail(output, 8)
            ),
            "Check the package index (PIP_INDEX_URL): a mirror must serve PyPI's files unchanged. If it rebuilt or altered a package, fix the mirror; never accept a file whose hash changed.",
        );
    }
    if output.contains("--require-hashes mode") || output.contains("Hashes are required") {
        return UserError::new(
            "A harness dependency is not in its lock",
            format!(
                "pip needed a distribution that {LOCK_FILE} does not pin, so it cannot be checked against a hash:\n{}",
                tail(output, 8)
            ),
            "If one of your packages was installed without its own dependencies, add them to your dependency file. Otherwise the lock misses a dependency for this Python version: please report it with the build log (harness/scripts/lock.sh refreshes the lock).",
        );
    }
    UserError::new(
        "Could not install the harness's dependencies",
        format!(
            "`{}` {}. Its last lines:\n{}",
            error.command(),
            error.reason(),
            tail(output, 15)
        ),
        "Check the package index (PIP_INDEX_URL) and the network; the harness needs ".to_string()
            + &requirements
            + ".",
    )
}

fn timeout_error(hung: &Hung) -> UserError {
    let seconds = output::count(hung.limit.as_secs(), "second", "seconds");
    let module = hung
        .entrypoint
        .split_once(':')
        .map_or(hung.entrypoint.as_str(), |(module, _)| module);
    let running = if hung.frames.is_empty() {
        "Python printed no stack before it was stopped.".to_string()
    } else {
        format!(
            "It was running (most recent call last):\n{}",
            hung.frames
                .iter()
                .map(crate::validate::Frame::render)
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    UserError::new(
        format!(
            "Importing the entry point '{}' did not finish within {seconds}",
            hung.entrypoint
        ),
        format!(
            "The build imports module '{module}' to check the entry point, and the import was still running after {seconds} (the limit, {VAR_VALIDATE_TIMEOUT}). It was stopped, with every process it started.\n\n{running}"
        ),
        format!(
            "Importing a module should only define things. Move slow or blocking work (loading a model, connecting to a service, waiting for input) into the load() method of a class entry point, which the harness runs after start-up and before traffic, or into the function itself.\nIf the import really needs longer, raise {VAR_VALIDATE_TIMEOUT} (seconds, default {}); to skip the check, set {VAR_VALIDATE}=false.",
            crate::config::DEFAULT_VALIDATE_TIMEOUT.as_secs()
        ),
    )
}

impl UserFacing for WrapperError {
    fn user_error(&self) -> UserError {
        match self {
            Self::Config(error) => config_error(error),
            Self::NoPython(error) => UserError::new(
                "No Python to run the entry point with",
                format!(
                    "`{}` {}:\n{}",
                    error.command(),
                    error.reason(),
                    tail(error.output(), 10)
                ),
                "The blacklodge/python buildpack must run before blacklodge/wrapper: build with the Blacklodge builder, or list both buildpacks.",
            ),
            Self::InspectOutput(output) => UserError::new(
                "Could not inspect the Python environment",
                format!(
                    "Python printed something unexpected while listing the installed packages:\n{}",
                    tail(output, 10)
                ),
                "This is likely a bug in the wrapper; please report it with the build log.",
            ),
            Self::Io {
                action,
                path,
                error,
            } => UserError::io(
                action,
                path,
                error,
                "This is not caused by your app; retry the build, and report it if it persists.",
            ),
            Self::Deps(error) => error.user_error(),
            Self::InstallDependencies {
                requirements,
                app_pins,
                error,
            } => dependency_error(requirements, app_pins, error),
            Self::Validation(failure) => UserError::new(
                failure.title.clone(),
                failure.detail.clone(),
                // Only an import that fails for reasons outside the code may need the escape
                // hatch; a typo never does.
                if failure.code == "import_failed" {
                    format!(
                        "{}\nThe build imports the entry point to check it. If importing needs something only available at run time (a secret, a service), set {VAR_VALIDATE}=false.",
                        failure.fix
                    )
                } else {
                    failure.fix.clone()
                },
            ),
            Self::ValidateTimeout(hung) => timeout_error(hung),
            Self::ValidateCrashed(error) => UserError::new(
                "Could not check the entry point",
                format!(
                    "`{}` {}. Its output:\n{}",
                    error.command(),
                    error.reason(),
                    tail(error.output(), 20)
                ),
                format!(
                    "Importing your module crashed the interpreter; run it locally with `python -c 'import <module>'`. To skip the check, set {VAR_VALIDATE}=false."
                ),
            ),
        }
    }
}

impl From<DepsError> for WrapperError {
    fn from(error: DepsError) -> Self {
        Self::Deps(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_names_the_pins() {
        assert_eq!(
            conflicting_pins(
                "The conflict is caused by:\n    The user requested flask>=2.3\n    The user requested (constraint) flask==2.2.5\n    The user requested (constraint) werkzeug==3.1.9\n",
                &["Flask==2.2.5".to_string(), "six==1.17.0".to_string()]
            ),
            vec!["flask==2.2.5".to_string()]
        );
    }

    fn pip_failed(output: &str) -> CommandError {
        use std::os::unix::process::ExitStatusExt;
        CommandError::Failed {
            command: "python3 -m pip install".into(),
            status: std::process::ExitStatus::from_raw(256),
            output: output.into(),
        }
    }

    #[test]
    fn a_file_that_does_not_match_the_lock_is_explained() {
        let error = dependency_error(
            &["gunicorn>=22".to_string()],
            &[],
            &pip_failed(
                "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.\n    gunicorn==27.0.1 from http://mirror/gunicorn-27.0.1-py3-none-any.whl:\n        Expected sha256 aa\n             Got        bb\n",
            ),
        );
        assert_eq!(
            error.title,
            "A harness dependency does not match its locked hash"
        );
        assert!(
            error.detail.contains("Expected sha256 aa"),
            "{}",
            error.detail
        );
        assert!(
            error
                .fix
                .starts_with("Check the package index (PIP_INDEX_URL)")
        );

        let error = dependency_error(
            &["gunicorn>=22".to_string()],
            &[],
            &pip_failed(
                "ERROR: In --require-hashes mode, all requirements must have their versions pinned with ==. These do not:\n    packaging from https://x/packaging-26.0-py3-none-any.whl\n",
            ),
        );
        assert_eq!(error.title, "A harness dependency is not in its lock");
    }

    #[test]
    fn a_one_second_limit_reads_in_the_singular() {
        let error = WrapperError::ValidateTimeout(Hung {
            entrypoint: "model:predict".into(),
            limit: std::time::Duration::from_secs(1),
            frames: Vec::new(),
        })
        .user_error();
        assert_eq!(
            error.title,
            "Importing the entry point 'model:predict' did not finish within 1 second"
        );
        assert!(
            error
                .detail
                .contains("still running after 1 second (the limit"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn timeout_names_the_entry_point_the_limit_the_stack_and_the_fix() {
        let error = WrapperError::ValidateTimeout(Hung {
            entrypoint: "model:predict".into(),
            limit: std::time::Duration::from_secs(7),
            frames: vec![crate::validate::Frame {
                file: "model.py".into(),
                line: 3,
                function: "<module>".into(),
                code: Some("time.sleep(10**6)".into()),
            }],
        })
        .user_error();
        assert_eq!(
            error.title,
            "Importing the entry point 'model:predict' did not finish within 7 seconds"
        );
        assert!(
            error.detail.starts_with("The build imports module 'model' to check the entry point, and the import was still running after 7 seconds (the limit, BP_BLACKLODGE_VALIDATE_TIMEOUT)."),
            "{}",
            error.detail
        );
        assert!(
            error.detail.ends_with("It was running (most recent call last):\n  File \"model.py\", line 3, in <module>\n    time.sleep(10**6)"),
            "{}",
            error.detail
        );
        assert!(error.fix.contains("load()"), "{}", error.fix);
        assert!(
            error
                .fix
                .contains("raise BP_BLACKLODGE_VALIDATE_TIMEOUT (seconds, default 120)"),
            "{}",
            error.fix
        );
        assert!(
            error.fix.contains("BP_BLACKLODGE_VALIDATE=false"),
            "{}",
            error.fix
        );
    }

    #[test]
    fn unknown_variable_lists_every_variable() {
        let error = WrapperError::Config(ConfigError::UnknownVariable {
            name: "BP_BLACKLODGE_VALIDATE_TIMEOUTS".into(),
            suggestion: Some(VAR_VALIDATE_TIMEOUT),
        })
        .user_error();
        assert!(
            error
                .detail
                .ends_with("Did you mean BP_BLACKLODGE_VALIDATE_TIMEOUT?")
        );
        for name in KNOWN_VARIABLES {
            assert!(error.fix.contains(name), "{}", error.fix);
        }
    }

    #[test]
    fn unknown_key_message_names_the_file() {
        let error = WrapperError::Config(ConfigError::Invalid {
            origin: Origin::ConfigFile,
            message: "line 2: unknown field `port`".into(),
        })
        .user_error();
        assert_eq!(
            error.title,
            "Invalid wrapper configuration in blacklodge.toml"
        );
        assert_eq!(
            error.detail,
            "blacklodge.toml: line 2: unknown field `port`"
        );
        assert!(error.fix.starts_with("The keys are: entrypoint"));
    }
}
