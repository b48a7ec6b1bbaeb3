//! Blacklodge pip buildpack: installs `requirements.txt` into a virtual environment layer.
//!
//! uv installs it by default, reading the files and pip's settings as pip does
//! ([`translate`]); `BP_PIP_INSTALLER=pip` runs pip itself. The installer lives in a
//! build-only layer and is never part of the app image; the venv is reused without running
//! it when the requirements set, Python and the installer are unchanged.

mod errors;
mod installer;
mod layers;
mod requirements;
mod translate;

use crate::errors::PipError;
use crate::installer::{INSTALLER_VARIABLE, Installer, Reason};
use crate::layers::venv::{PipRun, Run, UvRun, VenvLayerMetadata};
use crate::requirements::REQUIREMENTS_FILE;
use crate::translate::PipSettings;
use blacklodge_common::download::sha256_bytes;
use blacklodge_common::{env, output, pypi, runtime_plan};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::managers::{self, Manager, Selection};
use blacklodge_python_deps::tool::PinnedWheel;
use blacklodge_python_deps::{ca, python, setup, translated};
use libcnb::Env;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::Require;
use libcnb::data::layer_name;
use libcnb::detect::{DetectContext, DetectResult};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Platform, buildpack_main};
use std::path::Path;

#[cfg(test)]
use tempfile as _;

pub(crate) struct PipBuildpack;

impl Buildpack for PipBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = PipError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        blacklodge_python_deps::setup::detect(
            &context,
            Manager::Pip,
            &format!("No {REQUIREMENTS_FILE} in the app root."),
            // The venv key (but Python's version, the python buildpack's own concern): Python
            // runs in this build only when it changed. Unreadable files: the build says why.
            || match VenvInputs::read(&context.app_dir, context.platform.env()) {
                Ok(inputs) => runtime_plan::when_changed_requirement(&inputs.digest()),
                Err(_) => Require::new(runtime_plan::ENTRY),
            },
        )
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
            Selection::Unlocked(file) => {
                return Err(PipError::Deps(DepsError::Unlocked(file)).into());
            }
            Selection::Selected(manager) if !manager.has_buildpack() => {
                let files = managers::present(&context.app_dir)
                    .into_iter()
                    .find(|(present, _)| *present == manager)
                    .map(|(_, files)| files)
                    .unwrap_or_default();
                return Err(PipError::Deps(DepsError::NoBuildpack { manager, files }).into());
            }
            _ => {}
        }
        let VenvInputs {
            installer,
            reason,
            pip_settings,
            files,
            requirements_sha256,
        } = VenvInputs::read(&context.app_dir, env)?;
        let pin = installer.pin();
        output::step(format!("Installing dependencies from {REQUIREMENTS_FILE}"));
        output::detail(match reason {
            Reason::Default => format!(
                "Installer: {} (the default; {INSTALLER_VARIABLE}=pip installs with pip)",
                pin.label()
            ),
            Reason::Variable => format!("Installer: {} ({INSTALLER_VARIABLE})", pin.label()),
            Reason::VendoredPip => format!(
                "Installer: {} (vendor/ has its wheel but not {}'s: add that to vendor/ to install with uv)",
                pin.label(),
                Installer::Uv.pin().label()
            ),
        });

        match installer {
            Installer::Uv => {
                install_with_uv(&context, &files, requirements_sha256, &pin, pip_settings)?;
            }
            Installer::Pip => install_with_pip(&context, requirements_sha256, &pin, &pip_settings)?,
        }
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

/// What the venv is keyed on (but Python's version), read the same way at detection (for
/// the python buildpack, see `blacklodge_common::runtime_plan`) and at build.
struct VenvInputs {
    installer: Installer,
    reason: Reason,
    /// pip's settings as pip resolves them: the build's PIP_* variables over its
    /// configuration files. Both installers' venv keys record them.
    pip_settings: PipSettings,
    files: Vec<requirements::RequirementsFile>,
    requirements_sha256: String,
}

impl VenvInputs {
    fn read(app_dir: &Path, env: &Env) -> Result<Self, PipError> {
        let (installer, reason) =
            installer::select(env, app_dir).map_err(|error| PipError::Deps(error.into()))?;
        let pip_settings = PipSettings::from_process(app_dir, false);
        let root = app_dir.join(REQUIREMENTS_FILE);
        let mut roots = vec![root.clone()];
        roots.extend(requirements::constraint_files(
            pip_settings.vars.get("PIP_CONSTRAINT").map(String::as_str),
            app_dir,
        ));
        let files = requirements::read_set(app_dir, &roots).map_err(|error| PipError::Io {
            action: "read",
            path: root.clone(),
            error,
        })?;
        // Local directories the set installs can change without any requirements file
        // changing: what they contribute is part of the key.
        let local = requirements::local_directories(&files, app_dir);
        let local_fingerprint =
            requirements::local_fingerprint(app_dir, &local).map_err(|error| PipError::Io {
                action: "read",
                path: app_dir.to_path_buf(),
                error,
            })?;
        let requirements_sha256 = if local_fingerprint.is_empty() {
            requirements::fingerprint(&files)
        } else {
            sha256_bytes(
                format!("{}\0{local_fingerprint}", requirements::fingerprint(&files)).as_bytes(),
            )
        };
        Ok(Self {
            installer,
            reason,
            pip_settings,
            files,
            requirements_sha256,
        })
    }

    /// A digest of everything in the venv key but Python's version.
    fn digest(&self) -> String {
        let settings: Vec<String> = self
            .pip_settings
            .install_key()
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        sha256_bytes(
            format!(
                "{}\0{}\0{}",
                self.requirements_sha256,
                self.installer.pin().label(),
                settings.join("\0")
            )
            .as_bytes(),
        )
    }
}

/// uv, given what it needs to read the files and pip's settings as pip does.
fn install_with_uv(
    context: &BuildContext<PipBuildpack>,
    files: &[requirements::RequirementsFile],
    requirements_sha256: String,
    pin: &PinnedWheel,
    mut pip_settings: PipSettings,
) -> libcnb::Result<(), PipError> {
    let uv = setup::uv(context, &setup::tool_index(context.platform.env(), None))?;
    pip_settings.ca_bundle = uv.tls.bundle.is_some();
    let mut settings = translate::for_uv(files, &pip_settings).map_err(PipError::NotForUv)?;
    // uv's own variable, which the pinned uv does not read (as for Poetry and Pipenv).
    if translated::no_index(context.platform.env()).map_err(|error| PipError::Deps(error.into()))?
        && !settings.args.iter().any(|arg| arg == "--no-index")
    {
        settings.args.push("--no-index".to_string());
        settings
            .notes
            .push(format!("{} → --no-index", translated::NO_INDEX_VARIABLE));
    }
    if !settings.notes.is_empty() {
        output::detail(format!(
            "pip settings for uv: {}",
            settings.notes.join(", ")
        ));
    }
    if let Some(origin) = &settings.hash_checking {
        output::detail(format!(
            "Hash-checking mode ({origin}): every requirement must be pinned and hashed"
        ));
    }
    let wanted = VenvLayerMetadata {
        requirements_sha256,
        python_version: uv.python.version.clone(),
        installer: pin.label(),
        settings: pip_settings.install_key(),
    };
    layers::venv::install(
        context,
        &wanted,
        &Run::Uv(UvRun {
            uv: &uv,
            settings: &settings,
        }),
    )
    .map(|_| ())
}

/// pip itself, from its wheel, with the CA bindings and its own download cache.
fn install_with_pip(
    context: &BuildContext<PipBuildpack>,
    requirements_sha256: String,
    pin: &PinnedWheel,
    pip_settings: &PipSettings,
) -> libcnb::Result<(), PipError> {
    let tls = ca::trusted_tls().map_err(|error| PipError::Deps(error.into()))?;
    let index = env::string(context.platform.env(), "PIP_INDEX_URL")
        .unwrap_or_else(|| pypi::DEFAULT_INDEX.to_string());
    let cache_dir = blacklodge_python_deps::layers::download_cache::prepare(
        context,
        layer_name!("pip-cache"),
        "pip cache",
    )?;
    let wanted = VenvLayerMetadata {
        requirements_sha256,
        python_version: python::find().map_err(PipError::Deps)?.version,
        installer: pin.label(),
        // pip reads the same variables and files itself.
        settings: pip_settings.install_key(),
    };
    layers::venv::install(
        context,
        &wanted,
        &Run::Pip(PipRun {
            pin,
            index: &index,
            cache_dir: &cache_dir,
            tls: &tls,
        }),
    )
    .map(|_| ())
}

buildpack_main!(PipBuildpack);
