//! Build-time validation: `blacklodge validate --json` imports the entry point in the built
//! environment (the same interpreter, packages and `sys.path` as at launch) and checks that
//! the harness can call it. Its JSON answer becomes the build log line or the build error.

use crate::errors::{ValidationFailure, WrapperError};
use blacklodge_common::command::{self, CommandError};
use serde::Deserialize;
use std::path::Path;
use std::process::Command;

/// What `validate` reports on success (the fields the log shows).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Validated {
    pub(crate) kind: String,
    pub(crate) call: String,
    #[serde(default)]
    pub(crate) lifecycle: Option<Lifecycle>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Lifecycle {
    pub(crate) load: bool,
    pub(crate) ready: bool,
    pub(crate) shutdown: bool,
}

impl Validated {
    /// `predict(payload) (function)`, `Model.predict(payload) (class; load() before traffic)`.
    pub(crate) fn describe(&self) -> String {
        let hooks: Vec<&str> = self
            .lifecycle
            .as_ref()
            .map(|l| {
                [
                    (l.load, "load() before traffic"),
                    (l.ready, "ready() for readiness"),
                    (l.shutdown, "shutdown() on stop"),
                ]
                .into_iter()
                .filter_map(|(present, text)| present.then_some(text))
                .collect()
            })
            .unwrap_or_default();
        if hooks.is_empty() {
            format!("{} ({})", self.call, self.kind)
        } else {
            format!("{} ({}; {})", self.call, self.kind, hooks.join(", "))
        }
    }
}

#[derive(Deserialize)]
struct FailureAnswer {
    error: ValidationFailure,
}

/// Interprets what `validate` printed: exit 0 with a summary, exit 1 with `{"ok": false, ...}`.
fn interpret(
    success: bool,
    stdout: &str,
    crash: impl FnOnce() -> CommandError,
) -> Result<Validated, WrapperError> {
    let last_line = stdout.lines().rev().find(|line| !line.trim().is_empty());
    if success {
        return last_line
            .and_then(|line| serde_json::from_str(line).ok())
            .ok_or_else(|| WrapperError::ValidateCrashed(crash()));
    }
    match last_line.and_then(|line| serde_json::from_str::<FailureAnswer>(line).ok()) {
        Some(answer) => Err(WrapperError::Validation(answer.error)),
        None => Err(WrapperError::ValidateCrashed(crash())),
    }
}

pub(crate) fn run(
    launcher: &Path,
    entrypoint: &str,
    app_dir: &Path,
) -> Result<Validated, WrapperError> {
    let mut validate = Command::new("python3");
    validate
        .arg(launcher)
        .args([
            "validate",
            "--json",
            "--entrypoint",
            entrypoint,
            "--app-dir",
        ])
        .arg(app_dir)
        .current_dir(app_dir)
        // Imports at build time must not leave __pycache__ directories in the app.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let command_line = command::display(&validate);
    let output = validate.output().map_err(|error| {
        WrapperError::ValidateCrashed(CommandError::Spawn {
            command: command_line.clone(),
            error,
        })
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    interpret(output.status.success(), &stdout, || CommandError::Failed {
        command: command_line,
        status: output.status,
        output: format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn crash() -> CommandError {
        CommandError::Failed {
            command: "python3 blacklodge validate".into(),
            status: std::process::ExitStatus::from_raw(139),
            output: "Segmentation fault".into(),
        }
    }

    #[test]
    fn success_is_summarised() {
        let validated = interpret(
            true,
            r#"{"ok": true, "entrypoint": "model:Model", "kind": "class", "call": "Model.predict(payload)", "lifecycle": {"load": true, "ready": false, "shutdown": true}}"#,
            crash,
        )
        .expect("valid");
        assert_eq!(
            validated.describe(),
            "Model.predict(payload) (class; load() before traffic, shutdown() on stop)"
        );
    }

    #[test]
    fn failures_carry_the_harness_message() {
        let Err(WrapperError::Validation(failure)) = interpret(
            false,
            r#"{"ok": false, "error": {"code": "attribute_missing", "title": "Entry point 'model:predcit' not found", "detail": "Names defined there: predict (function)", "fix": "Set the entry point to 'model:predict'."}}"#,
            crash,
        ) else {
            panic!("not a validation failure");
        };
        assert_eq!(failure.code, "attribute_missing");
        assert_eq!(failure.fix, "Set the entry point to 'model:predict'.");
    }

    #[test]
    fn no_json_is_a_crash() {
        assert!(matches!(
            interpret(false, "", crash),
            Err(WrapperError::ValidateCrashed(_))
        ));
    }
}
