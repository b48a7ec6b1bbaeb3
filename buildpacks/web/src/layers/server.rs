//! The `server` layer (launch, cached): the production server of the default web process
//! (gunicorn or uvicorn) when the app does not install it, and the command that runs it.
//!
//! ```text
//! server/
//!   bin/gunicorn            the command the process runs (or bin/uvicorn)
//!   deps/…/site-packages    the server and what it needs that the app lacks (last on sys.path)
//! ```
//!
//! As for the wrapper's harness: pip installs with `--prefix`, so distributions already in the
//! app's environment count as satisfied and are never replaced, with every installed
//! distribution pinned as a constraint, and with the lock's entries (`servers.lock`) for the
//! ones the app lacks as hash-checked constraints (`--require-hashes`): every downloaded file
//! is the locked one. Nothing is written to the app's venv. Cached on the server, the lock,
//! the Python environment and the app's installed packages; the layer's CycloneDX SBOM lists
//! what pip installed.

use crate::WebBuildpack;
use crate::errors::WebError;
use crate::lock;
use crate::python_env::PythonEnv;
use blacklodge_common::{cache, command, download::sha256_bytes, output};
use blacklodge_python_deps::sbom;
use blacklodge_python_deps::tool::PinnedWheel;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::LayerState;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// 1980-01-01: with SOURCE_DATE_EPOCH set, bytecode is hash-based and the layer reproducible.
const SOURCE_DATE_EPOCH: &str = "315532800";
const LAUNCHER_TEMPLATE: &str = include_str!("../python/server.py");

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerLayerMetadata {
    pub(crate) server: String,
    pub(crate) lock_sha256: String,
    pub(crate) python_version: String,
    pub(crate) python_prefix: String,
    pub(crate) app_packages_sha256: String,
    pub(crate) pip_version: String,
}

fn invalidation_reasons(cached: &ServerLayerMetadata, wanted: &ServerLayerMetadata) -> Vec<String> {
    let ServerLayerMetadata {
        server,
        lock_sha256,
        python_version,
        python_prefix,
        app_packages_sha256,
        pip_version,
    } = cached;
    cache::reasons([
        cache::changed("server", server, &wanted.server),
        (lock_sha256 != &wanted.lock_sha256).then(|| "servers.lock changed".to_string()),
        cache::changed("Python version", python_version, &wanted.python_version),
        cache::changed("Python environment", python_prefix, &wanted.python_prefix),
        (app_packages_sha256 != &wanted.app_packages_sha256)
            .then(|| "the app's installed packages changed".to_string()),
        cache::changed("pip version", pip_version, &wanted.pip_version),
    ])
}

pub(crate) struct ServerInstall<'a> {
    /// The distribution (and module) to install: `gunicorn` or `uvicorn`.
    pub(crate) server: &'static str,
    pub(crate) python: &'a PythonEnv,
    pub(crate) pip: &'a PinnedWheel,
    pub(crate) index: &'a str,
}

/// Installs (or reuses) the layer; returns the path of the server command.
pub(crate) fn install(
    context: &BuildContext<WebBuildpack>,
    install: &ServerInstall<'_>,
) -> libcnb::Result<PathBuf, WebError> {
    let wanted = ServerLayerMetadata {
        server: install.server.to_string(),
        lock_sha256: sha256_bytes(lock::LOCK.as_bytes()),
        python_version: install.python.python_version.clone(),
        python_prefix: install.python.prefix.clone(),
        app_packages_sha256: install.python.fingerprint(),
        pip_version: install.pip.version.clone(),
    };
    let layer = cache::cached_layer(
        context,
        layer_name!("server"),
        false,
        true,
        &wanted,
        invalidation_reasons,
    )?;
    let root = layer.path();
    let program = root.join("bin").join(install.server);
    match layer.state {
        LayerState::Restored { .. } => {
            output::detail(format!(
                "Reusing cached {} (lock, Python and the app's packages unchanged)",
                install.server
            ));
            layer.write_sboms(&[sbom(&root)?])?;
        }
        LayerState::Empty { .. } => {
            cache::log_if_discarded(install.server, &layer.state);
            let pip_site =
                blacklodge_python_deps::layers::pip::install(context, install.pip, install.index)?;
            let cache_dir = blacklodge_python_deps::layers::download_cache::prepare(
                context,
                layer_name!("pip-cache"),
                "pip cache",
            )?;
            install_server(&root, install, &pip_site, &cache_dir)?;
            write_launcher(&root, install.server, &program)?;
            layer.write_sboms(&[sbom(&root)?])?;
            layer.write_metadata(wanted)?;
        }
    }
    Ok(program)
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> WebError {
    let path = path.to_path_buf();
    move |error| WebError::Io {
        action,
        path,
        error,
    }
}

/// The constraints file: the app's installed distributions, then the locked ones it lacks.
pub(crate) fn constraints(python: &PythonEnv, locked: &[lock::Locked]) -> String {
    let mut text = String::from(
        "# Written by blacklodge/web: the app's installed packages, which the server must not replace.\n",
    );
    for pin in &python.distributions {
        text.push_str(pin);
        text.push('\n');
    }
    text.push_str(
        "# The locked servers and their dependencies the app does not have (servers.lock).\n",
    );
    for entry in locked {
        text.push_str(&entry.requirement);
        text.push('\n');
    }
    text
}

fn install_server(
    root: &Path,
    install: &ServerInstall<'_>,
    pip_site: &Path,
    cache_dir: &Path,
) -> Result<(), WebError> {
    let locked = lock::missing_from(&install.python.names());
    let constraints = std::env::temp_dir().join("blacklodge-web-constraints.txt");
    fs_err::write(&constraints, self::constraints(install.python, &locked))
        .map_err(io_error("write", &constraints))?;
    output::stream_heading(format!(
        "Installing {} from the buildpack's lock, hash-checked, next to the app's packages",
        install.server
    ));
    let start = std::time::Instant::now();
    command::run_streamed(
        Command::new("python3")
            .args(["-m", "pip", "install", "--prefix"])
            .arg(root.join("deps"))
            .arg("--constraint")
            .arg(&constraints)
            .arg("--require-hashes")
            .args(["--index-url", install.index])
            .arg(install.server)
            .args([
                "--no-input",
                "--progress-bar",
                "off",
                "--disable-pip-version-check",
                "--no-warn-script-location",
            ])
            .current_dir(root)
            .env("PYTHONPATH", pip_site)
            .env("PIP_CACHE_DIR", cache_dir)
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH),
    )
    .map_err(|error| WebError::InstallServer {
        server: install.server,
        error,
    })?;
    output::detail(format!(
        "Done in {}",
        output::format_duration(start.elapsed())
    ));
    // pip's console scripts would run without the app's environment first on sys.path; the
    // command of this layer is the launcher written next.
    let scripts = root.join("deps/bin");
    if scripts.exists() {
        fs_err::remove_dir_all(&scripts).map_err(io_error("remove", &scripts))?;
    }
    Ok(())
}

/// `site-packages` / `dist-packages` directories pip created below `deps/`.
fn site_directories(deps: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
        if depth == 0 || !dir.is_dir() {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_dir())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name == "site-packages" || name == "dist-packages" {
                found.push(path);
            } else {
                walk(&path, depth - 1, found)?;
            }
        }
        Ok(())
    }
    let mut found = Vec::new();
    walk(deps, 5, &mut found)?;
    Ok(found)
}

fn sbom(root: &Path) -> Result<libcnb::sbom::Sbom, WebError> {
    let deps = root.join("deps");
    let sites = site_directories(&deps).map_err(io_error("read", &deps))?;
    let distributions = sbom::distributions_in(&sites).map_err(io_error("read", &deps))?;
    Ok(sbom::cyclonedx(&distributions))
}

/// The layer's command: runs the server's module with the layer's distributions appended to
/// the app's `sys.path`.
pub(crate) fn launcher_script(server: &str, dependency_dirs: &[PathBuf]) -> String {
    let dirs = dependency_dirs
        .iter()
        // A JSON string literal is a valid Python string literal.
        .map(|dir| serde_json::Value::String(dir.to_string_lossy().into_owned()).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    LAUNCHER_TEMPLATE
        .replace("@DEPENDENCY_DIRS@", &format!("[{dirs}]"))
        .replace("@PROGRAM@", server)
        .replace("@MODULE@", server)
}

fn write_launcher(root: &Path, server: &str, program: &Path) -> Result<(), WebError> {
    let deps = root.join("deps");
    let dirs = site_directories(&deps).map_err(io_error("read", &deps))?;
    let bin = root.join("bin");
    fs_err::create_dir_all(&bin).map_err(io_error("create", &bin))?;
    fs_err::write(program, launcher_script(server, &dirs)).map_err(io_error("write", program))?;
    fs_err::set_permissions(program, std::fs::Permissions::from_mode(0o755))
        .map_err(io_error("make executable", program))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> ServerLayerMetadata {
        ServerLayerMetadata {
            server: "gunicorn".into(),
            lock_sha256: "l".into(),
            python_version: "3.11.2".into(),
            python_prefix: "/layers/blacklodge_pip/venv".into(),
            app_packages_sha256: "p".into(),
            pip_version: "26.3".into(),
        }
    }

    #[test]
    fn reasons_name_what_changed() {
        assert!(invalidation_reasons(&metadata(), &metadata()).is_empty());
        let wanted = ServerLayerMetadata {
            server: "uvicorn".into(),
            lock_sha256: "m".into(),
            app_packages_sha256: "q".into(),
            ..metadata()
        };
        assert_eq!(
            invalidation_reasons(&metadata(), &wanted),
            vec![
                "server changed (gunicorn → uvicorn)".to_string(),
                "servers.lock changed".to_string(),
                "the app's installed packages changed".to_string(),
            ]
        );
    }

    #[test]
    fn constraints_pin_the_apps_packages_then_the_locked_rest() {
        let python = PythonEnv {
            python_version: "3.11.2".into(),
            prefix: "/layers/blacklodge_pip/venv".into(),
            distributions: vec!["click==8.1.0".into(), "fastapi==0.115.0".into()],
        };
        let locked = lock::missing_from(&python.names());
        assert!(locked.iter().all(|entry| entry.name != "click"));
        let text = constraints(&python, &locked);
        assert!(
            text.starts_with("# Written by blacklodge/web: the app's installed packages, which the server must not replace.\nclick==8.1.0\nfastapi==0.115.0\n# The locked servers and their dependencies the app does not have (servers.lock).\n"),
            "{text}"
        );
        assert!(text.contains("\nuvicorn=="), "{text}");
    }

    #[test]
    fn launcher_appends_the_servers_directories_and_runs_its_module() {
        let script = launcher_script(
            "uvicorn",
            &[PathBuf::from(
                "/layers/blacklodge_web/server/deps/lib/python3.11/site-packages",
            )],
        );
        assert!(script.starts_with("#!/usr/bin/env python3\n"));
        assert!(script.contains(
            "for _directory in [\"/layers/blacklodge_web/server/deps/lib/python3.11/site-packages\"]:"
        ));
        assert!(
            script.contains("runpy.run_module(\"uvicorn\", run_name=\"__main__\", alter_sys=True)")
        );
    }
}
