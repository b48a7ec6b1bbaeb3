//! The `pip` layer: pip itself, for build only (never in the app image) and not cached: it
//! is fetched only by a build that installs something, so an unchanged rebuild neither
//! restores nor fetches it. It is fetched from the configured index as a wheel, verified
//! against the pinned sha256 (or taken from the app's `vendor/`), and run from the wheel
//! (a wheel is importable as a zip).

use crate::errors::DepsError;
use crate::tool::PinnedWheel;
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use std::path::PathBuf;

/// Fetches the pinned pip; returns what to put on PYTHONPATH to run `python -m pip`: the
/// wheel itself. pip runs from its zip (as its own bootstrap and `pip.pyz` do), so nothing
/// is unpacked: a cold build writes one file instead of pip's thousand.
///
/// # Errors
/// Fetching pip.
pub fn install<B>(
    context: &BuildContext<B>,
    pip: &PinnedWheel,
    index: &str,
) -> libcnb::Result<PathBuf, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
{
    let layer = super::build_only_layer(context, layer_name!("pip"))?;
    super::fetch_wheel(pip, index, &context.app_dir, &layer.path())
}
