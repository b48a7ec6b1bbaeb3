//! Running the pinned uv: one place that sets what every uv invocation needs.

use crate::ca::Tls;
use crate::errors::DepsError;
use crate::python::Python;
use crate::{layers, tool};
use blacklodge_common::command::{self, CommandError, LineUse};
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bytecode::SOURCE_DATE_EPOCH;

/// uv, its cache and the interpreter to install for.
#[derive(Debug, Clone)]
pub struct Uv {
    /// Where [`Uv::install_binary`] puts uv (only a build that installs needs it).
    pub binary: PathBuf,
    /// The index uv itself is fetched from.
    pub index: String,
    pub cache_dir: PathBuf,
    pub python: Python,
    pub tls: Tls,
}

impl Uv {
    /// Fetches the pinned uv into its build-only layer. Called only when something is to be
    /// installed: a reused venv needs no uv, so an unchanged rebuild neither fetches nor
    /// restores it.
    ///
    /// # Errors
    /// Fetching or unpacking uv.
    pub fn install_binary<B>(&self, context: &BuildContext<B>) -> libcnb::Result<(), B::Error>
    where
        B: Buildpack,
        B::Error: From<DepsError>,
    {
        layers::uv::install(context, &tool::uv(), &self.index).map(|_| ())
    }

    /// Empties the download cache of what is cheap to fetch again (pre-built wheels and
    /// unpacked archives: `uv cache prune --ci`), keeping the wheels uv built from source.
    /// The cache layer is restored before every build, so its size is paid by every build.
    ///
    /// # Errors
    /// uv failing.
    pub fn prune_cache(&self, app_dir: &Path) -> Result<(), CommandError> {
        command::run_captured(self.command(app_dir).args(["cache", "prune", "--ci"])).map(|_| ())
    }

    /// `uv <args>` with the build's settings: our Python only (never a downloaded one), no
    /// progress bars, system certificates (+ the CA bindings). Bytecode is compiled after
    /// the install by [`crate::bytecode`] (uv would also compile the packages' test suites).
    ///
    /// Files are hard-linked from the cache into the venv (both are layers on the same
    /// volume), so each unpacked wheel is written to disk once; the cache's links to
    /// pre-built wheels are pruned after the install ([`Uv::prune_cache`]), and uv never
    /// writes into an installed file, so the venv does not share anything with a later cache.
    #[must_use]
    pub fn command(&self, app_dir: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(app_dir)
            .env("UV_CACHE_DIR", &self.cache_dir)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_COMPILE_BYTECODE", "0")
            .env("UV_LINK_MODE", "hardlink")
            .env("UV_NO_PROGRESS", "1")
            .env("NO_COLOR", "1")
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH);
        self.tls.apply(&mut command);
        command
    }
}

/// The `RUST_LOG` filter that makes uv report the HTTP status of each index request (uv's
/// `cached_client` module). With `--index-strategy unsafe-best-match`, uv treats an index that
/// answers 401/403 as having no such package, and its error says only "not found in the
/// package registry"; these lines let [`crate::explain`] name the rejected credentials.
/// [`sort_status_line`] keeps them out of the build log.
pub const STATUS_TRACE: (&str, &str) = ("RUST_LOG", "uv_client::cached_client=trace");

/// For [`command::run_streamed_with`] with [`STATUS_TRACE`]: uv's own diagnostics are not
/// printed; a response with status 401 or 403 is kept for explaining a failure.
#[must_use]
pub fn sort_status_line(line: &str) -> LineUse {
    if !crate::explain::is_diagnostic(line) {
        LineUse::Show
    } else if crate::explain::rejected_status(line).is_some() {
        LineUse::Keep
    } else {
        LineUse::Drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rejections_of_the_diagnostics_are_kept() {
        // Real lines of uv 0.13.9 with STATUS_TRACE.
        assert_eq!(
            sort_status_line(
                "TRACE Received response for fresh request with status 401 Unauthorized for: http://127.0.0.1:38999/simple/six/"
            ),
            LineUse::Keep
        );
        assert_eq!(
            sort_status_line(
                "TRACE Received response for fresh request with status 200 OK for: https://pypi.org/simple/six/"
            ),
            LineUse::Drop
        );
        assert_eq!(
            sort_status_line("DEBUG No cache entry for: https://pypi.org/simple/six/"),
            LineUse::Drop
        );
        assert_eq!(sort_status_line(" + six==1.17.0"), LineUse::Show);
    }
}
