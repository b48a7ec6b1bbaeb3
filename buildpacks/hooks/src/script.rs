//! The app's scripts the hook buildpacks run, found and checked before any of them runs, so
//! a mistake fails the build at once with the script's name, not after the dependencies
//! were installed.

use crate::errors::HookError;
use blacklodge_common::error::io_failure;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Heroku's hook before the dependency install.
pub const PRE_COMPILE: &str = "bin/pre_compile";
/// Heroku's hook after the dependency install.
pub const POST_COMPILE: &str = "bin/post_compile";
/// S2I's build script.
pub const S2I_ASSEMBLE: &str = ".s2i/bin/assemble";
/// S2I's start script.
pub const S2I_RUN: &str = ".s2i/bin/run";

/// What kind of script it is, for the log and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hook,
    S2i,
}

impl Kind {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Hook => "hook",
            Self::S2i => "S2I script",
        }
    }
}

/// One of the app's scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Its path relative to the app root, as the user wrote it (`bin/pre_compile`).
    pub name: &'static str,
    pub path: PathBuf,
    pub kind: Kind,
}

impl Script {
    /// The script at `name` in `app_dir`, when there is a file or link there (even a broken
    /// or non-executable one: [`Script::check`] explains it).
    #[must_use]
    pub fn find(app_dir: &Path, name: &'static str, kind: Kind) -> Option<Self> {
        let path = app_dir.join(name);
        path.symlink_metadata()
            .is_ok()
            .then_some(Self { name, path, kind })
    }

    /// Fails unless the script can run here: a regular file, executable, starting with an
    /// interpreter line (`#!`) without a Windows line ending, or a program; and without
    /// commands that need root.
    ///
    /// # Errors
    /// The [`HookError`] that names the script and the fix.
    pub fn check(&self) -> Result<(), HookError> {
        let metadata = std::fs::metadata(&self.path)
            .map_err(|e| HookError::Io(io_failure("read", &self.path)(e)))?;
        if !metadata.is_file() {
            return Err(HookError::NotAFile(self.clone()));
        }
        let mode = metadata.permissions().mode();
        if mode & 0o111 == 0 {
            return Err(HookError::NotExecutable {
                script: self.clone(),
                mode: mode & 0o777,
            });
        }
        let bytes = std::fs::read(&self.path)
            .map_err(|e| HookError::Io(io_failure("read", &self.path)(e)))?;
        if bytes.starts_with(b"\x7fELF") {
            return Ok(());
        }
        let Some(rest) = bytes.strip_prefix(b"#!") else {
            return Err(HookError::NoInterpreter(self.clone()));
        };
        let first_line = rest.split(|byte| *byte == b'\n').next().unwrap_or_default();
        if first_line.ends_with(b"\r") {
            return Err(HookError::WindowsLineEndings(self.clone()));
        }
        if let Some(found) = root_command(&String::from_utf8_lossy(&bytes)) {
            return Err(HookError::NeedsRoot {
                script: self.clone(),
                found,
            });
        }
        Ok(())
    }

    /// The interpreter its `#!` line names, for explaining a script that cannot start.
    #[must_use]
    pub fn interpreter(&self) -> Option<String> {
        let text = fs_err::read(&self.path).ok()?;
        let line = text
            .strip_prefix(b"#!")?
            .split(|byte| *byte == b'\n')
            .next()?;
        String::from_utf8_lossy(line)
            .split_whitespace()
            .next()
            .map(str::to_string)
    }
}

/// A command that only root can run, found in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCommand {
    pub line_number: usize,
    pub command: String,
    pub line: String,
}

/// Commands that install system packages or change users: they need root, which no build
/// step has (the build runs as the image's non-root user, uid 1000).
/// (`dpkg` and `rpm` are not among them: their queries, e.g. `dpkg --print-architecture`,
/// work without root.)
const ROOT_COMMANDS: &[&str] = &[
    "sudo", "su", "doas", "apt-get", "apt", "aptitude", "yum", "dnf", "microdnf", "apk", "zypper",
    "useradd", "adduser", "groupadd", "usermod",
];

/// Words that may come before a command in a shell line.
const PREFIX_WORDS: &[&str] = &["then", "do", "else", "!", "exec", "command", "time", "{"];

/// The first line of a shell script that runs one of [`ROOT_COMMANDS`] as a command (not as
/// a word in an argument or a comment).
#[must_use]
pub fn root_command(text: &str) -> Option<RootCommand> {
    for (index, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with('#') {
            continue;
        }
        for segment in code.split(['&', '|', ';', '(', ')', '`']) {
            let mut words = segment
                .split_whitespace()
                .skip_while(|word| PREFIX_WORDS.contains(word) || word.contains('='));
            let Some(first) = words.next() else { continue };
            let name = first.rsplit('/').next().unwrap_or(first);
            if ROOT_COMMANDS.contains(&name) {
                return Some(RootCommand {
                    line_number: index + 1,
                    command: name.to_string(),
                    line: line.trim().to_string(),
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_script(dir: &Path, name: &'static str, text: &str, mode: u32) -> Script {
        let path = dir.join(name);
        fs_err::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs_err::write(&path, text).expect("write");
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        Script::find(dir, name, Kind::Hook).expect("found")
    }

    #[test]
    fn finds_only_present_scripts() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(Script::find(dir.path(), PRE_COMPILE, Kind::Hook), None);
        let script = write_script(dir.path(), PRE_COMPILE, "#!/bin/sh\necho hi\n", 0o755);
        assert_eq!(script.path, dir.path().join("bin/pre_compile"));
        assert!(script.check().is_ok());
        assert_eq!(script.interpreter().as_deref(), Some("/bin/sh"));
    }

    #[test]
    fn refuses_scripts_that_cannot_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = write_script(dir.path(), PRE_COMPILE, "#!/bin/sh\n", 0o644);
        assert!(matches!(
            script.check(),
            Err(HookError::NotExecutable { mode: 0o644, .. })
        ));
        let script = write_script(dir.path(), POST_COMPILE, "echo no interpreter\n", 0o755);
        assert!(matches!(script.check(), Err(HookError::NoInterpreter(_))));
        let script = write_script(dir.path(), S2I_RUN, "#!/bin/bash\r\necho hi\r\n", 0o755);
        assert!(matches!(
            script.check(),
            Err(HookError::WindowsLineEndings(_))
        ));
        fs_err::create_dir_all(dir.path().join(".s2i/bin/assemble")).expect("mkdir");
        let directory = Script::find(dir.path(), S2I_ASSEMBLE, Kind::S2i).expect("found");
        assert!(matches!(directory.check(), Err(HookError::NotAFile(_))));
    }

    #[test]
    fn finds_commands_that_need_root() {
        let script = "#!/bin/bash\n# apt-get install is not for us\necho 'use sudo'\nset -e\nif true; then sudo make install; fi\n";
        assert_eq!(
            root_command(script),
            Some(RootCommand {
                line_number: 5,
                command: "sudo".to_string(),
                line: "if true; then sudo make install; fi".to_string(),
            })
        );
        assert_eq!(
            root_command("DEBIAN_FRONTEND=noninteractive /usr/bin/apt-get install -y gcc\n")
                .map(|found| found.command),
            Some("apt-get".to_string())
        );
        assert_eq!(
            root_command("${STI_SCRIPTS_PATH}/assemble && yum install -y gcc\n")
                .map(|found| found.line_number),
            Some(1)
        );
        assert_eq!(
            root_command(
                "echo apt-get\npip install rpm-tools\nARCH=$(dpkg --print-architecture)\n"
            ),
            None
        );
    }
}
