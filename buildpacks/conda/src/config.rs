//! Where packages come from and how they are chosen: the `BP_CONDA_*` variables, the app's
//! `.condarc` (the keys this buildpack reads), and `CONDA_OVERRIDE_*`.
//!
//! Precedence for each setting: the variable, then `.condarc`, then the default. Channels
//! named in `environment.yml` are used unless `BP_CONDA_CHANNELS` replaces them; `.condarc`
//! channels apply when the file names none.

use blacklodge_common::env::{self, InvalidVariable};
use libcnb::Env;
use rattler_solve::ChannelPriority;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use url::Url;

pub(crate) const ALIAS_VARIABLE: &str = "BP_CONDA_CHANNEL_ALIAS";
pub(crate) const CHANNELS_VARIABLE: &str = "BP_CONDA_CHANNELS";
pub(crate) const PRIORITY_VARIABLE: &str = "BP_CONDA_CHANNEL_PRIORITY";
pub(crate) const AUTH_FILE_VARIABLE: &str = "BP_CONDA_AUTH_FILE";
pub(crate) const CONDARC: &str = ".condarc";

/// conda's own default for channel names that are not URLs.
pub(crate) const DEFAULT_ALIAS: &str = "https://conda.anaconda.org/";

/// The `.condarc` keys this buildpack reads, each with the form its value must have and an
/// example; any other key is reported, not silently ignored.
pub(crate) const CONDARC_KEYS: [CondarcKey; 3] = [
    CondarcKey {
        name: "channels",
        form: "a list of channel names or URLs",
        example: "channels: [conda-forge]",
    },
    CondarcKey {
        name: "channel_alias",
        form: "an http, https or file URL",
        example: "channel_alias: https://conda.example.com/",
    },
    CondarcKey {
        name: "channel_priority",
        form: "strict, flexible or disabled",
        example: "channel_priority: strict",
    },
];

/// The names of [`CONDARC_KEYS`] as a message lists them: `channels, channel_alias and
/// channel_priority`.
pub(crate) fn condarc_key_names() -> String {
    let names: Vec<&str> = CONDARC_KEYS.iter().map(|key| key.name).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// A key of `.condarc` that this buildpack reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CondarcKey {
    pub(crate) name: &'static str,
    /// What its value must be, as a message says it.
    pub(crate) form: &'static str,
    /// A valid line.
    pub(crate) example: &'static str,
}

/// The `CONDA_OVERRIDE_*` variables conda and rattler honour, each with the virtual package it
/// sets.
pub(crate) const OVERRIDES: [(&str, &str); 6] = [
    ("CONDA_OVERRIDE_GLIBC", "__glibc"),
    ("CONDA_OVERRIDE_LINUX", "__linux"),
    ("CONDA_OVERRIDE_CUDA", "__cuda"),
    ("CONDA_OVERRIDE_ARCHSPEC", "__archspec"),
    ("CONDA_OVERRIDE_OSX", "__osx"),
    ("CONDA_OVERRIDE_WIN", "__win"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) channel_alias: Url,
    /// `BP_CONDA_CHANNELS`: replaces the channels of the environment file.
    pub(crate) channels_override: Option<Vec<String>>,
    /// `.condarc` `channels`: used when the environment file names none.
    pub(crate) condarc_channels: Vec<String>,
    pub(crate) priority: ChannelPriority,
    pub(crate) auth_file: Option<PathBuf>,
    /// `CONDA_OVERRIDE_*` set for the build, by variable name.
    pub(crate) overrides: BTreeMap<String, String>,
    /// `.condarc` keys that this buildpack does not read (reported as a warning).
    pub(crate) ignored_condarc_keys: Vec<String>,
}

/// Why the configuration cannot be used.
#[derive(Debug)]
pub(crate) enum ConfigError {
    Variable(InvalidVariable),
    /// `.condarc` exists but cannot be read as text.
    CondarcRead(std::io::Error),
    /// `.condarc` is not YAML (the parser's message, with line and column).
    CondarcSyntax(String),
    /// `.condarc` is YAML, but not a mapping of settings (`found` says what it is).
    CondarcNotMapping {
        found: String,
    },
    /// A key this buildpack reads has a value it cannot use.
    CondarcValue {
        key: CondarcKey,
        /// The line of the key in `.condarc`, when it is found there.
        line: Option<usize>,
        /// The value as the message describes it (`the number 5`, `'ftp://x'`).
        found: String,
    },
    /// `BP_CONDA_CHANNEL_ALIAS` is no URL.
    Alias {
        value: String,
    },
}

impl From<InvalidVariable> for ConfigError {
    fn from(error: InvalidVariable) -> Self {
        Self::Variable(error)
    }
}

/// What this buildpack reads of `.condarc`, checked.
#[derive(Debug, Default)]
struct Condarc {
    channels: Vec<String>,
    channel_alias: Option<Url>,
    channel_priority: Option<ChannelPriority>,
    /// The keys it has that this buildpack does not read.
    ignored: Vec<String>,
}

fn parse_priority(value: &str) -> Option<ChannelPriority> {
    match value.to_ascii_lowercase().as_str() {
        "strict" => Some(ChannelPriority::Strict),
        "flexible" => Some(ChannelPriority::Flexible),
        "disabled" => Some(ChannelPriority::Disabled),
        _ => None,
    }
}

/// `strict`, `flexible` or `disabled`, as conda spells them.
pub(crate) fn priority_name(priority: ChannelPriority) -> &'static str {
    match priority {
        ChannelPriority::Strict => "strict",
        ChannelPriority::Flexible => "flexible",
        ChannelPriority::Disabled => "disabled",
    }
}

/// The channel alias `value` as a URL ending in `/`, if it is an http(s) or file URL.
fn parse_alias(value: &str) -> Option<Url> {
    let with_slash = if value.ends_with('/') {
        value.to_string()
    } else {
        format!("{value}/")
    };
    Url::parse(&with_slash)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https" | "file"))
}

/// A YAML value as a message names it: `the number 5`, `'conda-forge'`, `a list`.
fn describe(value: &serde_yaml::Value) -> String {
    use serde_yaml::Value;
    match value {
        Value::Null => "empty".to_string(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => blacklodge_common::error::quote(text),
        Value::Sequence(_) => "a list".to_string(),
        Value::Mapping(_) => "a mapping".to_string(),
        Value::Tagged(tagged) => format!("a value tagged {}", tagged.tag),
    }
}

/// The line (from 1) where the top-level `key` of a block mapping is set in `text`.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|index| index + 1)
}

/// Reads the app's `.condarc`, if it has one: its keys this buildpack reads, checked, and the
/// others by name.
fn read_condarc(app_dir: &Path) -> Result<Condarc, ConfigError> {
    let path = app_dir.join(CONDARC);
    if !path.exists() {
        return Ok(Condarc::default());
    }
    let text = fs_err::read_to_string(&path).map_err(ConfigError::CondarcRead)?;
    let value: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|error| ConfigError::CondarcSyntax(crate::spec::yaml_error(&error)))?;
    let mapping = match value {
        serde_yaml::Value::Null => return Ok(Condarc::default()),
        serde_yaml::Value::Mapping(mapping) => mapping,
        other => {
            return Err(ConfigError::CondarcNotMapping {
                found: describe(&other),
            });
        }
    };
    let mut condarc = Condarc::default();
    for (key, value) in &mapping {
        let Some(name) = key.as_str() else {
            condarc.ignored.push(
                serde_yaml::to_string(key)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            );
            continue;
        };
        let Some(known) = CONDARC_KEYS.iter().find(|known| known.name == name) else {
            condarc.ignored.push(name.to_string());
            continue;
        };
        let invalid = |found: String| ConfigError::CondarcValue {
            key: *known,
            line: key_line(&text, name),
            found,
        };
        match name {
            "channels" => condarc.channels = condarc_channels(value).map_err(invalid)?,
            "channel_alias" => {
                let alias = value.as_str().ok_or_else(|| invalid(describe(value)))?;
                condarc.channel_alias =
                    Some(parse_alias(alias).ok_or_else(|| invalid(describe(value)))?);
            }
            _ => {
                condarc.channel_priority =
                    Some(condarc_priority(value).ok_or_else(|| invalid(describe(value)))?);
            }
        }
    }
    Ok(condarc)
}

/// `channels:` of `.condarc`: a list of names (or nothing); else what it is, for the message.
fn condarc_channels(value: &serde_yaml::Value) -> Result<Vec<String>, String> {
    let items = match value {
        serde_yaml::Value::Null => return Ok(Vec::new()),
        serde_yaml::Value::Sequence(items) => items,
        other => return Err(describe(other)),
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("a list whose item {} is {}", index + 1, describe(item)))
        })
        .collect()
}

/// `channel_priority:` of `.condarc`: a name, or conda's older booleans (`true` is
/// flexible, `false` disabled).
fn condarc_priority(value: &serde_yaml::Value) -> Option<ChannelPriority> {
    match value {
        serde_yaml::Value::Bool(true) => Some(ChannelPriority::Flexible),
        serde_yaml::Value::Bool(false) => Some(ChannelPriority::Disabled),
        other => other.as_str().and_then(parse_priority),
    }
}

impl Config {
    pub(crate) fn load(app_dir: &Path, env: &Env) -> Result<Self, ConfigError> {
        let condarc = read_condarc(app_dir)?;
        let channel_alias = match (env::string(env, ALIAS_VARIABLE), condarc.channel_alias) {
            (Some(value), _) => parse_alias(&value).ok_or(ConfigError::Alias { value })?,
            (None, Some(alias)) => alias,
            (None, None) => parse_alias(DEFAULT_ALIAS).ok_or(ConfigError::Alias {
                value: DEFAULT_ALIAS.to_string(),
            })?,
        };
        let channels_override = env::string(env, CHANNELS_VARIABLE).map(|value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|channel| !channel.is_empty())
                .map(str::to_string)
                .collect()
        });
        let priority = match env::string(env, PRIORITY_VARIABLE) {
            Some(value) => parse_priority(&value).ok_or_else(|| InvalidVariable {
                name: PRIORITY_VARIABLE.to_string(),
                value,
                expected: "strict, flexible, disabled".to_string(),
            })?,
            None => condarc.channel_priority.unwrap_or(ChannelPriority::Strict),
        };
        let overrides = OVERRIDES
            .iter()
            .filter_map(|(name, _)| {
                env.get(name)
                    .map(|value| ((*name).to_string(), value.to_string_lossy().into_owned()))
            })
            .collect();
        Ok(Self {
            channel_alias,
            channels_override,
            condarc_channels: condarc.channels,
            priority,
            auth_file: env::string(env, AUTH_FILE_VARIABLE).map(PathBuf::from),
            overrides,
            ignored_condarc_keys: condarc.ignored,
        })
    }

    /// The channels to solve against, in priority order: `BP_CONDA_CHANNELS`, else the
    /// environment file's, else `.condarc`'s, else `conda-forge`.
    pub(crate) fn channels(&self, from_file: &[String]) -> Vec<String> {
        if let Some(channels) = &self.channels_override {
            return channels.clone();
        }
        if !from_file.is_empty() {
            return from_file.to_vec();
        }
        if !self.condarc_channels.is_empty() {
            return self.condarc_channels.clone();
        }
        vec!["conda-forge".to_string()]
    }
}

/// A URL as the log shows it: without user, password or `/t/<token>/`.
pub(crate) fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    let text = shown.to_string();
    match text.find("/t/") {
        Some(at) => {
            let rest = &text[at + 3..];
            let after = rest.find('/').map_or("", |slash| &rest[slash..]);
            format!("{}/t/********{after}", &text[..at])
        }
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(condarc: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(dir.path().join(CONDARC), condarc).expect("write");
        dir
    }

    #[test]
    fn variables_win_over_condarc_over_defaults() {
        let dir = app(
            "channel_alias: http://mirror.example/conda\nchannels: [bioconda]\nchannel_priority: flexible\nalways_yes: true\n",
        );
        let config = Config::load(dir.path(), &Env::new()).expect("valid");
        assert_eq!(
            config.channel_alias.as_str(),
            "http://mirror.example/conda/"
        );
        assert_eq!(config.priority, ChannelPriority::Flexible);
        assert_eq!(config.channels(&[]), vec!["bioconda"]);
        assert_eq!(
            config.channels(&["conda-forge".into()]),
            vec!["conda-forge"]
        );
        assert_eq!(config.ignored_condarc_keys, vec!["always_yes"]);

        let mut env = Env::new();
        env.insert(ALIAS_VARIABLE, "http://127.0.0.1:8766");
        env.insert(CHANNELS_VARIABLE, "conda-forge, ./vendor/channel");
        env.insert(PRIORITY_VARIABLE, "Disabled");
        env.insert("CONDA_OVERRIDE_GLIBC", "2.17");
        let config = Config::load(dir.path(), &env).expect("valid");
        assert_eq!(config.channel_alias.as_str(), "http://127.0.0.1:8766/");
        assert_eq!(config.priority, ChannelPriority::Disabled);
        assert_eq!(
            config.channels(&["defaults".into()]),
            vec!["conda-forge", "./vendor/channel"]
        );
        assert_eq!(
            config
                .overrides
                .get("CONDA_OVERRIDE_GLIBC")
                .map(String::as_str),
            Some("2.17")
        );
    }

    #[test]
    fn bad_values_are_errors() {
        let mut env = Env::new();
        env.insert(PRIORITY_VARIABLE, "sometimes");
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            Config::load(dir.path(), &env),
            Err(ConfigError::Variable(_))
        ));
        let mut env = Env::new();
        env.insert(ALIAS_VARIABLE, "not a url");
        assert!(matches!(
            Config::load(dir.path(), &env),
            Err(ConfigError::Alias { value }) if value == "not a url"
        ));
        let defaults = tempfile::tempdir().expect("tempdir");
        let config = Config::load(defaults.path(), &Env::new()).expect("valid");
        assert_eq!(config.channel_alias.as_str(), DEFAULT_ALIAS);
        assert_eq!(config.channels(&[]), vec!["conda-forge"]);
    }

    /// The error of loading `.condarc` with `text`, as "variant: fields".
    fn condarc_error(text: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(dir.path().join(CONDARC), text).expect("write");
        match Config::load(dir.path(), &Env::new()) {
            Ok(config) => panic!("{text:?} is accepted: {config:?}"),
            Err(ConfigError::CondarcRead(error)) => format!("read: {}", error.kind()),
            Err(ConfigError::CondarcSyntax(message)) => format!("syntax: {message}"),
            Err(ConfigError::CondarcNotMapping { found }) => format!("not a mapping: {found}"),
            Err(ConfigError::CondarcValue { key, line, found }) => {
                format!("{} line {line:?}: {found}", key.name)
            }
            Err(other) => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn condarc_mistakes_name_the_key_line_and_value() {
        assert_eq!(
            condarc_error(b"channels: [a\n"),
            "syntax: did not find expected ',' or ']' at line 2 column 1, while parsing a flow sequence at line 1 column 11"
        );
        assert_eq!(condarc_error(b"- conda-forge\n"), "not a mapping: a list");
        assert_eq!(
            condarc_error(b"conda-forge\n"),
            "not a mapping: 'conda-forge'"
        );
        assert_eq!(condarc_error(b"\xff\xfe\n"), "read: invalid data");
        assert_eq!(
            condarc_error(b"channels: 5\n"),
            "channels line Some(1): the number 5"
        );
        assert_eq!(
            condarc_error(b"# mirror\nchannels:\n  - conda-forge\n  - 5\n"),
            "channels line Some(2): a list whose item 2 is the number 5"
        );
        assert_eq!(
            condarc_error(b"channels: {conda-forge: 1}\n"),
            "channels line Some(1): a mapping"
        );
        assert_eq!(
            condarc_error(b"channel_alias: ftp://mirror.example\n"),
            "channel_alias line Some(1): 'ftp://mirror.example'"
        );
        assert_eq!(
            condarc_error(b"channel_alias: [a]\n"),
            "channel_alias line Some(1): a list"
        );
        assert_eq!(
            condarc_error(b"{channel_priority: sometimes}\n"),
            "channel_priority line None: 'sometimes'"
        );
        // The file is checked even when a variable takes the setting's place.
        let dir = app("channel_priority: 1\n");
        let mut env = Env::new();
        env.insert(PRIORITY_VARIABLE, "strict");
        assert!(matches!(
            Config::load(dir.path(), &env),
            Err(ConfigError::CondarcValue { found, .. }) if found == "the number 1"
        ));
    }

    #[test]
    fn condarc_without_settings_or_with_conda_booleans_is_accepted() {
        for text in ["", "# nothing yet\n", "channels:\n"] {
            let config = Config::load(app(text).path(), &Env::new()).expect("valid");
            assert_eq!(config.channels(&[]), vec!["conda-forge"], "{text:?}");
            assert_eq!(config.priority, ChannelPriority::Strict, "{text:?}");
        }
        // conda's older spelling of the priority.
        let config =
            Config::load(app("channel_priority: false\n").path(), &Env::new()).expect("valid");
        assert_eq!(config.priority, ChannelPriority::Disabled);
        let config =
            Config::load(app("channel_priority: true\n").path(), &Env::new()).expect("valid");
        assert_eq!(config.priority, ChannelPriority::Flexible);
        let config = Config::load(
            app("ssl_verify: false\n1: one\nchannels: [bioconda]\n").path(),
            &Env::new(),
        )
        .expect("valid");
        assert_eq!(config.ignored_condarc_keys, vec!["ssl_verify", "1"]);
        assert_eq!(config.channels(&[]), vec!["bioconda"]);
    }

    #[test]
    fn credentials_are_not_logged() {
        let url =
            Url::parse("https://user:secret@repo.example/t/abc123/conda-forge/").expect("url");
        assert_eq!(redact(&url), "https://repo.example/t/********/conda-forge/");
    }
}
