//! Running the tools a buildpack drives (pip, python, …) with their output in the build log.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

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
    /// A run of `command` that exited with `code` after printing `output`: what a failed
    /// [`run_streamed`] returns (for messages built from one, e.g. in tests).
    #[must_use]
    pub fn failed(command: &str, code: i32, output: &str) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self::Failed {
            command: command.to_string(),
            status: ExitStatus::from_raw(code << 8),
            output: output.to_string(),
        }
    }

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
    stream(command, Pipes::Separate, |_| LineUse::Show)
}

/// Like [`run_streamed`], with stdout and stderr sharing one pipe ([`Pipes::Merged`]): for
/// the app's own scripts, whose error should follow their progress as in a terminal.
///
/// # Errors
/// [`CommandError`] when the command cannot start or exits non-zero (with its output).
pub fn run_streamed_merged(command: &mut Command) -> Result<String, CommandError> {
    stream(command, Pipes::Merged, |_| LineUse::Show)
}

/// What [`run_streamed_with`] does with a line of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineUse {
    /// Printed and kept.
    Show,
    /// Kept for explaining a failure, not printed (diagnostics too noisy for the log).
    Keep,
    /// Neither printed nor kept.
    Drop,
}

/// How the two output streams of a streamed command are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pipes {
    /// A pipe each, read side by side: the lines of the two interleave as they arrive. The
    /// output is read as UTF-8 text (the tools the buildpacks drive write it).
    Separate,
    /// One pipe for both, so the lines keep the order they were written in. Any bytes are
    /// accepted (shown as UTF-8, with replacement characters).
    Merged,
}

/// Like [`run_streamed`], with `sort` deciding for each line whether it is printed, only
/// kept for the error, or dropped.
///
/// # Errors
/// [`CommandError`] when the command cannot start or exits non-zero.
pub fn run_streamed_with(
    command: &mut Command,
    sort: impl Fn(&str) -> LineUse,
) -> Result<String, CommandError> {
    stream(command, Pipes::Separate, sort)
}

fn stream(
    command: &mut Command,
    pipes: Pipes,
    sort: impl Fn(&str) -> LineUse,
) -> Result<String, CommandError> {
    let command_line = display(command);
    let spawn_error = |error| CommandError::Spawn {
        command: command_line.clone(),
        error,
    };
    let (mut child, streams): (Child, Vec<Box<dyn Read + Send>>) = match pipes {
        Pipes::Separate => {
            let mut child = command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(spawn_error)?;
            let streams = [
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
            .collect();
            (child, streams)
        }
        Pipes::Merged => {
            let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
            let stdout = writer.try_clone().map_err(spawn_error)?;
            let spawned = command.stdout(stdout).stderr(writer).spawn();
            // The command holds the pipe's write ends: release them, so reading ends when
            // the program (and whatever it started that keeps them) exits.
            command.stdout(Stdio::null()).stderr(Stdio::null());
            (spawned.map_err(spawn_error)?, vec![Box::new(reader)])
        }
    };

    let (sender, receiver) = std::sync::mpsc::channel::<String>();
    let readers: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            let sender = sender.clone();
            thread::spawn(move || {
                let reader = BufReader::new(stream);
                let lines: Box<dyn Iterator<Item = String>> = match pipes {
                    Pipes::Separate => Box::new(reader.lines().map_while(Result::ok)),
                    Pipes::Merged => Box::new(
                        reader
                            .split(b'\n')
                            .map_while(Result::ok)
                            .map(|line| String::from_utf8_lossy(&line).into_owned()),
                    ),
                };
                for line in lines {
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
        let use_of_line = sort(&line);
        if use_of_line == LineUse::Show {
            crate::output::tool_line(&line);
        }
        if use_of_line != LineUse::Drop {
            captured.push_str(&line);
            captured.push('\n');
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait().map_err(spawn_error)?;
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

/// What a command run by [`run_limited`] did.
#[derive(Debug)]
pub struct LimitedOutput {
    /// The exit status (a `SIGKILL` status when the limit stopped it).
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The limit was reached and the command was killed.
    pub killed: bool,
    pub elapsed: Duration,
}

/// How long the output pipes may stay open after the command ended (a process that left its
/// process group may still hold them); what arrived by then is kept.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Runs the command in a process group of its own, without printing, for at most `limit`.
///
/// When the limit is reached the whole group is killed (`SIGKILL`). The group is also killed
/// when the command ends by itself, so nothing it started in the background outlives it.
/// Stdin is closed. A non-zero exit is not an error here: the caller reads the output.
///
/// # Errors
/// [`CommandError::Spawn`] when the command cannot start or cannot be waited for.
pub fn run_limited(command: &mut Command, limit: Duration) -> Result<LimitedOutput, CommandError> {
    let command_line = display(command);
    let spawn_error = |error| CommandError::Spawn {
        command: command_line.clone(),
        error,
    };
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(spawn_error)?;
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());

    let mut killed = false;
    loop {
        // Wait without reaping: while the exited child is a zombie its id, which is the
        // group's, cannot be reused, so killing the group below cannot hit another one.
        if exited(&child).map_err(spawn_error)? {
            break;
        }
        if start.elapsed() >= limit {
            killed = true;
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    kill_group(&child);
    let status = child.wait().map_err(spawn_error)?;
    let deadline = Instant::now() + PIPE_GRACE;
    Ok(LimitedOutput {
        status,
        stdout: stdout.finish(deadline),
        stderr: stderr.finish(deadline),
        killed,
        elapsed,
    })
}

/// Whether the child has exited, leaving it unreaped.
fn exited(child: &Child) -> std::io::Result<bool> {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    // With NOHANG, `None` while the child runs; EXITED covers exits, kills and core dumps.
    Ok(waitid(
        WaitId::Pid(rustix::process::Pid::from_child(child)),
        options,
    )?
    .is_some())
}

/// `SIGKILL` to the child's process group (its id, see `process_group(0)`); a group that is
/// already gone is fine.
fn kill_group(child: &Child) {
    let pid = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// A pipe read to its end by a thread of its own.
struct Collected {
    bytes: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Collected {
    /// Waits for the end of the pipe until `deadline`, then returns what was read.
    fn finish(self, deadline: Instant) -> Vec<u8> {
        let _ = self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        self.bytes
            .lock()
            .map(|bytes| bytes.clone())
            .unwrap_or_default()
    }
}

fn collect(stream: Option<impl Read + Send + 'static>) -> Collected {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let (sender, done) = mpsc::channel();
    if let Some(mut stream) = stream {
        let bytes = Arc::clone(&bytes);
        thread::spawn(move || {
            let mut buffer = [0_u8; 8192];
            while let Ok(read) = stream.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                if let Ok(mut bytes) = bytes.lock() {
                    bytes.extend_from_slice(&buffer[..read]);
                }
            }
            let _ = sender.send(());
        });
    } else {
        let _ = sender.send(());
    }
    Collected { bytes, done }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_output_keeps_the_order_of_both_streams() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo one; echo two >&2; echo three; echo four >&2"]);
        let (result, log) = crate::output::capture(|| run_streamed_merged(&mut command));
        assert_eq!(result.expect("succeeds"), "one\ntwo\nthree\nfour\n");
        assert_eq!(log, "      one\n      two\n      three\n      four\n");

        let mut command = Command::new("sh");
        command.args(["-c", "echo progress; echo broken >&2; exit 3"]);
        let Err(CommandError::Failed { status, output, .. }) = run_streamed_merged(&mut command)
        else {
            panic!("exit 3 is a failure");
        };
        assert_eq!(
            (status.code(), output.as_str()),
            (Some(3), "progress\nbroken\n")
        );

        let mut command = Command::new("/nonexistent/hook");
        assert!(matches!(
            run_streamed_merged(&mut command),
            Err(CommandError::Spawn { .. })
        ));
    }

    #[test]
    fn streamed_output_is_captured_from_both_streams() {
        let output = run_streamed(Command::new("sh").args(["-c", "echo out; echo err >&2"]))
            .expect("sh runs");
        assert!(output.contains("out\n"));
        assert!(output.contains("err\n"));
    }

    #[test]
    fn sorted_lines_are_kept_or_dropped() {
        let error = run_streamed_with(
            Command::new("sh").args([
                "-c",
                "echo shown; echo TRACE kept; echo TRACE noise; exit 1",
            ]),
            |line| match line {
                "TRACE kept" => LineUse::Keep,
                "TRACE noise" => LineUse::Drop,
                _ => LineUse::Show,
            },
        )
        .expect_err("exit 1 fails");
        assert_eq!(error.output(), "shown\nTRACE kept\n");
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

    #[test]
    fn limited_command_that_finishes_keeps_its_output() {
        let output = run_limited(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 4"]),
            Duration::from_secs(20),
        )
        .expect("sh runs");
        assert!(!output.killed);
        assert_eq!(output.status.code(), Some(4));
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
    }

    /// Whether a process with this id still exists (and is not a zombie).
    fn alive(pid: &str) -> bool {
        fs_err::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
    }

    /// The process whose id the command wrote to `pid_file` ends within 5 s (an orphan
    /// needs a moment to be reaped).
    fn assert_ended(pid_file: &std::path::Path) {
        let background = fs_err::read_to_string(pid_file).expect("pid written");
        let background = background.trim();
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(background) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(background), "process {background} survived");
    }

    #[test]
    fn the_limit_kills_the_command_and_everything_it_started() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("background.pid");
        let script = format!(
            "sleep 300 & echo $! > {}; echo started; sleep 300",
            pid_file.display()
        );
        let output = run_limited(
            Command::new("sh").args(["-c", &script]),
            Duration::from_millis(500),
        )
        .expect("sh runs");
        assert!(output.killed);
        assert_eq!(output.status.code(), None, "killed by a signal");
        assert_eq!(output.stdout, b"started\n");
        assert!(
            output.elapsed < Duration::from_secs(10),
            "{:?}",
            output.elapsed
        );
        assert_ended(&pid_file);
    }

    #[test]
    fn background_processes_end_with_the_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("background.pid");
        let script = format!(
            "sleep 300 >/dev/null 2>&1 & echo $! > {}",
            pid_file.display()
        );
        let output = run_limited(
            Command::new("sh").args(["-c", &script]),
            Duration::from_secs(20),
        )
        .expect("sh runs");
        assert!(!output.killed);
        assert!(output.status.success());
        assert_ended(&pid_file);
    }
}
