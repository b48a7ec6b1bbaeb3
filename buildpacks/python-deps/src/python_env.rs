//! The Python that runs the app, as the buildpacks that install next to the app's packages
//! (web, wrapper) see it: the interpreter on `PATH` (the dependency manager's venv when there
//! is one, else the runtime) and the distributions it sees.
//!
//! One job: ask that Python (with `python_env/inspect_env.py`) and answer what is installed.
//! Each buildpack turns an [`InspectError`] into its own error, with its own fix text.

use blacklodge_common::command::{self, CommandError};
use blacklodge_common::{download::sha256_bytes, pypi};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const INSPECT_SCRIPT: &str = include_str!("python_env/inspect_env.py");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PythonEnv {
    pub python_version: String,
    /// `sys.prefix`: the venv directory, or the runtime's prefix.
    pub prefix: String,
    /// `name==version` for every installed distribution, sorted.
    pub distributions: Vec<String>,
}

/// Why the environment could not be read.
#[derive(Debug)]
pub enum InspectError {
    /// `python3` missing or unusable: the runtime buildpack did not run.
    NoPython(CommandError),
    /// Python printed something other than the expected JSON (kept for the message).
    Output(String),
}

impl PythonEnv {
    /// Runs `python3` from `working_dir` (kept out of the app directory so nothing there is
    /// mistaken for an installed package).
    ///
    /// # Errors
    /// [`InspectError`] when `python3` fails or prints something other than the description.
    pub fn inspect(working_dir: &Path) -> Result<PythonEnv, InspectError> {
        let output = command::run_captured(
            Command::new("python3")
                .args(["-c", INSPECT_SCRIPT])
                .current_dir(working_dir),
        )
        .map_err(InspectError::NoPython)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim()).map_err(|_| InspectError::Output(stdout.into_owned()))
    }

    /// The normalized names of the installed distributions.
    #[must_use]
    pub fn names(&self) -> BTreeSet<String> {
        self.distributions
            .iter()
            .map(|pin| pypi::normalize(pin.split_once("==").map_or(pin.as_str(), |(name, _)| name)))
            .collect()
    }

    /// A fingerprint of the installed distributions, for cache keys.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        sha256_bytes(self.distributions.join("\n").as_bytes())
    }
}

/// An environment as `inspect_env.py` describes it, for tests.
#[cfg(test)]
pub(crate) fn described(pins: &[&str]) -> PythonEnv {
    let json = serde_json::json!({
        "python_version": "3.11.2",
        "prefix": "/layers/blacklodge_pip/venv",
        "distributions": pins,
    });
    serde_json::from_value(json).expect("the description inspect_env.py prints")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_and_the_fingerprint_follows_the_pins() {
        let env = described(&["Flask==2.2.5", "typing_extensions==4.12.0"]);
        assert_eq!(env.python_version, "3.11.2");
        assert_eq!(
            env.names().into_iter().collect::<Vec<_>>(),
            vec!["flask".to_string(), "typing-extensions".to_string()]
        );
        let upgraded = described(&["Flask==2.2.6", "typing_extensions==4.12.0"]);
        assert_ne!(env.fingerprint(), upgraded.fingerprint());
        assert_eq!(env.fingerprint(), env.clone().fingerprint());
    }
}
