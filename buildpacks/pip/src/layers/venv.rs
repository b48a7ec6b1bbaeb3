//! The `venv` layer: a virtual environment with the app's requirements, for launch (and for
//! build when a later buildpack requires it, see `blacklodge_python_deps::layers::venv`).
//!
//! Keyed on the fingerprint of the requirements set plus the Python version, the installer
//! (uv or pip, with its version) and the `PIP_*`/`UV_*` settings that change what is
//! installed (by name and a digest of the value): when none changed, the venv is reused as is (no resolver
//! run, no network); otherwise it is recreated, so removed packages are really gone.

use crate::PipBuildpack;
use crate::errors::{InstallFailure, PipError};
use crate::installer::Installer;
use crate::requirements::{self, REQUIREMENTS_FILE};
use crate::translate::UvSettings;
use blacklodge_common::{cache, command, output};
use blacklodge_python_deps::ca::Tls;
use blacklodge_python_deps::layers::venv::{self, write_sbom};
use blacklodge_python_deps::tool::PinnedWheel;
use blacklodge_python_deps::uv::{self as uv_tool, Uv};
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::LayerState;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use blacklodge_python_deps::bytecode::SOURCE_DATE_EPOCH;

/// The cache key of the pip venv. Not `blacklodge_python_deps`'s `VenvLayerMetadata`,
/// though both key a venv on its inputs, Python and installer: a lock's venv is kept and
/// synced when only the lock or the selection changed, this one is recreated whenever
/// anything changed (pip cannot remove what a requirements set no longer lists), and its
/// inputs are a requirements set with the pip settings that change it, not a lock with a
/// selection of groups. One struct would have to hold both sets of fields and rules.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VenvLayerMetadata {
    pub(crate) requirements_sha256: String,
    pub(crate) python_version: String,
    /// `uv 0.13.9` or `pip 26.3`.
    pub(crate) installer: String,
    /// The `PIP_*`/`UV_*` settings that change what is installed (`PipSettings::install_key`).
    /// Absent in metadata written before it existed: read as no settings.
    #[serde(default)]
    pub(crate) settings: BTreeMap<String, String>,
}

fn invalidation_reasons(cached: &VenvLayerMetadata, wanted: &VenvLayerMetadata) -> Vec<String> {
    let VenvLayerMetadata {
        requirements_sha256,
        python_version,
        installer,
        settings,
    } = cached;
    let VenvLayerMetadata {
        requirements_sha256: new_requirements_sha256,
        python_version: new_python_version,
        installer: new_installer,
        settings: new_settings,
    } = wanted;
    let names: BTreeSet<&String> = settings.keys().chain(new_settings.keys()).collect();
    let changed_settings: Vec<&str> = names
        .into_iter()
        .filter(|name| settings.get(*name) != new_settings.get(*name))
        .map(String::as_str)
        .collect();
    cache::reasons([
        (requirements_sha256 != new_requirements_sha256).then(|| {
            format!("{REQUIREMENTS_FILE}, a file it includes, a PIP_CONSTRAINT file or a local package they install changed")
        }),
        cache::changed("Python version", python_version, new_python_version),
        cache::changed("installer", installer, new_installer),
        (!changed_settings.is_empty())
            .then(|| format!("install settings changed: {}", changed_settings.join(", "))),
    ])
}

/// How the venv is filled when it has to be.
pub(crate) enum Run<'a> {
    Pip(PipRun<'a>),
    Uv(UvRun<'a>),
}

pub(crate) struct PipRun<'a> {
    /// The pinned pip, fetched when something is to be installed.
    pub(crate) pin: &'a PinnedWheel,
    /// The index pip is fetched from.
    pub(crate) index: &'a str,
    /// pip's download/wheel cache.
    pub(crate) cache_dir: &'a Path,
    /// CA certificates (bindings) for pip.
    pub(crate) tls: &'a Tls,
}

pub(crate) struct UvRun<'a> {
    /// uv (fetched when something is to be installed), its cache, the CA certificates.
    pub(crate) uv: &'a Uv,
    /// The arguments and variables that make uv read the requirements as pip would.
    pub(crate) settings: &'a UvSettings,
}

pub(crate) fn install(
    context: &BuildContext<PipBuildpack>,
    wanted: &VenvLayerMetadata,
    run: &Run<'_>,
) -> libcnb::Result<PathBuf, PipError> {
    let reused = || {
        output::detail(format!(
            "Reusing cached virtual environment ({REQUIREMENTS_FILE}, Python and {} unchanged)",
            wanted.installer
        ));
    };
    let at_build = venv::needed_at_build(&context.buildpack_plan);
    if !at_build {
        let Some(layer) = venv::launch_only_venv(context, wanted, invalidation_reasons, reused)?
        else {
            return Ok(context.layers_dir.join("venv"));
        };
        let path = layer.path();
        fill(context, &path, run)?;
        write_sbom(&path, |sboms| layer.write_sboms(sboms))?;
        layer.write_metadata(wanted.clone())?;
        layer.write_env(venv::environment(&path))?;
        return Ok(path);
    }

    let layer = cache::cached_layer(
        context,
        layer_name!("venv"),
        true,
        true,
        wanted,
        invalidation_reasons,
    )?;
    let path = layer.path();
    match layer.state {
        LayerState::Restored { .. } => reused(),
        LayerState::Empty { .. } => {
            cache::log_if_discarded("virtual environment", &layer.state);
            fill(context, &path, run)?;
            write_sbom(&path, |sboms| layer.write_sboms(sboms))?;
            layer.write_metadata(wanted.clone())?;
        }
    }
    layer.write_env(venv::environment(&path))?;
    Ok(path)
}

/// Creates the venv at `path` and installs the requirements into it (the installer is
/// fetched first: an unchanged rebuild never needs it), then compiles the bytecode.
fn fill(
    context: &BuildContext<PipBuildpack>,
    path: &Path,
    run: &Run<'_>,
) -> libcnb::Result<(), PipError> {
    blacklodge_python_deps::python::require_files().map_err(PipError::Deps)?;
    output::timed("Creating virtual environment", || {
        command::run_captured(
            Command::new("python3")
                .args(["-m", "venv", "--without-pip"])
                .arg(path),
        )
    })
    .map_err(PipError::CreateVenv)?;
    match run {
        Run::Pip(pip) => fill_with_pip(context, path, pip)?,
        Run::Uv(uv) => fill_with_uv(context, path, uv)?,
    }
    blacklodge_python_deps::bytecode::compile_logged(path);
    match run {
        Run::Pip(pip) => prune_pip_cache(pip.cache_dir),
        Run::Uv(uv) => {
            // Best effort: a cache that could not be pruned costs time, not correctness.
            if let Err(error) = uv.uv.prune_cache(&context.app_dir) {
                output::detail(format!(
                    "Could not prune the uv cache (`{}` {}); it is kept as is",
                    error.command(),
                    error.reason()
                ));
            }
        }
    }
    Ok(())
}

/// Keeps only the wheels pip built from source (`wheels/`): the HTTP cache of downloaded
/// files is cheap to fetch again, and the cache layer is restored before every build, so
/// what it holds is paid by every build, including the ones that install nothing.
fn prune_pip_cache(cache_dir: &Path) {
    for downloads in ["http", "http-v2"] {
        let _ = fs_err::remove_dir_all(cache_dir.join(downloads));
    }
}

/// `pip install -r requirements.txt`, pip running from its wheel.
fn fill_with_pip(
    context: &BuildContext<PipBuildpack>,
    path: &Path,
    pip: &PipRun<'_>,
) -> libcnb::Result<(), PipError> {
    let pip_site = blacklodge_python_deps::layers::pip::install(context, pip.pin, pip.index)?;
    output::stream_heading(format!("Running pip install -r {REQUIREMENTS_FILE}"));
    let start = std::time::Instant::now();
    let mut install = Command::new(path.join("bin/python"));
    pip.tls.apply(&mut install);
    command::run_streamed(
        install
            .args(["-m", "pip", "install", "--requirement", REQUIREMENTS_FILE])
            .args(blacklodge_python_deps::prefix_install::PIP_QUIET)
            // Compiled afterwards, on every core: pip compiles one file at a time.
            .arg("--no-compile")
            .current_dir(&context.app_dir)
            .env("PYTHONPATH", &pip_site)
            .env("PIP_CACHE_DIR", pip.cache_dir)
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH),
    )
    .map_err(|error| {
        PipError::InstallRequirements(InstallFailure {
            error,
            installer: Installer::Pip,
            hash_checking: None,
            unreadable_line: None,
        })
    })?;
    output::detail(format!(
        "Installed in {}",
        output::format_duration(start.elapsed())
    ));
    Ok(())
}

/// `uv pip install -r requirements.txt` with pip's reading of the files: candidates from
/// every index (`unsafe-best-match`, pip's behaviour), no uv configuration or
/// `[tool.uv.sources]` of the app (pip knows neither), plus the translated options.
fn fill_with_uv(
    context: &BuildContext<PipBuildpack>,
    path: &Path,
    run: &UvRun<'_>,
) -> libcnb::Result<(), PipError> {
    run.uv.install_binary(context)?;
    // Editable git requirements, written without `-e` for uv; restored below.
    let mut originals = Vec::new();
    for rewrite in &run.settings.rewrites {
        let io = |action| {
            move |error| PipError::Io {
                action,
                path: rewrite.path.clone(),
                error,
            }
        };
        let original = fs_err::read_to_string(&rewrite.path).map_err(io("read"))?;
        fs_err::write(&rewrite.path, rewrite.apply(&original)).map_err(io("write"))?;
        originals.push((&rewrite.path, original));
    }
    let result = run_uv_install(context, path, run);
    for (file, original) in originals {
        fs_err::write(file, original).map_err(|error| PipError::Io {
            action: "restore",
            path: file.clone(),
            error,
        })?;
    }
    result
}

fn run_uv_install(
    context: &BuildContext<PipBuildpack>,
    path: &Path,
    run: &UvRun<'_>,
) -> libcnb::Result<(), PipError> {
    output::stream_heading(format!("Running uv pip install -r {REQUIREMENTS_FILE}"));
    let start = std::time::Instant::now();
    let mut install = run.uv.command(&context.app_dir);
    install
        .args(["pip", "install", "--requirement", REQUIREMENTS_FILE])
        .arg("--python")
        .arg(path.join("bin/python"))
        .args([
            "--index-strategy",
            "unsafe-best-match",
            "--no-config",
            "--no-sources",
        ])
        .args(&run.settings.args)
        .envs(run.settings.env.iter().map(|(name, value)| (name, value)))
        .env(uv_tool::STATUS_TRACE.0, uv_tool::STATUS_TRACE.1);
    command::run_streamed_with(&mut install, uv_tool::sort_status_line).map_err(|error| {
        let unreadable_line = requirements::locate_parse_error(error.output(), &context.app_dir);
        PipError::InstallRequirements(InstallFailure {
            error,
            installer: Installer::Uv,
            hash_checking: run.settings.hash_checking.clone(),
            unreadable_line,
        })
    })?;
    output::detail(format!(
        "Installed in {}",
        output::format_duration(start.elapsed())
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_what_changed() {
        let cached = VenvLayerMetadata {
            requirements_sha256: "a".into(),
            python_version: "3.11.2".into(),
            installer: "pip 26.3".into(),
            settings: BTreeMap::from([("PIP_PRE".into(), "1a".into())]),
        };
        assert!(invalidation_reasons(&cached, &cached).is_empty());
        let settings_changed = VenvLayerMetadata {
            settings: BTreeMap::from([
                ("PIP_PRE".into(), "2b".into()),
                ("PIP_NO_BINARY".into(), "3c".into()),
            ]),
            ..cached.clone()
        };
        assert_eq!(
            invalidation_reasons(&cached, &settings_changed),
            ["install settings changed: PIP_NO_BINARY, PIP_PRE"]
        );
        // Metadata written before the settings were recorded reads as no settings.
        let old: VenvLayerMetadata = toml::from_str(
            "requirements_sha256 = \"a\"\npython_version = \"3.11.2\"\ninstaller = \"pip 26.3\"\n",
        )
        .expect("old metadata");
        assert!(old.settings.is_empty());
        let wanted = VenvLayerMetadata {
            requirements_sha256: "b".into(),
            installer: "uv 0.13.9".into(),
            ..cached.clone()
        };
        assert_eq!(
            invalidation_reasons(&cached, &wanted),
            vec![
                "requirements.txt, a file it includes, a PIP_CONSTRAINT file or a local package they install changed".to_string(),
                "installer changed (pip 26.3 → uv 0.13.9)".to_string()
            ]
        );
    }
}
