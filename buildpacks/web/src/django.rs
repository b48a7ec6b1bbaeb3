//! Django's static files: `manage.py collectstatic --noinput` at build time when the app's
//! settings include the staticfiles app, so the image serves them (e.g. with WhiteNoise)
//! without a step at start. `BP_DJANGO_COLLECTSTATIC=false` skips it.
//!
//! Whether staticfiles is configured is Django's own answer: `manage.py help collectstatic`
//! succeeds only when `django.contrib.staticfiles` is in `INSTALLED_APPS`. Any other failure
//! of that check is a broken settings module, reported with Django's message like a failed
//! collectstatic.

use crate::errors::WebError;
use crate::shape::MANAGE_PY;
use blacklodge_common::{command, output};
use std::path::Path;
use std::process::Command;

/// What Django prints for a management command that no installed app provides.
const UNKNOWN_COMMAND: &str = "Unknown command: 'collectstatic'";

/// The outcome of the staticfiles check.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Collected,
    /// `django.contrib.staticfiles` is not in `INSTALLED_APPS`.
    NotConfigured,
}

fn manage(app_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(MANAGE_PY)
        .args(args)
        .current_dir(app_dir)
        // Output as Django writes it, in order, without colour codes.
        .env("PYTHONUNBUFFERED", "1")
        .env("DJANGO_COLORS", "nocolor");
    command
}

/// Runs the check, then collectstatic.
pub(crate) fn collectstatic(app_dir: &Path) -> Result<Outcome, WebError> {
    match command::run_captured(&mut manage(app_dir, &["help", "collectstatic"])) {
        Ok(_) => {}
        Err(error) if error.output().contains(UNKNOWN_COMMAND) => {
            return Ok(Outcome::NotConfigured);
        }
        Err(error) => return Err(WebError::Collectstatic(error)),
    }
    output::stream_heading("Running python3 manage.py collectstatic --noinput");
    let start = std::time::Instant::now();
    command::run_streamed(&mut manage(app_dir, &["collectstatic", "--noinput"]))
        .map_err(WebError::Collectstatic)?;
    output::detail(format!(
        "Done in {}",
        output::format_duration(start.elapsed())
    ));
    Ok(Outcome::Collected)
}
