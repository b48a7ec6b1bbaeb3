//! Blacklodge conda buildpack: a conda environment from `environment.yml`,
//! `package-list.txt` or `conda-lock.yml`, solved and installed natively with the rattler
//! crates (no Miniconda, no conda process).
//!
//! The environment is the `env` layer (build, launch, cache); downloaded packages stay in the
//! `pkgs` cache layer. The environment provides Python, so the CPython runtime buildpack is
//! not part of this group: this buildpack provides `python` to the buildpacks after it (web,
//! wrapper), and the dependency buildpacks' `venv` entry (the environment, for the build).

mod activation;
mod config;
mod errors;
mod explicit;
mod install;
mod layers;
mod lock;
mod pip;
mod solve;
mod spec;

use crate::config::Config;
use crate::errors::CondaError;
use crate::layers::env::{self as env_layer, EnvMetadata};
use crate::spec::{Packages, Request};
use blacklodge_common::download::sha256_bytes;
use blacklodge_common::{cache, output};
use blacklodge_python_deps::local_sources::BuildOutput;
use blacklodge_python_deps::managers::{self, Manager};
use blacklodge_python_deps::{bytecode, setup, tool};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::data::layer_name;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::layer::{
    CachedLayerDefinition, InvalidMetadataAction, LayerState, RestoredLayerAction,
};
use libcnb::{Buildpack, Platform, buildpack_main};
use rattler_conda_types::{MatchSpec, RepoDataRecord};
use std::path::Path;

pub(crate) struct CondaBuildpack;

/// The files whose contents decide the environment (any of them present).
const INPUT_FILES: [&str; 5] = [
    "environment.yml",
    "environment.yaml",
    spec::PACKAGE_LIST,
    spec::CONDA_LOCK,
    config::CONDARC,
];

fn fingerprint(app_dir: &Path) -> Result<String, CondaError> {
    cache::files_sha256(app_dir, &INPUT_FILES).map_err(|failure| CondaError::Io {
        action: failure.action,
        path: failure.path,
        error: failure.error,
    })
}

/// The `pip:` lines and what of the app they install (`local`, see `pip::local_references`):
/// a changed local package or included requirements file is a changed pip section. Empty: no
/// pip section.
fn pip_fingerprint(
    app_dir: &Path,
    request: &Request,
    local: &[pip::LocalReference],
) -> Result<String, CondaError> {
    if request.pip.is_empty() {
        return Ok(String::new());
    }
    let mut material = request.pip.join("\n");
    if !local.is_empty() {
        let local = pip::local_fingerprint(app_dir, local).map_err(|error| CondaError::Io {
            action: "read",
            path: app_dir.to_path_buf(),
            error,
        })?;
        material.push_str("\n\0");
        material.push_str(&local);
    }
    Ok(sha256_bytes(material.as_bytes()))
}

fn runtime() -> Result<tokio::runtime::Runtime, CondaError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CondaError::Io {
            action: "start the download runtime for",
            path: "/tmp".into(),
            error,
        })
}

/// What the build knows before installing anything.
struct Plan {
    request: Request,
    /// What of the app the `pip:` section installs (in the key, and cleaned up after).
    pip_local: Vec<pip::LocalReference>,
    config: Config,
    channels: Vec<rattler_conda_types::Channel>,
    virtual_packages: Vec<rattler_conda_types::GenericVirtualPackage>,
    wanted: EnvMetadata,
}

fn plan(context: &BuildContext<CondaBuildpack>) -> Result<Plan, CondaError> {
    let env = context.platform.env();
    let request = spec::read_request(&context.app_dir)
        .map_err(CondaError::Spec)?
        .ok_or(CondaError::NoFiles)?;
    let config = Config::load(&context.app_dir, env).map_err(CondaError::Config)?;
    if !config.ignored_condarc_keys.is_empty() {
        output::warning(
            format!("{} settings are ignored", config::CONDARC),
            format!(
                "{condarc} sets {}, which this buildpack does not read (it reads {}): the build goes on without {}.\nDelete {} from {condarc} to silence this warning. docs/conda.md lists the build variables for channels, mirrors and credentials.",
                config.ignored_condarc_keys.join(", "),
                config::condarc_key_names(),
                output::noun(config.ignored_condarc_keys.len(), "it", "them"),
                output::noun(config.ignored_condarc_keys.len(), "it", "them"),
                condarc = config::CONDARC,
            ),
        );
    }
    let file_channels = match &request.packages {
        Packages::Solve { channels, .. } => channels.clone(),
        Packages::Exact(_) => Vec::new(),
    };
    let solve_error = |failure| CondaError::Solve {
        file: request.file,
        failure,
    };
    let channels = solve::channels(&config.channels(&file_channels), &config, &context.app_dir)
        .map_err(solve_error)?;
    let virtual_packages = solve::virtual_packages(&config).map_err(solve_error)?;
    let described: Vec<String> = channels.iter().map(solve::describe_channel).collect();
    let pip_local = pip::local_references(&context.app_dir, &request.pip);
    let wanted = EnvMetadata {
        request_sha256: fingerprint(&context.app_dir)?,
        request_file: request.file.to_string(),
        pip_sha256: pip_fingerprint(&context.app_dir, &request, &pip_local)?,
        channels: described.join(", "),
        channel_priority: config::priority_name(config.priority).to_string(),
        platform: install::PLATFORM.as_str().to_string(),
        virtual_packages: solve::describe_virtual_packages(&virtual_packages),
        layout: env_layer::LAYOUT.to_string(),
    };
    Ok(Plan {
        request,
        pip_local,
        config,
        channels,
        virtual_packages,
        wanted,
    })
}

fn log_plan(plan: &Plan) {
    output::step(format!("Reading {}", plan.request.file));
    match &plan.request.packages {
        Packages::Solve { specs, .. } => {
            output::detail(format!(
                "{}: {}",
                output::count(specs.len(), "package spec", "package specs"),
                specs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            output::detail(format!(
                "Channels ({} priority): {}",
                plan.wanted.channel_priority, plan.wanted.channels
            ));
        }
        Packages::Exact(entries) => {
            output::detail(format!(
                "{} to install exactly",
                output::count(entries.len(), "package", "packages")
            ));
            let unhashed: Vec<String> = entries
                .iter()
                .filter(|entry| entry.md5.is_none() && entry.sha256.is_none())
                .map(spec::Entry::file_name)
                .collect();
            if !unhashed.is_empty() {
                output::warning(
                    format!("Packages of {} without a hash", plan.request.file),
                    format!(
                        "These are installed without checking their contents: {}.\nWrite the list with `conda list --explicit --md5` so every package is checked.",
                        unhashed.join(", ")
                    ),
                );
            }
        }
    }
    if !plan.request.pip.is_empty() {
        output::detail(format!(
            "pip: {}",
            output::count(plan.request.pip.len(), "requirement", "requirements")
        ));
    }
    output::detail(format!(
        "Platform {}; virtual packages: {}",
        plan.wanted.platform, plan.wanted.virtual_packages
    ));
}

/// Solves or downloads the records to install; a solve prefers what `installed` has.
fn records(
    runtime: &tokio::runtime::Runtime,
    plan: &Plan,
    client: &reqwest_middleware::ClientWithMiddleware,
    package_cache: &Path,
    installed: &[RepoDataRecord],
) -> Result<Vec<RepoDataRecord>, CondaError> {
    let file = plan.request.file;
    match &plan.request.packages {
        Packages::Solve { specs, .. } => {
            let gateway = rattler_repodata_gateway::Gateway::builder()
                .with_client(client.clone())
                .with_cache_dir(package_cache.join("repodata"))
                .with_package_cache(rattler_cache::package_cache::PackageCache::new(
                    package_cache.join("pkgs"),
                ))
                .finish();
            let records = output::timed("Solving", || {
                runtime.block_on(solve::solve(
                    &gateway,
                    &plan.channels,
                    specs,
                    plan.virtual_packages.clone(),
                    plan.config.priority,
                    installed,
                ))
            })
            .map_err(|failure| CondaError::Solve { file, failure })?;
            output::detail(format!(
                "Solved: {} (commit this as {} to pin it):",
                output::count(records.len(), "package", "packages"),
                spec::PACKAGE_LIST
            ));
            for line in lock::explicit_list(&records).lines() {
                println!("    {line}");
            }
            Ok(records)
        }
        Packages::Exact(entries) => output::timed(
            format!(
                "Downloading and checking {}",
                output::count(entries.len(), "package", "packages")
            ),
            || {
                runtime.block_on(explicit::records(
                    client,
                    entries,
                    &package_cache.join("explicit"),
                ))
            },
        )
        .map_err(|failure| CondaError::Explicit { file, failure }),
    }
}

/// Fills (or updates) the prefix: conda packages, then the pip section, then bytecode.
fn fill(
    context: &BuildContext<CondaBuildpack>,
    plan: &Plan,
    prefix: &Path,
    package_cache: &Path,
) -> libcnb::Result<(), CondaError> {
    let runtime = runtime()?;
    let client = solve::client(&plan.config).map_err(|failure| CondaError::Solve {
        file: plan.request.file,
        failure,
    })?;
    let installed: Vec<RepoDataRecord> = install::installed(prefix)
        .map_err(CondaError::Install)?
        .into_iter()
        .map(|record| record.repodata_record)
        .collect();
    let records = records(&runtime, plan, &client, package_cache, &installed)?;
    if !install::has_python(&records) {
        return Err(CondaError::NoPython(plan.request.file).into());
    }
    let requested: Vec<MatchSpec> = match &plan.request.packages {
        Packages::Solve { specs, .. } => specs.clone(),
        Packages::Exact(_) => Vec::new(),
    };
    let changes = output::timed("Installing into the environment", || {
        runtime.block_on(install::install(
            prefix,
            records,
            requested,
            client.clone(),
            &package_cache.join("pkgs"),
        ))
    })
    .map_err(CondaError::Install)?;
    output::detail(format!("Packages: {}", changes.describe()));
    if !plan.request.pip.is_empty() {
        output::step(format!(
            "Installing the pip packages of {}",
            plan.request.pip_file
        ));
        let env = context.platform.env();
        let pip_wheel = blacklodge_python_deps::layers::pip::install(
            context,
            &tool::pip(),
            &setup::tool_index(env, None),
        )?;
        // pip builds a local directory where it is: what that leaves in the app goes after.
        let local_dirs = plan
            .pip_local
            .iter()
            .filter_map(|reference| match reference {
                pip::LocalReference::Directory { path, .. } => Some(path.as_path()),
                pip::LocalReference::File(_) => None,
            });
        let build_output = BuildOutput::snapshot(&context.app_dir, local_dirs);
        pip::install(
            prefix,
            &plan.request.pip,
            &pip_wheel,
            &package_cache.join("pip"),
            &context.app_dir,
            env,
        )
        .map_err(|failure| CondaError::Pip {
            file: plan.request.pip_file,
            failure,
        })?;
        build_output
            .remove_new()
            .map_err(|(path, error)| CondaError::Io {
                action: "remove",
                path,
                error,
            })?;
    }
    bytecode::compile_logged(prefix);
    Ok(())
}

impl Buildpack for CondaBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = CondaError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if managers::detects(&context.app_dir, context.platform.env(), Manager::Conda) {
            // The environment provides Python (the build fails if it has none); the venv
            // entry lets a later buildpack ask for the environment at build time (it always is).
            DetectResultBuilder::pass()
                .build_plan(
                    BuildPlanBuilder::new()
                        .provides("python")
                        .requires("python")
                        .provides(blacklodge_python_deps::layers::venv::PLAN_ENTRY)
                        .or()
                        .provides("python")
                        .requires("python")
                        .build(),
                )
                .build()
        } else {
            println!(
                "No environment.yml, environment.yaml, package-list.txt or conda-lock.yml in the app root (or another package manager is selected)."
            );
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        let started = std::time::Instant::now();
        output::header("Blacklodge conda");
        setup::check_selection(&context.app_dir, context.platform.env())
            .map_err(CondaError::Deps)?;
        let plan = plan(&context)?;
        log_plan(&plan);

        let package_cache = blacklodge_python_deps::layers::download_cache::prepare(
            &context,
            layer_name!("pkgs"),
            "conda package cache",
        )?;
        let wanted = plan.wanted.clone();
        let layer = context.cached_layer(
            layer_name!("env"),
            CachedLayerDefinition {
                build: true,
                launch: true,
                invalid_metadata_action: &|_| {
                    (
                        InvalidMetadataAction::DeleteLayer,
                        vec![
                            "the cache was written by an incompatible buildpack version"
                                .to_string(),
                        ],
                    )
                },
                restored_layer_action: &|cached: &EnvMetadata, _| {
                    let (discard, update) = env_layer::decide(cached, &wanted);
                    if discard.is_empty() {
                        (RestoredLayerAction::KeepLayer, update)
                    } else {
                        (RestoredLayerAction::DeleteLayer, discard)
                    }
                },
            },
        )?;
        let prefix = layer.path().join(env_layer::PREFIX_DIR);
        output::step("Installing the conda environment");
        let install = match &layer.state {
            LayerState::Restored { cause } if cause.is_empty() => {
                output::detail(format!(
                    "Reusing the cached environment ({}, channels, platform and virtual packages unchanged)",
                    plan.request.file
                ));
                false
            }
            LayerState::Restored { cause } => {
                output::detail("Updating the cached environment in place:");
                for reason in cause {
                    println!("    - {reason}");
                }
                true
            }
            LayerState::Empty { .. } => {
                cache::log_if_discarded("environment", &layer.state);
                true
            }
        };
        if install {
            fill(&context, &plan, &prefix, &package_cache)?;
            layer.write_metadata(plan.wanted.clone())?;
        }
        // Cheap: written on every build, so a reused layer keeps them.
        let records: Vec<RepoDataRecord> = install::installed(&prefix)
            .map_err(CondaError::Install)?
            .into_iter()
            .map(|record| record.repodata_record)
            .collect();
        let pip_installed =
            lock::pip_distributions(&prefix, &records).map_err(|error| CondaError::Io {
                action: "read",
                path: prefix.clone(),
                error,
            })?;
        output::detail(format!(
            "{} and {} in the environment (SBOM: CycloneDX)",
            output::count(records.len(), "conda package", "conda packages"),
            output::count(pip_installed.len(), "pip package", "pip packages")
        ));
        layer.write_sboms(&[lock::sbom(&records, &pip_installed)])?;
        let activated = activation::variables(&prefix).map_err(CondaError::Activation)?;
        layer.write_env(activation::layer_env(&activated, &plan.request.variables))?;
        output::step(format!(
            "Done ({})",
            output::format_duration(started.elapsed())
        ));
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(CondaBuildpack);
