//! Layers shared by the dependency buildpacks, one file per layer.

pub mod download_cache;
pub mod pip;
pub mod uv;
pub mod venv;

use crate::errors::{DepsError, fail};
use crate::tool::{self, Origin, PinnedWheel};
use blacklodge_common::output;
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer::LayerName;
use libcnb::layer::{LayerRef, UncachedLayerDefinition};
use std::path::{Path, PathBuf};

/// The layer `name` of an installer tool: for this build only (never in the app image) and
/// not cached.
fn build_only_layer<B: Buildpack>(
    context: &BuildContext<B>,
    name: LayerName,
) -> libcnb::Result<LayerRef<B, (), ()>, B::Error> {
    context.uncached_layer(
        name,
        UncachedLayerDefinition {
            build: false,
            launch: false,
        },
    )
}

/// Fetches the wheel of `pin` into `scratch` ([`tool::fetch`]: from the app's `vendor/` or
/// `index`), timed, and says where a vendored wheel came from.
fn fetch_wheel<E: From<DepsError>>(
    pin: &PinnedWheel,
    index: &str,
    app_dir: &Path,
    scratch: &Path,
) -> Result<PathBuf, libcnb::Error<E>> {
    let (wheel, origin) = output::timed(format!("Fetching {}", pin.label()), || {
        tool::fetch(pin, index, app_dir, scratch)
    })
    .map_err(|error| {
        fail::<E>(DepsError::FetchTool {
            tool: pin.label(),
            error,
        })
    })?;
    if let Origin::Vendor(path) = origin {
        output::detail(format!("(from {})", path.display()));
    }
    Ok(wheel)
}
