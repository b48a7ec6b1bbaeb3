//! The distribution manifest: which CPython archives exist, where, and their sha256.
//!
//! The buildpack ships `data/manifest.json` (python-build-standalone `install_only` archives,
//! refreshed by `scripts/refresh-manifest`). `BP_PYTHON_MANIFEST_URL` replaces it with a
//! manifest of the same format (URL or path); `BP_PYTHON_MIRROR_URL` rewrites the upstream
//! release URLs to a mirror that keeps the same `<build>/<file>` layout.
//!
//! An entry may name the distributions it was built for (`"distros": [{"name": "debian",
//! "version": "12"}]`): it is then used only on a stack of one of them (the build's
//! `CNB_TARGET_DISTRO_NAME`/`VERSION`, from the run image's labels). Entries without
//! `distros` are portable (python-build-standalone's run on any glibc distribution).

use crate::version::{MinorVersion, PythonVersion};
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
    /// The distributions the archive was built for; empty: portable.
    #[serde(default)]
    pub(crate) distros: Vec<Distro>,
}

/// A distribution release, as the CNB target names it (`debian` and `12`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Distro {
    pub(crate) name: String,
    pub(crate) version: String,
}

impl std::fmt::Display for Distro {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.name, self.version)
    }
}

impl ManifestArchive {
    /// Whether the archive runs on `distro`: built for it, or portable.
    fn runs_on(&self, distro: &Distro) -> bool {
        self.distros.is_empty() || self.distros.contains(distro)
    }
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

    /// The architectures the manifest has glibc archives for.
    pub(crate) fn arches(&self) -> Vec<String> {
        let mut arches: Vec<String> = self
            .archives
            .iter()
            .filter(|a| a.libc == "gnu")
            .map(|a| a.arch.clone())
            .collect();
        arches.sort();
        arches.dedup();
        arches
    }

    /// The distributions the manifest has archives for on `arch`, in order; `None` when one of
    /// them is portable (runs on any distribution).
    pub(crate) fn distros(&self, arch: &str) -> Option<Vec<Distro>> {
        let mut distros = Vec::new();
        for archive in self
            .archives
            .iter()
            .filter(|a| a.arch == arch && a.libc == "gnu")
        {
            if archive.distros.is_empty() {
                return None;
            }
            distros.extend(archive.distros.iter().cloned());
        }
        distros.sort();
        distros.dedup();
        Some(distros)
    }

    /// The distributions that have an archive for `arch` of a version `wanted` accepts.
    pub(crate) fn distros_with(
        &self,
        arch: &str,
        wanted: impl Fn(PythonVersion) -> bool,
    ) -> Vec<Distro> {
        let mut distros: Vec<Distro> = self
            .archives
            .iter()
            .filter(|a| a.arch == arch && a.libc == "gnu")
            .filter(|a| a.version.parse().is_ok_and(&wanted))
            .flat_map(|a| a.distros.iter().cloned())
            .collect();
        distros.sort();
        distros.dedup();
        distros
    }

    /// Final releases (no pre-releases) for this architecture (manifest arch names, e.g.
    /// `x86_64`) on glibc that run on `distro` (any, when `None`), of supported minors
    /// (`oldest` and newer), newest first.
    pub(crate) fn archives_for(
        &self,
        arch: &str,
        distro: Option<&Distro>,
        oldest: MinorVersion,
    ) -> Vec<Archive> {
        let mut archives: Vec<Archive> = self
            .archives
            .iter()
            .filter(|a| a.arch == arch && a.libc == "gnu")
            .filter(|a| distro.is_none_or(|distro| a.runs_on(distro)))
            .filter_map(|a| {
                Some(Archive {
                    version: a.version.parse().ok()?,
                    arch: a.arch.clone(),
                    url: a.url.clone(),
                    sha256: a.sha256.to_ascii_lowercase(),
                })
            })
            .filter(|archive| archive.version.minor_version() >= oldest)
            .collect();
        archives.sort_by_key(|archive| std::cmp::Reverse(archive.version));
        archives
    }
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

    fn oldest() -> MinorVersion {
        "3.10".parse().expect("valid")
    }

    #[test]
    fn shipped_manifest_has_every_supported_minor_for_both_arches() {
        let manifest = Manifest::parse(SHIPPED_MANIFEST).expect("shipped manifest is valid");
        assert_eq!(manifest.arches(), vec!["aarch64", "x86_64"]);
        for arch in ["x86_64", "aarch64"] {
            // Portable: every stack gets them all.
            assert_eq!(manifest.distros(arch), None);
            let archives = manifest.archives_for(arch, Some(&debian("13")), oldest());
            for minor in 10..=14 {
                assert!(
                    archives.iter().any(|a| a.version.minor == minor),
                    "3.{minor} missing for {arch}"
                );
            }
            assert!(
                archives
                    .iter()
                    .all(|a| a.arch == arch && a.sha256.len() == 64)
            );
            assert!(archives.windows(2).all(|w| w[0].version >= w[1].version));
        }
    }

    #[test]
    fn unsupported_and_unparseable_entries_are_left_out() {
        let manifest = Manifest::parse(
            r#"{"archives": [
                {"version": "3.9.20", "arch": "x86_64", "libc": "gnu", "build": "b", "url": "u", "sha256": "A"},
                {"version": "3.11.2", "arch": "x86_64", "libc": "gnu", "build": "b", "url": "u", "sha256": "AB"},
                {"version": "3.14.0rc1", "arch": "x86_64", "libc": "gnu", "build": "b", "url": "u", "sha256": "A"},
                {"version": "3.12.1", "arch": "x86_64", "libc": "musl", "build": "b", "url": "u", "sha256": "A"},
                {"version": "3.12.1", "arch": "aarch64", "libc": "gnu", "build": "b", "url": "u", "sha256": "A"}
            ]}"#,
        )
        .expect("valid");
        let archives = manifest.archives_for("x86_64", None, oldest());
        assert_eq!(archives.len(), 1);
        assert_eq!(archives[0].version.to_string(), "3.11.2");
        assert_eq!(archives[0].sha256, "ab");
        assert!(manifest.archives_for("riscv64", None, oldest()).is_empty());
    }

    fn debian(version: &str) -> Distro {
        Distro {
            name: "debian".into(),
            version: version.into(),
        }
    }

    #[test]
    fn archives_built_for_a_distribution_serve_only_its_stacks() {
        let manifest = Manifest::parse(
            r#"{"archives": [
                {"version": "3.13.5", "arch": "x86_64", "libc": "gnu", "build": "b", "url": "both", "sha256": "A",
                 "distros": [{"name": "debian", "version": "12"}, {"name": "debian", "version": "13"}]},
                {"version": "3.11.2", "arch": "x86_64", "libc": "gnu", "build": "b", "url": "12", "sha256": "A",
                 "distros": [{"name": "debian", "version": "12"}]}
            ]}"#,
        )
        .expect("valid");
        let urls = |distro: &Distro| -> Vec<String> {
            manifest
                .archives_for("x86_64", Some(distro), oldest())
                .into_iter()
                .map(|archive| archive.url)
                .collect()
        };
        assert_eq!(urls(&debian("12")), ["both", "12"]);
        assert_eq!(urls(&debian("13")), ["both"]);
        assert!(urls(&debian("11")).is_empty());
        assert_eq!(
            manifest.archives_for("x86_64", None, oldest()).len(),
            2,
            "without a distribution every archive counts"
        );
        assert_eq!(
            manifest.distros("x86_64"),
            Some(vec![debian("12"), debian("13")])
        );
        assert_eq!(debian("13").to_string(), "debian 13");
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
