//! The Python that runs the app: the interpreter on `PATH` (the dependency manager's venv when
//! there is one, else the runtime) and the distributions it sees.

use crate::errors::WebError;
use blacklodge_common::{command, download::sha256_bytes, pypi};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const INSPECT_SCRIPT: &str = include_str!("python/inspect_env.py");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct PythonEnv {
    pub(crate) python_version: String,
    /// `sys.prefix`: the venv directory, or the runtime's prefix.
    pub(crate) prefix: String,
    /// `name==version` for every installed distribution, sorted.
    pub(crate) distributions: Vec<String>,
}

impl PythonEnv {
    /// Runs `python3` from `working_dir` (kept out of the app directory so nothing there is
    /// mistaken for an installed package).
    pub(crate) fn inspect(working_dir: &Path) -> Result<PythonEnv, WebError> {
        let output = command::run_captured(
            Command::new("python3")
                .args(["-c", INSPECT_SCRIPT])
                .current_dir(working_dir),
        )
        .map_err(WebError::NoPython)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim())
            .map_err(|_| WebError::InspectOutput(stdout.into_owned()))
    }

    /// The normalized names of the installed distributions.
    pub(crate) fn names(&self) -> BTreeSet<String> {
        self.distributions
            .iter()
            .map(|pin| pypi::normalize(pin.split_once("==").map_or(pin.as_str(), |(name, _)| name)))
            .collect()
    }

    pub(crate) fn fingerprint(&self) -> String {
        sha256_bytes(self.distributions.join("\n").as_bytes())
    }
}
