//! The `debs` layer (cache only): the downloaded `.deb` files, named by their sha256, so a
//! change of the list downloads only the packages that are new. Files no build used are
//! removed at the end of each build.

use crate::AptBuildpack;
use crate::errors::AptError;
use crate::index::Package;
use blacklodge_common::download::download_verified;
use blacklodge_common::error::io_failure;
use blacklodge_common::output;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::{CachedLayerDefinition, InvalidMetadataAction, RestoredLayerAction};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Downloads running at once.
const PARALLEL: usize = 4;

/// The cache layer's directory. Declared on every build, also when nothing is downloaded,
/// so the cache keeps it for the next change of the list.
pub(crate) fn prepare(context: &BuildContext<AptBuildpack>) -> libcnb::Result<PathBuf, AptError> {
    let layer = context.cached_layer(
        layer_name!("debs"),
        CachedLayerDefinition {
            build: false,
            launch: false,
            invalid_metadata_action: &|_| InvalidMetadataAction::DeleteLayer,
            restored_layer_action: &|_: &toml::Table, _| RestoredLayerAction::KeepLayer,
        },
    )?;
    layer.write_metadata(toml::Table::new())?;
    Ok(layer.path())
}

/// The `.deb` of each package (in order) in `dir` (the [`prepare`]d layer), downloaded from
/// the mirror its index came from and verified against the sha256 of that signed index.
pub(crate) fn download_all(dir: &Path, packages: &[Package]) -> Result<Vec<PathBuf>, AptError> {
    let paths: Vec<PathBuf> = packages
        .iter()
        .map(|package| dir.join(format!("{}.deb", package.sha256)))
        .collect();
    let missing: Vec<(&Package, &PathBuf)> = packages
        .iter()
        .zip(&paths)
        .filter(|(_, path)| !path.is_file())
        .collect();
    let bytes: u64 = missing.iter().map(|(package, _)| package.size).sum();
    let reused = packages.len() - missing.len();
    let label = format!(
        "Downloading {} ({:.1} MB){}",
        output::count(missing.len(), "package", "packages"),
        f64::from(u32::try_from(bytes / 1000).unwrap_or(u32::MAX)) / 1000.0,
        if reused == 0 {
            String::new()
        } else {
            format!(", {reused} cached")
        }
    );
    output::timed(label, || {
        std::thread::scope(|scope| {
            let chunks: Vec<_> = missing
                .chunks(missing.len().div_ceil(PARALLEL).max(1))
                .map(|chunk| {
                    scope.spawn(move || {
                        for (package, path) in chunk {
                            download_verified(
                                &format!("{}/{}", package.base, package.filename),
                                path,
                                &package.sha256,
                            )
                            .map_err(|error| AptError::Download {
                                package: package.name.clone(),
                                error,
                            })?;
                        }
                        Ok::<(), AptError>(())
                    })
                })
                .collect();
            chunks
                .into_iter()
                .try_for_each(|chunk| chunk.join().unwrap_or(Ok(())))
        })
    })?;
    // Keep only what this build used.
    let used: BTreeSet<&PathBuf> = paths.iter().collect();
    for entry in fs_err::read_dir(dir)
        .map_err(io_failure("read", dir))?
        .flatten()
    {
        if !used.contains(&entry.path()) {
            let _ = fs_err::remove_file(entry.path());
        }
    }
    Ok(paths)
}
