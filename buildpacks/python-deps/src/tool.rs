//! Pinned installer tools (pip, uv) fetched as wheels: hash-pinned in a requirements file read
//! at compile time, found on the configured index by their sha256 (or in the app's `vendor/`
//! directory for offline builds), and verified before use.

use blacklodge_common::download::{self, DownloadError};
use blacklodge_common::pypi::{self, IndexError};
use std::path::{Path, PathBuf};

/// The directory of the app searched for tool wheels before the index (offline builds).
pub const VENDOR_DIR: &str = "vendor";

const UV_REQUIREMENT: &str = include_str!("../requirements/uv.txt");
const PIP_REQUIREMENT: &str = include_str!("../requirements/pip.txt");

/// A tool release pinned by version and the sha256 of its wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedWheel {
    pub project: String,
    pub version: String,
    pub sha256: String,
}

impl PinnedWheel {
    /// `pip 26.3`
    #[must_use]
    pub fn label(&self) -> String {
        format!("{} {}", self.project, self.version)
    }
}

/// Parses `name==version --hash=sha256:hex`, skipping comments and blank lines.
#[must_use]
pub fn parse_pin(text: &str) -> Option<PinnedWheel> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))?;
    let (requirement, hash) = line.split_once("--hash=sha256:")?;
    let (project, version) = requirement.trim().split_once("==")?;
    Some(PinnedWheel {
        project: project.trim().to_string(),
        version: version.trim().to_string(),
        sha256: hash.trim().to_ascii_lowercase(),
    })
}

/// The pinned uv release (`requirements/uv.txt`).
///
/// # Panics
/// Never in a release: the shipped file is checked by a unit test.
#[must_use]
pub fn uv() -> PinnedWheel {
    // Checked by a unit test, so a malformed file never reaches a release.
    parse_pin(UV_REQUIREMENT).unwrap_or_else(|| panic!("requirements/uv.txt is malformed"))
}

/// The pinned pip release (`requirements/pip.txt`): used by the pip buildpack for the app's
/// requirements and by the wrapper for the harness's dependencies.
///
/// # Panics
/// Never in a release: the shipped file is checked by a unit test.
#[must_use]
pub fn pip() -> PinnedWheel {
    parse_pin(PIP_REQUIREMENT).unwrap_or_else(|| panic!("requirements/pip.txt is malformed"))
}

#[derive(Debug)]
pub enum FetchError {
    Find { index: String, error: IndexError },
    Download(DownloadError),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Find { index, error } => {
                write!(
                    f,
                    "looking it up on {index} failed: {}",
                    redact(&error.to_string())
                )
            }
            Self::Download(error) => f.write_str(&redact(&error.to_string())),
        }
    }
}

/// Removes `user:password@` from every URL in `text`, so credentials in an index URL never
/// reach the build log.
#[must_use]
pub fn redact(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (head, tail) = rest.split_at(start + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', ' ', '\n', '\'', '"']).unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str("***@");
                rest = &tail[at + 1..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// A verified wheel of `pin` in `vendor_dir`, if one is there.
fn vendored(pin: &PinnedWheel, vendor_dir: &Path) -> Option<PathBuf> {
    let prefix = format!("{}-{}-", pin.project, pin.version);
    fs_err::read_dir(vendor_dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| {
                    name.starts_with(&prefix)
                        && Path::new(name).extension().is_some_and(|ext| ext == "whl")
                })
        })
        .find(|path| download::sha256_file(path).is_ok_and(|sha| sha == pin.sha256))
}

/// Whether the app's `vendor/` holds the pinned wheel of `pin` (with its hash).
#[must_use]
pub fn is_vendored(pin: &PinnedWheel, app_dir: &Path) -> bool {
    vendored(pin, &app_dir.join(VENDOR_DIR)).is_some()
}

/// Where the wheel came from, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Vendor(PathBuf),
    Index,
}

/// The wheel of `pin`: from `<app>/vendor/` when a file there has the pinned hash, otherwise
/// downloaded from `index` into `scratch`.
///
/// # Errors
/// [`FetchError`] when the index does not list the pinned file or the download fails.
pub fn fetch(
    pin: &PinnedWheel,
    index: &str,
    app_dir: &Path,
    scratch: &Path,
) -> Result<(PathBuf, Origin), FetchError> {
    if let Some(path) = vendored(pin, &app_dir.join(VENDOR_DIR)) {
        return Ok((path.clone(), Origin::Vendor(path)));
    }
    let found = pypi::find_file_by_sha256(index, &pin.project, &pin.sha256).map_err(|error| {
        FetchError::Find {
            index: redact(index),
            error,
        }
    })?;
    let destination = scratch.join(&found.filename);
    download::download_verified(&found.url, &destination, &pin.sha256)
        .map_err(FetchError::Download)?;
    Ok((destination, Origin::Index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_pins_are_well_formed() {
        for (pin, project) in [(uv(), "uv"), (pip(), "pip")] {
            assert_eq!(pin.project, project);
            assert!(
                pin.version
                    .split('.')
                    .all(|part| part.parse::<u32>().is_ok()),
                "{pin:?}"
            );
            assert_eq!(pin.sha256.len(), 64, "{pin:?}");
        }
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact("http://user:s3cret@127.0.0.1:9/simple/uv/ answered HTTP 401"),
            "http://***@127.0.0.1:9/simple/uv/ answered HTTP 401"
        );
        assert_eq!(redact("https://pypi.org/simple"), "https://pypi.org/simple");
    }

    #[test]
    fn vendored_wheels_must_match_the_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vendor = dir.path().join(VENDOR_DIR);
        fs_err::create_dir(&vendor).expect("mkdir");
        fs_err::write(vendor.join("uv-1.0-py3-none-any.whl"), b"wheel").expect("write");
        let mut pin = PinnedWheel {
            project: "uv".into(),
            version: "1.0".into(),
            sha256: download::sha256_bytes(b"wheel"),
        };
        assert!(vendored(&pin, &vendor).is_some());
        pin.sha256 = download::sha256_bytes(b"other");
        assert!(vendored(&pin, &vendor).is_none());
    }
}
