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
use blacklodge_common::{env, output};
use blacklodge_python_deps::errors::DepsError;
use blacklodge_python_deps::lock_buildpack::{Selected, TranslatedLock};
use blacklodge_python_deps::locked::Indexes;
use blacklodge_python_deps::managers::Manager;
use blacklodge_python_deps::names::{self, Names};
use libcnb::Env;

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

/// `default` plus `BP_PIPENV_CATEGORIES` (Pipfile section names are accepted too).
fn categories(env: &Env, lock: &Lock) -> Result<Vec<String>, PipenvError> {
    let mut categories = vec!["default".to_string()];
    match names::parse(env, CATEGORIES_VARIABLE).map_err(DepsError::from)? {
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

impl TranslatedLock for PipenvBuildpack {
    const MANAGER: Manager = Manager::Pipenv;
    const MANIFEST: &'static str = "Pipfile";
    const LOCK: &'static str = "Pipfile.lock";
    const WHY_NOT: &'static str =
        "No Pipfile in the app root (or another package manager is selected).";

    fn select(env: &Env, pipfile_text: &str, lock_text: &str) -> Result<Selected, PipenvError> {
        let pipfile: toml::Table = pipfile_text.parse().map_err(PipenvError::InvalidPipfile)?;
        let lock: Lock = serde_json::from_str(lock_text).map_err(PipenvError::InvalidLock)?;
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
        let installing = format!(
            "Installing categories: {} ({})",
            categories.join(", "),
            output::count(plan.packages.len(), "package", "packages")
        );
        Ok(Selected {
            indexes: indexes(&lock, env)?,
            netrc: Vec::new(),
            selection: format!("categories: {}", categories.join(", ")),
            details: vec![lock_matches, installing],
            packages: plan.packages,
            editables: plan.editables,
        })
    }
}

blacklodge_python_deps::translated_lock_buildpack!(PipenvBuildpack, PipenvError);

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::testing;
    use blacklodge_python_deps::lock_buildpack::{self, testing as lock_testing};

    #[test]
    fn the_venv_key_changes_with_each_input_and_only_with_them() {
        let app = testing::fixture_app("pipenv-flask");
        let read = |file: &str| fs_err::read_to_string(app.path().join(file)).expect("read");
        testing::assert_key_follows_inputs(
            app.path(),
            |env| lock_testing::key::<PipenvBuildpack>(app.path(), env),
            // Both files, as text (a comment leaves the Pipfile's hash as it is).
            &[
                ("Pipfile", &format!("{}# edited\n", read("Pipfile"))),
                ("Pipfile.lock", &format!("{}\n", read("Pipfile.lock"))),
            ],
            &[(CATEGORIES_VARIABLE, "develop")],
            &[("app.py", "X = 2\n")],
        );
        // A new lock (idna added, as `pipenv lock` wrote it).
        lock_testing::assert_relock_changes_key::<PipenvBuildpack>(app.path());
    }

    #[test]
    fn local_directories_are_inputs_and_editable_ones_are_not() {
        lock_testing::assert_local_directories_are_inputs::<PipenvBuildpack>("pipenv-sources");
    }

    #[test]
    fn what_the_build_cannot_read_is_no_key() {
        let app = testing::fixture_app("pipenv-flask");
        fs_err::write(app.path().join("Pipfile"), "[packages]\nsix = \"*\"\n").expect("write");
        assert!(matches!(
            lock_buildpack::prepare::<PipenvBuildpack>(app.path(), &Env::new()),
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
