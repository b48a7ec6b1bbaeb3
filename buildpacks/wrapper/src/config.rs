//! The wrapper configuration: where the app declares its entry point, and what it means.
//!
//! One place in the repo — `blacklodge.toml` at the app root, or a `[tool.blacklodge]` table
//! in `pyproject.toml` — overridable by `BP_BLACKLODGE_*` build variables:
//!
//! ```toml
//! entrypoint = "model:predict"   # module:attribute (required)
//! modes = ["web", "job"]         # processes to declare (default: both)
//! default-mode = "web"           # the image's default process (default: web, else the first mode)
//! name = "fraud-model"           # reported by /statz (default: [project] name)
//! version = "1.4.0"              # reported by /statz (default: [project] version)
//! ```

use blacklodge_common::env::{self, InvalidVariable};
use libcnb::Env;
use serde::Deserialize;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) const CONFIG_FILE: &str = "blacklodge.toml";
pub(crate) const PYPROJECT: &str = "pyproject.toml";
const TABLE: &str = "[tool.blacklodge]";

pub(crate) const VAR_ENTRYPOINT: &str = "BP_BLACKLODGE_ENTRYPOINT";
pub(crate) const VAR_VALIDATE: &str = "BP_BLACKLODGE_VALIDATE";
pub(crate) const VAR_DEFAULT_MODE: &str = "BP_BLACKLODGE_DEFAULT_MODE";
pub(crate) const VAR_VALIDATE_TIMEOUT: &str = "BP_BLACKLODGE_VALIDATE_TIMEOUT";
pub(crate) const VAR_REVISION: &str = "BP_BLACKLODGE_REVISION";
/// Every `BP_BLACKLODGE_*` variable the wrapper reads; any other is a typo.
pub(crate) const KNOWN_VARIABLES: &[&str] = &[
    VAR_ENTRYPOINT,
    VAR_VALIDATE,
    VAR_VALIDATE_TIMEOUT,
    VAR_DEFAULT_MODE,
    VAR_REVISION,
];
const VAR_PREFIX: &str = "BP_BLACKLODGE_";
/// Longest name/version the harness accepts (BLACKLODGE_APP_NAME / _VERSION).
const MAX_TEXT: usize = 200;
/// How long importing the entry point may take at build time, unless configured.
pub(crate) const DEFAULT_VALIDATE_TIMEOUT: Duration = Duration::from_mins(2);
/// The longest accepted `BP_BLACKLODGE_VALIDATE_TIMEOUT`: a day.
const MAX_VALIDATE_TIMEOUT_SECS: u64 = 86_400;

/// A process the wrapper can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Web,
    Job,
}

impl Mode {
    pub(crate) const ALL: [Mode; 2] = [Mode::Web, Mode::Job];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Web => "web",
            Mode::Job => "job",
        }
    }

    fn parse(text: &str) -> Result<Mode, ModeProblem> {
        match text {
            "web" => Ok(Mode::Web),
            "job" => Ok(Mode::Job),
            "worker" => Err(ModeProblem::NotYetAvailable),
            _ => Err(ModeProblem::Unknown),
        }
    }
}

impl Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModeProblem {
    Unknown,
    /// `worker` (Kafka) is part of the design but not of this release.
    NotYetAvailable,
}

/// Where the configuration came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    ConfigFile,
    Pyproject,
    /// No file: only `BP_BLACKLODGE_ENTRYPOINT`.
    Variable,
}

impl Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::ConfigFile => f.write_str(CONFIG_FILE),
            Origin::Pyproject => write!(f, "{TABLE} in {PYPROJECT}"),
            Origin::Variable => f.write_str(VAR_ENTRYPOINT),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrapperConfig {
    pub(crate) origin: Origin,
    pub(crate) entrypoint: String,
    /// Where the entry point came from when overridden (for the log).
    pub(crate) entrypoint_overridden: bool,
    /// In declaration order, without duplicates, never empty.
    pub(crate) modes: Vec<Mode>,
    pub(crate) default_mode: Mode,
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) validate: bool,
    /// How long the build-time import may take.
    pub(crate) validate_timeout: Duration,
}

/// The table as written by the user. Unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    entrypoint: Option<String>,
    modes: Option<Vec<String>>,
    default_mode: Option<String>,
    name: Option<String>,
    version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawPyproject {
    #[serde(default)]
    project: Option<RawProject>,
    #[serde(default)]
    tool: Option<RawTool>,
}

#[derive(Debug, Default, Deserialize)]
struct RawProject {
    name: Option<toml::Value>,
    version: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawTool {
    blacklodge: Option<toml::Value>,
}

#[derive(Debug)]
pub(crate) enum ConfigError {
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Not TOML, or a key/value the schema refuses (message from the TOML parser, with line).
    Invalid {
        origin: Origin,
        message: String,
    },
    /// Both `blacklodge.toml` and `[tool.blacklodge]`.
    TwoPlaces,
    NoEntrypoint {
        origin: Origin,
    },
    EntrypointSyntax {
        origin: String,
        value: String,
        suggestion: Option<String>,
    },
    Mode {
        origin: String,
        value: String,
        problem: ModeProblem,
    },
    NoModes {
        origin: Origin,
    },
    DuplicateMode {
        origin: Origin,
        mode: Mode,
    },
    DefaultNotDeclared {
        origin: String,
        default: Mode,
        modes: Vec<Mode>,
    },
    InvalidText {
        origin: Origin,
        key: &'static str,
        value: String,
    },
    InvalidVariable(InvalidVariable),
    UnknownVariable {
        name: String,
        suggestion: Option<&'static str>,
    },
}

fn read(path: &Path) -> Result<String, ConfigError> {
    fs_err::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })
}

/// Whether the app declares the wrapper (for detection): the config file, the pyproject
/// table, or the entry point variable. A `pyproject.toml` that is not valid TOML counts when
/// it has the table header, so the build can report the syntax error.
pub(crate) fn is_declared(app_dir: &Path, env: &Env) -> bool {
    app_dir.join(CONFIG_FILE).is_file()
        || env::string(env, VAR_ENTRYPOINT).is_some()
        || fs_err::read_to_string(app_dir.join(PYPROJECT))
            .is_ok_and(|text| pyproject_has_table(&text))
}

fn pyproject_has_table(text: &str) -> bool {
    match toml::from_str::<RawPyproject>(text) {
        Ok(pyproject) => pyproject.tool.is_some_and(|tool| tool.blacklodge.is_some()),
        Err(_) => text.lines().any(|line| {
            let line = line.trim();
            line.starts_with("[tool.blacklodge]") || line.starts_with("[tool.blacklodge.")
        }),
    }
}

fn toml_message(error: &toml::de::Error, text: &str) -> String {
    // The parser's message names the key ("unknown field `entrypiont`, expected one of ...");
    // the line number makes it findable.
    let line = error
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    let message = error.message().trim().to_string();
    match line {
        Some(line) => format!("line {line}: {message}"),
        None => message,
    }
}

/// Reads and validates the configuration. `env` is the build's platform environment.
pub(crate) fn load(app_dir: &Path, env: &Env) -> Result<WrapperConfig, ConfigError> {
    check_variables(env)?;

    let config_path = app_dir.join(CONFIG_FILE);
    let pyproject_path = app_dir.join(PYPROJECT);
    let pyproject_text = if pyproject_path.is_file() {
        Some(read(&pyproject_path)?)
    } else {
        None
    };
    let pyproject = match &pyproject_text {
        Some(text) => match toml::from_str::<RawPyproject>(text) {
            Ok(pyproject) => Some(pyproject),
            Err(error) if pyproject_has_table(text) => {
                return Err(ConfigError::Invalid {
                    origin: Origin::Pyproject,
                    message: toml_message(&error, text),
                });
            }
            // Not ours to judge; the dependency buildpacks report it.
            Err(_) => None,
        },
        None => None,
    };
    let table = pyproject
        .as_ref()
        .and_then(|p| p.tool.as_ref())
        .and_then(|tool| tool.blacklodge.clone());

    let (origin, raw) = match (config_path.is_file(), table) {
        (true, Some(_)) => return Err(ConfigError::TwoPlaces),
        (true, None) => {
            let text = read(&config_path)?;
            let raw = toml::from_str::<RawConfig>(&text).map_err(|error| ConfigError::Invalid {
                origin: Origin::ConfigFile,
                message: toml_message(&error, &text),
            })?;
            (Origin::ConfigFile, raw)
        }
        (false, Some(value)) => {
            let raw = RawConfig::deserialize(value).map_err(|error| ConfigError::Invalid {
                origin: Origin::Pyproject,
                message: error.message().trim().to_string(),
            })?;
            (Origin::Pyproject, raw)
        }
        (false, None) => (Origin::Variable, RawConfig::default()),
    };

    let project = pyproject.and_then(|p| p.project);
    resolve(origin, raw, project.as_ref(), env)
}

fn resolve(
    origin: Origin,
    raw: RawConfig,
    project: Option<&RawProject>,
    env: &Env,
) -> Result<WrapperConfig, ConfigError> {
    let overridden = env::string(env, VAR_ENTRYPOINT);
    let entrypoint_overridden = overridden.is_some();
    let (entrypoint, entrypoint_origin) = match (overridden, raw.entrypoint) {
        (Some(value), _) => (value, VAR_ENTRYPOINT.to_string()),
        (None, Some(value)) => (value.trim().to_string(), format!("entrypoint in {origin}")),
        (None, None) => return Err(ConfigError::NoEntrypoint { origin }),
    };
    if !is_entrypoint(&entrypoint) {
        return Err(ConfigError::EntrypointSyntax {
            origin: entrypoint_origin,
            suggestion: suggest_entrypoint(&entrypoint),
            value: entrypoint,
        });
    }

    let mode_origin = format!("modes in {origin}");
    let modes = match raw.modes {
        None => Mode::ALL.to_vec(),
        Some(names) => {
            let mut modes = Vec::new();
            for name in names {
                let mode = Mode::parse(name.trim()).map_err(|problem| ConfigError::Mode {
                    origin: mode_origin.clone(),
                    value: name.clone(),
                    problem,
                })?;
                if modes.contains(&mode) {
                    return Err(ConfigError::DuplicateMode { origin, mode });
                }
                modes.push(mode);
            }
            if modes.is_empty() {
                return Err(ConfigError::NoModes { origin });
            }
            modes
        }
    };

    let (default_text, default_origin) = match env::string(env, VAR_DEFAULT_MODE) {
        Some(value) => (Some(value), VAR_DEFAULT_MODE.to_string()),
        None => (raw.default_mode, format!("default-mode in {origin}")),
    };
    let default_mode = match default_text {
        None if modes.contains(&Mode::Web) => Mode::Web,
        None => modes[0],
        Some(text) => {
            let mode = Mode::parse(text.trim()).map_err(|problem| ConfigError::Mode {
                origin: default_origin.clone(),
                value: text.clone(),
                problem,
            })?;
            if !modes.contains(&mode) {
                return Err(ConfigError::DefaultNotDeclared {
                    origin: default_origin,
                    default: mode,
                    modes,
                });
            }
            mode
        }
    };

    let name = checked_text(&origin, "name", raw.name)?.or_else(|| {
        project
            .and_then(|p| p.name.as_ref())
            .and_then(|v| v.as_str())
            .and_then(printable)
    });
    let version = checked_text(&origin, "version", raw.version)?.or_else(|| {
        project
            .and_then(|p| p.version.as_ref())
            .and_then(|v| v.as_str())
            .and_then(printable)
    });
    let validate = env::boolean(env, VAR_VALIDATE)
        .map_err(ConfigError::InvalidVariable)?
        .unwrap_or(true);
    let validate_timeout = validate_timeout(env).map_err(ConfigError::InvalidVariable)?;

    Ok(WrapperConfig {
        origin,
        entrypoint,
        entrypoint_overridden,
        modes,
        default_mode,
        name,
        version,
        validate,
        validate_timeout,
    })
}

/// `BP_BLACKLODGE_VALIDATE_TIMEOUT`: whole seconds, 1 to a day; the default when unset.
fn validate_timeout(env: &Env) -> Result<Duration, InvalidVariable> {
    let Some(value) = env::string(env, VAR_VALIDATE_TIMEOUT) else {
        return Ok(DEFAULT_VALIDATE_TIMEOUT);
    };
    value
        .parse::<u64>()
        .ok()
        .filter(|seconds| (1..=MAX_VALIDATE_TIMEOUT_SECS).contains(seconds))
        .map(Duration::from_secs)
        .ok_or_else(|| InvalidVariable {
            name: VAR_VALIDATE_TIMEOUT.to_string(),
            value,
            expected: format!(
                "a whole number of seconds from 1 to {MAX_VALIDATE_TIMEOUT_SECS} (default {}); to skip the check, set {VAR_VALIDATE}=false instead",
                DEFAULT_VALIDATE_TIMEOUT.as_secs()
            ),
        })
}

fn printable(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty() && value.len() <= MAX_TEXT && !value.chars().any(char::is_control))
        .then(|| value.to_string())
}

fn checked_text(
    origin: &Origin,
    key: &'static str,
    value: Option<String>,
) -> Result<Option<String>, ConfigError> {
    match value {
        None => Ok(None),
        Some(value) => printable(&value)
            .map(Some)
            .ok_or_else(|| ConfigError::InvalidText {
                origin: origin.clone(),
                key,
                value,
            }),
    }
}

fn check_variables(env: &Env) -> Result<(), ConfigError> {
    for (name, _) in env {
        let name = name.to_string_lossy();
        if name.starts_with(VAR_PREFIX) && !KNOWN_VARIABLES.contains(&name.as_ref()) {
            let suggestion = KNOWN_VARIABLES
                .iter()
                .copied()
                .min_by_key(|known| edit_distance(known, &name))
                .filter(|known| edit_distance(known, &name) <= 3);
            return Err(ConfigError::UnknownVariable {
                name: name.into_owned(),
                suggestion,
            });
        }
    }
    Ok(())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `package.module:attribute` (the form the harness accepts).
pub(crate) fn is_entrypoint(text: &str) -> bool {
    text.split_once(':').is_some_and(|(module, attribute)| {
        module.split('.').all(is_identifier) && is_identifier(attribute)
    })
}

/// The likely intended entry point for a malformed one: `src/model.py:predict` →
/// `src.model:predict`, `model.predict` → `model:predict`.
pub(crate) fn suggest_entrypoint(text: &str) -> Option<String> {
    let text = text.trim().replace(['/', '\\'], ".");
    let (module, attribute) = if let Some((module, attribute)) = text.split_once(':') {
        (module.to_string(), attribute.to_string())
    } else {
        let (module, attribute) = text.rsplit_once('.')?;
        if attribute == "py" {
            return None;
        }
        (module.to_string(), attribute.to_string())
    };
    let module = module
        .strip_suffix(".py")
        .unwrap_or(&module)
        .trim_matches('.');
    let attribute = attribute.trim().trim_end_matches("()").trim();
    let candidate = format!("{module}:{attribute}");
    is_entrypoint(&candidate).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            fs_err::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    #[test]
    fn config_file_with_defaults() {
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"model:predict\"\n")]);
        let config = load(dir.path(), &Env::new()).expect("valid");
        assert_eq!(config.entrypoint, "model:predict");
        assert_eq!(config.modes, vec![Mode::Web, Mode::Job]);
        assert_eq!(config.default_mode, Mode::Web);
        assert_eq!(config.origin, Origin::ConfigFile);
        assert!(config.validate);
        assert_eq!(config.validate_timeout, DEFAULT_VALIDATE_TIMEOUT);
        assert!(is_declared(dir.path(), &Env::new()));
    }

    #[test]
    fn pyproject_table_and_project_metadata() {
        let dir = app(&[(
            PYPROJECT,
            "[project]\nname = \"scorer\"\nversion = \"2.0.1\"\n\n[tool.blacklodge]\nentrypoint = \"pkg.serving:Model\"\nmodes = [\"job\"]\n",
        )]);
        let config = load(dir.path(), &Env::new()).expect("valid");
        assert_eq!(config.origin, Origin::Pyproject);
        assert_eq!(config.modes, vec![Mode::Job]);
        assert_eq!(config.default_mode, Mode::Job);
        assert_eq!(config.name.as_deref(), Some("scorer"));
        assert_eq!(config.version.as_deref(), Some("2.0.1"));
    }

    #[test]
    fn pyproject_without_table_is_not_declared() {
        let dir = app(&[(PYPROJECT, "[project]\nname = \"x\"\n")]);
        assert!(!is_declared(dir.path(), &Env::new()));
        let mut env = Env::new();
        env.insert(VAR_ENTRYPOINT, "model:predict");
        assert!(is_declared(dir.path(), &env));
        let config = load(dir.path(), &env).expect("variable alone is enough");
        assert_eq!(config.origin, Origin::Variable);
        assert!(config.entrypoint_overridden);
    }

    #[test]
    fn unknown_key_names_the_line_and_the_accepted_keys() {
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"m:f\"\nentry_point = \"m:f\"\n")]);
        let Err(ConfigError::Invalid { origin, message }) = load(dir.path(), &Env::new()) else {
            panic!("unknown key accepted");
        };
        assert_eq!(origin, Origin::ConfigFile);
        assert!(
            message.starts_with("line 2: unknown field `entry_point`"),
            "{message}"
        );
        assert!(message.contains("`default-mode`"), "{message}");
    }

    #[test]
    fn unknown_key_in_pyproject_table() {
        let dir = app(&[(
            PYPROJECT,
            "[tool.blacklodge]\nentrypoint = \"m:f\"\nport = 80\n",
        )]);
        let Err(ConfigError::Invalid { origin, message }) = load(dir.path(), &Env::new()) else {
            panic!("unknown key accepted");
        };
        assert_eq!(origin, Origin::Pyproject);
        assert!(message.contains("unknown field `port`"), "{message}");
    }

    #[test]
    fn missing_entrypoint_bad_modes_and_defaults() {
        let dir = app(&[(CONFIG_FILE, "modes = [\"web\"]\n")]);
        assert!(matches!(
            load(dir.path(), &Env::new()),
            Err(ConfigError::NoEntrypoint { .. })
        ));
        let dir = app(&[(
            CONFIG_FILE,
            "entrypoint = \"m:f\"\nmodes = [\"web\", \"batch\"]\n",
        )]);
        assert!(matches!(
            load(dir.path(), &Env::new()),
            Err(ConfigError::Mode { ref value, problem: ModeProblem::Unknown, .. }) if value == "batch"
        ));
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"m:f\"\nmodes = [\"worker\"]\n")]);
        assert!(matches!(
            load(dir.path(), &Env::new()),
            Err(ConfigError::Mode {
                problem: ModeProblem::NotYetAvailable,
                ..
            })
        ));
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"m:f\"\nmodes = []\n")]);
        assert!(matches!(
            load(dir.path(), &Env::new()),
            Err(ConfigError::NoModes { .. })
        ));
        let dir = app(&[(
            CONFIG_FILE,
            "entrypoint = \"m:f\"\nmodes = [\"job\"]\ndefault-mode = \"web\"\n",
        )]);
        assert!(matches!(
            load(dir.path(), &Env::new()),
            Err(ConfigError::DefaultNotDeclared {
                default: Mode::Web,
                ..
            })
        ));
    }

    #[test]
    fn both_places_is_an_error() {
        let dir = app(&[
            (CONFIG_FILE, "entrypoint = \"m:f\"\n"),
            (PYPROJECT, "[tool.blacklodge]\nentrypoint = \"m:g\"\n"),
        ]);
        assert!(matches!(
            load(dir.path(), &Env::new()),
            Err(ConfigError::TwoPlaces)
        ));
    }

    #[test]
    fn variables_override_and_typos_are_caught() {
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"m:f\"\n")]);
        let mut env = Env::new();
        env.insert(VAR_ENTRYPOINT, "other:g");
        env.insert(VAR_DEFAULT_MODE, "job");
        env.insert(VAR_VALIDATE, "false");
        let config = load(dir.path(), &env).expect("valid");
        assert_eq!(config.entrypoint, "other:g");
        assert_eq!(config.default_mode, Mode::Job);
        assert!(!config.validate);

        let mut env = Env::new();
        env.insert("BP_BLACKLODGE_ENTRY_POINT", "m:f");
        let Err(ConfigError::UnknownVariable { name, suggestion }) = load(dir.path(), &env) else {
            panic!("typo accepted");
        };
        assert_eq!(name, "BP_BLACKLODGE_ENTRY_POINT");
        assert_eq!(suggestion, Some(VAR_ENTRYPOINT));
    }

    #[test]
    fn validate_timeout_is_whole_seconds() {
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"m:f\"\n")]);
        let mut env = Env::new();
        env.insert(VAR_VALIDATE_TIMEOUT, " 5 ");
        let config = load(dir.path(), &env).expect("valid");
        assert_eq!(config.validate_timeout, Duration::from_secs(5));
        for bad in ["0", "-3", "2.5", "10s", "86401", "soon"] {
            env.insert(VAR_VALIDATE_TIMEOUT, bad);
            let Err(ConfigError::InvalidVariable(error)) = load(dir.path(), &env) else {
                panic!("{bad} accepted");
            };
            assert_eq!(error.name, VAR_VALIDATE_TIMEOUT);
            assert_eq!(error.value, bad);
            assert!(
                error
                    .expected
                    .starts_with("a whole number of seconds from 1 to 86400 (default 120)"),
                "{}",
                error.expected
            );
        }
    }

    #[test]
    fn entrypoint_syntax_and_suggestions() {
        assert!(is_entrypoint("model:predict"));
        assert!(is_entrypoint("pkg.sub_mod:Model"));
        assert!(!is_entrypoint("model"));
        assert!(!is_entrypoint("src/model.py:predict"));
        assert_eq!(
            suggest_entrypoint("src/model.py:predict").as_deref(),
            Some("src.model:predict")
        );
        assert_eq!(
            suggest_entrypoint("model.predict").as_deref(),
            Some("model:predict")
        );
        assert_eq!(suggest_entrypoint("model.py"), None);
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"model.py\"\n")]);
        assert!(matches!(
            load(dir.path(), &Env::new()),
            Err(ConfigError::EntrypointSyntax {
                suggestion: None,
                ..
            })
        ));
    }

    #[test]
    fn broken_pyproject_with_table_is_reported() {
        let dir = app(&[(PYPROJECT, "[tool.blacklodge]\nentrypoint = model:predict\n")]);
        assert!(is_declared(dir.path(), &Env::new()));
        let Err(ConfigError::Invalid { message, .. }) = load(dir.path(), &Env::new()) else {
            panic!("broken TOML accepted");
        };
        assert!(message.starts_with("line 2: "), "{message}");
    }
}
