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

impl From<WebError> for libcnb::Error<WebError> {
    fn from(error: WebError) -> Self {
        Self::BuildpackError(error)
    }
}

impl From<DepsError> for WebError {
    fn from(error: DepsError) -> Self {
        Self::Deps(error)
    }
}

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

    fn failed(command: &str, code: i32, output: &str) -> CommandError {
        use std::os::unix::process::ExitStatusExt;
        CommandError::Failed {
            command: command.to_string(),
            status: std::process::ExitStatus::from_raw(code << 8),
            output: output.to_string(),
        }
    }

    #[test]
    fn collectstatic_failure_shows_djangos_message_and_the_opt_out() {
        let error = WebError::Collectstatic(failed(
            "python3 manage.py collectstatic --noinput",
            1,
            "Traceback (most recent call last):\n  ...\ndjango.core.exceptions.ImproperlyConfigured: You're using the staticfiles app without having set the STATIC_ROOT setting to a filesystem path.\n",
        ));
        assert_eq!(
            error.user_error().render(),
            "\n! ERROR: Django's collectstatic failed\n!\n! The build collects static files because the app's settings include django.contrib.staticfiles. `python3 manage.py collectstatic --noinput` exited with code 1. Django said:\n! Traceback (most recent call last):\n!   ...\n! django.core.exceptions.ImproperlyConfigured: You're using the staticfiles app without having set the STATIC_ROOT setting to a filesystem path.\n!\n! How to fix:\n!   Fix what Django reports above (often STATIC_ROOT is not set, or the settings need a variable that only exists at run time: give it a build-time value with `pack build --env NAME=VALUE` or in project.toml).\n!   Or skip this step with BP_DJANGO_COLLECTSTATIC=false and collect the static files some other way.\n"
        );
    }

    #[test]
    fn server_install_failure_names_the_server_and_every_way_out() {
        let error = WebError::InstallServer {
            server: "gunicorn",
            error: failed(
                "python3 -m pip install gunicorn",
                1,
                "ERROR: Could not find a version that satisfies the requirement gunicorn\n",
            ),
        };
        assert_eq!(
            error.user_error().render(),
            "\n! ERROR: Could not install gunicorn for the default web process\n!\n! The app has no Procfile and no wrapper configuration, and does not install gunicorn, so this buildpack installs it (hash-checked, from its lock) next to the app's packages, whose versions it keeps.\n! `python3 -m pip install gunicorn` exited with code 1:\n! ERROR: Could not find a version that satisfies the requirement gunicorn\n!\n! How to fix:\n!   Add gunicorn to the app's dependencies (the installed one is then used as is), or declare the web process in a Procfile (`web: <command>`), or set BP_WEB_DEFAULT_PROCESS=false to build without a default process.\n"
        );
    }
}
