//! The harness shipped inside this buildpack: the `blacklodge_harness` package from
//! `harness/src` and its runtime requirements from `harness/pyproject.toml`, embedded at
//! compile time by `build.rs`.

use blacklodge_common::download::sha256_bytes;
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/harness_files.rs"));

/// The harness version (`__version__` in `blacklodge_harness/__init__.py`).
pub(crate) fn version() -> &'static str {
    FILES
        .iter()
        .find(|(name, _)| *name == "blacklodge_harness/__init__.py")
        .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok())
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("__version__ = "))
        })
        .map_or("unknown", |value| value.trim().trim_matches('"'))
}

/// The requirements the harness needs at run time (`flask>=2.3`, `gunicorn>=22`).
pub(crate) fn requirements() -> Vec<String> {
    DEPENDENCIES.iter().map(|d| (*d).to_string()).collect()
}

/// A fingerprint of everything shipped: a changed file or requirement reinstalls the harness.
pub(crate) fn fingerprint() -> String {
    let mut all = Vec::new();
    for (name, bytes) in FILES {
        all.extend_from_slice(name.as_bytes());
        all.push(0);
        all.extend_from_slice(&sha256_bytes(bytes).into_bytes());
    }
    for dependency in DEPENDENCIES {
        all.extend_from_slice(dependency.as_bytes());
        all.push(0);
    }
    sha256_bytes(&all)
}

/// Writes the package below `directory` (which then holds `blacklodge_harness/`).
pub(crate) fn write_package(directory: &Path) -> std::io::Result<()> {
    for (name, bytes) in FILES {
        let path = directory.join(name);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(path, bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_package_is_embedded() {
        let names: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
        for expected in [
            "blacklodge_harness/__init__.py",
            "blacklodge_harness/cli.py",
            "blacklodge_harness/web.py",
            "blacklodge_harness/job.py",
            "blacklodge_harness/server.py",
            "blacklodge_harness/py.typed",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        assert!(!names.iter().any(|name| name.contains("__pycache__")));
    }

    #[test]
    fn requirements_and_version_come_from_the_package() {
        let requirements = requirements();
        assert!(
            requirements.iter().any(|r| r.starts_with("flask")),
            "{requirements:?}"
        );
        assert!(
            requirements.iter().any(|r| r.starts_with("gunicorn")),
            "{requirements:?}"
        );
        assert!(
            version().split('.').all(|part| part.parse::<u32>().is_ok()),
            "{}",
            version()
        );
    }

    #[test]
    fn writes_an_importable_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_package(dir.path()).expect("write");
        assert!(dir.path().join("blacklodge_harness/cli.py").is_file());
    }
}
