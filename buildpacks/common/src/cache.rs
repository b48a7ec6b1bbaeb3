//! Cache decisions as data: each cached layer compares its old and new metadata field by
//! field and the buildpack logs every reason a cached layer was discarded.

use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer::LayerName;
use libcnb::data::layer_content_metadata::{LayerContentMetadata, LayerTypes};
use libcnb::layer::{
    CachedLayerDefinition, EmptyLayerCause, InvalidMetadataAction, LayerRef, LayerState,
    RestoredLayerAction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Display;

/// Why a cached layer was discarded (empty when it was kept or is new).
pub type Reasons = Vec<String>;

/// A cached layer whose restored contents are kept only when `reasons(cached, wanted)`
/// finds nothing that changed; otherwise it is emptied and the reasons are kept for
/// [`log_if_discarded`]. Metadata in an older format also empties it.
///
/// # Errors
/// libcnb errors handling the layer.
pub fn cached_layer<B, M>(
    context: &BuildContext<B>,
    name: LayerName,
    build: bool,
    launch: bool,
    wanted: &M,
    reasons: impl Fn(&M, &M) -> Reasons,
) -> libcnb::Result<LayerRef<B, Reasons, Reasons>, B::Error>
where
    B: Buildpack + ?Sized,
    M: Serialize + DeserializeOwned,
{
    context.cached_layer(
        name,
        CachedLayerDefinition {
            build,
            launch,
            invalid_metadata_action: &|_| {
                (
                    InvalidMetadataAction::DeleteLayer,
                    vec!["the cache was written by an incompatible buildpack version".to_string()],
                )
            },
            restored_layer_action: &|cached: &M, _| {
                let found = reasons(cached, wanted);
                if found.is_empty() {
                    (RestoredLayerAction::KeepLayer, found)
                } else {
                    (RestoredLayerAction::DeleteLayer, found)
                }
            },
        },
    )
}

/// Logs the reasons when the layer state says a cached layer was discarded.
pub fn log_if_discarded(layer: &str, state: &LayerState<Reasons, Reasons>) {
    if let LayerState::Empty {
        cause:
            EmptyLayerCause::RestoredLayerAction { cause: reasons }
            | EmptyLayerCause::InvalidMetadataAction { cause: reasons },
    } = state
    {
        log_discarded(layer, reasons);
    }
}

/// `Some("Python version changed (3.11.1 → 3.11.2)")` when the values differ.
#[must_use]
pub fn changed<T: PartialEq + Display>(what: &str, old: &T, new: &T) -> Option<String> {
    (old != new).then(|| format!("{what} changed ({old} → {new})"))
}

/// Collects the reasons from several [`changed`] checks.
#[must_use]
pub fn reasons(checks: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    checks.into_iter().flatten().collect()
}

/// The sha256 over those of `files` (names relative to `dir`) that exist, name and contents:
/// the cache key of a layer made from the app's input files.
///
/// # Errors
/// An [`IoFailure`](crate::error::IoFailure) reading one of them.
pub fn files_sha256(
    dir: &std::path::Path,
    files: &[&str],
) -> Result<String, crate::error::IoFailure> {
    let mut material = Vec::new();
    for file in files {
        let path = dir.join(file);
        if path.is_file() {
            material.extend_from_slice(file.as_bytes());
            material.push(0);
            material.extend(fs_err::read(&path).map_err(crate::error::io_failure("read", &path))?);
            material.push(0);
        }
    }
    Ok(crate::download::sha256_bytes(&material))
}

/// What became of a launch-only layer of the previous image ([`keep_previous_launch_layer`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Previous {
    /// No metadata of that layer from a previous image.
    None,
    /// Unchanged: kept by metadata, the exporter reuses the previous image's layer.
    Kept,
    /// Changed: to be made again, for these reasons.
    Discarded(Vec<String>),
}

/// Keeps the launch layer `name` of the previous image, without its files, when
/// `reasons(cached, wanted)` finds nothing that changed.
///
/// The lifecycle restores only the metadata (`<name>.toml`) of a launch layer that is not
/// cached; rewriting it with `launch = true` and no directory makes the exporter reuse the
/// previous image's layer: nothing is restored before the build nor archived after it.
/// (libcnb's layer API treats a layer without its directory as absent, so this is done
/// here.) A directory restored from an older, cached layer of the same metadata is removed:
/// the image already has those bytes.
///
/// # Errors
/// Reading or writing the layer metadata, removing a restored directory.
pub fn keep_previous_launch_layer<M>(
    layers_dir: &std::path::Path,
    name: &str,
    wanted: &M,
    reasons: impl Fn(&M, &M) -> Vec<String>,
) -> Result<Previous, crate::error::IoFailure>
where
    M: Serialize + DeserializeOwned + Clone,
{
    use crate::error::io_failure;
    let toml_path = layers_dir.join(format!("{name}.toml"));
    let dir = layers_dir.join(name);
    if !toml_path.is_file() {
        return Ok(Previous::None);
    }
    let text = fs_err::read_to_string(&toml_path).map_err(io_failure("read", &toml_path))?;
    let Ok(cached) = toml::from_str::<LayerContentMetadata<M>>(&text) else {
        // An older metadata format: nothing to compare with; the layer is made anew.
        return Ok(Previous::Discarded(vec![
            "the cache was written by an incompatible buildpack version".to_string(),
        ]));
    };
    let found = reasons(&cached.metadata, wanted);
    if !found.is_empty() {
        return Ok(Previous::Discarded(found));
    }
    if dir.exists() {
        fs_err::remove_dir_all(&dir).map_err(io_failure("remove", &dir))?;
    }
    let kept = LayerContentMetadata {
        types: Some(LayerTypes {
            launch: true,
            build: false,
            cache: false,
        }),
        metadata: wanted.clone(),
    };
    let text = toml::to_string(&kept)
        .map_err(|error| io_failure("write", &toml_path)(std::io::Error::other(error)))?;
    fs_err::write(&toml_path, text).map_err(io_failure("write", &toml_path))?;
    Ok(Previous::Kept)
}

/// Logs why a cached layer was discarded, one detail line per reason.
pub fn log_discarded(layer: &str, reasons: &[String]) {
    crate::output::detail(format!("Discarding cached {layer}:"));
    for reason in reasons {
        crate::output::sub_detail(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discarded_layer_logs_each_reason() {
        let ((), log) = crate::output::capture(|| {
            log_discarded(
                "Python",
                &reasons([
                    changed("Python version", &"3.11.1", &"3.11.2"),
                    changed("Architecture", &"x86_64", &"arm64"),
                ]),
            );
        });
        assert_eq!(
            log,
            "  - Discarding cached Python:\n    - Python version changed (3.11.1 → 3.11.2)\n    - Architecture changed (x86_64 → arm64)\n"
        );
    }

    #[test]
    fn lists_only_what_changed() {
        let found = reasons([
            changed("Python version", &"3.11.1", &"3.11.2"),
            changed("Architecture", &"x86_64", &"x86_64"),
        ]);
        assert_eq!(
            found,
            vec!["Python version changed (3.11.1 → 3.11.2)".to_string()]
        );
    }
}
