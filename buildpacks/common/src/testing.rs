//! Helpers for the buildpacks' unit tests: the `testing` feature, enabled by their
//! dev-dependencies only.

/// A temporary app directory holding `files` (path relative to it, contents).
///
/// # Panics
/// When the directory or a file cannot be written.
#[must_use]
pub fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, contents) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).expect("create the directory");
        }
        fs_err::write(path, contents).expect("write");
    }
    dir
}
