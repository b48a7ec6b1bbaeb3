//! Blacklodge Poetry buildpack: installs a Poetry project without running Poetry.
//!
//! poetry.lock is checked against pyproject.toml (Poetry's content-hash), its packages for the
//! selected groups and extras are translated into an exact, hash-checked requirements set
//! (pins, markers, file hashes, sources, git commits, local paths), and uv syncs the venv to it. This needs only the simple index API —
//! Poetry itself needs PyPI's JSON API, which many mirrors lack — and is much faster than
//! bootstrapping Poetry. The root package is installed (editable) unless package-mode = false.

mod errors;
mod lock;
mod project;

use crate::errors::PoetryError;
use crate::lock::{Extras, Lock};
use crate::project::Project;
use blacklodge_common::{env, output};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::lock_buildpack::{Selected, TranslatedLock};
use blacklodge_python_deps::locked::Indexes;
use blacklodge_python_deps::managers::Manager;
use blacklodge_python_deps::names::{self, Names};
use blacklodge_python_deps::translated::{self, NetrcEntry};
use libcnb::Env;
use std::path::PathBuf;

pub(crate) struct PoetryBuildpack;

const GROUPS_VARIABLE: &str = "BP_POETRY_GROUPS";
const EXTRAS_VARIABLE: &str = "BP_POETRY_EXTRAS";

/// The groups to install: `main` plus `BP_POETRY_GROUPS` (or every group for `all`).
fn groups(env: &Env, lock: &Lock) -> Result<Vec<String>, PoetryError> {
    let mut groups = vec!["main".to_string()];
    match names::parse(env, GROUPS_VARIABLE).map_err(DepsError::from)? {
        Names::None => {}
        Names::All => groups.extend(lock.groups()),
        Names::Some(extra) => groups.extend(extra),
    }
    groups.sort();
    groups.dedup();
    Ok(groups)
}

/// `BP_POETRY_EXTRAS`: none by default, named ones, or every extra for `all`.
fn extras(env: &Env, lock: &Lock) -> Result<Extras, PoetryError> {
    let requested = match names::parse(env, EXTRAS_VARIABLE).map_err(DepsError::from)? {
        Names::None => Some(Vec::new()),
        Names::All => None,
        Names::Some(extras) => Some(extras),
    };
    lock.select_extras(requested.as_deref())
        .map_err(PoetryError::Lock)
}

/// `POETRY_HTTP_BASIC_<SOURCE>_USERNAME` / `_PASSWORD`, Poetry's own variables, as netrc
/// entries for the sources' hosts.
fn credentials(env: &Env, sources: &[project::Source]) -> Vec<NetrcEntry> {
    sources
        .iter()
        .filter_map(|source| {
            let key: String = source
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let login = env::string(env, &format!("POETRY_HTTP_BASIC_{key}_USERNAME"))?;
            let password =
                env::string(env, &format!("POETRY_HTTP_BASIC_{key}_PASSWORD")).unwrap_or_default();
            Some(NetrcEntry {
                host: translated::host_of(&source.url)?,
                login,
                password,
            })
        })
        .collect()
}

fn indexes(plan: &lock::Plan, sources: &[project::Source]) -> Indexes {
    // pyproject order decides which source is primary; PyPI (or the configured default
    // index) stays in when some package comes from it.
    let mut used: Vec<&project::Source> = sources
        .iter()
        .filter(|source| plan.sources.contains_key(&source.name))
        .collect();
    used.sort_by_key(|source| source.priority.as_deref() != Some("primary"));
    let mut urls: Vec<String> = used.iter().map(|source| source.url.clone()).collect();
    for (name, url) in &plan.sources {
        if !sources.iter().any(|source| &source.name == name) {
            urls.push(url.clone());
        }
    }
    if plan.uses_default_index || urls.is_empty() {
        Indexes {
            index_url: None,
            extra_index_urls: urls,
        }
    } else {
        Indexes {
            index_url: Some(urls.remove(0)),
            extra_index_urls: urls,
        }
    }
}

impl TranslatedLock for PoetryBuildpack {
    const MANAGER: Manager = Manager::Poetry;
    const MANIFEST: &'static str = "pyproject.toml";
    const LOCK: &'static str = "poetry.lock";
    const WHY_NOT: &'static str =
        "No poetry.lock in the app root (or another package manager is selected).";

    fn select(env: &Env, pyproject_text: &str, lock_text: &str) -> Result<Selected, PoetryError> {
        let project = Project::parse(pyproject_text).map_err(|error| PoetryError::InvalidToml {
            file: "pyproject.toml",
            error,
        })?;
        let lock = Lock::parse(lock_text).map_err(|error| PoetryError::InvalidToml {
            file: "poetry.lock",
            error,
        })?;
        let current = project.content_hash(true);
        let locked_hash = &lock.metadata.content_hash;
        if &current != locked_hash && &project.content_hash(false) != locked_hash {
            return Err(PoetryError::LockOutOfSync {
                locked: locked_hash.clone(),
                current,
            });
        }
        let groups = groups(env, &lock)?;
        let extras = extras(env, &lock)?;
        let plan = lock.plan(&groups, &extras).map_err(PoetryError::Lock)?;
        let root = project.package_mode();
        let extras_selected = match extras.names().as_slice() {
            [] => String::new(),
            names => format!("; extras: {}", names.join(", ")),
        };
        let sources = project.sources();
        let indexes = indexes(&plan, &sources);
        let installing = format!(
            "Installing groups: {}{} ({}){}",
            groups.join(", "),
            extras_selected.replace(';', ","),
            output::count(
                plan.packages.len() + plan.editables.len(),
                "package",
                "packages"
            ),
            if root {
                ", and the project itself"
            } else {
                " (package-mode = false: not the project itself)"
            }
        );
        let mut editables = plan.editables;
        if root {
            editables.insert(0, PathBuf::from("."));
        }
        Ok(Selected {
            indexes,
            netrc: credentials(env, &sources),
            selection: format!(
                "groups: {}{extras_selected}; root package: {root}",
                groups.join(", "),
            ),
            details: vec![
                "poetry.lock matches pyproject.toml (content-hash)".to_string(),
                installing,
            ],
            packages: plan.packages,
            editables,
        })
    }
}

blacklodge_python_deps::translated_lock_buildpack!(PoetryBuildpack, PoetryError);

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::testing;
    use blacklodge_python_deps::lock_buildpack::{self, testing as lock_testing};

    #[test]
    fn the_venv_key_changes_with_each_input_and_only_with_them() {
        let app = testing::fixture_app("poetry-flask");
        let read = |file: &str| fs_err::read_to_string(app.path().join(file)).expect("read");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| lock_testing::key::<PoetryBuildpack>(app.path(), env),
            // Both files, as text (the content hash leaves out comments and package-mode).
            &[
                (
                    "pyproject.toml",
                    &format!("{}# edited\n", read("pyproject.toml")),
                ),
                (
                    "pyproject.toml",
                    &read("pyproject.toml").replace("package-mode = false\n", ""),
                ),
                ("poetry.lock", &format!("{}# edited\n", read("poetry.lock"))),
            ],
            &[(GROUPS_VARIABLE, "dev")],
            &[("app.py", "X = 2\n")],
        );
        // A new lock (idna added, as `poetry lock` wrote it).
        lock_testing::assert_relock_changes_key::<PoetryBuildpack>(app.path());
    }

    #[test]
    fn extras_and_local_directories_are_inputs_and_editable_ones_are_not() {
        let app = testing::fixture_app("poetry-extras");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| lock_testing::key::<PoetryBuildpack>(app.path(), env),
            &[],
            &[(EXTRAS_VARIABLE, "net")],
            &[],
        );
        lock_testing::assert_local_directories_are_inputs::<PoetryBuildpack>("poetry-sources");
    }

    #[test]
    fn what_the_build_cannot_read_is_no_key() {
        let app = testing::fixture_app("poetry-flask");
        let mut env = Env::new();
        env.insert(GROUPS_VARIABLE, "docs");
        assert!(matches!(
            lock_buildpack::prepare::<PoetryBuildpack>(app.path(), &env),
            Err(PoetryError::Lock(lock::LockError::UnknownGroup { .. }))
        ));
    }
}
