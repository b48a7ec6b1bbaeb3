//! The build log style shared by every buildpack.
//!
//! ```text
//! ## Blacklodge Python
//! - Selecting Python version
//!   - Python 3.11.2 (3.11 requested in .python-version)
//! - Installing Python
//!   - Downloading cpython-3.11.2 ... done (1.3s)
//! ```
//!
//! Every function writes to the process's stdout (warnings to stderr) unless the calling
//! thread has a writer injected with [`capture`]: then all of them write there, in order, so a
//! log block can be asserted whole by a unit test.

use std::cell::RefCell;
use std::fmt::Display;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::error::WIDTH;
use crate::wrap::in_margin;

thread_local! {
    /// The writer injected by [`capture`] for this thread, if any.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Which stream a line belongs to when no writer is injected.
#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

/// Writes `text` to the injected writer, else to `stream`. A closed stream is not an error
/// worth failing a build over, so write errors are ignored (as `print!` would panic instead).
fn write(stream: Stream, text: &str) {
    let captured = CAPTURED.with(|captured| {
        captured
            .borrow_mut()
            .as_mut()
            .map(|buffer| buffer.extend_from_slice(text.as_bytes()))
            .is_some()
    });
    if captured {
        return;
    }
    let _ = match stream {
        Stream::Out => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
        Stream::Err => std::io::stderr().lock().write_all(text.as_bytes()),
    };
}

/// Runs `work` with every line this module writes on this thread collected instead of
/// printed (stdout and stderr lines together, in the order written), and returns its result
/// with the text. Nested calls collect into the innermost.
pub fn capture<T>(work: impl FnOnce() -> T) -> (T, String) {
    let outer = CAPTURED.with(|captured| captured.borrow_mut().replace(Vec::new()));
    let result = work();
    let text = CAPTURED.with(|captured| {
        let mut slot = captured.borrow_mut();
        let text = slot.take().unwrap_or_default();
        *slot = outer;
        text
    });
    (result, String::from_utf8_lossy(&text).into_owned())
}

/// Prints the buildpack header: the first line each buildpack writes.
pub fn header(name: impl Display) {
    write(Stream::Out, &format!("\n## {name}\n"));
}

/// A step of the build.
pub fn step(text: impl Display) {
    write(Stream::Out, &format!("- {text}\n"));
}

/// A detail below the current step.
pub fn detail(text: impl Display) {
    write(Stream::Out, &format!("  - {text}\n"));
}

/// A line below a detail: one item of a list the detail introduces (e.g. the reasons a
/// cached layer was discarded).
pub fn sub_detail(text: impl Display) {
    write(Stream::Out, &format!("    - {text}\n"));
}

/// A line of a tool's own output, shown below the heading of [`stream_heading`].
pub fn tool_line(text: impl Display) {
    write(Stream::Out, &format!("      {text}\n"));
}

/// A warning: something the user should change, but which does not fail the build. Laid out
/// as an error's detail is: the body wrapped to [`WIDTH`] columns behind `! ` by the rule of
/// [`crate::wrap`].
pub fn warning(title: impl Display, body: impl Display) {
    // Warnings go to stderr like errors so they stand out in CI logs.
    let text = format!(
        "\n! WARNING: {title}\n!\n{}\n",
        in_margin(&body.to_string(), "! ", WIDTH)
    );
    write(Stream::Err, &text);
}

/// A note on stderr below the current detail: a transient failure being retried.
pub fn retry_note(text: impl Display) {
    write(Stream::Err, &format!("      ({text})\n"));
}

/// Prints a rendered error message (see `error::UserError::render`) to stderr.
pub fn error(rendered: &str) {
    write(Stream::Err, rendered);
}

/// Runs `work` while showing `text ... done (1.2s)`: for steps that may take a while.
///
/// # Errors
/// Returns the error of `work` unchanged (after finishing the line with "failed").
pub fn timed<T, E>(text: impl Display, work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    write(Stream::Out, &format!("  - {text} ... "));
    let start = Instant::now();
    let result = work();
    let elapsed = format_duration(start.elapsed());
    match &result {
        Ok(_) => write(Stream::Out, &format!("done ({elapsed})\n")),
        Err(_) => write(Stream::Out, &format!("failed ({elapsed})\n")),
    }
    result
}

/// Starts a step whose tool writes its own output: the tool's lines are indented by the
/// caller's command runner (through [`tool_line`]); this prints the heading.
pub fn stream_heading(text: impl Display) {
    write(Stream::Out, &format!("  - {text}\n"));
}

/// A count with its noun in the right number: `1 package`, `0 packages`, `9 packages`.
///
/// Every count the build log prints goes through this (or [`noun`]), so no line reads
/// "1 distributions".
#[must_use]
pub fn count<N: Display + PartialEq + From<u8> + Copy>(
    n: N,
    singular: &str,
    plural: &str,
) -> String {
    let word = if n == N::from(1) { singular } else { plural };
    format!("{n} {word}")
}

/// The noun alone, in the number `n` asks for: `binding` for 1, `bindings` otherwise.
#[must_use]
pub fn noun<'a, N: PartialEq + From<u8> + Copy>(
    n: N,
    singular: &'a str,
    plural: &'a str,
) -> &'a str {
    if n == N::from(1) { singular } else { plural }
}

/// `1.2s`, `2m 5s`, `850ms`.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis < 60_000 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        let secs = duration.as_secs();
        format!("{}m {}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(0, "package", "packages"), "0 packages");
        assert_eq!(count(1, "package", "packages"), "1 package");
        assert_eq!(count(2, "distribution", "distributions"), "2 distributions");
        assert_eq!(count(1_u64, "second", "seconds"), "1 second");
        assert_eq!(noun(1, "binding", "bindings"), "binding");
        assert_eq!(noun(3, "binding", "bindings"), "bindings");
    }

    #[test]
    fn a_step_block_is_written_in_order() {
        let (result, log) = capture(|| {
            header("Blacklodge Python");
            step("Installing Python");
            let result: Result<u8, ()> = timed("Downloading cpython-3.11.2", || Ok(7));
            detail("Discarding cached Python:");
            sub_detail("Python version changed (3.11.1 → 3.11.2)");
            stream_heading("Running pip");
            tool_line("Successfully installed flask-3.1.2");
            result
        });
        assert_eq!(result, Ok(7));
        let log = log.replace(|c: char| c.is_ascii_digit(), "N");
        assert_eq!(
            log,
            "\n## Blacklodge Python\n- Installing Python\n  - Downloading cpython-N.NN.N ... done (Nms)\n  - Discarding cached Python:\n    - Python version changed (N.NN.N → N.NN.N)\n  - Running pip\n      Successfully installed flask-N.N.N\n"
        );
    }

    #[test]
    fn a_failed_timed_step_says_so() {
        let (result, log) = capture(|| timed("Fetching uv", || Err::<(), _>("offline")));
        assert_eq!(result, Err("offline"));
        assert!(log.starts_with("  - Fetching uv ... failed ("), "{log}");
        assert!(log.ends_with(")\n"), "{log}");
    }

    #[test]
    fn warnings_and_errors_join_the_same_log() {
        let ((), log) = capture(|| {
            step("Checking Procfile");
            warning(
                "Unused Procfile entry",
                "web is set twice.\nThe last one is used.",
            );
            retry_note("attempt 1 failed: timeout; retrying in 1s");
            error("\n! ERROR: Invalid Procfile\n");
        });
        assert_eq!(
            log,
            "- Checking Procfile\n\n! WARNING: Unused Procfile entry\n!\n! web is set twice.\n! The last one is used.\n\n      (attempt 1 failed: timeout; retrying in 1s)\n\n! ERROR: Invalid Procfile\n"
        );
    }

    #[test]
    fn warnings_are_laid_out_as_errors_are() {
        let body = "The app has no Procfile, and none of the shapes this buildpack detects fits the files it has:\n- main.py has no module-level `app` or `application`, which is what would be served\nGive it one with a Procfile, e.g. `web: gunicorn --bind 0.0.0.0:$PORT app:app`, or see https://example.com/docs/web.md#the-default-process-of-an-image.\n\nThe output of the step:\n    a tool's indented line that is longer than eighty columns, which stays as the tool wrote it\nunwrapped too, up to the blank line\n";
        let ((), log) = capture(|| warning("The image has no default process", body));
        assert_eq!(
            log,
            "\n! WARNING: The image has no default process\n!\n\
             ! The app has no Procfile, and none of the shapes this buildpack detects fits\n\
             ! the files it has:\n\
             ! - main.py has no module-level `app` or `application`, which is what would be served\n\
             ! Give it one with a Procfile, e.g.\n\
             ! `web: gunicorn --bind 0.0.0.0:$PORT app:app`, or see\n\
             ! https://example.com/docs/web.md#the-default-process-of-an-image.\n\
             !\n\
             ! The output of the step:\n\
             !     a tool's indented line that is longer than eighty columns, which stays as the tool wrote it\n\
             ! unwrapped too, up to the blank line\n\
             \n"
        );
        // The same body as an error's detail has the same lines.
        let error = crate::error::UserError::new("The image has no default process", body, "");
        assert_eq!(
            log.replace("! WARNING:", "! ERROR:"),
            format!("{}\n", error.render())
        );
    }

    #[test]
    fn nested_captures_collect_into_the_innermost() {
        let (inner, outer) = capture(|| {
            step("outer");
            let ((), inner) = capture(|| step("inner"));
            step("outer again");
            inner
        });
        assert_eq!(inner, "- inner\n");
        assert_eq!(outer, "- outer\n- outer again\n");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m 5s");
    }
}
