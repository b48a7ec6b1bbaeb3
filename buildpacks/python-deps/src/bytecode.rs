//! Bytecode of the installed packages, compiled once at build time: faster cold starts, and
//! reproducible layers (hash-based `.pyc`, no timestamps).
//!
//! The pycs are **unchecked-hash** (PEP 552): Python loads them without reading and hashing
//! their source on every import (about 5 % of the CPU of an app's start with numpy and
//! pandas). That is right only for a tree whose sources never change without this module
//! compiling it again, which holds for what it compiles: a venv or conda environment layer,
//! made by its buildpack and made again (then compiled again) whenever its key changes, read
//! only in the image. Every module is compiled again each time (`-f`; `compileall` would
//! rewrite a hash-based pyc anyway, its freshness check knows timestamps only), so a venv
//! synced in place gets new bytecode for every module, never a stale one. The app's own code is never compiled: it is read from `/workspace`, where a
//! user debugging in a container may edit it, and Python then checks it as usual.
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

/// How the pycs are checked against their sources (see the module documentation).
pub const INVALIDATION_MODE: &str = "unchecked-hash";

/// Compiles every module under `lib/` of the environment `prefix` except [`SKIPPED`], on every
/// core, to [`INVALIDATION_MODE`] `.pyc`.
///
/// # Errors
/// `compileall` failing, which includes a module that does not compile; callers treat that
/// as a note, not a failure (like pip: such a module is read from source).
pub fn compile(prefix: &Path) -> Result<(), CommandError> {
    compile_with(&prefix.join("bin/python"), &prefix.join("lib"))
}

/// Compiles every module under `tree` except [`SKIPPED`] with the interpreter `python`, as
/// [`compile`] does for an environment: for trees outside one (a `pip install --prefix`
/// layer, the wrapper's harness), which only their buildpack writes.
///
/// # Errors
/// `compileall` failing (see [`compile`]).
pub fn compile_with(python: &Path, tree: &Path) -> Result<(), CommandError> {
    command::run_captured(
        Command::new(python)
            .args([
                "-m",
                "compileall",
                "-q",
                "-f",
                "-j",
                "0",
                "--invalidation-mode",
                INVALIDATION_MODE,
                "-x",
                SKIPPED,
            ])
            .arg(tree)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH),
    )
    .map(|_| ())
}

/// [`compile`], timed in the build log; a module that does not compile is noted.
pub fn compile_logged(prefix: &Path) {
    let compiled =
        blacklodge_common::output::timed("Compiling bytecode (test suites excluded)", || {
            compile(prefix)
        });
    if compiled.is_err() {
        note_not_compiled();
    }
}

/// The build log's note when [`compile`] or [`compile_with`] failed: a module that does not
/// compile is read from source, the build goes on.
pub fn note_not_compiled() {
    blacklodge_common::output::detail(
        "Some modules did not compile to bytecode; Python reads them from source",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PEP 552 flags of a pyc: 0 timestamp, 0b11 checked hash, 0b01 unchecked hash.
    fn flags(pyc: &Path) -> u32 {
        let header = fs_err::read(pyc).expect("read the pyc");
        u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"))
    }

    /// A venv-like prefix (`bin/python` is the machine's python3) with a package and its
    /// test suite: the package gets unchecked-hash pycs, the same bytes when compiled twice,
    /// and its tests none.
    #[test]
    fn packages_get_reproducible_unchecked_hash_bytecode_and_tests_none() {
        let executable = command::run_captured(
            Command::new("python3").args(["-c", "import sys; print(sys.executable)"]),
        )
        .expect("python3 runs (the bench has it)");
        let executable = String::from_utf8_lossy(&executable.stdout)
            .trim()
            .to_string();
        let prefix = blacklodge_common::testing::app(&[
            ("lib/python3/site-packages/pkg/__init__.py", "VALUE = 1\n"),
            ("lib/python3/site-packages/pkg/tests/test_pkg.py", "X = 1\n"),
        ]);
        fs_err::create_dir_all(prefix.path().join("bin")).expect("mkdir");
        std::os::unix::fs::symlink(&executable, prefix.path().join("bin/python")).expect("link");

        compile(prefix.path()).expect("compiles");
        let site = prefix.path().join("lib/python3/site-packages/pkg");
        let pycs: Vec<_> = fs_err::read_dir(site.join("__pycache__"))
            .expect("bytecode written")
            .map(|entry| entry.expect("entry").path())
            .collect();
        assert_eq!(pycs.len(), 1, "{pycs:?}");
        assert_eq!(flags(&pycs[0]), 0b01, "unchecked-hash");
        assert!(!site.join("tests/__pycache__").exists(), "tests skipped");

        let first = fs_err::read(&pycs[0]).expect("read");
        compile(prefix.path()).expect("compiles again");
        assert_eq!(fs_err::read(&pycs[0]).expect("read"), first, "reproducible");
    }
}
