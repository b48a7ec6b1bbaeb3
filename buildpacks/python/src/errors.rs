//! Every way the runtime buildpack can fail, and the one place that explains each to the user.

use crate::distro::OS_RELEASE;
use crate::manifest::Distro;
use crate::project_files::ProjectFileError;
use crate::python_version_file::{self, PythonVersionFileError};
use crate::runtime_txt::{self, RuntimeTxtError};
use crate::selection::{Origin, Requested, VERSION_VARIABLE};
use crate::version::{MinorVersion, PythonVersion, VersionRequest};
use blacklodge_common::command::CommandError;
use blacklodge_common::download::DownloadError;
use blacklodge_common::error::{UserError, UserFacing, invisible_note, quote};
use indoc::formatdoc;
use std::path::PathBuf;

#[derive(Debug)]
pub(crate) enum PythonError {
    InvalidVersionVariable {
        value: String,
    },
    PythonVersionFile(PythonVersionFileError),
    RuntimeTxt(RuntimeTxtError),
    ProjectFile(ProjectFileError),
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
        arches: Vec<String>,
    },
    NoArchivesForDistro {
        distro: Distro,
        manifest: String,
        distros: Vec<Distro>,
    },
    NotBuiltForDistro(Box<MissingBuild>),
    DistroMismatch {
        build: Distro,
        run: Distro,
    },
    NothingSupported {
        oldest: MinorVersion,
    },
    EndOfLife {
        requested: Requested,
        oldest: MinorVersion,
        newest: Option<MinorVersion>,
    },
    UnknownVersion {
        requested: Requested,
        available: Vec<PythonVersion>,
    },
    ConflictingVersions {
        decided_by: Requested,
        selected: PythonVersion,
        conflicting: Vec<Requested>,
    },
    Download(DownloadError),
    Extract {
        archive: String,
        error: std::io::Error,
    },
    BrokenInterpreter(CommandError),
}

/// A requested version the manifest has for other distributions only.
#[derive(Debug)]
pub(crate) struct MissingBuild {
    pub(crate) requested: Requested,
    pub(crate) distro: Distro,
    pub(crate) built_for: Vec<Distro>,
    pub(crate) available: Vec<PythonVersion>,
    pub(crate) manifest: String,
}

const PIN_FORMAT: &str = "a CPython version: either MAJOR.MINOR (e.g. 3.12, newest patch) or MAJOR.MINOR.PATCH (e.g. 3.12.4)";
const PRECEDENCE: &str =
    "BP_PYTHON_VERSION, .python-version, runtime.txt, pyproject.toml, Pipfile, uv.lock";

fn joined<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// "3.11 (in .python-version)", one per line.
fn listed(requests: &[Requested]) -> String {
    requests
        .iter()
        .map(|requested| format!("- {} asks for {}", requested.origin, requested.request))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a request can be changed: the variable, or the file (and key).
fn where_requested(origin: &Origin) -> String {
    match origin {
        Origin::Variable => VERSION_VARIABLE.to_string(),
        other => other.to_string(),
    }
}

fn where_to_change(origin: &Origin) -> String {
    match origin {
        Origin::Variable => format!("Change {VERSION_VARIABLE}"),
        other => format!("Change {other}"),
    }
}

impl UserFacing for PythonError {
    #[allow(clippy::too_many_lines)]
    fn user_error(&self) -> UserError {
        match self {
            Self::InvalidVersionVariable { value } => UserError::new(
                format!("Invalid {VERSION_VARIABLE}"),
                format!(
                    "{VERSION_VARIABLE}={} is not {PIN_FORMAT}.{}",
                    quote(value),
                    invisible_note(value)
                ),
                format!("Set {VERSION_VARIABLE} to a version such as 3.12, or unset it to use the app's version files."),
            ),
            Self::PythonVersionFile(error) => python_version_file_error(error),
            Self::RuntimeTxt(error) => runtime_txt_error(error),
            Self::ProjectFile(error) => project_file_error(error),
            Self::Io { action, path, error } => UserError::io(
                action,
                path,
                error,
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
            Self::NoArchivesForArch { arch, manifest, arches } => UserError::new(
                format!("No Python builds for {arch}"),
                format!(
                    "The manifest ({manifest}) has no CPython archive for this build's architecture, {arch} (glibc).\nIt has archives for: {}.",
                    if arches.is_empty() { "nothing".to_string() } else { arches.join(", ") }
                ),
                "Build on a supported architecture, or add archives for this one to your manifest (BP_PYTHON_MANIFEST_URL).",
            ),
            Self::NoArchivesForDistro { distro, manifest, distros } => UserError::new(
                format!("No Python builds for {distro}"),
                format!(
                    "The manifest ({manifest}) has no CPython archive that runs on this stack's distribution, {distro} (the run image's io.buildpacks.base.distro labels).\nIts archives are built for: {}.",
                    if distros.is_empty() { "nothing".to_string() } else { joined(distros) }
                ),
                formatdoc! {"
                    Build with the builder of a stack whose distribution the manifest has archives for,
                    or add archives built for {distro} to your manifest (BP_PYTHON_MANIFEST_URL);
                    archives without \"distros\" run on any distribution."},
            ),
            Self::NotBuiltForDistro(missing) => {
                let MissingBuild { requested, distro, built_for, available, manifest } = missing.as_ref();
                UserError::new(
                match &requested.request {
                    VersionRequest::Range(_) => format!("No Python satisfying {} is built for {distro}", requested.request),
                    _ => format!("Python {} is not built for {distro}", requested.request),
                },
                format!(
                    "{} asks for Python {}. The manifest ({manifest}) has it for {} only, not for this stack's distribution, {distro}.\nAvailable on {distro}: {}.",
                    requested.origin,
                    requested.request,
                    joined(built_for),
                    if available.is_empty() { "nothing".to_string() } else { joined(available) },
                ),
                format!(
                    "Build with the builder of a {} stack (Blacklodge has one builder per Debian release),\nor request a version available on {distro} in {}.\nWith your own manifest (BP_PYTHON_MANIFEST_URL), add a build of it for {distro}.",
                    joined(built_for).replace(", ", " or "),
                    where_requested(&requested.origin)
                ),
            )
            }
            Self::DistroMismatch { build, run } => UserError::new(
                "The build and run images are different distributions",
                format!(
                    "This build runs on {build} (the build image's {OS_RELEASE}), but the app image will run on {run} (the run image's io.buildpacks.base.distro labels).\nPython would be chosen for {run} while packages are compiled against {build}'s libraries: the image could fail at start."
                ),
                formatdoc! {"
                    Use the run image of the builder's own stack: drop the run image override
                    (pack build --run-image), or build with the builder of the stack you want to run on
                    (Blacklodge has one builder per Debian release)."},
            ),
            Self::NothingSupported { oldest } => UserError::new(
                "No supported Python in the manifest",
                format!("Every CPython in the manifest is older than {oldest}, the oldest supported version."),
                "Add archives of supported versions to your manifest (BP_PYTHON_MANIFEST_URL).",
            ),
            Self::EndOfLife { requested, oldest, newest } => UserError::new(
                format!("Python {} has reached end of life", requested.request),
                format!(
                    "Python {} was requested in {}, but it is end-of-life: it gets no security fixes.\nSupported versions: {oldest} to {}.",
                    requested.request,
                    requested.origin,
                    newest.map_or_else(|| oldest.to_string(), |newest| newest.to_string()),
                ),
                format!(
                    "{} to a supported version such as {}, and test the app on it.",
                    where_to_change(&requested.origin),
                    newest.unwrap_or(*oldest)
                ),
            ),
            Self::UnknownVersion { requested, available } => {
                let (title, detail) = match &requested.request {
                    VersionRequest::Range(_) => (
                        format!("No available Python satisfies {}", requested.request),
                        format!(
                            "{} asks for Python {}, but no available build satisfies it.\nAvailable versions: {}.",
                            requested.origin, requested.request, joined(available)
                        ),
                    ),
                    _ => (
                        format!("Python {} is not available", requested.request),
                        format!(
                            "Python {} was requested in {}, but no build of it is available.\nAvailable versions: {}.",
                            requested.request, requested.origin, joined(available)
                        ),
                    ),
                };
                UserError::new(
                    title,
                    detail,
                    format!(
                        "Request one of the available versions in {}.\nWith a manifest override (BP_PYTHON_MANIFEST_URL), add the version to that manifest.",
                        requested.origin
                    ),
                )
            }
            Self::ConflictingVersions { decided_by, selected, conflicting } => UserError::new(
                "Conflicting Python versions",
                format!(
                    "{} asks for {}, which selects Python {selected}, but other files of the app exclude it:\n{}\n{} takes precedence (order: {PRECEDENCE}), but an image has one Python and every file must accept it.",
                    decided_by.origin,
                    decided_by.request,
                    listed(conflicting),
                    decided_by.origin,
                ),
                format!(
                    "Make the files agree: change {} or the files listed above to versions that accept each other.\nTo build with another version regardless, set {VERSION_VARIABLE}.",
                    decided_by.origin
                ),
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

fn python_version_file_error(error: &PythonVersionFileError) -> UserError {
    let file = python_version_file::FILE_NAME;
    match error {
        PythonVersionFileError::InvalidLine { line_number, line } => UserError::new(
            format!("Invalid {file}"),
            format!(
                "Line {line_number} of {file} is {}, which is not {PIN_FORMAT}.{}",
                quote(line),
                invisible_note(line)
            ),
            "Change that line to a version such as 3.12. Only CPython is supported.",
        ),
        PythonVersionFileError::Empty => UserError::new(
            format!("Empty {file}"),
            format!("{file} contains no version (only blank lines or comments)."),
            "Write the version on its own line, e.g. 3.12, or delete the file to use the default.",
        ),
        PythonVersionFileError::SeveralVersions { lines } => UserError::new(
            format!("Several versions in {file}"),
            format!(
                "{file} lists {} versions: {}.\nAn app image has exactly one Python.",
                lines.len(),
                lines.join(", ")
            ),
            format!("Keep only the version the app runs on in {file}."),
        ),
    }
}

fn runtime_txt_error(error: &RuntimeTxtError) -> UserError {
    let file = runtime_txt::FILE_NAME;
    let fix = formatdoc! {"
        runtime.txt is a legacy format: replace it with a .python-version file containing
        only the version, e.g. 3.12 (or fix the line to read python-3.12)."};
    match error {
        RuntimeTxtError::InvalidLine { line_number, line } => UserError::new(
            format!("Invalid {file}"),
            format!(
                "Line {line_number} of {file} is {}, which is not python-MAJOR.MINOR or python-MAJOR.MINOR.PATCH (e.g. python-3.12.4).{}",
                quote(line),
                invisible_note(line)
            ),
            fix,
        ),
        RuntimeTxtError::Empty => UserError::new(
            format!("Empty {file}"),
            format!("{file} contains no version."),
            fix,
        ),
        RuntimeTxtError::SeveralLines { lines } => UserError::new(
            format!("Several versions in {file}"),
            format!(
                "{file} has {} lines: {}. It must have exactly one.",
                lines.len(),
                lines.join(", ")
            ),
            fix,
        ),
    }
}

fn project_file_error(error: &ProjectFileError) -> UserError {
    match error {
        ProjectFileError::Toml {
            file,
            line,
            message,
        } => UserError::new(
            format!("Invalid {file}"),
            match line {
                Some(line) => format!("{file} is not valid TOML (line {line}): {message}"),
                None => format!("{file} is not valid TOML: {message}"),
            },
            format!(
                "Fix {file} at that line; `python3 -c \"import tomllib; tomllib.load(open('{file}', 'rb'))\"` shows the same problem locally."
            ),
        ),
        ProjectFileError::InvalidConstraint {
            origin,
            line,
            value,
            message,
        } => {
            let file = origin.file().unwrap_or_default();
            let key = origin.key().unwrap_or_default();
            let example = match origin {
                Origin::PoetryPython => "python = \"^3.12\" (Poetry constraint syntax)",
                Origin::PipfileFullVersion => "python_full_version = \"3.12.4\"",
                Origin::PipfileVersion => "python_version = \"3.12\"",
                _ => "requires-python = \">=3.12\" (PEP 440 version specifiers)",
            };
            UserError::new(
                format!("Invalid Python version in {file}"),
                format!(
                    "Line {line} of {file}: {key} = {} is not valid:{}\n{message}",
                    if invisible_note(value).is_empty() {
                        format!("\"{value}\"")
                    } else {
                        quote(value)
                    },
                    invisible_note(value)
                ),
                format!("Change that line to a valid constraint, for example {example}."),
            )
        }
    }
}

impl From<PythonError> for libcnb::Error<PythonError> {
    fn from(error: PythonError) -> Self {
        Self::BuildpackError(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::parse_pin;

    fn requested(origin: Origin, text: &str) -> Requested {
        Requested {
            request: parse_pin(text)
                .or_else(|()| VersionRequest::parse_specifiers(text))
                .expect("valid"),
            origin,
        }
    }

    #[test]
    fn end_of_life_names_the_supported_range() {
        let error = PythonError::EndOfLife {
            requested: requested(Origin::RuntimeTxt, "3.8.10"),
            oldest: "3.10".parse().expect("valid"),
            newest: Some("3.13".parse().expect("valid")),
        }
        .user_error();
        assert_eq!(error.title, "Python 3.8.10 has reached end of life");
        assert_eq!(
            error.detail,
            "Python 3.8.10 was requested in runtime.txt, but it is end-of-life: it gets no security fixes.\nSupported versions: 3.10 to 3.13."
        );
        assert_eq!(
            error.fix,
            "Change runtime.txt to a supported version such as 3.13, and test the app on it."
        );
    }

    #[test]
    fn conflicts_name_every_file() {
        let error = PythonError::ConflictingVersions {
            decided_by: requested(Origin::PythonVersionFile, "3.11"),
            selected: "3.11.2".parse().expect("valid"),
            conflicting: vec![requested(Origin::RequiresPython, ">=3.12")],
        }
        .user_error();
        assert_eq!(
            error.detail,
            "{} asks for 3.11, which selects Python 3.11.2, but other files of the app exclude it:\n- pyproject.toml requires-python asks for >=3.12\n.python-version takes precedence (order: BP_PYTHON_VERSION, .python-version, runtime.txt, pyproject.toml, Pipfile, uv.lock), but an image has one Python and every file must accept it."
                .replace("{}", ".python-version")
        );
    }

    fn debian(version: &str) -> Distro {
        Distro {
            name: "debian".into(),
            version: version.into(),
        }
    }

    #[test]
    fn a_version_built_for_another_distribution_names_both() {
        let error = PythonError::NotBuiltForDistro(Box::new(MissingBuild {
            requested: requested(Origin::PythonVersionFile, "3.11"),
            distro: debian("13"),
            built_for: vec![debian("12")],
            available: vec!["3.13.5".parse().expect("valid")],
            manifest: "http://127.0.0.1:8765/manifest.json".into(),
        }))
        .user_error();
        assert_eq!(
            error.render(),
            indoc::indoc! {"

                ! ERROR: Python 3.11 is not built for debian 13
                !
                ! .python-version asks for Python 3.11. The manifest (http://127.0.0.1:8765/manifest.json) has it for debian 12 only, not for this stack's distribution, debian 13.
                ! Available on debian 13: 3.13.5.
                !
                ! How to fix:
                !   Build with the builder of a debian 12 stack (Blacklodge has one builder per Debian release),
                !   or request a version available on debian 13 in .python-version.
                !   With your own manifest (BP_PYTHON_MANIFEST_URL), add a build of it for debian 13.
            "}
        );
        let range = PythonError::NotBuiltForDistro(Box::new(MissingBuild {
            requested: requested(Origin::Variable, "<3.12"),
            distro: debian("11"),
            built_for: vec![debian("12"), debian("13")],
            available: Vec::new(),
            manifest: "shipped with the buildpack".into(),
        }))
        .user_error();
        assert_eq!(
            range.title,
            "No Python satisfying <3.12 is built for debian 11"
        );
        assert_eq!(
            range.detail,
            "BP_PYTHON_VERSION asks for Python <3.12. The manifest (shipped with the buildpack) has it for debian 12, debian 13 only, not for this stack's distribution, debian 11.\nAvailable on debian 11: nothing."
        );
        assert_eq!(
            range.fix,
            "Build with the builder of a debian 12 or debian 13 stack (Blacklodge has one builder per Debian release),\nor request a version available on debian 11 in BP_PYTHON_VERSION.\nWith your own manifest (BP_PYTHON_MANIFEST_URL), add a build of it for debian 11."
        );
    }

    #[test]
    fn a_distribution_without_archives_is_named() {
        let error = PythonError::NoArchivesForDistro {
            distro: debian("11"),
            manifest: "/workspace/manifest.json".into(),
            distros: vec![debian("12"), debian("13")],
        }
        .user_error();
        assert_eq!(
            error.render(),
            indoc::indoc! {r#"

                ! ERROR: No Python builds for debian 11
                !
                ! The manifest (/workspace/manifest.json) has no CPython archive that runs on this stack's distribution, debian 11 (the run image's io.buildpacks.base.distro labels).
                ! Its archives are built for: debian 12, debian 13.
                !
                ! How to fix:
                !   Build with the builder of a stack whose distribution the manifest has archives for,
                !   or add archives built for debian 11 to your manifest (BP_PYTHON_MANIFEST_URL);
                !   archives without "distros" run on any distribution.
            "#}
        );
    }

    #[test]
    fn build_and_run_images_of_different_distributions_are_refused() {
        let error = PythonError::DistroMismatch {
            build: debian("13"),
            run: debian("12"),
        }
        .user_error();
        assert_eq!(
            error.render(),
            indoc::indoc! {"

                ! ERROR: The build and run images are different distributions
                !
                ! This build runs on debian 13 (the build image's /etc/os-release), but the app image will run on debian 12 (the run image's io.buildpacks.base.distro labels).
                ! Python would be chosen for debian 12 while packages are compiled against debian 13's libraries: the image could fail at start.
                !
                ! How to fix:
                !   Use the run image of the builder's own stack: drop the run image override
                !   (pack build --run-image), or build with the builder of the stack you want to run on
                !   (Blacklodge has one builder per Debian release).
            "}
        );
    }

    #[test]
    fn range_without_match_says_so() {
        let error = PythonError::UnknownVersion {
            requested: requested(Origin::UvLock, ">=3.14"),
            available: vec!["3.13.5".parse().expect("valid")],
        }
        .user_error();
        assert_eq!(error.title, "No available Python satisfies >=3.14");
        assert_eq!(
            error.detail,
            "uv.lock requires-python asks for Python >=3.14, but no available build satisfies it.\nAvailable versions: 3.13.5."
        );
    }
}
