//! Every way the hook buildpacks can fail, and the one place that explains each to the user.

use crate::run::{APP_DIR_VARIABLE, LAYER_VARIABLE};
use crate::s2i::{ENVIRONMENT_FILE, SAVE_ARTIFACTS, SCRIPTS_DIR};
use crate::script::{RootCommand, Script};
use blacklodge_common::command::CommandError;
use blacklodge_common::error::{IoFailure, UserError, UserFacing, quote};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

/// Where the hooks' contract is documented, for fixes that point at it.
const DOCS: &str = "docs/hooks.md";

#[derive(Debug)]
pub enum HookError {
    Io(IoFailure),
    NotAFile(Script),
    NotExecutable {
        script: Script,
        mode: u32,
    },
    NoInterpreter(Script),
    WindowsLineEndings(Script),
    NeedsRoot {
        script: Script,
        found: RootCommand,
    },
    /// The script exited non-zero, was killed, or could not start.
    Failed {
        script: Script,
        error: CommandError,
    },
    SaveArtifacts,
    EnvironmentLine {
        line_number: usize,
        line: String,
        problem: String,
    },
    /// A file the platform wrote (`group.toml`) or an earlier buildpack wrote
    /// (`launch.toml`) is not what the buildpack API describes.
    PlatformFile {
        path: PathBuf,
        error: String,
    },
}

impl From<HookError> for libcnb::Error<HookError> {
    fn from(error: HookError) -> Self {
        Self::BuildpackError(error)
    }
}

/// `The hook bin/pre_compile` / `The S2I script .s2i/bin/run`.
fn subject(script: &Script) -> String {
    format!("The {} {}", script.kind.label(), script.name)
}

/// What the failure of a script that ran means, in one sentence with its exit code.
fn failure_detail(script: &Script, error: &CommandError) -> String {
    let name = script.name;
    match error {
        CommandError::Failed { status, output, .. } => {
            let reason = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(signal)) => format!("was killed by signal {signal}"),
                (None, None) => format!("ended with {status}"),
            };
            let refused = ["Permission denied", "Read-only file system"]
                .iter()
                .any(|text| output.contains(text));
            let hint = if refused {
                format!(
                    "\n\nIt was refused access to a file: build steps run as the image's non-root user (uid 1000) and may write only to the app directory (${APP_DIR_VARIABLE}), ${LAYER_VARIABLE} and /tmp."
                )
            } else {
                String::new()
            };
            format!("{name} {reason}. Its output is above, under 'Running {name}'.{hint}")
        }
        CommandError::Spawn { error, .. } => {
            let interpreter = script
                .interpreter()
                .map(|interpreter| {
                    format!(
                        "\n\nIts interpreter line names {interpreter}: the build image must have it (bash, sh and the app's python3 are there)."
                    )
                })
                .unwrap_or_default();
            format!("{name} could not be started: {error}.{interpreter}")
        }
    }
}

impl UserFacing for HookError {
    fn user_error(&self) -> UserError {
        match self {
            Self::Io(failure) => failure.user_error(
                "Check that the file exists in the app (not a broken link) and is readable.",
            ),
            Self::NotAFile(script) => UserError::new(
                format!("{} is not a file", subject(script)),
                format!(
                    "{} is a directory or a special file; the build runs it as a program.",
                    script.name
                ),
                format!(
                    "Replace {} with an executable script, or remove it.",
                    script.name
                ),
            ),
            Self::NotExecutable { script, mode } => UserError::new(
                format!("{} is not executable", subject(script)),
                format!(
                    "{} has mode {mode:o}: the build runs it as a program, which needs the executable bit.",
                    script.name
                ),
                format!(
                    "Make it executable and commit the mode:\n  chmod +x {0}\n  git update-index --chmod=+x {0}",
                    script.name
                ),
            ),
            Self::NoInterpreter(script) => UserError::new(
                format!("{} has no interpreter line", subject(script)),
                format!(
                    "{} does not start with '#!', so it cannot be run as a program.",
                    script.name
                ),
                format!(
                    "Add an interpreter line as the first line of {}, e.g. #!/usr/bin/env bash",
                    script.name
                ),
            ),
            Self::WindowsLineEndings(script) => UserError::new(
                format!("{} has Windows line endings", subject(script)),
                format!(
                    "The first line of {} ends with a carriage return (\\r): the system would look for an interpreter whose name ends with it, and find none.",
                    script.name
                ),
                format!(
                    "Convert {0} to Unix line endings (`sed -i 's/\\r$//' {0}`, or your editor's LF setting) and commit it.",
                    script.name
                ),
            ),
            Self::NeedsRoot { script, found } => UserError::new(
                format!("{} needs root", subject(script)),
                format!(
                    "Line {} of {} runs {}: {}\nBuild steps run as the image's non-root user (uid 1000): they cannot install system packages, use sudo or change users.",
                    found.line_number,
                    script.name,
                    found.command,
                    quote(&found.line)
                ),
                format!(
                    "Remove that command from {}. List the Debian packages the app needs in an Aptfile instead (installed without root), and Python packages in the app's dependency file; see {DOCS} ('Which tool for which need').",
                    script.name
                ),
            ),
            Self::Failed { script, error } => UserError::new(
                format!("{} failed", subject(script)),
                failure_detail(script, error),
                format!(
                    "Fix {0} so that it succeeds (exit code 0); try it from the app root with `{0}`. Its environment is described in {DOCS}.",
                    script.name
                ),
            ),
            Self::SaveArtifacts => UserError::new(
                "S2I incremental builds are not supported",
                format!(
                    "{SCRIPTS_DIR}/{SAVE_ARTIFACTS} exists. S2I runs it to keep files for the next build's assemble in /tmp/artifacts; the buildpacks keep Python, the dependencies and the installers' downloads in cached layers instead, and provide no /tmp/artifacts."
                ),
                format!(
                    "Delete {SCRIPTS_DIR}/{SAVE_ARTIFACTS} (and any use of /tmp/artifacts in {SCRIPTS_DIR}/assemble)."
                ),
            ),
            Self::EnvironmentLine {
                line_number,
                line,
                problem,
            } => UserError::new(
                format!("Invalid line in {ENVIRONMENT_FILE}"),
                format!("Line {line_number} is {}: {problem}.", quote(line)),
                "Write each variable as NAME=value on its own line (no `export`, no spaces around '='), or remove the line. To add programs or libraries, have a hook put them in $BLACKLODGE_HOOK_LAYER/bin or /lib.",
            ),
            Self::PlatformFile { path, error } => UserError::new(
                "Could not read the build's process declarations",
                format!(
                    "{} is not what the buildpack API describes: {error}",
                    path.display()
                ),
                "This is not caused by your app. Please report it with the full build log.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{Kind, POST_COMPILE, PRE_COMPILE, S2I_ASSEMBLE};
    use blacklodge_common::error::{io_failure, render_all};

    fn script(name: &'static str, kind: Kind) -> Script {
        Script {
            name,
            path: PathBuf::from("/workspace").join(name),
            kind,
        }
    }

    fn hook() -> Script {
        script(POST_COMPILE, Kind::Hook)
    }

    /// Every variant's whole message, as the build log shows it (the three hook buildpacks
    /// share these errors).
    #[test]
    fn every_message_whole() {
        // A hook whose interpreter is missing: its first line is read for the message.
        let dir = tempfile::tempdir().expect("tempdir");
        let pre_compile = dir.path().join("pre_compile");
        fs_err::write(&pre_compile, "#!/usr/bin/zsh -e\necho hi\n").expect("write");
        let cases = [
            (
                "io",
                HookError::Io(io_failure("read", std::path::Path::new("/workspace/bin/post_compile"))(
                    std::io::Error::from_raw_os_error(13),
                )),
            ),
            ("not_a_file", HookError::NotAFile(hook())),
            ("not_executable", HookError::NotExecutable { script: hook(), mode: 0o644 }),
            ("no_interpreter", HookError::NoInterpreter(script(S2I_ASSEMBLE, Kind::S2i))),
            ("windows_line_endings", HookError::WindowsLineEndings(hook())),
            (
                "needs_root",
                HookError::NeedsRoot {
                    script: script(S2I_ASSEMBLE, Kind::S2i),
                    found: RootCommand {
                        line_number: 4,
                        command: "apt-get".into(),
                        line: "apt-get install -y libpq5".into(),
                    },
                },
            ),
            (
                "failed",
                HookError::Failed {
                    script: hook(),
                    error: CommandError::failed("/workspace/bin/post_compile", 3, "done\n"),
                },
            ),
            (
                "failed_refused_access",
                HookError::Failed {
                    script: hook(),
                    error: CommandError::failed(
                        "/workspace/bin/post_compile",
                        3,
                        "touch: cannot touch '/usr/x': Permission denied\n",
                    ),
                },
            ),
            (
                "killed",
                HookError::Failed {
                    script: hook(),
                    error: CommandError::Failed {
                        command: "/workspace/bin/post_compile".to_string(),
                        status: std::process::ExitStatus::from_raw(9),
                        output: String::new(),
                    },
                },
            ),
            (
                "could_not_start",
                HookError::Failed {
                    script: Script {
                        name: PRE_COMPILE,
                        path: pre_compile,
                        kind: Kind::Hook,
                    },
                    error: CommandError::Spawn {
                        command: "bin/pre_compile".to_string(),
                        error: std::io::Error::from_raw_os_error(2),
                    },
                },
            ),
            ("save_artifacts", HookError::SaveArtifacts),
            (
                "environment_line",
                HookError::EnvironmentLine {
                    line_number: 2,
                    line: "export DEBUG=1".into(),
                    problem: "'export DEBUG' is not a variable name (letters, digits and _, not starting with a digit)".into(),
                },
            ),
            (
                "platform_file",
                HookError::PlatformFile {
                    path: "/layers/group.toml".into(),
                    error: "missing field `group`".into(),
                },
            ),
        ];
        insta::assert_snapshot!(render_all(&cases));
    }
}
