//! Every way the runtime buildpack can fail, and the one place that explains each to the user.

use crate::selection::{Origin, PYTHON_VERSION_FILE, VERSION_VARIABLE};
use crate::version::VersionRequest;
use blacklodge_common::command::CommandError;
use blacklodge_common::download::DownloadError;
use blacklodge_common::error::{UserError, UserFacing};
use indoc::formatdoc;
use std::path::PathBuf;

#[derive(Debug)]
pub(crate) enum PythonError {
    InvalidVersionVariable {
        value: String,
    },
    VersionFile(VersionFileError),
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    ManifestFetch {
        location: String,
        error: DownloadError,
    },
    ManifestParse {
        location: String,
        error: serde_json::Error,
    },
    NoArchivesForArch {
        arch: String,
        manifest: String,
    },
    UnknownVersion {
        request: VersionRequest,
        origin: Origin,
        available: Vec<String>,
    },
    Download(DownloadError),
    Extract {
        archive: String,
        error: std::io::Error,
    },
    BrokenInterpreter(CommandError),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VersionFileError {
    InvalidLine { line_number: usize, line: String },
    Empty,
    SeveralVersions { lines: Vec<String> },
}

const VERSION_FORMAT: &str = "a CPython version: either MAJOR.MINOR (e.g. 3.12, newest patch) or MAJOR.MINOR.PATCH (e.g. 3.12.4)";

impl UserFacing for PythonError {
    #[allow(clippy::too_many_lines)]
    fn user_error(&self) -> UserError {
        match self {
            Self::InvalidVersionVariable { value } => UserError::new(
                format!("Invalid {VERSION_VARIABLE}"),
                format!("{VERSION_VARIABLE}='{value}' is not {VERSION_FORMAT}."),
                format!("Set {VERSION_VARIABLE} to a version such as 3.12, or unset it to use {PYTHON_VERSION_FILE}."),
            ),
            Self::VersionFile(VersionFileError::InvalidLine { line_number, line }) => UserError::new(
                format!("Invalid {PYTHON_VERSION_FILE}"),
                format!("Line {line_number} of {PYTHON_VERSION_FILE} is '{line}', which is not {VERSION_FORMAT}."),
                "Change that line to a version such as 3.12. Only CPython is supported.".to_string(),
            ),
            Self::VersionFile(VersionFileError::Empty) => UserError::new(
                format!("Empty {PYTHON_VERSION_FILE}"),
                format!("{PYTHON_VERSION_FILE} contains no version (only blank lines or comments)."),
                "Write the version on its own line, e.g. 3.12, or delete the file to use the default.".to_string(),
            ),
            Self::VersionFile(VersionFileError::SeveralVersions { lines }) => UserError::new(
                format!("Several versions in {PYTHON_VERSION_FILE}"),
                format!("{PYTHON_VERSION_FILE} lists {} versions: {}.\nAn app image has exactly one Python.", lines.len(), lines.join(", ")),
                format!("Keep only the version the app runs on in {PYTHON_VERSION_FILE}."),
            ),
            Self::Io { action, path, error } => UserError::new(
                format!("Could not {action} {}", path.display()),
                blacklodge_common::error::io_detail(action, path, error),
                "Check the file's permissions and that it is a regular file.",
            ),
            Self::ManifestFetch { location, error } => UserError::new(
                "Could not fetch the Python manifest",
                format!("The manifest of available Python versions could not be read from {location}:\n{error}"),
                "Check BP_PYTHON_MANIFEST_URL: it must be a reachable URL or a path inside the build container.",
            ),
            Self::ManifestParse { location, error } => UserError::new(
                "Invalid Python manifest",
                format!("The manifest at {location} is not valid: {error}"),
                formatdoc! {r#"
                    A manifest is JSON: {{"archives": [{{"version": "3.12.4", "arch": "x86_64", "libc": "gnu",
                    "build": "...", "url": "...", "sha256": "..."}}]}}. Fix the file or unset BP_PYTHON_MANIFEST_URL."#},
            ),
            Self::NoArchivesForArch { arch, manifest } => UserError::new(
                format!("No Python builds for {arch}"),
                format!("The manifest ({manifest}) has no CPython archive for the {arch} architecture."),
                "Build on a supported architecture (x86_64, aarch64), or add archives for it to your manifest.",
            ),
            Self::UnknownVersion { request, origin, available } => UserError::new(
                format!("Python {request} is not available"),
                format!(
                    "Python {request} was requested in {origin}, but no build of it is available.\nAvailable versions: {}.",
                    available.join(", ")
                ),
                format!("Request one of the available versions in {origin}."),
            ),
            Self::Download(error) => UserError::new(
                "Could not download Python",
                error.to_string(),
                match error {
                    DownloadError::Checksum { .. } => "The archive was not used. If you host a mirror, re-upload the archive; if you use a manifest override, correct its sha256.".to_string(),
                    _ => "Check the network, or set BP_PYTHON_MIRROR_URL to a reachable mirror (or BP_PYTHON_MANIFEST_URL to your own manifest).".to_string(),
                },
            ),
            Self::Extract { archive, error } => UserError::new(
                "Could not unpack Python",
                format!("The archive {archive} passed its checksum but could not be extracted: {error}"),
                "The archive is not a python-build-standalone `install_only` tar.gz: check the manifest entry.",
            ),
            Self::BrokenInterpreter(error) => UserError::new(
                "The installed Python does not run",
                format!("`{}` {}:\n{}", error.command(), error.reason(), error.output()),
                "The archive does not run on this stack (e.g. missing shared libraries). Use an archive built for this distribution.",
            ),
        }
    }
}

impl From<PythonError> for libcnb::Error<PythonError> {
    fn from(error: PythonError) -> Self {
        Self::BuildpackError(error)
    }
}
