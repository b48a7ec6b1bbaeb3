//! A hash-pinned lock shipped inside a buildpack (the wrapper's `harness/requirements.lock`,
//! the web buildpack's `servers.lock`): pip's requirements format as `uv pip compile
//! --generate-hashes` writes it.
//!
//! One job: read the lock into its entries, and pick the ones an app lacks. Which lock, and
//! what its header lines mean, is the owning buildpack's business.

use blacklodge_common::pypi;
use std::collections::BTreeSet;

/// One distribution of the lock: its name (normalized), its version and the requirement text
/// pip reads (`name==version ; marker --hash=sha256:… …`, comments removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub name: String,
    pub version: String,
    pub requirement: String,
}

/// Parses pip's requirements format as uv writes it: an entry starts at an unindented line,
/// its hashes follow on indented continuation lines; comment lines are dropped. Entries are
/// in file order; a line that is not `name==version…` is not an entry.
#[must_use]
pub fn parse(text: &str) -> Vec<Locked> {
    let mut entries: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            if let Some(entry) = entries.last_mut() {
                entry.push(trimmed);
            }
        } else {
            entries.push(vec![trimmed]);
        }
    }
    entries
        .into_iter()
        .filter_map(|lines| {
            let (name, rest) = lines[0].split_once("==")?;
            let version = rest
                .split(|c: char| c.is_whitespace() || c == ';' || c == '\\')
                .next()?
                .to_string();
            let requirement = lines
                .iter()
                .map(|line| line.trim_end_matches('\\').trim())
                .collect::<Vec<_>>()
                .join(" \\\n    ");
            Some(Locked {
                name: pypi::normalize(name.trim()),
                version,
                requirement,
            })
        })
        .collect()
}

/// The entries of `lock` for the distributions not `installed` (normalized names), and how
/// many entries the app has already (its own copies are kept, not the locked ones).
#[must_use]
pub fn missing_from(lock: &[Locked], installed: &BTreeSet<String>) -> (Vec<Locked>, usize) {
    let (kept, missing): (Vec<&Locked>, Vec<&Locked>) = lock
        .iter()
        .partition(|entry| installed.contains(&entry.name));
    (missing.into_iter().cloned().collect(), kept.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_markers_and_hashes_and_drop_comments() {
        let locked = parse(
            "# header\nFlask==3.1.3 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via blacklodge-harness\nimportlib-metadata==8.7.0 ; python_full_version < '3.10' \\\n    --hash=sha256:cc\n    # via\n    #   flask\n",
        );
        assert_eq!(
            locked,
            vec![
                Locked {
                    name: "flask".into(),
                    version: "3.1.3".into(),
                    requirement: "Flask==3.1.3 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb".into(),
                },
                Locked {
                    name: "importlib-metadata".into(),
                    version: "8.7.0".into(),
                    requirement: "importlib-metadata==8.7.0 ; python_full_version < '3.10' \\\n    --hash=sha256:cc".into(),
                },
            ]
        );
    }

    #[test]
    fn the_app_keeps_its_own_and_the_rest_comes_from_the_lock() {
        let lock = parse(
            "# header\nclick==8.5.1 \\\n    --hash=sha256:aa\n    # via uvicorn\nuvicorn==0.54.0 ; python_full_version < '3.11' \\\n    --hash=sha256:bb\n",
        );
        assert_eq!(
            lock,
            vec![
                Locked {
                    name: "click".into(),
                    version: "8.5.1".into(),
                    requirement: "click==8.5.1 \\\n    --hash=sha256:aa".into(),
                },
                Locked {
                    name: "uvicorn".into(),
                    version: "0.54.0".into(),
                    requirement:
                        "uvicorn==0.54.0 ; python_full_version < '3.11' \\\n    --hash=sha256:bb"
                            .into(),
                },
            ]
        );
        let installed = ["click".to_string()].into_iter().collect();
        let (missing, kept) = missing_from(&lock, &installed);
        assert_eq!(kept, 1);
        assert_eq!(
            missing.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            vec!["uvicorn"]
        );
    }
}
