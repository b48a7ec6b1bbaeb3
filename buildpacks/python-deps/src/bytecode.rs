//! Bytecode of the installed packages, compiled once at build time: faster cold starts, and
//! reproducible layers (hash-based `.pyc`, no timestamps).
//!
//! Test suites shipped inside packages (`pandas/tests`, `numpy/_core/tests`: two thirds of
//! the files of a numpy + pandas venv) are not compiled: an app never imports them, and
//! their bytecode would cost every cold build seconds and the image tens of megabytes. They
//! still work, read from source, if someone runs them.

use blacklodge_common::command::{self, CommandError};
use std::path::Path;
use std::process::Command;

/// Matched (`re.search`) against each path: directories named `test` or `tests`.
pub const SKIPPED: &str = r"/tests?/";

/// 1980-01-01, the earliest time a wheel (zip) can hold. With SOURCE_DATE_EPOCH set, tools
/// that compile on their own also write hash-based bytecode.
pub const SOURCE_DATE_EPOCH: &str = "315532800";

/// Compiles every module of the venv's `lib/` except [`SKIPPED`], on every core, to
/// checked-hash `.pyc` (what pip and uv write with `SOURCE_DATE_EPOCH` set).
///
/// # Errors
/// `compileall` failing, which includes a module that does not compile; callers treat that
/// as a note, not a failure (like pip: such a module is read from source).
pub fn compile(venv: &Path) -> Result<(), CommandError> {
    command::run_captured(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                "--invalidation-mode",
                "checked-hash",
                "-x",
                SKIPPED,
            ])
            .arg(venv.join("lib"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH),
    )
    .map(|_| ())
}

/// [`compile`], timed in the build log; a module that does not compile is noted.
pub fn compile_logged(venv: &Path) {
    let compiled =
        blacklodge_common::output::timed("Compiling bytecode (test suites excluded)", || {
            compile(venv)
        });
    if compiled.is_err() {
        blacklodge_common::output::detail(
            "Some modules did not compile to bytecode; Python reads them from source",
        );
    }
}
