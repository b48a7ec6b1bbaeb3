//! A lock translated into an exact, hash-checked requirements file for the installer: one
//! `name==version ; markers --hash=…` line per locked distribution. Poetry and Pipenv locks
//! both become this, so the same installer (uv) installs either without Poetry or Pipenv.

use std::fmt::Write;

/// One locked distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    /// PEP 508 environment markers, evaluated by the installer.
    pub markers: Option<String>,
    /// `sha256:…` of every file the lock accepts for this version.
    pub hashes: Vec<String>,
}

/// Index options of the generated file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Indexes {
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
}

/// The requirements file text (`--require-hashes` mode: every line carries hashes).
#[must_use]
pub fn requirements(packages: &[LockedPackage], indexes: &Indexes) -> String {
    let mut out = String::new();
    if let Some(url) = &indexes.index_url {
        let _ = writeln!(out, "--index-url {url}");
    }
    for url in &indexes.extra_index_urls {
        let _ = writeln!(out, "--extra-index-url {url}");
    }
    for package in packages {
        let _ = write!(out, "{}=={}", package.name, package.version);
        if let Some(markers) = package.markers.as_deref().filter(|m| !m.trim().is_empty()) {
            let _ = write!(out, " ; {markers}");
        }
        for hash in &package.hashes {
            let _ = write!(out, " \\\n    --hash={hash}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pins_markers_and_hashes() {
        let text = requirements(
            &[LockedPackage {
                name: "colorama".into(),
                version: "0.4.6".into(),
                markers: Some("platform_system == \"Windows\"".into()),
                hashes: vec!["sha256:aa".into(), "sha256:bb".into()],
            }],
            &Indexes {
                index_url: Some("https://mirror.example/simple".into()),
                extra_index_urls: vec![],
            },
        );
        assert_eq!(
            text,
            "--index-url https://mirror.example/simple\ncolorama==0.4.6 ; platform_system == \"Windows\" \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        );
    }
}
