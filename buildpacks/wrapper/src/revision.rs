//! The source revision the image is built from, recorded at build time as the launch default
//! of `BLACKLODGE_REVISION`, so the harness reports it (`/statz`, `blacklodge_app_info`)
//! without git or CI variables at run time.
//!
//! Taken from the first of:
//!
//! 1. `BP_BLACKLODGE_REVISION` (any text the harness accepts: a commit, a tag, a build id);
//! 2. a CI variable passed to the build (`SOURCE_COMMIT`, `SOURCE_VERSION`, `GIT_COMMIT`,
//!    `GIT_SHA`, `GITHUB_SHA`, `CI_COMMIT_SHA`, `COMMIT_SHA`: the harness's run-time list);
//! 3. the platform's project metadata, `<layers>/project-metadata.toml`
//!    (`[source.version] commit` of a `git` source): kpack writes it for git sources, pack
//!    in experimental mode from the app's repository;
//! 4. the app's `.git` (pack copies it unless `project.toml` excludes it; git clones in
//!    Tekton and kpack have it): the commit `HEAD` points at, read without git.

use crate::config::{ConfigError, VAR_REVISION};
use blacklodge_common::env::{self, InvalidVariable};
use blacklodge_common::project_metadata;
use libcnb::Env;
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// CI and platform variables that carry the commit, in the order the harness reads them at
/// run time (`REVISION_FALLBACKS` in harness/src/blacklodge_harness/config.py).
pub(crate) const CI_VARIABLES: &[&str] = &[
    "SOURCE_COMMIT",
    "SOURCE_VERSION",
    "GIT_COMMIT",
    "GIT_SHA",
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "COMMIT_SHA",
];
/// The longest revision the harness accepts (`BLACKLODGE_REVISION`).
const MAX_LENGTH: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Variable(String),
    ProjectMetadata,
    Git { branch: Option<String> },
}

impl Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Variable(name) => f.write_str(name),
            Source::ProjectMetadata => write!(f, "the platform's {}", project_metadata::FILE),
            Source::Git {
                branch: Some(branch),
            } => write!(f, ".git, branch {branch}"),
            Source::Git { branch: None } => f.write_str(".git, detached HEAD"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Revision {
    pub(crate) value: String,
    pub(crate) source: Source,
}

fn acceptable(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_LENGTH && !value.chars().any(char::is_control)
}

/// The revision, by the precedence above; `None` when no source has one.
/// `layers_root` is the platform's layers directory (the parent of the buildpack's own).
pub(crate) fn find(
    env: &Env,
    layers_root: &Path,
    app_dir: &Path,
) -> Result<Option<Revision>, ConfigError> {
    if let Some(value) = env::string(env, VAR_REVISION) {
        if !acceptable(&value) {
            return Err(ConfigError::InvalidVariable(InvalidVariable {
                name: VAR_REVISION.to_string(),
                value,
                expected: format!(
                    "printable text of at most {MAX_LENGTH} characters (a commit hash, a tag, a build id)"
                ),
            }));
        }
        return Ok(Some(Revision {
            value,
            source: Source::Variable(VAR_REVISION.to_string()),
        }));
    }
    let from_ci = CI_VARIABLES.iter().find_map(|name| {
        env::string(env, name)
            .filter(|value| acceptable(value))
            .map(|value| Revision {
                value,
                source: Source::Variable((*name).to_string()),
            })
    });
    Ok(from_ci
        .or_else(|| {
            project_metadata::git_source(layers_root)
                .commit
                .filter(|commit| acceptable(commit))
                .map(|value| Revision {
                    value,
                    source: Source::ProjectMetadata,
                })
        })
        .or_else(|| {
            git_head(app_dir).map(|(value, branch)| Revision {
                value,
                source: Source::Git { branch },
            })
        }))
}

fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// The git directory of the app: `.git/`, or the directory a `.git` file (worktree,
/// submodule) points at, when it is inside the build's file system.
fn git_dir(app_dir: &Path) -> Option<PathBuf> {
    let dot_git = app_dir.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git);
    }
    let text = fs_err::read_to_string(&dot_git).ok()?;
    let target = text.trim().strip_prefix("gitdir:")?.trim();
    let dir = app_dir.join(target);
    dir.is_dir().then_some(dir)
}

/// The commit `HEAD` points at, and its branch; read from the files, as git does: a loose
/// ref, else `packed-refs` (in the common directory of a worktree).
pub(crate) fn git_head(app_dir: &Path) -> Option<(String, Option<String>)> {
    let git_dir = git_dir(app_dir)?;
    let head = fs_err::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref:").map(str::trim) else {
        return is_object_id(head).then(|| (head.to_lowercase(), None));
    };
    let common_dir = fs_err::read_to_string(git_dir.join("commondir")).map_or_else(
        |_| git_dir.clone(),
        |relative| git_dir.join(relative.trim()),
    );
    let loose = [&git_dir, &common_dir].into_iter().find_map(|dir| {
        fs_err::read_to_string(dir.join(reference))
            .ok()
            .map(|text| text.trim().to_string())
    });
    let commit = loose.filter(|id| is_object_id(id)).or_else(|| {
        let packed = fs_err::read_to_string(common_dir.join("packed-refs")).ok()?;
        packed.lines().find_map(|line| {
            let (id, name) = line.split_once(' ')?;
            (name.trim() == reference && is_object_id(id)).then(|| id.to_string())
        })
    })?;
    let branch = reference.strip_prefix("refs/heads/").map(str::to_string);
    Some((commit.to_lowercase(), branch))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "63a73f1b0f2a4f6978c19184b0ea33ad3f092913";
    const OTHER: &str = "0123456789abcdef0123456789abcdef01234567";

    fn write(path: &Path, text: &str) {
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).expect("mkdir");
        }
        fs_err::write(path, text).expect("write");
    }

    #[test]
    fn loose_and_packed_refs_and_detached_heads() {
        let app = tempfile::tempdir().expect("tempdir");
        assert_eq!(git_head(app.path()), None);
        write(&app.path().join(".git/HEAD"), "ref: refs/heads/main\n");
        assert_eq!(git_head(app.path()), None, "no commit yet");
        write(
            &app.path().join(".git/packed-refs"),
            &format!(
                "# pack-refs with: peeled fully-peeled sorted\n{OTHER} refs/heads/other\n{COMMIT} refs/heads/main\n"
            ),
        );
        assert_eq!(
            git_head(app.path()),
            Some((COMMIT.to_string(), Some("main".to_string())))
        );
        write(
            &app.path().join(".git/refs/heads/main"),
            &format!("{OTHER}\n"),
        );
        assert_eq!(
            git_head(app.path()),
            Some((OTHER.to_string(), Some("main".to_string()))),
            "a loose ref is newer than packed-refs"
        );
        write(
            &app.path().join(".git/HEAD"),
            &format!("{}\n", COMMIT.to_uppercase()),
        );
        assert_eq!(git_head(app.path()), Some((COMMIT.to_string(), None)));
    }

    #[test]
    fn a_worktree_reads_refs_from_the_common_directory() {
        let root = tempfile::tempdir().expect("tempdir");
        let main_git = root.path().join("repo/.git");
        write(&main_git.join("refs/heads/feature"), &format!("{COMMIT}\n"));
        let worktree_git = main_git.join("worktrees/app");
        write(&worktree_git.join("HEAD"), "ref: refs/heads/feature\n");
        write(&worktree_git.join("commondir"), "../..\n");
        let app = root.path().join("app");
        write(
            &app.join(".git"),
            &format!("gitdir: {}\n", worktree_git.display()),
        );
        assert_eq!(
            git_head(&app),
            Some((COMMIT.to_string(), Some("feature".to_string())))
        );
        // A .git file pointing outside the build's file system is no revision.
        write(
            &app.join(".git"),
            "gitdir: /nonexistent/.git/worktrees/app\n",
        );
        assert_eq!(git_head(&app), None);
    }

    #[test]
    fn precedence_variable_ci_platform_git() {
        let layers = tempfile::tempdir().expect("tempdir");
        let app = tempfile::tempdir().expect("tempdir");
        let mut env = Env::new();
        assert_eq!(find(&env, layers.path(), app.path()).expect("ok"), None);

        write(&app.path().join(".git/HEAD"), &format!("{OTHER}\n"));
        let found = find(&env, layers.path(), app.path())
            .expect("ok")
            .expect("some");
        assert_eq!(
            (found.value.as_str(), found.source.to_string()),
            (OTHER, ".git, detached HEAD".to_string())
        );

        write(
            &layers.path().join(project_metadata::FILE),
            &format!(
                "[source]\ntype = \"git\"\n[source.version]\ncommit = \"{COMMIT}\"\n[source.metadata]\nrepository = \"https://example.com/app.git\"\n"
            ),
        );
        let found = find(&env, layers.path(), app.path())
            .expect("ok")
            .expect("some");
        assert_eq!(found.value, COMMIT);
        assert_eq!(found.source, Source::ProjectMetadata);

        env.insert("GITHUB_SHA", "ci-sha");
        env.insert("CI_COMMIT_SHA", "later-in-the-list");
        let found = find(&env, layers.path(), app.path())
            .expect("ok")
            .expect("some");
        assert_eq!(found.value, "ci-sha");
        assert_eq!(found.source.to_string(), "GITHUB_SHA");

        env.insert(VAR_REVISION, " v1.4.0-12-gabc1234 ");
        let found = find(&env, layers.path(), app.path())
            .expect("ok")
            .expect("some");
        assert_eq!(found.value, "v1.4.0-12-gabc1234");
        assert_eq!(found.source.to_string(), VAR_REVISION);
    }

    #[test]
    fn only_git_sources_of_the_project_metadata_count() {
        let layers = tempfile::tempdir().expect("tempdir");
        let path = layers.path().join(project_metadata::FILE);
        for text in [
            "",
            "[source]\ntype = \"project\"\n[source.version]\ndeclared = \"1.0.0\"\n",
            "[source]\ntype = \"git\"\n[source.version]\ncommit = \"\"\n",
            "not toml [",
        ] {
            write(&path, text);
            let found = find(&Env::new(), layers.path(), Path::new("/nonexistent"));
            assert_eq!(found.expect("ok"), None, "{text}");
        }
    }

    #[test]
    fn an_unusable_revision_variable_is_an_error() {
        let mut env = Env::new();
        env.insert(VAR_REVISION, "x".repeat(201));
        let Err(ConfigError::InvalidVariable(error)) =
            find(&env, Path::new("/nonexistent"), Path::new("/nonexistent"))
        else {
            panic!("accepted");
        };
        assert_eq!(error.name, VAR_REVISION);
        assert!(
            error
                .expected
                .starts_with("printable text of at most 200 characters")
        );
        // A CI variable the harness could not use is skipped, not an error.
        let mut env = Env::new();
        env.insert("GIT_COMMIT", "a\u{7}b");
        assert_eq!(
            find(&env, Path::new("/nonexistent"), Path::new("/nonexistent")).expect("ok"),
            None
        );
    }
}
