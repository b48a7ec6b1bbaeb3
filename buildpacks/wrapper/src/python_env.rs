//! What the wrapper needs to know about the Python that runs the app: the interpreter on
//! `PATH` (a dependency manager's venv when there is one, else the runtime) and the
//! distributions it sees.

use crate::errors::WrapperError;
use blacklodge_common::{command, download::sha256_bytes, pypi};
use serde::Deserialize;
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
    pub(crate) fn inspect(working_dir: &Path) -> Result<PythonEnv, WrapperError> {
        let output = command::run_captured(
            Command::new("python3")
                .args(["-c", INSPECT_SCRIPT])
                .current_dir(working_dir),
        )
        .map_err(WrapperError::NoPython)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim())
            .map_err(|_| WrapperError::InspectOutput(stdout.into_owned()))
    }

    /// pip constraints pinning every installed distribution to its installed version.
    pub(crate) fn constraints(&self) -> String {
        let mut text = String::from(
            "# Written by blacklodge/wrapper: the app's installed packages, which the harness's\n# dependencies must not replace.\n",
        );
        for pin in &self.distributions {
            text.push_str(pin);
            text.push('\n');
        }
        text
    }

    /// The normalized names of the installed distributions.
    pub(crate) fn distribution_names(&self) -> std::collections::BTreeSet<String> {
        self.distributions
            .iter()
            .map(|pin| pypi::normalize(pin.split_once("==").map_or(pin.as_str(), |(name, _)| name)))
            .collect()
    }

    pub(crate) fn distributions_fingerprint(&self) -> String {
        sha256_bytes(self.distributions.join("\n").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_pin_each_distribution() {
        let env = PythonEnv {
            python_version: "3.11.2".into(),
            prefix: "/layers/blacklodge_pip/venv".into(),
            distributions: vec!["flask==2.2.5".into(), "numpy==2.1.0".into()],
        };
        assert!(
            env.constraints()
                .ends_with("\nflask==2.2.5\nnumpy==2.1.0\n")
        );
    }
}
