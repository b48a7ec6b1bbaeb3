//! Download caches (`uv-cache`, `pip-cache`): an installer's download and wheel cache, kept
//! between builds but never part of the app image (cache only), so a reinstall after a
//! change needs little or no network.

use blacklodge_common::cache;
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer::LayerName;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bump `cache_version` to drop every cached download.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadCacheMetadata {
    pub cache_version: u32,
}

const WANTED: DownloadCacheMetadata = DownloadCacheMetadata { cache_version: 1 };

fn invalidation_reasons(
    cached: &DownloadCacheMetadata,
    wanted: &DownloadCacheMetadata,
) -> cache::Reasons {
    let DownloadCacheMetadata { cache_version } = cached;
    cache::reasons([cache::changed(
        "cache format",
        cache_version,
        &wanted.cache_version,
    )])
}

/// The cache directory (for `UV_CACHE_DIR` or `PIP_CACHE_DIR`) of the layer `name`, whose
/// `label` (e.g. "uv cache") names it in the log.
///
/// # Errors
/// Layer handling errors.
pub fn prepare<B: Buildpack>(
    context: &BuildContext<B>,
    name: LayerName,
    label: &str,
) -> libcnb::Result<PathBuf, B::Error> {
    let layer = cache::cached_layer(context, name, false, false, &WANTED, invalidation_reasons)?;
    cache::log_if_discarded(label, &layer.state);
    layer.write_metadata(WANTED)?;
    Ok(layer.path())
}
