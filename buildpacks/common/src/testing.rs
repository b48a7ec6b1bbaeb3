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

/// A temporary copy of `tests/fixtures/<name>` of the repository (every file, recursively).
///
/// # Panics
/// When the fixture cannot be read or the copy written.
#[must_use]
pub fn fixture_app(name: &str) -> tempfile::TempDir {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        fs_err::create_dir_all(to).expect("create the directory");
        for entry in fs_err::read_dir(from).expect("read the fixture") {
            let entry = entry.expect("read the fixture");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("file type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                fs_err::copy(entry.path(), target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    copy(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(name),
        dir.path(),
    );
    dir
}

/// Asserts that `key` (a digest of the build's inputs read from the app `dir` and the
/// variables) is stable, that it changes when any one of `inputs` is written (a file,
/// relative to `dir`, and its new contents) or any one of `variables` is set, and comes back
/// when that is undone (the file restored or removed), and that writing `others` leaves it.
///
/// # Panics
/// When one of these does not hold, or a file cannot be written.
pub fn assert_key_follows_inputs(
    dir: &std::path::Path,
    key: impl Fn(&libcnb::Env) -> String,
    inputs: &[(&str, &str)],
    variables: &[(&str, &str)],
    others: &[(&str, &str)],
) {
    let env = libcnb::Env::new();
    let base = key(&env);
    assert_eq!(key(&env), base, "the same inputs give the same key");
    for (file, contents) in inputs {
        let path = dir.join(file);
        let original = fs_err::read(&path).ok();
        fs_err::write(&path, contents).expect("write");
        assert_ne!(key(&env), base, "{file} changed: the key must change");
        match original {
            Some(original) => fs_err::write(&path, original).expect("restore"),
            None => fs_err::remove_file(&path).expect("remove"),
        }
        assert_eq!(
            key(&env),
            base,
            "{file} restored: the key is the same again"
        );
    }
    for (name, value) in variables {
        let mut set = libcnb::Env::new();
        set.insert(name, value);
        assert_ne!(key(&set), base, "{name}={value}: the key must change");
    }
    for (file, contents) in others {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).expect("create the directory");
        }
        fs_err::write(&path, contents).expect("write");
    }
    assert_eq!(key(&env), base, "not inputs: {others:?}");
}
