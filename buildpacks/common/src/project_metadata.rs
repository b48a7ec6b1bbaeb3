//! The platform's project metadata, `<layers>/project-metadata.toml`: what it says of a `git`
//! source (the CNB source metadata convention, which kpack writes:
//! `[source.metadata] repository`, `[source.version] commit`;
//! https://buildpacks.io/docs/for-platform-operators/how-to/build-inputs/declare-source-metadata).

use serde::Deserialize;
use std::path::Path;

/// The file's name in the platform's layers directory.
pub const FILE: &str = "project-metadata.toml";

/// The repository and commit of a `git` source, each trimmed, when the file gives it as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitSource {
    pub repository: Option<String>,
    pub commit: Option<String>,
}

#[derive(Deserialize)]
struct ProjectMetadata {
    source: Option<ProjectSource>,
}

#[derive(Deserialize)]
struct ProjectSource {
    #[serde(rename = "type")]
    kind: Option<String>,
    metadata: Option<toml::Table>,
    version: Option<toml::Table>,
}

/// The `git` source of the project metadata in `layers_root`; nothing when there is no file,
/// it is not TOML, or its source is of another type (nothing is guessed).
#[must_use]
pub fn git_source(layers_root: &Path) -> GitSource {
    let source = fs_err::read_to_string(layers_root.join(FILE))
        .ok()
        .and_then(|text| toml::from_str::<ProjectMetadata>(&text).ok())
        .and_then(|metadata| metadata.source)
        .filter(|source| source.kind.as_deref() == Some("git"));
    let Some(source) = source else {
        return GitSource::default();
    };
    let field = |table: Option<&toml::Table>, key: &str| {
        table
            .and_then(|table| table.get(key))
            .and_then(toml::Value::as_str)
            .map(|value| value.trim().to_string())
    };
    GitSource {
        repository: field(source.metadata.as_ref(), "repository"),
        commit: field(source.version.as_ref(), "commit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_git_source_counts() {
        let layers = tempfile::tempdir().expect("tempdir");
        assert_eq!(git_source(layers.path()), GitSource::default());
        for (text, expected) in [
            (
                "[source]\ntype = \"git\"\n[source.metadata]\nrepository = \"https://github.com/pcdst/app\"\n[source.version]\ncommit = \" 0123abc \"\n",
                GitSource {
                    repository: Some("https://github.com/pcdst/app".into()),
                    commit: Some("0123abc".into()),
                },
            ),
            (
                "[source]\ntype = \"git\"\n[source.version]\ncommit = 7\n",
                GitSource::default(),
            ),
            (
                "[source]\ntype = \"project\"\n[source.version]\ndeclared = \"1.0.0\"\n",
                GitSource::default(),
            ),
            ("", GitSource::default()),
            ("not toml [", GitSource::default()),
        ] {
            fs_err::write(layers.path().join(FILE), text).expect("write");
            assert_eq!(git_source(layers.path()), expected, "{text}");
        }
    }
}
