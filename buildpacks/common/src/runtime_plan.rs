//! Who runs Python during the build: what a buildpack says in its `python` build plan
//! requirement, read by the python buildpack to decide whether the runtime's files must be
//! there for this build.
//!
//! - `build = false`: this buildpack never runs Python while building.
//! - `build_inputs = "<digest>"`: it runs Python only when these inputs changed since the
//!   previous image (a dependency buildpack: the digest of what keys its venv).
//! - no metadata: it may run Python on every build (the safe default).
//!
//! When every requirement says one of the first two and no input changed, the python
//! buildpack keeps the runtime layer of the previous image by its metadata alone: nothing is
//! restored before the build nor archived after it, and the build sees no runtime files
//! (only [`KEPT_VERSION_VARIABLE`]).

use libcnb::data::build_plan::Require;
use libcnb::data::buildpack_plan::BuildpackPlan;

/// The build plan entry the python buildpack provides.
pub const ENTRY: &str = "python";

/// Set for later buildpacks (build only) when the runtime was kept without its files: the
/// kept runtime's version, e.g. `3.11.2`.
pub const KEPT_VERSION_VARIABLE: &str = "BLACKLODGE_PYTHON_KEPT";

/// The requirement of a buildpack that never runs Python while building.
#[must_use]
pub fn no_build_requirement() -> Require {
    let mut require = Require::new(ENTRY);
    require
        .metadata
        .insert("build".to_string(), toml::Value::Boolean(false));
    require
}

/// The requirement of a buildpack that runs Python while building only when `inputs` (a
/// digest) changed since the previous image.
#[must_use]
pub fn when_changed_requirement(inputs: &str) -> Require {
    let mut require = Require::new(ENTRY);
    require.metadata.insert(
        "build_inputs".to_string(),
        toml::Value::String(inputs.to_string()),
    );
    require
}

/// What this build's buildpacks need of the runtime at build time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Some buildpack may run Python on every build.
    Always,
    /// Only when the inputs (all requirements' digests, in plan order) changed.
    WhenChanged(String),
}

/// Reads the `python` requirements of the plan.
#[must_use]
pub fn need(plan: &BuildpackPlan) -> Need {
    let mut inputs = Vec::new();
    for entry in plan.entries.iter().filter(|entry| entry.name == ENTRY) {
        if entry.metadata.get("build") == Some(&toml::Value::Boolean(false)) {
            continue;
        }
        match entry.metadata.get("build_inputs") {
            Some(toml::Value::String(digest)) => inputs.push(digest.clone()),
            _ => return Need::Always,
        }
    }
    Need::WhenChanged(crate::download::sha256_bytes(inputs.join("\n").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use libcnb::data::buildpack_plan::Entry;

    fn plan(requires: &[Require]) -> BuildpackPlan {
        BuildpackPlan {
            entries: requires
                .iter()
                .map(|require| Entry {
                    name: require.name.clone(),
                    metadata: require.metadata.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn any_requirement_without_a_statement_needs_the_runtime_every_time() {
        let need = need(&plan(&[
            no_build_requirement(),
            Require::new(ENTRY),
            when_changed_requirement("a"),
        ]));
        assert_eq!(need, Need::Always);
    }

    #[test]
    fn the_inputs_of_every_requirement_make_the_key() {
        let one = need(&plan(&[
            no_build_requirement(),
            when_changed_requirement("a"),
        ]));
        let same = need(&plan(&[
            when_changed_requirement("a"),
            no_build_requirement(),
        ]));
        let other = need(&plan(&[
            no_build_requirement(),
            when_changed_requirement("b"),
        ]));
        assert_eq!(one, same);
        assert_ne!(one, other);
        assert!(matches!(one, Need::WhenChanged(_)));
        assert!(matches!(
            need(&plan(&[no_build_requirement()])),
            Need::WhenChanged(_)
        ));
    }
}
