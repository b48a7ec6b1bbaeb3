//! Running one of the app's scripts: from the app root, stdin closed, with the documented
//! variables, its output streamed under a `Running <name>` step.

use crate::errors::HookError;
use crate::script::Script;
use blacklodge_common::command;
use blacklodge_common::error::io_failure;
use blacklodge_common::output;
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::UncachedLayerDefinition;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The app root (also the working directory).
pub const APP_DIR_VARIABLE: &str = "BLACKLODGE_APP_DIR";
/// A layer of the running buildpack the script may write to; it is in the image, its `bin/`
/// is on `PATH` and its `lib/` on `LD_LIBRARY_PATH` (for later build steps too when the
/// buildpack runs before the dependency install).
pub const LAYER_VARIABLE: &str = "BLACKLODGE_HOOK_LAYER";
/// Heroku's name for the app root, which its hook scripts use.
pub const HEROKU_BUILD_DIR_VARIABLE: &str = "BUILD_DIR";

/// The variables every script gets on top of the build's environment.
#[must_use]
pub fn variables(app_dir: &Path, layer: &Path) -> Vec<(String, OsString)> {
    vec![
        (APP_DIR_VARIABLE.to_string(), app_dir.into()),
        (HEROKU_BUILD_DIR_VARIABLE.to_string(), app_dir.into()),
        (LAYER_VARIABLE.to_string(), layer.into()),
    ]
}

/// Runs `script` from `app_dir` with the build's environment plus `variables`.
///
/// # Errors
/// [`HookError::Failed`] when it exits non-zero or cannot start.
pub fn run(
    script: &Script,
    app_dir: &Path,
    variables: &[(String, OsString)],
) -> Result<(), HookError> {
    output::step(format!("Running {}", script.name));
    let start = Instant::now();
    let mut command = Command::new(&script.path);
    command
        .current_dir(app_dir)
        .stdin(Stdio::null())
        .envs(variables.iter().map(|(name, value)| (name, value)));
    match command::run_streamed_merged(&mut command) {
        Ok(_) => {
            output::detail(format!(
                "{} finished ({})",
                script.name,
                output::format_duration(start.elapsed())
            ));
            Ok(())
        }
        Err(error) => Err(HookError::Failed {
            script: script.clone(),
            error,
        }),
    }
}

/// Runs `scripts` in order with the build's environment plus `variables` and the documented
/// ones, giving them the buildpack's `hook` layer (in the image; for the later buildpacks too
/// when `for_later_builds`). Nothing is created when there is nothing to run, and the layer
/// is removed again when the scripts wrote nothing to it.
///
/// # Errors
/// The first script that fails, or the layer that cannot be created.
pub fn run_all<B>(
    context: &BuildContext<B>,
    scripts: &[&Script],
    for_later_builds: bool,
    mut variables: Vec<(String, OsString)>,
) -> libcnb::Result<(), B::Error>
where
    B: Buildpack<Error = HookError>,
{
    if scripts.is_empty() {
        return Ok(());
    }
    let layer = context.uncached_layer(
        layer_name!("hook"),
        UncachedLayerDefinition {
            build: for_later_builds,
            launch: true,
        },
    )?;
    let path = layer.path();
    variables.extend(self::variables(&context.app_dir, &path));
    for script in scripts {
        run(script, &context.app_dir, &variables)?;
    }
    // A layer the scripts left empty is dropped rather than exported as an empty image layer.
    let empty = std::fs::read_dir(&path)
        .map_err(|e| HookError::Io(io_failure("read", &path)(e)))?
        .next()
        .is_none();
    if empty {
        let metadata = path.with_extension("toml");
        std::fs::remove_dir(&path).map_err(|e| HookError::Io(io_failure("remove", &path)(e)))?;
        std::fs::remove_file(&metadata)
            .map_err(|e| HookError::Io(io_failure("remove", &metadata)(e)))?;
    }
    Ok(())
}
