//! The `pip` layer: pip itself, for build only (never in the app image), cached per pip
//! and Python version. It is fetched from the configured index as a wheel, verified against
//! the pinned sha256 (or taken from the app's `vendor/`), and installed with itself (a wheel is importable as a zip).

use crate::errors::{DepsError, fail};
use crate::tool::{self, Origin, PinnedWheel};
use blacklodge_common::{cache, command, output};
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::LayerState;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::Command;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipLayerMetadata {
    pub pip_version: String,
    pub python_version: String,
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

/// Installs (or reuses) the pinned pip; returns the directory to put on PYTHONPATH to run
/// `python -m pip`.
///
/// # Errors
/// Fetching or installing pip.
pub fn install<B>(
    context: &BuildContext<B>,
    pip: &PinnedWheel,
    python_version: &str,
    index: &str,
) -> libcnb::Result<PathBuf, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
{
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
            let scratch = std::env::temp_dir();
            let (wheel, origin) = output::timed(format!("Fetching pip {}", pip.version), || {
                tool::fetch(pip, index, &context.app_dir, &scratch)
            })
            .map_err(|error| {
                fail(DepsError::FetchTool {
                    tool: pip.label(),
                    error,
                })
            })?;
            if let Origin::Vendor(path) = &origin {
                output::detail(format!("(from {})", path.display()));
            }
            output::timed(format!("Installing pip {}", pip.version), || {
                command::run_captured(
                    Command::new("python3")
                        .arg(wheel.join("pip"))
                        .args([
                            "install",
                            "--quiet",
                            "--no-index",
                            "--no-deps",
                            // A build-only tool: compiling its bytecode would cost seconds
                            // on every cold build and save nothing.
                            "--no-compile",
                            "--disable-pip-version-check",
                            "--target",
                        ])
                        .arg(&site)
                        .arg(&wheel),
                )
            })
            .map_err(|error| {
                fail(DepsError::InstallTool {
                    tool: pip.label(),
                    error,
                })
            })?;
            if origin == Origin::Index {
                let _ = fs_err::remove_file(&wheel);
            }
            layer.write_metadata(wanted.clone())?;
        }
    }
    Ok(site)
}
