//! pip's configuration files: where pip looks for them, and how what they set combines with
//! the build's `PIP_*` variables into the settings the translation reads.

use super::{Unsupported, ini};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The state of pip's settings the translation reads: the `PIP_*` and `UV_*` variables of
/// the build and pip's configuration files that exist.
#[derive(Debug, Clone, Default)]
pub(crate) struct PipSettings {
    /// `PIP_*` settings as pip resolves them (the build's variables, else the configuration
    /// files' `[install]`, else their `[global]`), under their variable names, and `UV_*`.
    pub(crate) vars: BTreeMap<String, String>,
    /// Where each `PIP_*` setting read from a configuration file comes from
    /// (`pip.conf [global] index-url`), by variable name.
    pub(crate) origins: BTreeMap<String, String>,
    /// Configuration files pip could not parse either.
    pub(crate) unreadable: Vec<Unsupported>,
    /// A CA binding gives every tool a bundle, which takes the place of `PIP_CERT`.
    pub(crate) ca_bundle: bool,
}

impl PipSettings {
    /// The process's `PIP_*` and `UV_*` variables (pip reads its process environment, where
    /// the lifecycle puts the user's variables) and pip's configuration files.
    pub(crate) fn from_process(app_dir: &Path, ca_bundle: bool) -> Self {
        let vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| name.starts_with("PIP_") || name.starts_with("UV_"))
            .collect();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let config_file = vars.get("PIP_CONFIG_FILE").map(String::as_str);
        let files: Vec<(String, String)> = config_file_candidates(
            config_file,
            home.as_deref(),
            std::env::var("XDG_CONFIG_DIRS").ok().as_deref(),
            std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .as_deref(),
            app_dir,
        )
        .into_iter()
        .filter(|path| path.is_file())
        .filter_map(|path| {
            let contents = fs_err::read_to_string(&path).ok()?;
            let shown = path.strip_prefix(app_dir).unwrap_or(&path);
            Some((shown.display().to_string(), contents))
        })
        .collect();
        Self {
            vars,
            ca_bundle,
            ..Self::default()
        }
        .with_config(&files)
    }

    /// Adds what the configuration files `files` (name, contents; in pip's order, the one
    /// `PIP_CONFIG_FILE` names last) set, as pip 26 resolves it: within a section a later file
    /// wins; `[install]` wins over `[global]`; a `PIP_*` variable wins over both. The keys of a
    /// file's `[DEFAULT]` count as set in each of its sections (see [`ini`]).
    pub(crate) fn with_config(mut self, files: &[(String, String)]) -> Self {
        let mut sections: [BTreeMap<String, (String, String)>; 2] = Default::default();
        for (file, contents) in files {
            match ini::read(contents) {
                Ok(settings) => {
                    for setting in settings {
                        let index = match setting.section.as_str() {
                            "global" => 0,
                            "install" => 1,
                            _ => continue,
                        };
                        let key = normalized_key(&setting.key);
                        let section = if setting.from_default {
                            "DEFAULT"
                        } else {
                            &setting.section
                        };
                        let origin = format!("{file} [{section}] {key}");
                        sections[index].insert(pip_variable(&key), (setting.value, origin));
                    }
                }
                Err(why) => self.unreadable.push(Unsupported {
                    place: file.clone(),
                    what: "pip's configuration file".to_string(),
                    why,
                }),
            }
        }
        for section in sections {
            for (name, (value, origin)) in section {
                if self.vars.contains_key(&name) && !self.origins.contains_key(&name) {
                    continue; // the build's variable wins
                }
                self.vars.insert(name.clone(), value);
                self.origins.insert(name, origin);
            }
        }
        self
    }

    /// How the translation names a setting: its variable, or where a configuration file sets it.
    pub(super) fn label(&self, name: &str) -> String {
        self.origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// The value of the variable `name`, unless it is unset or blank.
    pub(super) fn set(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }
}
/// Where pip looks for configuration (pip's `get_configuration_files`): `PIP_CONFIG_FILE`
/// (relative to the app, where pip runs; `os.devnull` means none at all), the site-wide
/// `$XDG_CONFIG_DIRS/pip/pip.conf` and `/etc/pip.conf`, the user's `~/.pip/pip.conf` and
/// `$XDG_CONFIG_HOME/pip/pip.conf`. The venv's own `pip.conf` cannot exist: the venv is new.
pub(super) fn config_file_candidates(
    config_file: Option<&str>,
    home: Option<&Path>,
    xdg_config_dirs: Option<&str>,
    xdg_config_home: Option<&Path>,
    app_dir: &Path,
) -> Vec<PathBuf> {
    if config_file == Some("/dev/null") {
        return Vec::new();
    }
    let mut candidates: Vec<PathBuf> = xdg_config_dirs
        .filter(|dirs| !dirs.is_empty())
        .unwrap_or("/etc/xdg")
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join("pip/pip.conf"))
        .collect();
    candidates.push(PathBuf::from("/etc/pip.conf"));
    let env_file = config_file
        .filter(|file| !file.is_empty())
        .map(|file| app_dir.join(file));
    // pip skips the user's files when the one PIP_CONFIG_FILE names exists.
    let home = home.filter(|_| !env_file.as_ref().is_some_and(|file| file.exists()));
    if let Some(home) = home {
        candidates.push(home.join(".pip/pip.conf"));
        candidates.push(
            xdg_config_home
                .map_or_else(|| home.join(".config"), Path::to_path_buf)
                .join("pip/pip.conf"),
        );
    }
    candidates.extend(env_file);
    candidates
}

/// pip's name of a key (`_normalize_name`): lowercase, `-` for `_`, no leading `--`.
fn normalized_key(key: &str) -> String {
    let key = key.to_lowercase().replace('_', "-");
    key.strip_prefix("--").map_or(key.clone(), str::to_string)
}

/// The variable pip reads for a configuration key: `index-url` is `PIP_INDEX_URL`.
fn pip_variable(key: &str) -> String {
    format!("PIP_{}", key.to_ascii_uppercase().replace('-', "_"))
}
