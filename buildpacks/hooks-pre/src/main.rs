//! Blacklodge hooks before the dependencies: runs after the Python runtime and before the
//! dependency manager. It checks every hook and S2I script of the app (so a mistake fails the
//! build before the install), exports `.s2i/environment` to the rest of the build and to the
//! image, and runs `bin/pre_compile`.

use blacklodge_common::error::io_failure;
use blacklodge_common::output;
use blacklodge_hooks::app::AppScripts;
use blacklodge_hooks::errors::HookError;
use blacklodge_hooks::run;
use blacklodge_hooks::s2i::{self, ENVIRONMENT_FILE};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::data::layer_name;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::layer::UncachedLayerDefinition;
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use libcnb::{Buildpack, buildpack_main};
use std::ffi::OsString;

pub(crate) struct HooksPreBuildpack;

impl Buildpack for HooksPreBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = HookError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if AppScripts::detect(&context.app_dir) {
            // Plainly required: its hook runs Python, and the variables it exports change
            // what the dependency buildpack installs, so the runtime is there on every build
            // (see blacklodge_common::runtime_plan).
            DetectResultBuilder::pass()
                .build_plan(BuildPlanBuilder::new().requires("python").build())
                .build()
        } else {
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge hooks (before the dependencies)");
        let scripts = AppScripts::read_and_check(&context.app_dir, true)?;
        let mut variables: Vec<(String, OsString)> = Vec::new();
        if scripts.s2i.has_environment {
            let path = context.app_dir.join(ENVIRONMENT_FILE);
            let text = std::fs::read_to_string(&path)
                .map_err(|error| HookError::Io(io_failure("read", &path)(error)))?;
            let environment = s2i::parse_environment(&text)?;
            output::step(format!(
                "Setting {} from {ENVIRONMENT_FILE} for the build and the image",
                output::count(environment.len(), "variable", "variables")
            ));
            if !environment.is_empty() {
                output::detail(
                    environment
                        .iter()
                        .map(|(name, _)| name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
            let layer = context.uncached_layer(
                layer_name!("s2i-environment"),
                UncachedLayerDefinition {
                    build: true,
                    launch: true,
                },
            )?;
            let mut layer_env = LayerEnv::new();
            for (name, value) in &environment {
                layer_env.insert(Scope::All, ModificationBehavior::Override, name, value);
                variables.push((name.clone(), value.into()));
            }
            layer.write_env(layer_env)?;
        }
        // For the later buildpacks too: what the hook puts in bin/ and lib/ is on PATH and
        // LD_LIBRARY_PATH for the dependency install.
        let to_run: Vec<_> = scripts.pre_compile.iter().collect();
        run::run_all(&context, &to_run, true, variables)?;
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(HooksPreBuildpack);
