//! Which dependency groups and extras of the project are installed.
//!
//! By default: the project's dependencies only (`--no-default-groups`, no extras), the set a
//! production image needs. `BP_UV_GROUPS` and `BP_UV_EXTRAS` add named groups and extras
//! (comma-separated, or `all`).

use blacklodge_common::env::InvalidVariable;
use blacklodge_python_deps::names::{self, Names};
use libcnb::Env;

pub(crate) const GROUPS_VARIABLE: &str = "BP_UV_GROUPS";
pub(crate) const EXTRAS_VARIABLE: &str = "BP_UV_EXTRAS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    pub(crate) groups: Names,
    pub(crate) extras: Names,
}

impl Selection {
    pub(crate) fn from_env(env: &Env) -> Result<Self, InvalidVariable> {
        Ok(Self {
            groups: names::parse(env, GROUPS_VARIABLE)?,
            extras: names::parse(env, EXTRAS_VARIABLE)?,
        })
    }

    /// The `uv sync` arguments.
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = vec!["--no-default-groups".to_string()];
        match &self.groups {
            Names::None => {}
            Names::All => args.push("--all-groups".to_string()),
            Names::Some(groups) => {
                for group in groups {
                    args.extend(["--group".to_string(), group.clone()]);
                }
            }
        }
        match &self.extras {
            Names::None => {}
            Names::All => args.push("--all-extras".to_string()),
            Names::Some(extras) => {
                for extra in extras {
                    args.extend(["--extra".to_string(), extra.clone()]);
                }
            }
        }
        args
    }

    /// For the log and the venv cache key.
    pub(crate) fn describe(&self) -> String {
        format!(
            "dependency groups: {}; extras: {}",
            self.groups.describe(),
            self.extras.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_project_dependencies_only() {
        let selection = Selection::from_env(&Env::new()).expect("valid");
        assert_eq!(selection.args(), vec!["--no-default-groups"]);
        assert_eq!(
            selection.describe(),
            "dependency groups: none; extras: none"
        );
    }

    #[test]
    fn groups_and_extras_are_parsed_strictly() {
        let mut env = Env::new();
        env.insert(GROUPS_VARIABLE, "dev, docs");
        env.insert(EXTRAS_VARIABLE, "all");
        let selection = Selection::from_env(&env).expect("valid");
        assert_eq!(
            selection.args(),
            vec![
                "--no-default-groups",
                "--group",
                "dev",
                "--group",
                "docs",
                "--all-extras"
            ]
        );
        env.insert(GROUPS_VARIABLE, "dev;rm -rf");
        assert!(Selection::from_env(&env).is_err());
    }
}
