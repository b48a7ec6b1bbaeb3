//! The Python the runtime buildpack put on PATH.

use crate::errors::DepsError;
use blacklodge_common::command;
use blacklodge_common::runtime_plan::KEPT_VERSION_VARIABLE;
use std::path::PathBuf;
use std::process::Command;

/// The interpreter dependencies are installed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    /// `3.11.2`
    pub version: String,
    /// Absolute path of the interpreter (`sys.executable`).
    pub executable: PathBuf,
}

/// Asks `python3` on PATH for its version and location; when the python buildpack kept the
/// runtime of the previous image without its files (no build step needed it), its version
/// only, from [`KEPT_VERSION_VARIABLE`] (then [`require_files`] fails).
///
/// # Errors
/// [`DepsError::NoPython`] when there is no working `python3`.
pub fn find() -> Result<Python, DepsError> {
    if let Some(version) = kept_version() {
        return Ok(Python {
            executable: PathBuf::from("python3"),
            version,
        });
    }
    let output = command::run_captured(Command::new("python3").args([
        "-c",
        "import sys; print('.'.join(map(str, sys.version_info[:3]))); print(sys.executable)",
    ]))
    .map_err(DepsError::NoPython)?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    Ok(Python {
        version: lines.next().unwrap_or_default().trim().to_string(),
        executable: PathBuf::from(lines.next().unwrap_or("python3").trim()),
    })
}

fn kept_version() -> Option<String> {
    std::env::var(KEPT_VERSION_VARIABLE)
        .ok()
        .filter(|version| !version.is_empty())
}

/// Before running Python: fails when the runtime was kept without its files. Unreachable
/// while the dependency buildpack's plan inputs cover its venv key (the python buildpack
/// then installs the runtime for every build that changes the venv).
///
/// # Errors
/// [`DepsError::RuntimeKept`].
pub fn require_files() -> Result<(), DepsError> {
    match kept_version() {
        Some(version) => Err(DepsError::RuntimeKept { version }),
        None => Ok(()),
    }
}
