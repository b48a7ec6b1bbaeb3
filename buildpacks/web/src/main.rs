//! Blacklodge web buildpack: how a Python app starts.
//!
//! In every group of the composite (after the dependency manager, before the wrapper and the
//! Procfile buildpack), it
//!
//! - gives every image `PORT=8080` as a launch default (the platform's value wins);
//! - when the app has no `Procfile` and no wrapper configuration, declares a default `web`
//!   process for the common app shapes ([`shape`]), with a production server: the app's own,
//!   or gunicorn / uvicorn installed hash-pinned into a layer of its own; when nothing fits,
//!   a warning says the image has no default process and how to give it one;
//! - runs Django's `collectstatic` when the app's settings include the staticfiles app.

mod claims;
mod django;
mod errors;
mod layers;
mod lock;
mod shape;

use crate::errors::WebError;
use crate::shape::{AppView, Choice, Decision, MANAGE_PY};
use blacklodge_common::{env, output, pypi};
use blacklodge_python_deps::python_env::PythonEnv;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::data::launch::{LaunchBuilder, ProcessBuilder};
use libcnb::data::process_type;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Env, Platform, buildpack_main};
use std::fmt::Write as _;
use std::path::Path;

#[cfg(test)]
use tempfile as _;

/// `false`: no default process is detected (and no server installed).
pub(crate) const VAR_DEFAULT_PROCESS: &str = "BP_WEB_DEFAULT_PROCESS";
/// `false`: Django's collectstatic is not run.
pub(crate) const VAR_COLLECTSTATIC: &str = "BP_DJANGO_COLLECTSTATIC";

pub(crate) struct WebBuildpack;

/// A file of the app, when it is a readable text file.
fn read_app_file(app_dir: &Path, relative: &str) -> Option<String> {
    let path = app_dir.join(relative);
    path.is_file()
        .then(|| fs_err::read_to_string(path).ok())
        .flatten()
}

fn enabled(env: &Env, name: &str) -> Result<bool, WebError> {
    Ok(env::boolean(env, name)
        .map_err(WebError::InvalidVariable)?
        .unwrap_or(true))
}

/// Whether the build runs Python in the app's environment (to read its installed packages,
/// and for collectstatic): then the venv must be there while building.
fn needs_app_environment(app_dir: &Path, env: &Env) -> bool {
    let (default_process, collectstatic) = detect_switches(env);
    let read = |relative: &str| read_app_file(app_dir, relative);
    (default_process && claims::find(app_dir, env).is_none() && shape::might_fit(&read))
        || (collectstatic && app_dir.join(MANAGE_PY).is_file())
}

/// `(default process, collectstatic)` as detection reads them: a malformed value is
/// reported by the build; here it counts as the default.
fn detect_switches(env: &Env) -> (bool, bool) {
    let default_process = env::boolean(env, VAR_DEFAULT_PROCESS)
        .ok()
        .flatten()
        .unwrap_or(true);
    let collectstatic = env::boolean(env, VAR_COLLECTSTATIC)
        .ok()
        .flatten()
        .unwrap_or(true);
    (default_process, collectstatic)
}

/// Whether the build runs Python (it inspects the installed packages unless a Procfile or
/// the wrapper claims the web process or the default process is off, and runs
/// collectstatic for a Django project): the same conditions as in `build`.
fn runs_python(app_dir: &Path, env: &Env) -> bool {
    let (default_process, collectstatic) = detect_switches(env);
    (default_process && claims::find(app_dir, env).is_none())
        || (collectstatic && app_dir.join(MANAGE_PY).is_file())
}

impl Buildpack for WebBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = WebError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        // Every Python app gets the launch environment, so this always passes. The venv is
        // asked for at build time only when the build runs Python in it: otherwise it stays
        // a launch-only layer (see the dependency buildpacks).
        let plan = if needs_app_environment(&context.app_dir, context.platform.env()) {
            BuildPlanBuilder::new()
                .requires("python")
                .requires(blacklodge_python_deps::layers::venv::build_requirement())
                .or()
                .requires("python")
                .build()
        } else if runs_python(&context.app_dir, context.platform.env()) {
            BuildPlanBuilder::new().requires("python").build()
        } else {
            // Nothing of this build runs Python (see blacklodge_common::runtime_plan).
            BuildPlanBuilder::new()
                .requires(blacklodge_common::runtime_plan::no_build_requirement())
                .build()
        };
        DetectResultBuilder::pass().build_plan(plan).build()
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge web");
        let platform_env = context.platform.env();
        let default_process = enabled(platform_env, VAR_DEFAULT_PROCESS)?;
        let collectstatic = enabled(platform_env, VAR_COLLECTSTATIC)?;
        let app_dir = &context.app_dir;

        output::step("Launch environment");
        layers::env::write(&context)?;
        output::detail(format!(
            "PORT={} unless the container sets it (docker run -e PORT=…)",
            layers::env::DEFAULT_PORT
        ));

        let claim = claims::find(app_dir, platform_env);
        let django_project = app_dir.join(MANAGE_PY).is_file();
        let python = if (claim.is_none() && default_process) || (django_project && collectstatic) {
            Some(PythonEnv::inspect(&context.layers_dir).map_err(WebError::Inspect)?)
        } else {
            None
        };
        let installed = python.as_ref().map(PythonEnv::names).unwrap_or_default();

        output::step("Default process");
        let mut launch = LaunchBuilder::new();
        match (claim, &python) {
            (Some(claim), _) => output::detail(format!("None added: {claim}")),
            (None, Some(python)) if default_process => {
                let read = |relative: &str| read_app_file(app_dir, relative);
                match shape::decide(&AppView {
                    read: &read,
                    installed: &installed,
                }) {
                    Decision::Process(choice) => {
                        let command = default_command(&context, &choice, python)?;
                        output::detail(format!("web: {command} (default)"));
                        output::detail(format!(
                            "To run something else, add a Procfile with a web line (e.g. `web: {}`); {VAR_DEFAULT_PROCESS}=false builds without this process",
                            choice.command(choice.program())
                        ));
                        launch.process(
                            ProcessBuilder::new(process_type!("web"), ["bash", "-c"])
                                .arg(command)
                                .default(true)
                                .build(),
                        );
                    }
                    Decision::Nothing(notes) => {
                        output::detail("None: no app shape this buildpack knows fits");
                        let (title, body) = no_default_process_warning(&notes);
                        output::warning(title, body);
                    }
                }
            }
            (None, _) => output::detail(format!(
                "None added: {VAR_DEFAULT_PROCESS}=false (the image has no default process unless another buildpack declares one)"
            )),
        }

        if django_project {
            output::step("Django static files");
            if !collectstatic {
                output::detail(format!("Skipped ({VAR_COLLECTSTATIC}=false)"));
            } else if !installed.contains("django") {
                output::detail(format!(
                    "{MANAGE_PY} found, but Django is not installed: nothing to collect"
                ));
            } else {
                match django::collectstatic(app_dir)? {
                    django::Outcome::Collected => {}
                    django::Outcome::NotConfigured => output::detail(
                        "django.contrib.staticfiles is not in INSTALLED_APPS: nothing to collect",
                    ),
                }
            }
        }

        BuildResultBuilder::new().launch(launch.build()).build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

/// Logs the choice and returns the process command, installing the server when the app
/// lacks it.
fn default_command(
    context: &BuildContext<WebBuildpack>,
    choice: &Choice,
    python: &PythonEnv,
) -> libcnb::Result<String, WebError> {
    output::detail(format!("Found: {}", choice.found));
    let Some(server) = choice.server.installable().filter(|_| choice.install) else {
        return Ok(choice.command(choice.program()));
    };
    output::detail(format!(
        "The app does not install {server}: this buildpack adds it (add {server} to the app's dependencies to choose its version)"
    ));
    let index = env::string(context.platform.env(), "PIP_INDEX_URL")
        .unwrap_or_else(|| pypi::DEFAULT_INDEX.to_string());
    let program = layers::server::install(
        context,
        &layers::server::ServerInstall {
            server,
            python,
            pip: &blacklodge_python_deps::tool::pip(),
            index: &index,
        },
    )?;
    Ok(choice.command(&program.to_string_lossy()))
}

/// The warning of an app that gets no default process: what was looked at, and the fixes.
pub(crate) fn no_default_process_warning(notes: &[String]) -> (String, String) {
    let mut body = String::from(
        "The app has no Procfile and no wrapper configuration, and none of the app shapes this buildpack detects fits:\n",
    );
    for note in notes {
        let _ = writeln!(body, "- {note}");
    }
    let _ = writeln!(
        body,
        "Detected: a Django project (manage.py), a module-level `app` or `application` in {} (WSGI with gunicorn, ASGI with uvicorn), a Streamlit or Gradio script.",
        shape::APP_MODULES.join(", ")
    );
    body.push_str(
        "The image has no default process: `docker run <image>` fails until one is given.\nGive it one with a Procfile, e.g. `web: gunicorn --bind 0.0.0.0:$PORT app:app` or `web: python server.py`, or wrap a function with blacklodge.toml (docs/wrapper.md).",
    );
    ("The image has no default process".to_string(), body)
}

buildpack_main!(WebBuildpack);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_lists_what_did_not_fit_and_the_fixes() {
        let (title, body) = no_default_process_warning(&[
            "main.py has no module-level `app` or `application`".to_string(),
        ]);
        assert_eq!(title, "The image has no default process");
        assert_eq!(
            body,
            "The app has no Procfile and no wrapper configuration, and none of the app shapes this buildpack detects fits:\n- main.py has no module-level `app` or `application`\nDetected: a Django project (manage.py), a module-level `app` or `application` in main.py, app.py, wsgi.py, asgi.py (WSGI with gunicorn, ASGI with uvicorn), a Streamlit or Gradio script.\nThe image has no default process: `docker run <image>` fails until one is given.\nGive it one with a Procfile, e.g. `web: gunicorn --bind 0.0.0.0:$PORT app:app` or `web: python server.py`, or wrap a function with blacklodge.toml (docs/wrapper.md)."
        );
    }
}
