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
///
/// A string, not a number: the lifecycle keeps layer metadata as JSON and writes it back as
/// TOML, so an integer comes back as a float (`1.0`), which would make the metadata
/// unreadable and the cache discarded on every build.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadCacheMetadata {
    pub cache_version: String,
}

fn wanted() -> DownloadCacheMetadata {
    DownloadCacheMetadata {
        cache_version: "2".to_string(),
    }
}

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
    let wanted = wanted();
    let layer = cache::cached_layer(context, name, false, false, &wanted, invalidation_reasons)?;
    cache::log_if_discarded(label, &layer.state);
    layer.write_metadata(wanted)?;
    Ok(layer.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_survives_the_lifecycles_json_round_trip() {
        // What the restorer writes back for a cached layer (JSON → TOML).
        let restored: DownloadCacheMetadata =
            toml::from_str("cache_version = \"2\"").expect("readable");
        assert!(invalidation_reasons(&restored, &wanted()).is_empty());
        let older = DownloadCacheMetadata {
            cache_version: "1".into(),
        };
        assert_eq!(
            invalidation_reasons(&older, &wanted()),
            vec!["cache format changed (1 → 2)".to_string()]
        );
    }
}
