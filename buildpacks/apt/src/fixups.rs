//! What some maintainer scripts do that the buildpack can do without root, inside the layer:
//! the script's own step, run with the layer's programs and libraries.

use blacklodge_common::{command, output};
use libcnb::Env;
use libcnb::layer_env::{LayerEnv, Scope};
use std::path::Path;
use std::process::Command;

/// A maintainer script's step that works in the layer.
pub(crate) struct Fixup {
    /// The package whose script it stands for.
    pub(crate) package: &'static str,
    /// The program (under the layer) and its arguments.
    pub(crate) program: &'static str,
    pub(crate) args: &'static [&'static str],
    pub(crate) what: &'static str,
}

/// The steps, by package. libgvc6's postinst writes Graphviz's plugin configuration
/// (`config6a`, next to the plugins, which Graphviz finds relative to its library): without
/// it `dot` has no layouts or formats.
pub(crate) const FIXUPS: [Fixup; 1] = [Fixup {
    package: "libgvc6",
    program: "usr/bin/dot",
    args: &["-c"],
    what: "Graphviz's plugin configuration",
}];

/// Runs the steps of the installed packages (those whose program is there); returns the
/// packages whose script they replaced. A step that fails is a warning: the package is
/// installed, only that configuration is missing.
pub(crate) fn run(root: &Path, installed: &[&str], env: &LayerEnv) -> Vec<&'static str> {
    let env = env.apply(Scope::Build, &Env::from_current());
    let mut done = Vec::new();
    for fixup in FIXUPS
        .iter()
        .filter(|fixup| installed.contains(&fixup.package))
    {
        let program = root.join(fixup.program);
        if !program.is_file() {
            continue;
        }
        let mut step = Command::new(&program);
        step.args(fixup.args).env_clear().envs(&env);
        match command::run_captured(&mut step) {
            Ok(_) => {
                output::detail(format!(
                    "{}: ran `{} {}` (what {}'s postinst does)",
                    fixup.what,
                    fixup.program.rsplit('/').next().unwrap_or_default(),
                    fixup.args.join(" "),
                    fixup.package
                ));
                done.push(fixup.package);
            }
            Err(error) => output::warning(
                format!("{} could not be written", fixup.what),
                format!(
                    "`{}` {}:\n{}\n\n{} is installed, but may not work.",
                    error.command(),
                    error.reason(),
                    error.output().trim(),
                    fixup.package
                ),
            ),
        }
    }
    done
}
