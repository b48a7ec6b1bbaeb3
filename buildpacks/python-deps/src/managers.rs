//! Which package manager installs the app's dependencies.
//!
//! Each dependency buildpack passes detection only when the selection names it, so exactly
//! one of them runs. Several managers' files in one repo are a conflict (reported by the
//! build of whichever of them detected first), unless `BP_PYTHON_PACKAGE_MANAGER` chooses.

use blacklodge_common::env::{self, InvalidVariable};
use libcnb::Env;
use std::path::Path;

/// The variable that chooses a manager when a repo has files of several.
pub const MANAGER_VARIABLE: &str = "BP_PYTHON_PACKAGE_MANAGER";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Pip,
    Poetry,
    Uv,
    Pipenv,
    Conda,
}

impl Manager {
    pub const ALL: [Manager; 5] = [
        Manager::Uv,
        Manager::Poetry,
        Manager::Pipenv,
        Manager::Pip,
        Manager::Conda,
    ];

    /// The value of `BP_PYTHON_PACKAGE_MANAGER` that selects it.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Manager::Pip => "pip",
            Manager::Poetry => "poetry",
            Manager::Uv => "uv",
            Manager::Pipenv => "pipenv",
            Manager::Conda => "conda",
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Manager::Pip => "pip",
            Manager::Poetry => "Poetry",
            Manager::Uv => "uv",
            Manager::Pipenv => "Pipenv",
            Manager::Conda => "conda",
        }
    }

    /// The files in the app root that mean "this manager", in the order they are reported.
    #[must_use]
    pub fn files(self) -> &'static [&'static str] {
        match self {
            Manager::Pip => &["requirements.txt"],
            Manager::Poetry => &["poetry.lock"],
            Manager::Uv => &["uv.lock"],
            Manager::Pipenv => &["Pipfile.lock", "Pipfile"],
            Manager::Conda => &["environment.yml", "environment.yaml", "package-list.txt"],
        }
    }

    /// What a repo needs for this manager (for the "which manager" messages).
    #[must_use]
    pub fn needs(self) -> &'static str {
        match self {
            Manager::Pip => "requirements.txt",
            Manager::Poetry => "pyproject.toml + poetry.lock (`poetry lock`)",
            Manager::Uv => "pyproject.toml + uv.lock (`uv lock`)",
            Manager::Pipenv => "Pipfile + Pipfile.lock (`pipenv lock`)",
            Manager::Conda => "environment.yml",
        }
    }
}

/// The outcome of looking at the app root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One manager, by its files or by `BP_PYTHON_PACKAGE_MANAGER`.
    Selected(Manager),
    /// Files of several managers and no choice made: each with the files found.
    Conflict(Vec<(Manager, Vec<&'static str>)>),
    /// `pyproject.toml` uses Poetry (`[tool.poetry]`) but there is no `poetry.lock`.
    PoetryWithoutLock,
    /// `pyproject.toml` declares dependencies, but no manager's lock or requirements file
    /// says which versions to install.
    Unlocked,
    /// No dependencies declared: a plain Python app (the python-only group builds it).
    Nothing,
}

/// The managers whose files are present, with those files.
#[must_use]
pub fn present(app_dir: &Path) -> Vec<(Manager, Vec<&'static str>)> {
    Manager::ALL
        .into_iter()
        .filter_map(|manager| {
            let files: Vec<&'static str> = manager
                .files()
                .iter()
                .copied()
                .filter(|file| app_dir.join(file).is_file())
                .collect();
            (!files.is_empty()).then_some((manager, files))
        })
        .collect()
}

/// What `pyproject.toml` says, when it exists and parses (a broken one is reported by the
/// buildpack that reads it, not here).
fn pyproject(app_dir: &Path) -> Option<toml::Table> {
    fs_err::read_to_string(app_dir.join("pyproject.toml"))
        .ok()?
        .parse::<toml::Table>()
        .ok()
}

fn declares_dependencies(pyproject: &toml::Table) -> bool {
    let non_empty = |value: Option<&toml::Value>| match value {
        Some(toml::Value::Array(items)) => !items.is_empty(),
        Some(toml::Value::Table(table)) => !table.is_empty(),
        _ => false,
    };
    let project = pyproject.get("project").and_then(toml::Value::as_table);
    non_empty(project.and_then(|project| project.get("dependencies")))
        || non_empty(pyproject.get("dependency-groups"))
}

fn parse_manager(value: &str) -> Option<Manager> {
    Manager::ALL
        .into_iter()
        .find(|manager| manager.id() == value.to_ascii_lowercase())
}

/// Decides which manager installs the dependencies.
///
/// # Errors
/// [`InvalidVariable`] when `BP_PYTHON_PACKAGE_MANAGER` names no known manager.
pub fn select(app_dir: &Path, env: &Env) -> Result<Selection, InvalidVariable> {
    if let Some(value) = env::string(env, MANAGER_VARIABLE) {
        return parse_manager(&value)
            .map(Selection::Selected)
            .ok_or_else(|| InvalidVariable {
                name: MANAGER_VARIABLE.to_string(),
                value,
                expected: Manager::ALL.map(Manager::id).join(", "),
            });
    }
    let found = present(app_dir);
    Ok(match found.as_slice() {
        [(manager, _)] => Selection::Selected(*manager),
        [_, _, ..] => Selection::Conflict(found),
        [] => match pyproject(app_dir) {
            Some(pyproject)
                if pyproject
                    .get("tool")
                    .and_then(|tool| tool.get("poetry"))
                    .is_some() =>
            {
                Selection::PoetryWithoutLock
            }
            Some(pyproject) if declares_dependencies(&pyproject) => Selection::Unlocked,
            _ => Selection::Nothing,
        },
    })
}

/// Detection of the buildpack for `manager`: does this buildpack run?
///
/// It runs when selected, and also when its files are part of a conflict (so the build can
/// explain the conflict; the first group in order reports it). The pip buildpack also runs
/// for [`Selection::Unlocked`] and the Poetry buildpack for [`Selection::PoetryWithoutLock`]
/// to explain what is missing.
///
/// An invalid `BP_PYTHON_PACKAGE_MANAGER` also passes: a failing detection would only make
/// the lifecycle fall through to the python-only group and silently ignore the value, while
/// the build of the first group reports it.
#[must_use]
pub fn detects(app_dir: &Path, env: &Env, manager: Manager) -> bool {
    match select(app_dir, env) {
        Err(_) => true,
        Ok(Selection::Selected(selected)) => selected == manager,
        Ok(Selection::Conflict(found)) => found.iter().any(|(m, _)| *m == manager),
        Ok(Selection::PoetryWithoutLock) => manager == Manager::Poetry,
        Ok(Selection::Unlocked) => manager == Manager::Pip,
        Ok(Selection::Nothing) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, contents) in files {
            fs_err::write(dir.path().join(name), contents).expect("write");
        }
        dir
    }

    #[test]
    fn one_manager_is_selected_by_its_files() {
        let dir = app(&[("uv.lock", ""), ("pyproject.toml", "[project]\nname='a'\n")]);
        assert_eq!(
            select(dir.path(), &Env::new()),
            Ok(Selection::Selected(Manager::Uv))
        );
        assert!(detects(dir.path(), &Env::new(), Manager::Uv));
        assert!(!detects(dir.path(), &Env::new(), Manager::Pip));
    }

    #[test]
    fn several_managers_conflict_unless_chosen() {
        let dir = app(&[
            ("requirements.txt", ""),
            ("Pipfile", ""),
            ("environment.yml", ""),
        ]);
        assert_eq!(
            select(dir.path(), &Env::new()),
            Ok(Selection::Conflict(vec![
                (Manager::Pipenv, vec!["Pipfile"]),
                (Manager::Pip, vec!["requirements.txt"]),
                (Manager::Conda, vec!["environment.yml"]),
            ]))
        );
        let mut env = Env::new();
        env.insert(MANAGER_VARIABLE, "PIP");
        assert_eq!(
            select(dir.path(), &env),
            Ok(Selection::Selected(Manager::Pip))
        );
        assert!(!detects(dir.path(), &env, Manager::Pipenv));
        env.insert(MANAGER_VARIABLE, "npm");
        assert!(
            detects(dir.path(), &env, Manager::Pipenv),
            "so the build reports it"
        );
        assert_eq!(
            select(dir.path(), &env)
                .expect_err("npm is no Python manager")
                .expected,
            "uv, poetry, pipenv, pip, conda"
        );
    }

    #[test]
    fn pyproject_without_lock() {
        let poetry = app(&[("pyproject.toml", "[tool.poetry]\nname = 'a'\n")]);
        assert_eq!(
            select(poetry.path(), &Env::new()),
            Ok(Selection::PoetryWithoutLock)
        );
        let unlocked = app(&[(
            "pyproject.toml",
            "[project]\nname = 'a'\ndependencies = ['flask']\n",
        )]);
        assert_eq!(
            select(unlocked.path(), &Env::new()),
            Ok(Selection::Unlocked)
        );
        let plain = app(&[("pyproject.toml", "[project]\nname = 'a'\n"), ("a.py", "")]);
        assert_eq!(select(plain.path(), &Env::new()), Ok(Selection::Nothing));
    }
}
