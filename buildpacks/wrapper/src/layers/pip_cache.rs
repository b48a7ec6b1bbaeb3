//! The `pip-cache` layer: pip's download and wheel cache, kept between builds (never in the
//! image), so reinstalling the harness's dependencies after an app change needs no network.

use crate::WrapperBuildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::{CachedLayerDefinition, InvalidMetadataAction, RestoredLayerAction};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bump `cache_version` to drop every cached download.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
struct PipCacheMetadata {
    cache_version: u32,
}

pub(crate) fn directory(
    context: &BuildContext<WrapperBuildpack>,
) -> libcnb::Result<PathBuf, crate::errors::WrapperError> {
    let layer = context.cached_layer(
        layer_name!("pip-cache"),
        CachedLayerDefinition {
            build: false,
            launch: false,
            invalid_metadata_action: &|_| InvalidMetadataAction::DeleteLayer,
            restored_layer_action: &|_: &PipCacheMetadata, _| RestoredLayerAction::KeepLayer,
        },
    )?;
    layer.write_metadata(PipCacheMetadata { cache_version: 1 })?;
    Ok(layer.path())
}
