//! The `pip:` section of environment.yml (or a conda-lock file's pip packages), installed with
//! the environment's own Python into the same prefix, after the conda packages.
//!
//! pip is the buildpacks' pinned, hash-checked pip (run from its wheel), so an environment
//! needs no `pip` package of its own. Lines with `--hash` make pip check every file
//! (`--require-hashes` is implied); a conda-lock file gives a hash for each of its pip packages.

use blacklodge_common::command::{self, CommandError};
use blacklodge_python_deps::bytecode::SOURCE_DATE_EPOCH;
use libcnb::Env;
use std::path::Path;
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
}
