//! What uv needs to install a requirements set as pip would: the options of the files that
//! uv reads differently or not at all, and pip's own settings (`PIP_*` variables, pip.conf),
//! turned into uv's arguments and variables. Whatever cannot be translated is reported with
//! its place, never ignored: pip would have honoured it.

use crate::requirements::{RequirementsFile, split_line};
use blacklodge_common::download::sha256_bytes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `uv pip install` gets besides the requirements file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UvSettings {
    /// Arguments (never secrets: hosts, flags, package names).
    pub(crate) args: Vec<String>,
    /// Variables of the uv process; values may carry credentials and are never logged.
    pub(crate) env: Vec<(String, String)>,
    /// What was translated, for the log (names, no values).
    pub(crate) notes: Vec<String>,
    /// Why hash-checking mode is on, e.g. `--hash on line 3 of requirements.txt`.
    pub(crate) hash_checking: Option<String>,
    /// Files with editable git requirements (`-e git+…`), which uv refuses: for the
    /// install, these lines are written without `-e` ([`Rewrite::apply`]).
    pub(crate) rewrites: Vec<Rewrite>,
}

/// Lines of a requirements file that uv reads without their `-e`: the file is rewritten in
/// place for the install and restored afterwards, so relative paths and includes mean what
/// they mean to pip, and uv's messages name the real file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewrite {
    pub(crate) path: PathBuf,
    /// 1-based numbers of the physical lines that carry `-e git+…`.
    pub(crate) lines: Vec<usize>,
}

impl Rewrite {
    /// `contents` with the editable option removed from the listed lines (the URL, with its
    /// `#egg=` fragment, stays; so does a comment after it).
    pub(crate) fn apply(&self, contents: &str) -> String {
        contents
            .split_inclusive('\n')
            .enumerate()
            .map(|(index, line)| {
                if self.lines.contains(&(index + 1)) {
                    without_editable(line).unwrap_or_else(|| line.to_string())
                } else {
                    line.to_string()
                }
            })
            .collect()
    }
}

/// `-e git+URL`, `--editable git+URL`, `--editable=git+URL` (and `-egit+URL`) as `git+URL`;
/// `None` for any other line.
fn without_editable(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    let rest = ["--editable", "-e"]
        .iter()
        .find_map(|option| trimmed.strip_prefix(option))?;
    let rest = rest.trim_start_matches(['=', ' ', '\t']);
    rest.starts_with("git+").then(|| rest.to_string())
}

/// Something pip would honour and uv cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported {
    /// Where: `line 3 of requirements.txt`, `PIP_PREFER_BINARY`, `/etc/pip.conf`.
    pub(crate) place: String,
    /// The option, variable or file.
    pub(crate) what: String,
    /// Why uv cannot honour it, and what else gives the same effect, if anything does.
    pub(crate) why: String,
}

/// The options pip accepts in requirements files that uv reads the same way.
const SAME_IN_UV: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--no-index",
    "--no-binary",
    "--only-binary",
];

const SETUP_PY_OPTION: &str = "passes options to setup.py, which uv never runs directly: it builds every package through the build backend interface (PEP 517)";

/// What the files' options ask for: flags for uv, and what cannot be honoured.
#[derive(Debug, Default)]
struct FileOptions {
    args: Vec<String>,
    notes: Vec<String>,
    hash_checking: Option<String>,
    /// The files choose the index (`--index-url` or `--no-index`), which pip lets override
    /// `PIP_INDEX_URL` and `PIP_EXTRA_INDEX_URL` (uv would prefer the variables).
    choose_index: bool,
    unsupported: Vec<Unsupported>,
    rewrites: Vec<Rewrite>,
}

fn read_options(files: &[RequirementsFile]) -> FileOptions {
    let mut found = FileOptions::default();
    let mut index_urls: Vec<(String, String)> = Vec::new();
    for file in files {
        for line in &file.lines {
            let place = format!("line {} of {}", line.number, file.name);
            let (requirement, options) = split_line(&line.text);
            for option in options {
                let value = option.value.clone().unwrap_or_default();
                let mut unsupported = |why: &str| {
                    found.unsupported.push(Unsupported {
                        place: place.clone(),
                        what: format!("`{}`", line.text),
                        why: why.to_string(),
                    });
                };
                match option.name.as_str() {
                    "--hash" | "--require-hashes" if found.hash_checking.is_none() => {
                        found.hash_checking = Some(format!("{} on {place}", option.name));
                    }
                    "--hash" | "--require-hashes" => {}
                    "-e" | "--editable" if value.starts_with("git+") => {
                        let physical = file.contents.lines().nth(line.number - 1);
                        if physical.and_then(without_editable).is_some() {
                            match found.rewrites.iter_mut().find(|r| r.path == file.path) {
                                Some(rewrite) => rewrite.lines.push(line.number),
                                None => found.rewrites.push(Rewrite {
                                    path: file.path.clone(),
                                    lines: vec![line.number],
                                }),
                            }
                            found
                                .notes
                                .push(format!("-e git+… → non-editable ({place})"));
                        } else {
                            unsupported(
                                "uv installs git requirements only non-editable, and this one continues over several lines: write it on one line (it is then installed without `-e`).",
                            );
                        }
                    }
                    "-e" | "--editable" if is_vcs(&value) => unsupported(
                        "uv installs no Mercurial, Subversion or Bazaar requirements, editable or not (git only).",
                    ),
                    "-i" | "--index-url" => {
                        found.choose_index = true;
                        index_urls.push((value, place.clone()));
                    }
                    "--no-index" => found.choose_index = true,
                    name if SAME_IN_UV.contains(&name) => {}
                    "--pre" => {
                        push_once(&mut found.args, &["--prerelease", "allow"]);
                        push_once(&mut found.notes, &[format!("--pre ({place})")]);
                    }
                    "--trusted-host" => {
                        found
                            .args
                            .extend(["--allow-insecure-host".to_string(), value]);
                        found.notes.push(format!("--trusted-host ({place})"));
                    }
                    "--use-feature" if value == "truststore" => {
                        // uv uses the system trust store already (`UV_SYSTEM_CERTS`).
                    }
                    "--use-feature" => {
                        unsupported("pip's feature switches have no counterpart in uv.");
                    }
                    "--prefer-binary" => unsupported(
                        "uv has no such preference: it installs the newest version that fits, built from source when it has no wheel. Pin the version that has a wheel instead.",
                    ),
                    "--global-option" | "--install-option" | "--build-option" => {
                        unsupported(&format!("`{}` {SETUP_PY_OPTION}.", option.name));
                    }
                    "--config-settings" if !requirement.is_empty() => unsupported(
                        "uv takes build backend settings only on its command line (`--config-settings-package`), not per requirement.",
                    ),
                    // Anything else is not a requirements file option for pip either; uv
                    // reports the line when it reads it.
                    _ => {}
                }
            }
        }
    }
    let mut distinct: Vec<&(String, String)> = Vec::new();
    for entry in &index_urls {
        if !distinct.iter().any(|(url, _)| *url == entry.0) {
            distinct.push(entry);
        }
    }
    if let [_, .., (_, last)] = distinct.as_slice() {
        found.unsupported.push(Unsupported {
            place: distinct
                .iter()
                .map(|(_, place)| place.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            what: "`--index-url` (more than one)".to_string(),
            why: format!(
                "pip uses the last one read ({last}), uv the first. Keep one --index-url and make the others --extra-index-url."
            ),
        });
    }
    found
}

fn push_once<T: PartialEq + Clone + Into<String>>(list: &mut Vec<String>, items: &[T]) {
    let items: Vec<String> = items.iter().cloned().map(Into::into).collect();
    if !list
        .windows(items.len())
        .any(|window| window == items.as_slice())
    {
        list.extend(items);
    }
}

fn is_vcs(url: &str) -> bool {
    ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
}

/// pip's reading of a boolean variable (`strtobool`); the error says why `value` is not one.
fn pip_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "t" | "true" | "on" | "1" => Ok(true),
        "n" | "no" | "f" | "false" | "off" | "0" | "" => Ok(false),
        _ => Err(format!(
            "'{value}' is not a value pip accepts here: yes/no, true/false, on/off or 1/0."
        )),
    }
}

/// `PIP_*` variables that change nothing uv installs: pip's output, its own cache, checks of
/// an existing environment (the venv is always new), and what this buildpack sets itself.
const NO_EFFECT: &[&str] = &[
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_INPUT",
    "PIP_PROGRESS_BAR",
    "PIP_NO_COLOR",
    "PIP_QUIET",
    "PIP_VERBOSE",
    "PIP_LOG",
    "PIP_LOG_FILE",
    "PIP_ROOT_USER_ACTION",
    "PIP_CACHE_DIR",
    "PIP_NO_CACHE_DIR",
    "PIP_NO_WARN_SCRIPT_LOCATION",
    "PIP_NO_WARN_CONFLICTS",
    "PIP_NO_PYTHON_VERSION_WARNING",
    "PIP_COMPILE",
    "PIP_NO_COMPILE",
    "PIP_EXISTS_ACTION",
    "PIP_UPGRADE",
    "PIP_UPGRADE_STRATEGY",
    "PIP_FORCE_REINSTALL",
    "PIP_IGNORE_INSTALLED",
    "PIP_BREAK_SYSTEM_PACKAGES",
    "PIP_REQUIRE_VIRTUALENV",
    "PIP_USE_PEP517",
    "PIP_RETRIES",
];

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
    /// wins; `[install]` wins over `[global]`; a `PIP_*` variable wins over both.
    pub(crate) fn with_config(mut self, files: &[(String, String)]) -> Self {
        let mut sections: [BTreeMap<String, (String, String)>; 2] = Default::default();
        for (file, contents) in files {
            match parse_pip_conf(contents) {
                Ok(entries) => {
                    for (section, key, value) in entries {
                        let index = match section.as_str() {
                            "global" => 0,
                            "install" => 1,
                            _ => continue,
                        };
                        let origin = format!("{file} [{section}] {key}");
                        sections[index].insert(pip_variable(&key), (value, origin));
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
    fn label(&self, name: &str) -> String {
        self.origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// What the venv's cache key records of the settings: every `PIP_*` and `UV_*` variable
    /// that can change what is installed, by name, with a digest of its value. Credentials in
    /// URLs are taken out before the digest, so no secret (not even its hash) reaches the
    /// layer metadata, which is part of the image.
    pub(crate) fn install_key(&self) -> BTreeMap<String, String> {
        self.vars
            .iter()
            .filter(|(name, value)| {
                !value.trim().is_empty()
                    && if name.starts_with("PIP_") {
                        !NO_EFFECT.contains(&name.as_str())
                    } else {
                        !uv_var_has_no_effect(name)
                    }
            })
            .map(|(name, value)| {
                let digest = sha256_bytes(without_credentials(value.trim()).as_bytes());
                (name.clone(), digest[..16].to_string())
            })
            .collect()
    }

    fn set(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }
}

/// `UV_*` variables that change nothing installed: uv's output, cache, parallelism and
/// timeouts, and index credentials (which change who may download, not what is installed).
fn uv_var_has_no_effect(name: &str) -> bool {
    [
        "UV_CACHE_DIR",
        "UV_NO_CACHE",
        "UV_NO_PROGRESS",
        "UV_CONCURRENT_DOWNLOADS",
        "UV_CONCURRENT_BUILDS",
        "UV_CONCURRENT_INSTALLS",
        "UV_HTTP_TIMEOUT",
        "UV_HTTP_RETRIES",
        "UV_NO_WRAP",
    ]
    .contains(&name)
        || ["_USERNAME", "_PASSWORD", "_TOKEN"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// The variable pip reads for a configuration key: `index-url`, `index_url` and
/// `--index-url` are all `PIP_INDEX_URL`.
fn pip_variable(key: &str) -> String {
    let key = key.trim().trim_start_matches("--").to_ascii_uppercase();
    format!("PIP_{}", key.replace('-', "_"))
}

/// `(section, key, value)` of every setting in a pip configuration file, read the way
/// Python's `configparser` (which pip uses) reads it: `[section]`, `key = value` or
/// `key: value`, indented lines continuing the value, `#` and `;` lines as comments.
fn parse_pip_conf(contents: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut entries: Vec<(String, String, String)> = Vec::new();
    let mut section: Option<String> = None;
    for (index, line) in contents.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match entries.last_mut() {
                Some(entry) if section.is_some() => {
                    entry.2.push('\n');
                    entry.2.push_str(trimmed);
                    continue;
                }
                _ => {
                    return Err(format!(
                        "line {number} is indented but continues no setting; pip cannot parse the file either. Remove the indentation or the line."
                    ));
                }
            }
        }
        if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = Some(name.trim().to_string());
            continue;
        }
        let Some(current) = &section else {
            return Err(format!(
                "line {number} comes before any [section]; pip cannot parse the file either. Put settings under [global] or [install]."
            ));
        };
        let Some(split) = trimmed.find(['=', ':']) else {
            return Err(format!(
                "line {number} (`{trimmed}`) is neither `key = value` nor a [section]; pip cannot parse the file either."
            ));
        };
        let key = trimmed[..split]
            .trim()
            .to_ascii_lowercase()
            .replace('_', "-");
        let value = trimmed[split + 1..].trim().to_string();
        entries.push((current.clone(), key, value));
    }
    Ok(entries)
}

/// `value` with the user and password taken out of every URL in it (`https://u:p@host/x`
/// → `https://host/x`).
fn without_credentials(value: &str) -> String {
    value
        .split_whitespace()
        .map(|token| {
            let Some((scheme, rest)) = token.split_once("://") else {
                return token.to_string();
            };
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://{host}/{path}"),
                None => token.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where pip looks for configuration (pip's `get_configuration_files`): `PIP_CONFIG_FILE`
/// (relative to the app, where pip runs; `os.devnull` means none at all), the site-wide
/// `$XDG_CONFIG_DIRS/pip/pip.conf` and `/etc/pip.conf`, the user's `~/.pip/pip.conf` and
/// `$XDG_CONFIG_HOME/pip/pip.conf`. The venv's own `pip.conf` cannot exist: the venv is new.
pub(crate) fn config_file_candidates(
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

/// Sets `uv_name` to `value` unless the build sets one of `uv_names` itself (its own uv
/// setting wins).
fn translate_var(
    settings: &PipSettings,
    out: &mut UvSettings,
    pip_name: &str,
    uv_names: &[&str],
    value: String,
) {
    if let Some(taken) = uv_names.iter().find(|name| settings.set(name).is_some()) {
        out.notes
            .push(format!("{pip_name} (not used: {taken} is set)"));
        return;
    }
    out.env.push((uv_names[0].to_string(), value));
    out.notes.push(format!("{pip_name} → {}", uv_names[0]));
}

/// The translation of the `PIP_*` variables and config files; `choose_index` when the
/// requirement files set the index themselves (pip then ignores `PIP_INDEX_URL` and
/// `PIP_EXTRA_INDEX_URL`).
#[allow(clippy::too_many_lines)]
fn read_pip_settings(
    settings: &PipSettings,
    choose_index: bool,
    out: &mut UvSettings,
) -> Vec<Unsupported> {
    let mut unsupported: Vec<Unsupported> = settings.unreadable.clone();
    let mut fail = |name: &str, why: &str| {
        unsupported.push(Unsupported {
            place: name.to_string(),
            what: name.to_string(),
            why: why.to_string(),
        });
    };
    for (name, value) in &settings.vars {
        let value = value.trim();
        if !name.starts_with("PIP_") || value.is_empty() || NO_EFFECT.contains(&name.as_str()) {
            continue;
        }
        let shown = settings.label(name);
        match name.as_str() {
            "PIP_INDEX_URL" | "PIP_EXTRA_INDEX_URL" if choose_index => {
                out.notes.push(format!(
                    "{shown} (not used: the requirement files set the index, as pip would)"
                ));
            }
            "PIP_INDEX_URL" => translate_var(
                settings,
                out,
                &shown,
                &["UV_INDEX_URL", "UV_DEFAULT_INDEX"],
                value.to_string(),
            ),
            "PIP_EXTRA_INDEX_URL" => translate_var(
                settings,
                out,
                &shown,
                &["UV_EXTRA_INDEX_URL"],
                // Both lists are separated by spaces.
                value.split_whitespace().collect::<Vec<_>>().join(" "),
            ),
            "PIP_FIND_LINKS" => translate_var(
                settings,
                out,
                &shown,
                &["UV_FIND_LINKS"],
                // pip separates with spaces, uv with commas.
                value.split_whitespace().collect::<Vec<_>>().join(","),
            ),
            "PIP_NO_INDEX" | "PIP_PRE" | "PIP_REQUIRE_HASHES" => match pip_bool(value) {
                Ok(false) => {}
                Ok(true) if name == "PIP_NO_INDEX" => {
                    push_once(&mut out.args, &["--no-index"]);
                    out.notes.push(format!("{shown} → --no-index"));
                }
                Ok(true) if name == "PIP_PRE" => {
                    push_once(&mut out.args, &["--prerelease", "allow"]);
                    out.notes.push(format!("{shown} → --prerelease allow"));
                }
                Ok(true) => {
                    if out.hash_checking.is_none() {
                        out.hash_checking = Some(shown.clone());
                    }
                }
                Err(why) => fail(&shown, &why),
            },
            "PIP_CONSTRAINT" => {
                let files: Vec<&str> = value.split_whitespace().collect();
                if files.iter().any(|file| file.contains("://")) {
                    fail(
                        &shown,
                        "The build reads constraints from files in the app only, so that a change to them is a change to the set (uv would also need the URL fetched). Save the file in the app and name its path here, relative to the app directory.",
                    );
                } else {
                    // Both lists are separated by spaces; both tools read relative paths
                    // from their working directory, the app directory.
                    translate_var(settings, out, &shown, &["UV_CONSTRAINT"], files.join(" "));
                }
            }
            // pip reads this `--no-…` variable inverted: a false value turns build isolation
            // off, a true one leaves it on (pip's option is `build_isolation`, stored false).
            "PIP_NO_BUILD_ISOLATION" => match pip_bool(value) {
                Ok(false) => {
                    push_once(&mut out.args, &["--no-build-isolation"]);
                    out.notes.push(format!(
                        "{shown}={value} → --no-build-isolation (pip reads a false value here as turning isolation off)"
                    ));
                }
                Ok(true) => out.notes.push(format!(
                    "{shown}={value} (no effect: pip reads a true value here as keeping build isolation on; set it to false to turn isolation off)"
                )),
                Err(why) => fail(&shown, &why),
            },
            "PIP_TRUSTED_HOST" => {
                if settings.set("UV_INSECURE_HOST").is_some() {
                    out.notes
                        .push(format!("{shown} (not used: UV_INSECURE_HOST is set)"));
                } else {
                    for host in value.split_whitespace() {
                        out.args
                            .extend(["--allow-insecure-host".to_string(), host.to_string()]);
                    }
                    out.notes.push(format!("{shown} → --allow-insecure-host"));
                }
            }
            "PIP_NO_BINARY" | "PIP_ONLY_BINARY" => {
                let flag = if name == "PIP_NO_BINARY" {
                    "--no-binary"
                } else {
                    "--only-binary"
                };
                for packages in value.split_whitespace() {
                    out.args.extend([flag.to_string(), packages.to_string()]);
                }
                out.notes.push(format!("{shown} → {flag}"));
            }
            "PIP_CERT" if settings.ca_bundle => {
                out.notes.push(format!(
                    "{shown} (not used: the CA certificate binding gives the bundle)"
                ));
            }
            "PIP_CERT" => {
                translate_var(settings, out, &shown, &["SSL_CERT_FILE"], value.to_string());
            }
            "PIP_CLIENT_CERT" => {
                translate_var(settings, out, &shown, &["SSL_CLIENT_CERT"], value.to_string());
            }
            "PIP_TIMEOUT" | "PIP_DEFAULT_TIMEOUT" => match value.parse::<f64>() {
                Ok(seconds) if seconds.is_finite() && seconds > 0.0 => translate_var(
                    settings,
                    out,
                    &shown,
                    &["UV_HTTP_TIMEOUT"],
                    format!("{}", seconds.ceil()),
                ),
                _ => fail(&shown, "pip accepts a number of seconds here."),
            },
            "PIP_USE_FEATURE" if value == "truststore" => {}
            "PIP_CONFIG_FILE" => {
                // Read above with the other configuration files.
            }
            "PIP_PREFER_BINARY" => fail(
                &shown,
                "uv has no such preference: it installs the newest version that fits, built from source when it has no wheel. Pin the version that has a wheel instead.",
            ),
            "PIP_GLOBAL_OPTION" | "PIP_BUILD_OPTION" | "PIP_INSTALL_OPTION" => {
                fail(&shown, &format!("It {SETUP_PY_OPTION}."));
            }
            _ => fail(
                &shown,
                "uv has no translation for this pip setting (only PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX, PIP_TRUSTED_HOST, PIP_PRE, PIP_REQUIRE_HASHES, PIP_NO_BINARY, PIP_ONLY_BINARY, PIP_CONSTRAINT, PIP_NO_BUILD_ISOLATION, PIP_CERT, PIP_CLIENT_CERT and PIP_TIMEOUT are translated; pip's output settings change nothing).",
            ),
        }
    }
    unsupported
}

/// What uv gets to install `files` as pip would with `settings`, or everything it cannot
/// honour.
pub(crate) fn for_uv(
    files: &[RequirementsFile],
    settings: &PipSettings,
) -> Result<UvSettings, Vec<Unsupported>> {
    let options = read_options(files);
    let mut out = UvSettings {
        args: options.args,
        env: Vec::new(),
        notes: options.notes,
        hash_checking: options.hash_checking,
        rewrites: options.rewrites,
    };
    let mut unsupported = options.unsupported;
    unsupported.extend(read_pip_settings(settings, options.choose_index, &mut out));
    if out.hash_checking.is_some() {
        out.args.push("--require-hashes".to_string());
    }
    if unsupported.is_empty() {
        Ok(out)
    } else {
        Err(unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::logical_lines;

    fn file(name: &str, contents: &str) -> RequirementsFile {
        RequirementsFile {
            path: PathBuf::from("/workspace").join(name),
            name: name.to_string(),
            contents: contents.to_string(),
            lines: logical_lines(contents),
        }
    }

    fn settings(vars: &[(&str, &str)]) -> PipSettings {
        PipSettings {
            vars: vars
                .iter()
                .map(|(name, value)| ((*name).to_string(), (*value).to_string()))
                .collect(),
            ..PipSettings::default()
        }
    }

    #[test]
    fn plain_requirements_need_nothing() {
        let files = [file(
            "requirements.txt",
            "flask==3.1.2\n-r base.txt\n-e .\n",
        )];
        assert_eq!(
            for_uv(&files, &settings(&[])).expect("supported"),
            UvSettings::default()
        );
    }

    #[test]
    fn a_hash_in_any_file_turns_hash_checking_on() {
        let files = [
            file("requirements.txt", "-r base.txt\nflask==3.1.2\n"),
            file(
                "requirements/base.txt",
                "# pinned\nsix==1.17.0 \\\n    --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274\n",
            ),
        ];
        let uv = for_uv(&files, &settings(&[])).expect("supported");
        assert_eq!(
            uv.hash_checking.as_deref(),
            Some("--hash on line 2 of requirements/base.txt")
        );
        assert_eq!(uv.args, ["--require-hashes"]);

        let uv = for_uv(
            &[file("requirements.txt", "flask==3.1.2\n")],
            &settings(&[("PIP_REQUIRE_HASHES", "yes")]),
        )
        .expect("supported");
        assert_eq!(uv.hash_checking.as_deref(), Some("PIP_REQUIRE_HASHES"));
        assert_eq!(uv.args, ["--require-hashes"]);
        // A hash in a comment is not one.
        let uv = for_uv(
            &[file(
                "requirements.txt",
                "flask==3.1.2  # --hash=sha256:x\n",
            )],
            &settings(&[]),
        )
        .expect("supported");
        assert_eq!(uv.hash_checking, None);
    }

    #[test]
    fn options_uv_ignores_in_files_become_arguments() {
        let files = [file(
            "requirements.txt",
            "--pre\n--trusted-host pypi.internal:8080\n--use-feature=truststore\nflask\n",
        )];
        let uv = for_uv(&files, &settings(&[])).expect("supported");
        assert_eq!(
            uv.args,
            [
                "--prerelease",
                "allow",
                "--allow-insecure-host",
                "pypi.internal:8080"
            ]
        );
        assert_eq!(
            uv.notes,
            [
                "--pre (line 1 of requirements.txt)",
                "--trusted-host (line 2 of requirements.txt)"
            ]
        );
    }

    #[test]
    fn options_uv_cannot_honour_are_reported_with_their_place() {
        let files = [
            file(
                "requirements.txt",
                "flask==3.1.2\n--prefer-binary\npsycopg2 --global-option=build_ext\n-r dev.txt\n",
            ),
            file(
                "dev.txt",
                "-e hg+https://hg.example/tool@v1#egg=tool\nlxml --config-settings=--build-option=--static\n--use-feature=fast-deps\n",
            ),
        ];
        let unsupported = for_uv(&files, &settings(&[])).expect_err("unsupported");
        let places: Vec<(&str, &str)> = unsupported
            .iter()
            .map(|item| (item.place.as_str(), item.what.as_str()))
            .collect();
        assert_eq!(
            places,
            [
                ("line 2 of requirements.txt", "`--prefer-binary`"),
                (
                    "line 3 of requirements.txt",
                    "`psycopg2 --global-option=build_ext`"
                ),
                (
                    "line 1 of dev.txt",
                    "`-e hg+https://hg.example/tool@v1#egg=tool`"
                ),
                (
                    "line 2 of dev.txt",
                    "`lxml --config-settings=--build-option=--static`"
                ),
                ("line 3 of dev.txt", "`--use-feature=fast-deps`"),
            ]
        );
        assert!(unsupported[1].why.contains("setup.py"), "{unsupported:?}");
    }

    #[test]
    fn editable_git_requirements_are_installed_without_e() {
        let contents = "flask==3.1.2\n-e git+https://github.com/org/tool@v1#egg=tool  # the CLI\n--editable=git+https://host/a.git#egg=a&subdirectory=pkg\n-e .\n";
        let uv = for_uv(
            &[
                file("requirements.txt", contents),
                file("dev.txt", "--editable git+https://host/b.git#egg=b\n"),
            ],
            &settings(&[]),
        )
        .expect("translated");
        assert_eq!(
            uv.rewrites,
            vec![
                Rewrite {
                    path: PathBuf::from("/workspace/requirements.txt"),
                    lines: vec![2, 3],
                },
                Rewrite {
                    path: PathBuf::from("/workspace/dev.txt"),
                    lines: vec![1],
                },
            ]
        );
        assert_eq!(
            uv.rewrites[0].apply(contents),
            "flask==3.1.2\ngit+https://github.com/org/tool@v1#egg=tool  # the CLI\ngit+https://host/a.git#egg=a&subdirectory=pkg\n-e .\n"
        );
        assert_eq!(
            uv.rewrites[1].apply("--editable git+https://host/b.git#egg=b"),
            "git+https://host/b.git#egg=b"
        );
        assert_eq!(
            uv.notes,
            [
                "-e git+… → non-editable (line 2 of requirements.txt)",
                "-e git+… → non-editable (line 3 of requirements.txt)",
                "-e git+… → non-editable (line 1 of dev.txt)",
            ]
        );
        // Over several physical lines it cannot be rewritten in place.
        let split = for_uv(
            &[file(
                "requirements.txt",
                "-e \\\ngit+https://host/c.git#egg=c\n",
            )],
            &settings(&[]),
        )
        .expect_err("continued");
        assert_eq!(split[0].place, "line 1 of requirements.txt");
    }

    #[test]
    fn several_index_urls_are_ambiguous() {
        let files = [
            file("requirements.txt", "-i https://a/simple\n-r b.txt\n"),
            file("b.txt", "--index-url https://b/simple\n"),
        ];
        let unsupported = for_uv(&files, &settings(&[])).expect_err("ambiguous");
        assert_eq!(
            unsupported[0].place,
            "line 1 of requirements.txt, line 1 of b.txt"
        );
        assert!(
            unsupported[0]
                .why
                .starts_with("pip uses the last one read (line 1 of b.txt), uv the first.")
        );
    }

    #[test]
    fn pip_variables_become_uv_variables_and_arguments() {
        let uv = for_uv(
            &[file("requirements.txt", "flask\n")],
            &settings(&[
                ("PIP_INDEX_URL", "https://user:secret@mirror/simple"),
                ("PIP_EXTRA_INDEX_URL", "https://a/simple  https://b/simple"),
                ("PIP_FIND_LINKS", "/workspace/wheels https://host/links"),
                ("PIP_NO_INDEX", "off"),
                ("PIP_PRE", "true"),
                ("PIP_TRUSTED_HOST", "a b:8080"),
                ("PIP_ONLY_BINARY", ":all:"),
                ("PIP_DEFAULT_TIMEOUT", "15.5"),
                ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
                ("PIP_NO_CACHE_DIR", "1"),
            ]),
        )
        .expect("supported");
        let env: BTreeMap<&str, &str> = uv
            .env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            env,
            BTreeMap::from([
                ("UV_INDEX_URL", "https://user:secret@mirror/simple"),
                ("UV_EXTRA_INDEX_URL", "https://a/simple https://b/simple"),
                ("UV_FIND_LINKS", "/workspace/wheels,https://host/links"),
                ("UV_HTTP_TIMEOUT", "16"),
            ])
        );
        assert_eq!(
            uv.args,
            [
                "--only-binary",
                ":all:",
                "--prerelease",
                "allow",
                "--allow-insecure-host",
                "a",
                "--allow-insecure-host",
                "b:8080"
            ]
        );
        assert!(uv.notes.iter().all(|note| !note.contains("secret")));
        assert!(
            uv.notes
                .contains(&"PIP_INDEX_URL → UV_INDEX_URL".to_string())
        );
    }

    #[test]
    fn uv_variables_of_the_build_win() {
        let uv = for_uv(
            &[file("requirements.txt", "flask\n")],
            &settings(&[
                ("PIP_INDEX_URL", "https://pip/simple"),
                ("UV_DEFAULT_INDEX", "https://uv/simple"),
                ("PIP_TRUSTED_HOST", "a"),
                ("UV_INSECURE_HOST", "b"),
            ]),
        )
        .expect("supported");
        assert!(uv.env.is_empty(), "{uv:?}");
        assert!(uv.args.is_empty(), "{uv:?}");
        assert!(
            uv.notes
                .contains(&"PIP_INDEX_URL (not used: UV_DEFAULT_INDEX is set)".to_string())
        );
    }

    #[test]
    fn an_index_chosen_by_the_files_wins_over_the_variables_as_with_pip() {
        let uv = for_uv(
            &[file(
                "requirements.txt",
                "--index-url https://file/simple\nflask\n",
            )],
            &settings(&[
                ("PIP_INDEX_URL", "https://pip/simple"),
                ("PIP_EXTRA_INDEX_URL", "https://extra/simple"),
            ]),
        )
        .expect("supported");
        assert!(uv.env.is_empty(), "{uv:?}");
        // Only extra indexes in the files: pip adds them to the variables' indexes.
        let uv = for_uv(
            &[file(
                "requirements.txt",
                "--extra-index-url https://file/simple\nflask\n",
            )],
            &settings(&[("PIP_INDEX_URL", "https://pip/simple")]),
        )
        .expect("supported");
        assert_eq!(
            uv.env,
            [("UV_INDEX_URL".to_string(), "https://pip/simple".to_string())]
        );
    }

    #[test]
    fn pip_settings_uv_cannot_honour_are_errors() {
        let pip = settings(&[
            ("PIP_PREFER_BINARY", "1"),
            ("PIP_CONSTRAINT", "c.txt https://example.com/c.txt"),
            ("PIP_NO_INDEX", "maybe"),
            ("PIP_NO_BUILD_ISOLATION", "sometimes"),
            ("PIP_SRC", "/src"),
        ]);
        let pip = pip.with_config(&[("/etc/pip.conf".into(), "index-url = x\n".into())]);
        let unsupported =
            for_uv(&[file("requirements.txt", "flask\n")], &pip).expect_err("unsupported");
        let places: Vec<&str> = unsupported.iter().map(|u| u.place.as_str()).collect();
        assert_eq!(
            places,
            [
                "/etc/pip.conf",
                "PIP_CONSTRAINT",
                "PIP_NO_BUILD_ISOLATION",
                "PIP_NO_INDEX",
                "PIP_PREFER_BINARY",
                "PIP_SRC"
            ]
        );
        assert!(unsupported[1].why.contains("Save the file in the app"));
    }

    #[test]
    fn constraint_files_go_to_uv_unless_it_has_its_own() {
        let files = [file("requirements.txt", "flask\n")];
        let uv = for_uv(
            &files,
            &settings(&[("PIP_CONSTRAINT", " c.txt  /etc/more.txt ")]),
        )
        .expect("supported");
        assert_eq!(
            uv.env,
            [(
                "UV_CONSTRAINT".to_string(),
                "c.txt /etc/more.txt".to_string()
            )]
        );
        assert_eq!(uv.notes, ["PIP_CONSTRAINT → UV_CONSTRAINT"]);

        let uv = for_uv(
            &files,
            &settings(&[("PIP_CONSTRAINT", "c.txt"), ("UV_CONSTRAINT", "mine.txt")]),
        )
        .expect("supported");
        assert!(uv.env.is_empty(), "{:?}", uv.env);
        assert_eq!(
            uv.notes,
            ["PIP_CONSTRAINT (not used: UV_CONSTRAINT is set)"]
        );
    }

    #[test]
    fn no_build_isolation_is_read_inverted_as_pip_reads_it() {
        let files = [file("requirements.txt", "flask\n")];
        for off in ["false", "0", "no", "off"] {
            let uv =
                for_uv(&files, &settings(&[("PIP_NO_BUILD_ISOLATION", off)])).expect("supported");
            assert_eq!(uv.args, ["--no-build-isolation"], "{off}");
            assert_eq!(
                uv.notes,
                [format!(
                    "PIP_NO_BUILD_ISOLATION={off} → --no-build-isolation (pip reads a false value here as turning isolation off)"
                )]
            );
        }
        for on in ["true", "1", "yes"] {
            let uv =
                for_uv(&files, &settings(&[("PIP_NO_BUILD_ISOLATION", on)])).expect("supported");
            assert!(uv.args.is_empty(), "{on}: {:?}", uv.args);
            assert!(uv.notes[0].contains("no effect"), "{:?}", uv.notes);
        }
    }

    #[test]
    fn the_install_key_has_what_changes_the_install_without_secrets() {
        let key = settings(&[
            ("PIP_PRE", "1"),
            ("PIP_PROGRESS_BAR", "off"),
            (
                "PIP_EXTRA_INDEX_URL",
                "https://user:s3cret@pkgs.example/simple",
            ),
            ("UV_INDEX_PRIVATE_PASSWORD", "s3cret"),
            ("UV_CACHE_DIR", "/tmp/uv"),
            ("UV_NO_BUILD_ISOLATION", "1"),
            ("PIP_NO_BINARY", " "),
        ])
        .install_key();
        assert_eq!(
            key.keys().map(String::as_str).collect::<Vec<_>>(),
            ["PIP_EXTRA_INDEX_URL", "PIP_PRE", "UV_NO_BUILD_ISOLATION"]
        );
        // The digest is the URL's without its credentials: a new password keeps the key.
        let other_password = settings(&[(
            "PIP_EXTRA_INDEX_URL",
            "https://user:changed@pkgs.example/simple",
        )])
        .install_key();
        assert_eq!(
            other_password["PIP_EXTRA_INDEX_URL"],
            key["PIP_EXTRA_INDEX_URL"]
        );
        let other_host =
            settings(&[("PIP_EXTRA_INDEX_URL", "https://other.example/simple")]).install_key();
        assert_ne!(
            other_host["PIP_EXTRA_INDEX_URL"],
            key["PIP_EXTRA_INDEX_URL"]
        );
        assert_eq!(
            without_credentials("https://u:p@h/x http://h2 https://t@h3/a/b c.txt"),
            "https://h/x http://h2 https://h3/a/b c.txt"
        );
    }

    #[test]
    fn configuration_files_resolve_as_pip_resolves_them() {
        let pip = settings(&[("PIP_ONLY_BINARY", "pkg")]).with_config(&[
            (
                "/etc/pip.conf".into(),
                "# site-wide\n[global]\nindex-url = https://a/simple\nonly_binary = :all:\nextra-index-url =\n    https://x/simple\n    https://y/simple\n[install]\nindex-url: https://b/simple\n".into(),
            ),
            ("pip.conf".into(), "[global]\npre = yes\n[freeze]\nall = true\n".into()),
        ]);
        let vars: Vec<(&str, &str)> = pip
            .vars
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            vars,
            [
                (
                    "PIP_EXTRA_INDEX_URL",
                    "\nhttps://x/simple\nhttps://y/simple"
                ),
                ("PIP_INDEX_URL", "https://b/simple"),
                ("PIP_ONLY_BINARY", "pkg"),
                ("PIP_PRE", "yes"),
            ]
        );
        let uv = for_uv(&[file("requirements.txt", "flask\n")], &pip).expect("supported");
        assert_eq!(
            uv.env,
            [
                (
                    "UV_EXTRA_INDEX_URL".to_string(),
                    "https://x/simple https://y/simple".to_string()
                ),
                ("UV_INDEX_URL".to_string(), "https://b/simple".to_string()),
            ]
        );
        assert_eq!(
            uv.notes,
            [
                "/etc/pip.conf [global] extra-index-url → UV_EXTRA_INDEX_URL",
                "/etc/pip.conf [install] index-url → UV_INDEX_URL",
                "PIP_ONLY_BINARY → --only-binary",
                "pip.conf [global] pre → --prerelease allow",
            ]
        );
    }

    #[test]
    fn configuration_uv_cannot_honour_names_file_section_and_key() {
        let pip = settings(&[]).with_config(&[
            (
                "pip.conf".into(),
                "[install]\nprefer-binary = true\n".into(),
            ),
            (
                "broken.conf".into(),
                "[global]\n  stray\nno section\n".into(),
            ),
        ]);
        let unsupported =
            for_uv(&[file("requirements.txt", "flask\n")], &pip).expect_err("unsupported");
        let places: Vec<&str> = unsupported.iter().map(|u| u.place.as_str()).collect();
        assert_eq!(places, ["broken.conf", "pip.conf [install] prefer-binary"]);
        assert!(
            unsupported[0]
                .why
                .starts_with("line 2 is indented but continues no setting")
        );
        assert_eq!(
            parse_pip_conf("index-url = x\n").expect_err("no section"),
            "line 1 comes before any [section]; pip cannot parse the file either. Put settings under [global] or [install]."
        );
        assert_eq!(
            parse_pip_conf("[global]\n\nno value here\n").expect_err("no separator"),
            "line 3 (`no value here`) is neither `key = value` nor a [section]; pip cannot parse the file either."
        );
    }

    #[test]
    fn pip_looks_for_configuration_where_pip_does() {
        let app = Path::new("/workspace");
        assert_eq!(
            config_file_candidates(None, Some(Path::new("/home/cnb")), None, None, app),
            [
                "/etc/xdg/pip/pip.conf",
                "/etc/pip.conf",
                "/home/cnb/.pip/pip.conf",
                "/home/cnb/.config/pip/pip.conf"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(
            config_file_candidates(Some("pip.conf"), None, Some("/a:/b"), None, app),
            [
                "/a/pip/pip.conf",
                "/b/pip/pip.conf",
                "/etc/pip.conf",
                "/workspace/pip.conf"
            ]
            .map(PathBuf::from)
        );
        assert!(config_file_candidates(Some("/dev/null"), None, None, None, app).is_empty());
        // An existing PIP_CONFIG_FILE replaces the user's files (not the global ones).
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(dir.path().join("pip.conf"), "[global]\n").expect("write");
        assert_eq!(
            config_file_candidates(
                Some("pip.conf"),
                Some(Path::new("/home/cnb")),
                None,
                None,
                dir.path()
            ),
            [
                PathBuf::from("/etc/xdg/pip/pip.conf"),
                PathBuf::from("/etc/pip.conf"),
                dir.path().join("pip.conf")
            ]
        );
    }
}
