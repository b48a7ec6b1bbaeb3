//! Blacklodge hooks after the build: runs after every other buildpack of the group. It runs
//! `bin/post_compile`, then `.s2i/bin/assemble` with `STI_SCRIPTS_PATH` pointing at stock
//! scripts (the stock `assemble` stands for what the buildpacks already did; the stock `run`
//! starts the process they chose), and makes `.s2i/bin/run` the default `web` process.

use blacklodge_common::output;
use blacklodge_hooks::app::AppScripts;
use blacklodge_hooks::errors::HookError;
use blacklodge_hooks::run;
use blacklodge_hooks::s2i::{self, SCRIPTS_VARIABLE};
use blacklodge_hooks::script::Script;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::data::launch::{LaunchBuilder, ProcessBuilder};
use libcnb::data::{layer_name, process_type};
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::layer::UncachedLayerDefinition;
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use libcnb::{Buildpack, buildpack_main};
use std::ffi::OsString;

pub(crate) struct HooksPostBuildpack;

impl Buildpack for HooksPostBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = HookError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if AppScripts::detect(&context.app_dir) {
            // The scripts run with the app's dependencies: the venv is asked for at build
            // time (the second alternative serves apps without dependencies).
            let plan = BuildPlanBuilder::new()
                .requires("python")
                .requires(blacklodge_python_deps::layers::venv::build_requirement())
                .or()
                .requires("python")
                .build();
            DetectResultBuilder::pass().build_plan(plan).build()
        } else {
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge hooks (after the build)");
        let scripts = AppScripts::read_and_check(&context.app_dir, false)?;
        let mut variables: Vec<(String, OsString)> = Vec::new();
        if scripts.s2i.assemble.is_some() || scripts.s2i.run.is_some() {
            let own_id = context.buildpack_descriptor.buildpack.id.to_string();
            let default = s2i::default_process(&context.layers_dir, &own_id)?;
            let layer = context.uncached_layer(
                layer_name!("s2i"),
                UncachedLayerDefinition {
                    build: false,
                    launch: true,
                },
            )?;
            let dir = s2i::write_stock_scripts(&layer.path().join("scripts"), default.as_ref())?;
            layer.write_env(LayerEnv::new().chainable_insert(
                Scope::Launch,
                ModificationBehavior::Override,
                SCRIPTS_VARIABLE,
                &dir,
            ))?;
            output::step(format!("Stock S2I scripts in ${SCRIPTS_VARIABLE}"));
            output::detail("assemble: the buildpacks' build, already done");
            output::detail(match &default {
                Some(process) => format!(
                    "run: APP_SCRIPT or APP_FILE when set, else the {} process: {}",
                    process.kind,
                    process
                        .command
                        .iter()
                        .chain(&process.args)
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                None => "run: APP_SCRIPT or APP_FILE (the buildpacks declared no web or default process)".to_string(),
            });
            variables.push((SCRIPTS_VARIABLE.to_string(), dir.into()));
        }
        let to_run: Vec<&Script> = scripts
            .post_compile
            .iter()
            .chain(scripts.s2i.assemble.iter())
            .collect();
        // Launch only: nothing builds after this buildpack.
        run::run_all(&context, &to_run, false, variables)?;
        let mut result = BuildResultBuilder::new();
        if let Some(script) = &scripts.s2i.run {
            output::step(format!("{} is the web process (default)", script.name));
            result = result.launch(
                LaunchBuilder::new()
                    .process(
                        ProcessBuilder::new(process_type!("web"), [script.path.to_string_lossy()])
                            .default(true)
                            .build(),
                    )
                    .build(),
            );
        }
        result.build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(HooksPostBuildpack);
