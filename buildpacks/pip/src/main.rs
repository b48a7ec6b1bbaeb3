//! Blacklodge pip buildpack: installs `requirements.txt` into a virtual environment layer.
//!
//! pip lives in a build-only layer and is never part of the app image; the venv is reused
//! without running pip when the requirements set, Python and pip are unchanged.

mod errors;
mod layers;
mod requirements;

use crate::errors::PipError;
use crate::layers::venv::{PipRun, VenvLayerMetadata};
use crate::requirements::REQUIREMENTS_FILE;
use blacklodge_common::{env, output, pypi};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::managers::{self, Manager, Selection};
use blacklodge_python_deps::{ca, python};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::layer_name;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Platform, buildpack_main};

#[cfg(test)]
use tempfile as _;

pub(crate) struct PipBuildpack;

impl Buildpack for PipBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = PipError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if managers::detects(&context.app_dir, context.platform.env(), Manager::Pip) {
            DetectResultBuilder::pass()
                .build_plan(blacklodge_python_deps::layers::venv::provider_plan())
                .build()
        } else {
            println!("No {REQUIREMENTS_FILE} in the app root.");
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge pip");
        let env = context.platform.env();
        match managers::select(&context.app_dir, env)
            .map_err(|error| PipError::Deps(error.into()))?
        {
            Selection::Conflict(found) => {
                return Err(PipError::Deps(DepsError::Conflict(found)).into());
            }
            Selection::Unlocked => return Err(PipError::Deps(DepsError::Unlocked).into()),
            _ => {}
        }
        let python_version = python::find().map_err(PipError::Deps)?.version;
        let bindings = ca::read_bindings(&ca::bindings_root())
            .map_err(|error| PipError::Deps(error.into()))?;
        if !bindings.names.is_empty() {
            output::detail(format!(
                "Trusting the CA certificates of binding(s): {}",
                bindings.names.join(", ")
            ));
        }
        let tls = ca::Tls::prepare(&bindings, &std::env::temp_dir())
            .map_err(|error| PipError::Deps(error.into()))?;
        let pip = blacklodge_python_deps::tool::pip();
        let index =
            env::string(env, "PIP_INDEX_URL").unwrap_or_else(|| pypi::DEFAULT_INDEX.to_string());

        output::step(format!("Installing dependencies from {REQUIREMENTS_FILE}"));
        let root = context.app_dir.join(REQUIREMENTS_FILE);
        let files = requirements::requirement_files(&root).map_err(|error| PipError::Io {
            action: "read",
            path: root.clone(),
            error,
        })?;
        let requirements_sha256 =
            requirements::fingerprint(&context.app_dir, &files).map_err(|error| PipError::Io {
                action: "read",
                path: root.clone(),
                error,
            })?;

        let cache_dir = blacklodge_python_deps::layers::download_cache::prepare(
            &context,
            layer_name!("pip-cache"),
            "pip cache",
        )?;

        layers::venv::install(
            &context,
            &VenvLayerMetadata {
                requirements_sha256,
                python_version,
                pip_version: pip.version.clone(),
            },
            &PipRun {
                pin: &pip,
                index: &index,
                cache_dir: &cache_dir,
                tls: &tls,
            },
        )?;
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(PipBuildpack);
