//! The `pip` layer: pip itself, for build only (never in the app image), cached per pip and
//! Python version. The same pinned, hash-checked release as the pip buildpack
//! (`buildpacks/pip/requirements/pip.txt`), fetched from the configured index.

use crate::WrapperBuildpack;
use crate::errors::WrapperError;
use crate::pip_version::PinnedPip;
use blacklodge_common::{cache, command, download, output, pypi};
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::{
    CachedLayerDefinition, EmptyLayerCause, InvalidMetadataAction, LayerState, RestoredLayerAction,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::Command;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipLayerMetadata {
    pub(crate) pip_version: String,
    pub(crate) python_version: String,
}

fn invalidation_reasons(cached: &PipLayerMetadata, wanted: &PipLayerMetadata) -> Vec<String> {
    let PipLayerMetadata {
        pip_version,
        python_version,
    } = cached;
    let PipLayerMetadata {
        pip_version: new_pip_version,
        python_version: new_python_version,
    } = wanted;
    cache::reasons([
        cache::changed("pip version", pip_version, new_pip_version),
        cache::changed("Python version", python_version, new_python_version),
    ])
}

/// Returns the directory to put on PYTHONPATH to run `python -m pip`.
pub(crate) fn install(
    context: &BuildContext<WrapperBuildpack>,
    pip: &PinnedPip,
    python_version: &str,
    index: &str,
) -> libcnb::Result<PathBuf, WrapperError> {
    let wanted = PipLayerMetadata {
        pip_version: pip.version.clone(),
        python_version: python_version.to_string(),
    };
    let layer = context.cached_layer(
        layer_name!("pip"),
        CachedLayerDefinition {
            build: false,
            launch: false,
            invalid_metadata_action: &|_| {
                (
                    InvalidMetadataAction::DeleteLayer,
                    vec!["cache format changed".to_string()],
                )
            },
            restored_layer_action: &|cached: &PipLayerMetadata, _| {
                let reasons = invalidation_reasons(cached, &wanted);
                let action = if reasons.is_empty() {
                    RestoredLayerAction::KeepLayer
                } else {
                    RestoredLayerAction::DeleteLayer
                };
                (action, reasons)
            },
        },
    )?;
    let site = layer.path().join("site-packages");
    match layer.state {
        LayerState::Restored { .. } => {
            output::detail(format!("Reusing cached pip {}", pip.version));
        }
        LayerState::Empty { ref cause } => {
            if let EmptyLayerCause::RestoredLayerAction { cause: reasons }
            | EmptyLayerCause::InvalidMetadataAction { cause: reasons } = cause
            {
                cache::log_discarded("pip", reasons);
            }
            let filename = pip.wheel_filename();
            let found = pypi::find_file(index, "pip", &filename).map_err(|error| {
                WrapperError::FindPip {
                    index: index.to_string(),
                    error,
                }
            })?;
            let wheel = std::env::temp_dir().join(&filename);
            output::timed(format!("Downloading pip {}", pip.version), || {
                download::download_verified(&found.url, &wheel, &pip.sha256)
            })
            .map_err(WrapperError::DownloadPip)?;
            output::timed(format!("Installing pip {}", pip.version), || {
                command::run_captured(
                    Command::new("python3")
                        .arg(wheel.join("pip"))
                        .args([
                            "install",
                            "--quiet",
                            "--no-index",
                            "--no-deps",
                            "--disable-pip-version-check",
                            "--target",
                        ])
                        .arg(&site)
                        .arg(&wheel),
                )
            })
            .map_err(WrapperError::InstallPip)?;
            let _ = fs_err::remove_file(&wheel);
            layer.write_metadata(wanted.clone())?;
        }
    }
    Ok(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_what_changed() {
        let cached = PipLayerMetadata {
            pip_version: "26.2".into(),
            python_version: "3.11.2".into(),
        };
        let wanted = PipLayerMetadata {
            pip_version: "26.3".into(),
            ..cached.clone()
        };
        assert!(invalidation_reasons(&cached, &cached).is_empty());
        assert_eq!(
            invalidation_reasons(&cached, &wanted),
            vec!["pip version changed (26.2 → 26.3)".to_string()]
        );
    }
}
