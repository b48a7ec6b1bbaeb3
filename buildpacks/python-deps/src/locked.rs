//! A lock translated into an exact requirements file for the installer: one line per locked
//! distribution. Poetry and Pipenv locks both become this, so the same installer (uv)
//! installs either without Poetry or Pipenv.
//!
//! Index packages become `name==version ; markers --hash=…`. Direct references become
//! `name @ <url> ; markers`: archives by URL or local path with the lock's hashes, local
//! source directories, and git repositories at the locked commit.
//!
//! Hash checking: uv's `--require-hashes` refuses git and directory requirements (they have no
//! file to hash), so a set containing them is installed with `--verify-hashes`, which checks
//! every hash the file gives and does not demand one where there is none. The translators
//! guarantee that every index package carries its hashes, so the only unhashed lines are the
//! direct references the lock itself records no hash for: git (pinned to a commit id, which
//! is itself a hash of the content), local directories (part of the app's source), and, for
//! Pipenv, URL archives. They are listed in the build log.

use std::fmt::Write;
use std::path::{Component, Path, PathBuf};

/// Where a locked distribution comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `name==version` from the index (or indexes) of the requirements file.
    Index,
    /// An archive (wheel or sdist) at an `http(s)` URL.
    Url(String),
    /// A local archive, relative to the app (or absolute).
    File(PathBuf),
    /// A local source tree, relative to the app (or absolute), built at install time.
    Directory(PathBuf),
    /// A git repository at a locked commit.
    Git {
        /// The repository URL without `git+` (`https://…`, `ssh://…`, `file://…`).
        url: String,
        commit: String,
        subdirectory: Option<String>,
    },
}

/// One locked distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: String,
    /// The locked version; direct references may have none recorded.
    pub version: Option<String>,
    /// PEP 508 environment markers, evaluated by the installer.
    pub markers: Option<String>,
    /// `sha256:…` of every file the lock accepts for this version.
    pub hashes: Vec<String>,
    pub origin: Origin,
}

impl LockedPackage {
    /// An index package (the common case).
    #[must_use]
    pub fn index(name: &str, version: &str, markers: Option<String>, hashes: Vec<String>) -> Self {
        Self {
            name: name.to_string(),
            version: Some(version.to_string()),
            markers,
            hashes,
            origin: Origin::Index,
        }
    }

    /// What it is, for the log: `directory libs/pkg`, `git https://…@abc1234`.
    #[must_use]
    pub fn describe_origin(&self) -> String {
        match &self.origin {
            Origin::Index => format!("{}=={}", self.name, self.version.as_deref().unwrap_or("")),
            Origin::Url(url) => format!("URL {}", crate::tool::redact(url)),
            Origin::File(path) => format!("file {}", path.display()),
            Origin::Directory(path) => format!("directory {}", path.display()),
            Origin::Git { url, commit, .. } => format!(
                "git {}@{}",
                crate::tool::redact(url),
                commit.get(..12).unwrap_or(commit)
            ),
        }
    }
}

/// Index options of the generated file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Indexes {
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
}

/// Whether `reference` is a full commit id (SHA-1 or SHA-256 object name), as a lock must
/// record for a git dependency to be reproducible.
#[must_use]
pub fn is_commit(reference: &str) -> bool {
    matches!(reference.len(), 40 | 64) && reference.chars().all(|c| c.is_ascii_hexdigit())
}

/// A lock's git URL as uv wants it: `git+` removed (added back when writing) and the scp-like
/// `git@host:org/repo.git` turned into `ssh://git@host/org/repo.git`.
#[must_use]
pub fn git_url(url: &str) -> String {
    let url = url.strip_prefix("git+").unwrap_or(url);
    if !url.contains("://")
        && let Some((user_host, path)) = url.split_once(':')
    {
        return format!("ssh://{user_host}/{}", path.trim_start_matches('/'));
    }
    url.to_string()
}

/// Whether a local path names an archive (installed by hash) rather than a source directory.
#[must_use]
pub fn is_archive(path: &str) -> bool {
    [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar"]
        .iter()
        .any(|suffix| path.to_ascii_lowercase().ends_with(suffix))
}

/// `app_dir/relative`, without `.` components, as a `file://` URL.
fn file_url(app_dir: &Path, path: &Path) -> String {
    let absolute = app_dir.join(path);
    let mut clean = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    let text = clean.to_string_lossy();
    let mut url = String::from("file://");
    for c in text.chars() {
        match c {
            ' ' => url.push_str("%20"),
            '#' => url.push_str("%23"),
            '%' => url.push_str("%25"),
            _ => url.push(c),
        }
    }
    url
}

/// The local path of a package (`File` or `Directory`), if it has one.
#[must_use]
pub fn local_path(package: &LockedPackage) -> Option<&Path> {
    match &package.origin {
        Origin::File(path) | Origin::Directory(path) => Some(path),
        _ => None,
    }
}

/// The packages the lock records no hash for (git, directories, and URL archives without one).
#[must_use]
pub fn unhashed(packages: &[LockedPackage]) -> Vec<&LockedPackage> {
    packages
        .iter()
        .filter(|package| package.hashes.is_empty())
        .collect()
}

/// The requirements file text. Paths are made absolute against `app_dir` (the requirements
/// file itself lives in a temporary directory).
#[must_use]
pub fn requirements(packages: &[LockedPackage], indexes: &Indexes, app_dir: &Path) -> String {
    let mut out = String::new();
    if let Some(url) = &indexes.index_url {
        let _ = writeln!(out, "--index-url {url}");
    }
    for url in &indexes.extra_index_urls {
        let _ = writeln!(out, "--extra-index-url {url}");
    }
    for package in packages {
        let name = &package.name;
        let _ = match &package.origin {
            Origin::Index => write!(
                out,
                "{name}=={}",
                package.version.as_deref().unwrap_or_default()
            ),
            Origin::Url(url) => write!(out, "{name} @ {url}"),
            Origin::File(path) | Origin::Directory(path) => {
                write!(out, "{name} @ {}", file_url(app_dir, path))
            }
            Origin::Git {
                url,
                commit,
                subdirectory,
            } => {
                let _ = write!(out, "{name} @ git+{url}@{commit}");
                match subdirectory {
                    Some(subdirectory) => write!(out, "#subdirectory={subdirectory}"),
                    None => Ok(()),
                }
            }
        };
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
            &[LockedPackage::index(
                "colorama",
                "0.4.6",
                Some("platform_system == \"Windows\"".into()),
                vec!["sha256:aa".into(), "sha256:bb".into()],
            )],
            &Indexes {
                index_url: Some("https://mirror.example/simple".into()),
                extra_index_urls: vec![],
            },
            Path::new("/workspace"),
        );
        assert_eq!(
            text,
            "--index-url https://mirror.example/simple\ncolorama==0.4.6 ; platform_system == \"Windows\" \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        );
    }

    #[test]
    fn writes_direct_references() {
        let package = |name: &str, origin: Origin, hashes: Vec<String>| LockedPackage {
            name: name.into(),
            version: None,
            markers: None,
            hashes,
            origin,
        };
        let text = requirements(
            &[
                package(
                    "remote",
                    Origin::Url("https://files.example/remote-1.0-py3-none-any.whl".into()),
                    vec!["sha256:aa".into()],
                ),
                package(
                    "vendored",
                    Origin::File("./vendor/vendored-1.0-py3-none-any.whl".into()),
                    vec!["sha256:bb".into()],
                ),
                package("local", Origin::Directory("libs/my lib".into()), vec![]),
                package(
                    "tool",
                    Origin::Git {
                        url: git_url("git@github.com:org/tool.git"),
                        commit: "7f4d427c893d80b226165f14b8ac7f6667245e8c".into(),
                        subdirectory: Some("python".into()),
                    },
                    vec![],
                ),
            ],
            &Indexes::default(),
            Path::new("/workspace"),
        );
        assert_eq!(
            text,
            "remote @ https://files.example/remote-1.0-py3-none-any.whl \\\n    --hash=sha256:aa\n\
             vendored @ file:///workspace/vendor/vendored-1.0-py3-none-any.whl \\\n    --hash=sha256:bb\n\
             local @ file:///workspace/libs/my%20lib\n\
             tool @ git+ssh://git@github.com/org/tool.git@7f4d427c893d80b226165f14b8ac7f6667245e8c#subdirectory=python\n"
        );
    }

    #[test]
    fn commits_urls_and_archives() {
        assert!(is_commit("7f4d427c893d80b226165f14b8ac7f6667245e8c"));
        assert!(!is_commit("main"));
        assert!(!is_commit("9a06b51"));
        assert_eq!(
            git_url("git+https://example.com/a.git"),
            "https://example.com/a.git"
        );
        assert_eq!(
            git_url("http://127.0.0.1:8/a.git"),
            "http://127.0.0.1:8/a.git"
        );
        assert!(is_archive("vendor/x-1.0-py3-none-any.whl"));
        assert!(is_archive("x-1.0.tar.gz"));
        assert!(!is_archive("libs/x"));
    }
}
