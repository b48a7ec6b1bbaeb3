//! Blacklodge Pipenv buildpack: `pipenv install --deploy` semantics without Pipenv.
//!
//! Pipfile.lock must record the hash of the current Pipfile; its `default` category (plus
//! the ones `BP_PIPENV_CATEGORIES` adds) becomes an exact, hash-checked requirements set that
//! uv syncs the venv to: index packages by hash, git packages at the locked commit, URL and
//! local archives (with their hashes when the lock has them) and local directories. Local
//! editable paths (`-e .`) are installed after, without deps.

mod errors;
mod pipfile;

use crate::errors::PipenvError;
use crate::pipfile::{Hashing, Lock};
use blacklodge_common::download::sha256_bytes;
use blacklodge_common::{env, output};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::layers::venv::VenvKey;
use blacklodge_python_deps::locked::Indexes;
use blacklodge_python_deps::managers::Manager;
use blacklodge_python_deps::names::{self, Names};
use blacklodge_python_deps::translated::{self, InstallError, PlanError};
use blacklodge_python_deps::{setup, tool};
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::detect::{DetectContext, DetectResult};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Env, Platform, buildpack_main};
use std::path::Path;

pub(crate) struct PipenvBuildpack;

const CATEGORIES_VARIABLE: &str = "BP_PIPENV_CATEGORIES";

/// Whether Pipenv treats a source URL as PyPI, so that `PIPENV_PYPI_MIRROR` replaces it:
/// Pipenv's own rule (`is_pypi_url`), `http` or `https`, `pypi.org` or `pypi.python.org`,
/// the path `/simple` with at most one trailing slash, exactly as spelled (a URL without
/// `/simple` is not PyPI to Pipenv either).
fn is_pypi_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let Some(path) = rest
        .strip_prefix("pypi.org")
        .or_else(|| rest.strip_prefix("pypi.python.org"))
    else {
        return false;
    };
    matches!(path, "/simple" | "/simple/")
}

fn deps(error: impl Into<DepsError>) -> PipenvError {
    PipenvError::Deps(error.into())
}

fn read(app_dir: &Path, file: &str) -> Result<String, PipenvError> {
    let path = app_dir.join(file);
    fs_err::read_to_string(&path).map_err(|error| PipenvError::Io { path, error })
}

/// `default` plus `BP_PIPENV_CATEGORIES` (Pipfile section names are accepted too).
fn categories(env: &Env, lock: &Lock) -> Result<Vec<String>, PipenvError> {
    let mut categories = vec!["default".to_string()];
    match names::parse(env, CATEGORIES_VARIABLE).map_err(deps)? {
        Names::None => {}
        Names::All => categories.extend(lock.categories()),
        Names::Some(extra) => {
            categories.extend(extra.into_iter().map(|name| match name.as_str() {
                "dev-packages" | "dev" => "develop".to_string(),
                "packages" => "default".to_string(),
                _ => name,
            }));
        }
    }
    categories.sort();
    categories.dedup();
    Ok(categories)
}

/// Pipenv expands `${VAR}` / `$VAR` in source URLs from the environment (how credentials are
/// usually passed). Done here at build time; the result only reaches a temporary file.
fn expand(url: &str, source: &str, env: &Env) -> Result<String, PipenvError> {
    let mut out = String::new();
    let mut rest = url;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let (name, remaining) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').unwrap_or(braced.len());
            (&braced[..end], braced.get(end + 1..).unwrap_or(""))
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let value = env::string(env, name).ok_or_else(|| PipenvError::UnsetVariable {
            variable: name.to_string(),
            source: source.to_string(),
        })?;
        out.push_str(&value);
        rest = remaining;
    }
    out.push_str(rest);
    Ok(out)
}

fn indexes(lock: &Lock, env: &Env) -> Result<Indexes, PipenvError> {
    let mirror = env::string(env, "PIPENV_PYPI_MIRROR");
    let mut urls = Vec::new();
    for source in &lock.meta.sources {
        let url = expand(&source.url, &source.name, env)?;
        let url = match &mirror {
            Some(mirror) if is_pypi_url(&url) => mirror.clone(),
            _ => url,
        };
        urls.push(url);
    }
    if urls.is_empty() {
        return Ok(Indexes::default());
    }
    let index_url = urls.remove(0);
    Ok(Indexes {
        index_url: Some(index_url),
        extra_index_urls: urls,
    })
}

/// What the install needs and the venv key, from the app's files and the build's variables
/// without running anything: the same code at detection (the key's digest tells the python
/// buildpack when Python runs: `VenvKey`) and at build.
struct Prepared {
    /// How Pipfile.lock matches the Pipfile, for the log.
    lock_matches: String,
    categories: Vec<String>,
    /// Packages of the lock to install.
    count: usize,
    /// The packages without a file hash in the lock, for the log.
    unhashed: Option<String>,
    install: translated::Install,
    /// The lock's label in the cache decisions ("… changed", "… unchanged").
    lock_label: &'static str,
    key: VenvKey,
}

impl Prepared {
    fn read(app_dir: &Path, env: &Env) -> Result<Self, PipenvError> {
        let pipfile_text = read(app_dir, "Pipfile")?;
        let lock_text = read(app_dir, "Pipfile.lock")?;
        let pipfile: toml::Table = pipfile_text.parse().map_err(PipenvError::InvalidPipfile)?;
        let lock: Lock = serde_json::from_str(&lock_text).map_err(PipenvError::InvalidLock)?;
        let hashes =
            Hashing::ALL.map(|hashing| (hashing, pipfile::pipfile_hash(&pipfile, hashing)));
        let Some((hashing, _)) = hashes
            .iter()
            .find(|(_, hash)| *hash == lock.meta.hash.sha256)
        else {
            return Err(PipenvError::LockOutOfSync {
                locked: lock.meta.hash.sha256.clone(),
                current: hashes.to_vec(),
            });
        };
        // Names already in their PEP 503 form hash the same either way.
        let lock_matches = if hashes.iter().all(|(_, hash)| *hash == hashes[0].1) {
            "Pipfile.lock matches the Pipfile (its recorded hash)".to_string()
        } else {
            format!(
                "Pipfile.lock matches the Pipfile (its recorded hash, as {} compute it)",
                hashing.pipenv_versions()
            )
        };
        let categories = categories(env, &lock)?;
        let plan = lock.plan(&categories).map_err(PipenvError::Lock)?;
        let indexes = indexes(&lock, env)?;
        let (mut install, local_fingerprint) = translated::plan(
            app_dir,
            &plan.packages,
            plan.editables.clone(),
            &indexes,
            Vec::new(),
        )
        .map_err(|error| match error {
            PlanError::LocalPathMissing { package, path } => {
                PipenvError::LocalPathMissing { package, path }
            }
            PlanError::Io { path, error } => PipenvError::Io { path, error },
        })?;
        install.no_index = translated::no_index(env).map_err(deps)?;
        let key = VenvKey {
            lock_sha256: sha256_bytes(
                translated::key_material(&[&pipfile_text, &lock_text], &local_fingerprint)
                    .as_bytes(),
            ),
            installer: tool::uv().label(),
            selection: format!("categories: {}", categories.join(", ")),
        };
        Ok(Self {
            lock_matches,
            categories,
            count: plan.packages.len(),
            unhashed: translated::unhashed_note(&plan.packages),
            install,
            lock_label: if local_fingerprint.is_empty() {
                "Pipfile.lock"
            } else {
                "Pipfile.lock (+ local packages)"
            },
            key,
        })
    }
}

impl Buildpack for PipenvBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = PipenvError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        setup::detect_lock(
            &context,
            Manager::Pipenv,
            "No Pipfile in the app root (or another package manager is selected).",
            |app, env| Prepared::read(app, env).map(|prepared| prepared.key),
        )
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        output::header("Blacklodge Pipenv");
        let env = context.platform.env();
        let app_dir = &context.app_dir;
        setup::check_selection(app_dir, env).map_err(deps)?;
        if !app_dir.join("Pipfile").is_file() {
            return Err(PipenvError::MissingPipfile.into());
        }
        if !app_dir.join("Pipfile.lock").is_file() {
            return Err(PipenvError::MissingLock.into());
        }
        output::step("Installing dependencies from Pipfile.lock");
        let Prepared {
            lock_matches,
            categories,
            count,
            unhashed,
            install,
            lock_label,
            key,
        } = Prepared::read(app_dir, env)?;
        output::detail(lock_matches);
        output::detail(format!(
            "Installing categories: {} ({})",
            categories.join(", "),
            output::count(count, "package", "packages")
        ));
        if let Some(note) = unhashed {
            output::detail(note);
        }
        translated::install_venv(&context, key, lock_label, &install, |error| match error {
            InstallError::Command(error) => PipenvError::Install(error),
            InstallError::Io { path, error } => PipenvError::Io { path, error },
        })?;
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        blacklodge_common::error::report(&error);
    }
}

buildpack_main!(PipenvBuildpack);

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::testing;

    fn key(app: &Path, env: &Env) -> String {
        Prepared::read(app, env).expect("readable").key.digest()
    }

    #[test]
    fn the_venv_key_changes_with_each_input_and_only_with_them() {
        let app = testing::fixture_app("pipenv-flask");
        let read = |file: &str| fs_err::read_to_string(app.path().join(file)).expect("read");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| key(app.path(), env),
            // Both files, as text (a comment leaves the Pipfile's hash as it is).
            &[
                ("Pipfile", &format!("{}# edited\n", read("Pipfile"))),
                ("Pipfile.lock", &format!("{}\n", read("Pipfile.lock"))),
            ],
            &[(CATEGORIES_VARIABLE, "develop")],
            &[("app.py", "X = 2\n")],
        );
        // A new lock (idna added, as `pipenv lock` wrote it).
        let before = key(app.path(), &Env::new());
        let changed = testing::fixture_app("changed-locks/pipenv");
        for file in ["Pipfile", "Pipfile.lock"] {
            fs_err::copy(changed.path().join(file), app.path().join(file)).expect("copy");
        }
        assert_ne!(key(app.path(), &Env::new()), before);
    }

    #[test]
    fn local_directories_are_inputs_and_editable_ones_are_not() {
        let app = testing::fixture_app("pipenv-sources");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| key(app.path(), env),
            &[("libs/localpkg/localpkg/__init__.py", "VALUE = 2\n")],
            &[],
            // Read from the app at run time.
            &[("libs/devpkg/devpkg/__init__.py", "VALUE = 2\n")],
        );
    }

    #[test]
    fn what_the_build_cannot_read_is_no_key() {
        let app = testing::fixture_app("pipenv-flask");
        fs_err::write(app.path().join("Pipfile"), "[packages]\nsix = \"*\"\n").expect("write");
        assert!(matches!(
            Prepared::read(app.path(), &Env::new()),
            Err(PipenvError::LockOutOfSync { .. })
        ));
    }

    #[test]
    fn pypi_is_recognised_as_pipenv_recognises_it() {
        for url in [
            "https://pypi.org/simple",
            "https://pypi.org/simple/",
            "http://pypi.org/simple",
            "https://pypi.python.org/simple",
            "http://pypi.python.org/simple/",
        ] {
            assert!(is_pypi_url(url), "{url}");
        }
        for url in [
            "https://pypi.org",
            "https://pypi.org/",
            "https://pypi.org/simple//",
            "https://PyPI.org/simple",
            "https://test.pypi.org/simple",
            "https://pypi.org.example.com/simple",
            "https://pypi.org/simple/flask",
            "ftp://pypi.org/simple",
            "https://user@pypi.org/simple",
        ] {
            assert!(!is_pypi_url(url), "{url}");
        }
    }

    #[test]
    fn the_mirror_replaces_every_pypi_source() {
        let lock = |urls: &[&str]| -> Lock {
            let sources: Vec<serde_json::Value> = urls
                .iter()
                .enumerate()
                .map(|(i, url)| serde_json::json!({"name": format!("s{i}"), "url": url, "verify_ssl": true}))
                .collect();
            serde_json::from_value(serde_json::json!({
                "_meta": {"hash": {"sha256": "x"}, "sources": sources},
                "default": {}
            }))
            .expect("valid lock")
        };
        let mut env = Env::new();
        env.insert("PIPENV_PYPI_MIRROR", "https://mirror.example/simple");
        let mirrored = indexes(
            &lock(&[
                "http://pypi.python.org/simple/",
                "https://private.example/simple",
                "https://pypi.org/simple",
            ]),
            &env,
        )
        .expect("indexes");
        assert_eq!(
            mirrored.index_url.as_deref(),
            Some("https://mirror.example/simple")
        );
        assert_eq!(
            mirrored.extra_index_urls,
            vec![
                "https://private.example/simple".to_string(),
                "https://mirror.example/simple".to_string()
            ]
        );
        let untouched = indexes(&lock(&["https://pypi.org/simple"]), &Env::new()).expect("indexes");
        assert_eq!(
            untouched.index_url.as_deref(),
            Some("https://pypi.org/simple")
        );
    }

    #[test]
    fn source_urls_expand_variables() {
        let mut env = Env::new();
        env.insert("USER", "me");
        env.insert("PASS", "pw");
        assert_eq!(
            expand("https://${USER}:$PASS@host/simple", "private", &env).expect("set"),
            "https://me:pw@host/simple"
        );
        assert!(matches!(
            expand("https://${NOPE}@host", "private", &env),
            Err(PipenvError::UnsetVariable { .. })
        ));
    }
}
