//! The steps every uv-based buildpack (uv, Poetry, Pipenv) takes before installing: check the
//! manager selection, find Python, trust the CA bindings, get uv and its cache.

use crate::errors::{DepsError, fail};
use crate::layers::venv::VenvKey;
use crate::managers::{self, Selection};
use crate::{ca, layers, python, uv::Uv};
use blacklodge_common::{env, pypi};
use libcnb::build::BuildContext;
use libcnb::data::build_plan::Require;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::{Buildpack, Platform};

/// The detection of the dependency buildpack of `manager`: it passes, providing the venv and
/// requiring `python()` (see `blacklodge_common::runtime_plan`), when `manager` installs the
/// app's dependencies; otherwise it fails, printing `why_not`.
///
/// # Errors
/// libcnb errors building the result.
pub fn detect<B>(
    context: &DetectContext<B>,
    manager: managers::Manager,
    why_not: &str,
    python: impl FnOnce() -> Require,
) -> libcnb::Result<DetectResult, B::Error>
where
    B: Buildpack,
    B::Platform: Platform,
{
    if managers::detects(&context.app_dir, context.platform.env(), manager) {
        DetectResultBuilder::pass()
            .build_plan(layers::venv::provider_plan(&python()))
            .build()
    } else {
        println!("{why_not}");
        DetectResultBuilder::fail().build()
    }
}

/// [`detect`] for the buildpack of a lock (uv, Poetry, Pipenv): its `python` requirement
/// carries the digest of the venv key that `key` reads from the app and the build's
/// variables, by the code the build uses ([`VenvKey::python_requirement`]).
///
/// # Errors
/// libcnb errors building the result.
pub fn detect_lock<B, E>(
    context: &DetectContext<B>,
    manager: managers::Manager,
    why_not: &str,
    key: impl FnOnce(&std::path::Path, &libcnb::Env) -> Result<VenvKey, E>,
) -> libcnb::Result<DetectResult, B::Error>
where
    B: Buildpack,
    B::Platform: Platform,
{
    detect(context, manager, why_not, || {
        VenvKey::python_requirement(key(&context.app_dir, context.platform.env()))
    })
}

/// Fails with the conflict message when files of several managers are present.
///
/// # Errors
/// [`DepsError::Conflict`] or an invalid `BP_PYTHON_PACKAGE_MANAGER`.
pub fn check_selection(app_dir: &std::path::Path, env: &libcnb::Env) -> Result<(), DepsError> {
    match managers::select(app_dir, env)? {
        Selection::Conflict(found) => Err(DepsError::Conflict(found)),
        _ => Ok(()),
    }
}

/// The index uv itself is fetched from: the first of `UV_DEFAULT_INDEX`, `UV_INDEX_URL`,
/// `PIP_INDEX_URL`, `preferred`, else PyPI. (Not a lock's private source: its credentials
/// are for the packages, and a failure there is explained by the installer.)
#[must_use]
pub fn tool_index(env: &libcnb::Env, preferred: Option<&str>) -> String {
    ["UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"]
        .iter()
        .find_map(|name| env::string(env, name))
        .or_else(|| preferred.map(str::to_string))
        .unwrap_or_else(|| pypi::DEFAULT_INDEX.to_string())
}

/// Python, TLS settings, the pinned uv's place and its cache; uv itself is fetched by
/// [`Uv::install_binary`] when something is to be installed.
///
/// # Errors
/// No Python or an invalid CA binding.
pub fn uv<B>(context: &BuildContext<B>, index: &str) -> libcnb::Result<Uv, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
    B::Platform: Platform,
{
    let python = python::find().map_err(fail::<B::Error>)?;
    let tls = ca::trusted_tls().map_err(|error| fail::<B::Error>(error.into()))?;
    let binary = layers::uv::binary_path(&context.layers_dir);
    let cache_dir = layers::download_cache::prepare(
        context,
        libcnb::data::layer_name!("uv-cache"),
        "uv cache",
    )?;
    Ok(Uv {
        binary,
        index: index.to_string(),
        cache_dir,
        python,
        tls,
    })
}
