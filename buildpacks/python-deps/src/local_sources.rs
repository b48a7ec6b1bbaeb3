//! Local path dependencies of a lock (source directories, archives, editable packages): they
//! must be in the app, the source directories' content is part of the venv's cache key,
//! since it can change without the lock changing, and the build output their build backend
//! leaves in them is removed after the install ([`BuildOutput`]).

use blacklodge_common::download::sha256_file;
use blacklodge_common::output;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Directories that builds write into a source tree (or that never matter to the install):
/// left out of the fingerprint, so building a package does not change its key.
const IGNORED_DIRS: [&str; 6] = [".git", "__pycache__", "build", "dist", ".venv", ".tox"];

/// The first of `paths` (relative to `app_dir`) that does not exist.
#[must_use]
pub fn first_missing<'a>(
    app_dir: &Path,
    paths: impl IntoIterator<Item = &'a Path>,
) -> Option<&'a Path> {
    paths.into_iter().find(|path| !app_dir.join(path).exists())
}

/// Why a missing local path is missing, as a sentence for the error message.
#[must_use]
pub fn why_missing(path: &Path) -> &'static str {
    if path.is_absolute() || path.starts_with("..") {
        "It points outside the app directory, and only the app directory is part of the build."
    } else {
        "It is not in the app directory the build received (not committed, or excluded from the build)."
    }
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !IGNORED_DIRS.contains(&name.as_str()) && !name.ends_with(".egg-info") {
                walk(&path, found)?;
            }
        } else if kind.is_file() {
            found.push(path);
        }
    }
    Ok(())
}

/// sha256 over the relative paths and contents of every file in `dirs` (relative to
/// `app_dir`), build output left out.
///
/// # Errors
/// A directory or file that cannot be read.
pub fn fingerprint(app_dir: &Path, dirs: &[&Path]) -> std::io::Result<String> {
    let mut material = String::new();
    for dir in dirs {
        let root = app_dir.join(dir);
        let mut files = Vec::new();
        walk(&root, &mut files)?;
        files.sort();
        for file in files {
            let relative = file.strip_prefix(app_dir).unwrap_or(&file);
            material.push_str(&relative.to_string_lossy());
            material.push('\0');
            material.push_str(&sha256_file(&file)?);
            material.push('\n');
        }
    }
    Ok(blacklodge_common::download::sha256_bytes(
        material.as_bytes(),
    ))
}

/// The build metadata of a project directory: what an editable install takes from it (its
/// code is read in place, so only these change what is installed).
const PROJECT_METADATA: [&str; 3] = ["pyproject.toml", "setup.py", "setup.cfg"];

/// What local directories installed from the app (`(path, editable)`, relative to `app_dir`)
/// and the files a requirements list includes (`files`) put in a cache key: every file of a
/// directory installed as a copy (its code ends up in the environment), the build metadata of
/// one installed editable (its declared dependencies), and each included file's content.
///
/// # Errors
/// A directory or file that cannot be read.
pub fn installed_fingerprint(
    app_dir: &Path,
    dirs: &[(&Path, bool)],
    files: &[&Path],
) -> std::io::Result<String> {
    let copied: Vec<&Path> = dirs
        .iter()
        .filter(|(_, editable)| !editable)
        .map(|(path, _)| *path)
        .collect();
    let mut material = fingerprint(app_dir, &copied)?;
    let metadata = dirs
        .iter()
        .filter(|(_, editable)| *editable)
        .flat_map(|(path, _)| {
            PROJECT_METADATA
                .iter()
                .map(move |name| app_dir.join(path).join(name))
        });
    for file in metadata.chain(files.iter().map(|file| app_dir.join(file))) {
        if file.is_file() {
            material.push('\n');
            material.push_str(&file.to_string_lossy());
            material.push('\0');
            material.push_str(&sha256_file(&file)?);
        }
    }
    Ok(blacklodge_common::download::sha256_bytes(
        material.as_bytes(),
    ))
}

/// Whether a directory name is metadata setuptools writes next to a project's packages.
fn is_egg_info(name: &str) -> bool {
    name.ends_with(".egg-info")
}

/// Whether a directory name in a project root is build output a build backend writes there.
fn is_build_output(name: &str) -> bool {
    name == "build" || is_egg_info(name)
}

/// The build output directories in `root` (`build/`, `*.egg-info`) and the `*.egg-info` of
/// its subdirectories (`src/` layouts), not descending further: other packages deeper in the
/// tree are roots of their own.
fn build_output_in(root: &Path) -> Vec<PathBuf> {
    let subdirectories = |dir: &Path| -> Vec<(String, PathBuf)> {
        fs_err::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
                    .map(|entry| {
                        (
                            entry.file_name().to_string_lossy().into_owned(),
                            entry.path(),
                        )
                    })
                    .filter(|(name, _)| !name.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for (name, path) in subdirectories(root) {
        if is_build_output(&name) {
            found.push(path);
        } else {
            found.extend(
                subdirectories(&path)
                    .into_iter()
                    .filter(|(name, _)| is_egg_info(name))
                    .map(|(_, path)| path),
            );
        }
    }
    found
}

/// What a build backend leaves in the app's local source trees while the installer builds
/// them: setuptools writes `<name>.egg-info` (in the project root, or `src/`) when asked for
/// build requirements or metadata, and `build/` when building a wheel. Installers build a
/// local directory where it is, editable or not, so without this the app image would carry
/// that output in `/workspace`.
///
/// None of it is needed once installed: the venv holds the installed files and metadata, and
/// an editable install's finder (or `.pth`) points at the sources themselves. So the build
/// output that was not there before the install is removed after it. Kept: what the app
/// already had, and a `build/` holding setuptools' strict-mode editable links
/// (`build/__editable__.*`), which an editable install in that mode imports from.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    app_dir: PathBuf,
    roots: Vec<PathBuf>,
    before: BTreeSet<PathBuf>,
}

impl BuildOutput {
    /// Notes the build output already in the source trees `dirs` (relative to `app_dir`;
    /// paths leaving the app directory are left alone).
    #[must_use]
    pub fn snapshot<'a>(app_dir: &Path, dirs: impl IntoIterator<Item = &'a Path>) -> Self {
        let roots: Vec<PathBuf> = dirs
            .into_iter()
            .filter(|dir| {
                dir.components()
                    .all(|part| matches!(part, Component::Normal(_) | Component::CurDir))
            })
            .map(|dir| app_dir.join(dir))
            .collect();
        let before = roots
            .iter()
            .flat_map(|root| build_output_in(root))
            .collect();
        Self {
            app_dir: app_dir.to_path_buf(),
            roots,
            before,
        }
    }

    /// Removes the build output that appeared since [`BuildOutput::snapshot`] and logs it;
    /// returns it, relative to the app directory.
    ///
    /// # Errors
    /// A directory that cannot be removed (with its path).
    pub fn remove_new(&self) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
        let new: BTreeSet<PathBuf> = self
            .roots
            .iter()
            .flat_map(|root| build_output_in(root))
            .filter(|path| !self.before.contains(path))
            .collect();
        let mut removed = Vec::new();
        for path in new {
            if path.ends_with("build") && holds_strict_editable_links(&path) {
                continue;
            }
            fs_err::remove_dir_all(&path).map_err(|error| (path.clone(), error))?;
            removed.push(
                path.strip_prefix(&self.app_dir)
                    .map_or_else(|_| path.clone(), Path::to_path_buf),
            );
        }
        if !removed.is_empty() {
            output::detail(format!(
                "Removed the build output of local packages from the app: {}",
                removed
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(removed)
    }
}

/// setuptools' strict editable mode links the package from `build/__editable__.<name>-<tag>`.
fn holds_strict_editable_links(build: &Path) -> bool {
    fs_err::read_dir(build).is_ok_and(|mut entries| {
        entries.any(|entry| {
            entry.is_ok_and(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("__editable__")
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_follows_sources_not_build_output() {
        let app = tempfile::tempdir().expect("tempdir");
        let lib = app.path().join("libs/pkg");
        fs_err::create_dir_all(lib.join("pkg")).expect("mkdir");
        fs_err::write(lib.join("pkg/__init__.py"), "A = 1\n").expect("write");
        let dirs = [Path::new("libs/pkg")];
        let first = fingerprint(app.path(), &dirs).expect("readable");
        fs_err::create_dir_all(lib.join("build/lib")).expect("mkdir");
        fs_err::write(lib.join("build/lib/x.py"), "").expect("write");
        fs_err::create_dir_all(lib.join("pkg.egg-info")).expect("mkdir");
        fs_err::write(lib.join("pkg.egg-info/PKG-INFO"), "").expect("write");
        assert_eq!(fingerprint(app.path(), &dirs).expect("readable"), first);
        fs_err::write(lib.join("pkg/__init__.py"), "A = 2\n").expect("write");
        assert_ne!(fingerprint(app.path(), &dirs).expect("readable"), first);
    }

    #[test]
    fn missing_paths_are_found_and_explained() {
        let app = tempfile::tempdir().expect("tempdir");
        fs_err::create_dir_all(app.path().join("libs/here")).expect("mkdir");
        let paths = [Path::new("libs/here"), Path::new("libs/gone")];
        assert_eq!(
            first_missing(app.path(), paths.iter().copied()),
            Some(Path::new("libs/gone"))
        );
        assert!(why_missing(Path::new("../shared")).contains("outside"));
        assert!(why_missing(Path::new("libs/gone")).contains("not committed"));
    }

    #[test]
    fn new_build_output_is_removed_and_the_rest_kept() {
        let app = tempfile::tempdir().expect("tempdir");
        let mkdir = |relative: &str| {
            fs_err::create_dir_all(app.path().join(relative)).expect("mkdir");
        };
        mkdir("libs/pkg/pkg");
        mkdir("libs/src-pkg/src/srcpkg");
        mkdir("docs/build"); // the app's own, before the install
        mkdir("pkg.egg-info");
        let output = BuildOutput::snapshot(
            app.path(),
            [
                Path::new("."),
                Path::new("./libs/pkg"),
                Path::new("libs/src-pkg"),
                Path::new("../outside"),
            ],
        );
        mkdir("root.egg-info");
        mkdir("build/lib");
        mkdir("libs/pkg/build/lib/pkg");
        mkdir("libs/pkg/pkg.egg-info");
        mkdir("libs/src-pkg/src/srcpkg.egg-info");
        mkdir("libs/src-pkg/build/__editable__.srcpkg-0.1-py3-none-any/srcpkg");
        mkdir("libs/pkg/pkg/build"); // not where a backend writes `build/`: not touched
        let mut removed = output.remove_new().expect("removed");
        removed.sort();
        assert_eq!(
            removed,
            [
                "build",
                "libs/pkg/build",
                "libs/pkg/pkg.egg-info",
                "libs/src-pkg/src/srcpkg.egg-info",
                "root.egg-info",
            ]
            .map(PathBuf::from)
        );
        for kept in [
            "docs/build",
            "pkg.egg-info",
            "libs/pkg/pkg",
            "libs/pkg/pkg/build",
            "libs/src-pkg/build/__editable__.srcpkg-0.1-py3-none-any",
        ] {
            assert!(app.path().join(kept).is_dir(), "{kept} kept");
        }
        assert_eq!(
            output.remove_new().expect("nothing new"),
            Vec::<PathBuf>::new()
        );
    }
}
