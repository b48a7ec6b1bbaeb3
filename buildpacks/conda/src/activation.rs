//! The environment the image runs with: what `conda activate` would set, computed once at
//! build time with rattler's activation (the packages' `etc/conda/activate.d` scripts,
//! `etc/conda/env_vars.d` and the prefix's `conda-meta/state` variables), plus the
//! `variables:` of environment.yml.

use crate::solve::chain;
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use rattler_shell::activation::{ActivationVariables, Activator, PathModificationBehavior};
use rattler_shell::shell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::Path;

/// The `PATH` activation starts from (the run image's default).
const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Variables a shell sets for itself, not the environment's.
const SHELL_OWN: [&str; 6] = [
    "PWD",
    "OLDPWD",
    "SHLVL",
    "_",
    "PS1",
    "CONDA_PROMPT_MODIFIER",
];

/// The variables activation sets (PATH: only what it puts in front), sorted by name.
pub(crate) fn variables(prefix: &Path) -> Result<BTreeMap<String, String>, String> {
    let activator = Activator::from_path(prefix, shell::Bash::default(), crate::install::PLATFORM)
        .map_err(|error| chain(&error))?;
    let base: HashMap<&OsStr, &OsStr> = [
        (OsStr::new("PATH"), OsStr::new(BASE_PATH)),
        (OsStr::new("HOME"), OsStr::new("/tmp")),
    ]
    .into_iter()
    .collect();
    let changed = activator
        .run_activation(
            ActivationVariables {
                conda_prefix: None,
                path: Some(std::env::split_paths(BASE_PATH).collect()),
                path_modification_behavior: PathModificationBehavior::Prepend,
                current_env: HashMap::from([("PATH".to_string(), BASE_PATH.to_string())]),
            },
            Some(base),
        )
        .map_err(|error| chain(&error))?;
    Ok(changed
        .into_iter()
        .filter(|(name, _)| !SHELL_OWN.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            if name == "PATH" {
                // Only the entries activation put in front of the base PATH.
                let base: Vec<&str> = BASE_PATH.split(':').collect();
                let front: Vec<&str> = value
                    .split(':')
                    .take_while(|entry| !base.contains(entry))
                    .collect();
                (!front.is_empty()).then(|| (name, front.join(":")))
            } else {
                Some((name, value))
            }
        })
        .collect())
}

/// The layer environment: activation's variables (PATH prepended), then environment.yml's
/// `variables:`, and the defaults the CPython buildpack gives other apps.
pub(crate) fn layer_env(
    activated: &BTreeMap<String, String>,
    declared: &[(String, String)],
) -> LayerEnv {
    let mut env = LayerEnv::new()
        .chainable_insert(
            Scope::All,
            ModificationBehavior::Override,
            "PYTHONUNBUFFERED",
            "1",
        )
        .chainable_insert(Scope::All, ModificationBehavior::Default, "LANG", "C.UTF-8");
    for (name, value) in activated {
        if name == "PATH" {
            env = env
                .chainable_insert(Scope::All, ModificationBehavior::Prepend, "PATH", value)
                .chainable_insert(Scope::All, ModificationBehavior::Delimiter, "PATH", ":");
        } else {
            env = env.chainable_insert(Scope::All, ModificationBehavior::Override, name, value);
        }
    }
    for (name, value) in declared {
        env = env.chainable_insert(Scope::All, ModificationBehavior::Override, name, value);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_sets_prefix_path_and_package_variables() {
        let prefix = tempfile::tempdir().expect("tempdir");
        let prefix = prefix.path();
        for dir in [
            "conda-meta",
            "bin",
            "etc/conda/activate.d",
            "etc/conda/env_vars.d",
        ] {
            fs_err::create_dir_all(prefix.join(dir)).expect("mkdir");
        }
        fs_err::write(
            prefix.join("etc/conda/activate.d/greet.sh"),
            "export BLGREET_HOME=\"$CONDA_PREFIX/share/blgreet\"\n",
        )
        .expect("write");
        fs_err::write(
            prefix.join("etc/conda/env_vars.d/mypkg.json"),
            "{\"MYPKG_MODE\": \"fast\"}",
        )
        .expect("write");
        let found = variables(prefix).expect("activation runs");
        let shown = prefix.display();
        assert_eq!(found.get("PATH"), Some(&format!("{shown}/bin")));
        assert_eq!(found.get("CONDA_PREFIX"), Some(&shown.to_string()));
        assert_eq!(
            found.get("BLGREET_HOME"),
            Some(&format!("{shown}/share/blgreet"))
        );
        assert_eq!(found.get("MYPKG_MODE").map(String::as_str), Some("fast"));
        assert!(!found.contains_key("PWD"));
    }
}
