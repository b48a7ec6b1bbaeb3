//! The `venv` layer of the lock-based managers (uv, Poetry, Pipenv): the app's dependencies,
//! for build and launch, with an SBOM.
//!
//! - Python or installer changed → the venv is discarded and recreated (reasons logged).
//! - Lock or selected groups changed → the cached venv is synced to the new lock in place
//!   (the installer adds, upgrades and removes exactly what differs; reasons logged).
//! - Nothing changed → reused as is: no installer run, no network.

use crate::errors::{DepsError, fail};
use crate::sbom;
use blacklodge_common::{cache, command, output};
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::{
    CachedLayerDefinition, InvalidMetadataAction, LayerState, RestoredLayerAction,
};
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VenvLayerMetadata {
    /// sha256 over the lock and the project files it was checked against.
    pub lock_sha256: String,
    pub python_version: String,
    /// `uv 0.13.9`
    pub installer: String,
    /// The groups/extras installed, e.g. `groups: main, dev`.
    pub selection: String,
}

/// What to do with a cached venv: `(discard reasons, update reasons)`.
fn decide(
    cached: &VenvLayerMetadata,
    wanted: &VenvLayerMetadata,
    lock_file: &str,
) -> (Vec<String>, Vec<String>) {
    let VenvLayerMetadata {
        lock_sha256,
        python_version,
        installer,
        selection,
    } = cached;
    let VenvLayerMetadata {
        lock_sha256: new_lock_sha256,
        python_version: new_python_version,
        installer: new_installer,
        selection: new_selection,
    } = wanted;
    let discard = cache::reasons([
        cache::changed("Python version", python_version, new_python_version),
        cache::changed("installer", installer, new_installer),
    ]);
    let update = cache::reasons([
        (lock_sha256 != new_lock_sha256).then(|| format!("{lock_file} changed")),
        cache::changed("selection", selection, new_selection),
    ]);
    (discard, update)
}

/// How the installer is asked to fill the venv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// A new, empty venv.
    Fresh,
    /// A cached venv to sync to the new lock.
    Update,
}

/// Prepares the venv layer and runs `fill` unless the cached venv is current.
///
/// # Errors
/// Layer errors, venv creation, and whatever `fill` returns.
pub fn install<B, F>(
    context: &BuildContext<B>,
    wanted: &VenvLayerMetadata,
    lock_file: &str,
    fill: F,
) -> libcnb::Result<PathBuf, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
    F: FnOnce(&Path, Fill) -> libcnb::Result<(), B::Error>,
{
    let layer = context.cached_layer(
        layer_name!("venv"),
        CachedLayerDefinition {
            build: true,
            launch: true,
            invalid_metadata_action: &|_| {
                (
                    InvalidMetadataAction::DeleteLayer,
                    vec!["cache format changed".to_string()],
                )
            },
            restored_layer_action: &|cached: &VenvLayerMetadata, _| {
                let (discard, update) = decide(cached, wanted, lock_file);
                if discard.is_empty() {
                    (RestoredLayerAction::KeepLayer, update)
                } else {
                    (RestoredLayerAction::DeleteLayer, discard)
                }
            },
        },
    )?;
    let venv = layer.path();
    let fill_with = match layer.state {
        LayerState::Restored { ref cause } if cause.is_empty() => {
            output::detail(format!(
                "Reusing cached virtual environment ({lock_file}, Python and {} unchanged)",
                wanted.installer
            ));
            None
        }
        LayerState::Restored { ref cause } => {
            output::detail("Updating cached virtual environment:");
            for reason in cause {
                println!("    - {reason}");
            }
            Some(Fill::Update)
        }
        LayerState::Empty { .. } => {
            cache::log_if_discarded("virtual environment", &layer.state);
            output::timed("Creating virtual environment", || {
                command::run_captured(
                    Command::new("python3")
                        .args(["-m", "venv", "--without-pip"])
                        .arg(&venv),
                )
            })
            .map_err(|error| fail::<B::Error>(DepsError::CreateVenv(error)))?;
            Some(Fill::Fresh)
        }
    };
    if let Some(how) = fill_with {
        let start = std::time::Instant::now();
        fill(&venv, how)?;
        output::detail(format!(
            "Installed in {}",
            output::format_duration(start.elapsed())
        ));
        write_sbom(&layer.path(), |sboms| layer.write_sboms(sboms))?;
        layer.write_metadata(wanted.clone())?;
    }
    layer.write_env(environment(&venv))?;
    Ok(venv)
}

/// The environment a venv layer gives later buildpacks and the app: `VIRTUAL_ENV` (its `bin`
/// goes first on `PATH` as a layer's `bin` always does).
#[must_use]
pub fn environment(venv: &Path) -> LayerEnv {
    LayerEnv::new().chainable_insert(
        Scope::All,
        ModificationBehavior::Override,
        "VIRTUAL_ENV",
        venv,
    )
}

/// Writes the CycloneDX SBOM of `venv` through `write` (the layer's `write_sboms`).
///
/// # Errors
/// Reading the venv, or writing the SBOM.
pub fn write_sbom<B, W>(venv: &Path, write: W) -> libcnb::Result<(), B>
where
    B: std::fmt::Debug + From<DepsError>,
    W: FnOnce(&[libcnb::sbom::Sbom]) -> libcnb::Result<(), B>,
{
    let distributions = sbom::distributions(venv).map_err(|error| {
        libcnb::Error::BuildpackError(B::from(DepsError::Io {
            action: "read",
            path: venv.to_path_buf(),
            error,
        }))
    })?;
    output::detail(format!(
        "{} distributions in the virtual environment (SBOM: CycloneDX)",
        distributions.len()
    ));
    write(&[sbom::cyclonedx(&distributions)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> VenvLayerMetadata {
        VenvLayerMetadata {
            lock_sha256: "a".into(),
            python_version: "3.11.2".into(),
            installer: "uv 0.13.9".into(),
            selection: "groups: main".into(),
        }
    }

    #[test]
    fn lock_changes_update_python_changes_discard() {
        let cached = metadata();
        assert_eq!(decide(&cached, &cached, "uv.lock"), (vec![], vec![]));
        let new_lock = VenvLayerMetadata {
            lock_sha256: "b".into(),
            selection: "groups: main, dev".into(),
            ..metadata()
        };
        assert_eq!(
            decide(&cached, &new_lock, "uv.lock"),
            (
                vec![],
                vec![
                    "uv.lock changed".to_string(),
                    "selection changed (groups: main → groups: main, dev)".to_string()
                ]
            )
        );
        let new_python = VenvLayerMetadata {
            python_version: "3.12.1".into(),
            ..metadata()
        };
        assert_eq!(
            decide(&cached, &new_python, "uv.lock").0,
            vec!["Python version changed (3.11.2 → 3.12.1)".to_string()]
        );
    }
}
