//! Every way the web buildpack can fail, and the one place that explains each to the user.

use crate::{VAR_COLLECTSTATIC, VAR_DEFAULT_PROCESS};
use blacklodge_common::command::CommandError;
use blacklodge_common::env::InvalidVariable;
use blacklodge_common::error::{IoFailure, UserError, UserFacing};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::python_env::InspectError;

#[derive(Debug)]
pub(crate) enum WebError {
    InvalidVariable(InvalidVariable),
    /// Reading the app's Python environment: `python3` missing or unusable (the runtime
    /// buildpack did not run), or its description is not what we expect.
    Inspect(InspectError),
    Io(IoFailure),
    /// Fetching the pinned pip (shared with the dependency buildpacks).
    Deps(DepsError),
    /// pip could not install the server next to the app's packages.
    InstallServer {
        server: &'static str,
        error: CommandError,
    },
    /// `manage.py help collectstatic` or `manage.py collectstatic --noinput` failed.
    Collectstatic(CommandError),
}

blacklodge_common::buildpack_error!(WebError, Deps(DepsError));

/// The last lines of a tool's output: the part that says what went wrong.
fn tail(output: &str, lines: usize) -> String {
    let all: Vec<&str> = output.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl UserFacing for WebError {
    fn user_error(&self) -> UserError {
        match self {
            Self::InvalidVariable(error) => UserError::from(error),
            Self::Inspect(InspectError::NoPython(error)) => UserError::new(
                "Python is not available",
                format!(
                    "`{}` {}.\n{}",
                    error.command(),
                    error.reason(),
                    tail(error.output(), 10)
                ),
                "blacklodge/python installs Python before this buildpack runs; build with the Blacklodge builder (or put blacklodge/python first when choosing buildpacks).",
            ),
            Self::Inspect(InspectError::Output(output)) => UserError::new(
                "Could not read the app's Python environment",
                format!(
                    "Python printed something other than the expected JSON:\n{}",
                    tail(output, 10)
                ),
                "Check that nothing in the app's environment (a sitecustomize module, a .pth file) prints to standard output when Python starts.",
            ),
            Self::Io(failure) => failure.user_error(
                "This is a problem of the build environment (disk full, permissions); retry the build, and report it with the build log if it persists.",
            ),
            Self::Deps(error) => error.user_error(),
            Self::InstallServer { server, error } => UserError::new(
                format!("Could not install {server} for the default web process"),
                format!(
                    "The app has no Procfile and no wrapper configuration, and does not install {server}, so this buildpack installs it (hash-checked, from its lock) next to the app's packages, whose versions it keeps.\n`{}` {}:\n{}",
                    error.command(),
                    error.reason(),
                    tail(error.output(), 20)
                ),
                format!(
                    "Add {server} to the app's dependencies (the installed one is then used as is), or declare the web process in a Procfile (`web: <command>`), or set {VAR_DEFAULT_PROCESS}=false to build without a default process."
                ),
            ),
            Self::Collectstatic(error) => UserError::new(
                "Django's collectstatic failed",
                format!(
                    "The build collects static files because the app's settings include django.contrib.staticfiles. `{}` {}. Django said:\n{}",
                    error.command(),
                    error.reason(),
                    tail(error.output(), 25)
                ),
                format!(
                    "Fix what Django reports above (often STATIC_ROOT is not set, or the settings need a variable that only exists at run time: give it a build-time value with `pack build --env NAME=VALUE` or in project.toml).\nOr skip this step with {VAR_COLLECTSTATIC}=false and collect the static files some other way."
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::error::io_failure;
    use blacklodge_common::error::render_all;

    /// Every variant's whole message, as the build log shows it.
    #[test]
    fn every_message_whole() {
        let cases = [
            (
                "invalid_variable",
                WebError::InvalidVariable(InvalidVariable {
                    name: VAR_COLLECTSTATIC.into(),
                    value: "sometimes".into(),
                    expected: "true or false".into(),
                }),
            ),
            (
                "no_python",
                WebError::Inspect(InspectError::NoPython(CommandError::Spawn {
                    command: "python3 -c …".into(),
                    error: std::io::Error::from_raw_os_error(2),
                })),
            ),
            (
                "inspect_output",
                WebError::Inspect(InspectError::Output(
                    "hello from sitecustomize\n{\"packages\": []}\n".into(),
                )),
            ),
            (
                "io",
                WebError::Io(io_failure(
                    "write",
                    std::path::Path::new("/layers/blacklodge_web/server/lock.txt"),
                )(std::io::Error::from_raw_os_error(28))),
            ),
            (
                "install_server",
                WebError::InstallServer {
                    server: "gunicorn",
                    error: CommandError::failed(
                        "python3 -m pip install gunicorn",
                        1,
                        "ERROR: Could not find a version that satisfies the requirement gunicorn\n",
                    ),
                },
            ),
            (
                "collectstatic",
                WebError::Collectstatic(CommandError::failed(
                    "python3 manage.py collectstatic --noinput",
                    1,
                    "Traceback (most recent call last):\n  ...\ndjango.core.exceptions.ImproperlyConfigured: You're using the staticfiles app without having set the STATIC_ROOT setting to a filesystem path.\n",
                )),
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }
}
