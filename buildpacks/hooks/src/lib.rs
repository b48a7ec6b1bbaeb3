//! What the two build-hook buildpacks share.
//!
//! - `blacklodge/hooks-pre` runs after Python is installed and before the dependencies are:
//!   it exports `.s2i/environment` and runs `bin/pre_compile`.
//! - `blacklodge/hooks-post` runs last: `bin/post_compile`, then `.s2i/bin/assemble` (with the
//!   stock S2I scripts on `STI_SCRIPTS_PATH`); `.s2i/bin/run` becomes the `web` process.
//!
//! Modules: [`app`] finds and checks all of an app's scripts at once; [`script`] finds an app's scripts and checks them before anything runs (present,
//! executable, an interpreter line, no root-only commands); [`run`] runs one with its output
//! under a heading; [`s2i`] reads `.s2i/` (what is supported, what is refused) and writes the
//! stock scripts; [`errors`] explains every failure.

pub mod app;
pub mod errors;
pub mod run;
pub mod s2i;
pub mod script;

#[cfg(test)]
use tempfile as _;
