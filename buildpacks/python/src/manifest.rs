//! The distribution manifest: which CPython archives exist, where, and their sha256.
//!
//! The buildpack ships `data/manifest.json` (python-build-standalone `install_only` archives,
//! refreshed by `scripts/refresh-manifest`). `BP_PYTHON_MANIFEST_URL` replaces it with a
//! manifest of the same format (URL or path); `BP_PYTHON_MIRROR_URL` rewrites the upstream
//! release URLs to a mirror that keeps the same `<build>/<file>` layout.

use crate::version::{PythonVersion, VersionRequest};
use serde::Deserialize;

pub(crate) const SHIPPED_MANIFEST: &str = include_str!("../data/manifest.json");
pub(crate) const UPSTREAM_PREFIX: &str =
    "https://github.com/astral-sh/python-build-standalone/releases/download";

#[derive(Debug, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) archives: Vec<ManifestArchive>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct ManifestArchive {
    pub(crate) version: String,
    pub(crate) arch: String,
    pub(crate) libc: String,
    pub(crate) build: String,
    pub(crate) url: String,
    pub(crate) sha256: String,
}

/// A usable archive: the manifest entry with its parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Archive {
    pub(crate) version: PythonVersion,
    pub(crate) arch: String,
    pub(crate) url: String,
    pub(crate) sha256: String,
}

impl Manifest {
    pub(crate) fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Archives for this architecture (manifest arch names, e.g. `x86_64`) on glibc.
    pub(crate) fn archives_for(&self, arch: &str) -> Vec<Archive> {
        let mut archives: Vec<Archive> = self
            .archives
            .iter()
            .filter(|a| a.arch == arch && a.libc == "gnu")
            .filter_map(|a| {
                Some(Archive {
                    version: a.version.parse().ok()?,
                    arch: a.arch.clone(),
                    url: a.url.clone(),
                    sha256: a.sha256.to_ascii_lowercase(),
                })
            })
            .collect();
        archives.sort_by_key(|archive| std::cmp::Reverse(archive.version));
        archives
    }
}

/// The newest archive satisfying the request (`archives` sorted newest first).
pub(crate) fn select(archives: &[Archive], request: Option<VersionRequest>) -> Option<&Archive> {
    archives
        .iter()
        .find(|archive| request.is_none_or(|request| request.matches(archive.version)))
}

/// Rewrites upstream URLs to the mirror (other URLs are kept: overrides may point anywhere).
pub(crate) fn mirrored(url: &str, mirror: Option<&str>) -> String {
    match (mirror, url.strip_prefix(UPSTREAM_PREFIX)) {
        (Some(mirror), Some(rest)) => format!("{}{rest}", mirror.trim_end_matches('/')),
        _ => url.to_string(),
    }
}

/// CNB target arch (Go names) to the manifest's names.
pub(crate) fn manifest_arch(cnb_arch: &str) -> &str {
    match cnb_arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_manifest_parses_and_has_every_supported_minor() {
        let manifest = Manifest::parse(SHIPPED_MANIFEST).expect("shipped manifest is valid");
        let archives = manifest.archives_for("x86_64");
        for minor in 10..=14 {
            let request = VersionRequest::Minor { major: 3, minor };
            assert!(
                select(&archives, Some(request)).is_some(),
                "3.{minor} missing"
            );
        }
    }

    #[test]
    fn selects_newest_matching_patch() {
        let manifest = Manifest::parse(SHIPPED_MANIFEST).expect("valid");
        let archives = manifest.archives_for("x86_64");
        let newest_311 =
            select(&archives, Some("3.11".parse().expect("valid"))).expect("3.11 exists");
        assert!(
            archives
                .iter()
                .filter(|a| a.version.minor == 11)
                .all(|a| a.version <= newest_311.version)
        );
        assert_eq!(
            select(&archives, None).expect("any").version,
            archives[0].version
        );
    }

    #[test]
    fn mirror_rewrites_only_upstream_urls() {
        let upstream = format!("{UPSTREAM_PREFIX}/20260814/cpython-3.14.7.tar.gz");
        assert_eq!(
            mirrored(&upstream, Some("http://mirror.internal/pbs/")),
            "http://mirror.internal/pbs/20260814/cpython-3.14.7.tar.gz"
        );
        assert_eq!(
            mirrored("http://other/x.tar.gz", Some("http://m")),
            "http://other/x.tar.gz"
        );
        assert_eq!(mirrored(&upstream, None), upstream);
    }
}
