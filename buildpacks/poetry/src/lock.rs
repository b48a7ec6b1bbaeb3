//! `poetry.lock` (lock-version 2.1, written by Poetry ≥ 2.0) as the exact set to install:
//! each package records the groups it belongs to and its markers per group, so choosing the
//! groups and translating the pins, markers and file hashes needs no resolver and no Poetry.

use blacklodge_python_deps::locked::{self, LockedPackage, Origin};
use pep508_rs::{ExtraName, MarkerTree};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Deserialize)]
pub(crate) struct Lock {
    #[serde(default)]
    package: Vec<Package>,
    /// `[extras]`: each extra of the project and the packages it names directly.
    #[serde(default)]
    extras: BTreeMap<String, Vec<String>>,
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
    /// A path dependency installed in development (editable) mode.
    #[serde(default)]
    develop: bool,
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
    /// git: the commit the reference resolved to when locking.
    resolved_reference: Option<String>,
    subdirectory: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LockError {
    /// Written by Poetry < 2.0: no groups or markers per package.
    TooOld { lock_version: String },
    /// A package from a source type this build does not know.
    UnsupportedSource { package: String, kind: String },
    /// A git package without the commit its reference resolved to.
    GitWithoutCommit {
        package: String,
        url: String,
        reference: Option<String>,
    },
    /// An index package with no file hashes.
    NoHashes { package: String },
    /// A selected group the lock does not know.
    UnknownGroup { group: String, known: Vec<String> },
    /// A selected extra the lock does not know.
    UnknownExtra { extra: String, known: Vec<String> },
    /// Markers that are not PEP 508.
    InvalidMarkers {
        package: String,
        markers: String,
        error: String,
    },
}

/// The packages to install and the sources (by name) they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) packages: Vec<LockedPackage>,
    /// Path dependencies in development mode (`develop = true`): installed editable.
    pub(crate) editables: Vec<PathBuf>,
    /// `reference → url` of the legacy (simple index) sources the selected packages use.
    pub(crate) sources: BTreeMap<String, String>,
    /// Some selected package comes from the default index (PyPI or the configured one).
    pub(crate) uses_default_index: bool,
}

/// The extras to install: PEP 685-normalised names, as markers compare them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extras(Vec<ExtraName>);

impl Extras {
    pub(crate) fn names(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
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

    /// The project's extras, as pyproject.toml names them.
    pub(crate) fn extras(&self) -> Vec<String> {
        self.extras.keys().cloned().collect()
    }

    /// Checks the requested extras against the lock's (`None`: every extra).
    pub(crate) fn select_extras(&self, requested: Option<&[String]>) -> Result<Extras, LockError> {
        let known: Vec<(ExtraName, &String)> = self
            .extras
            .keys()
            .filter_map(|name| Some((ExtraName::from_str(name).ok()?, name)))
            .collect();
        let Some(requested) = requested else {
            return Ok(Extras(known.into_iter().map(|(name, _)| name).collect()));
        };
        let mut selected = Vec::new();
        for extra in requested {
            match ExtraName::from_str(extra)
                .ok()
                .filter(|name| known.iter().any(|(known, _)| known == name))
            {
                Some(name) => selected.push(name),
                None => {
                    return Err(LockError::UnknownExtra {
                        extra: extra.clone(),
                        known: self.extras(),
                    });
                }
            }
        }
        selected.sort();
        selected.dedup();
        Ok(Extras(selected))
    }

    /// The packages of `groups` (which always include `main` unless the caller removed it)
    /// and of the enabled `extras`.
    pub(crate) fn plan(&self, groups: &[String], extras: &Extras) -> Result<Plan, LockError> {
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
            editables: Vec::new(),
            sources: BTreeMap::new(),
            uses_default_index: false,
        };
        for package in &self.package {
            let selected: Vec<&String> = package
                .groups
                .iter()
                .filter(|group| groups.contains(group))
                .collect();
            if selected.is_empty() {
                continue;
            }
            let Some(markers) = self.markers(package, &selected, extras)? else {
                continue;
            };
            let origin = match &package.source {
                None => {
                    plan.uses_default_index = true;
                    Origin::Index
                }
                Some(source) => {
                    if let Some(origin) = source_origin(package, source)? {
                        origin
                    } else {
                        if let (Some(url), Some(reference)) = (&source.url, &source.reference) {
                            plan.sources.insert(reference.clone(), url.clone());
                        }
                        Origin::Index
                    }
                }
            };
            let hashes: Vec<String> = package.files.iter().map(|file| file.hash.clone()).collect();
            if origin == Origin::Index && hashes.is_empty() {
                return Err(LockError::NoHashes {
                    package: package.name.clone(),
                });
            }
            if let Origin::Directory(path) = &origin
                && package.develop
            {
                plan.editables.push(path.clone());
                continue;
            }
            plan.packages.push(LockedPackage {
                name: package.name.clone(),
                version: Some(package.version.clone()),
                markers,
                hashes,
                origin,
            });
        }
        Ok(plan)
    }

    /// The markers to install `package` with for the selected groups and extras:
    /// `None` when it is not installed at all, `Some(None)` when installed everywhere.
    ///
    /// Lock-version 2.1 writes the condition of optional packages (those of extras) as
    /// `extra == "name"` markers; the enabled extras make those true, the others leave the
    /// package out unless an environment marker alone asks for it.
    #[allow(clippy::option_option)]
    fn markers(
        &self,
        package: &Package,
        selected: &[&String],
        extras: &Extras,
    ) -> Result<Option<Option<String>>, LockError> {
        let text = match &package.markers {
            None => None,
            Some(Markers::All(markers)) => Some(markers.clone()),
            Some(Markers::PerGroup(per_group)) => {
                // Installed when any selected group wants it; a group without a marker
                // wants it everywhere.
                let mut parts = Vec::new();
                let mut unconditional = false;
                for group in selected {
                    match per_group.get(*group) {
                        Some(marker) => parts.push(format!("({marker})")),
                        None => unconditional = true,
                    }
                }
                (!unconditional).then(|| parts.join(" or "))
            }
        };
        let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
            if package.optional {
                // An optional package without markers (not written by Poetry 2): installed
                // when an enabled extra names it.
                let wanted = self.extras.iter().any(|(extra, names)| {
                    ExtraName::from_str(extra).is_ok_and(|extra| extras.0.contains(&extra))
                        && names.iter().any(|name| same_name(name, &package.name))
                });
                return Ok(wanted.then_some(None));
            }
            return Ok(Some(None));
        };
        if !text.contains("extra") {
            // Environment markers only: passed on as the lock writes them.
            return Ok(Some(Some(text)));
        }
        let tree = MarkerTree::from_str(&text).map_err(|error| LockError::InvalidMarkers {
            package: package.name.clone(),
            markers: text.clone(),
            error: error.to_string(),
        })?;
        if !tree.evaluate_extras(&extras.0) {
            return Ok(None);
        }
        Ok(Some(tree.simplify_extras(&extras.0).try_to_string()))
    }
}

fn same_name(a: &str, b: &str) -> bool {
    let normal = |name: &str| name.to_ascii_lowercase().replace(['_', '.'], "-");
    normal(a) == normal(b)
}

/// A direct reference's origin (`None` for a legacy index source).
fn source_origin(package: &Package, source: &Source) -> Result<Option<Origin>, LockError> {
    let url = source.url.clone().unwrap_or_default();
    Ok(Some(match source.kind.as_str() {
        "legacy" => return Ok(None),
        "url" => Origin::Url(url),
        "file" => Origin::File(PathBuf::from(url)),
        "directory" => Origin::Directory(PathBuf::from(url)),
        "git" => {
            let Some(commit) = source
                .resolved_reference
                .clone()
                .filter(|commit| locked::is_commit(commit))
            else {
                return Err(LockError::GitWithoutCommit {
                    package: package.name.clone(),
                    url,
                    reference: source.reference.clone(),
                });
            };
            Origin::Git {
                url: locked::git_url(&url),
                commit,
                subdirectory: source.subdirectory.clone(),
            }
        }
        kind => {
            return Err(LockError::UnsupportedSource {
                package: package.name.clone(),
                kind: kind.to_string(),
            });
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_LOCK: &str = include_str!("../../../tests/fixtures/poetry-flask/poetry.lock");
    const EXTRAS_LOCK: &str = include_str!("../../../tests/fixtures/poetry-extras/poetry.lock");
    const SOURCES_LOCK: &str = include_str!("../../../tests/fixtures/poetry-sources/poetry.lock");

    fn names(plan: &Plan) -> Vec<&str> {
        plan.packages.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn main_group_only_by_default() {
        let lock = Lock::parse(FIXTURE_LOCK).expect("valid");
        let plan = lock
            .plan(&["main".to_string()], &Extras::default())
            .expect("plan");
        let names: Vec<&str> = plan.packages.iter().map(|p| p.name.as_str()).collect();
        assert!(names.contains(&"flask"));
        assert!(!names.contains(&"six"), "dev group excluded: {names:?}");
        assert_eq!(
            plan.sources.get("pypi-simple").map(String::as_str),
            Some("https://pypi.org/simple")
        );
        let with_dev = lock
            .plan(&["main".to_string(), "dev".to_string()], &Extras::default())
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
            .plan(&["main".to_string(), "dev".to_string()], &Extras::default())
            .expect("plan");
        assert_eq!(
            plan.packages[0].markers.as_deref(),
            Some("(platform_system == \"Windows\") or (sys_platform == \"win32\")")
        );
        assert_eq!(
            lock.plan(&["main".into(), "docs".into()], &Extras::default()),
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
            lock.plan(&["main".into()], &Extras::default()),
            Err(LockError::TooOld {
                lock_version: "2.0".into()
            })
        );
    }

    #[test]
    fn optional_packages_only_for_enabled_extras() {
        let lock = Lock::parse(EXTRAS_LOCK).expect("valid");
        let main = ["main".to_string()];
        let none = lock.plan(&main, &Extras::default()).expect("plan");
        assert_eq!(names(&none), vec!["six"]);

        let net = lock
            .select_extras(Some(&["net".to_string()]))
            .expect("known");
        let plan = lock.plan(&main, &net).expect("plan");
        assert_eq!(
            names(&plan),
            vec![
                "certifi",
                "charset-normalizer",
                "idna",
                "pysocks",
                "requests",
                "six",
                "urllib3"
            ]
        );
        assert!(
            plan.packages.iter().all(|p| p.markers.is_none()),
            "{plan:?}"
        );

        // colorama is Windows-only within the extra: the environment marker stays.
        let color = lock
            .select_extras(Some(&["Color".to_string()]))
            .expect("normalised names match");
        let plan = lock.plan(&main, &color).expect("plan");
        assert_eq!(names(&plan), vec!["colorama", "idna", "six"]);
        assert_eq!(
            plan.packages[0].markers.as_deref(),
            Some("sys_platform == 'win32'")
        );
        let all = lock.select_extras(None).expect("all");
        assert_eq!(all.names(), vec!["color", "net"]);
        assert_eq!(lock.plan(&main, &all).expect("plan").packages.len(), 8);

        assert_eq!(
            lock.select_extras(Some(&["socks".to_string()])),
            Err(LockError::UnknownExtra {
                extra: "socks".into(),
                known: vec!["color".into(), "net".into()]
            })
        );
    }

    #[test]
    fn direct_references_are_translated() {
        let lock = Lock::parse(SOURCES_LOCK).expect("valid");
        let plan = lock
            .plan(&["main".to_string()], &Extras::default())
            .expect("plan");
        let origin = |name: &str| {
            plan.packages.iter().find(|p| p.name == name).map_or_else(
                || panic!("{name} in {plan:?}"),
                |p| (p.origin.clone(), p.hashes.len()),
            )
        };
        assert_eq!(
            origin("localpkg"),
            (Origin::Directory("libs/localpkg".into()), 0)
        );
        assert_eq!(
            origin("vendored-tool"),
            (
                Origin::File("vendor/vendored_tool-1.0.0-py3-none-any.whl".into()),
                1
            )
        );
        assert_eq!(
            origin("blacklodge-private"),
            (
                Origin::Url(
                    "http://127.0.0.1:38772/files/blacklodge_private-1.0.0-py3-none-any.whl".into()
                ),
                1
            )
        );
        assert!(
            matches!(origin("greeter").0, Origin::Git { commit, .. } if commit == "7f4d427c893d80b226165f14b8ac7f6667245e8c")
        );
        assert_eq!(plan.editables, vec![PathBuf::from("libs/devpkg")]);

        let unpinned = SOURCES_LOCK.replace(
            "resolved_reference = \"7f4d427c893d80b226165f14b8ac7f6667245e8c\"\n",
            "",
        );
        assert_eq!(
            Lock::parse(&unpinned)
                .expect("valid")
                .plan(&["main".to_string()], &Extras::default()),
            Err(LockError::GitWithoutCommit {
                package: "greeter".into(),
                url: "http://127.0.0.1:38773/greeter.git".into(),
                reference: Some("main".into()),
            })
        );
    }
}
