//! The `uv-cache` layer: uv's download and wheel cache, kept between builds but never part of
//! the app image (cache only).

use blacklodge_common::cache;
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::{
    CachedLayerDefinition, EmptyLayerCause, InvalidMetadataAction, LayerState, RestoredLayerAction,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bump `cache_version` to drop every cached download.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UvCacheMetadata {
    pub cache_version: u32,
}

const WANTED: UvCacheMetadata = UvCacheMetadata { cache_version: 1 };

/// The cache directory for `UV_CACHE_DIR`.
///
/// # Errors
/// Layer handling errors.
pub fn prepare<B: Buildpack>(context: &BuildContext<B>) -> libcnb::Result<PathBuf, B::Error> {
    let layer = context.cached_layer(
        layer_name!("uv-cache"),
        CachedLayerDefinition {
            build: false,
            launch: false,
            invalid_metadata_action: &|_| {
                (
                    InvalidMetadataAction::DeleteLayer,
                    vec!["cache format changed".to_string()],
                )
            },
            restored_layer_action: &|cached: &UvCacheMetadata, _| {
                let UvCacheMetadata { cache_version } = cached;
                let reasons = cache::reasons([cache::changed(
                    "cache format",
                    cache_version,
                    &WANTED.cache_version,
                )]);
                if reasons.is_empty() {
                    (RestoredLayerAction::KeepLayer, reasons)
                } else {
                    (RestoredLayerAction::DeleteLayer, reasons)
                }
            },
        },
    )?;
    if let LayerState::Empty {
        cause:
            EmptyLayerCause::RestoredLayerAction { cause: ref reasons }
            | EmptyLayerCause::InvalidMetadataAction { cause: ref reasons },
    } = layer.state
    {
        cache::log_discarded("uv cache", reasons);
    }
    layer.write_metadata(WANTED)?;
    Ok(layer.path())
}
