//! Running one of the app's scripts: from the app root, stdin closed, with the documented
//! variables, its output streamed under a `Running <name>` step.

use crate::errors::HookError;
use crate::script::Script;
use blacklodge_common::command::{self, CommandError};
use blacklodge_common::error::io_failure;
use blacklodge_common::output;
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::UncachedLayerDefinition;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
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
    match run_merged(&mut command) {
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

/// Runs `command`, printing each line it writes indented under the current step. Unlike
/// [`command::run_streamed`], stdout and stderr share one pipe, so the lines keep the order
/// the script wrote them in (a script's error after its progress, as in a terminal).
///
/// # Errors
/// [`CommandError`] when the command cannot start or exits non-zero (with its output).
fn run_merged(command: &mut Command) -> Result<String, CommandError> {
    let command_line = command::display(command);
    let spawn_error = |error| CommandError::Spawn {
        command: command_line.clone(),
        error,
    };
    let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
    let stdout = writer.try_clone().map_err(spawn_error)?;
    let spawned = command.stdout(stdout).stderr(writer).spawn();
    // The command holds the pipe's write ends: release them, so reading ends when the script
    // (and whatever it started that keeps them) exits.
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = spawned.map_err(spawn_error)?;
    let mut captured = String::new();
    for line in BufReader::new(reader).split(b'\n').map_while(Result::ok) {
        let line = String::from_utf8_lossy(&line);
        println!("      {line}");
        captured.push_str(&line);
        captured.push('\n');
    }
    let status = child.wait().map_err(spawn_error)?;
    if status.success() {
        Ok(captured)
    } else {
        Err(CommandError::Failed {
            command: command_line,
            status,
            output: captured,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_the_order_of_both_streams() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo one; echo two >&2; echo three; echo four >&2"]);
        assert_eq!(
            run_merged(&mut command).expect("succeeds"),
            "one\ntwo\nthree\nfour\n"
        );

        let mut command = Command::new("sh");
        command.args(["-c", "echo progress; echo broken >&2; exit 3"]);
        let Err(CommandError::Failed { status, output, .. }) = run_merged(&mut command) else {
            panic!("exit 3 is a failure");
        };
        assert_eq!(
            (status.code(), output.as_str()),
            (Some(3), "progress\nbroken\n")
        );

        let mut command = Command::new("/nonexistent/hook");
        assert!(matches!(
            run_merged(&mut command),
            Err(CommandError::Spawn { .. })
        ));
    }
}
