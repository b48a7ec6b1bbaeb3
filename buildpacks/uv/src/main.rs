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
use blacklodge_python_deps::layers::venv::VenvLayerMetadata;
use blacklodge_python_deps::local_sources::BuildOutput;
use blacklodge_python_deps::managers::Manager;
use blacklodge_python_deps::{layers, setup, tool};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::detect::{DetectContext, DetectResult};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Platform, buildpack_main};
use std::path::PathBuf;

pub(crate) struct UvBuildpack;

/// The files `uv sync --locked` reads: the venv is keyed on all of them.
const PROJECT_FILES: [&str; 3] = ["pyproject.toml", "uv.lock", "uv.toml"];

/// uv settings that would let an outdated lock through.
const LOCK_CHECK_SKIPPERS: [&str; 2] = ["UV_FROZEN", "UV_NO_SYNC"];

fn fingerprint(app_dir: &std::path::Path) -> Result<String, DepsError> {
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

impl Buildpack for UvBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = UvError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        blacklodge_python_deps::setup::detect(
            &context,
            Manager::Uv,
            "No uv.lock in the app root (or another package manager is selected).",
            // Its venv key is not offered: the runtime is there on every build.
            || libcnb::data::build_plan::Require::new(blacklodge_common::runtime_plan::ENTRY),
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
        let selection = Selection::from_env(env).map_err(deps)?;

        output::step("Installing dependencies from uv.lock");
        output::detail(format!("Installing {}", selection.describe()));
        let pin = tool::uv();
        let uv = setup::uv(&context, &setup::tool_index(env, None))?;
        let python = uv.python.clone();

        let wanted = VenvLayerMetadata {
            lock_sha256: fingerprint(&context.app_dir).map_err(deps)?,
            python_version: python.version.clone(),
            installer: pin.label(),
            selection: selection.describe(),
        };
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
