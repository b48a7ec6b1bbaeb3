//! The Python the runtime buildpack put on PATH.

use crate::errors::DepsError;
use blacklodge_common::command;
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

/// Asks `python3` on PATH for its version and location.
///
/// # Errors
/// [`DepsError::NoPython`] when there is no working `python3`.
pub fn find() -> Result<Python, DepsError> {
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
