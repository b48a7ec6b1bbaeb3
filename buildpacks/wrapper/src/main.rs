//! Blacklodge wrapper buildpack: a repository with a plain Python function or class becomes an
//! image that serves it over HTTP (`web`), consumes Kafka topics with it (`worker`) and runs it
//! as a one-shot job (`job`).
//!
//! Detects `blacklodge.toml`, `[tool.blacklodge]` in `pyproject.toml`, or
//! `BP_BLACKLODGE_ENTRYPOINT`; installs the harness (embedded in this binary) next to the
//! app's packages without replacing any; imports the entry point to validate it; declares the
//! processes. Runs after the dependency buildpack and before the Procfile buildpack, whose
//! processes replace same-named ones.

mod config;
mod errors;
mod harness;
mod launch;
mod layers;
mod revision;
mod validate;

use crate::config::{Mode, Origin};
use crate::errors::WrapperError;
use blacklodge_common::{env, output, pypi};
use blacklodge_python_deps::python_env::PythonEnv;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Platform, buildpack_main};

#[cfg(test)]
use tempfile as _;

pub(crate) struct WrapperBuildpack;

impl Buildpack for WrapperBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = WrapperError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if config::is_declared(&context.app_dir, context.platform.env()) {
            // The entry point is imported in the dependency manager's venv while building,
            // so the venv must be there (not only in the image); an app without one is
            // wrapped with the runtime alone.
            DetectResultBuilder::pass()
                .build_plan(
                    BuildPlanBuilder::new()
                        .requires("python")
                        .requires(blacklodge_python_deps::layers::venv::build_requirement())
                        .or()
                        .requires("python")
                        .build(),
                )
                .build()
        } else {
            println!(
                "No {}, no [tool.blacklodge] in {} and no {}: nothing to wrap.",
                config::CONFIG_FILE,
                config::PYPROJECT,
                config::VAR_ENTRYPOINT
            );
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge wrapper");
        let platform_env = context.platform.env();

        output::step("Reading the wrapper configuration");
        let config = config::load(&context.app_dir, platform_env).map_err(WrapperError::from)?;
        let source = match (&config.origin, config.entrypoint_overridden) {
            (Origin::Variable, _) => config::VAR_ENTRYPOINT.to_string(),
            (origin, true) => format!("{} overrides {origin}", config::VAR_ENTRYPOINT),
            (origin, false) => origin.to_string(),
        };
        log_config(&config, &source);
        let layers_root = context
            .layers_dir
            .parent()
            .unwrap_or(&context.layers_dir)
            .to_path_buf();
        let revision = revision::find(platform_env, &layers_root, &context.app_dir)
            .map_err(WrapperError::from)?;
        match &revision {
            Some(revision) => output::detail(format!(
                "Source revision {} (from {})",
                revision.value, revision.source
            )),
            None => output::detail(format!(
                "No source revision (no {}, CI variable, platform project metadata or .git)",
                config::VAR_REVISION
            )),
        }

        output::step(format!(
            "Installing the Blacklodge harness {}",
            harness::version()
        ));
        let python = PythonEnv::inspect(&context.layers_dir).map_err(WrapperError::Inspect)?;
        let installed = python.distributions.len();
        output::detail(format!(
            "Python {} at {} with {installed} installed distribution{}",
            python.python_version,
            python.prefix,
            if installed == 1 { "" } else { "s" }
        ));
        let pip = blacklodge_python_deps::tool::pip();
        let index = env::string(platform_env, "PIP_INDEX_URL")
            .unwrap_or_else(|| pypi::DEFAULT_INDEX.to_string());
        let launcher = layers::harness::install(
            &context,
            &layers::harness::HarnessInstall {
                python: &python,
                pip: &pip,
                index: &index,
                worker: config.has(Mode::Worker),
            },
        )?;

        output::step("Checking the entry point");
        if config.has(Mode::Worker) {
            // Not user code: checked even when the entry point's import is skipped.
            let dependency_dirs = layers::harness::dependency_dirs(&launcher)?;
            let client = validate::kafka_client(&dependency_dirs, &context.app_dir)?;
            output::detail(client.describe(&dependency_dirs));
        }
        if config.validate {
            let validated = output::timed(format!("Importing {}", config.entrypoint), || {
                validate::run(
                    &launcher,
                    &config.entrypoint,
                    &context.app_dir,
                    config.validate_timeout,
                )
            })?;
            output::detail(format!("Calls {}", validated.describe()));
        } else {
            output::detail(format!(
                "Skipped ({}=false): a broken entry point will only show when a process starts",
                config::VAR_VALIDATE
            ));
        }

        layers::entrypoint::write(&context, &config, revision.as_ref())?;

        output::step("Processes");
        for (mode, command) in launch::commands(&config, &launcher) {
            output::detail(format!(
                "{mode}: {}{}",
                command.join(" "),
                if mode == config.default_mode {
                    " (default)"
                } else {
                    ""
                }
            ));
        }
        BuildResultBuilder::new()
            .launch(launch::launch(&config, &launcher))
            .build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

/// The configuration's lines of the build log: the entry point, the modes and, with the
/// worker mode, what the worker will consume and produce.
fn log_config(config: &config::WrapperConfig, source: &str) {
    output::detail(format!("Entry point {} (from {source})", config.entrypoint));
    output::detail(format!(
        "Modes: {}",
        config
            .modes
            .iter()
            .map(|mode| if *mode == config.default_mode {
                format!("{mode} (default)")
            } else {
                mode.to_string()
            })
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for line in config.kafka_summary() {
        output::detail(line);
    }
}

buildpack_main!(WrapperBuildpack);
