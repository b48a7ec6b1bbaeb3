//! The `entrypoint` layer (launch, not cached): only environment. It tells the harness what to
//! serve (`BLACKLODGE_ENTRYPOINT`, the app directory, name, version and source revision) and,
//! from the `[kafka]` table, the worker's topics, group, output, dead-letter topic and format.
//! Kept apart from the `harness` layer so changing the entry point does not re-export the
//! harness.
//!
//! Every variable is a default: `docker run -e BLACKLODGE_ENTRYPOINT=...` still wins.

use crate::WrapperBuildpack;
use crate::config::WrapperConfig;
use crate::errors::WrapperError;
use crate::revision::Revision;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::UncachedLayerDefinition;
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use std::path::Path;

/// The launch variables, all documented in harness/README.md (the harness refuses others).
pub(crate) fn variables(
    config: &WrapperConfig,
    app_dir: &Path,
    revision: Option<&Revision>,
) -> Vec<(&'static str, String)> {
    let mut variables = vec![
        ("BLACKLODGE_ENTRYPOINT", config.entrypoint.clone()),
        ("BLACKLODGE_APP_DIR", app_dir.to_string_lossy().into_owned()),
    ];
    if let Some(name) = &config.name {
        variables.push(("BLACKLODGE_APP_NAME", name.clone()));
    }
    if let Some(version) = &config.version {
        variables.push(("BLACKLODGE_APP_VERSION", version.clone()));
    }
    if let Some(revision) = revision {
        variables.push(("BLACKLODGE_REVISION", revision.value.clone()));
    }
    if let Some(kafka) = &config.kafka {
        variables.extend(kafka.variables());
    }
    variables
}

pub(crate) fn write(
    context: &BuildContext<WrapperBuildpack>,
    config: &WrapperConfig,
    revision: Option<&Revision>,
) -> libcnb::Result<(), WrapperError> {
    let layer = context.uncached_layer(
        layer_name!("entrypoint"),
        UncachedLayerDefinition {
            build: false,
            launch: true,
        },
    )?;
    let mut env = LayerEnv::new();
    for (name, value) in variables(config, &context.app_dir, revision) {
        env = env.chainable_insert(Scope::Launch, ModificationBehavior::Default, name, value);
    }
    layer.write_env(env)?;
    Ok(())
}
