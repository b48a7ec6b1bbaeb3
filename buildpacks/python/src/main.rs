//! Blacklodge CPython runtime buildpack.
//!
//! Detects any Python project, selects the CPython version it asks for, and installs a
//! relocatable CPython (python-build-standalone `install_only` layout) into a cached layer.

mod distro;
mod errors;
mod layers;
mod manifest;
mod oci_labels;
mod poetry_constraint;
mod project_files;
mod python_version_file;
mod runtime_txt;
mod sbom;
mod selection;
mod support;
mod version;

use crate::errors::{MissingBuild, PythonError};
use crate::manifest::{Distro, Manifest};
use crate::selection::{Decision, Origin};
use crate::support::Support;
use crate::version::MinorVersion;
use blacklodge_common::{download, env, output, runtime_plan};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::data::launch::LaunchBuilder;
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
            // manager) still forms a valid group; dependency buildpacks require it too. Its own
            // build runs the runtime only when it installs it.
            DetectResultBuilder::pass()
                .build_plan(
                    BuildPlanBuilder::new()
                        .provides(runtime_plan::ENTRY)
                        .requires(runtime_plan::no_build_requirement())
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
        let started = std::time::Instant::now();
        output::header("Blacklodge Python");
        let env = context.platform.env();

        output::step("Selecting Python version");
        let requests = selection::find_requests(&context.app_dir, env)?;
        let (manifest_location, manifest) = load_manifest(env)?;
        let support = Support::shipped();
        let arch = manifest::manifest_arch(&context.target.arch);
        let distro = Distro {
            name: context.target.distro_name.clone(),
            version: context.target.distro_version.clone(),
        };
        if let Some(build) = distro::build_image()
            && build != distro
        {
            return Err(PythonError::DistroMismatch { build, run: distro }.into());
        }
        let any = MinorVersion { major: 0, minor: 0 };
        if manifest.archives_for(arch, None, any).is_empty() {
            return Err(PythonError::NoArchivesForArch {
                arch: arch.to_string(),
                manifest: manifest_location,
                arches: manifest.arches(),
            }
            .into());
        }
        if manifest.archives_for(arch, Some(&distro), any).is_empty() {
            return Err(PythonError::NoArchivesForDistro {
                distro,
                manifest: manifest_location,
                distros: manifest.distros(arch).unwrap_or_default(),
            }
            .into());
        }
        let archives = manifest.archives_for(arch, Some(&distro), support.oldest);
        let decision = selection::decide(&requests, &archives, support).map_err(|error| {
            not_built_for_distro(error, &manifest, arch, &distro, &manifest_location)
        })?;
        log_decision(&decision);
        let archive = decision.archive;

        let mirror = env::string(env, "BP_PYTHON_MIRROR_URL");
        let url = manifest::mirrored(&archive.url, mirror.as_deref());
        let need = runtime_plan::need(&context.buildpack_plan);
        layers::python::install(&context, archive, &url, &need)?;

        output::step(format!(
            "Done ({})",
            output::format_duration(started.elapsed())
        ));
        let labels = oci_labels::labels(
            env,
            context.layers_dir.parent().unwrap_or(&context.layers_dir),
        );
        BuildResultBuilder::new()
            .launch(LaunchBuilder::new().labels(labels).build())
            .build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

/// The shipped manifest, or the one `BP_PYTHON_MANIFEST_URL` points to, and where it is from.
fn load_manifest(env: &libcnb::Env) -> Result<(String, Manifest), PythonError> {
    let (location, text) = match env::string(env, "BP_PYTHON_MANIFEST_URL") {
        Some(location) => {
            let bytes =
                download::fetch(&location, None).map_err(|error| PythonError::ManifestFetch {
                    location: location.clone(),
                    error,
                })?;
            (location, String::from_utf8_lossy(&bytes).into_owned())
        }
        None => (
            "shipped with the buildpack".to_string(),
            manifest::SHIPPED_MANIFEST.to_string(),
        ),
    };
    let manifest = Manifest::parse(&text).map_err(|error| PythonError::ManifestParse {
        location: location.clone(),
        error,
    })?;
    Ok((location, manifest))
}

/// A version the stack's distribution has no build of, which another distribution has, is
/// reported as such (the fix is another stack, not another version file).
fn not_built_for_distro(
    error: PythonError,
    manifest: &Manifest,
    arch: &str,
    distro: &Distro,
    location: &str,
) -> PythonError {
    let PythonError::UnknownVersion {
        requested,
        available,
    } = error
    else {
        return error;
    };
    let built_for = manifest.distros_with(arch, |version| requested.request.matches(version));
    if built_for.is_empty() {
        return PythonError::UnknownVersion {
            requested,
            available,
        };
    }
    PythonError::NotBuiltForDistro(Box::new(MissingBuild {
        requested,
        distro: distro.clone(),
        built_for,
        available,
        manifest: location.to_string(),
    }))
}

/// Tells the user which version was chosen and which file decided it.
fn log_decision(decision: &Decision<'_>) {
    let version = decision.archive.version;
    match &decision.decided_by {
        Some(requested) => output::detail(format!(
            "Python {version} ({} requested in {})",
            requested.request, requested.origin
        )),
        None => output::detail(format!(
            "Python {version} (no version requested: the newest available; pin one in .python-version)"
        )),
    }
    if !decision.agreeing.is_empty() {
        let agreeing: Vec<String> = decision
            .agreeing
            .iter()
            .map(|requested| format!("{} ({})", requested.origin, requested.request))
            .collect();
        output::detail(format!("Also accepted by {}", agreeing.join(", ")));
    }
    if !decision.overridden.is_empty() {
        let overridden: Vec<String> = decision
            .overridden
            .iter()
            .map(|requested| format!("{} asks for {}", requested.origin, requested.request))
            .collect();
        output::warning(
            format!(
                "{} overrides the app's version files",
                selection::VERSION_VARIABLE
            ),
            format!(
                "Building with Python {version}, although:\n{}\nUnset {} to build with the version the app asks for.",
                overridden.join("\n"),
                selection::VERSION_VARIABLE
            ),
        );
    }
    let runtime_txt = decision
        .decided_by
        .iter()
        .chain(&decision.agreeing)
        .chain(&decision.overridden)
        .find(|requested| requested.origin == Origin::RuntimeTxt);
    if let Some(requested) = runtime_txt {
        output::warning(
            "runtime.txt is deprecated",
            format!(
                "runtime.txt is a legacy format. Replace it with a .python-version file containing only the version ({}), the format pyenv, uv and other tools read.",
                requested.request
            ),
        );
    }
}

buildpack_main!(PythonBuildpack);
