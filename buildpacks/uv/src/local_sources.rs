//! The local source trees `uv sync` builds, as uv.lock records them: the project itself when
//! it is a package (`source = { editable = "." }`) and path sources (`editable` or
//! `directory`). Their build output is removed after the install
//! ([`blacklodge_python_deps::local_sources::BuildOutput`]).

use std::path::PathBuf;

/// A local source tree of uv.lock: a package built from a directory of the app.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LocalSource {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    /// Installed in place (`editable`), or built and copied into the venv (`directory`).
    pub(crate) editable: bool,
}

/// The `editable` and `directory` sources of uv.lock's packages (paths relative to the app),
/// in file order. A lock that cannot be read has none here: `uv sync --locked` reports it.
pub(crate) fn sources(lock: &str) -> Vec<LocalSource> {
    let Ok(lock) = lock.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(packages) = lock.get("package").and_then(toml::Value::as_array) else {
        return Vec::new();
    };
    packages
        .iter()
        .filter_map(|package| {
            let name = package.get("name")?.as_str()?;
            let source = package.get("source")?.as_table()?;
            let (path, editable) = match (source.get("editable"), source.get("directory")) {
                (Some(path), _) => (path, true),
                (None, Some(path)) => (path, false),
                (None, None) => return None,
            };
            Some(LocalSource {
                name: name.to_string(),
                path: PathBuf::from(path.as_str()?),
                editable,
            })
        })
        .collect()
}

/// The directories `uv sync` builds in place (editable and directory sources), sorted.
pub(crate) fn built_in_place(sources: &[LocalSource]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = sources.iter().map(|source| source.path.clone()).collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editable_and_directory_sources_are_built_in_place() {
        let lock = r#"
version = 1

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }

[[package]]
name = "flask"
version = "3.1.2"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "localpkg"
version = "1.2.0"
source = { directory = "libs/localpkg" }

[[package]]
name = "tool"
version = "0.1.0"
source = { virtual = "tools" }
"#;
        let found = sources(lock);
        assert_eq!(
            found,
            [
                LocalSource {
                    name: "app".into(),
                    path: PathBuf::from("."),
                    editable: true
                },
                LocalSource {
                    name: "localpkg".into(),
                    path: PathBuf::from("libs/localpkg"),
                    editable: false
                },
            ]
        );
        assert_eq!(
            built_in_place(&found),
            [PathBuf::from("."), PathBuf::from("libs/localpkg")]
        );
        assert!(sources("not toml [").is_empty());
        assert!(
            sources(include_str!("../../../tests/fixtures/uv-flask/uv.lock")).is_empty(),
            "a virtual project builds nothing"
        );
        assert_eq!(
            sources(include_str!("../../../tests/fixtures/uv-local/uv.lock")),
            [LocalSource {
                name: "localpkg".into(),
                path: PathBuf::from("libs/localpkg"),
                editable: false
            }]
        );
    }
}
