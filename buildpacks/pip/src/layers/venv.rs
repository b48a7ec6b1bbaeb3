//! The `venv` layer: a virtual environment with the app's requirements, for launch (and for
//! build when a later buildpack requires it, see `blacklodge_python_deps::layers::venv`).
//!
//! Keyed on the fingerprint of the requirements set plus the Python and pip versions: when
//! none changed, the venv is reused as is (no resolver run, no network); otherwise it is
//! recreated, so removed packages are really gone.

use crate::PipBuildpack;
use crate::errors::PipError;
use crate::requirements::REQUIREMENTS_FILE;
use blacklodge_common::{cache, command, output};
use blacklodge_python_deps::ca::Tls;
use blacklodge_python_deps::layers::venv::{self, write_sbom};
use blacklodge_python_deps::tool::PinnedWheel;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::LayerState;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

use blacklodge_python_deps::bytecode::SOURCE_DATE_EPOCH;

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
    /// The pinned pip, fetched when something is to be installed.
    pub(crate) pin: &'a PinnedWheel,
    /// The index pip is fetched from.
    pub(crate) index: &'a str,
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
    let reused = || {
        output::detail(format!(
            "Reusing cached virtual environment ({REQUIREMENTS_FILE}, Python and pip unchanged)"
        ));
    };
    let at_build = venv::needed_at_build(&context.buildpack_plan);
    if !at_build {
        let Some(layer) = venv::launch_only_venv(context, wanted, invalidation_reasons, reused)?
        else {
            return Ok(context.layers_dir.join("venv"));
        };
        let path = layer.path();
        fill(context, &path, pip)?;
        write_sbom(&path, |sboms| layer.write_sboms(sboms))?;
        layer.write_metadata(wanted.clone())?;
        layer.write_env(venv::environment(&path))?;
        return Ok(path);
    }

    let layer = cache::cached_layer(
        context,
        layer_name!("venv"),
        true,
        true,
        wanted,
        invalidation_reasons,
    )?;
    let path = layer.path();
    match layer.state {
        LayerState::Restored { .. } => reused(),
        LayerState::Empty { .. } => {
            cache::log_if_discarded("virtual environment", &layer.state);
            fill(context, &path, pip)?;
            write_sbom(&path, |sboms| layer.write_sboms(sboms))?;
            layer.write_metadata(wanted.clone())?;
        }
    }
    layer.write_env(venv::environment(&path))?;
    Ok(path)
}

/// Keeps only the wheels pip built from source (`wheels/`): the HTTP cache of downloaded
/// files is cheap to fetch again, and the cache layer is restored before every build, so
/// what it holds is paid by every build, including the ones that install nothing.
fn prune_download_cache(cache_dir: &Path) {
    for downloads in ["http", "http-v2"] {
        let _ = fs_err::remove_dir_all(cache_dir.join(downloads));
    }
}

/// Creates the venv at `path` and runs `pip install -r requirements.txt` into it (pip is
/// fetched first: an unchanged rebuild never needs it).
fn fill(
    context: &BuildContext<PipBuildpack>,
    path: &Path,
    pip: &PipRun<'_>,
) -> libcnb::Result<(), PipError> {
    output::timed("Creating virtual environment", || {
        command::run_captured(
            Command::new("python3")
                .args(["-m", "venv", "--without-pip"])
                .arg(path),
        )
    })
    .map_err(PipError::CreateVenv)?;
    let pip_site = blacklodge_python_deps::layers::pip::install(context, pip.pin, pip.index)?;
    output::stream_heading(format!("Running pip install -r {REQUIREMENTS_FILE}"));
    let start = std::time::Instant::now();
    let mut install = Command::new(path.join("bin/python"));
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
                // Compiled below, on every core: pip compiles one file at a time.
                "--no-compile",
            ])
            .current_dir(&context.app_dir)
            .env("PYTHONPATH", &pip_site)
            .env("PIP_CACHE_DIR", pip.cache_dir)
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH),
    )
    .map_err(PipError::InstallRequirements)?;
    output::detail(format!(
        "Installed in {}",
        output::format_duration(start.elapsed())
    ));
    blacklodge_python_deps::bytecode::compile_logged(path);
    prune_download_cache(pip.cache_dir);
    Ok(())
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
