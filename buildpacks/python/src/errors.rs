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
                r#"A manifest is JSON, e.g.:
  {"archives": [{"version": "3.12.4", "arch": "x86_64", "libc": "gnu", "build": "...", "url": "...", "sha256": "..."}]}
Fix the file or unset BP_PYTHON_MANIFEST_URL."#,
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
                format!(
                    "Build with the builder of a stack whose distribution the manifest has archives for, or add archives built for {distro} to your manifest (BP_PYTHON_MANIFEST_URL); archives without \"distros\" run on any distribution."
                ),
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
                    "Build with the builder of a {} stack (Blacklodge has one builder per Debian release), or request a version available on {distro} in {}.\nWith your own manifest (BP_PYTHON_MANIFEST_URL), add a build of it for {distro}.",
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
                "Use the run image of the builder's own stack: drop the run image override (`pack build --run-image`), or build with the builder of the stack you want to run on (Blacklodge has one builder per Debian release).",
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
    let fix = "runtime.txt is a legacy format: replace it with a .python-version file containing only the version, e.g. 3.12 (or fix the line to read python-3.12).";
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
                "Fix {file}{}; `python3 -c \"import tomllib; tomllib.load(open('{file}', 'rb'))\"` shows the same problem locally.",
                if line.is_some() { " at that line" } else { "" }
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

blacklodge_common::buildpack_error!(PythonError);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::parse_pin;
    use blacklodge_common::error::render_all;

    fn requested(origin: Origin, text: &str) -> Requested {
        Requested {
            request: parse_pin(text)
                .or_else(|()| VersionRequest::parse_specifiers(text))
                .expect("valid"),
            origin,
        }
    }

    /// The whole messages of the version selection.
    #[test]
    fn every_selection_message_whole() {
        insta::assert_snapshot!(render_all(&[
            (
                "invalid_version_variable",
                PythonError::InvalidVersionVariable {
                    value: "3.12\u{1b}".into(),
                },
            ),
            (
                "end_of_life",
                PythonError::EndOfLife {
                    requested: requested(Origin::RuntimeTxt, "3.8.10"),
                    oldest: "3.10".parse().expect("valid"),
                    newest: Some("3.13".parse().expect("valid")),
                },
            ),
            (
                "end_of_life_variable",
                PythonError::EndOfLife {
                    requested: requested(Origin::Variable, "3.9"),
                    oldest: "3.10".parse().expect("valid"),
                    newest: None,
                },
            ),
            (
                "unknown_version",
                PythonError::UnknownVersion {
                    requested: requested(Origin::PythonVersionFile, "3.12.99"),
                    available: vec![
                        "3.12.4".parse().expect("valid"),
                        "3.13.5".parse().expect("valid"),
                    ],
                },
            ),
            (
                "unknown_range",
                PythonError::UnknownVersion {
                    requested: requested(Origin::UvLock, ">=3.14"),
                    available: vec!["3.13.5".parse().expect("valid")],
                },
            ),
            (
                "conflicting_versions",
                PythonError::ConflictingVersions {
                    decided_by: requested(Origin::PythonVersionFile, "3.11"),
                    selected: "3.11.2".parse().expect("valid"),
                    conflicting: vec![
                        requested(Origin::RequiresPython, ">=3.12"),
                        requested(Origin::PipfileVersion, "3.13"),
                    ],
                },
            ),
        ]));
    }

    /// The whole messages of the app's version files (the errors of parsing real contents).
    #[test]
    fn every_version_file_message_whole() {
        let version_file = |contents: &str| {
            PythonError::PythonVersionFile(python_version_file::parse(contents).expect_err("bad"))
        };
        let runtime_txt = |contents: &str| {
            PythonError::RuntimeTxt(runtime_txt::parse(contents).expect_err("bad"))
        };
        insta::assert_snapshot!(render_all(&[
            (
                "python_version_file_invalid_line",
                version_file("# pinned\npypy3.10\n"),
            ),
            (
                "python_version_file_empty",
                version_file("# no version yet\n"),
            ),
            (
                "python_version_file_several_versions",
                version_file("3.11\n3.12\n"),
            ),
            ("runtime_txt_invalid_line", runtime_txt("3.12\n")),
            ("runtime_txt_empty", runtime_txt("\n")),
            (
                "runtime_txt_several_lines",
                runtime_txt("python-3.11\npython-3.12\n"),
            ),
            (
                "project_file_toml",
                PythonError::ProjectFile(ProjectFileError::Toml {
                    file: "pyproject.toml",
                    line: Some(3),
                    message: "expected `=`".into(),
                }),
            ),
            (
                "project_file_toml_without_line",
                PythonError::ProjectFile(ProjectFileError::Toml {
                    file: "Pipfile",
                    line: None,
                    message: "invalid table header".into(),
                }),
            ),
            (
                "project_file_invalid_constraint",
                PythonError::ProjectFile(ProjectFileError::InvalidConstraint {
                    origin: Origin::RequiresPython,
                    line: 4,
                    value: ">=3.12,".into(),
                    message: "Unexpected end of version specifier, expected operator".into(),
                }),
            ),
            (
                "project_file_invalid_poetry_constraint",
                PythonError::ProjectFile(ProjectFileError::InvalidConstraint {
                    origin: Origin::PoetryPython,
                    line: 9,
                    value: "^3.\u{200b}12".into(),
                    message: "not a version".into(),
                }),
            ),
            (
                "io",
                PythonError::Io {
                    action: "read",
                    path: PathBuf::from("/workspace/.python-version"),
                    error: std::io::Error::from_raw_os_error(21),
                },
            ),
        ]));
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
                ! .python-version asks for Python 3.11. The manifest
                ! (http://127.0.0.1:8765/manifest.json) has it for debian 12 only, not for this
                ! stack's distribution, debian 13.
                ! Available on debian 13: 3.13.5.
                !
                ! How to fix:
                !   Build with the builder of a debian 12 stack (Blacklodge has one builder per
                !   Debian release), or request a version available on debian 13 in
                !   .python-version.
                !   With your own manifest (BP_PYTHON_MANIFEST_URL), add a build of it for
                !   debian 13.
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
            "Build with the builder of a debian 12 or debian 13 stack (Blacklodge has one builder per Debian release), or request a version available on debian 11 in BP_PYTHON_VERSION.\nWith your own manifest (BP_PYTHON_MANIFEST_URL), add a build of it for debian 11."
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
                ! The manifest (/workspace/manifest.json) has no CPython archive that runs on
                ! this stack's distribution, debian 11 (the run image's
                ! io.buildpacks.base.distro labels).
                ! Its archives are built for: debian 12, debian 13.
                !
                ! How to fix:
                !   Build with the builder of a stack whose distribution the manifest has
                !   archives for, or add archives built for debian 11 to your manifest
                !   (BP_PYTHON_MANIFEST_URL); archives without "distros" run on any
                !   distribution.
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
                ! This build runs on debian 13 (the build image's /etc/os-release), but the app
                ! image will run on debian 12 (the run image's io.buildpacks.base.distro
                ! labels).
                ! Python would be chosen for debian 12 while packages are compiled against
                ! debian 13's libraries: the image could fail at start.
                !
                ! How to fix:
                !   Use the run image of the builder's own stack: drop the run image override
                !   (`pack build --run-image`), or build with the builder of the stack you want
                !   to run on (Blacklodge has one builder per Debian release).
            "}
        );
    }

    /// The whole messages of getting and installing Python.
    #[test]
    fn every_install_message_whole() {
        insta::assert_snapshot!(render_all(&[
            (
                "manifest_fetch",
                PythonError::ManifestFetch {
                    location: "https://mirror.example/manifest.json".into(),
                    error: DownloadError::Status {
                        url: "https://mirror.example/manifest.json".into(),
                        status: 404,
                    },
                },
            ),
            (
                "manifest_parse",
                PythonError::ManifestParse {
                    location: "/workspace/manifest.json".into(),
                    error: serde_json::from_str::<serde_json::Value>("{\"archives\": [")
                        .expect_err("invalid"),
                },
            ),
            (
                "no_archives_for_arch",
                PythonError::NoArchivesForArch {
                    arch: "aarch64".into(),
                    manifest: "https://mirror.example/manifest.json".into(),
                    arches: vec!["x86_64".into()],
                },
            ),
            (
                "no_archives_at_all",
                PythonError::NoArchivesForArch {
                    arch: "x86_64".into(),
                    manifest: "/workspace/manifest.json".into(),
                    arches: vec![],
                },
            ),
            (
                "nothing_supported",
                PythonError::NothingSupported {
                    oldest: "3.10".parse().expect("valid"),
                },
            ),
            (
                "download_checksum",
                PythonError::Download(DownloadError::Checksum {
                    url: "https://mirror.example/cpython-3.12.4.tar.gz".into(),
                    expected: "aaaa".into(),
                    actual: "bbbb".into(),
                }),
            ),
            (
                "download_transport",
                PythonError::Download(DownloadError::Transport {
                    url: "https://mirror.example/cpython-3.12.4.tar.gz".into(),
                    message: "Connection refused (os error 111)".into(),
                }),
            ),
            (
                "extract",
                PythonError::Extract {
                    archive: "cpython-3.12.4.tar.gz".into(),
                    error: std::io::Error::other("invalid gzip header"),
                },
            ),
            (
                "broken_interpreter",
                PythonError::BrokenInterpreter(CommandError::failed(
                    "/layers/python/bin/python3 --version",
                    127,
                    "/layers/python/bin/python3: error while loading shared libraries: libcrypt.so.1: cannot open shared object file",
                )),
            ),
        ]));
    }
}
