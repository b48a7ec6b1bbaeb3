//! `Pipfile` and `Pipfile.lock`: the hash Pipenv records for the Pipfile (checked like
//! `pipenv install --deploy`), and the lock's categories as an exact, hash-checked set.

use blacklodge_common::pypi;
use blacklodge_python_deps::locked::{self, LockedPackage, Origin};
use blacklodge_python_deps::pyjson;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Sections of a Pipfile that are not package categories (plette's `PIPFILE_SECTIONS`).
const NON_CATEGORY_SECTIONS: [&str; 7] = [
    "source",
    "packages",
    "dev-packages",
    "requires",
    "scripts",
    "pipfile",
    "pipenv",
];

/// How a Pipenv version hashes the Pipfile into `_meta.hash.sha256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hashing {
    /// Pipenv 2026.4 and later (`Pipfile.calculate_hash()`): every package name in
    /// `[packages]`, `[dev-packages]` and the custom categories in its PEP 503 form
    /// (`Flask` → `flask`), so a change of spelling alone needs no new lock.
    Normalized,
    /// Earlier Pipenv (plette's `Pipfile.get_hash()`): the names as the Pipfile spells them.
    AsWritten,
}

impl Hashing {
    /// Both, newest first: a lock is current when either matches (each Pipenv accepts the
    /// locks it writes itself).
    pub(crate) const ALL: [Hashing; 2] = [Hashing::Normalized, Hashing::AsWritten];

    /// Which Pipenv versions hash this way (for the log and the messages).
    pub(crate) fn pipenv_versions(self) -> &'static str {
        match self {
            Hashing::Normalized => "Pipenv 2026.4 and later",
            Hashing::AsWritten => "Pipenv before 2026.4",
        }
    }
}

/// The Pipfile hash Pipenv records in the lock: sha256 of
/// `json.dumps(data, sort_keys=True, separators=(",", ":"))` over the sources (PyPI when the
/// Pipfile has no `[[source]]`), `requires` and the package categories, the names in the
/// categories spelled as `hashing` says.
pub(crate) fn pipfile_hash(pipfile: &toml::Table, hashing: Hashing) -> String {
    let document = pyjson::from_toml(&toml::Value::Table(pipfile.clone()));
    let get = |key: &str| document.get(key).cloned();
    let category = |values: Option<Value>| {
        let values = values.unwrap_or_else(|| Value::Object(Map::new()));
        match (hashing, values) {
            (Hashing::Normalized, Value::Object(packages)) => Value::Object(
                packages
                    .into_iter()
                    .map(|(name, value)| (pypi::normalize(&name), value))
                    .collect(),
            ),
            (_, values) => values,
        }
    };
    let sources = get("source").unwrap_or_else(|| {
        serde_json::json!([{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}])
    });
    let mut meta = Map::new();
    meta.insert("sources".into(), sources);
    meta.insert(
        "requires".into(),
        get("requires").unwrap_or_else(|| Value::Object(Map::new())),
    );
    let mut data = Map::new();
    data.insert("_meta".into(), Value::Object(meta));
    data.insert("default".into(), category(get("packages")));
    data.insert("develop".into(), category(get("dev-packages")));
    if let Some(object) = document.as_object() {
        for (name, values) in object {
            if NON_CATEGORY_SECTIONS.contains(&name.as_str())
                || name == "default"
                || name == "develop"
            {
                continue;
            }
            data.insert(name.clone(), category(Some(values.clone())));
        }
    }
    blacklodge_common::download::sha256_bytes(
        pyjson::dumps(&Value::Object(data), pyjson::COMPACT).as_bytes(),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct Lock {
    #[serde(rename = "_meta")]
    pub(crate) meta: Meta,
    #[serde(flatten)]
    categories: BTreeMap<String, BTreeMap<String, Entry>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Meta {
    pub(crate) hash: MetaHash,
    #[serde(default)]
    pub(crate) sources: Vec<Source>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetaHash {
    pub(crate) sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Source {
    pub(crate) name: String,
    pub(crate) url: String,
}

#[derive(Debug, Deserialize)]
struct Entry {
    version: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    markers: Option<String>,
    #[serde(default)]
    editable: bool,
    path: Option<String>,
    git: Option<String>,
    /// git: the commit Pipenv resolved the Pipfile's reference to.
    #[serde(rename = "ref")]
    reference: Option<String>,
    subdirectory: Option<String>,
    file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LockError {
    UnknownCategory {
        category: String,
        known: Vec<String>,
    },
    Unsupported {
        package: String,
        what: String,
    },
    /// A git package whose `ref` is not a commit id.
    GitWithoutCommit {
        package: String,
        url: String,
        reference: Option<String>,
    },
    NoHashes {
        package: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) packages: Vec<LockedPackage>,
    /// Local paths (installed editable, without dependencies).
    pub(crate) editables: Vec<PathBuf>,
}

impl Lock {
    pub(crate) fn categories(&self) -> Vec<String> {
        self.categories.keys().cloned().collect()
    }

    pub(crate) fn plan(&self, categories: &[String]) -> Result<Plan, LockError> {
        let mut by_name: BTreeMap<&str, LockedPackage> = BTreeMap::new();
        let mut plan = Plan::default();
        for category in categories {
            let Some(entries) = self.categories.get(category) else {
                return Err(LockError::UnknownCategory {
                    category: category.clone(),
                    known: self.categories(),
                });
            };
            for (name, entry) in entries {
                if let Some(path) = &entry.path
                    && (entry.editable || path == ".")
                {
                    plan.editables.push(PathBuf::from(path));
                    continue;
                }
                let origin = origin(name, entry)?;
                if origin == Origin::Index && entry.hashes.is_empty() {
                    return Err(LockError::NoHashes {
                        package: name.clone(),
                    });
                }
                let version = entry
                    .version
                    .as_deref()
                    .and_then(|v| v.strip_prefix("=="))
                    .map(str::to_string);
                if origin == Origin::Index && version.is_none() {
                    return Err(LockError::Unsupported {
                        package: name.clone(),
                        what: format!("version {:?}", entry.version),
                    });
                }
                by_name.entry(name).or_insert_with(|| LockedPackage {
                    name: name.clone(),
                    version,
                    markers: entry.markers.clone(),
                    hashes: entry.hashes.clone(),
                    origin,
                });
            }
        }
        plan.packages = by_name.into_values().collect();
        plan.editables.sort();
        plan.editables.dedup();
        Ok(plan)
    }
}

/// Where a lock entry comes from: `git` (at the locked `ref`), `file` (a URL, or a local
/// archive or directory), `path` (a local archive or directory), else the index.
fn origin(name: &str, entry: &Entry) -> Result<Origin, LockError> {
    let local = |path: &str| {
        let path = path.strip_prefix("file://").unwrap_or(path);
        if locked::is_archive(path) {
            Origin::File(PathBuf::from(path))
        } else {
            Origin::Directory(PathBuf::from(path))
        }
    };
    if let Some(url) = &entry.git {
        let Some(commit) = entry
            .reference
            .clone()
            .filter(|reference| locked::is_commit(reference))
        else {
            return Err(LockError::GitWithoutCommit {
                package: name.to_string(),
                url: url.clone(),
                reference: entry.reference.clone(),
            });
        };
        return Ok(Origin::Git {
            url: locked::git_url(url),
            commit,
            subdirectory: entry.subdirectory.clone(),
        });
    }
    if let Some(file) = &entry.file {
        return Ok(
            if file.starts_with("http://") || file.starts_with("https://") {
                Origin::Url(file.clone())
            } else {
                local(file)
            },
        );
    }
    Ok(entry.path.as_deref().map_or(Origin::Index, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIPFILE: &str = include_str!("../../../tests/fixtures/pipenv-flask/Pipfile");
    const LOCK: &str = include_str!("../../../tests/fixtures/pipenv-flask/Pipfile.lock");

    #[test]
    fn pipfile_hash_matches_pipenv() {
        let lock: Lock = serde_json::from_str(LOCK).expect("valid lock");
        assert_eq!(
            pipfile_hash(&PIPFILE.parse().expect("valid Pipfile"), Hashing::AsWritten),
            lock.meta.hash.sha256
        );
    }

    /// Locks made by real Pipenv releases for a Pipfile that spells `Flask` and `Gunicorn`
    /// capitalised: each matches its own release's hashing and not the other's.
    #[test]
    fn locks_of_old_and_new_pipenv_match_their_hashing() {
        for (fixture, pipfile, lock, hashing) in [
            (
                "pipenv-lock-2025",
                include_str!("../../../tests/fixtures/pipenv-lock-2025/Pipfile"),
                include_str!("../../../tests/fixtures/pipenv-lock-2025/Pipfile.lock"),
                Hashing::AsWritten,
            ),
            (
                "pipenv-lock-2026",
                include_str!("../../../tests/fixtures/pipenv-lock-2026/Pipfile"),
                include_str!("../../../tests/fixtures/pipenv-lock-2026/Pipfile.lock"),
                Hashing::Normalized,
            ),
        ] {
            let pipfile: toml::Table = pipfile.parse().expect("valid Pipfile");
            let lock: Lock = serde_json::from_str(lock).expect("valid lock");
            for candidate in Hashing::ALL {
                assert_eq!(
                    pipfile_hash(&pipfile, candidate) == lock.meta.hash.sha256,
                    candidate == hashing,
                    "{fixture}: {candidate:?}"
                );
            }
        }
    }

    #[test]
    fn normalized_hashing_spells_names_in_every_category_as_pep_503() {
        let written: toml::Table =
            "[packages]\nMy_Pkg = \"*\"\n[dev-packages]\n\"Zope.Interface\" = \"*\"\n[docs]\nSphinx = \"*\"\n"
                .parse()
                .expect("valid");
        let normalized: toml::Table =
            "[packages]\nmy-pkg = \"*\"\n[dev-packages]\nzope-interface = \"*\"\n[docs]\nsphinx = \"*\"\n"
                .parse()
                .expect("valid");
        assert_eq!(
            pipfile_hash(&written, Hashing::Normalized),
            pipfile_hash(&normalized, Hashing::Normalized)
        );
        assert_ne!(
            pipfile_hash(&written, Hashing::AsWritten),
            pipfile_hash(&normalized, Hashing::AsWritten)
        );
        // Already normalised names hash the same both ways.
        assert_eq!(
            pipfile_hash(&normalized, Hashing::AsWritten),
            pipfile_hash(&normalized, Hashing::Normalized)
        );
    }

    #[test]
    fn pipfile_without_source_hashes_with_pypi() {
        // python3 -c 'import json,hashlib; print(hashlib.sha256(json.dumps({"_meta":{"sources":[{"name":"pypi","url":"https://pypi.org/simple","verify_ssl":True}],"requires":{}},"default":{"six":"*"},"develop":{}},sort_keys=True,separators=(",",":")).encode()).hexdigest())'
        assert_eq!(
            pipfile_hash(
                &"[packages]\nsix = \"*\"\n".parse().expect("valid"),
                Hashing::AsWritten
            ),
            "83b3df86404322b5e9c6d1f3a782fd8510f976dafa4940f849d7e79258978aaa"
        );
    }

    #[test]
    fn default_category_only_unless_asked() {
        let lock: Lock = serde_json::from_str(LOCK).expect("valid lock");
        let plan = lock.plan(&["default".to_string()]).expect("plan");
        assert!(
            plan.packages
                .iter()
                .any(|p| p.name == "flask" && p.version.as_deref() == Some("3.1.2"))
        );
        assert!(!plan.packages.iter().any(|p| p.name == "six"));
        let dev = lock
            .plan(&["default".to_string(), "develop".to_string()])
            .expect("plan");
        assert!(dev.packages.iter().any(|p| p.name == "six"));
        assert_eq!(
            lock.plan(&["docs".to_string()]),
            Err(LockError::UnknownCategory {
                category: "docs".into(),
                known: vec!["default".into(), "develop".into()]
            })
        );
    }

    #[test]
    fn direct_references_are_translated() {
        const SOURCES_PIPFILE: &str =
            include_str!("../../../tests/fixtures/pipenv-sources/Pipfile");
        const SOURCES_LOCK: &str =
            include_str!("../../../tests/fixtures/pipenv-sources/Pipfile.lock");
        let lock: Lock = serde_json::from_str(SOURCES_LOCK).expect("valid lock");
        assert_eq!(
            pipfile_hash(
                &SOURCES_PIPFILE.parse().expect("valid Pipfile"),
                Hashing::AsWritten
            ),
            lock.meta.hash.sha256
        );
        let plan = lock.plan(&["default".to_string()]).expect("plan");
        let origins: Vec<(&str, &Origin, usize)> = plan
            .packages
            .iter()
            .map(|p| (p.name.as_str(), &p.origin, p.hashes.len()))
            .collect();
        assert_eq!(
            origins,
            vec![
                (
                    "blacklodge-private",
                    &Origin::Url(
                        "http://127.0.0.1:38772/files/blacklodge_private-1.0.0-py3-none-any.whl"
                            .into()
                    ),
                    0
                ),
                (
                    "greeter",
                    &Origin::Git {
                        url: "http://127.0.0.1:38773/greeter.git".into(),
                        commit: "7f4d427c893d80b226165f14b8ac7f6667245e8c".into(),
                        subdirectory: None
                    },
                    0
                ),
                ("localpkg", &Origin::Directory("./libs/localpkg".into()), 0),
                (
                    "vendored-tool",
                    &Origin::File("./vendor/vendored_tool-1.0.0-py3-none-any.whl".into()),
                    1
                ),
            ]
        );
        assert_eq!(plan.editables, vec![PathBuf::from("./libs/devpkg")]);

        let unpinned = SOURCES_LOCK.replace("7f4d427c893d80b226165f14b8ac7f6667245e8c", "main");
        let lock: Lock = serde_json::from_str(&unpinned).expect("valid lock");
        assert_eq!(
            lock.plan(&["default".to_string()]),
            Err(LockError::GitWithoutCommit {
                package: "greeter".into(),
                url: "http://127.0.0.1:38773/greeter.git".into(),
                reference: Some("main".into()),
            })
        );
    }
}
