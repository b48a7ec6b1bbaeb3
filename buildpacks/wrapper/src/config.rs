//! The wrapper configuration: where the app declares its entry point, and what it means.
//!
//! One place in the repo — `blacklodge.toml` at the app root, or a `[tool.blacklodge]` table
//! in `pyproject.toml` — overridable by `BP_BLACKLODGE_*` build variables:
//!
//! ```toml
//! entrypoint = "model:predict"   # module:attribute (required)
//! modes = ["web", "job"]         # processes to declare (default: web and job, and worker
//!                                # when [kafka] exists)
//! default-mode = "web"           # the image's default process (default: web, else the first mode)
//! name = "fraud-model"           # reported by /statz (default: [project] name)
//! version = "1.4.0"              # reported by /statz (default: [project] version)
//!
//! [kafka]                        # the worker's defaults (only with "worker" among the modes)
//! topics = ["orders"]            # input topics (default: BLACKLODGE_KAFKA_TOPICS at run time)
//! group-id = "fraud-model"       # consumer group (default: the app name)
//! output-topic = "scores"        # where results go (default: none, consume-only)
//! dlq-topic = "orders.dlq"       # dead letters (default: none, a poison message stops the worker)
//! value-format = "json"          # "json" (default) or "bytes"
//! ```
//!
//! The `[kafka]` table (its schema and checks) is in [`kafka`]; the top-level keys, the order
//! in which the places and variables win, and their checks stay here, read together when a
//! key is added.

mod kafka;

pub(crate) use kafka::{KafkaConfig, TopicProblem};
use kafka::{RawKafka, kafka};

use blacklodge_common::env::{self, InvalidVariable};
use libcnb::Env;
use serde::Deserialize;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) use blacklodge_python_deps::wrapper_declaration::{
    CONFIG_FILE, PYPROJECT, VAR_ENTRYPOINT, pyproject_has_table,
};
const TABLE: &str = "[tool.blacklodge]";

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
    Worker,
    Job,
}

impl Mode {
    pub(crate) const ALL: [Mode; 3] = [Mode::Web, Mode::Worker, Mode::Job];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Web => "web",
            Mode::Worker => "worker",
            Mode::Job => "job",
        }
    }

    /// What the mode's process does, for messages.
    pub(crate) fn purpose(self) -> &'static str {
        match self {
            Mode::Web => "HTTP service",
            Mode::Worker => "Kafka consumer",
            Mode::Job => "one-shot run",
        }
    }

    fn parse(text: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|mode| mode.name() == text)
    }

    /// The modes when `modes` is not written: web and job, and worker with a `[kafka]` table.
    fn defaults(kafka: bool) -> Vec<Mode> {
        if kafka {
            vec![Mode::Web, Mode::Job, Mode::Worker]
        } else {
            vec![Mode::Web, Mode::Job]
        }
    }
}

impl Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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

impl Origin {
    /// Where the `[kafka]` table is, for messages.
    pub(crate) fn kafka_table(&self) -> String {
        match self {
            Origin::Pyproject => format!("[tool.blacklodge.kafka] in {PYPROJECT}"),
            _ => format!("[kafka] in {CONFIG_FILE}"),
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
    /// The `[kafka]` table, when written (only with the worker mode).
    pub(crate) kafka: Option<KafkaConfig>,
}

impl WrapperConfig {
    pub(crate) fn has(&self, mode: Mode) -> bool {
        self.modes.contains(&mode)
    }

    /// What the worker will do, for the build log (with the worker mode only).
    pub(crate) fn kafka_summary(&self) -> Vec<String> {
        if !self.has(Mode::Worker) {
            return Vec::new();
        }
        let kafka = self.kafka.clone().unwrap_or_default();
        vec![
            if kafka.topics.is_empty() {
                "Kafka topics: none configured; the worker needs BLACKLODGE_KAFKA_TOPICS at run time".to_string()
            } else {
                format!("Kafka topics: {}", kafka.topics.join(", "))
            },
            match &kafka.group_id {
                Some(group) => format!("Kafka consumer group: {group}"),
                None => format!(
                    "Kafka consumer group: {} (the app name; group-id sets another)",
                    self.app_name()
                ),
            },
            match &kafka.output_topic {
                Some(topic) => format!("Kafka output topic: {topic}"),
                None => "Kafka output topic: none, consume-only".to_string(),
            },
            match &kafka.dlq_topic {
                Some(topic) => format!("Kafka dead-letter topic: {topic}"),
                None => "Kafka dead-letter topic: none; a message that keeps failing stops the worker without committing it".to_string(),
            },
            match kafka.value_format {
                Some(format) => format!("Kafka value format: {}", format.name()),
                None => "Kafka value format: json (default)".to_string(),
            },
        ]
    }

    /// The app name the harness reports (and uses as the default consumer group): `name`,
    /// else the entry point's module.
    pub(crate) fn app_name(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| {
            self.entrypoint
                .split_once(':')
                .map_or(self.entrypoint.as_str(), |(module, _)| module)
        })
    }
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
    kafka: Option<RawKafka>,
}

/// `pyproject.toml` read for the `[tool.blacklodge]` table only, with the schema, so an error
/// in the table carries its position in the file.
#[derive(Debug, Deserialize)]
struct TablePyproject {
    tool: TableTool,
}

#[derive(Debug, Deserialize)]
struct TableTool {
    blacklodge: RawConfig,
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
        /// The error is inside the `[kafka]` table.
        in_kafka: bool,
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
    UnknownMode {
        origin: String,
        value: String,
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
        /// Where the key is (`blacklodge.toml`, `[kafka] in blacklodge.toml`).
        place: String,
        key: &'static str,
        value: String,
    },
    /// A `[kafka]` table, but no worker process to read it.
    KafkaWithoutWorker {
        origin: Origin,
        modes: Vec<Mode>,
    },
    InvalidTopic {
        place: String,
        key: &'static str,
        value: String,
        problem: TopicProblem,
    },
    /// `topics = []`.
    NoTopics {
        place: String,
    },
    DuplicateTopic {
        place: String,
        topic: String,
    },
    /// The output or dead-letter topic is also an input topic: its records would be consumed
    /// again.
    TopicLoop {
        place: String,
        key: &'static str,
        topic: String,
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
/// table, or the entry point variable, as python-deps' `wrapper_declaration` finds it (the
/// web buildpack asks the same function, so both agree on which apps are the wrapper's).
pub(crate) fn is_declared(app_dir: &Path, env: &Env) -> bool {
    blacklodge_python_deps::wrapper_declaration::find(app_dir, env).is_some()
}

/// The header of the table a position of `text` is in (`[kafka]`), if any.
fn table_at(text: &str, offset: usize) -> Option<&str> {
    text[..offset.min(text.len())]
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .rfind(|line| line.starts_with('[') && line.ends_with(']') && !line.contains(','))
}

/// The parser's message, which names the key ("unknown field `entrypiont`, expected one of
/// ..."), with the line number and the table that make it findable; and whether it is in the
/// `[kafka]` table.
fn toml_message(error: &toml::de::Error, text: &str) -> (String, bool) {
    let message = error.message().trim().to_string();
    let Some(span) = error.span() else {
        return (message, false);
    };
    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
    match table_at(text, span.start) {
        Some(table) => (
            format!("line {line}, in {table}: {message}"),
            table == "[kafka]" || table == "[tool.blacklodge.kafka]",
        ),
        None => (format!("line {line}: {message}"), false),
    }
}

fn invalid(origin: Origin, error: &toml::de::Error, text: &str) -> ConfigError {
    let (message, in_kafka) = toml_message(error, text);
    ConfigError::Invalid {
        origin,
        message,
        in_kafka,
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
                return Err(invalid(Origin::Pyproject, &error, text));
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
            let raw = toml::from_str::<RawConfig>(&text)
                .map_err(|error| invalid(Origin::ConfigFile, &error, &text))?;
            (Origin::ConfigFile, raw)
        }
        (false, Some(_)) => {
            let text = pyproject_text.as_deref().unwrap_or_default();
            let raw = toml::from_str::<TablePyproject>(text)
                .map_err(|error| invalid(Origin::Pyproject, &error, text))?
                .tool
                .blacklodge;
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
        None => Mode::defaults(raw.kafka.is_some()),
        Some(names) => {
            let mut modes = Vec::new();
            for name in names {
                let mode = Mode::parse(name.trim()).ok_or_else(|| ConfigError::UnknownMode {
                    origin: mode_origin.clone(),
                    value: name.clone(),
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
            let mode = Mode::parse(text.trim()).ok_or_else(|| ConfigError::UnknownMode {
                origin: default_origin.clone(),
                value: text.clone(),
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

    let kafka = match raw.kafka {
        None => None,
        Some(_) if !modes.contains(&Mode::Worker) => {
            return Err(ConfigError::KafkaWithoutWorker { origin, modes });
        }
        Some(table) => Some(kafka(&origin, table)?),
    };

    let place = origin.to_string();
    let name = checked_text(&place, "name", raw.name)?.or_else(|| {
        project
            .and_then(|p| p.name.as_ref())
            .and_then(|v| v.as_str())
            .and_then(printable)
    });
    let version = checked_text(&place, "version", raw.version)?.or_else(|| {
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
        kafka,
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
    place: &str,
    key: &'static str,
    value: Option<String>,
) -> Result<Option<String>, ConfigError> {
    match value {
        None => Ok(None),
        Some(value) => printable(&value)
            .map(Some)
            .ok_or_else(|| ConfigError::InvalidText {
                place: place.to_string(),
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
                .min_by_key(|known| blacklodge_common::error::edit_distance(known, &name))
                .filter(|known| blacklodge_common::error::edit_distance(known, &name) <= 3);
            return Err(ConfigError::UnknownVariable {
                name: name.into_owned(),
                suggestion,
            });
        }
    }
    Ok(())
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
    use blacklodge_common::testing::app;

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
        let Err(ConfigError::Invalid {
            origin,
            message,
            in_kafka: false,
        }) = load(dir.path(), &Env::new())
        else {
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
        let Err(ConfigError::Invalid {
            origin, message, ..
        }) = load(dir.path(), &Env::new())
        else {
            panic!("unknown key accepted");
        };
        assert_eq!(origin, Origin::Pyproject);
        assert_eq!(
            message,
            "line 3, in [tool.blacklodge]: unknown field `port`, expected one of `entrypoint`, `modes`, `default-mode`, `name`, `version`, `kafka`"
        );
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
            Err(ConfigError::UnknownMode { ref value, .. }) if value == "batch"
        ));
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"m:f\"\nmodes = [\"worker\"]\n")]);
        let config = load(dir.path(), &Env::new()).expect("worker is a mode");
        assert_eq!(config.modes, vec![Mode::Worker]);
        assert_eq!(config.default_mode, Mode::Worker);
        assert_eq!(config.kafka, None);
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
        assert!(
            message.starts_with("line 2, in [tool.blacklodge]: "),
            "{message}"
        );
    }

    const KAFKA: &str = "entrypoint = \"m:f\"\nmodes = [\"web\", \"worker\"]\n\n[kafka]\ntopics = [\"orders\", \"payments.v1\"]\ngroup-id = \"fraud-model\"\noutput-topic = \"scores\"\ndlq-topic = \"orders.dlq\"\nvalue-format = \"bytes\"\n";

    #[test]
    fn kafka_table_becomes_the_workers_launch_defaults() {
        let dir = app(&[(CONFIG_FILE, KAFKA)]);
        let config = load(dir.path(), &Env::new()).expect("valid");
        assert_eq!(config.modes, vec![Mode::Web, Mode::Worker]);
        assert_eq!(config.default_mode, Mode::Web);
        let kafka = config.kafka.expect("[kafka]");
        assert_eq!(
            kafka.variables(),
            vec![
                ("BLACKLODGE_KAFKA_TOPICS", "orders,payments.v1".to_string()),
                ("BLACKLODGE_KAFKA_GROUP_ID", "fraud-model".to_string()),
                ("BLACKLODGE_KAFKA_OUTPUT_TOPIC", "scores".to_string()),
                ("BLACKLODGE_KAFKA_DLQ_TOPIC", "orders.dlq".to_string()),
                ("BLACKLODGE_KAFKA_VALUE_FORMAT", "bytes".to_string()),
            ]
        );
        // Only what is written becomes a variable.
        assert!(KafkaConfig::default().variables().is_empty());
    }

    #[test]
    fn kafka_table_without_modes_adds_the_worker() {
        let dir = app(&[(
            PYPROJECT,
            "[project]\nname = \"scorer\"\n\n[tool.blacklodge]\nentrypoint = \"m:f\"\n\n[tool.blacklodge.kafka]\ntopics = [\"orders\"]\n",
        )]);
        let config = load(dir.path(), &Env::new()).expect("valid");
        assert_eq!(config.modes, vec![Mode::Web, Mode::Job, Mode::Worker]);
        assert_eq!(config.default_mode, Mode::Web);
        assert_eq!(config.app_name(), "scorer");
        assert_eq!(
            config.kafka.expect("[kafka]").variables(),
            vec![("BLACKLODGE_KAFKA_TOPICS", "orders".to_string())]
        );

        let mut env = Env::new();
        env.insert(VAR_DEFAULT_MODE, "worker");
        let config = load(dir.path(), &env).expect("valid");
        assert_eq!(config.default_mode, Mode::Worker);
    }

    #[test]
    fn without_kafka_the_default_modes_stay_web_and_job() {
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"pkg.model:f\"\n")]);
        let config = load(dir.path(), &Env::new()).expect("valid");
        assert_eq!(config.modes, vec![Mode::Web, Mode::Job]);
        assert_eq!(config.app_name(), "pkg.model");
        let mut env = Env::new();
        env.insert(VAR_DEFAULT_MODE, "worker");
        assert!(matches!(
            load(dir.path(), &env),
            Err(ConfigError::DefaultNotDeclared {
                default: Mode::Worker,
                ..
            })
        ));
    }

    #[test]
    fn kafka_without_the_worker_mode_is_refused() {
        let dir = app(&[(
            CONFIG_FILE,
            "entrypoint = \"m:f\"\nmodes = [\"web\", \"job\"]\n[kafka]\ntopics = [\"orders\"]\n",
        )]);
        let Err(ConfigError::KafkaWithoutWorker { origin, modes }) = load(dir.path(), &Env::new())
        else {
            panic!("[kafka] accepted without a worker");
        };
        assert_eq!(origin, Origin::ConfigFile);
        assert_eq!(modes, vec![Mode::Web, Mode::Job]);
    }

    #[test]
    fn unknown_kafka_key_names_the_line_the_table_and_the_keys() {
        let dir = app(&[(
            CONFIG_FILE,
            "entrypoint = \"m:f\"\n\n[kafka]  # the worker\ntopic = [\"orders\"]\n",
        )]);
        let Err(ConfigError::Invalid {
            origin,
            message,
            in_kafka,
        }) = load(dir.path(), &Env::new())
        else {
            panic!("unknown key accepted");
        };
        assert_eq!(origin, Origin::ConfigFile);
        assert!(in_kafka);
        assert_eq!(
            message,
            "line 4, in [kafka]: unknown field `topic`, expected one of `topics`, `group-id`, `output-topic`, `dlq-topic`, `value-format`"
        );

        let dir = app(&[(
            PYPROJECT,
            "[tool.blacklodge]\nentrypoint = \"m:f\"\n[tool.blacklodge.kafka]\ntopics = [\"a\"]\nvalue-format = \"avro\"\n",
        )]);
        let Err(ConfigError::Invalid {
            message, in_kafka, ..
        }) = load(dir.path(), &Env::new())
        else {
            panic!("unknown format accepted");
        };
        assert!(in_kafka);
        assert_eq!(
            message,
            "line 5, in [tool.blacklodge.kafka]: unknown variant `avro`, expected `json` or `bytes`"
        );
    }

    fn kafka_error(table: &str) -> ConfigError {
        let dir = app(&[(
            CONFIG_FILE,
            &format!("entrypoint = \"m:f\"\nmodes = [\"worker\"]\n[kafka]\n{table}"),
        )]);
        load(dir.path(), &Env::new()).expect_err("refused")
    }

    #[test]
    fn bad_kafka_values_name_the_key_and_the_table() {
        let ConfigError::InvalidTopic {
            place,
            key,
            value,
            problem,
        } = kafka_error("topics = [\"orders\", \"pay ments\"]\n")
        else {
            panic!("bad topic accepted");
        };
        assert_eq!(
            (place.as_str(), key, value.as_str(), problem),
            (
                "[kafka] in blacklodge.toml",
                "topics",
                "pay ments",
                TopicProblem::Characters(vec![' '])
            )
        );
        assert!(matches!(
            kafka_error("dlq-topic = \"..\"\n"),
            ConfigError::InvalidTopic {
                key: "dlq-topic",
                problem: TopicProblem::Dots,
                ..
            }
        ));
        assert!(matches!(
            kafka_error("topics = []\n"),
            ConfigError::NoTopics { ref place } if place == "[kafka] in blacklodge.toml"
        ));
        assert!(matches!(
            kafka_error("topics = [\"a\", \"b\", \"a\"]\n"),
            ConfigError::DuplicateTopic { ref topic, .. } if topic == "a"
        ));
        assert!(matches!(
            kafka_error("topics = [\"a\", \"b\"]\noutput-topic = \"b\"\n"),
            ConfigError::TopicLoop { key: "output-topic", ref topic, .. } if topic == "b"
        ));
        assert!(matches!(
            kafka_error("topics = [\"a\"]\ndlq-topic = \"a\"\n"),
            ConfigError::TopicLoop { key: "dlq-topic", ref topic, .. } if topic == "a"
        ));
        assert!(matches!(
            kafka_error("group-id = \" \"\n"),
            ConfigError::InvalidText { key: "group-id", ref place, .. } if place == "[kafka] in blacklodge.toml"
        ));
        // Output and dead letters may share a topic with each other, not with the input.
        let dir = app(&[(
            CONFIG_FILE,
            "entrypoint = \"m:f\"\nmodes = [\"worker\"]\n[kafka]\noutput-topic = \"out\"\ndlq-topic = \"out\"\n",
        )]);
        let kafka = load(dir.path(), &Env::new())
            .expect("valid")
            .kafka
            .expect("[kafka]");
        assert!(kafka.topics.is_empty());
        assert_eq!(kafka.output_topic.as_deref(), Some("out"));
        assert_eq!(kafka.dlq_topic.as_deref(), Some("out"));
    }

    #[test]
    fn the_log_says_what_the_worker_will_do() {
        let dir = app(&[(CONFIG_FILE, KAFKA)]);
        assert_eq!(
            load(dir.path(), &Env::new())
                .expect("valid")
                .kafka_summary(),
            vec![
                "Kafka topics: orders, payments.v1",
                "Kafka consumer group: fraud-model",
                "Kafka output topic: scores",
                "Kafka dead-letter topic: orders.dlq",
                "Kafka value format: bytes",
            ]
        );
        let dir = app(&[(
            CONFIG_FILE,
            "entrypoint = \"scoring.model:f\"\nmodes = [\"worker\"]\n",
        )]);
        assert_eq!(
            load(dir.path(), &Env::new())
                .expect("valid")
                .kafka_summary(),
            vec![
                "Kafka topics: none configured; the worker needs BLACKLODGE_KAFKA_TOPICS at run time",
                "Kafka consumer group: scoring.model (the app name; group-id sets another)",
                "Kafka output topic: none, consume-only",
                "Kafka dead-letter topic: none; a message that keeps failing stops the worker without committing it",
                "Kafka value format: json (default)",
            ]
        );
        let dir = app(&[(CONFIG_FILE, "entrypoint = \"m:f\"\n")]);
        assert!(
            load(dir.path(), &Env::new())
                .expect("valid")
                .kafka_summary()
                .is_empty()
        );
    }
}
