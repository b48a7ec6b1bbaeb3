//! The `venv` layer: a virtual environment with the app's requirements, for build and launch.
//!
//! Cached on the fingerprint of the requirements set plus the Python and pip versions: when
//! none changed, the venv is reused as is (no resolver run, no network).

use crate::PipBuildpack;
use crate::errors::PipError;
use crate::requirements::REQUIREMENTS_FILE;
use blacklodge_common::{cache, command, output};
use blacklodge_python_deps::ca::Tls;
use blacklodge_python_deps::layers::venv::write_sbom;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::LayerState;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// 1980-01-01: the earliest timestamp a wheel (zip) can hold. With SOURCE_DATE_EPOCH set,
/// pip's bytecode compilation writes hash-based .pyc files, so layers are reproducible.
const SOURCE_DATE_EPOCH: &str = "315532800";

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VenvLayerMetadata {
    pub(crate) requirements_sha256: String,
    pub(crate) python_version: String,
    pub(crate) pip_version: String,
}

fn invalidation_reasons(cached: &VenvLayerMetadata, wanted: &VenvLayerMetadata) -> Vec<String> {
    let VenvLayerMetadata {
        requirements_sha256,
        python_version,
        pip_version,
    } = cached;
    let VenvLayerMetadata {
        requirements_sha256: new_requirements_sha256,
        python_version: new_python_version,
        pip_version: new_pip_version,
    } = wanted;
    cache::reasons([
        (requirements_sha256 != new_requirements_sha256)
            .then(|| format!("{REQUIREMENTS_FILE} (or a file it includes) changed")),
        cache::changed("Python version", python_version, new_python_version),
        cache::changed("pip version", pip_version, new_pip_version),
    ])
}

pub(crate) struct PipRun<'a> {
    /// Directory holding pip (goes on PYTHONPATH).
    pub(crate) pip_site: &'a Path,
    /// pip's download/wheel cache.
    pub(crate) cache_dir: &'a Path,
    /// CA certificates (bindings) for pip.
    pub(crate) tls: &'a Tls,
}

pub(crate) fn install(
    context: &BuildContext<PipBuildpack>,
    wanted: &VenvLayerMetadata,
    pip: &PipRun<'_>,
) -> libcnb::Result<PathBuf, PipError> {
    let layer = cache::cached_layer(
        context,
        layer_name!("venv"),
        true,
        true,
        wanted,
        invalidation_reasons,
    )?;
    let venv = layer.path();
    match layer.state {
        LayerState::Restored { .. } => {
            output::detail(format!(
                "Reusing cached virtual environment ({REQUIREMENTS_FILE}, Python and pip unchanged)"
            ));
        }
        LayerState::Empty { .. } => {
            cache::log_if_discarded("virtual environment", &layer.state);
            output::timed("Creating virtual environment", || {
                command::run_captured(
                    Command::new("python3")
                        .args(["-m", "venv", "--without-pip"])
                        .arg(&venv),
                )
            })
            .map_err(PipError::CreateVenv)?;
            output::stream_heading(format!("Running pip install -r {REQUIREMENTS_FILE}"));
            let start = std::time::Instant::now();
            let mut install = Command::new(venv.join("bin/python"));
            pip.tls.apply(&mut install);
            command::run_streamed(
                install
                    .args(["-m", "pip", "install", "--requirement", REQUIREMENTS_FILE])
                    .args([
                        "--no-input",
                        "--progress-bar",
                        "off",
                        "--disable-pip-version-check",
                        "--no-warn-script-location",
                    ])
                    .current_dir(&context.app_dir)
                    .env("PYTHONPATH", pip.pip_site)
                    .env("PIP_CACHE_DIR", pip.cache_dir)
                    .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH),
            )
            .map_err(PipError::InstallRequirements)?;
            output::detail(format!(
                "Installed in {}",
                output::format_duration(start.elapsed())
            ));
            write_sbom(&venv, |sboms| layer.write_sboms(sboms))?;
            layer.write_metadata(wanted.clone())?;
        }
    }
    layer.write_env(blacklodge_python_deps::layers::venv::environment(&venv))?;
    Ok(venv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_what_changed() {
        let cached = VenvLayerMetadata {
            requirements_sha256: "a".into(),
            python_version: "3.11.2".into(),
            pip_version: "26.3".into(),
        };
        assert!(invalidation_reasons(&cached, &cached).is_empty());
        let wanted = VenvLayerMetadata {
            requirements_sha256: "b".into(),
            ..cached.clone()
        };
        assert_eq!(
            invalidation_reasons(&cached, &wanted),
            vec!["requirements.txt (or a file it includes) changed".to_string()]
        );
    }
}
