//! Every way the wrapper buildpack can fail, and the one place that explains each to the user.

use crate::config::{
    CONFIG_FILE, ConfigError, KNOWN_VARIABLES, Mode, Origin, PYPROJECT, TopicProblem,
    VAR_ENTRYPOINT, VAR_VALIDATE, VAR_VALIDATE_TIMEOUT,
};
use crate::validate::Hung;
use blacklodge_common::command::CommandError;
use blacklodge_common::error::{IoFailure, UserError, UserFacing};
use blacklodge_common::output;
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::python_env::InspectError;

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
    /// Reading the app's Python environment: no `python3`, or its description is not what we
    /// expect.
    Inspect(InspectError),
    Io(IoFailure),
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
    /// The worker mode is enabled, but `import confluent_kafka` fails with the app's Python.
    KafkaClient {
        requirements: Vec<String>,
        error: CommandError,
    },
    /// Importing the entry point did not finish within `BP_BLACKLODGE_VALIDATE_TIMEOUT`.
    ValidateTimeout(Hung),
}

blacklodge_common::buildpack_error!(WrapperError, Config(ConfigError), Deps(DepsError));

/// The last lines of a tool's output: the part that says what went wrong.
fn tail(output: &str, lines: usize) -> String {
    let all: Vec<&str> = output.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

const SCHEMA_FIX: &str = "The keys are: entrypoint = \"module:attribute\" (required), modes = [\"web\", \"worker\", \"job\"], default-mode = \"web\", name = \"...\", version = \"...\", and a [kafka] table for the worker. See docs/wrapper.md.";
const KAFKA_FIX: &str = "The keys of [kafka] are: topics = [\"orders\"], group-id = \"...\", output-topic = \"...\", dlq-topic = \"...\", value-format = \"json\" or \"bytes\"; all optional, each a default the worker's BLACKLODGE_KAFKA_* variables override at run time. See docs/wrapper.md.";
const TOPIC_RULE: &str = "a Kafka topic name has 1 to 249 characters, each a letter (a-z, A-Z), a digit, '.', '_' or '-', and is not '.' or '..'";

fn quoted_modes(modes: &[Mode]) -> String {
    modes
        .iter()
        .map(|mode| format!("'{mode}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn topic_problem(problem: &TopicProblem) -> String {
    match problem {
        TopicProblem::Empty => "it is empty".to_string(),
        TopicProblem::Dots => "'.' and '..' are not topic names".to_string(),
        TopicProblem::TooLong(length) => format!("it has {length} characters"),
        TopicProblem::Characters(characters) => format!(
            "{} {} not allowed",
            characters
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            if characters.len() == 1 { "is" } else { "are" }
        ),
    }
}

fn config_error(error: &ConfigError) -> UserError {
    match error {
        ConfigError::Read { path, error } => UserError::io(
            "read",
            path,
            error,
            "Make sure the file is a readable text file.",
        ),
        ConfigError::Invalid {
            origin,
            message,
            in_kafka,
        } => UserError::new(
            format!("Invalid wrapper configuration in {}", origin_file(origin)),
            format!("{}: {message}", origin_file(origin)),
            if *in_kafka { KAFKA_FIX } else { SCHEMA_FIX },
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
        ConfigError::UnknownMode { origin, value } => UserError::new(
            "Unknown mode",
            format!(
                "{origin} contains '{value}'. The modes are {}.",
                Mode::ALL
                    .iter()
                    .map(|mode| format!("'{mode}' ({})", mode.purpose()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "Use one or more of \"web\", \"worker\" and \"job\".",
        ),
        ConfigError::NoModes { origin } => UserError::new(
            "No modes declared",
            format!("modes in {origin} is empty, so the image would have no process."),
            "List at least one mode, e.g. modes = [\"web\"], or remove the key to get web and job (and worker with a [kafka] table).",
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
                quoted_modes(modes)
            ),
            format!("Add '{default}' to modes, or choose one of the declared modes as the default."),
        ),
        ConfigError::InvalidText { place, key, value } => UserError::new(
            format!("Invalid {key} in the wrapper configuration"),
            format!("{key} in {place} is {value:?}: it must be non-empty printable text of at most 200 characters."),
            format!("Fix {key}, or remove it."),
        ),
        ConfigError::KafkaWithoutWorker { .. }
        | ConfigError::InvalidTopic { .. }
        | ConfigError::NoTopics { .. }
        | ConfigError::DuplicateTopic { .. }
        | ConfigError::TopicLoop { .. } => kafka_error(error),
        ConfigError::InvalidVariable(error) => UserError::from(error),
        ConfigError::UnknownVariable { name, suggestion } => {
            unknown_variable_error(name, *suggestion)
        }
    }
}

/// The errors of the `[kafka]` table.
fn kafka_error(error: &ConfigError) -> UserError {
    match error {
        ConfigError::KafkaWithoutWorker { origin, modes } => UserError::new(
            "A [kafka] table without the worker mode",
            format!(
                "{} configures the Kafka worker, but modes in {origin} only has {}, so no process would read it.",
                origin.kafka_table(),
                quoted_modes(modes)
            ),
            format!(
                "Add \"worker\" to modes (modes = [{}, \"worker\"]), or remove modes to get web, job and worker; or delete the [kafka] table if the image needs no worker.",
                modes
                    .iter()
                    .map(|mode| format!("\"{mode}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ConfigError::InvalidTopic {
            place,
            key,
            value,
            problem,
        } => UserError::new(
            format!("Invalid Kafka topic name in {key}"),
            format!(
                "{key} in {place} has {value:?}: {}; {TOPIC_RULE}.",
                topic_problem(problem)
            ),
            "Write the topic's name exactly as the cluster knows it (e.g. \"orders\" or \"payments.v1\"); list several topics as separate strings: topics = [\"orders\", \"refunds\"].",
        ),
        ConfigError::NoTopics { place } => UserError::new(
            "No Kafka topics listed",
            format!("topics in {place} is empty, so the worker would have nothing to consume."),
            "List the input topics, e.g. topics = [\"orders\"], or remove the key and set BLACKLODGE_KAFKA_TOPICS when the worker runs.",
        ),
        ConfigError::DuplicateTopic { place, topic } => UserError::new(
            "A Kafka topic is listed twice",
            format!("topics in {place} lists '{topic}' more than once."),
            "List each topic once.",
        ),
        ConfigError::TopicLoop { place, key, topic } => UserError::new(
            format!("The {key} is also an input topic"),
            format!(
                "{key} in {place} is '{topic}', which is also in topics: the worker would consume every record it writes there again, without end."
            ),
            format!(
                "Write {key} to a topic of its own (e.g. '{topic}.out' or '{topic}.dlq'), or remove '{topic}' from topics."
            ),
        ),
        other => config_error(other),
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
            Self::NoPython(error) | Self::Inspect(InspectError::NoPython(error)) => UserError::new(
                "No Python to run the entry point with",
                format!(
                    "`{}` {}:\n{}",
                    error.command(),
                    error.reason(),
                    tail(error.output(), 10)
                ),
                "The blacklodge/python buildpack must run before blacklodge/wrapper: build with the Blacklodge builder, or list both buildpacks.",
            ),
            Self::Inspect(InspectError::Output(output)) => UserError::new(
                "Could not inspect the Python environment",
                format!(
                    "Python printed something unexpected while listing the installed packages:\n{}",
                    tail(output, 10)
                ),
                "This is likely a bug in the wrapper; please report it with the build log.",
            ),
            Self::Io(failure) => failure.user_error(
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
            Self::KafkaClient {
                requirements,
                error,
            } => UserError::new(
                "The Kafka client does not import",
                format!(
                    "The worker mode runs on confluent-kafka ({}), and importing confluent_kafka with the app's Python failed:\n{}",
                    requirements.join(", "),
                    tail(error.output(), 10)
                ),
                "If your app installs confluent-kafka itself, install a release that imports on this image: PyPI's manylinux wheels include librdkafka; a build from source needs librdkafka in the image. Or remove \"worker\" from modes (and the [kafka] table) if the image needs no worker.",
            ),
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

#[cfg(test)]
mod message_tests;

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

    /// (title, detail, fix) of a configuration error.
    fn message(error: ConfigError) -> (String, String, String) {
        let error = WrapperError::Config(error).user_error();
        (error.title, error.detail, error.fix)
    }

    fn strings(title: &str, detail: &str, fix: &str) -> (String, String, String) {
        (title.to_string(), detail.to_string(), fix.to_string())
    }

    #[test]
    fn an_unknown_kafka_key_lists_the_kafka_keys() {
        assert_eq!(
            message(ConfigError::Invalid {
                origin: Origin::Pyproject,
                message: "line 9, in [tool.blacklodge.kafka]: unknown field `topic`, expected one of `topics`, `group-id`, `output-topic`, `dlq-topic`, `value-format`".into(),
                in_kafka: true,
            }),
            strings(
                "Invalid wrapper configuration in pyproject.toml",
                "pyproject.toml: line 9, in [tool.blacklodge.kafka]: unknown field `topic`, expected one of `topics`, `group-id`, `output-topic`, `dlq-topic`, `value-format`",
                "The keys of [kafka] are: topics = [\"orders\"], group-id = \"...\", output-topic = \"...\", dlq-topic = \"...\", value-format = \"json\" or \"bytes\"; all optional, each a default the worker's BLACKLODGE_KAFKA_* variables override at run time. See docs/wrapper.md.",
            )
        );
    }

    #[test]
    fn an_unknown_mode_lists_the_three_modes() {
        assert_eq!(
            message(ConfigError::UnknownMode {
                origin: "modes in blacklodge.toml".into(),
                value: "kafka".into(),
            }),
            strings(
                "Unknown mode",
                "modes in blacklodge.toml contains 'kafka'. The modes are 'web' (HTTP service), 'worker' (Kafka consumer), 'job' (one-shot run).",
                "Use one or more of \"web\", \"worker\" and \"job\".",
            )
        );
    }

    #[test]
    fn kafka_without_the_worker_says_how_to_add_it() {
        assert_eq!(
            message(ConfigError::KafkaWithoutWorker {
                origin: Origin::ConfigFile,
                modes: vec![Mode::Web, Mode::Job],
            }),
            strings(
                "A [kafka] table without the worker mode",
                "[kafka] in blacklodge.toml configures the Kafka worker, but modes in blacklodge.toml only has 'web', 'job', so no process would read it.",
                "Add \"worker\" to modes (modes = [\"web\", \"job\", \"worker\"]), or remove modes to get web, job and worker; or delete the [kafka] table if the image needs no worker.",
            )
        );
        assert_eq!(
            message(ConfigError::KafkaWithoutWorker {
                origin: Origin::Pyproject,
                modes: vec![Mode::Job],
            })
            .1,
            "[tool.blacklodge.kafka] in pyproject.toml configures the Kafka worker, but modes in [tool.blacklodge] in pyproject.toml only has 'job', so no process would read it."
        );
    }

    #[test]
    fn an_invalid_topic_says_what_is_wrong_and_the_rule() {
        const FIX: &str = "Write the topic's name exactly as the cluster knows it (e.g. \"orders\" or \"payments.v1\"); list several topics as separate strings: topics = [\"orders\", \"refunds\"].";
        let topic = |key, value: &str, problem| {
            message(ConfigError::InvalidTopic {
                place: "[kafka] in blacklodge.toml".into(),
                key,
                value: value.into(),
                problem,
            })
        };
        assert_eq!(
            topic(
                "topics",
                "orders,refunds",
                TopicProblem::Characters(vec![','])
            ),
            strings(
                "Invalid Kafka topic name in topics",
                "topics in [kafka] in blacklodge.toml has \"orders,refunds\": ',' is not allowed; a Kafka topic name has 1 to 249 characters, each a letter (a-z, A-Z), a digit, '.', '_' or '-', and is not '.' or '..'.",
                FIX,
            )
        );
        assert_eq!(
            topic(
                "output-topic",
                "a b/c",
                TopicProblem::Characters(vec![' ', '/'])
            )
            .1,
            "output-topic in [kafka] in blacklodge.toml has \"a b/c\": ' ', '/' are not allowed; a Kafka topic name has 1 to 249 characters, each a letter (a-z, A-Z), a digit, '.', '_' or '-', and is not '.' or '..'."
        );
        assert_eq!(
            topic("dlq-topic", "..", TopicProblem::Dots).1,
            "dlq-topic in [kafka] in blacklodge.toml has \"..\": '.' and '..' are not topic names; a Kafka topic name has 1 to 249 characters, each a letter (a-z, A-Z), a digit, '.', '_' or '-', and is not '.' or '..'."
        );
        assert_eq!(
            topic("topics", "", TopicProblem::Empty).1,
            "topics in [kafka] in blacklodge.toml has \"\": it is empty; a Kafka topic name has 1 to 249 characters, each a letter (a-z, A-Z), a digit, '.', '_' or '-', and is not '.' or '..'."
        );
        assert!(
            topic("topics", &"t".repeat(250), TopicProblem::TooLong(250))
                .1
                .ends_with("\": it has 250 characters; a Kafka topic name has 1 to 249 characters, each a letter (a-z, A-Z), a digit, '.', '_' or '-', and is not '.' or '..'.")
        );
    }

    #[test]
    fn empty_duplicate_and_looping_topics_are_explained() {
        let place = || "[kafka] in blacklodge.toml".to_string();
        assert_eq!(
            message(ConfigError::NoTopics { place: place() }),
            strings(
                "No Kafka topics listed",
                "topics in [kafka] in blacklodge.toml is empty, so the worker would have nothing to consume.",
                "List the input topics, e.g. topics = [\"orders\"], or remove the key and set BLACKLODGE_KAFKA_TOPICS when the worker runs.",
            )
        );
        assert_eq!(
            message(ConfigError::DuplicateTopic {
                place: place(),
                topic: "orders".into(),
            }),
            strings(
                "A Kafka topic is listed twice",
                "topics in [kafka] in blacklodge.toml lists 'orders' more than once.",
                "List each topic once.",
            )
        );
        assert_eq!(
            message(ConfigError::TopicLoop {
                place: place(),
                key: "dlq-topic",
                topic: "orders".into(),
            }),
            strings(
                "The dlq-topic is also an input topic",
                "dlq-topic in [kafka] in blacklodge.toml is 'orders', which is also in topics: the worker would consume every record it writes there again, without end.",
                "Write dlq-topic to a topic of its own (e.g. 'orders.out' or 'orders.dlq'), or remove 'orders' from topics.",
            )
        );
        assert_eq!(
            message(ConfigError::InvalidText {
                place: place(),
                key: "group-id",
                value: "  ".into(),
            }),
            strings(
                "Invalid group-id in the wrapper configuration",
                "group-id in [kafka] in blacklodge.toml is \"  \": it must be non-empty printable text of at most 200 characters.",
                "Fix group-id, or remove it.",
            )
        );
    }
}
