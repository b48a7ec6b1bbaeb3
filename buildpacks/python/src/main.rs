//! Blacklodge CPython runtime buildpack.
//!
//! Detects any Python project, selects the CPython version it asks for, and installs a
//! relocatable CPython (python-build-standalone `install_only` layout) into a cached layer.

mod errors;
mod layers;
mod manifest;
mod selection;
mod version;

use crate::errors::PythonError;
use crate::manifest::Manifest;
use blacklodge_common::{download, env, output};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Platform, buildpack_main};

#[cfg(test)]
use tempfile as _;

pub(crate) struct PythonBuildpack;

/// Files whose presence makes a directory a Python project.
pub(crate) const PROJECT_FILES: &[&str] = &[
    "requirements.txt",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "poetry.lock",
    "uv.lock",
    "Pipfile",
    "Pipfile.lock",
    "environment.yml",
    "package-list.txt",
    ".python-version",
    "runtime.txt",
    "blacklodge.toml",
];

fn is_python_project(app_dir: &std::path::Path) -> bool {
    PROJECT_FILES.iter().any(|file| app_dir.join(file).exists())
        || fs_err::read_dir(app_dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|entry| entry.path().extension().is_some_and(|ext| ext == "py"))
        })
}

impl Buildpack for PythonBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = PythonError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if is_python_project(&context.app_dir) {
            // Provides `python` and requires it itself, so a plain Python app (no dependency
            // manager) still forms a valid group; dependency buildpacks require it too.
            DetectResultBuilder::pass()
                .build_plan(
                    BuildPlanBuilder::new()
                        .provides("python")
                        .requires("python")
                        .build(),
                )
                .build()
        } else {
            println!(
                "No Python project files found (looked for {} and *.py in the app root).",
                PROJECT_FILES.join(", ")
            );
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge Python");
        let env = context.platform.env();

        output::step("Selecting Python version");
        let requested = selection::requested_version(&context.app_dir, env)?;
        let (manifest_location, manifest_text) = match env::string(env, "BP_PYTHON_MANIFEST_URL") {
            Some(location) => {
                let bytes = download::fetch(&location, None).map_err(|error| {
                    PythonError::ManifestFetch {
                        location: location.clone(),
                        error,
                    }
                })?;
                (location, String::from_utf8_lossy(&bytes).into_owned())
            }
            None => (
                "shipped with the buildpack".to_string(),
                manifest::SHIPPED_MANIFEST.to_string(),
            ),
        };
        let manifest =
            Manifest::parse(&manifest_text).map_err(|error| PythonError::ManifestParse {
                location: manifest_location.clone(),
                error,
            })?;
        let arch = manifest::manifest_arch(&context.target.arch);
        let archives = manifest.archives_for(arch);
        if archives.is_empty() {
            return Err(PythonError::NoArchivesForArch {
                arch: arch.to_string(),
                manifest: manifest_location,
            }
            .into());
        }
        let archive = manifest::select(&archives, requested.request).ok_or_else(|| {
            let mut available: Vec<String> =
                archives.iter().map(|a| a.version.to_string()).collect();
            available.dedup();
            PythonError::UnknownVersion {
                request: requested.request.expect("only a request can fail to match"),
                origin: requested.origin.clone(),
                available,
            }
        })?;
        match requested.request {
            Some(request) => output::detail(format!(
                "Python {} ({request} requested in {})",
                archive.version, requested.origin
            )),
            None => output::detail(format!(
                "Python {} ({}; pin a version in .python-version)",
                archive.version, requested.origin
            )),
        }

        let mirror = env::string(env, "BP_PYTHON_MIRROR_URL");
        let url = manifest::mirrored(&archive.url, mirror.as_deref());
        layers::python::install(&context, archive, &url)?;

        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(PythonBuildpack);
