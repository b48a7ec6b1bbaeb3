//! The `pip:` section of environment.yml (or a conda-lock file's pip packages), installed with
//! the environment's own Python into the same prefix, after the conda packages.
//!
//! pip is the buildpacks' pinned, hash-checked pip (run from its wheel), so an environment
//! needs no `pip` package of its own. Lines with `--hash` make pip check every file
//! (`--require-hashes` is implied); a conda-lock file gives a hash for each of its pip packages.

use blacklodge_common::command::{self, CommandError};
use blacklodge_python_deps::bytecode::SOURCE_DATE_EPOCH;
use libcnb::Env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Installs `requirements` into `prefix` with its Python; pip's own settings (`PIP_INDEX_URL`,
/// `PIP_EXTRA_INDEX_URL`, …) of the build environment apply.
pub(crate) fn install(
    prefix: &Path,
    requirements: &[String],
    pip_wheel: &Path,
    cache_dir: &Path,
    app_dir: &Path,
    env: &Env,
) -> Result<(), PipFailure> {
    let file = cache_dir.join("requirements-from-environment.txt");
    fs_err::create_dir_all(cache_dir).map_err(PipFailure::Io)?;
    fs_err::write(&file, requirements.join("\n") + "\n").map_err(PipFailure::Io)?;
    let mut pip = Command::new(prefix.join("bin/python"));
    pip.args([
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--no-compile",
        "--progress-bar",
        "off",
        "--root-user-action",
        "ignore",
        "-r",
    ])
    .arg(&file)
    .current_dir(app_dir)
    .env("PYTHONPATH", pip_wheel)
    .env("PIP_CACHE_DIR", cache_dir.join("http"))
    .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH);
    for (name, value) in env {
        let shown = name.to_string_lossy();
        if shown.starts_with("PIP_") && shown != "PIP_CACHE_DIR" {
            pip.env(name, value);
        }
    }
    let result = command::run_streamed(&mut pip)
        .map(|_| ())
        .map_err(PipFailure::Pip);
    let _ = fs_err::remove_file(&file);
    result
}

/// Where a requirement line of the `pip:` section points into the app: a requirements or
/// constraints file it includes, or a local directory pip installs (as a copy, or editable).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LocalReference {
    File(PathBuf),
    Directory { path: PathBuf, editable: bool },
}

/// The app files and directories `requirements` (the `pip:` lines, run from the app
/// directory) refer to. A relative path counts when it names something in `app_dir`;
/// anything else (an index requirement, a URL, an absolute path) is not the app's.
pub(crate) fn local_references(app_dir: &Path, requirements: &[String]) -> Vec<LocalReference> {
    let mut found = Vec::new();
    for line in requirements {
        let line = line.trim();
        let (option, rest) = match line.split_once([' ', '=']) {
            Some((option, rest)) if option.starts_with('-') => (option, rest.trim()),
            _ => ("", line),
        };
        let target = rest.strip_prefix("file:").unwrap_or(rest);
        let target = target.split(['#', ';', '[']).next().unwrap_or("").trim();
        if target.is_empty() || Path::new(target).is_absolute() || target.contains("://") {
            continue;
        }
        let path = Path::new(target);
        match option {
            "-r" | "--requirement" | "-c" | "--constraint" if app_dir.join(path).is_file() => {
                found.push(LocalReference::File(path.to_path_buf()));
            }
            "" | "-e" | "--editable" if app_dir.join(path).is_dir() => {
                found.push(LocalReference::Directory {
                    path: path.to_path_buf(),
                    editable: !option.is_empty(),
                });
            }
            _ => {}
        }
    }
    found
}

/// sha256 over what the `pip:` section installs from the app
/// (`local_sources::installed_fingerprint`): every file of a directory it copies into the
/// environment (build output left out), the build metadata of one it installs editable (its
/// code is used in place), the contents of the files it includes.
///
/// # Errors
/// A file that cannot be read.
pub(crate) fn local_fingerprint(
    app_dir: &Path,
    references: &[LocalReference],
) -> std::io::Result<String> {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for reference in references {
        match reference {
            LocalReference::Directory { path, editable } => dirs.push((path.as_path(), *editable)),
            LocalReference::File(path) => files.push(path.as_path()),
        }
    }
    blacklodge_python_deps::local_sources::installed_fingerprint(app_dir, &dirs, &files)
}

#[derive(Debug)]
pub(crate) enum PipFailure {
    Io(std::io::Error),
    Pip(CommandError),
}

/// The requirement pip names in its failure (`... for <name>` / `No matching distribution
/// found for <name>` / `Could not find a version that satisfies the requirement <name>`).
pub(crate) fn failed_requirement(output: &str) -> Option<String> {
    const MARKERS: [&str; 3] = [
        "No matching distribution found for ",
        "Could not find a version that satisfies the requirement ",
        "Failed to build ",
    ];
    output.lines().find_map(|line| {
        MARKERS.iter().find_map(|marker| {
            line.split_once(marker).map(|(_, rest)| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_requirement_pip_failed_on() {
        assert_eq!(
            failed_requirement(
                "ERROR: Could not find a version that satisfies the requirement nosuchpkg==1.0 (from versions: none)\nERROR: No matching distribution found for nosuchpkg==1.0\n"
            ),
            Some("nosuchpkg==1.0".to_string())
        );
        assert_eq!(failed_requirement("something else"), None);
    }

    fn app() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (file, text) in [
            (
                "libs/copied/pyproject.toml",
                "[project]\nname = \"copied\"\n",
            ),
            ("libs/copied/copied/__init__.py", "VALUE = 1\n"),
            ("libs/edit/pyproject.toml", "[project]\nname = \"edit\"\n"),
            ("libs/edit/edit/__init__.py", "VALUE = 1\n"),
            ("requirements.txt", "six==1.17.0\n"),
            ("constraints.txt", "six<2\n"),
        ] {
            let path = dir.path().join(file);
            fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs_err::write(path, text).expect("write");
        }
        dir
    }

    fn lines() -> Vec<String> {
        [
            "six==1.17.0",
            "./libs/copied",
            "-e libs/edit",
            "-r requirements.txt",
            "--constraint=constraints.txt",
            "https://example.com/x.whl",
            "/opt/elsewhere",
            "libs/missing",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn local_references_are_the_app_paths_pip_reads() {
        let app = app();
        assert_eq!(
            local_references(app.path(), &lines()),
            [
                LocalReference::Directory {
                    path: "./libs/copied".into(),
                    editable: false
                },
                LocalReference::Directory {
                    path: "libs/edit".into(),
                    editable: true
                },
                LocalReference::File("requirements.txt".into()),
                LocalReference::File("constraints.txt".into()),
            ]
        );
    }

    #[test]
    fn the_fingerprint_follows_what_pip_installs_from_the_app() {
        let app = app();
        let key = || {
            let references = local_references(app.path(), &lines());
            local_fingerprint(app.path(), &references).expect("readable")
        };
        let base = key();
        for (file, text, changes) in [
            ("libs/copied/copied/__init__.py", "VALUE = 2\n", true),
            ("requirements.txt", "six==1.16.0\n", true),
            ("constraints.txt", "six<3\n", true),
            (
                "libs/edit/pyproject.toml",
                "[project]\nname = \"edit\"\ndependencies = [\"six\"]\n",
                true,
            ),
            // Used in place: its code is not installed.
            ("libs/edit/edit/__init__.py", "VALUE = 2\n", false),
            // What building the copied package leaves in its tree.
            (
                "libs/copied/build/lib/copied/__init__.py",
                "VALUE = 1\n",
                false,
            ),
        ] {
            let path = app.path().join(file);
            let original = fs_err::read(&path).ok();
            fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs_err::write(&path, text).expect("write");
            assert_eq!(key() != base, changes, "{file}");
            match original {
                Some(original) => fs_err::write(&path, original).expect("restore"),
                None => fs_err::remove_file(&path).expect("remove"),
            }
        }
    }
}
