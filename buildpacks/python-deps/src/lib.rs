//! What the Blacklodge dependency buildpacks (pip, Poetry, uv, Pipenv) share, and what the
//! buildpacks that install next to an app's packages (wrapper, web) share.
//!
//! - [`managers`]: which package manager a repo uses; conflicts and missing locks.
//! - [`tool`] and [`layers::uv`]: hash-pinned installer wheels (index or `vendor/`).
//! - [`layers::venv`]: the venv layer of the lock-based managers, with cache decisions as data.
//! - [`bytecode`]: reproducible bytecode of the installed packages.
//! - [`ca`]: `ca-certificates` bindings for every tool; [`sbom`]: CycloneDX of the venv.
//! - [`locked`]: a lock as an exact, hash-checked requirements file (index packages and
//!   direct references); [`local_sources`]: its local path dependencies; [`pyjson`]: Python's
//!   `json.dumps`, which the Poetry and Pipenv lock hashes are computed over; [`translated`]:
//!   such a requirements set installed with uv; [`lock_buildpack`]: the detection and build
//!   the Poetry and Pipenv buildpacks share.
//! - [`explain`] and [`errors`]: installer failures and shared errors, explained once.
//!
//! For the wrapper and the web buildpack:
//! - [`python_env`]: the app's Python and the distributions it has installed.
//! - [`pinned_lock`]: a hash-pinned lock shipped in a buildpack, and what of it an app lacks.
//! - [`prefix_install`]: installing that into a layer of its own with pip `--prefix`, hash-checked,
//!   never replacing the app's packages; the layer's `sys.path` directories, SBOM and command.
//! - [`wrapper_declaration`]: whether the app declares a wrapper entry point (the wrapper
//!   takes the app, the web buildpack adds no process).

pub mod bytecode;
pub mod ca;
pub mod errors;
pub mod explain;
pub mod layers;
pub mod local_sources;
pub mod lock_buildpack;
pub mod locked;
pub mod managers;
pub mod names;
pub mod pinned_lock;
pub mod prefix_install;
pub mod pyjson;
pub mod python;
pub mod python_env;
pub mod sbom;
pub mod setup;
pub mod tool;
pub mod translated;
pub mod uv;
pub mod wrapper_declaration;
