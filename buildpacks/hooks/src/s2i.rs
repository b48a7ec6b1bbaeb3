//! Source-to-Image compatibility: what of a repo's `.s2i/` directory is supported, what is
//! refused, and the stock scripts `STI_SCRIPTS_PATH` points at.

use crate::errors::HookError;
use crate::script::{Kind, S2I_ASSEMBLE, S2I_RUN, Script};
use blacklodge_common::error::io_failure;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const ENVIRONMENT_FILE: &str = ".s2i/environment";
pub const SCRIPTS_DIR: &str = ".s2i/bin";
/// S2I's variable naming the builder's own scripts.
pub const SCRIPTS_VARIABLE: &str = "STI_SCRIPTS_PATH";
/// S2I's script for incremental builds, which we refuse.
pub const SAVE_ARTIFACTS: &str = "save-artifacts";
/// Variables `.s2i/environment` may not set: the buildpacks compose them from every layer, a
/// fixed value would hide the runtime, the dependencies or the launcher.
const RESERVED_VARIABLES: &[&str] = &["PATH", "LD_LIBRARY_PATH", "PYTHONHOME", "VIRTUAL_ENV"];

/// What a repo's `.s2i/` holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct S2iRepo {
    pub assemble: Option<Script>,
    pub run: Option<Script>,
    /// Files in `.s2i/bin` that S2I runs in situations a buildpack build does not have
    /// (`usage`) or that it does not know: not run, named in a warning.
    pub ignored: Vec<String>,
    pub has_environment: bool,
}

impl S2iRepo {
    /// Reads `.s2i/` of `app_dir` (empty when there is none).
    ///
    /// # Errors
    /// [`HookError::SaveArtifacts`] when `.s2i/bin/save-artifacts` exists, or an unreadable
    /// directory.
    pub fn read(app_dir: &Path) -> Result<Self, HookError> {
        let mut repo = Self {
            assemble: Script::find(app_dir, S2I_ASSEMBLE, Kind::S2i),
            run: Script::find(app_dir, S2I_RUN, Kind::S2i),
            ignored: Vec::new(),
            has_environment: app_dir.join(ENVIRONMENT_FILE).symlink_metadata().is_ok(),
        };
        let scripts_dir = app_dir.join(SCRIPTS_DIR);
        if scripts_dir.is_dir() {
            let entries = std::fs::read_dir(&scripts_dir)
                .map_err(|e| HookError::Io(io_failure("read", &scripts_dir)(e)))?;
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                match name.as_str() {
                    "assemble" | "run" => {}
                    SAVE_ARTIFACTS => return Err(HookError::SaveArtifacts),
                    _ => repo.ignored.push(format!("{SCRIPTS_DIR}/{name}")),
                }
            }
        }
        Ok(repo)
    }

    /// The scripts to check before the build goes on.
    #[must_use]
    pub fn scripts(&self) -> Vec<&Script> {
        self.assemble.iter().chain(self.run.iter()).collect()
    }
}

/// `.s2i/environment`: one `NAME=value` a line, the value taken literally (no quotes removed,
/// nothing expanded), as S2I reads it; blank lines and lines starting with `#` are skipped.
///
/// # Errors
/// [`HookError::EnvironmentLine`] for a line without `=` or with an invalid or reserved name.
pub fn parse_environment(text: &str) -> Result<Vec<(String, String)>, HookError> {
    let mut variables = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let problem = match line.split_once('=') {
            None => Some("it has no '=': each line is NAME=value".to_string()),
            Some((name, _)) if !is_variable_name(name) => Some(format!(
                "'{name}' is not a variable name (letters, digits and _, not starting with a digit)"
            )),
            Some((name, _)) if RESERVED_VARIABLES.contains(&name) || name.starts_with("CNB_") => {
                Some(format!(
                    "{name} is set by the buildpacks from every layer (runtime, dependencies, launcher); a fixed value would hide them"
                ))
            }
            Some((name, value)) => {
                variables.retain(|(existing, _): &(String, String)| existing != name);
                variables.push((name.to_string(), value.to_string()));
                None
            }
        };
        if let Some(problem) = problem {
            return Err(HookError::EnvironmentLine {
                line_number: index + 1,
                line: line.to_string(),
                problem,
            });
        }
    }
    Ok(variables)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A launch process as an earlier buildpack declared it in its `launch.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Process {
    #[serde(rename = "type")]
    pub kind: String,
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub default: bool,
    #[serde(rename = "working-dir")]
    pub working_dir: Option<String>,
}

#[derive(Deserialize)]
struct Launch {
    #[serde(default)]
    processes: Vec<Process>,
}

#[derive(Deserialize)]
struct Group {
    group: Vec<GroupEntry>,
}

#[derive(Deserialize)]
struct GroupEntry {
    id: String,
}

/// The process the image would start without `.s2i/bin/run`: the `web` process the
/// buildpacks before `own_id` in this build declared (the last declaration wins, as in the
/// image), else their default process. `None` when they declared neither, or when the
/// platform did not leave the detected group (`group.toml`) in the layers directory.
///
/// # Errors
/// An unreadable or malformed `group.toml` or `launch.toml`.
pub fn default_process(layers_dir: &Path, own_id: &str) -> Result<Option<Process>, HookError> {
    let Some(root) = layers_dir.parent() else {
        return Ok(None);
    };
    let group_path = root.join("group.toml");
    let Some(group) = read_toml::<Group>(&group_path)? else {
        return Ok(None);
    };
    let mut processes: Vec<Process> = Vec::new();
    for entry in group.group.iter().take_while(|entry| entry.id != own_id) {
        let launch_path = root.join(entry.id.replace('/', "_")).join("launch.toml");
        if let Some(launch) = read_toml::<Launch>(&launch_path)? {
            for process in launch.processes {
                processes.retain(|existing| existing.kind != process.kind);
                if process.default {
                    for existing in &mut processes {
                        existing.default = false;
                    }
                }
                processes.push(process);
            }
        }
    }
    Ok(processes
        .iter()
        .find(|process| process.kind == "web")
        .or_else(|| processes.iter().find(|process| process.default))
        .cloned())
}

fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, HookError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(HookError::Io(io_failure("read", path)(error))),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|error| HookError::PlatformFile {
            path: path.to_path_buf(),
            error: error.to_string(),
        })
}

/// A word for a POSIX shell, in single quotes.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The stock `assemble`: the buildpacks that ran before it already did what an S2I
/// builder's assemble does (source in place, Python and the dependencies installed), so it
/// says so and succeeds; steps a repo's assemble adds after calling it run on the built app.
pub const STOCK_ASSEMBLE: &str = include_str!("stock/assemble");

/// The stock `run`: `APP_SCRIPT` or `APP_FILE` when set (the S2I Python images' variables),
/// else the process the image would start without `.s2i/bin/run`.
#[must_use]
pub fn stock_run(default: Option<&Process>) -> String {
    let start = match default {
        Some(process) => {
            let words: Vec<String> = process
                .command
                .iter()
                .chain(&process.args)
                .map(|word| shell_quote(word))
                .collect();
            let cd = process
                .working_dir
                .as_deref()
                .map(|dir| format!("cd {}\n", shell_quote(dir)))
                .unwrap_or_default();
            format!(
                "# The {} process of the buildpacks.\n{cd}exec {}\n",
                process.kind,
                words.join(" ")
            )
        }
        None => "echo \"The buildpacks declared no web or default process to start: set APP_FILE or APP_SCRIPT in .s2i/environment, or add a Procfile with a web process.\" >&2\nexit 1\n".to_string(),
    };
    format!("{}{start}", include_str!("stock/run"))
}

/// Writes the stock scripts into `dir` (created), executable.
///
/// # Errors
/// An I/O failure with its path.
pub fn write_stock_scripts(dir: &Path, default: Option<&Process>) -> Result<PathBuf, HookError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| HookError::Io(io_failure("create", dir)(e)))?;
    for (name, text) in [
        ("assemble", STOCK_ASSEMBLE.to_string()),
        ("run", stock_run(default)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| HookError::Io(io_failure("write", &path)(e)))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| HookError::Io(io_failure("change the mode of", &path)(e)))?;
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_lines_are_literal() {
        let text = "# comment\n\nAPP_FILE=app.py\nGREETING=\"hello world\"\r\nEMPTY=\nURL=http://x/?a=b\nAPP_FILE=main.py\n";
        assert_eq!(
            parse_environment(text).expect("valid"),
            [
                ("GREETING", "\"hello world\""),
                ("EMPTY", ""),
                ("URL", "http://x/?a=b"),
                ("APP_FILE", "main.py"),
            ]
            .map(|(name, value)| (name.to_string(), value.to_string()))
        );
    }

    #[test]
    fn malformed_environment_lines_are_named() {
        let error = parse_environment("A=1\nexport B=2\n").expect_err("invalid name");
        let HookError::EnvironmentLine {
            line_number,
            problem,
            ..
        } = error
        else {
            panic!("{error:?}")
        };
        assert_eq!(line_number, 2);
        assert_eq!(
            problem,
            "'export B' is not a variable name (letters, digits and _, not starting with a digit)"
        );
        assert!(matches!(
            parse_environment("just words\n"),
            Err(HookError::EnvironmentLine { line_number: 1, .. })
        ));
        assert!(matches!(
            parse_environment("PATH=/opt/bin\n"),
            Err(HookError::EnvironmentLine { line_number: 1, .. })
        ));
    }

    #[test]
    fn save_artifacts_is_refused_and_usage_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join(SCRIPTS_DIR);
        fs_err::create_dir_all(&bin).expect("mkdir");
        fs_err::write(bin.join("assemble"), "#!/bin/sh\n").expect("write");
        fs_err::write(bin.join("usage"), "#!/bin/sh\n").expect("write");
        let repo = S2iRepo::read(dir.path()).expect("readable");
        assert_eq!(repo.ignored, [".s2i/bin/usage"]);
        assert_eq!(
            repo.assemble.map(|script| script.name),
            Some(".s2i/bin/assemble")
        );
        assert_eq!(repo.run, None);
        fs_err::write(bin.join(SAVE_ARTIFACTS), "#!/bin/sh\n").expect("write");
        assert!(matches!(
            S2iRepo::read(dir.path()),
            Err(HookError::SaveArtifacts)
        ));
    }

    #[test]
    fn default_process_is_the_last_web_of_the_earlier_buildpacks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs_err::write(
            root.join("group.toml"),
            "[[group]]\nid = \"blacklodge/web\"\nversion = \"0.1.0\"\n[[group]]\nid = \"blacklodge/procfile\"\nversion = \"0.1.0\"\n[[group]]\nid = \"blacklodge/hooks-post\"\nversion = \"0.1.0\"\n[[group]]\nid = \"blacklodge/later\"\nversion = \"0.1.0\"\n",
        )
        .expect("write");
        let own = root.join("blacklodge_hooks-post");
        assert_eq!(
            default_process(&own, "blacklodge/hooks-post").expect("readable"),
            None
        );
        for (dir, process) in [
            (
                "blacklodge_web",
                "type = \"web\"\ncommand = [\"bash\", \"-c\"]\nargs = [\"gunicorn app:app\"]\ndefault = true",
            ),
            (
                "blacklodge_procfile",
                "type = \"web\"\ncommand = [\"bash\", \"-c\"]\nargs = [\"python it's.py\"]\ndefault = true",
            ),
            ("blacklodge_later", "type = \"web\"\ncommand = [\"later\"]"),
        ] {
            fs_err::create_dir_all(root.join(dir)).expect("mkdir");
            fs_err::write(
                root.join(dir).join("launch.toml"),
                format!("[[processes]]\n{process}\n"),
            )
            .expect("write");
        }
        let process = default_process(&own, "blacklodge/hooks-post")
            .expect("readable")
            .expect("a web process");
        assert_eq!(process.args, ["python it's.py"]);
        assert!(stock_run(Some(&process)).ends_with(
            "# The web process of the buildpacks.\nexec 'bash' '-c' 'python it'\\''s.py'\n"
        ));
    }
}
