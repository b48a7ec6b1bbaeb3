//! Blacklodge Procfile buildpack: the app's `Procfile` becomes its launch processes.

mod procfile;

use crate::procfile::{Procfile, ProcfileError};
use blacklodge_common::error::{UserError, UserFacing};
use blacklodge_common::output;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::launch::{LaunchBuilder, ProcessBuilder, ProcessType};
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, buildpack_main};

const PROCFILE: &str = "Procfile";

#[derive(Debug)]
enum Error {
    Read(std::io::Error),
    Parse(ProcfileError),
}

impl UserFacing for Error {
    fn user_error(&self) -> UserError {
        match self {
            Error::Read(error) => UserError::new(
                "Could not read the Procfile",
                format!("Reading {PROCFILE} failed: {error}"),
                "Make sure Procfile is a readable text file in the app root.",
            ),
            Error::Parse(error) => UserError::new(
                "Invalid Procfile",
                format!("{error}."),
                "Each line of the Procfile is `name: command`, e.g. `web: gunicorn app:app`. Lines starting with # are comments.",
            ),
        }
    }
}

blacklodge_common::buildpack_error!(Error);

struct ProcfileBuildpack;

impl Buildpack for ProcfileBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = Error;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if context.app_dir.join(PROCFILE).is_file() {
            DetectResultBuilder::pass().build()
        } else {
            println!("No {PROCFILE} in the app root.");
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge Procfile");
        let text = fs_err::read_to_string(context.app_dir.join(PROCFILE)).map_err(Error::Read)?;
        let procfile: Procfile = text.parse().map_err(Error::Parse)?;
        let default = procfile.default_process().map(str::to_string);

        output::step("Processes from the Procfile");
        let mut launch = LaunchBuilder::new();
        for (name, command) in &procfile.processes {
            let process_type: ProcessType = name.parse().map_err(|_| {
                Error::Parse(ProcfileError::InvalidName {
                    line_number: 0,
                    name: name.clone(),
                })
            })?;
            let is_default = default.as_deref() == Some(name.as_str());
            output::detail(format!(
                "{name}: {command}{}",
                if is_default { " (default)" } else { "" }
            ));
            // Through bash, as on every Procfile platform: $PORT and other variables expand
            // at start, and shell syntax works.
            launch.process(
                ProcessBuilder::new(process_type, ["bash", "-c"])
                    .arg(command)
                    .default(is_default)
                    .build(),
            );
        }
        BuildResultBuilder::new().launch(launch.build()).build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(ProcfileBuildpack);

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::error::render_all;

    /// Every variant's whole message, as the build log shows it (the errors of parsing real
    /// Procfiles).
    #[test]
    fn every_message_whole() {
        let parse = |text: &str| Error::Parse(text.parse::<Procfile>().expect_err("invalid"));
        let cases = [
            ("read", Error::Read(std::io::Error::from_raw_os_error(13))),
            ("malformed", parse("web: gunicorn app:app\nworker celery\n")),
            ("invalid_name", parse("web server: gunicorn app:app\n")),
            ("empty_command", parse("web: gunicorn app:app\n\nworker:\n")),
            (
                "duplicate",
                parse("web: gunicorn app:app\nweb: flask run\n"),
            ),
            ("no_processes", parse("# nothing yet\n")),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }
}
