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
use crate::selection::Selection;
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
}

impl Inputs {
    fn read(app_dir: &Path, env: &Env) -> Result<Self, UvError> {
        let selection = Selection::from_env(env).map_err(deps)?;
        let key = VenvKey {
            lock_sha256: fingerprint(app_dir).map_err(deps)?,
            installer: tool::uv().label(),
            selection: selection.describe(),
        };
        Ok(Self { selection, key })
    }
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
        let Inputs { selection, key } = Inputs::read(&context.app_dir, env)?;

        output::step("Installing dependencies from uv.lock");
        output::detail(format!("Installing {}", selection.describe()));
        let uv = setup::uv(&context, &setup::tool_index(env, None))?;
        let python = uv.python.clone();
        let wanted = key.with_python(python.version.clone());
        layers::venv::install(&context, &wanted, "uv.lock", &uv, |venv, _| {
            let lock_path = context.app_dir.join("uv.lock");
            let lock = fs_err::read_to_string(&lock_path).map_err(|error| {
                deps(DepsError::Io {
                    action: "read",
                    path: lock_path,
                    error,
                })
            })?;
            let build_output = BuildOutput::snapshot(
                &context.app_dir,
                local_sources::built_in_place(&lock)
                    .iter()
                    .map(PathBuf::as_path),
            );
            output::stream_heading("Running uv sync --locked");
            let mut sync = uv.command(&context.app_dir);
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

    #[test]
    fn the_venv_key_changes_with_each_input_and_only_with_them() {
        let app = testing::fixture_app("uv-flask");
        let changed = testing::fixture_app("changed-locks/uv");
        let read = |file: &str| fs_err::read_to_string(changed.path().join(file)).expect("read");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| {
                Inputs::read(app.path(), env)
                    .expect("readable")
                    .key
                    .digest()
            },
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

    #[test]
    fn what_the_build_cannot_read_is_no_key() {
        let app = testing::fixture_app("uv-flask");
        let mut env = Env::new();
        env.insert(GROUPS_VARIABLE, "dev;rm -rf");
        assert!(Inputs::read(app.path(), &env).is_err());
    }
}
