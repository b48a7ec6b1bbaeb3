//! The `env` layer (launch only, rewritten on every build): the launch environment every
//! image of the builder gets, whichever processes it has.
//!
//! `PORT` defaults to 8080, the port `docker run -p 8080:8080` publishes; a value the
//! platform or `docker run -e PORT=…` sets wins (CNB `.default` semantics).

use crate::WebBuildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::UncachedLayerDefinition;
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};

pub(crate) const DEFAULT_PORT: &str = "8080";

pub(crate) fn write(
    context: &BuildContext<WebBuildpack>,
) -> libcnb::Result<(), crate::errors::WebError> {
    let layer = context.uncached_layer(
        layer_name!("env"),
        UncachedLayerDefinition {
            build: false,
            launch: true,
        },
    )?;
    layer.write_env(LayerEnv::new().chainable_insert(
        Scope::Launch,
        ModificationBehavior::Default,
        "PORT",
        DEFAULT_PORT,
    ))?;
    Ok(())
}
