//! Local path dependencies of a lock (source directories, archives, editable packages): they
//! must be in the app, and the source directories' content is part of the venv's cache key,
//! since it can change without the lock changing.

use blacklodge_common::download::sha256_file;
use std::path::{Path, PathBuf};

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
}
