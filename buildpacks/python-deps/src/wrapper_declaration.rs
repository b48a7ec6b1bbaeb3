//! Whether an app declares a wrapper entry point: the one answer blacklodge/wrapper detects
//! with and blacklodge/web steps aside for, so the two can never disagree about who declares
//! the app's processes.
//!
//! One job: find the declaration (`blacklodge.toml`, `BP_BLACKLODGE_ENTRYPOINT`, or a
//! `[tool.blacklodge]` table in `pyproject.toml`). What a declaration says is the wrapper's
//! business (its `config` module).

use blacklodge_common::env;
use libcnb::Env;
use serde::Deserialize;
use std::path::Path;

/// The wrapper's configuration file at the app root.
pub const CONFIG_FILE: &str = "blacklodge.toml";
/// The file that may hold the `[tool.blacklodge]` table.
pub const PYPROJECT: &str = "pyproject.toml";
/// The build variable that declares (or overrides) the entry point.
pub const VAR_ENTRYPOINT: &str = "BP_BLACKLODGE_ENTRYPOINT";

/// Where the app declares the wrapper, in the order they are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declaration {
    ConfigFile,
    Variable,
    PyprojectTable,
}

/// The app's declaration of a wrapper entry point, if any. A `pyproject.toml` that is not
/// valid TOML counts when it has the table header, so the wrapper's build can report the
/// syntax error.
#[must_use]
pub fn find(app_dir: &Path, platform_env: &Env) -> Option<Declaration> {
    if app_dir.join(CONFIG_FILE).is_file() {
        Some(Declaration::ConfigFile)
    } else if env::string(platform_env, VAR_ENTRYPOINT).is_some() {
        Some(Declaration::Variable)
    } else if fs_err::read_to_string(app_dir.join(PYPROJECT))
        .is_ok_and(|text| pyproject_has_table(&text))
    {
        Some(Declaration::PyprojectTable)
    } else {
        None
    }
}

#[derive(Deserialize)]
struct Pyproject {
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Tool {
    blacklodge: Option<toml::Value>,
}

/// `[tool.blacklodge]` in a `pyproject.toml`'s text; when the text is not valid TOML, a line
/// that opens the table (or one of its sub-tables) counts.
#[must_use]
pub fn pyproject_has_table(text: &str) -> bool {
    match toml::from_str::<Pyproject>(text) {
        Ok(pyproject) => pyproject.tool.is_some_and(|tool| tool.blacklodge.is_some()),
        Err(_) => text.lines().any(|line| {
            let line = line.trim();
            line.starts_with("[tool.blacklodge]") || line.starts_with("[tool.blacklodge.")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_place_declares_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = Env::new();
        assert_eq!(find(dir.path(), &env), None);

        fs_err::write(dir.path().join(PYPROJECT), "[project]\nname = \"x\"\n").expect("write");
        assert_eq!(find(dir.path(), &env), None);
        fs_err::write(
            dir.path().join(PYPROJECT),
            "[tool.blacklodge]\nentrypoint = \"model:predict\"\n",
        )
        .expect("write");
        assert_eq!(find(dir.path(), &env), Some(Declaration::PyprojectTable));
        // Not valid TOML, but the table is there: the wrapper takes the app and reports the
        // syntax error.
        fs_err::write(
            dir.path().join(PYPROJECT),
            "[tool.blacklodge]\nentrypoint = \n",
        )
        .expect("write");
        assert_eq!(find(dir.path(), &env), Some(Declaration::PyprojectTable));

        env.insert(VAR_ENTRYPOINT, "model:predict");
        assert_eq!(find(dir.path(), &env), Some(Declaration::Variable));
        fs_err::write(dir.path().join(CONFIG_FILE), "").expect("write");
        assert_eq!(find(dir.path(), &env), Some(Declaration::ConfigFile));
    }

    #[test]
    fn a_table_counts_only_where_it_is_the_wrappers() {
        assert!(pyproject_has_table(
            "[tool.blacklodge.kafka]\ntopics = [\"a\"]\n"
        ));
        assert!(pyproject_has_table(
            "tool = { blacklodge = { entrypoint = \"m:f\" } }\n"
        ));
        assert!(!pyproject_has_table("[tool.blacklodger]\nx = 1\n"));
        assert!(!pyproject_has_table("[tool.ruff]\n# [tool.blacklodge]\n"));
        assert!(!pyproject_has_table("not toml = \n"));
    }
}
