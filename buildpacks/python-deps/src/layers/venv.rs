//! The `venv` layer of the dependency buildpacks: the app's dependencies, for launch (and for
//! build when a later buildpack asks for it), with an SBOM.
//!
//! Where the venv lives between builds depends on who needs it:
//!
//! - Only the app image (the default): a launch layer that is not cached. An unchanged venv
//!   is kept by its metadata alone: the lifecycle restores neither its files nor re-tars them,
//!   and the exporter reuses the previous image's layer as is. Any change recreates it.
//! - A later buildpack in the group requires [`PLAN_ENTRY`] with `build = true` (the wrapper
//!   imports the entry point in it): a build, launch and cache layer, restored before the
//!   build. Then a changed lock or selection syncs the cached venv in place (the installer
//!   adds, upgrades and removes exactly what differs).
//!
//! Python or installer changed → the venv is discarded and recreated. Nothing changed →
//! reused as is: no installer run, no network. Every reason is logged.

use crate::errors::{DepsError, fail};
use crate::sbom;
use crate::uv::Uv;
use blacklodge_common::cache::{self, Previous};
use blacklodge_common::{command, output, runtime_plan};
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::build_plan::{BuildPlan, BuildPlanBuilder, Require};
use libcnb::data::buildpack_plan::BuildpackPlan;
use libcnb::data::layer_name;
use libcnb::layer::{
    CachedLayerDefinition, InvalidMetadataAction, LayerRef, LayerState, RestoredLayerAction,
    UncachedLayerDefinition,
};
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The build plan entry a dependency buildpack provides: a later buildpack that needs the
/// venv while building requires it with `build = true` in its metadata.
pub const PLAN_ENTRY: &str = "venv";

/// The detect plan of a dependency buildpack: it requires `python` (`python`: the
/// requirement, see `blacklodge_common::runtime_plan`) and offers [`PLAN_ENTRY`] to a later
/// buildpack that requires it (or, when none does, only requires `python`).
pub fn provider_plan(python: &Require) -> BuildPlan {
    // `Require` is not `Clone`.
    let copy = || {
        let mut require = Require::new(python.name.clone());
        require.metadata.clone_from(&python.metadata);
        require
    };
    BuildPlanBuilder::new()
        .requires(copy())
        .provides(PLAN_ENTRY)
        .or()
        .requires(copy())
        .build()
}

/// The requirement of a buildpack that runs the venv's Python while building.
#[must_use]
pub fn build_requirement() -> Require {
    let mut require = Require::new(PLAN_ENTRY);
    let mut metadata = toml::Table::new();
    metadata.insert("build".to_string(), toml::Value::Boolean(true));
    require.metadata = metadata;
    require
}

/// Whether a later buildpack asked for the venv at build time.
#[must_use]
pub fn needed_at_build(plan: &BuildpackPlan) -> bool {
    plan.entries.iter().any(|entry| {
        entry.name == PLAN_ENTRY && entry.metadata.get("build") == Some(&toml::Value::Boolean(true))
    })
}

/// The launch-only `venv` layer to fill, or `None` when the previous image's venv is kept
/// (`reasons(cached, wanted)` found nothing that changed; `reused` logs it). A venv that
/// changed is logged with its reasons and made again from scratch.
///
/// # Errors
/// Reading or writing the layer metadata, creating the layer.
pub fn launch_only_venv<B, M>(
    context: &BuildContext<B>,
    wanted: &M,
    reasons: impl Fn(&M, &M) -> Vec<String>,
    reused: impl FnOnce(),
) -> libcnb::Result<Option<LayerRef<B, (), ()>>, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
    M: Serialize + DeserializeOwned + Clone,
{
    match cache::keep_previous_launch_layer(&context.layers_dir, "venv", wanted, reasons).map_err(
        |failure| {
            fail::<B::Error>(DepsError::Io {
                action: failure.action,
                path: failure.path,
                error: failure.error,
            })
        },
    )? {
        Previous::Kept => {
            reused();
            return Ok(None);
        }
        Previous::Discarded(reasons) => cache::log_discarded("virtual environment", &reasons),
        Previous::None => {}
    }
    context
        .uncached_layer(
            layer_name!("venv"),
            UncachedLayerDefinition {
                build: false,
                launch: true,
            },
        )
        .map(Some)
}

/// The cache key of a lock's venv (uv, Poetry, Pipenv). The pip buildpack keys its venv
/// with its own struct: see there why the two stay apart.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VenvLayerMetadata {
    /// sha256 over the lock and the project files it was checked against.
    pub lock_sha256: String,
    pub python_version: String,
    /// `uv 0.13.9`
    pub installer: String,
    /// The groups/extras installed, e.g. `groups: main, dev`.
    pub selection: String,
}

/// What a lock's venv is keyed on, but Python's version: [`VenvLayerMetadata`] is made from it
/// ([`VenvKey::with_python`]), so what the venv layer compares is what this holds.
///
/// Read by the same code at detection and at build: at detection its [`VenvKey::digest`] is
/// the `build_inputs` of the buildpack's `python` requirement (see
/// `blacklodge_common::runtime_plan`), so Python is there for every build whose venv key
/// changed. Python's version is left out: it is the python buildpack's own metadata, and a
/// new version installs the runtime anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenvKey {
    /// See [`VenvLayerMetadata::lock_sha256`].
    pub lock_sha256: String,
    /// See [`VenvLayerMetadata::installer`].
    pub installer: String,
    /// See [`VenvLayerMetadata::selection`].
    pub selection: String,
}

impl VenvKey {
    /// The venv layer's metadata for this key and the build's Python.
    #[must_use]
    pub fn with_python(self, python_version: String) -> VenvLayerMetadata {
        let Self {
            lock_sha256,
            installer,
            selection,
        } = self;
        VenvLayerMetadata {
            lock_sha256,
            python_version,
            installer,
            selection,
        }
    }

    /// A digest of every field.
    #[must_use]
    pub fn digest(&self) -> String {
        let Self {
            lock_sha256,
            installer,
            selection,
        } = self;
        blacklodge_common::download::sha256_bytes(
            format!("{lock_sha256}\0{installer}\0{selection}").as_bytes(),
        )
    }

    /// The `python` requirement of a dependency buildpack's detection for the key it read
    /// there: Python runs in this build only when the key changed; when it could not be read,
    /// on every build (the build then reports why).
    #[must_use]
    pub fn python_requirement<E>(key: Result<Self, E>) -> Require {
        match key {
            Ok(key) => runtime_plan::when_changed_requirement(&key.digest()),
            Err(_) => Require::new(runtime_plan::ENTRY),
        }
    }
}

/// What to do with a cached venv: `(discard reasons, update reasons)`.
fn decide(
    cached: &VenvLayerMetadata,
    wanted: &VenvLayerMetadata,
    lock_file: &str,
) -> (Vec<String>, Vec<String>) {
    let VenvLayerMetadata {
        lock_sha256,
        python_version,
        installer,
        selection,
    } = cached;
    let VenvLayerMetadata {
        lock_sha256: new_lock_sha256,
        python_version: new_python_version,
        installer: new_installer,
        selection: new_selection,
    } = wanted;
    let discard = cache::reasons([
        cache::changed("Python version", python_version, new_python_version),
        cache::changed("installer", installer, new_installer),
    ]);
    let update = cache::reasons([
        (lock_sha256 != new_lock_sha256).then(|| format!("{lock_file} changed")),
        cache::changed("selection", selection, new_selection),
    ]);
    (discard, update)
}

/// How the installer is asked to fill the venv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// A new, empty venv.
    Fresh,
    /// A cached venv to sync to the new lock.
    Update,
}

/// Prepares the venv layer and, unless the venv is current, gets uv and runs `fill`.
///
/// # Errors
/// Layer errors, getting uv, venv creation, and whatever `fill` returns.
pub fn install<B, F>(
    context: &BuildContext<B>,
    wanted: &VenvLayerMetadata,
    lock_file: &str,
    uv: &Uv,
    fill: F,
) -> libcnb::Result<PathBuf, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
    F: FnOnce(&Path, Fill) -> libcnb::Result<(), B::Error>,
{
    let reused = || {
        output::detail(format!(
            "Reusing cached virtual environment ({lock_file}, Python and {} unchanged)",
            wanted.installer
        ));
    };
    if !needed_at_build(&context.buildpack_plan) {
        let reasons = |cached: &VenvLayerMetadata, wanted: &VenvLayerMetadata| {
            let (mut discard, update) = decide(cached, wanted, lock_file);
            discard.extend(update);
            discard
        };
        let Some(layer) = launch_only_venv(context, wanted, reasons, reused)? else {
            return Ok(context.layers_dir.join("venv"));
        };
        let venv = layer.path();
        create_venv::<B>(&venv)?;
        uv.install_binary(context)?;
        fill_venv(&venv, Fill::Fresh, fill)?;
        prune_download_cache(uv, &context.app_dir);
        write_sbom(&venv, |sboms| layer.write_sboms(sboms))?;
        layer.write_metadata(wanted.clone())?;
        layer.write_env(environment(&venv))?;
        return Ok(venv);
    }

    let layer = context.cached_layer(
        layer_name!("venv"),
        CachedLayerDefinition {
            build: true,
            launch: true,
            invalid_metadata_action: &|_| {
                (
                    InvalidMetadataAction::DeleteLayer,
                    vec!["cache format changed".to_string()],
                )
            },
            restored_layer_action: &|cached: &VenvLayerMetadata, _| {
                let (discard, update) = decide(cached, wanted, lock_file);
                if discard.is_empty() {
                    (RestoredLayerAction::KeepLayer, update)
                } else {
                    (RestoredLayerAction::DeleteLayer, discard)
                }
            },
        },
    )?;
    let venv = layer.path();
    let fill_with = match layer.state {
        LayerState::Restored { ref cause } if cause.is_empty() => {
            reused();
            None
        }
        LayerState::Restored { ref cause } => {
            output::detail("Updating cached virtual environment:");
            for reason in cause {
                output::sub_detail(reason);
            }
            Some(Fill::Update)
        }
        LayerState::Empty { .. } => {
            cache::log_if_discarded("virtual environment", &layer.state);
            create_venv::<B>(&venv)?;
            Some(Fill::Fresh)
        }
    };
    if let Some(how) = fill_with {
        uv.install_binary(context)?;
        fill_venv(&venv, how, fill)?;
        prune_download_cache(uv, &context.app_dir);
        write_sbom(&layer.path(), |sboms| layer.write_sboms(sboms))?;
        layer.write_metadata(wanted.clone())?;
    }
    layer.write_env(environment(&venv))?;
    Ok(venv)
}

fn create_venv<B>(venv: &Path) -> libcnb::Result<(), B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
{
    crate::python::require_files().map_err(fail::<B::Error>)?;
    output::timed("Creating virtual environment", || {
        command::run_captured(
            Command::new("python3")
                .args(["-m", "venv", "--without-pip"])
                .arg(venv),
        )
    })
    .map(|_| ())
    .map_err(|error| fail::<B::Error>(DepsError::CreateVenv(error)))
}

/// Best effort: a cache that could not be pruned costs time, not correctness.
fn prune_download_cache(uv: &Uv, app_dir: &Path) {
    if let Err(error) = uv.prune_cache(app_dir) {
        output::detail(format!(
            "Could not prune the uv cache (`{}` {}); it is kept as is",
            error.command(),
            error.reason()
        ));
    }
}

fn fill_venv<E, F>(venv: &Path, how: Fill, fill: F) -> libcnb::Result<(), E>
where
    F: FnOnce(&Path, Fill) -> libcnb::Result<(), E>,
{
    let start = std::time::Instant::now();
    fill(venv, how)?;
    output::detail(format!(
        "Installed in {}",
        output::format_duration(start.elapsed())
    ));
    crate::bytecode::compile_logged(venv);
    Ok(())
}

/// The environment a venv layer gives later buildpacks and the app: `VIRTUAL_ENV` (its `bin`
/// goes first on `PATH` as a layer's `bin` always does).
#[must_use]
pub fn environment(venv: &Path) -> LayerEnv {
    LayerEnv::new().chainable_insert(
        Scope::All,
        ModificationBehavior::Override,
        "VIRTUAL_ENV",
        venv,
    )
}

/// Writes the CycloneDX SBOM of `venv` through `write` (the layer's `write_sboms`).
///
/// # Errors
/// Reading the venv, or writing the SBOM.
pub fn write_sbom<B, W>(venv: &Path, write: W) -> libcnb::Result<(), B>
where
    B: std::fmt::Debug + From<DepsError>,
    W: FnOnce(&[libcnb::sbom::Sbom]) -> libcnb::Result<(), B>,
{
    let distributions = sbom::distributions(venv).map_err(|error| {
        libcnb::Error::BuildpackError(B::from(DepsError::Io {
            action: "read",
            path: venv.to_path_buf(),
            error,
        }))
    })?;
    output::detail(format!(
        "{} in the virtual environment (SBOM: CycloneDX)",
        output::count(distributions.len(), "distribution", "distributions")
    ));
    write(&[sbom::cyclonedx(&distributions)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> VenvLayerMetadata {
        VenvLayerMetadata {
            lock_sha256: "a".into(),
            python_version: "3.11.2".into(),
            installer: "uv 0.13.9".into(),
            selection: "groups: main".into(),
        }
    }

    fn key() -> VenvKey {
        VenvKey {
            lock_sha256: "a".into(),
            installer: "uv 0.13.9".into(),
            selection: "groups: main".into(),
        }
    }

    #[test]
    fn the_key_makes_the_metadata_and_each_field_changes_its_digest() {
        assert_eq!(key().with_python("3.11.2".into()), metadata());
        assert_eq!(key().digest(), key().digest());
        let changed = [
            VenvKey {
                lock_sha256: "b".into(),
                ..key()
            },
            VenvKey {
                installer: "uv 0.14.0".into(),
                ..key()
            },
            VenvKey {
                selection: "groups: dev, main".into(),
                ..key()
            },
        ];
        for other in &changed {
            assert_ne!(other.digest(), key().digest(), "{other:?}");
        }
    }

    #[test]
    fn an_unreadable_key_needs_python_on_every_build() {
        let plan = |require: Require| BuildpackPlan {
            entries: vec![libcnb::data::buildpack_plan::Entry {
                name: require.name,
                metadata: require.metadata,
            }],
        };
        assert_eq!(
            runtime_plan::need(&plan(VenvKey::python_requirement::<()>(Ok(key())))),
            runtime_plan::need(&plan(runtime_plan::when_changed_requirement(
                &key().digest()
            )))
        );
        assert_eq!(
            runtime_plan::need(&plan(VenvKey::python_requirement(Err(())))),
            runtime_plan::Need::Always
        );
    }

    #[test]
    fn lock_changes_update_python_changes_discard() {
        let cached = metadata();
        assert_eq!(decide(&cached, &cached, "uv.lock"), (vec![], vec![]));
        let new_lock = VenvLayerMetadata {
            lock_sha256: "b".into(),
            selection: "groups: main, dev".into(),
            ..metadata()
        };
        assert_eq!(
            decide(&cached, &new_lock, "uv.lock"),
            (
                vec![],
                vec![
                    "uv.lock changed".to_string(),
                    "selection changed (groups: main → groups: main, dev)".to_string()
                ]
            )
        );
        let new_python = VenvLayerMetadata {
            python_version: "3.12.1".into(),
            ..metadata()
        };
        assert_eq!(
            decide(&cached, &new_python, "uv.lock").0,
            vec!["Python version changed (3.11.2 → 3.12.1)".to_string()]
        );
    }
}
