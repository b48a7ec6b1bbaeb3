//! What the Blacklodge dependency buildpacks (pip, Poetry, uv, Pipenv) share.
//!
//! - [`managers`]: which package manager a repo uses; conflicts and missing locks.
//! - [`tool`] and [`layers::uv`]: hash-pinned installer wheels (index or `vendor/`).
//! - [`layers::venv`]: the venv layer of the lock-based managers, with cache decisions as data.
//! - [`bytecode`]: reproducible bytecode of the installed packages.
//! - [`ca`]: `ca-certificates` bindings for every tool; [`sbom`]: CycloneDX of the venv.
//! - [`locked`]: a lock as an exact, hash-checked requirements file (index packages and
//!   direct references); [`local_sources`]: its local path dependencies; [`pyjson`]: Python's
//!   `json.dumps`, which the Poetry and Pipenv lock hashes are computed over.
//! - [`explain`] and [`errors`]: installer failures and shared errors, explained once.

pub mod bytecode;
pub mod ca;
pub mod errors;
pub mod explain;
pub mod layers;
pub mod local_sources;
pub mod locked;
pub mod managers;
pub mod names;
pub mod pyjson;
pub mod python;
pub mod sbom;
pub mod setup;
pub mod tool;
pub mod translated;
pub mod uv;
