//! Installing the solved (or listed) packages into the prefix with rattler's installer, from
//! the package cache layer (hard links: the cache and the prefix are both under `/layers`),
//! and leaving a reproducible prefix behind.
//!
//! rattler records in `conda-meta/*.json` where each package was extracted (absolute paths of
//! the build's cache layer): those fields are dropped, so the same packages give the same
//! layer on any machine. There is no `conda-meta/history` (conda's log of every command).
//! Link scripts are not run (rattler's default; conda-forge packages rarely have them).

use crate::solve::chain;
use rattler::install::{Installer, Transaction, TransactionOperation};
use rattler_cache::package_cache::PackageCache;
use rattler_conda_types::{MatchSpec, PrefixRecord, RepoDataRecord, Subdir};
use reqwest_middleware::ClientWithMiddleware;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The platform the images run on.
pub(crate) const PLATFORM: Subdir = Subdir::Linux64;

#[derive(Debug)]
pub(crate) enum InstallFailure {
    /// rattler could not fetch, extract or link a package.
    Install(String),
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallFailure {
    let path = path.to_path_buf();
    move |error| InstallFailure::Io { path, error }
}

/// What the install changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub(crate) installed: usize,
    pub(crate) changed: usize,
    pub(crate) removed: usize,
}

impl Changes {
    fn of<O, N>(transaction: &Transaction<O, N>) -> Self {
        let mut changes = Self::default();
        for operation in &transaction.operations {
            match operation {
                TransactionOperation::Install(_) => changes.installed += 1,
                TransactionOperation::Change { .. } | TransactionOperation::Reinstall { .. } => {
                    changes.changed += 1;
                }
                TransactionOperation::Remove(_) => changes.removed += 1,
            }
        }
        changes
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "{} installed, {} changed, {} removed",
            self.installed, self.changed, self.removed
        )
    }
}

/// The packages installed in `prefix` (none for an empty directory).
pub(crate) fn installed(prefix: &Path) -> Result<Vec<PrefixRecord>, InstallFailure> {
    if !prefix.join("conda-meta").is_dir() {
        return Ok(Vec::new());
    }
    PrefixRecord::collect_from_prefix::<PrefixRecord>(prefix)
        .map_err(io(&prefix.join("conda-meta")))
}

/// Makes `prefix` hold exactly `records` (updating what is there in place).
pub(crate) async fn install(
    prefix: &Path,
    records: Vec<RepoDataRecord>,
    requested: Vec<MatchSpec>,
    client: ClientWithMiddleware,
    package_cache: &Path,
) -> Result<Changes, InstallFailure> {
    let before = installed(prefix)?;
    let old_sources = python_sources(&before);
    let result = Installer::new()
        .with_download_client(client)
        .with_target_platform(PLATFORM)
        .with_package_cache(PackageCache::new(package_cache))
        .with_installed_packages(before)
        .with_requested_specs(requested)
        .with_execute_link_scripts(false)
        .install(prefix, records)
        .await
        .map_err(|error| InstallFailure::Install(chain(&error)))?;
    let after = installed(prefix)?;
    remove_stale_bytecode(prefix, &old_sources, &python_sources(&after))?;
    make_reproducible(prefix)?;
    Ok(Changes::of(&result.transaction))
}

/// The `.py` files the packages installed.
fn python_sources(records: &[PrefixRecord]) -> BTreeSet<PathBuf> {
    records
        .iter()
        .flat_map(|record| record.files.iter())
        .filter(|path| path.extension().is_some_and(|ext| ext == "py"))
        .cloned()
        .collect()
}

/// The bytecode compiled for modules that an update removed (conda's records list only the
/// package's own files, so the installer leaves it), and the directories left empty.
fn remove_stale_bytecode(
    prefix: &Path,
    before: &BTreeSet<PathBuf>,
    after: &BTreeSet<PathBuf>,
) -> Result<(), InstallFailure> {
    for source in before.difference(after) {
        let (Some(dir), Some(stem)) = (source.parent(), source.file_stem()) else {
            continue;
        };
        let cache = prefix.join(dir).join("__pycache__");
        let Ok(entries) = fs_err::read_dir(&cache) else {
            continue;
        };
        let prefix_of_pyc = format!("{}.", stem.to_string_lossy());
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(&prefix_of_pyc)
            {
                fs_err::remove_file(entry.path()).map_err(io(&entry.path()))?;
            }
        }
        // Remove the directories the package leaves empty, up to the prefix.
        let mut dir = Some(cache.as_path());
        while let Some(current) = dir {
            if current == prefix || fs_err::remove_dir(current).is_err() {
                break;
            }
            dir = current.parent();
        }
    }
    Ok(())
}

/// Drops the absolute cache paths from `conda-meta/*.json` and conda's history file.
pub(crate) fn make_reproducible(prefix: &Path) -> Result<(), InstallFailure> {
    let meta = prefix.join("conda-meta");
    let history = meta.join("history");
    if history.exists() {
        fs_err::remove_file(&history).map_err(io(&history))?;
    }
    for entry in fs_err::read_dir(&meta).map_err(io(&meta))? {
        let path = entry.map_err(io(&meta))?.path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let mut record = PrefixRecord::from_path(&path).map_err(io(&path))?;
        if record.extracted_package_dir.is_none()
            && record.package_tarball_full_path.is_none()
            && record.link.is_none()
        {
            continue;
        }
        record.extracted_package_dir = None;
        record.package_tarball_full_path = None;
        record.link = None;
        record.write_to_path(&path, true).map_err(io(&path))?;
    }
    Ok(())
}

/// Whether the packages include Python (which the app, pip and the wrapper run).
pub(crate) fn has_python(records: &[RepoDataRecord]) -> bool {
    records
        .iter()
        .any(|record| record.package_record.name.as_normalized() == "python")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytecode_of_removed_modules_goes_with_empty_directories() {
        let prefix = tempfile::tempdir().expect("tempdir");
        let site = prefix.path().join("lib/python3.13/site-packages");
        for dir in ["old/__pycache__", "kept/__pycache__"] {
            fs_err::create_dir_all(site.join(dir)).expect("mkdir");
        }
        fs_err::write(site.join("old/__pycache__/mod.cpython-313.pyc"), "").expect("write");
        fs_err::write(site.join("kept/__pycache__/mod.cpython-313.pyc"), "").expect("write");
        fs_err::write(site.join("kept/__pycache__/other.cpython-313.pyc"), "").expect("write");
        let before: BTreeSet<PathBuf> = [
            "lib/python3.13/site-packages/old/mod.py",
            "lib/python3.13/site-packages/kept/other.py",
        ]
        .into_iter()
        .map(PathBuf::from)
        .collect();
        remove_stale_bytecode(prefix.path(), &before, &BTreeSet::new()).expect("removed");
        assert!(!site.join("old").exists());
        assert!(site.join("kept/__pycache__/mod.cpython-313.pyc").exists());
        assert!(!site.join("kept/__pycache__/other.cpython-313.pyc").exists());
    }
}
