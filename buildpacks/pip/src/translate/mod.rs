//! What uv needs to install a requirements set as pip would: the options of the files that
//! uv reads differently or not at all, and pip's own settings (`PIP_*` variables, pip.conf),
//! turned into uv's arguments and variables. Whatever cannot be translated is reported with
//! its place, never ignored: pip would have honoured it.
//!
//! One module per source of settings: [`requirement_options`] (options inside requirement
//! files), [`variables`] (the `PIP_*` table), [`config_files`] (where pip's configuration
//! files are and how they combine with the variables), [`ini`] (reading one file as Python's
//! `configparser` does) and [`credentials`] (what of the settings the cache key may keep).

mod config_files;
mod credentials;
mod ini;
mod requirement_options;
mod variables;

use crate::requirements::RequirementsFile;

pub(crate) use config_files::PipSettings;
pub(crate) use requirement_options::Rewrite;

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

/// Why options that go to `setup.py` cannot be honoured: shared by the requirement files'
/// options and the variables.
const SETUP_PY_OPTION: &str = "passes options to setup.py, which uv never runs directly: it builds every package through the build backend interface (PEP 517)";

fn push_once<T: PartialEq + Clone + Into<String>>(list: &mut Vec<String>, items: &[T]) {
    let items: Vec<String> = items.iter().cloned().map(Into::into).collect();
    if !list
        .windows(items.len())
        .any(|window| window == items.as_slice())
    {
        list.extend(items);
    }
}

/// What uv gets to install `files` as pip would with `settings`, or everything it cannot
/// honour.
pub(crate) fn for_uv(
    files: &[RequirementsFile],
    settings: &PipSettings,
) -> Result<UvSettings, Vec<Unsupported>> {
    let options = requirement_options::read(files);
    let mut out = UvSettings {
        args: options.args,
        env: Vec::new(),
        notes: options.notes,
        hash_checking: options.hash_checking,
        rewrites: options.rewrites,
    };
    let mut unsupported = options.unsupported;
    unsupported.extend(variables::translate(
        settings,
        options.choose_index,
        &mut out,
    ));
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
mod tests;
