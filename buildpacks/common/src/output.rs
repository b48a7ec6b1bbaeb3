//! The build log style shared by every buildpack.
//!
//! ```text
//! ## Blacklodge Python
//! - Selecting Python version
//!   - Python 3.11.2 (3.11 requested in .python-version)
//! - Installing Python
//!   - Downloading cpython-3.11.2 ... done (1.3s)
//! ```

use std::fmt::Display;
use std::io::Write;
use std::time::{Duration, Instant};

/// Prints the buildpack header: the first line each buildpack writes.
pub fn header(name: impl Display) {
    println!("\n## {name}");
}

/// A step of the build.
pub fn step(text: impl Display) {
    println!("- {text}");
}

/// A detail below the current step.
pub fn detail(text: impl Display) {
    println!("  - {text}");
}

/// A warning: something the user should change, but which does not fail the build.
pub fn warning(title: impl Display, body: impl Display) {
    // Warnings go to stderr like errors so they stand out in CI logs.
    eprintln!("\n! WARNING: {title}\n!");
    for line in body.to_string().lines() {
        eprintln!("! {line}");
    }
    eprintln!();
}

/// Runs `work` while showing `text ... done (1.2s)`: for steps that may take a while.
///
/// # Errors
/// Returns the error of `work` unchanged (after finishing the line with "failed").
pub fn timed<T, E>(text: impl Display, work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    print!("  - {text} ... ");
    let _ = std::io::stdout().flush();
    let start = Instant::now();
    let result = work();
    let elapsed = format_duration(start.elapsed());
    match &result {
        Ok(_) => println!("done ({elapsed})"),
        Err(_) => println!("failed ({elapsed})"),
    }
    result
}

/// Starts a step whose tool writes its own output: the tool's lines are indented by the
/// caller's command runner; this prints the heading.
pub fn stream_heading(text: impl Display) {
    println!("  - {text}");
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
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m 5s");
    }
}
