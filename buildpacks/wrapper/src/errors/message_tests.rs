//! Every variant's whole message, as the build log shows it (snapshots in `snapshots/`).
//! Kept apart from `errors.rs` so the messages can be read in one place.

use super::*;
use blacklodge_common::env::InvalidVariable;
use blacklodge_common::error::io_failure;
use blacklodge_common::error::render_all;

fn config(error: ConfigError) -> WrapperError {
    WrapperError::Config(error)
}

#[test]
fn every_configuration_message_whole() {
    insta::assert_snapshot!(render_all(&[
        (
            "config_read",
            config(ConfigError::Read {
                path: "/workspace/blacklodge.toml".into(),
                error: std::io::Error::from_raw_os_error(21),
            }),
        ),
        (
            "config_invalid",
            config(ConfigError::Invalid {
                origin: Origin::ConfigFile,
                message: "line 2: unknown field `port`".into(),
                in_kafka: false,
            }),
        ),
        ("config_two_places", config(ConfigError::TwoPlaces)),
        (
            "config_no_entrypoint",
            config(ConfigError::NoEntrypoint {
                origin: Origin::Pyproject,
            }),
        ),
        (
            "config_entrypoint_syntax",
            config(ConfigError::EntrypointSyntax {
                origin: format!("entrypoint in {CONFIG_FILE}"),
                value: "model.predict".into(),
                suggestion: Some("model:predict".into()),
            }),
        ),
        (
            "config_entrypoint_syntax_without_suggestion",
            config(ConfigError::EntrypointSyntax {
                origin: VAR_ENTRYPOINT.into(),
                value: "model:".into(),
                suggestion: None,
            }),
        ),
        (
            "config_unknown_mode",
            config(ConfigError::UnknownMode {
                origin: format!("modes in {CONFIG_FILE}"),
                value: "http".into(),
            }),
        ),
        (
            "config_no_modes",
            config(ConfigError::NoModes {
                origin: Origin::ConfigFile,
            }),
        ),
        (
            "config_duplicate_mode",
            config(ConfigError::DuplicateMode {
                origin: Origin::ConfigFile,
                mode: Mode::Web,
            }),
        ),
        (
            "config_default_not_declared",
            config(ConfigError::DefaultNotDeclared {
                origin: format!("default-mode in {CONFIG_FILE}"),
                default: Mode::Job,
                modes: vec![Mode::Web, Mode::Worker],
            }),
        ),
        (
            "config_invalid_text",
            config(ConfigError::InvalidText {
                place: CONFIG_FILE.into(),
                key: "entrypoint",
                value: "model:predict\u{200b}".into(),
            }),
        ),
        (
            "config_invalid_variable",
            config(ConfigError::InvalidVariable(InvalidVariable {
                name: VAR_VALIDATE.into(),
                value: "maybe".into(),
                expected: "true or false".into(),
            })),
        ),
    ]));
}

#[test]
fn every_kafka_configuration_message_whole() {
    insta::assert_snapshot!(render_all(&[
        (
            "kafka_without_worker",
            config(ConfigError::KafkaWithoutWorker {
                origin: Origin::ConfigFile,
                modes: vec![Mode::Web],
            }),
        ),
        (
            "kafka_invalid_topic_characters",
            config(ConfigError::InvalidTopic {
                place: format!("[kafka] in {CONFIG_FILE}"),
                key: "topics",
                value: "orders/eu".into(),
                problem: TopicProblem::Characters(vec!['/']),
            }),
        ),
        (
            "kafka_invalid_topic_dots",
            config(ConfigError::InvalidTopic {
                place: format!("[kafka] in {CONFIG_FILE}"),
                key: "output-topic",
                value: "..".into(),
                problem: TopicProblem::Dots,
            }),
        ),
        (
            "kafka_invalid_topic_empty",
            config(ConfigError::InvalidTopic {
                place: format!("[kafka] in {CONFIG_FILE}"),
                key: "topics",
                value: String::new(),
                problem: TopicProblem::Empty,
            }),
        ),
        (
            "kafka_invalid_topic_too_long",
            config(ConfigError::InvalidTopic {
                place: format!("[kafka] in {CONFIG_FILE}"),
                key: "topics",
                value: "o".repeat(250),
                problem: TopicProblem::TooLong(250),
            }),
        ),
        (
            "kafka_no_topics",
            config(ConfigError::NoTopics {
                place: format!("[kafka] in {CONFIG_FILE}"),
            }),
        ),
        (
            "kafka_duplicate_topic",
            config(ConfigError::DuplicateTopic {
                place: format!("[kafka] in {CONFIG_FILE}"),
                topic: "orders".into(),
            }),
        ),
        (
            "kafka_topic_loop",
            config(ConfigError::TopicLoop {
                place: format!("[kafka] in {CONFIG_FILE}"),
                key: "dlq-topic",
                topic: "orders".into(),
            }),
        ),
    ]));
}

#[test]
fn every_build_message_whole() {
    insta::assert_snapshot!(render_all(&[
        (
            "no_python",
            WrapperError::NoPython(CommandError::Spawn {
                command: "python3 --version".into(),
                error: std::io::Error::from_raw_os_error(2),
            }),
        ),
        (
            "inspect_no_python",
            WrapperError::Inspect(InspectError::NoPython(CommandError::failed(
                "python3 -c …",
                1,
                "Fatal Python error: init_fs_encoding: failed to get the Python codec of the filesystem encoding\n",
            ))),
        ),
        (
            "inspect_output",
            WrapperError::Inspect(InspectError::Output("hello from a .pth file\n".into())),
        ),
        (
            "io",
            WrapperError::Io(io_failure(
                "write",
                std::path::Path::new("/layers/blacklodge_wrapper/harness/config.json"),
            )(std::io::Error::from_raw_os_error(28))),
        ),
        (
            "install_dependencies_conflict",
            WrapperError::InstallDependencies {
                requirements: vec!["flask>=2.3".into(), "gunicorn>=22".into()],
                app_pins: vec!["Flask==2.2.5".into(), "six==1.17.0".into()],
                error: CommandError::failed(
                    "python3 -m pip install",
                    1,
                    "ERROR: Cannot install flask>=2.3 because these package versions have conflicting dependencies.\nThe conflict is caused by:\n    The user requested flask>=2.3\n    The user requested (constraint) flask==2.2.5\n",
                ),
            },
        ),
        (
            "validation",
            WrapperError::Validation(ValidationFailure {
                code: "not_callable".into(),
                title: "The entry point 'model:predict' is not callable".into(),
                detail: "model.predict is an int (42).".into(),
                fix: "Point the entrypoint at a function.".into(),
            }),
        ),
        (
            "validate_crashed",
            WrapperError::ValidateCrashed(CommandError::failed(
                "python3 -m blacklodge_harness validate",
                139,
                "Fatal Python error: Segmentation fault\n",
            )),
        ),
        (
            "kafka_client",
            WrapperError::KafkaClient {
                requirements: vec!["confluent-kafka>=2.6".into()],
                error: CommandError::failed(
                    "python3 -c 'import confluent_kafka'",
                    1,
                    "ImportError: librdkafka.so.1: cannot open shared object file: No such file or directory\n",
                ),
            },
        ),
    ]));
}

#[test]
fn every_install_failure_and_timeout_message_whole() {
    let install = |output: &str| WrapperError::InstallDependencies {
        requirements: vec!["gunicorn>=22".into()],
        app_pins: Vec::new(),
        error: CommandError::failed("python3 -m pip install", 1, output),
    };
    insta::assert_snapshot!(render_all(&[
        (
            "install_dependencies_hash_mismatch",
            install(
                "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.\n    gunicorn==27.0.1 from http://mirror/gunicorn-27.0.1-py3-none-any.whl:\n        Expected sha256 aa\n             Got        bb\n",
            ),
        ),
        (
            "install_dependencies_not_in_lock",
            install(
                "ERROR: In --require-hashes mode, all requirements must have their versions pinned with ==. These do not:\n    packaging from https://x/packaging-26.0-py3-none-any.whl\n",
            ),
        ),
        (
            "install_dependencies_unreachable",
            install(
                "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError': /simple/gunicorn/\nERROR: Could not find a version that satisfies the requirement gunicorn>=22 (from versions: none)\n",
            ),
        ),
        (
            "validate_timeout",
            WrapperError::ValidateTimeout(Hung {
                entrypoint: "model:predict".into(),
                limit: std::time::Duration::from_secs(7),
                frames: vec![crate::validate::Frame {
                    file: "model.py".into(),
                    line: 3,
                    function: "<module>".into(),
                    code: Some("time.sleep(10**6)".into()),
                }],
            }),
        ),
        (
            "validate_timeout_without_stack",
            WrapperError::ValidateTimeout(Hung {
                entrypoint: "model:predict".into(),
                limit: std::time::Duration::from_secs(1),
                frames: Vec::new(),
            }),
        ),
    ]));
}
