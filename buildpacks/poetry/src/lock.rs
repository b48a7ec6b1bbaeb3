//! `poetry.lock` (lock-version 2.1, written by Poetry ≥ 2.0) as the exact set to install:
//! each package records the groups it belongs to and its markers per group, so choosing the
//! groups and translating the pins, markers and file hashes needs no resolver and no Poetry.

use blacklodge_python_deps::locked::LockedPackage;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
pub(crate) struct Lock {
    #[serde(default)]
    package: Vec<Package>,
    pub(crate) metadata: Metadata,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct Metadata {
    pub(crate) lock_version: String,
    pub(crate) content_hash: String,
}

#[derive(Debug, Deserialize)]
struct Package {
    name: String,
    version: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    groups: Vec<String>,
    markers: Option<Markers>,
    #[serde(default)]
    files: Vec<File>,
    source: Option<Source>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Markers {
    All(String),
    PerGroup(BTreeMap<String, String>),
}

#[derive(Debug, Deserialize)]
struct File {
    hash: String,
}

#[derive(Debug, Deserialize)]
struct Source {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LockError {
    /// Written by Poetry < 2.0: no groups or markers per package.
    TooOld { lock_version: String },
    /// A package from a git repository, a URL or a local path: not installable by hash.
    UnsupportedSource { package: String, kind: String },
    /// A package with no file hashes.
    NoHashes { package: String },
    /// A selected group the lock does not know.
    UnknownGroup { group: String, known: Vec<String> },
}

/// The packages to install and the sources (by name) they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) packages: Vec<LockedPackage>,
    /// `reference → url` of the legacy (simple index) sources the selected packages use.
    pub(crate) sources: BTreeMap<String, String>,
    /// Some selected package comes from the default index (PyPI or the configured one).
    pub(crate) uses_default_index: bool,
}

impl Lock {
    pub(crate) fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    pub(crate) fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .package
            .iter()
            .flat_map(|package| package.groups.iter().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }

    /// The packages of `groups` (which always include `main` unless the caller removed it).
    pub(crate) fn plan(&self, groups: &[String]) -> Result<Plan, LockError> {
        let version: Vec<u32> = self
            .metadata
            .lock_version
            .split('.')
            .map(|part| part.parse().unwrap_or(0))
            .collect();
        if version < vec![2, 1] {
            return Err(LockError::TooOld {
                lock_version: self.metadata.lock_version.clone(),
            });
        }
        let known = self.groups();
        if let Some(group) = groups
            .iter()
            .find(|group| !known.contains(group) && group.as_str() != "main")
        {
            return Err(LockError::UnknownGroup {
                group: group.clone(),
                known,
            });
        }
        let mut plan = Plan {
            packages: Vec::new(),
            sources: BTreeMap::new(),
            uses_default_index: false,
        };
        for package in &self.package {
            let selected: Vec<&String> = package
                .groups
                .iter()
                .filter(|group| groups.contains(group))
                .collect();
            // Optional packages belong to extras, which are not selectable (documented).
            if selected.is_empty() || package.optional {
                continue;
            }
            if package.source.is_none() {
                plan.uses_default_index = true;
            }
            if let Some(source) = &package.source {
                match (source.kind.as_str(), &source.url, &source.reference) {
                    ("legacy", Some(url), Some(reference)) => {
                        plan.sources.insert(reference.clone(), url.clone());
                    }
                    (kind, _, _) => {
                        return Err(LockError::UnsupportedSource {
                            package: package.name.clone(),
                            kind: kind.to_string(),
                        });
                    }
                }
            }
            if package.files.is_empty() {
                return Err(LockError::NoHashes {
                    package: package.name.clone(),
                });
            }
            let markers = match &package.markers {
                None => None,
                Some(Markers::All(markers)) => Some(markers.clone()),
                Some(Markers::PerGroup(per_group)) => {
                    // Installed when any selected group wants it; a group without a marker
                    // wants it everywhere.
                    let mut parts = Vec::new();
                    let mut unconditional = false;
                    for group in &selected {
                        match per_group.get(*group) {
                            Some(marker) => parts.push(format!("({marker})")),
                            None => unconditional = true,
                        }
                    }
                    (!unconditional).then(|| parts.join(" or "))
                }
            };
            plan.packages.push(LockedPackage {
                name: package.name.clone(),
                version: package.version.clone(),
                markers,
                hashes: package.files.iter().map(|file| file.hash.clone()).collect(),
            });
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_LOCK: &str = include_str!("../../../tests/fixtures/poetry-flask/poetry.lock");

    #[test]
    fn main_group_only_by_default() {
        let lock = Lock::parse(FIXTURE_LOCK).expect("valid");
        let plan = lock.plan(&["main".to_string()]).expect("plan");
        let names: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
        assert!(names.contains(&"flask"));
        assert!(!names.contains(&"six"), "dev group excluded: {names:?}");
        assert_eq!(
            plan.sources.get("pypi-simple").map(String::as_str),
            Some("https://pypi.org/simple")
        );
        let with_dev = lock
            .plan(&["main".to_string(), "dev".to_string()])
            .expect("plan");
        assert!(with_dev.packages.iter().any(|p| p.name == "six"));
        assert!(
            plan.packages
                .iter()
                .all(|p| p.hashes.iter().all(|h| h.starts_with("sha256:")))
        );
    }

    #[test]
    fn per_group_markers_combine() {
        let lock = Lock::parse(
            r#"
[[package]]
name = "colorama"
version = "0.4.6"
optional = false
groups = ["main", "dev"]
markers = {main = "platform_system == \"Windows\"", dev = "sys_platform == \"win32\""}
files = [{file = "c.whl", hash = "sha256:aa"}]

[metadata]
lock-version = "2.1"
python-versions = ">=3.11"
content-hash = "x"
"#,
        )
        .expect("valid");
        let plan = lock
            .plan(&["main".to_string(), "dev".to_string()])
            .expect("plan");
        assert_eq!(
            plan.packages[0].markers.as_deref(),
            Some("(platform_system == \"Windows\") or (sys_platform == \"win32\")")
        );
        assert_eq!(
            lock.plan(&["main".into(), "docs".into()]),
            Err(LockError::UnknownGroup {
                group: "docs".into(),
                known: vec!["dev".into(), "main".into()]
            })
        );
    }

    #[test]
    fn old_locks_are_refused() {
        let lock = Lock::parse("[metadata]\nlock-version = \"2.0\"\ncontent-hash = \"x\"\n")
            .expect("valid");
        assert_eq!(
            lock.plan(&["main".into()]),
            Err(LockError::TooOld {
                lock_version: "2.0".into()
            })
        );
    }
}
