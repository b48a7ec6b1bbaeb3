//! The OCI labels of the source an image is built from, `org.opencontainers.image.source` and
//! `org.opencontainers.image.revision`, when the platform provides them:
//!
//! 1. the build-time variables `BP_OCI_SOURCE` and `BP_OCI_REVISION` (set by a pipeline, or by
//!    `blacklodge-platform request` from a build request's repository and commit);
//! 2. else the platform's project metadata, `<layers>/project-metadata.toml` of a `git` source
//!    (kpack writes it: `[source.metadata] repository`, `[source.version] commit`).
//!
//! Without either, the image has no such labels (nothing is guessed).

use blacklodge_common::env;
use blacklodge_common::project_metadata::{self, GitSource};
use libcnb::Env;
use libcnb::data::launch::Label;
use std::path::Path;

pub(crate) const SOURCE_LABEL: &str = "org.opencontainers.image.source";
pub(crate) const REVISION_LABEL: &str = "org.opencontainers.image.revision";
const SOURCE_VARIABLE: &str = "BP_OCI_SOURCE";
const REVISION_VARIABLE: &str = "BP_OCI_REVISION";
fn printable(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty() && !value.chars().any(char::is_control)).then(|| value.to_string())
}

/// The labels to put on the image; `layers_root` is the platform's layers directory.
pub(crate) fn labels(env: &Env, layers_root: &Path) -> Vec<Label> {
    let GitSource { repository, commit } = project_metadata::git_source(layers_root);
    let repository = repository.as_deref().and_then(printable);
    let commit = commit.as_deref().and_then(printable);
    let source = env::string(env, SOURCE_VARIABLE)
        .as_deref()
        .and_then(printable)
        .or(repository);
    let revision = env::string(env, REVISION_VARIABLE)
        .as_deref()
        .and_then(printable)
        .or(commit);
    [(SOURCE_LABEL, source), (REVISION_LABEL, revision)]
        .into_iter()
        .filter_map(|(key, value)| {
            value.map(|value| Label {
                key: key.to_string(),
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(labels: &[Label]) -> Vec<(String, String)> {
        labels
            .iter()
            .map(|l| (l.key.clone(), l.value.clone()))
            .collect()
    }

    const KPACK_METADATA: &str = "[source]\ntype = \"git\"\n[source.metadata]\nrepository = \"https://github.com/pcdst/app\"\nrevision = \"main\"\n[source.version]\ncommit = \"0123456789abcdef0123456789abcdef01234567\"\n";

    #[test]
    fn none_without_platform_information() {
        let layers = tempfile::tempdir().expect("tempdir");
        assert!(labels(&Env::new(), layers.path()).is_empty());
    }

    #[test]
    fn from_the_project_metadata_of_a_git_source() {
        let layers = tempfile::tempdir().expect("tempdir");
        fs_err::write(layers.path().join(project_metadata::FILE), KPACK_METADATA).expect("write");
        assert_eq!(
            pairs(&labels(&Env::new(), layers.path())),
            vec![
                (
                    SOURCE_LABEL.to_string(),
                    "https://github.com/pcdst/app".to_string()
                ),
                (
                    REVISION_LABEL.to_string(),
                    "0123456789abcdef0123456789abcdef01234567".to_string()
                ),
            ]
        );
    }

    #[test]
    fn variables_win_over_the_project_metadata_and_blank_ones_are_ignored() {
        let layers = tempfile::tempdir().expect("tempdir");
        fs_err::write(layers.path().join(project_metadata::FILE), KPACK_METADATA).expect("write");
        let mut env = Env::new();
        env.insert(SOURCE_VARIABLE, "https://git.example.com/app.git");
        env.insert(REVISION_VARIABLE, "  ");
        assert_eq!(
            pairs(&labels(&env, layers.path())),
            vec![
                (
                    SOURCE_LABEL.to_string(),
                    "https://git.example.com/app.git".to_string()
                ),
                (
                    REVISION_LABEL.to_string(),
                    "0123456789abcdef0123456789abcdef01234567".to_string()
                ),
            ]
        );
    }

    #[test]
    fn other_source_types_and_broken_files_give_nothing() {
        let layers = tempfile::tempdir().expect("tempdir");
        fs_err::write(
            layers.path().join(project_metadata::FILE),
            KPACK_METADATA.replace("\"git\"", "\"blob\""),
        )
        .expect("write");
        assert!(labels(&Env::new(), layers.path()).is_empty());
        fs_err::write(layers.path().join(project_metadata::FILE), "[source").expect("write");
        assert!(labels(&Env::new(), layers.path()).is_empty());
    }
}
