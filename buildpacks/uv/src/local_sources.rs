//! The local source trees `uv sync` builds, as uv.lock records them: the project itself when
//! it is a package (`source = { editable = "." }`) and path sources (`editable` or
//! `directory`). Their build output is removed after the install
//! ([`blacklodge_python_deps::local_sources::BuildOutput`]).

use std::path::PathBuf;

/// The `editable` and `directory` sources of uv.lock's packages (relative to the app). A lock
/// that cannot be read has none here: `uv sync --locked` reports it.
pub(crate) fn built_in_place(lock: &str) -> Vec<PathBuf> {
    let Ok(lock) = lock.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(packages) = lock.get("package").and_then(toml::Value::as_array) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = packages
        .iter()
        .filter_map(|package| package.get("source")?.as_table())
        .filter_map(|source| {
            source
                .get("editable")
                .or_else(|| source.get("directory"))?
                .as_str()
                .map(PathBuf::from)
        })
        .collect();
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
        assert_eq!(
            built_in_place(lock),
            [PathBuf::from("."), PathBuf::from("libs/localpkg")]
        );
        assert!(built_in_place("not toml [").is_empty());
        assert!(
            built_in_place(include_str!("../../../tests/fixtures/uv-flask/uv.lock")).is_empty(),
            "a virtual project builds nothing"
        );
    }
}
