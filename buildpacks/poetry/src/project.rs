//! What the build needs from `pyproject.toml`: the content hash Poetry records in the lock,
//! package mode, and the declared sources.

use blacklodge_python_deps::pyjson;
use serde_json::{Map, Value};

/// `[[tool.poetry.source]]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) priority: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Project {
    document: Value,
}

const LEGACY_KEYS: [&str; 4] = ["dependencies", "source", "extras", "dev-dependencies"];
const RELEVANT_KEYS: [&str; 5] = [
    "dependencies",
    "source",
    "extras",
    "dev-dependencies",
    "group",
];
const RELEVANT_PROJECT_KEYS: [&str; 3] =
    ["requires-python", "dependencies", "optional-dependencies"];

impl Project {
    pub(crate) fn parse(text: &str) -> Result<Self, toml::de::Error> {
        let table: toml::Table = text.parse()?;
        Ok(Self {
            document: pyjson::from_toml(&toml::Value::Table(table)),
        })
    }

    fn poetry(&self) -> Option<&Map<String, Value>> {
        self.document.get("tool")?.get("poetry")?.as_object()
    }

    /// Poetry's `Locker._get_content_hash` (poetry/packages/locker.py): sha256 of the
    /// relevant sections as `json.dumps(…, sort_keys=True)`. Locks written before Poetry 2.3
    /// hashed without `[dependency-groups]`.
    pub(crate) fn content_hash(&self, with_dependency_groups: bool) -> String {
        let empty = Map::new();
        let project = self
            .document
            .get("project")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let groups = if with_dependency_groups {
            self.document
                .get("dependency-groups")
                .and_then(Value::as_object)
                .unwrap_or(&empty)
        } else {
            &empty
        };
        let poetry = self.poetry().unwrap_or(&empty);

        let mut relevant_project = Map::new();
        for key in RELEVANT_PROJECT_KEYS {
            if let Some(value) = project.get(key).filter(|value| !value.is_null()) {
                relevant_project.insert(key.to_string(), value.clone());
            }
        }
        let mut relevant_poetry = Map::new();
        for key in RELEVANT_KEYS {
            let value = poetry.get(key).cloned();
            if value.is_none()
                && (!LEGACY_KEYS.contains(&key)
                    || !relevant_project.is_empty()
                    || !groups.is_empty())
            {
                continue;
            }
            relevant_poetry.insert(key.to_string(), value.unwrap_or(Value::Null));
        }
        let mut relevant = Map::new();
        if !relevant_project.is_empty() {
            relevant.insert("project".to_string(), Value::Object(relevant_project));
        }
        if !groups.is_empty() {
            relevant.insert(
                "dependency-groups".to_string(),
                Value::Object(groups.clone()),
            );
        }
        let content = if relevant.is_empty() {
            Value::Object(relevant_poetry)
        } else {
            let mut tool = Map::new();
            tool.insert("poetry".to_string(), Value::Object(relevant_poetry));
            relevant.insert("tool".to_string(), Value::Object(tool));
            Value::Object(relevant)
        };
        blacklodge_common::download::sha256_bytes(
            pyjson::dumps(&content, pyjson::DEFAULT).as_bytes(),
        )
    }

    /// `[tool.poetry] package-mode` (default true): whether the project itself is installed.
    pub(crate) fn package_mode(&self) -> bool {
        self.poetry()
            .and_then(|poetry| poetry.get("package-mode"))
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }

    pub(crate) fn sources(&self) -> Vec<Source> {
        self.poetry()
            .and_then(|poetry| poetry.get("source"))
            .and_then(Value::as_array)
            .map(|sources| {
                sources
                    .iter()
                    .filter_map(|source| {
                        Some(Source {
                            name: source.get("name")?.as_str()?.to_string(),
                            url: source.get("url")?.as_str()?.to_string(),
                            priority: source
                                .get("priority")
                                .and_then(Value::as_str)
                                .map(str::to_string),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../tests/fixtures/poetry-flask/pyproject.toml");
    const FIXTURE_LOCK: &str = include_str!("../../../tests/fixtures/poetry-flask/poetry.lock");

    #[test]
    fn content_hash_matches_poetry() {
        // The fixture's lock was written by Poetry 2.5.1.
        let project = Project::parse(FIXTURE).expect("valid");
        let lock: toml::Table = FIXTURE_LOCK.parse().expect("valid lock");
        assert_eq!(
            project.content_hash(true),
            lock["metadata"]["content-hash"].as_str().expect("hash")
        );
        assert!(!project.package_mode());
        assert_eq!(project.sources()[0].name, "pypi-simple");
    }

    #[test]
    fn legacy_tool_poetry_projects_hash_at_top_level() {
        // python3 -c 'import json,hashlib; print(hashlib.sha256(json.dumps({"dependencies": {"python": "^3.11"}, "source": None, "extras": None, "dev-dependencies": None}, sort_keys=True).encode()).hexdigest())'
        let project = Project::parse(
            "[tool.poetry]\nname = \"a\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\n",
        )
        .expect("valid");
        assert_eq!(
            project.content_hash(true),
            "81b2fa642d7f2d1219cf80112ace12d689d053d81be7f7addb98144d56fc0fb2"
        );
        assert!(project.package_mode());
    }

    #[test]
    fn content_hash_matches_poetry_for_extras_and_direct_references() {
        for (pyproject, lock) in [
            (
                include_str!("../../../tests/fixtures/poetry-extras/pyproject.toml"),
                include_str!("../../../tests/fixtures/poetry-extras/poetry.lock"),
            ),
            (
                include_str!("../../../tests/fixtures/poetry-sources/pyproject.toml"),
                include_str!("../../../tests/fixtures/poetry-sources/poetry.lock"),
            ),
        ] {
            let project = Project::parse(pyproject).expect("valid");
            let lock: toml::Table = lock.parse().expect("valid lock");
            assert_eq!(
                project.content_hash(true),
                lock["metadata"]["content-hash"].as_str().expect("hash")
            );
        }
    }
}
