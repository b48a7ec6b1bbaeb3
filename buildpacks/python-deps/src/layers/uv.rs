//! The `uv` layer: the pinned uv binary, for build only (never in the app image), cached per
//! uv release. Fetched as a hash-pinned wheel (index or `vendor/`); the wheel carries a static
//! binary, unpacked with the runtime's own `zipfile` module.

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
pub struct UvLayerMetadata {
    pub uv_version: String,
    pub wheel_sha256: String,
}

fn invalidation_reasons(cached: &UvLayerMetadata, wanted: &UvLayerMetadata) -> Vec<String> {
    let UvLayerMetadata {
        uv_version,
        wheel_sha256,
    } = cached;
    let UvLayerMetadata {
        uv_version: new_uv_version,
        wheel_sha256: new_wheel_sha256,
    } = wanted;
    cache::reasons([
        cache::changed("uv version", uv_version, new_uv_version),
        (uv_version == new_uv_version && wheel_sha256 != new_wheel_sha256)
            .then(|| "uv wheel checksum changed".to_string()),
    ])
}

/// Installs (or reuses) the pinned uv; returns the path of the binary.
///
/// # Errors
/// Fetching or unpacking uv.
pub fn install<B>(
    context: &BuildContext<B>,
    pin: &PinnedWheel,
    index: &str,
) -> libcnb::Result<PathBuf, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
{
    let wanted = UvLayerMetadata {
        uv_version: pin.version.clone(),
        wheel_sha256: pin.sha256.clone(),
    };
    let layer = cache::cached_layer(
        context,
        layer_name!("uv"),
        false,
        false,
        &wanted,
        invalidation_reasons,
    )?;
    let binary = layer.path().join("uv");
    match layer.state {
        LayerState::Restored { .. } => output::detail(format!("Reusing cached {}", pin.label())),
        LayerState::Empty { .. } => {
            cache::log_if_discarded("uv", &layer.state);
            let scratch = layer.path().join("wheel");
            let io = |error| DepsError::Io {
                action: "create",
                path: scratch.clone(),
                error,
            };
            fs_err::create_dir_all(&scratch).map_err(|e| fail::<B::Error>(io(e)))?;
            let (wheel, origin) = output::timed(format!("Fetching {}", pin.label()), || {
                tool::fetch(pin, index, &context.app_dir, &scratch)
            })
            .map_err(|error| {
                fail::<B::Error>(DepsError::FetchTool {
                    tool: pin.label(),
                    error,
                })
            })?;
            if let Origin::Vendor(path) = origin {
                output::detail(format!("(from {})", path.display()));
            }
            let unpacked = layer.path().join("unpacked");
            command::run_captured(
                Command::new("python3")
                    .args(["-m", "zipfile", "-e"])
                    .arg(&wheel)
                    .arg(&unpacked),
            )
            .map_err(|error| {
                fail::<B::Error>(DepsError::InstallTool {
                    tool: pin.label(),
                    error,
                })
            })?;
            let inner = unpacked
                .join(format!("uv-{}.data", pin.version))
                .join("scripts/uv");
            let placed = fs_err::rename(&inner, &binary).and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                fs_err::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
            });
            placed.map_err(|error| {
                fail::<B::Error>(DepsError::Io {
                    action: "unpack uv to",
                    path: binary.clone(),
                    error,
                })
            })?;
            let _ = fs_err::remove_dir_all(&unpacked);
            let _ = fs_err::remove_dir_all(&scratch);
            layer.write_metadata(wanted.clone())?;
        }
    }
    Ok(binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_change_is_the_reason() {
        let old = UvLayerMetadata {
            uv_version: "0.13.8".into(),
            wheel_sha256: "a".into(),
        };
        let new = UvLayerMetadata {
            uv_version: "0.13.9".into(),
            wheel_sha256: "b".into(),
        };
        assert_eq!(
            invalidation_reasons(&old, &new),
            vec!["uv version changed (0.13.8 → 0.13.9)".to_string()]
        );
        assert!(invalidation_reasons(&new, &new).is_empty());
    }
}
