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
use blacklodge_common::download::sha256_bytes;
use blacklodge_common::{env, output};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::layers::venv::VenvKey;
use blacklodge_python_deps::locked::Indexes;
use blacklodge_python_deps::managers::Manager;
use blacklodge_python_deps::names::{self, Names};
use blacklodge_python_deps::translated::{self, InstallError, NetrcEntry, PlanError};
use blacklodge_python_deps::{setup, tool};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::detect::{DetectContext, DetectResult};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Env, Platform, buildpack_main};
use std::path::{Path, PathBuf};

pub(crate) struct PoetryBuildpack;

const GROUPS_VARIABLE: &str = "BP_POETRY_GROUPS";
const EXTRAS_VARIABLE: &str = "BP_POETRY_EXTRAS";

fn deps(error: impl Into<DepsError>) -> PoetryError {
    PoetryError::Deps(error.into())
}

fn read(app_dir: &Path, file: &str) -> Result<String, PoetryError> {
    let path = app_dir.join(file);
    fs_err::read_to_string(&path).map_err(|error| PoetryError::Io { path, error })
}

/// The groups to install: `main` plus `BP_POETRY_GROUPS` (or every group for `all`).
fn groups(env: &Env, lock: &Lock) -> Result<Vec<String>, PoetryError> {
    let mut groups = vec!["main".to_string()];
    match names::parse(env, GROUPS_VARIABLE).map_err(deps)? {
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
    let requested = match names::parse(env, EXTRAS_VARIABLE).map_err(deps)? {
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

/// What the install needs and the venv key, from the app's files and the build's variables
/// without running anything: the same code at detection (the key's digest tells the python
/// buildpack when Python runs: `VenvKey`) and at build.
struct Prepared {
    groups: Vec<String>,
    /// `; extras: a, b` (empty without any).
    extras_selected: String,
    /// The project itself is installed (not `package-mode = false`).
    root: bool,
    /// Packages of the lock to install.
    count: usize,
    /// The packages without a file hash in the lock, for the log.
    unhashed: Option<String>,
    install: translated::Install,
    /// The lock's label in the cache decisions ("… changed", "… unchanged").
    lock_label: &'static str,
    key: VenvKey,
}

impl Prepared {
    fn read(app_dir: &Path, env: &Env) -> Result<Self, PoetryError> {
        let pyproject_text = read(app_dir, "pyproject.toml")?;
        let lock_text = read(app_dir, "poetry.lock")?;
        let project =
            Project::parse(&pyproject_text).map_err(|error| PoetryError::InvalidToml {
                file: "pyproject.toml",
                error,
            })?;
        let lock = Lock::parse(&lock_text).map_err(|error| PoetryError::InvalidToml {
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
        let mut editables = plan.editables.clone();
        if root {
            editables.insert(0, PathBuf::from("."));
        }
        let (mut install, local_fingerprint) = translated::plan(
            app_dir,
            &plan.packages,
            editables,
            &indexes,
            credentials(env, &sources),
        )
        .map_err(|error| match error {
            PlanError::LocalPathMissing { package, path } => {
                PoetryError::LocalPathMissing { package, path }
            }
            PlanError::Io { path, error } => PoetryError::Io { path, error },
        })?;
        install.no_index = translated::no_index(env).map_err(deps)?;
        let key = VenvKey {
            lock_sha256: sha256_bytes(
                translated::key_material(&[&pyproject_text, &lock_text], &local_fingerprint)
                    .as_bytes(),
            ),
            installer: tool::uv().label(),
            selection: format!(
                "groups: {}{extras_selected}; root package: {root}",
                groups.join(", "),
            ),
        };
        Ok(Self {
            groups,
            extras_selected,
            root,
            count: plan.packages.len() + plan.editables.len(),
            unhashed: translated::unhashed_note(&plan.packages),
            install,
            lock_label: if local_fingerprint.is_empty() {
                "poetry.lock"
            } else {
                "poetry.lock (+ local packages)"
            },
            key,
        })
    }
}

impl Buildpack for PoetryBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = PoetryError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        setup::detect_lock(
            &context,
            Manager::Poetry,
            "No poetry.lock in the app root (or another package manager is selected).",
            |app, env| Prepared::read(app, env).map(|prepared| prepared.key),
        )
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge Poetry");
        let env = context.platform.env();
        let app_dir = &context.app_dir;
        setup::check_selection(app_dir, env).map_err(deps)?;
        if !app_dir.join("pyproject.toml").is_file() {
            return Err(PoetryError::MissingPyproject.into());
        }
        if !app_dir.join("poetry.lock").is_file() {
            return Err(PoetryError::MissingLock.into());
        }
        output::step("Installing dependencies from poetry.lock");
        let Prepared {
            groups,
            extras_selected,
            root,
            count,
            unhashed,
            install,
            lock_label,
            key,
        } = Prepared::read(app_dir, env)?;
        output::detail("poetry.lock matches pyproject.toml (content-hash)");
        output::detail(format!(
            "Installing groups: {}{} ({}){}",
            groups.join(", "),
            extras_selected.replace(';', ","),
            output::count(count, "package", "packages"),
            if root {
                ", and the project itself"
            } else {
                " (package-mode = false: not the project itself)"
            }
        ));
        if let Some(note) = unhashed {
            output::detail(note);
        }
        translated::install_venv(&context, key, lock_label, &install, |error| match error {
            InstallError::Command(error) => PoetryError::Install(error),
            InstallError::Io { path, error } => PoetryError::Io { path, error },
        })?;
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(PoetryBuildpack);

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::testing;

    fn key(app: &Path, env: &Env) -> String {
        Prepared::read(app, env).expect("readable").key.digest()
    }

    #[test]
    fn the_venv_key_changes_with_each_input_and_only_with_them() {
        let app = testing::fixture_app("poetry-flask");
        let read = |file: &str| fs_err::read_to_string(app.path().join(file)).expect("read");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| key(app.path(), env),
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
        let before = key(app.path(), &Env::new());
        let changed = testing::fixture_app("changed-locks/poetry");
        for file in ["pyproject.toml", "poetry.lock"] {
            fs_err::copy(changed.path().join(file), app.path().join(file)).expect("copy");
        }
        assert_ne!(key(app.path(), &Env::new()), before);
    }

    #[test]
    fn extras_and_local_directories_are_inputs_and_editable_ones_are_not() {
        let app = testing::fixture_app("poetry-extras");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| key(app.path(), env),
            &[],
            &[(EXTRAS_VARIABLE, "net")],
            &[],
        );
        let app = testing::fixture_app("poetry-sources");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| key(app.path(), env),
            &[("libs/localpkg/localpkg/__init__.py", "VALUE = 2\n")],
            &[],
            // Read from the app at run time.
            &[("libs/devpkg/devpkg/__init__.py", "VALUE = 2\n")],
        );
    }

    #[test]
    fn what_the_build_cannot_read_is_no_key() {
        let app = testing::fixture_app("poetry-flask");
        let mut env = Env::new();
        env.insert(GROUPS_VARIABLE, "docs");
        assert!(matches!(
            Prepared::read(app.path(), &env),
            Err(PoetryError::Lock(lock::LockError::UnknownGroup { .. }))
        ));
    }
}
