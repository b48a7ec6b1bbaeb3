//! The `pip` layer: pip itself, for build only (never in the app image), cached per pip
//! and Python version. It is fetched from the configured index as a wheel, verified against
//! the pinned sha256, and installed with itself (a wheel is importable as a zip).

use crate::PipBuildpack;
use crate::errors::PipError;
use crate::pip_version::PinnedPip;
use blacklodge_common::{cache, command, download, output, pypi};
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::LayerState;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::Command;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipLayerMetadata {
    pub(crate) pip_version: String,
    pub(crate) python_version: String,
}

fn invalidation_reasons(cached: &PipLayerMetadata, wanted: &PipLayerMetadata) -> Vec<String> {
    let PipLayerMetadata {
        pip_version,
        python_version,
    } = cached;
    let PipLayerMetadata {
        pip_version: new_pip_version,
        python_version: new_python_version,
    } = wanted;
    cache::reasons([
        cache::changed("pip version", pip_version, new_pip_version),
        cache::changed("Python version", python_version, new_python_version),
    ])
}

/// Returns the directory to put on PYTHONPATH to run `python -m pip`.
pub(crate) fn install(
    context: &BuildContext<PipBuildpack>,
    pip: &PinnedPip,
    python_version: &str,
    index: &str,
) -> libcnb::Result<PathBuf, PipError> {
    let wanted = PipLayerMetadata {
        pip_version: pip.version.clone(),
        python_version: python_version.to_string(),
    };
    let layer = cache::cached_layer(
        context,
        layer_name!("pip"),
        false,
        false,
        &wanted,
        invalidation_reasons,
    )?;
    let site = layer.path().join("site-packages");
    match layer.state {
        LayerState::Restored { .. } => {
            output::detail(format!("Reusing cached pip {}", pip.version));
        }
        LayerState::Empty { .. } => {
            cache::log_if_discarded("pip", &layer.state);
            let filename = pip.wheel_filename();
            let found =
                pypi::find_file(index, "pip", &filename).map_err(|error| PipError::FindPip {
                    index: index.to_string(),
                    error,
                })?;
            let wheel = std::env::temp_dir().join(&filename);
            output::timed(format!("Downloading pip {}", pip.version), || {
                download::download_verified(&found.url, &wheel, &pip.sha256)
            })
            .map_err(PipError::DownloadPip)?;
            output::timed(format!("Installing pip {}", pip.version), || {
                command::run_captured(
                    Command::new("python3")
                        .arg(wheel.join("pip"))
                        .args([
                            "install",
                            "--quiet",
                            "--no-index",
                            "--no-deps",
                            "--disable-pip-version-check",
                            "--target",
                        ])
                        .arg(&site)
                        .arg(&wheel),
                )
            })
            .map_err(PipError::InstallPip)?;
            let _ = fs_err::remove_file(&wheel);
            layer.write_metadata(wanted.clone())?;
        }
    }
    Ok(site)
}
