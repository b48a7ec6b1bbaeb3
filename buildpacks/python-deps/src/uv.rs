//! Running the pinned uv: one place that sets what every uv invocation needs.

use crate::ca::Tls;
use crate::python::Python;
use std::path::{Path, PathBuf};
use std::process::Command;

/// 1980-01-01, the earliest time a wheel (zip) can hold. With SOURCE_DATE_EPOCH set,
/// bytecode is compiled in hash-based mode, so layers are reproducible.
pub const SOURCE_DATE_EPOCH: &str = "315532800";

/// uv, its cache and the interpreter to install for.
#[derive(Debug, Clone)]
pub struct Uv {
    pub binary: PathBuf,
    pub cache_dir: PathBuf,
    pub python: Python,
    pub tls: Tls,
}

impl Uv {
    /// `uv <args>` with the build's settings: our Python only (never a downloaded one),
    /// bytecode compiled, files copied out of the cache (it is another layer), no progress
    /// bars, system certificates (+ the CA bindings).
    #[must_use]
    pub fn command(&self, app_dir: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(app_dir)
            .env("UV_CACHE_DIR", &self.cache_dir)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_COMPILE_BYTECODE", "1")
            .env("UV_LINK_MODE", "copy")
            .env("UV_NO_PROGRESS", "1")
            .env("NO_COLOR", "1")
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH);
        self.tls.apply(&mut command);
        command
    }
}
