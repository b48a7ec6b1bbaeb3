//! Every way the OS packages buildpack can fail, and the one place that explains each.

use crate::aptfile::{APTFILE, MalformedLine};
use crate::index::ResolveError;
use crate::release::{
    DEFAULT_KEYRING, KEYRING_VARIABLE, MIRROR_VARIABLE, RELEASES, Release, SECURITY_MIRROR_VARIABLE,
};
use crate::{RUN_IMAGE_STATUS, RUN_IMAGE_STATUS_VARIABLE};
use blacklodge_common::command::CommandError;
use blacklodge_common::download::DownloadError;
use blacklodge_common::error::{IoFailure, UserError, UserFacing, quote};
use std::path::PathBuf;

const DOCS: &str = "docs/os-packages.md";

/// Requests that cannot be installed, with where they were looked for.
#[derive(Debug)]
pub(crate) struct ResolveFailure {
    pub(crate) error: ResolveError,
    pub(crate) release: Release,
    /// The suites read.
    pub(crate) suites: Vec<String>,
}

#[derive(Debug)]
pub(crate) enum AptError {
    Io(IoFailure),
    Malformed(Vec<MalformedLine>),
    /// The stack's distro is not a Debian release this buildpack knows.
    Distro {
        name: String,
        version: String,
    },
    /// The stack does not say which packages its run image has.
    NoRunImageStatus {
        path: PathBuf,
    },
    Fetch(DownloadError),
    Corrupt {
        url: String,
        error: String,
    },
    Signature {
        url: String,
        keyring: PathBuf,
        /// `gpgv` or `sqv`, and what it printed.
        tool: &'static str,
        said: String,
    },
    /// A validly signed InRelease of another suite (a mirror serving the wrong files).
    WrongSuite {
        url: String,
        expected: String,
        found: String,
    },
    NotInRelease {
        url: String,
        path: String,
    },
    Resolve(Box<ResolveFailure>),
    Download {
        package: String,
        error: DownloadError,
    },
    Extract {
        package: String,
        error: CommandError,
    },
}

impl From<IoFailure> for AptError {
    fn from(failure: IoFailure) -> Self {
        Self::Io(failure)
    }
}

impl From<AptError> for libcnb::Error<AptError> {
    fn from(error: AptError) -> Self {
        Self::BuildpackError(error)
    }
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

impl UserFacing for AptError {
    #[allow(clippy::too_many_lines)]
    fn user_error(&self) -> UserError {
        match self {
            Self::Io(failure) => failure.user_error(
                "Check that the app's files are readable and the build has disk space, then build again.",
            ),
            Self::Malformed(lines) => UserError::new(
                format!("Invalid {APTFILE}"),
                lines
                    .iter()
                    .map(|line| {
                        format!("- Line {}: {}. {}", line.line, quote(line.text.trim()), line.reason)
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                format!(
                    "Write one Debian package per line, `name` or `name=version` (e.g. `libpq-dev` or `libpq5=15.10-0+deb12u1`); `#` starts a comment. See {DOCS}."
                ),
            ),
            Self::Distro { name, version } => UserError::new(
                "OS packages are not available for this stack",
                format!(
                    "The stack's distro is {} {} (CNB_TARGET_DISTRO_NAME, CNB_TARGET_DISTRO_VERSION); the {APTFILE} can only be installed on {}.",
                    quote(name),
                    quote(version),
                    RELEASES
                        .iter()
                        .map(|(version, codename)| format!("Debian {version} ({codename})"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
                format!("Build with a Blacklodge builder on a Debian stack, or remove the {APTFILE}."),
            ),
            Self::NoRunImageStatus { path } => UserError::new(
                "The stack does not list its run image's packages",
                format!(
                    "{} is missing from the build image: without it the buildpack cannot tell which dependencies the run image already has.",
                    path.display()
                ),
                format!(
                    "Use a Blacklodge builder (its build image carries the file), or give the path of a copy of the run image's /var/lib/dpkg/status in {RUN_IMAGE_STATUS_VARIABLE} (default {RUN_IMAGE_STATUS})."
                ),
            ),
            Self::Fetch(error) => UserError::new(
                "Could not read the Debian archive",
                error.to_string(),
                format!(
                    "Check that the archive is reachable from the build, or set {MIRROR_VARIABLE} (and {SECURITY_MIRROR_VARIABLE}) to a mirror that is. A mirror must serve the same signed files as the Debian archive."
                ),
            ),
            Self::Corrupt { url, error } => UserError::new(
                "The Debian archive sent a corrupt index",
                format!("{url} matches the checksum its signed InRelease lists but cannot be read: {error}"),
                "Build again; if it persists, the mirror is broken: report it to its operator.",
            ),
            Self::Signature {
                url,
                keyring,
                tool,
                said,
            } => UserError::new(
                "The Debian archive's signature does not verify",
                format!(
                    "{url} is not signed by a key of {}; it may have been tampered with, or the mirror is not a copy of the Debian archive. Nothing was installed.\n\n{tool} said:\n{said}",
                    keyring.display()
                ),
                format!(
                    "Use a mirror of the Debian archive ({MIRROR_VARIABLE}). A mirror signed with its own key needs that key's keyring in {KEYRING_VARIABLE} (default {DEFAULT_KEYRING})."
                ),
            ),
            Self::WrongSuite { url, expected, found } => UserError::new(
                "The Debian archive sent the wrong release",
                format!("{url} is signed, but for the suite {} instead of {expected}.", quote(found)),
                format!("Check {MIRROR_VARIABLE}: the mirror serves another release under this name."),
            ),
            Self::NotInRelease { url, path } => UserError::new(
                "The Debian archive has no package index for this build",
                format!("{url} does not list {path}."),
                format!("Use a mirror that carries the main component for amd64 ({MIRROR_VARIABLE})."),
            ),
            Self::Resolve(failure) => resolve_error(&failure.error, &failure.release, &failure.suites),
            Self::Download { package, error } => UserError::new(
                format!("Could not download the OS package {package}"),
                error.to_string(),
                format!(
                    "Build again; if the archive is not reachable, set {MIRROR_VARIABLE} to a mirror that is."
                ),
            ),
            Self::Extract { package, error } => UserError::new(
                format!("Could not unpack the OS package {package}"),
                format!("`{}` {}:\n{}", error.command(), error.reason(), error.output().trim()),
                "Build again; if it persists, please report it with the full build log.",
            ),
        }
    }
}

fn resolve_error(error: &ResolveError, release: &Release, suites: &[String]) -> UserError {
    let searched = format!("searched: {}", list(suites));
    let search_fix = format!(
        "Find the package's name in {release} at https://packages.debian.org/{} and write it in the {APTFILE}.",
        release.codename
    );
    match error {
        ResolveError::Unknown {
            request,
            suggestions,
        } => {
            let close = if suggestions.is_empty() {
                String::new()
            } else {
                format!("\nClose names in {release}: {}.", list(suggestions))
            };
            UserError::new(
                format!("Unknown OS package in the {APTFILE}"),
                format!(
                    "{APTFILE} line {}: {} is not a package of {release} ({searched}).{close}",
                    request.line,
                    quote(&request.name)
                ),
                search_fix,
            )
        }
        ResolveError::Version { request, available } => UserError::new(
            format!("OS package version not available in {release}"),
            format!(
                "{APTFILE} line {}: {} {} is not in {release} ({searched}).\nAvailable: {}.",
                request.line,
                request.name,
                quote(request.version.as_deref().unwrap_or_default()),
                list(available)
            ),
            format!(
                "Pin an available version (`{}={}`), or write `{}` alone for the newest.",
                request.name,
                available.last().map_or("", String::as_str),
                request.name
            ),
        ),
        ResolveError::Unsatisfiable {
            package,
            relation,
            chain,
        } => UserError::new(
            format!("OS package dependencies cannot be satisfied in {release}"),
            format!(
                "{package} needs {relation}, which neither {release} ({searched}) nor the run image has. Required through: {}.",
                chain.join(" → ")
            ),
            format!(
                "Pin versions that belong together in the {APTFILE}, or remove {}. See {DOCS}.",
                chain.first().map_or("", String::as_str)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aptfile::Request;
    use blacklodge_common::error::{io_failure, render_all};

    fn failure(error: ResolveError) -> AptError {
        AptError::Resolve(Box::new(ResolveFailure {
            error,
            release: Release::from_target("debian", "12").expect("12"),
            suites: vec!["bookworm".into(), "bookworm-updates".into()],
        }))
    }

    fn request(name: &str, version: Option<&str>, line: usize) -> Request {
        Request {
            name: name.into(),
            version: version.map(Into::into),
            line,
        }
    }

    /// Every variant's whole message, as the build log shows it.
    #[test]
    #[allow(clippy::too_many_lines)]
    fn every_message_whole() {
        let cases = [
            (
                "io",
                AptError::Io(io_failure("read", std::path::Path::new("/workspace/Aptfile"))(
                    std::io::Error::from_raw_os_error(13),
                )),
            ),
            (
                "malformed",
                AptError::Malformed(
                    crate::aptfile::parse("libpq dev\nok-package\nhttp://x/y.deb\n")
                        .expect_err("malformed"),
                ),
            ),
            (
                "distro",
                AptError::Distro {
                    name: "ubuntu".into(),
                    version: "24.04".into(),
                },
            ),
            (
                "no_run_image_status",
                AptError::NoRunImageStatus {
                    path: RUN_IMAGE_STATUS.into(),
                },
            ),
            (
                "fetch",
                AptError::Fetch(DownloadError::Status {
                    url: "http://deb.debian.org/debian/dists/bookworm/InRelease".into(),
                    status: 503,
                }),
            ),
            (
                "corrupt",
                AptError::Corrupt {
                    url: "http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz".into(),
                    error: "unexpected end of file".into(),
                },
            ),
            (
                "signature",
                AptError::Signature {
                    url: "file:///mirror/dists/bookworm/InRelease".into(),
                    keyring: DEFAULT_KEYRING.into(),
                    tool: "gpgv",
                    said: "gpgv: Signature made Sat Nov  8 10:00:00 2025 UTC\ngpgv:                using RSA key 0E98404D386FA1D9\ngpgv: Can't check signature: No public key".into(),
                },
            ),
            (
                "wrong_suite",
                AptError::WrongSuite {
                    url: "http://mirror.example/debian/dists/bookworm/InRelease".into(),
                    expected: "bookworm".into(),
                    found: "trixie".into(),
                },
            ),
            (
                "not_in_release",
                AptError::NotInRelease {
                    url: "http://mirror.example/debian/dists/bookworm/InRelease".into(),
                    path: "main/binary-amd64/Packages.xz".into(),
                },
            ),
            (
                "unknown_package",
                failure(ResolveError::Unknown {
                    request: request("libpq", None, 3),
                    suggestions: vec!["libpq5".into(), "libpq-dev".into()],
                }),
            ),
            (
                "unknown_package_without_close_names",
                failure(ResolveError::Unknown {
                    request: request("zzzz", None, 1),
                    suggestions: Vec::new(),
                }),
            ),
            (
                "unavailable_version",
                failure(ResolveError::Version {
                    request: request("libpq5", Some("14.1"), 1),
                    available: vec!["15.8-0+deb12u1".into(), "15.10-0+deb12u1".into()],
                }),
            ),
            (
                "unsatisfiable",
                failure(ResolveError::Unsatisfiable {
                    package: "libfoo1".into(),
                    relation: "libbar2 (>= 3.0)".into(),
                    chain: vec!["foo-tools".into(), "libfoo1".into()],
                }),
            ),
            (
                "download",
                AptError::Download {
                    package: "libpq5".into(),
                    error: DownloadError::Transport {
                        url: "http://deb.debian.org/debian/pool/main/p/postgresql-15/libpq5_15.10-0+deb12u1_amd64.deb".into(),
                        message: "Connection refused (os error 111)".into(),
                    },
                },
            ),
            (
                "extract",
                AptError::Extract {
                    package: "libpq5".into(),
                    error: CommandError::failed(
                        "dpkg-deb --extract /tmp/libpq5.deb /layers/apt/root",
                        2,
                        "dpkg-deb: error: '/tmp/libpq5.deb' is not a Debian format archive\n",
                    ),
                },
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }
}
