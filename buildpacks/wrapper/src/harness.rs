//! The harness shipped inside this buildpack: the `blacklodge_harness` package from
//! `harness/src`, its runtime requirements and its `kafka` extra from `harness/pyproject.toml`
//! and their lock (`harness/requirements.lock`, exact versions with sha256 hashes, refreshed
//! by `harness/scripts/lock.sh`), embedded at compile time by `build.rs`.

use blacklodge_common::download::sha256_bytes;
use blacklodge_common::pypi;
use blacklodge_python_deps::pinned_lock::{self, Locked};
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

/// The requirements the harness needs at run time (`flask>=2.3`, `granian>=2.8,<2.9`).
pub(crate) fn requirements() -> Vec<String> {
    DEPENDENCIES.iter().map(|d| (*d).to_string()).collect()
}

/// The harness's `kafka` extra (`confluent-kafka>=2.5`), installed only for the worker mode.
pub(crate) fn kafka_requirements() -> Vec<String> {
    KAFKA_DEPENDENCIES
        .iter()
        .map(|d| (*d).to_string())
        .collect()
}

/// What to install: the runtime requirements, and the `kafka` extra with the worker mode.
pub(crate) fn requirements_for(worker: bool) -> Vec<String> {
    let mut requirements = requirements();
    if worker {
        requirements.extend(kafka_requirements());
    }
    requirements
}

/// The lock's second line (written by harness/scripts/lock.sh): the `kafka` extra it locked
/// and the distributions only the extra needs.
const KAFKA_LINE: &str = "# With the kafka extra (the worker mode): ";
const KAFKA_ONLY: &str = "; distributions only it needs: ";

/// `(the extra's requirements as locked, the normalized names only the extra needs)`.
fn parse_kafka_line(text: &str) -> Option<(String, Vec<String>)> {
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix(KAFKA_LINE))?;
    let (requirements, names) = line.split_once(KAFKA_ONLY)?;
    Some((
        requirements.to_string(),
        names
            .split(',')
            .map(|name| pypi::normalize(name.trim()))
            .collect(),
    ))
}

/// The distributions of the lock an install may use: all of them with the worker mode, else
/// all but those only the `kafka` extra needs.
pub(crate) fn lock_for(worker: bool) -> Vec<Locked> {
    let kafka_only = parse_kafka_line(LOCK)
        .map(|(_, names)| names)
        .unwrap_or_default();
    lock()
        .into_iter()
        .filter(|entry| worker || !kafka_only.contains(&entry.name))
        .collect()
}

/// The distributions of `harness/requirements.lock`, in file order.
pub(crate) fn lock() -> Vec<Locked> {
    pinned_lock::parse(LOCK)
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
    for dependency in KAFKA_DEPENDENCIES {
        all.extend_from_slice(dependency.as_bytes());
        all.push(0);
    }
    all.extend_from_slice(LOCK.as_bytes());
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
            requirements.iter().any(|r| r.starts_with("granian")),
            "{requirements:?}"
        );
        assert!(
            version().split('.').all(|part| part.parse::<u32>().is_ok()),
            "{}",
            version()
        );
    }

    #[test]
    fn the_lock_is_up_to_date_with_the_requirements() {
        // harness/scripts/lock.sh writes the requirements it locked on the first line.
        let first = LOCK.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!(
                "# The harness's runtime dependencies, locked: {}",
                DEPENDENCIES.join(", ")
            ),
            "harness/requirements.lock is out of date with harness/pyproject.toml: run harness/scripts/lock.sh"
        );
        let locked = lock();
        for dependency in DEPENDENCIES {
            assert_locked_satisfies(&locked, dependency);
        }
    }

    /// Asserts that the lock pins a version of `dependency` that satisfies it; its name.
    fn assert_locked_satisfies(locked: &[Locked], dependency: &str) -> String {
        let (name, specifiers) = split_requirement(dependency);
        let entry = locked
            .iter()
            .find(|entry| entry.name == name)
            .unwrap_or_else(|| panic!("{name} is not in harness/requirements.lock"));
        let version: pep440_rs::Version = entry.version.parse().expect("a version");
        assert!(
            specifiers.contains(&version),
            "the lock's {name}=={version} does not satisfy {dependency}"
        );
        name
    }

    /// `(name, specifiers)` of a requirement.
    fn split_requirement(requirement: &str) -> (String, pep440_rs::VersionSpecifiers) {
        let split = requirement
            .find(|c: char| "<>=!~ ;[".contains(c))
            .unwrap_or(requirement.len());
        let (name, specifiers) = requirement.split_at(split);
        (
            pypi::normalize(name),
            specifiers.trim().parse().expect("version specifiers"),
        )
    }

    #[test]
    fn the_lock_covers_the_kafka_extra_and_names_what_only_it_needs() {
        let (locked_extra, kafka_only) =
            parse_kafka_line(LOCK).expect("the lock's kafka line: run harness/scripts/lock.sh");
        assert_eq!(
            locked_extra,
            KAFKA_DEPENDENCIES.join(", "),
            "harness/requirements.lock is out of date with the kafka extra of harness/pyproject.toml: run harness/scripts/lock.sh"
        );
        let locked = lock();
        for dependency in KAFKA_DEPENDENCIES {
            let name = assert_locked_satisfies(&locked, dependency);
            assert!(kafka_only.contains(&name), "{name} not in {kafka_only:?}");
        }
        for name in &kafka_only {
            assert!(
                locked.iter().any(|entry| &entry.name == name),
                "{name} is named but not locked"
            );
        }
        // Without the worker, nothing only the extra needs; with it, the whole lock.
        let base = lock_for(false);
        assert_eq!(base.len() + kafka_only.len(), locked.len());
        assert!(base.iter().all(|entry| !kafka_only.contains(&entry.name)));
        for dependency in DEPENDENCIES {
            let (name, _) = split_requirement(dependency);
            assert!(base.iter().any(|entry| entry.name == name), "{name}");
        }
        assert_eq!(lock_for(true), locked);
        assert_eq!(
            requirements_for(true),
            [DEPENDENCIES, KAFKA_DEPENDENCIES].concat()
        );
        assert_eq!(requirements_for(false), DEPENDENCIES);
    }

    #[test]
    fn kafka_line_lists_normalized_names() {
        assert_eq!(
            parse_kafka_line(
                "# first\n# With the kafka extra (the worker mode): confluent-kafka>=2.5; distributions only it needs: confluent-kafka, Typing_Extensions\n"
            ),
            Some((
                "confluent-kafka>=2.5".to_string(),
                vec![
                    "confluent-kafka".to_string(),
                    "typing-extensions".to_string()
                ]
            ))
        );
        assert_eq!(
            parse_kafka_line("# The harness's runtime dependencies\n"),
            None
        );
    }

    #[test]
    fn every_locked_distribution_is_pinned_with_hashes() {
        let locked = lock();
        assert!(locked.len() >= DEPENDENCIES.len(), "{locked:?}");
        for entry in &locked {
            assert!(
                entry
                    .requirement
                    .starts_with(&format!("{}=={} ", entry.name, entry.version)),
                "{entry:?}"
            );
            let hashes: Vec<&str> = entry
                .requirement
                .split_whitespace()
                .filter_map(|word| word.strip_prefix("--hash=sha256:"))
                .collect();
            assert!(!hashes.is_empty(), "{} has no hash", entry.name);
            assert!(
                hashes
                    .iter()
                    .all(|hash| hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit())),
                "{entry:?}"
            );
            assert!(!entry.requirement.contains('#'), "{entry:?}");
        }
    }

    #[test]
    fn writes_an_importable_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_package(dir.path()).expect("write");
        assert!(dir.path().join("blacklodge_harness/cli.py").is_file());
    }
}
