//! Build-time validation: `blacklodge validate --json` imports the entry point in the built
//! environment (the same interpreter, packages and `sys.path` as at launch) and checks that
//! the harness can call it. Its JSON answer becomes the build log line or the build error.
//!
//! The import runs user code, so it runs under a time limit: `validate --timeout` makes
//! Python dump every thread's stack and exit when the limit is reached (faulthandler's
//! watchdog, which works even while the import holds the GIL), and the buildpack kills the
//! whole process group a little later in any case. Whatever the import started in the
//! background is killed when the check ends.

use crate::errors::{ValidationFailure, WrapperError};
use blacklodge_common::command::{self, CommandError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long after the limit the buildpack kills the check if Python did not stop by itself
/// (time for faulthandler to write the stacks).
const KILL_GRACE: Duration = Duration::from_secs(5);
/// The most frames of the hung import the error shows (the innermost ones).
const MAX_FRAMES: usize = 12;

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

/// An import that did not finish within the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hung {
    pub(crate) entrypoint: String,
    pub(crate) limit: Duration,
    /// Where the import was, outermost call first (empty when Python printed no stack).
    pub(crate) frames: Vec<Frame>,
}

/// One frame of the stack faulthandler printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Relative to the app directory for the app's own files.
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) function: String,
    /// The source line, for the app's own files.
    pub(crate) code: Option<String>,
}

impl Frame {
    /// Python's traceback format.
    pub(crate) fn render(&self) -> String {
        let mut text = format!(
            "  File \"{}\", line {}, in {}",
            self.file, self.line, self.function
        );
        if let Some(code) = &self.code {
            text.push_str("\n    ");
            text.push_str(code);
        }
        text
    }
}

/// `  File "/workspace/model.py", line 7 in wait_forever` → (file, line, function).
fn parse_frame(line: &str) -> Option<(String, u32, String)> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (file, rest) = rest.split_once("\", line ")?;
    let (number, function) = rest.split_once(" in ")?;
    Some((
        file.to_string(),
        number.trim().parse().ok()?,
        function.trim().to_string(),
    ))
}

/// The stack of the hung import from faulthandler's dump on stderr: the thread that runs
/// the app's code (the main thread, importing), from the app's first frame inwards, without
/// the import machinery's frozen frames.
pub(crate) fn hung_frames(stderr: &str, app_dir: &Path) -> Vec<Frame> {
    let dump = stderr
        .rfind("Timeout (")
        .map_or(stderr, |start| &stderr[start..]);
    // One block of frames per thread, innermost frame first.
    let mut threads: Vec<Vec<(String, u32, String)>> = Vec::new();
    for line in dump.lines() {
        if let Some(frame) = parse_frame(line) {
            match threads.last_mut() {
                Some(thread) => thread.push(frame),
                None => threads.push(vec![frame]),
            }
        } else if line.contains("(most recent call first)") {
            threads.push(Vec::new());
        }
    }
    let app_prefix = format!("{}/", app_dir.display());
    let is_app = |file: &str| file.starts_with(&app_prefix);
    let has_app_code =
        |thread: &&Vec<(String, u32, String)>| thread.iter().any(|(file, ..)| is_app(file));
    // The importing thread runs the harness's validate command; a thread the module
    // started may be listed before it.
    let importing = |thread: &&Vec<(String, u32, String)>| {
        thread
            .iter()
            .any(|(file, ..)| file.ends_with("blacklodge_harness/cli.py"))
    };
    let Some(thread) = threads
        .iter()
        .find(|thread| has_app_code(thread) && importing(thread))
        .or_else(|| threads.iter().find(has_app_code))
        .or_else(|| threads.iter().find(|thread| !thread.is_empty()))
    else {
        return Vec::new();
    };
    let outermost_app = thread.iter().rposition(|(file, ..)| is_app(file));
    let mut frames: Vec<Frame> = thread[..outermost_app.map_or(thread.len(), |i| i + 1)]
        .iter()
        .rev()
        .filter(|(file, ..)| !file.starts_with("<frozen "))
        .map(|(file, line, function)| {
            let relative = file.strip_prefix(&app_prefix);
            Frame {
                file: relative.unwrap_or(file).to_string(),
                line: *line,
                function: function.clone(),
                code: relative.and_then(|_| source_line(Path::new(file), *line)),
            }
        })
        .collect();
    if frames.len() > MAX_FRAMES {
        frames.drain(..frames.len() - MAX_FRAMES);
    }
    frames
}

fn source_line(file: &Path, line: u32) -> Option<String> {
    let text = fs_err::read_to_string(file).ok()?;
    let code = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    Some(code.trim().to_string()).filter(|code| !code.is_empty())
}

pub(crate) fn run(
    launcher: &Path,
    entrypoint: &str,
    app_dir: &Path,
    limit: Duration,
) -> Result<Validated, WrapperError> {
    let mut validate = Command::new("python3");
    validate
        .arg(launcher)
        .args([
            "validate",
            "--json",
            "--timeout",
            &limit.as_secs().to_string(),
            "--entrypoint",
            entrypoint,
            "--app-dir",
        ])
        .arg(app_dir)
        .current_dir(app_dir)
        // Imports at build time must not leave __pycache__ directories in the app.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let command_line = command::display(&validate);
    let output = command::run_limited(&mut validate, limit + KILL_GRACE)
        .map_err(WrapperError::ValidateCrashed)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let answered = interpret(output.status.success(), &stdout, || CommandError::Failed {
        command: command_line,
        status: output.status,
        output: format!("{stdout}{stderr}"),
    });
    match answered {
        Err(WrapperError::ValidateCrashed(_)) if output.killed || output.elapsed >= limit => {
            Err(WrapperError::ValidateTimeout(Hung {
                entrypoint: entrypoint.to_string(),
                limit,
                frames: hung_frames(&stderr, app_dir),
            }))
        }
        other => other,
    }
}

const KAFKA_CHECK: &str = include_str!("python/check_kafka.py");

/// The Kafka client as the worker will import it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct KafkaClient {
    pub(crate) version: String,
    pub(crate) librdkafka: String,
    /// `confluent_kafka/__init__.py` where it was found.
    pub(crate) file: String,
}

impl KafkaClient {
    /// `confluent-kafka 2.16.2 (librdkafka 2.16.0), from the harness layer`.
    pub(crate) fn describe(&self, dependency_dirs: &[PathBuf]) -> String {
        let from = if dependency_dirs
            .iter()
            .any(|dir| Path::new(&self.file).starts_with(dir))
        {
            "the harness layer"
        } else {
            "the app's packages"
        };
        format!(
            "confluent-kafka {} (librdkafka {}) imports, from {from}",
            self.version, self.librdkafka
        )
    }
}

/// Imports `confluent_kafka` with the app's Python (`python3` on `PATH`) and the harness
/// layer's dependency directories, in the app directory, as the worker will.
pub(crate) fn kafka_client(
    dependency_dirs: &[PathBuf],
    app_dir: &Path,
) -> Result<KafkaClient, WrapperError> {
    let failed = |error| WrapperError::KafkaClient {
        requirements: crate::harness::kafka_requirements(),
        error,
    };
    let output = command::run_captured(
        Command::new("python3")
            .args(["-c", KAFKA_CHECK])
            .args(dependency_dirs)
            .current_dir(app_dir)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    )
    .map_err(failed)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| {
            failed(CommandError::Failed {
                command: "python3 -c 'import confluent_kafka'".into(),
                status: output.status,
                output: stdout.clone().into_owned(),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn the_kafka_client_is_imported_from_the_dependency_directories() {
        use blacklodge_common::error::UserFacing;
        let dir = tempfile::tempdir().expect("tempdir");
        let site = dir.path().join("deps/lib/python3/site-packages");
        fs_err::create_dir_all(site.join("confluent_kafka")).expect("mkdir");
        fs_err::write(
            site.join("confluent_kafka/__init__.py"),
            "def version():\n    return ('2.16.2', 0)\n\ndef libversion():\n    return ('2.16.0', 0)\n",
        )
        .expect("write");
        let app = dir.path().join("app");
        fs_err::create_dir_all(&app).expect("mkdir");
        let dirs = vec![site.clone()];
        let client = kafka_client(&dirs, &app).expect("imports");
        assert_eq!(client.version, "2.16.2");
        assert_eq!(
            client.describe(&dirs),
            "confluent-kafka 2.16.2 (librdkafka 2.16.0) imports, from the harness layer"
        );
        assert_eq!(
            client.describe(&[]),
            "confluent-kafka 2.16.2 (librdkafka 2.16.0) imports, from the app's packages"
        );
        assert!(
            !app.join("__pycache__").exists() && !site.join("confluent_kafka/__pycache__").exists()
        );

        // A broken build of it (here: one that raises) is an error with Python's traceback.
        fs_err::write(
            site.join("confluent_kafka/__init__.py"),
            "raise ImportError('librdkafka.so.1: cannot open shared object file')\n",
        )
        .expect("write");
        let Err(error) = kafka_client(&dirs, &app) else {
            panic!("a failing import passed");
        };
        let error = error.user_error();
        assert_eq!(error.title, "The Kafka client does not import");
        assert!(
            error.detail.starts_with("The worker mode runs on confluent-kafka (confluent-kafka>=2.5), and importing confluent_kafka with the app's Python failed:\n"),
            "{}",
            error.detail
        );
        assert!(
            error
                .detail
                .ends_with("ImportError: librdkafka.so.1: cannot open shared object file"),
            "{}",
            error.detail
        );
        assert_eq!(
            error.fix,
            "If your app installs confluent-kafka itself, install a release that imports on this image: PyPI's manylinux wheels include librdkafka; a build from source needs librdkafka in the image. Or remove \"worker\" from modes (and the [kafka] table) if the image needs no worker."
        );
    }

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

    const DUMP: &str = r#"some output of the module
Timeout (0:00:05)!
Thread 0x00007f2b3c9f5700 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 320 in wait
  File "/workspace/worker.py", line 3 in poll

Thread 0x00007f0e12bc0b80 (most recent call first):
  File "/layers/x/site-packages/slowlib/net.py", line 40 in connect
  File "/workspace/pkg/model.py", line 7 in wait_forever
  File "/workspace/pkg/model.py", line 10 in <module>
  File "<frozen importlib._bootstrap>", line 241 in _call_with_frames_removed
  File "/usr/lib/python3.11/importlib/__init__.py", line 126 in import_module
  File "/layers/blacklodge_wrapper/harness/lib/blacklodge_harness/entrypoint.py", line 466 in resolve
  File "/layers/blacklodge_wrapper/harness/lib/blacklodge_harness/cli.py", line 136 in _cmd_validate
"#;

    #[test]
    fn the_hung_stack_starts_at_the_apps_code() {
        let app = tempfile::tempdir().expect("tempdir");
        fs_err::create_dir_all(app.path().join("pkg")).expect("mkdir");
        fs_err::write(
            app.path().join("pkg/model.py"),
            "import time\n\n\ndef wait_forever():\n    # forever\n\n    time.sleep(10**6)\n\n\nwait_forever()\n",
        )
        .expect("write");
        let dump = DUMP.replace("/workspace", &app.path().display().to_string());
        let importing = vec![
            "  File \"pkg/model.py\", line 10, in <module>\n    wait_forever()".to_string(),
            "  File \"pkg/model.py\", line 7, in wait_forever\n    time.sleep(10**6)".to_string(),
            "  File \"/layers/x/site-packages/slowlib/net.py\", line 40, in connect".to_string(),
        ];
        // The importing thread wins over a thread the module started (listed first).
        let frames = hung_frames(&dump, app.path());
        let rendered: Vec<String> = frames.iter().map(Frame::render).collect();
        assert_eq!(rendered, importing);

        // Without the harness's frames, the first thread running app code.
        let without_harness = dump
            .lines()
            .filter(|line| !line.contains("blacklodge_harness"))
            .collect::<Vec<_>>()
            .join("\n");
        let frames = hung_frames(&without_harness, app.path());
        let rendered: Vec<String> = frames.iter().map(Frame::render).collect();
        assert_eq!(
            rendered,
            vec![
                "  File \"worker.py\", line 3, in poll".to_string(),
                "  File \"/usr/lib/python3.11/threading.py\", line 320, in wait".to_string(),
            ]
        );
    }

    /// The embedded harness and its `blacklodge` command in a temporary directory, and an app
    /// directory; runs with the `python3` on `PATH`.
    fn harness_and_app(model: &str) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = dir.path().join("lib");
        crate::harness::write_package(&lib).expect("write harness");
        let launcher = dir.path().join("blacklodge");
        fs_err::write(
            &launcher,
            crate::layers::harness::launcher_script(&lib, &[]),
        )
        .expect("write launcher");
        let app = dir.path().join("app");
        fs_err::create_dir_all(&app).expect("mkdir");
        fs_err::write(app.join("model.py"), model).expect("write model");
        (dir, launcher, app)
    }

    fn alive(pid: &str) -> bool {
        fs_err::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
    }

    fn wait_until_gone(pid: &str) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        !alive(pid)
    }

    /// At import: a background process (its pid in `background.pid`), then `tail`.
    const SPAWNS: &str = "import subprocess, pathlib\n_child = subprocess.Popen(['sleep', '300'])\npathlib.Path(__file__).with_name('background.pid').write_text(str(_child.pid))\n";

    #[test]
    fn a_hanging_import_is_stopped_at_the_limit_with_its_stack() {
        let (_dir, launcher, app) = harness_and_app(&format!(
            "{SPAWNS}import time\n\n\ndef wait_forever():\n    time.sleep(10**6)\n\n\nwait_forever()\n\ndef predict(payload):\n    return payload\n"
        ));
        let start = std::time::Instant::now();
        let result = run(&launcher, "model:predict", &app, Duration::from_secs(1));
        let elapsed = start.elapsed();
        let Err(WrapperError::ValidateTimeout(hung)) = result else {
            panic!("not a timeout: {result:?}");
        };
        assert!(elapsed < Duration::from_secs(1) + KILL_GRACE, "{elapsed:?}");
        assert_eq!(hung.entrypoint, "model:predict");
        assert_eq!(hung.limit, Duration::from_secs(1));
        let rendered: Vec<String> = hung.frames.iter().map(Frame::render).collect();
        assert_eq!(
            rendered[..2],
            [
                "  File \"model.py\", line 11, in <module>\n    wait_forever()".to_string(),
                "  File \"model.py\", line 8, in wait_forever\n    time.sleep(10**6)".to_string(),
            ]
        );
        let background = fs_err::read_to_string(app.join("background.pid")).expect("pid");
        assert!(
            wait_until_gone(&background),
            "process {background} survived"
        );
    }

    #[test]
    fn what_a_quick_import_started_ends_with_the_check() {
        let (_dir, launcher, app) = harness_and_app(&format!(
            "{SPAWNS}\ndef predict(payload):\n    return payload\n"
        ));
        let validated =
            run(&launcher, "model:predict", &app, Duration::from_mins(1)).expect("valid");
        assert_eq!(validated.call, "predict(payload)");
        let background = fs_err::read_to_string(app.join("background.pid")).expect("pid");
        assert!(
            wait_until_gone(&background),
            "process {background} survived"
        );
    }

    #[test]
    fn no_stack_without_a_dump() {
        assert!(hung_frames("Killed\n", Path::new("/workspace")).is_empty());
    }

    #[test]
    fn no_json_is_a_crash() {
        assert!(matches!(
            interpret(false, "", crash),
            Err(WrapperError::ValidateCrashed(_))
        ));
    }
}
