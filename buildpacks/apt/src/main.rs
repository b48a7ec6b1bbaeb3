//! Blacklodge OS packages buildpack: the Debian packages an `Aptfile` lists, without root.
//!
//! The packages come from the archive of the stack's own release (`CNB_TARGET_DISTRO_*`):
//! its signed `InRelease` files are verified with `gpgv` (or `sqv`) and the stack's keyring, every
//! `.deb` against the sha256 those indices give. Dependencies the run image already has are
//! left out (the build image carries the run image's dpkg status); the rest is unpacked into
//! one layer whose directories go on `PATH`, `LD_LIBRARY_PATH` (build and launch) and
//! `LIBRARY_PATH`, `CPATH`, `PKG_CONFIG_PATH` (build). Maintainer scripts are not run.

mod aptfile;
mod errors;
mod fixups;
mod index;
mod layers;
mod release;
mod relocate;
mod version;

use crate::aptfile::APTFILE;
use crate::errors::AptError;
use crate::index::{Catalog, ResolveError};
use crate::release::{Archive, Release};
use blacklodge_common::download::{sha256_bytes, sha256_file};
use blacklodge_common::error::io_failure;
use blacklodge_common::{env, output};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Platform, buildpack_main};
use std::path::PathBuf;

#[cfg(test)]
use tempfile as _;

/// Where the build image keeps the run image's `/var/lib/dpkg/status`
/// (`bench/steps/images.sh` writes it).
pub(crate) const RUN_IMAGE_STATUS: &str = "/usr/share/blacklodge/run-image/dpkg-status";
/// Overrides [`RUN_IMAGE_STATUS`] (stacks that keep it elsewhere).
pub(crate) const RUN_IMAGE_STATUS_VARIABLE: &str = "BP_APT_RUN_IMAGE_STATUS";

pub(crate) struct AptBuildpack;

impl Buildpack for AptBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = AptError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if context.app_dir.join(APTFILE).is_file() {
            DetectResultBuilder::pass().build()
        } else {
            println!("No {APTFILE} in the app root.");
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge OS packages");
        let path = context.app_dir.join(APTFILE);
        let text = fs_err::read_to_string(&path)
            .map_err(io_failure("read", &path))
            .map_err(AptError::from)?;
        let requests = aptfile::parse(&text).map_err(AptError::Malformed)?;
        if requests.is_empty() {
            output::step(format!(
                "The {APTFILE} lists no packages: nothing to install"
            ));
            return BuildResultBuilder::new().build();
        }
        let release =
            Release::from_target(&context.target.distro_name, &context.target.distro_version)?;
        let env = context.platform.env();
        let archive = Archive::from_env(env);
        let status_path = PathBuf::from(
            env::string(env, RUN_IMAGE_STATUS_VARIABLE)
                .unwrap_or_else(|| RUN_IMAGE_STATUS.to_string()),
        );
        let status =
            fs_err::read_to_string(&status_path).map_err(|_| AptError::NoRunImageStatus {
                path: status_path.clone(),
            })?;
        let keyring_sha256 = sha256_file(&archive.keyring).unwrap_or_default();

        output::step(format!(
            "Installing OS packages from the {APTFILE} ({release})"
        ));
        output::detail(format!(
            "Requested: {}",
            requests
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        output::detail(format!("Archive: {}", archive.mirror));
        let key = layers::packages::Key {
            requests: requests.iter().map(ToString::to_string).collect(),
            release: release.to_string(),
            mirror: archive.mirror.clone(),
            security_mirror: archive.security_mirror.clone(),
            keyring_sha256,
            run_image_sha256: sha256_bytes(status.as_bytes()),
        };
        let work = std::env::temp_dir().join("blacklodge-apt");
        layers::packages::install(&context, key, || {
            let run_image = Catalog::installed(&status);
            let mut packages = Vec::new();
            let mut suites = Vec::new();
            output::timed(
                format!("Reading the signed package indices of {release}"),
                || {
                    for suite in archive.suites(&release) {
                        if let Some(found) =
                            release::read_suite(&suite, &archive.keyring, &work.join(&suite.name))?
                        {
                            packages.extend(found);
                            suites.push(suite.name);
                        }
                    }
                    Ok::<(), AptError>(())
                },
            )?;
            let catalog = Catalog::new(packages);
            output::detail(format!(
                "{} in {} ({} in the run image)",
                output::count(catalog.len(), "package", "packages"),
                suites.join(", "),
                run_image.len()
            ));
            let resolution = index::resolve(&requests, &catalog, &run_image).map_err(
                |error: ResolveError| {
                    AptError::Resolve(Box::new(errors::ResolveFailure {
                        error,
                        release: release.clone(),
                        suites: suites.clone(),
                    }))
                },
            )?;
            for (name, version) in &resolution.already_installed {
                output::detail(format!("{name} {version} is already in the run image"));
            }
            output::detail(format!(
                "Installing {}: {}",
                output::count(resolution.install.len(), "package", "packages"),
                resolution
                    .install
                    .iter()
                    .map(|package| format!("{} {}", package.name, package.version))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Ok(resolution.install)
        })?;
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(AptBuildpack);
