//! The `python` layer: the CPython runtime, for launch and for the build steps that run it.
//!
//! Cached (restored before every build) only when a later buildpack may run Python on every
//! build (the wrapper, the hooks, a default web process or Django's collectstatic: see
//! [`runtime_plan`]). Otherwise it is a launch layer that is not cached: when the runtime and
//! the inputs of the build steps that would run it (the dependency buildpack's venv key) are
//! unchanged, it is kept by its metadata alone (nothing restored, nothing archived, the
//! exporter reuses the previous image's layer) and the build sees only
//! `BLACKLODGE_PYTHON_KEPT`; when they changed, the runtime is installed again from its
//! archive.

use crate::PythonBuildpack;
use crate::errors::PythonError;
use crate::layers::stdlib_bytecode;
use crate::manifest::Archive;
use crate::sbom;
use blacklodge_common::cache::{self, Previous};
use blacklodge_common::runtime_plan::{self, Need};
use blacklodge_common::{download, output};
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::{LayerRef, LayerState, UncachedLayerDefinition};
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the cached layer was made from. A change of any field reinstalls Python.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PythonLayerMetadata {
    pub(crate) python_version: String,
    pub(crate) arch: String,
    pub(crate) distro_name: String,
    pub(crate) distro_version: String,
    pub(crate) archive_sha256: String,
    /// The inputs of the build steps that run Python ([`Need::WhenChanged`]); empty when
    /// one runs it on every build. Not a reason to reinstall a cached runtime.
    #[serde(default)]
    pub(crate) build_inputs: String,
}

fn invalidation_reasons(cached: &PythonLayerMetadata, wanted: &PythonLayerMetadata) -> Vec<String> {
    // Destructure both so a new field does not compile until it is compared here.
    let PythonLayerMetadata {
        python_version,
        arch,
        distro_name,
        distro_version,
        archive_sha256,
        build_inputs: _,
    } = cached;
    let PythonLayerMetadata {
        python_version: new_python_version,
        arch: new_arch,
        distro_name: new_distro_name,
        distro_version: new_distro_version,
        archive_sha256: new_archive_sha256,
        build_inputs: _,
    } = wanted;
    cache::reasons([
        cache::changed("Python version", python_version, new_python_version),
        cache::changed("architecture", arch, new_arch),
        cache::changed("distribution", distro_name, new_distro_name),
        cache::changed("distribution version", distro_version, new_distro_version),
        cache::changed("archive checksum", archive_sha256, new_archive_sha256),
    ])
}

/// The reasons to install the runtime for this build although it is unchanged: the inputs
/// of a build step that runs Python changed.
fn keep_reasons(cached: &PythonLayerMetadata, wanted: &PythonLayerMetadata) -> Vec<String> {
    let mut reasons = invalidation_reasons(cached, wanted);
    if reasons.is_empty() && cached.build_inputs != wanted.build_inputs {
        reasons.push(
            "a build step runs Python this time (the dependencies to install changed)".to_string(),
        );
    }
    reasons
}

/// Installs, reuses or keeps the runtime for `need`; returns the layer path, or `None` when
/// the previous image's runtime is kept without its files.
pub(crate) fn install(
    context: &BuildContext<PythonBuildpack>,
    archive: &Archive,
    download_url: &str,
    need: &Need,
) -> libcnb::Result<Option<PathBuf>, PythonError> {
    let wanted = PythonLayerMetadata {
        python_version: archive.version.to_string(),
        arch: archive.arch.clone(),
        distro_name: context.target.distro_name.clone(),
        distro_version: context.target.distro_version.clone(),
        archive_sha256: archive.sha256.clone(),
        build_inputs: match need {
            Need::Always => String::new(),
            Need::WhenChanged(inputs) => inputs.clone(),
        },
    };
    output::step("Installing Python");
    match need {
        Need::Always => {
            let layer = cache::cached_layer(
                context,
                layer_name!("python"),
                true,
                true,
                &wanted,
                invalidation_reasons,
            )?;
            match layer.state {
                LayerState::Restored { .. } => {
                    output::detail(format!(
                        "Reusing cached Python {} (unchanged version, architecture, distribution and archive)",
                        archive.version
                    ));
                }
                LayerState::Empty { .. } => {
                    cache::log_if_discarded("Python", &layer.state);
                    fill(&layer.path(), archive, download_url)?;
                    layer.write_metadata(wanted.clone())?;
                }
            }
            finish(&layer, archive).map(Some)
        }
        Need::WhenChanged(_) => {
            match cache::keep_previous_launch_layer(
                &context.layers_dir,
                "python",
                &wanted,
                keep_reasons,
            )
            .map_err(|failure| PythonError::Io {
                action: failure.action,
                path: failure.path,
                error: failure.error,
            })? {
                Previous::Kept => {
                    output::detail(format!(
                        "Keeping Python {} of the previous image (unchanged version, architecture, distribution and archive; no build step runs Python): nothing restored",
                        archive.version
                    ));
                    write_build_env(
                        context,
                        LayerEnv::new().chainable_insert(
                            Scope::Build,
                            ModificationBehavior::Override,
                            runtime_plan::KEPT_VERSION_VARIABLE,
                            archive.version.to_string(),
                        ),
                    )?;
                    return Ok(None);
                }
                Previous::Discarded(reasons) => cache::log_discarded("Python", &reasons),
                Previous::None => {}
            }
            // Launch only: the lifecycle restores the metadata of a launch layer only when it
            // is not a build layer (a build layer's files would have to be there), and the
            // metadata is what keeps it next time. The build sees it through `build-env`.
            let layer = context.uncached_layer(
                layer_name!("python"),
                UncachedLayerDefinition {
                    build: false,
                    launch: true,
                },
            )?;
            fill(&layer.path(), archive, download_url)?;
            layer.write_metadata(wanted.clone())?;
            let path = finish(&layer, archive)?;
            write_build_env(
                context,
                runtime_env(Scope::Build)
                    .chainable_insert(
                        Scope::Build,
                        ModificationBehavior::Prepend,
                        "PATH",
                        path.join("bin"),
                    )
                    .chainable_insert(Scope::Build, ModificationBehavior::Delimiter, "PATH", ":"),
            )?;
            Ok(Some(path))
        }
    }
}

/// The SBOM and environment of a runtime layer with its files, and a check that it runs.
fn finish<MAC, RAC>(
    layer: &LayerRef<PythonBuildpack, MAC, RAC>,
    archive: &Archive,
) -> libcnb::Result<PathBuf, PythonError> {
    // Written whenever the layer's files are here (a kept layer keeps the previous image's).
    layer.write_sboms(&[sbom::runtime_sbom(archive)])?;

    layer.write_env(runtime_env(Scope::All))?;

    let python = layer.path().join("bin/python3");
    let version_output = blacklodge_common::command::run_captured(Command::new(&python).args([
        "-c",
        "import sys; print('.'.join(map(str, sys.version_info[:3])))",
    ]))
    .map_err(PythonError::BrokenInterpreter)?;
    output::detail(format!(
        "Python {} at {}",
        String::from_utf8_lossy(&version_output.stdout).trim(),
        python.display()
    ));
    Ok(layer.path())
}

/// The runtime's own environment, in `scope`.
fn runtime_env(scope: Scope) -> LayerEnv {
    LayerEnv::new()
        // Logs reach the container log immediately.
        .chainable_insert(
            scope.clone(),
            ModificationBehavior::Override,
            "PYTHONUNBUFFERED",
            "1",
        )
        // A UTF-8 locale unless the user chose one.
        .chainable_insert(scope, ModificationBehavior::Default, "LANG", "C.UTF-8")
}

/// The `build-env` layer (build only, not cached, never in the image): what the later
/// buildpacks of this build see of a launch-only runtime.
fn write_build_env(
    context: &BuildContext<PythonBuildpack>,
    env: LayerEnv,
) -> libcnb::Result<(), PythonError> {
    context
        .uncached_layer(
            layer_name!("build-env"),
            UncachedLayerDefinition {
                build: true,
                launch: false,
            },
        )?
        .write_env(env)
}

/// Downloads and unpacks the runtime into the empty layer at `path`; whatever was unpacked
/// before a failure is removed, so it is never mistaken for a runtime.
fn fill(path: &Path, archive: &Archive, download_url: &str) -> Result<(), PythonError> {
    let result = download_and_unpack(archive, download_url, path);
    if result.is_err() {
        clear_directory(path);
    }
    result
}

/// Downloads (verified before use) to a temporary file outside the layer, unpacks into the
/// layer, checks the layout and compiles the bytecode. Nothing of the download stays behind.
fn download_and_unpack(
    archive: &Archive,
    download_url: &str,
    layer: &Path,
) -> Result<(), PythonError> {
    let temp = tempfile_dir()?;
    let archive_path = temp.join("python.tar.gz");
    let result = (|| {
        output::timed(
            format!("Downloading Python {} from {download_url}", archive.version),
            || download::download_verified(download_url, &archive_path, &archive.sha256),
        )
        .map_err(PythonError::Download)?;
        output::timed("Verified sha256; extracting", || {
            download::extract_tar_gz(&archive_path, layer, 1)
        })
        .map_err(|error| PythonError::Extract {
            archive: download_url.to_string(),
            error,
        })?;
        if !layer.join("bin/python3").is_file() {
            return Err(PythonError::Extract {
                archive: download_url.to_string(),
                error: std::io::Error::other(
                    "it has no python/bin/python3 (not the `install_only` layout)",
                ),
            });
        }
        if stdlib_bytecode::is_complete(layer) {
            output::detail(
                "The archive carries the standard library's bytecode (unchecked-hash pycs): not compiling it again",
            );
            return Ok(());
        }
        output::timed("Compiling the standard library to bytecode", || {
            compile_bytecode(layer)
        })
        .map_err(PythonError::BrokenInterpreter)
    })();
    let _ = fs_err::remove_dir_all(&temp);
    result
}

/// A fresh directory for the download, outside every layer.
fn tempfile_dir() -> Result<PathBuf, PythonError> {
    let path = std::env::temp_dir().join(format!("blacklodge-python-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&path);
    fs_err::create_dir_all(&path).map_err(|error| PythonError::Io {
        action: "create",
        path: path.clone(),
        error,
    })?;
    Ok(path)
}

fn clear_directory(directory: &Path) {
    if let Ok(entries) = fs_err::read_dir(directory) {
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let _ = if path.is_dir() && !path.is_symlink() {
                fs_err::remove_dir_all(&path)
            } else {
                fs_err::remove_file(&path)
            };
        }
    }
}

/// Compiles the standard library once, with hash-based pycs that are never re-validated
/// (the layer does not change after install). Faster start-up, reproducible layers, and no
/// bytecode written into the layer later by whatever runs Python during the build.
fn compile_bytecode(layer: &Path) -> Result<(), blacklodge_common::command::CommandError> {
    blacklodge_common::command::run_captured(
        Command::new(layer.join("bin/python3"))
            // -f: also replace the pycs the interpreter itself wrote while starting up.
            .args([
                "-m",
                "compileall",
                "-q",
                "-f",
                "-j",
                "0",
                "--invalidation-mode",
                "unchecked-hash",
            ])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // Test suites and IDLE are not part of a runtime; skip them if an archive has them.
            .args([
                "-x",
                &format!("/({})/", stdlib_bytecode::SKIPPED_DIRS.join("|")),
            ])
            .arg(layer.join("lib")),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> PythonLayerMetadata {
        PythonLayerMetadata {
            python_version: "3.11.2".into(),
            arch: "x86_64".into(),
            distro_name: "debian".into(),
            distro_version: "12".into(),
            archive_sha256: "aa".into(),
            build_inputs: "in".into(),
        }
    }

    #[test]
    fn unchanged_metadata_keeps_the_layer() {
        assert!(invalidation_reasons(&metadata(), &metadata()).is_empty());
    }

    #[test]
    fn every_change_is_reported() {
        let wanted = PythonLayerMetadata {
            python_version: "3.11.9".into(),
            archive_sha256: "bb".into(),
            ..metadata()
        };
        assert_eq!(
            invalidation_reasons(&metadata(), &wanted),
            vec![
                "Python version changed (3.11.2 → 3.11.9)".to_string(),
                "archive checksum changed (aa → bb)".to_string()
            ]
        );
    }
}
