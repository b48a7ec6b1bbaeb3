//! Blacklodge uv buildpack: installs a uv project into a virtual environment layer with
//! `uv sync --locked` (the lock must match pyproject.toml; it is never re-locked).
//!
//! uv lives in a build-only layer; its cache in a cache-only layer. The venv is reused
//! without running uv when uv.lock, pyproject.toml, the selection, Python and uv are
//! unchanged, and synced in place when only the lock changed.

mod errors;
mod local_sources;
mod selection;

use crate::errors::UvError;
use crate::local_sources::LocalSource;
use crate::selection::Selection;
use blacklodge_common::download::sha256_bytes;
use blacklodge_common::{command, env, output};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::layers::venv::VenvKey;
use blacklodge_python_deps::local_sources::BuildOutput;
use blacklodge_python_deps::managers::Manager;
use blacklodge_python_deps::{layers, setup, tool};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::detect::{DetectContext, DetectResult};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Env, Platform, buildpack_main};
use std::path::{Path, PathBuf};

pub(crate) struct UvBuildpack;

/// The files `uv sync --locked` reads: the venv is keyed on all of them.
const PROJECT_FILES: [&str; 3] = ["pyproject.toml", "uv.lock", "uv.toml"];

/// uv settings that would let an outdated lock through.
const LOCK_CHECK_SKIPPERS: [&str; 2] = ["UV_FROZEN", "UV_NO_SYNC"];

fn fingerprint(app_dir: &Path) -> Result<String, DepsError> {
    blacklodge_common::cache::files_sha256(app_dir, &PROJECT_FILES).map_err(|failure| {
        DepsError::Io {
            action: failure.action,
            path: failure.path,
            error: failure.error,
        }
    })
}

fn deps(error: impl Into<DepsError>) -> UvError {
    UvError::Deps(error.into())
}

/// What `uv sync` installs and the venv key, read by the same code at detection (the key's
/// digest tells the python buildpack when Python runs: `VenvKey`) and at build.
struct Inputs {
    selection: Selection,
    key: VenvKey,
    /// uv.lock's local source trees (`editable` and `directory` packages).
    local: Vec<LocalSource>,
}

impl Inputs {
    fn read(app_dir: &Path, env: &Env) -> Result<Self, UvError> {
        let selection = Selection::from_env(env).map_err(deps)?;
        let lock = read_file(&app_dir.join("uv.lock")).map_err(deps)?;
        let local = local_sources::sources(&lock);
        if let Some(source) = local
            .iter()
            .find(|source| !app_dir.join(&source.path).exists())
        {
            return Err(UvError::LocalPathMissing {
                package: source.name.clone(),
                path: source.path.clone(),
            });
        }
        // A directory package is built and copied into the venv: its files are not in the
        // lock, so they are in the key (an editable one is used in place).
        let mut lock_sha256 = fingerprint(app_dir).map_err(deps)?;
        let copied: Vec<&Path> = copied(&local).map(|source| source.path.as_path()).collect();
        if !copied.is_empty() {
            let files = blacklodge_python_deps::local_sources::fingerprint(app_dir, &copied)
                .map_err(|error| {
                    deps(DepsError::Io {
                        action: "read",
                        path: app_dir.to_path_buf(),
                        error,
                    })
                })?;
            lock_sha256 = sha256_bytes(format!("{lock_sha256}\n{files}").as_bytes());
        }
        let key = VenvKey {
            lock_sha256,
            installer: tool::uv().label(),
            selection: selection.describe(),
        };
        Ok(Self {
            selection,
            key,
            local,
        })
    }

    /// How the build log names what the key covers.
    fn lock_label(&self) -> &'static str {
        if copied(&self.local).next().is_some() {
            "uv.lock (+ local packages)"
        } else {
            "uv.lock"
        }
    }
}

/// The directory (non-editable) packages among `local`.
fn copied(local: &[LocalSource]) -> impl Iterator<Item = &LocalSource> {
    local.iter().filter(|source| !source.editable)
}

fn read_file(path: &Path) -> Result<String, DepsError> {
    fs_err::read_to_string(path).map_err(|error| DepsError::Io {
        action: "read",
        path: path.to_path_buf(),
        error,
    })
}

impl Buildpack for UvBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = UvError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        setup::detect_lock(
            &context,
            Manager::Uv,
            "No uv.lock in the app root (or another package manager is selected).",
            |app, env| Inputs::read(app, env).map(|inputs| inputs.key),
        )
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge uv");
        let env = context.platform.env();
        setup::check_selection(&context.app_dir, env).map_err(deps)?;
        for file in ["pyproject.toml", "uv.lock"] {
            if !context.app_dir.join(file).is_file() {
                return Err(UvError::MissingFile(file).into());
            }
        }
        if let Some(variable) = LOCK_CHECK_SKIPPERS
            .into_iter()
            .find(|variable| env::string(env, variable).is_some())
        {
            return Err(UvError::SkipsLockCheck(variable).into());
        }
        let inputs = Inputs::read(&context.app_dir, env)?;
        let Inputs {
            selection, local, ..
        } = &inputs;

        output::step("Installing dependencies from uv.lock");
        output::detail(format!("Installing {}", selection.describe()));
        let uv = setup::uv(&context, &setup::tool_index(env, None))?;
        let python = uv.python.clone();
        let wanted = inputs.key.clone().with_python(python.version.clone());
        layers::venv::install(&context, &wanted, inputs.lock_label(), &uv, |venv, _| {
            let build_output = BuildOutput::snapshot(
                &context.app_dir,
                local_sources::built_in_place(local)
                    .iter()
                    .map(PathBuf::as_path),
            );
            output::stream_heading("Running uv sync --locked");
            let mut sync = uv.command(&context.app_dir);
            // A venv synced in place gets a changed directory package too: `uv sync`
            // rebuilds it (tests/tests/uv.rs, a_changed_directory_package_is_installed_again).
            sync.args(["sync", "--locked"])
                .args(selection.args())
                .arg("--python")
                .arg(&python.executable)
                .env("UV_PROJECT_ENVIRONMENT", venv);
            command::run_streamed(&mut sync).map_err(UvError::Sync)?;
            build_output.remove_new().map_err(|(path, error)| {
                deps(DepsError::Io {
                    action: "remove",
                    path,
                    error,
                })
            })?;
            Ok(())
        })?;
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(UvBuildpack);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::{EXTRAS_VARIABLE, GROUPS_VARIABLE};
    use blacklodge_common::testing;

    fn key_digest(app_dir: &Path, env: &Env) -> String {
        Inputs::read(app_dir, env).expect("readable").key.digest()
    }

    #[test]
    fn the_venv_key_changes_with_each_input_and_only_with_them() {
        let app = testing::fixture_app("uv-flask");
        let changed = testing::fixture_app("changed-locks/uv");
        let read = |file: &str| fs_err::read_to_string(changed.path().join(file)).expect("read");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| key_digest(app.path(), env),
            // Every file `uv sync --locked` reads (idna added, as `uv lock` wrote them).
            &[
                ("uv.lock", &read("uv.lock")),
                ("pyproject.toml", &read("pyproject.toml")),
                ("uv.toml", "no-build-isolation = true\n"),
            ],
            &[(GROUPS_VARIABLE, "dev"), (EXTRAS_VARIABLE, "all")],
            // The app's code; Python's version (the python buildpack's own key: a new one
            // installs the runtime anyway).
            &[
                ("app.py", "X = 2\n"),
                ("extra.py", "Y = 1\n"),
                (".python-version", "3.13\n"),
            ],
        );
    }

    /// A directory package is copied into the venv, so its files are inputs; what building it
    /// leaves in its tree is not.
    #[test]
    fn a_directory_package_s_files_are_in_the_key() {
        let app = testing::fixture_app("uv-local");
        let inputs = Inputs::read(app.path(), &Env::new()).expect("readable");
        assert_eq!(inputs.lock_label(), "uv.lock (+ local packages)");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| key_digest(app.path(), env),
            &[
                (
                    "libs/localpkg/localpkg/__init__.py",
                    "VALUE = \"changed\"\n",
                ),
                ("libs/localpkg/localpkg/extra.py", "Y = 1\n"),
                (
                    "libs/localpkg/pyproject.toml",
                    "[project]\nname = \"localpkg\"\nversion = \"1.2.1\"\n",
                ),
            ],
            &[],
            &[
                ("app.py", "X = 2\n"),
                (
                    "libs/localpkg/build/lib/localpkg/__init__.py",
                    "VALUE = 1\n",
                ),
                (
                    "libs/localpkg/localpkg.egg-info/PKG-INFO",
                    "Name: localpkg\n",
                ),
                ("libs/localpkg/localpkg/__pycache__/x.pyc", "pyc"),
            ],
        );
        assert_eq!(
            Inputs::read(testing::fixture_app("uv-flask").path(), &Env::new())
                .expect("readable")
                .lock_label(),
            "uv.lock"
        );
    }

    #[test]
    fn a_missing_directory_package_is_named() {
        let app = testing::fixture_app("uv-local");
        fs_err::remove_dir_all(app.path().join("libs/localpkg")).expect("remove");
        match Inputs::read(app.path(), &Env::new()) {
            Err(UvError::LocalPathMissing { package, path }) => {
                assert_eq!(
                    (package.as_str(), path),
                    ("localpkg", PathBuf::from("libs/localpkg"))
                );
            }
            other => panic!(
                "expected LocalPathMissing, got {:?}",
                other.map(|inputs| inputs.key)
            ),
        }
    }

    #[test]
    fn what_the_build_cannot_read_is_no_key() {
        let app = testing::fixture_app("uv-flask");
        let mut env = Env::new();
        env.insert(GROUPS_VARIABLE, "dev;rm -rf");
        assert!(Inputs::read(app.path(), &env).is_err());
    }
}
