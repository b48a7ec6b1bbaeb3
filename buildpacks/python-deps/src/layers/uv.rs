//! The `uv` layer: the pinned uv binary, for build only (never in the app image) and not
//! cached: it is fetched only by a build that installs something, so an unchanged rebuild
//! neither restores nor fetches its ~40 MB. Fetched as a hash-pinned wheel (index or
//! `vendor/`); the wheel carries a static binary, unpacked with the runtime's own `zipfile`
//! module.

use crate::errors::{DepsError, fail};
use crate::tool::PinnedWheel;
use blacklodge_common::command;
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where [`install`] puts the uv binary.
#[must_use]
pub fn binary_path(layers_dir: &Path) -> PathBuf {
    layers_dir.join("uv").join("uv")
}

/// Fetches and unpacks the pinned uv; returns the path of the binary.
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
    let layer = super::build_only_layer(context, layer_name!("uv"))?;
    let binary = layer.path().join("uv");
    let scratch = layer.path().join("wheel");
    let io = |error| DepsError::Io {
        action: "create",
        path: scratch.clone(),
        error,
    };
    fs_err::create_dir_all(&scratch).map_err(|e| fail::<B::Error>(io(e)))?;
    let wheel = super::fetch_wheel(pin, index, &context.app_dir, &scratch)?;
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
    Ok(binary)
}
