//! Running the tools a buildpack drives (pip, python, …) with their output in the build log.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::thread;

/// A command that could not be started or did not succeed.
#[derive(Debug)]
pub enum CommandError {
    /// The program could not be started (not found, not executable).
    Spawn {
        command: String,
        error: std::io::Error,
    },
    /// The program ran and exited unsuccessfully. `output` holds what it printed (both
    /// streams, interleaved by line) so the caller can explain the failure.
    Failed {
        command: String,
        status: ExitStatus,
        output: String,
    },
}

impl CommandError {
    /// The command line, for messages.
    #[must_use]
    pub fn command(&self) -> &str {
        match self {
            Self::Spawn { command, .. } | Self::Failed { command, .. } => command,
        }
    }

    /// What the command printed, when it ran.
    #[must_use]
    pub fn output(&self) -> &str {
        match self {
            Self::Spawn { .. } => "",
            Self::Failed { output, .. } => output,
        }
    }

    /// One line describing the failure, e.g. `exited with code 1`.
    #[must_use]
    pub fn reason(&self) -> String {
        match self {
            Self::Spawn { error, .. } => format!("could not be started: {error}"),
            Self::Failed { status, .. } => match status.code() {
                Some(code) => format!("exited with code {code}"),
                None => format!("was terminated ({status})"),
            },
        }
    }
}

/// The command line as a user would type it (for logs and errors).
#[must_use]
pub fn display(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| {
            let part = part.to_string_lossy();
            if part.contains(' ') || part.is_empty() {
                format!("'{part}'")
            } else {
                part.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the command, printing each line it writes (stdout and stderr) indented under the
/// current step, and keeps the output for error messages.
///
/// # Errors
/// [`CommandError`] when the command cannot start or exits non-zero.
pub fn run_streamed(command: &mut Command) -> Result<String, CommandError> {
    let command_line = display(command);
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| CommandError::Spawn {
            command: command_line.clone(),
            error,
        })?;

    let (sender, receiver) = std::sync::mpsc::channel::<String>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let sender = sender.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        })
    })
    .collect();
    drop(sender);

    let mut captured = String::new();
    for line in receiver {
        println!("      {line}");
        captured.push_str(&line);
        captured.push('\n');
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait().map_err(|error| CommandError::Spawn {
        command: command_line.clone(),
        error,
    })?;
    if status.success() {
        Ok(captured)
    } else {
        Err(CommandError::Failed {
            command: command_line,
            status,
            output: captured,
        })
    }
}

/// Runs the command without printing; returns its output.
///
/// # Errors
/// [`CommandError`] when the command cannot start or exits non-zero.
pub fn run_captured(command: &mut Command) -> Result<Output, CommandError> {
    let command_line = display(command);
    let output = command.output().map_err(|error| CommandError::Spawn {
        command: command_line.clone(),
        error,
    })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(CommandError::Failed {
            command: command_line,
            status: output.status,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_output_is_captured_from_both_streams() {
        let output = run_streamed(Command::new("sh").args(["-c", "echo out; echo err >&2"]))
            .expect("sh runs");
        assert!(output.contains("out\n"));
        assert!(output.contains("err\n"));
    }

    #[test]
    fn failure_keeps_status_and_output() {
        let error = run_streamed(Command::new("sh").args(["-c", "echo boom; exit 3"]))
            .expect_err("exit 3 fails");
        assert_eq!(error.reason(), "exited with code 3");
        assert_eq!(error.output(), "boom\n");
        assert_eq!(error.command(), "sh -c 'echo boom; exit 3'");
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let error = run_captured(&mut Command::new("/nonexistent/tool")).expect_err("no such tool");
        assert!(matches!(error, CommandError::Spawn { .. }));
        assert!(error.reason().starts_with("could not be started"));
    }
}
