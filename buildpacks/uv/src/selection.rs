//! Which dependency groups and extras of the project are installed.
//!
//! By default: the project's dependencies only (`--no-default-groups`, no extras), the set a
//! production image needs. `BP_UV_GROUPS` and `BP_UV_EXTRAS` add named groups and extras
//! (comma-separated, or `all`).

use blacklodge_common::env::{self, InvalidVariable};
use libcnb::Env;

pub(crate) const GROUPS_VARIABLE: &str = "BP_UV_GROUPS";
pub(crate) const EXTRAS_VARIABLE: &str = "BP_UV_EXTRAS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Names {
    None,
    All,
    Some(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    pub(crate) groups: Names,
    pub(crate) extras: Names,
}

fn names(env: &Env, variable: &str) -> Result<Names, InvalidVariable> {
    let Some(value) = env::string(env, variable) else {
        return Ok(Names::None);
    };
    if value.eq_ignore_ascii_case("all") {
        return Ok(Names::All);
    }
    let list: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    let valid = |name: &String| {
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if list.is_empty() || !list.iter().all(valid) {
        return Err(InvalidVariable {
            name: variable.to_string(),
            value,
            expected: "comma-separated names (letters, digits, - _ .), or `all`".to_string(),
        });
    }
    Ok(Names::Some(list))
}

impl Selection {
    pub(crate) fn from_env(env: &Env) -> Result<Self, InvalidVariable> {
        Ok(Self {
            groups: names(env, GROUPS_VARIABLE)?,
            extras: names(env, EXTRAS_VARIABLE)?,
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
        let list = |names: &Names| match names {
            Names::None => "none".to_string(),
            Names::All => "all".to_string(),
            Names::Some(names) => names.join(", "),
        };
        format!(
            "dependency groups: {}; extras: {}",
            list(&self.groups),
            list(&self.extras)
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
