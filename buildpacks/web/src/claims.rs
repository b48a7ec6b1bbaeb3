//! Whether another buildpack of the group declares the app's processes: the Procfile
//! buildpack (a `Procfile`) or the wrapper (its configuration, found by the same function
//! `blacklodge/wrapper` detects with: python-deps' `wrapper_declaration`). Then this
//! buildpack adds no process.

use blacklodge_python_deps::wrapper_declaration::{self, Declaration};
use libcnb::Env;
use std::path::Path;

pub(crate) const PROCFILE: &str = "Procfile";
pub(crate) use wrapper_declaration::VAR_ENTRYPOINT as WRAPPER_VARIABLE;
pub(crate) use wrapper_declaration::{CONFIG_FILE as WRAPPER_CONFIG, PYPROJECT};

/// Who declares the processes instead of this buildpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    Procfile,
    Wrapper(Declaration),
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Procfile => write!(f, "the {PROCFILE} declares the processes"),
            Self::Wrapper(Declaration::ConfigFile) => write!(
                f,
                "{WRAPPER_CONFIG}: blacklodge/wrapper declares the processes"
            ),
            Self::Wrapper(Declaration::PyprojectTable) => write!(
                f,
                "[tool.blacklodge] in {PYPROJECT}: blacklodge/wrapper declares the processes"
            ),
            Self::Wrapper(Declaration::Variable) => {
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
    } else {
        wrapper_declaration::find(app_dir, platform_env).map(Claim::Wrapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_procfile_comes_before_the_wrappers_declaration() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = Env::new();
        assert_eq!(find(dir.path(), &env), None);
        // Each way of declaring the wrapper is tested with wrapper_declaration.
        env.insert(WRAPPER_VARIABLE, "model:predict");
        let wrapper = Some(Claim::Wrapper(Declaration::Variable));
        assert_eq!(find(dir.path(), &env), wrapper);
        fs_err::write(dir.path().join(PROCFILE), "web: x\n").expect("write");
        assert_eq!(find(dir.path(), &env), Some(Claim::Procfile));
        let messages: Vec<String> = [
            Claim::Procfile,
            Claim::Wrapper(Declaration::ConfigFile),
            Claim::Wrapper(Declaration::PyprojectTable),
            Claim::Wrapper(Declaration::Variable),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            messages,
            [
                "the Procfile declares the processes",
                "blacklodge.toml: blacklodge/wrapper declares the processes",
                "[tool.blacklodge] in pyproject.toml: blacklodge/wrapper declares the processes",
                "BP_BLACKLODGE_ENTRYPOINT is set: blacklodge/wrapper declares the processes",
            ]
        );
    }
}
