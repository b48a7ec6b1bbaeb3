//! pip's settings (`PIP_*` variables, and the keys of pip's configuration files under the
//! same names) as one table: what each becomes for uv, or why uv cannot honour it.

use super::{PipSettings, SETUP_PY_OPTION, Unsupported, UvSettings, push_once};

/// What one pip setting becomes for uv.
enum Translation {
    /// Changes nothing uv installs: pip's output, its own cache, checks of an existing
    /// environment (the venv is always new), and what this buildpack sets itself.
    NoEffect,
    /// Read with pip's configuration files (`PIP_CONFIG_FILE`).
    ReadWithConfigFiles,
    /// The first of the uv variables `uv`, with the value `value` makes of pip's, unless the
    /// build sets one of them itself (its own uv setting wins) or `unless` holds.
    Variable {
        uv: &'static [&'static str],
        value: Value,
        unless: Unless,
    },
    /// A boolean (pip's `strtobool`) that gives uv these arguments when true.
    Flag(&'static [&'static str]),
    /// A boolean that turns hash-checking mode on.
    HashChecking,
    /// `PIP_NO_BUILD_ISOLATION`: pip reads this `--no-…` variable inverted (a false value
    /// turns build isolation off, a true one leaves it on: pip's option is
    /// `build_isolation`, stored false).
    NoBuildIsolation,
    /// Each item of the space-separated list becomes `arg item`, unless the build sets the
    /// uv variable `unless_set`.
    EachItem {
        arg: &'static str,
        unless_set: Option<&'static str>,
    },
    /// Needs nothing from uv with this value (`truststore`: uv uses the system trust store
    /// already, `UV_SYSTEM_CERTS`); any other value has no translation.
    OnlyValue(&'static str),
    /// Options for setup.py.
    SetupPy,
    /// uv cannot honour it: why, and what else gives the same effect, if anything does.
    Unsupported(&'static str),
}

/// How a [`Translation::Variable`] makes uv's value of pip's.
enum Value {
    AsIs,
    /// A list separated by white space, written with this separator (pip separates
    /// `PIP_FIND_LINKS` with spaces, uv `UV_FIND_LINKS` with commas).
    Joined(&'static str),
    /// Checked (and rewritten) by the function; its error says why pip's value is refused.
    Checked(fn(&str) -> Result<String, String>),
}

impl Value {
    fn make(&self, value: &str) -> Result<String, String> {
        match self {
            Value::AsIs => Ok(value.to_string()),
            Value::Joined(separator) => {
                Ok(value.split_whitespace().collect::<Vec<_>>().join(separator))
            }
            Value::Checked(check) => check(value),
        }
    }
}

/// When a [`Translation::Variable`] is not used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unless {
    Never,
    /// The requirement files choose the index themselves: pip then ignores the variable.
    FilesChooseIndex,
    /// A CA certificate binding gives every tool a bundle, which takes the place of it.
    CaBinding,
}

use Translation::{
    EachItem, Flag, HashChecking, NoBuildIsolation, NoEffect, OnlyValue, ReadWithConfigFiles,
    SetupPy, Variable,
};

/// Every pip setting the build knows, in the order the error for an unknown one lists
/// those it translates. A setting not here is an error: pip would honour it.
const PIP_SETTINGS: &[(&str, Translation)] = &[
    (
        "PIP_INDEX_URL",
        Variable {
            uv: &["UV_INDEX_URL", "UV_DEFAULT_INDEX"],
            value: Value::AsIs,
            unless: Unless::FilesChooseIndex,
        },
    ),
    (
        "PIP_EXTRA_INDEX_URL",
        Variable {
            uv: &["UV_EXTRA_INDEX_URL"],
            // Both lists are separated by spaces.
            value: Value::Joined(" "),
            unless: Unless::FilesChooseIndex,
        },
    ),
    (
        "PIP_FIND_LINKS",
        Variable {
            uv: &["UV_FIND_LINKS"],
            value: Value::Joined(","),
            unless: Unless::Never,
        },
    ),
    ("PIP_NO_INDEX", Flag(&["--no-index"])),
    (
        "PIP_TRUSTED_HOST",
        EachItem {
            arg: "--allow-insecure-host",
            unless_set: Some("UV_INSECURE_HOST"),
        },
    ),
    ("PIP_PRE", Flag(&["--prerelease", "allow"])),
    ("PIP_REQUIRE_HASHES", HashChecking),
    (
        "PIP_NO_BINARY",
        EachItem {
            arg: "--no-binary",
            unless_set: None,
        },
    ),
    (
        "PIP_ONLY_BINARY",
        EachItem {
            arg: "--only-binary",
            unless_set: None,
        },
    ),
    (
        "PIP_CONSTRAINT",
        Variable {
            uv: &["UV_CONSTRAINT"],
            value: Value::Checked(constraint_files),
            unless: Unless::Never,
        },
    ),
    ("PIP_NO_BUILD_ISOLATION", NoBuildIsolation),
    (
        "PIP_CERT",
        Variable {
            uv: &["SSL_CERT_FILE"],
            value: Value::AsIs,
            unless: Unless::CaBinding,
        },
    ),
    (
        "PIP_CLIENT_CERT",
        Variable {
            uv: &["SSL_CLIENT_CERT"],
            value: Value::AsIs,
            unless: Unless::Never,
        },
    ),
    (
        "PIP_TIMEOUT",
        Variable {
            uv: &["UV_HTTP_TIMEOUT"],
            value: Value::Checked(whole_seconds),
            unless: Unless::Never,
        },
    ),
    (
        "PIP_DEFAULT_TIMEOUT",
        Variable {
            uv: &["UV_HTTP_TIMEOUT"],
            value: Value::Checked(whole_seconds),
            unless: Unless::Never,
        },
    ),
    ("PIP_USE_FEATURE", OnlyValue("truststore")),
    ("PIP_CONFIG_FILE", ReadWithConfigFiles),
    (
        "PIP_PREFER_BINARY",
        Translation::Unsupported(
            "uv has no such preference: it installs the newest version that fits, built from source when it has no wheel. Pin the version that has a wheel instead.",
        ),
    ),
    ("PIP_GLOBAL_OPTION", SetupPy),
    ("PIP_BUILD_OPTION", SetupPy),
    ("PIP_INSTALL_OPTION", SetupPy),
    ("PIP_DISABLE_PIP_VERSION_CHECK", NoEffect),
    ("PIP_NO_INPUT", NoEffect),
    ("PIP_PROGRESS_BAR", NoEffect),
    ("PIP_NO_COLOR", NoEffect),
    ("PIP_QUIET", NoEffect),
    ("PIP_VERBOSE", NoEffect),
    ("PIP_LOG", NoEffect),
    ("PIP_LOG_FILE", NoEffect),
    ("PIP_ROOT_USER_ACTION", NoEffect),
    ("PIP_CACHE_DIR", NoEffect),
    ("PIP_NO_CACHE_DIR", NoEffect),
    ("PIP_NO_WARN_SCRIPT_LOCATION", NoEffect),
    ("PIP_NO_WARN_CONFLICTS", NoEffect),
    ("PIP_NO_PYTHON_VERSION_WARNING", NoEffect),
    ("PIP_COMPILE", NoEffect),
    ("PIP_NO_COMPILE", NoEffect),
    ("PIP_EXISTS_ACTION", NoEffect),
    ("PIP_UPGRADE", NoEffect),
    ("PIP_UPGRADE_STRATEGY", NoEffect),
    ("PIP_FORCE_REINSTALL", NoEffect),
    ("PIP_IGNORE_INSTALLED", NoEffect),
    ("PIP_BREAK_SYSTEM_PACKAGES", NoEffect),
    ("PIP_REQUIRE_VIRTUALENV", NoEffect),
    ("PIP_USE_PEP517", NoEffect),
    ("PIP_RETRIES", NoEffect),
];

fn translation(name: &str) -> Option<&'static Translation> {
    PIP_SETTINGS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, translation)| translation)
}

/// Whether the `PIP_*` setting `name` changes nothing uv installs.
pub(super) fn has_no_effect(name: &str) -> bool {
    matches!(translation(name), Some(NoEffect))
}

/// Why a setting the table does not translate is an error.
fn no_translation() -> String {
    format!(
        "uv has no translation for this pip setting (only {} are translated; pip's output settings change nothing).",
        translated_names()
    )
}

/// The settings that give uv something, as the error for an unknown one lists them.
fn translated_names() -> String {
    let names: Vec<&str> = PIP_SETTINGS
        .iter()
        .filter(|(_, translation)| {
            matches!(
                translation,
                Variable { .. } | Flag(_) | HashChecking | NoBuildIsolation | EachItem { .. }
            )
        })
        .map(|(name, _)| *name)
        .collect();
    match names.as_slice() {
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        [] => String::new(),
    }
}

/// Both lists are separated by spaces; both tools read relative paths from their working
/// directory, the app directory.
fn constraint_files(value: &str) -> Result<String, String> {
    let files: Vec<&str> = value.split_whitespace().collect();
    if files.iter().any(|file| file.contains("://")) {
        Err("The build reads constraints from files in the app only, so that a change to them is a change to the set (uv would also need the URL fetched). Save the file in the app and name its path here, relative to the app directory.".to_string())
    } else {
        Ok(files.join(" "))
    }
}

/// pip takes fractions of seconds, uv whole ones: rounded up.
fn whole_seconds(value: &str) -> Result<String, String> {
    match value.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Ok(format!("{}", seconds.ceil())),
        _ => Err("pip accepts a number of seconds here.".to_string()),
    }
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

/// Sets `uv_names[0]` to `value` unless the build sets one of `uv_names` itself (its own uv
/// setting wins).
fn translate_var(
    settings: &PipSettings,
    out: &mut UvSettings,
    shown: &str,
    uv_names: &[&str],
    value: String,
) {
    if let Some(taken) = uv_names.iter().find(|name| settings.set(name).is_some()) {
        out.notes
            .push(format!("{shown} (not used: {taken} is set)"));
        return;
    }
    out.env.push((uv_names[0].to_string(), value));
    out.notes.push(format!("{shown} → {}", uv_names[0]));
}

/// Adds what the `PIP_*` settings give uv to `out` and returns those it cannot honour;
/// `choose_index` when the requirement files set the index themselves (pip then ignores
/// `PIP_INDEX_URL` and `PIP_EXTRA_INDEX_URL`).
pub(super) fn translate(
    settings: &PipSettings,
    choose_index: bool,
    out: &mut UvSettings,
) -> Vec<Unsupported> {
    let mut unsupported: Vec<Unsupported> = settings.unreadable.clone();
    let mut fail = |name: &str, why: String| {
        unsupported.push(Unsupported {
            place: name.to_string(),
            what: name.to_string(),
            why,
        });
    };
    for (name, value) in &settings.vars {
        let value = value.trim();
        if !name.starts_with("PIP_") || value.is_empty() {
            continue;
        }
        let shown = settings.label(name);
        let Some(translation) = translation(name) else {
            fail(&shown, no_translation());
            continue;
        };
        match translation {
            NoEffect | ReadWithConfigFiles => {}
            Variable { unless, .. } if *unless == Unless::FilesChooseIndex && choose_index => {
                out.notes.push(format!(
                    "{shown} (not used: the requirement files set the index, as pip would)"
                ));
            }
            Variable { unless, .. } if *unless == Unless::CaBinding && settings.ca_bundle => {
                out.notes.push(format!(
                    "{shown} (not used: the CA certificate binding gives the bundle)"
                ));
            }
            Variable { uv, value: make, .. } => match make.make(value) {
                Ok(uv_value) => translate_var(settings, out, &shown, uv, uv_value),
                Err(why) => fail(&shown, why),
            },
            Flag(args) => match pip_bool(value) {
                Ok(true) => {
                    push_once(&mut out.args, args);
                    out.notes.push(format!("{shown} → {}", args.join(" ")));
                }
                Ok(false) => {}
                Err(why) => fail(&shown, why),
            },
            HashChecking => match pip_bool(value) {
                Ok(true) => {
                    out.hash_checking.get_or_insert_with(|| shown.clone());
                }
                Ok(false) => {}
                Err(why) => fail(&shown, why),
            },
            NoBuildIsolation => match pip_bool(value) {
                Ok(false) => {
                    push_once(&mut out.args, &["--no-build-isolation"]);
                    out.notes.push(format!(
                        "{shown}={value} → --no-build-isolation (pip reads a false value here as turning isolation off)"
                    ));
                }
                Ok(true) => out.notes.push(format!(
                    "{shown}={value} (no effect: pip reads a true value here as keeping build isolation on; set it to false to turn isolation off)"
                )),
                Err(why) => fail(&shown, why),
            },
            EachItem { arg, unless_set } => {
                if let Some(taken) = unless_set.filter(|uv| settings.set(uv).is_some()) {
                    out.notes
                        .push(format!("{shown} (not used: {taken} is set)"));
                } else {
                    for item in value.split_whitespace() {
                        out.args.extend([(*arg).to_string(), item.to_string()]);
                    }
                    out.notes.push(format!("{shown} → {arg}"));
                }
            }
            OnlyValue(accepted) if value == *accepted => {}
            OnlyValue(_) => fail(&shown, no_translation()),
            SetupPy => fail(&shown, format!("It {SETUP_PY_OPTION}.")),
            Translation::Unsupported(why) => fail(&shown, (*why).to_string()),
        }
    }
    unsupported
}
