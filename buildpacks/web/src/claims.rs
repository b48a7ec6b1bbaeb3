//! Whether another buildpack of the group declares the app's processes: the Procfile
//! buildpack (a `Procfile`) or the wrapper (its configuration, as `blacklodge/wrapper`
//! detects it). Then this buildpack adds no process.

use blacklodge_common::env;
use libcnb::Env;
use std::path::Path;

pub(crate) const PROCFILE: &str = "Procfile";
pub(crate) const WRAPPER_CONFIG: &str = "blacklodge.toml";
pub(crate) const WRAPPER_VARIABLE: &str = "BP_BLACKLODGE_ENTRYPOINT";
const PYPROJECT: &str = "pyproject.toml";

/// Who declares the processes instead of this buildpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    Procfile,
    WrapperFile,
    WrapperTable,
    WrapperVariable,
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Procfile => write!(f, "the {PROCFILE} declares the processes"),
            Self::WrapperFile => write!(
                f,
                "{WRAPPER_CONFIG}: blacklodge/wrapper declares the processes"
            ),
            Self::WrapperTable => write!(
                f,
                "[tool.blacklodge] in {PYPROJECT}: blacklodge/wrapper declares the processes"
            ),
            Self::WrapperVariable => {
                write!(
                    f,
                    "{WRAPPER_VARIABLE} is set: blacklodge/wrapper declares the processes"
                )
            }
        }
    }
}

/// The first claim on the app's processes, if any.
pub(crate) fn find(app_dir: &Path, platform_env: &Env) -> Option<Claim> {
    if app_dir.join(PROCFILE).is_file() {
        Some(Claim::Procfile)
    } else if app_dir.join(WRAPPER_CONFIG).is_file() {
        Some(Claim::WrapperFile)
    } else if env::string(platform_env, WRAPPER_VARIABLE).is_some() {
        Some(Claim::WrapperVariable)
    } else if fs_err::read_to_string(app_dir.join(PYPROJECT))
        .is_ok_and(|text| has_wrapper_table(&text))
    {
        Some(Claim::WrapperTable)
    } else {
        None
    }
}

/// `[tool.blacklodge]` in a pyproject.toml (read as the wrapper reads it: a file that is not
/// valid TOML still counts when a line opens the table).
fn has_wrapper_table(text: &str) -> bool {
    match toml::from_str::<toml::Table>(text) {
        Ok(table) => table
            .get("tool")
            .and_then(toml::Value::as_table)
            .is_some_and(|tool| tool.contains_key("blacklodge")),
        Err(_) => text.lines().any(|line| {
            let line = line.trim();
            line.starts_with("[tool.blacklodge]") || line.starts_with("[tool.blacklodge.")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procfile_and_each_wrapper_declaration_claim_the_processes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = Env::new();
        assert_eq!(find(dir.path(), &env), None);

        fs_err::write(dir.path().join(PYPROJECT), "[project]\nname = \"x\"\n").expect("write");
        assert_eq!(find(dir.path(), &env), None);
        fs_err::write(
            dir.path().join(PYPROJECT),
            "[tool.blacklodge]\nentrypoint = \"model:predict\"\n",
        )
        .expect("write");
        assert_eq!(find(dir.path(), &env), Some(Claim::WrapperTable));
        // Not valid TOML, but the table is there: the wrapper detects it (and reports the
        // syntax error), so it is the wrapper's.
        fs_err::write(
            dir.path().join(PYPROJECT),
            "[tool.blacklodge]\nentrypoint = \n",
        )
        .expect("write");
        assert_eq!(find(dir.path(), &env), Some(Claim::WrapperTable));

        env.insert(WRAPPER_VARIABLE, "model:predict");
        assert_eq!(find(dir.path(), &env), Some(Claim::WrapperVariable));
        fs_err::write(dir.path().join(WRAPPER_CONFIG), "").expect("write");
        assert_eq!(find(dir.path(), &env), Some(Claim::WrapperFile));
        fs_err::write(dir.path().join(PROCFILE), "web: x\n").expect("write");
        assert_eq!(find(dir.path(), &env), Some(Claim::Procfile));
        assert_eq!(
            Claim::Procfile.to_string(),
            "the Procfile declares the processes"
        );
    }
}
