//! The `env` layer: the conda environment (the prefix is its `prefix/` directory), for the
//! image and for the buildpacks after this one (the wrapper imports the app in it), cached.
//!
//! The prefix is a directory of the layer, not the layer itself: the lifecycle puts a layer's
//! own `lib/` on `LD_LIBRARY_PATH`, which would make every program of the image (the shell,
//! system tools) load the environment's libraries. conda's programs find their libraries
//! through their RPATH, as in any conda environment.
//!
//! Reuse, as data: nothing changed → reused as is (no solve, no network); the packages asked
//! for, the channels, their priority or the virtual packages changed → updated in place (the
//! installer adds, replaces and removes what differs, and a solve prefers what is installed);
//! the platform, the buildpack's install layout, or a `pip:` section of the previous build
//! changed → made from scratch (pip's packages are not conda's to update).

use blacklodge_common::cache;
use serde::{Deserialize, Serialize};

/// Bumped when the layout of the prefix or of its records changes.
pub(crate) const LAYOUT: &str = "1";

/// The prefix, inside the layer.
pub(crate) const PREFIX_DIR: &str = "prefix";

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvMetadata {
    /// sha256 over the input files (environment file, list or lock, `.condarc`).
    pub(crate) request_sha256: String,
    /// The file the conda packages came from.
    pub(crate) request_file: String,
    /// sha256 over the pip requirement lines (empty string: none).
    pub(crate) pip_sha256: String,
    pub(crate) channels: String,
    pub(crate) channel_priority: String,
    pub(crate) platform: String,
    pub(crate) virtual_packages: String,
    pub(crate) layout: String,
}

/// `(discard reasons, update reasons)` for a cached environment.
pub(crate) fn decide(cached: &EnvMetadata, wanted: &EnvMetadata) -> (Vec<String>, Vec<String>) {
    let EnvMetadata {
        request_sha256,
        request_file,
        pip_sha256,
        channels,
        channel_priority,
        platform,
        virtual_packages,
        layout,
    } = cached;
    let pip_changed = pip_sha256 != &wanted.pip_sha256;
    let discard = cache::reasons([
        cache::changed("platform", platform, &wanted.platform),
        cache::changed("install layout", layout, &wanted.layout),
        (pip_changed && !pip_sha256.is_empty()).then(|| {
            format!(
                "the pip packages of {} (or the app files they install) changed",
                wanted.request_file
            )
        }),
    ]);
    let update = cache::reasons([
        (request_sha256 != &wanted.request_sha256 || request_file != &wanted.request_file)
            .then(|| format!("{} changed", wanted.request_file)),
        (pip_changed && pip_sha256.is_empty())
            .then(|| format!("{} adds pip packages", wanted.request_file)),
        cache::changed("channels", channels, &wanted.channels),
        cache::changed(
            "channel priority",
            channel_priority,
            &wanted.channel_priority,
        ),
        cache::changed(
            "virtual packages",
            virtual_packages,
            &wanted.virtual_packages,
        ),
    ]);
    (discard, update)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> EnvMetadata {
        EnvMetadata {
            request_sha256: "a".into(),
            request_file: "environment.yml".into(),
            pip_sha256: String::new(),
            channels: "conda-forge (http://127.0.0.1:8766/conda-forge/)".into(),
            channel_priority: "strict".into(),
            platform: "linux-64".into(),
            virtual_packages: "__glibc=2.36=0".into(),
            layout: LAYOUT.into(),
        }
    }

    #[test]
    fn unchanged_is_reused_spec_changes_update_in_place() {
        assert_eq!(decide(&metadata(), &metadata()), (vec![], vec![]));
        let changed = EnvMetadata {
            request_sha256: "b".into(),
            virtual_packages: "__glibc=2.17=0".into(),
            ..metadata()
        };
        assert_eq!(
            decide(&metadata(), &changed),
            (
                vec![],
                vec![
                    "environment.yml changed".to_string(),
                    "virtual packages changed (__glibc=2.36=0 → __glibc=2.17=0)".to_string()
                ]
            )
        );
    }

    #[test]
    fn pip_packages_and_platform_start_from_scratch() {
        let with_pip = EnvMetadata {
            pip_sha256: "p".into(),
            ..metadata()
        };
        assert_eq!(
            decide(&metadata(), &with_pip),
            (
                vec![],
                vec!["environment.yml adds pip packages".to_string()]
            )
        );
        let other_pip = EnvMetadata {
            pip_sha256: "q".into(),
            ..metadata()
        };
        assert_eq!(
            decide(&with_pip, &other_pip).0,
            vec![
                "the pip packages of environment.yml (or the app files they install) changed"
                    .to_string()
            ]
        );
        let other_platform = EnvMetadata {
            platform: "linux-aarch64".into(),
            ..metadata()
        };
        assert_eq!(
            decide(&metadata(), &other_platform).0,
            vec!["platform changed (linux-64 → linux-aarch64)".to_string()]
        );
    }
}
