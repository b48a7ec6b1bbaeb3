//! The `pip` layer: pip itself, for build only (never in the app image) and not cached: it
//! is fetched only by a build that installs something, so an unchanged rebuild neither
//! restores nor fetches it. It is fetched from the configured index as a wheel, verified
//! against the pinned sha256 (or taken from the app's `vendor/`), and installed with itself
//! (a wheel is importable as a zip).

use crate::errors::{DepsError, fail};
use crate::tool::{self, Origin, PinnedWheel};
use blacklodge_common::{command, output};
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::UncachedLayerDefinition;
use std::path::PathBuf;
use std::process::Command;

/// Fetches and installs the pinned pip; returns the directory to put on PYTHONPATH to run
/// `python -m pip`.
///
/// # Errors
/// Fetching or installing pip.
pub fn install<B>(
    context: &BuildContext<B>,
    pip: &PinnedWheel,
    index: &str,
) -> libcnb::Result<PathBuf, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
{
    let layer = context.uncached_layer(
        layer_name!("pip"),
        UncachedLayerDefinition {
            build: false,
            launch: false,
        },
    )?;
    let site = layer.path().join("site-packages");
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
    Ok(site)
}
