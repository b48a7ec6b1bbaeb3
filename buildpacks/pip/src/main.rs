//! Blacklodge pip buildpack: installs `requirements.txt` into a virtual environment layer.
//!
//! pip lives in a build-only layer and is never part of the app image; the venv is reused
//! without running pip when the requirements set, Python and pip are unchanged.

mod errors;
mod layers;
mod pip_version;
mod requirements;

use crate::errors::PipError;
use crate::layers::venv::{PipRun, VenvLayerMetadata};
use crate::requirements::REQUIREMENTS_FILE;
use blacklodge_common::{command, env, output, pypi};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::data::layer_name;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::layer::{CachedLayerDefinition, InvalidMetadataAction, RestoredLayerAction};
use libcnb::{Buildpack, Platform, buildpack_main};
use serde::{Deserialize, Serialize};
use std::process::Command;

#[cfg(test)]
use tempfile as _;

pub(crate) struct PipBuildpack;

/// The pip cache layer's metadata: bump to drop every cached download.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
struct PipCacheMetadata {
    cache_version: u32,
}

fn python_version() -> Result<String, PipError> {
    let output = command::run_captured(Command::new("python3").args([
        "-c",
        "import sys; print('.'.join(map(str, sys.version_info[:3])))",
    ]))
    .map_err(PipError::NoPython)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

impl Buildpack for PipBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = PipError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if context.app_dir.join(REQUIREMENTS_FILE).is_file() {
            DetectResultBuilder::pass()
                .build_plan(BuildPlanBuilder::new().requires("python").build())
                .build()
        } else {
            println!("No {REQUIREMENTS_FILE} in the app root.");
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge pip");
        let python_version = python_version()?;
        let pip = pip_version::pinned();
        let index = env::string(context.platform.env(), "PIP_INDEX_URL")
            .unwrap_or_else(|| pypi::DEFAULT_INDEX.to_string());

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

        let pip_site = layers::pip::install(&context, &pip, &python_version, &index)?;
        let cache = context.cached_layer(
            layer_name!("pip-cache"),
            CachedLayerDefinition {
                build: false,
                launch: false,
                invalid_metadata_action: &|_| InvalidMetadataAction::DeleteLayer,
                restored_layer_action: &|_: &PipCacheMetadata, _| RestoredLayerAction::KeepLayer,
            },
        )?;
        cache.write_metadata(PipCacheMetadata { cache_version: 1 })?;

        layers::venv::install(
            &context,
            &VenvLayerMetadata {
                requirements_sha256,
                python_version,
                pip_version: pip.version.clone(),
            },
            &PipRun {
                pip_site: &pip_site,
                cache_dir: &cache.path(),
            },
        )?;
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(PipBuildpack);
