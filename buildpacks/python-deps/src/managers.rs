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
            Manager::Conda => &[
                "environment.yml",
                "environment.yaml",
                "package-list.txt",
                "conda-lock.yml",
            ],
        }
    }

    /// Whether a Blacklodge buildpack installs with this manager. A selected manager without
    /// one is an error (the pip buildpack detects to report it) rather than a build that
    /// ignores the files; a buildpack for a new manager only has to be added to the order and
    /// this changed to take them over. (Every manager has one today.)
    #[must_use]
    pub fn has_buildpack(self) -> bool {
        match self {
            Manager::Pip | Manager::Poetry | Manager::Uv | Manager::Pipenv | Manager::Conda => true,
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
            Manager::Conda => "environment.yml (or package-list.txt / conda-lock.yml)",
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
    /// The project declares dependencies (in the file named: `pyproject.toml`, `setup.cfg`
    /// or `setup.py`), but no manager's lock or requirements file says which versions to
    /// install.
    Unlocked(&'static str),
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

/// The file that declares the project's dependencies when there is no lock or
/// requirements file: `[project] dependencies` or `[dependency-groups]` in pyproject.toml,
/// `install_requires` in setup.cfg or setup.py, or pyproject.toml whose `dynamic` names
/// `dependencies` (its build backend reads them from elsewhere).
fn declared_in(app_dir: &Path, pyproject: Option<&toml::Table>) -> Option<&'static str> {
    if pyproject.is_some_and(declares_dependencies) {
        return Some("pyproject.toml");
    }
    let read = |file: &str| fs_err::read_to_string(app_dir.join(file)).unwrap_or_default();
    if setup_cfg_requires(&read("setup.cfg")) {
        return Some("setup.cfg");
    }
    if setup_py_requires(&read("setup.py")) {
        return Some("setup.py");
    }
    let dynamic = pyproject
        .and_then(|pyproject| pyproject.get("project"))
        .and_then(|project| project.get("dynamic"))
        .and_then(toml::Value::as_array)
        .is_some_and(|dynamic| {
            dynamic
                .iter()
                .any(|field| field.as_str() == Some("dependencies"))
        });
    dynamic.then_some("pyproject.toml")
}

/// `install_requires = …` in setup.cfg with a value on its line or on the indented lines
/// that continue it.
fn setup_cfg_requires(text: &str) -> bool {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "install_requires" {
            continue;
        }
        return !value.trim().is_empty()
            || lines
                .take_while(|next| next.starts_with([' ', '\t']) || next.trim().is_empty())
                .any(|next| !next.trim().is_empty() && !next.trim().starts_with('#'));
    }
    false
}

/// `install_requires` in setup.py, unless only ever given an empty list (`=[]`): setup.py is
/// code, so this reads the text, not what it computes.
fn setup_py_requires(text: &str) -> bool {
    text.match_indices("install_requires").any(|(at, name)| {
        let rest: String = text[at + name.len()..]
            .chars()
            .filter(|c| !c.is_whitespace())
            .take(3)
            .collect();
        rest != "=[]"
    })
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
        [] => {
            let pyproject = pyproject(app_dir);
            if pyproject
                .as_ref()
                .and_then(|pyproject| pyproject.get("tool"))
                .and_then(|tool| tool.get("poetry"))
                .is_some()
            {
                Selection::PoetryWithoutLock
            } else if let Some(file) = declared_in(app_dir, pyproject.as_ref()) {
                Selection::Unlocked(file)
            } else {
                Selection::Nothing
            }
        }
    })
}

/// Detection of the buildpack for `manager`: does this buildpack run?
///
/// It runs when selected, and also when its files are part of a conflict (so the build can
/// explain the conflict; the first group in order reports it). The pip buildpack also runs
/// for [`Selection::Unlocked`] and the Poetry buildpack for [`Selection::PoetryWithoutLock`]
/// to explain what is missing, and for a selected manager that no buildpack installs with
/// yet (conda), to say so.
///
/// An invalid `BP_PYTHON_PACKAGE_MANAGER` also passes: a failing detection would only make
/// the lifecycle fall through to the python-only group and silently ignore the value, while
/// the build of the first group reports it.
#[must_use]
pub fn detects(app_dir: &Path, env: &Env, manager: Manager) -> bool {
    match select(app_dir, env) {
        Err(_) => true,
        Ok(Selection::Selected(selected)) => {
            selected == manager || (!selected.has_buildpack() && manager == Manager::Pip)
        }
        Ok(Selection::Conflict(found)) => found.iter().any(|(m, _)| *m == manager),
        Ok(Selection::PoetryWithoutLock) => manager == Manager::Poetry,
        Ok(Selection::Unlocked(_)) => manager == Manager::Pip,
        Ok(Selection::Nothing) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::testing::app;

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
    fn conda_files_select_the_conda_buildpack() {
        for file in Manager::Conda.files() {
            let dir = app(&[(file, "dependencies:\n  - flask\n"), ("app.py", "")]);
            assert_eq!(
                select(dir.path(), &Env::new()),
                Ok(Selection::Selected(Manager::Conda))
            );
            assert!(detects(dir.path(), &Env::new(), Manager::Conda), "{file}");
            for manager in [Manager::Uv, Manager::Poetry, Manager::Pipenv, Manager::Pip] {
                assert!(!detects(dir.path(), &Env::new(), manager), "{file}");
            }
        }
        let mut env = Env::new();
        env.insert(MANAGER_VARIABLE, "conda");
        let dir = app(&[("requirements.txt", "flask\n")]);
        assert!(detects(dir.path(), &env, Manager::Conda));
        assert!(!detects(dir.path(), &env, Manager::Pip));
        assert!(Manager::ALL.iter().all(|manager| manager.has_buildpack()));
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
            Ok(Selection::Unlocked("pyproject.toml"))
        );
        let plain = app(&[("pyproject.toml", "[project]\nname = 'a'\n"), ("a.py", "")]);
        assert_eq!(select(plain.path(), &Env::new()), Ok(Selection::Nothing));
        let dynamic = app(&[(
            "pyproject.toml",
            "[project]\nname = 'a'\ndynamic = ['version', 'dependencies']\n",
        )]);
        assert_eq!(
            select(dynamic.path(), &Env::new()),
            Ok(Selection::Unlocked("pyproject.toml"))
        );
    }

    #[test]
    fn setup_files_that_declare_dependencies_are_unlocked() {
        let setup_py = app(&[(
            "setup.py",
            "from setuptools import setup\nsetup(name='a', install_requires=['flask'])\n",
        )]);
        assert_eq!(
            select(setup_py.path(), &Env::new()),
            Ok(Selection::Unlocked("setup.py"))
        );
        assert!(detects(setup_py.path(), &Env::new(), Manager::Pip));
        let setup_cfg = app(&[
            ("setup.py", "from setuptools import setup\nsetup()\n"),
            (
                "setup.cfg",
                "[metadata]\nname = a\n[options]\ninstall_requires =\n    flask\n",
            ),
            (
                "pyproject.toml",
                "[build-system]\nrequires = ['setuptools']\n",
            ),
        ]);
        assert_eq!(
            select(setup_cfg.path(), &Env::new()),
            Ok(Selection::Unlocked("setup.cfg"))
        );
        // A setup.py or setup.cfg without dependencies is a plain app: nothing to install.
        for (file, text) in [
            (
                "setup.py",
                "from setuptools import setup\nsetup(name='a')\n",
            ),
            ("setup.py", "setup(name='a', install_requires = [ ])\n"),
            (
                "setup.cfg",
                "[options]\ninstall_requires =\n\n[options.extras_require]\ndev = pytest\n",
            ),
        ] {
            let plain = app(&[(file, text)]);
            assert_eq!(
                select(plain.path(), &Env::new()),
                Ok(Selection::Nothing),
                "{text}"
            );
        }
        let inline = app(&[("setup.cfg", "[options]\ninstall_requires = flask\n")]);
        assert_eq!(
            select(inline.path(), &Env::new()),
            Ok(Selection::Unlocked("setup.cfg"))
        );
        let computed = app(&[(
            "setup.py",
            "REQS = open('reqs.txt').read().split()\nsetup(install_requires=REQS)\n",
        )]);
        assert_eq!(
            select(computed.path(), &Env::new()),
            Ok(Selection::Unlocked("setup.py"))
        );
    }
}
