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

/// The `.condarc` keys this buildpack reads; any other key is reported, not silently ignored.
const CONDARC_KEYS: [&str; 3] = ["channels", "channel_alias", "channel_priority"];

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
    /// `.condarc` is not YAML, or a key has the wrong type (message from the parser).
    Condarc(String),
    /// The channel alias is no URL (`source` says where it was set).
    Alias {
        value: String,
        source: String,
    },
}

impl From<InvalidVariable> for ConfigError {
    fn from(error: InvalidVariable) -> Self {
        Self::Variable(error)
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct Condarc {
    #[serde(default)]
    channels: Vec<String>,
    channel_alias: Option<String>,
    channel_priority: Option<String>,
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

fn parse_alias(value: &str, source: &str) -> Result<Url, ConfigError> {
    let with_slash = if value.ends_with('/') {
        value.to_string()
    } else {
        format!("{value}/")
    };
    Url::parse(&with_slash)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https" | "file"))
        .ok_or_else(|| ConfigError::Alias {
            value: value.to_string(),
            source: source.to_string(),
        })
}

fn read_condarc(app_dir: &Path) -> Result<(Condarc, Vec<String>), ConfigError> {
    let path = app_dir.join(CONDARC);
    let Ok(text) = fs_err::read_to_string(&path) else {
        return Ok((Condarc::default(), Vec::new()));
    };
    if text.trim().is_empty() {
        return Ok((Condarc::default(), Vec::new()));
    }
    let value: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|error| ConfigError::Condarc(crate::spec::yaml_error(&error)))?;
    let ignored = value
        .as_mapping()
        .map(|mapping| {
            mapping
                .keys()
                .filter_map(serde_yaml::Value::as_str)
                .filter(|key| !CONDARC_KEYS.contains(key))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let condarc = serde_yaml::from_value(value)
        .map_err(|error| ConfigError::Condarc(crate::spec::yaml_error(&error)))?;
    Ok((condarc, ignored))
}

impl Config {
    pub(crate) fn load(app_dir: &Path, env: &Env) -> Result<Self, ConfigError> {
        let (condarc, ignored_condarc_keys) = read_condarc(app_dir)?;
        let channel_alias = match (env::string(env, ALIAS_VARIABLE), &condarc.channel_alias) {
            (Some(value), _) => parse_alias(&value, ALIAS_VARIABLE)?,
            (None, Some(value)) => parse_alias(value, &format!("channel_alias in {CONDARC}"))?,
            (None, None) => parse_alias(DEFAULT_ALIAS, "the default")?,
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
            None => match &condarc.channel_priority {
                Some(value) => parse_priority(value).ok_or_else(|| {
                    ConfigError::Condarc(format!(
                        "channel_priority is '{value}'; accepted: strict, flexible, disabled."
                    ))
                })?,
                None => ChannelPriority::Strict,
            },
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
            ignored_condarc_keys,
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
            Err(ConfigError::Alias { .. })
        ));
        let dir = app("channels: [a\n");
        assert!(matches!(
            Config::load(dir.path(), &Env::new()),
            Err(ConfigError::Condarc(_))
        ));
        assert_eq!(
            Config::load(dir.path(), &Env::new())
                .map(|config| config.channels(&[]))
                .ok(),
            None
        );
        let defaults = tempfile::tempdir().expect("tempdir");
        let config = Config::load(defaults.path(), &Env::new()).expect("valid");
        assert_eq!(config.channel_alias.as_str(), DEFAULT_ALIAS);
        assert_eq!(config.channels(&[]), vec!["conda-forge"]);
    }

    #[test]
    fn credentials_are_not_logged() {
        let url =
            Url::parse("https://user:secret@repo.example/t/abc123/conda-forge/").expect("url");
        assert_eq!(redact(&url), "https://repo.example/t/********/conda-forge/");
    }
}
