//! The `server` layer (launch, cached): the production server of the default web process
//! (gunicorn or uvicorn) when the app does not install it, and the command that runs it.
//!
//! ```text
//! server/
//!   bin/gunicorn            the command the process runs (or bin/uvicorn)
//!   deps/…/site-packages    the server and what it needs that the app lacks (last on sys.path)
//! ```
//!
//! As for the wrapper's harness (python-deps' `prefix_install`): pip installs with `--prefix`,
//! so distributions already in the app's environment count as satisfied and are never
//! replaced, with every installed distribution pinned as a constraint, and with the lock's
//! entries (`servers.lock`) for the ones the app lacks as hash-checked constraints
//! (`--require-hashes`): every downloaded file is the locked one. Nothing is written to the
//! app's venv. Cached on the server, the lock,
//! the Python environment and the app's installed packages; the layer's CycloneDX SBOM lists
//! what pip installed.

use crate::WebBuildpack;
use crate::errors::WebError;
use crate::lock;
use blacklodge_common::{cache, download::sha256_bytes};
use blacklodge_python_deps::pinned_lock::Locked;
use blacklodge_python_deps::prefix_install::{self, InstallError};
use blacklodge_python_deps::python_env::PythonEnv;
use blacklodge_python_deps::sbom;
use blacklodge_python_deps::tool::PinnedWheel;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
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
    let root = prefix_install::make_layer(
        context,
        prefix_install::Layer {
            name: layer_name!("server"),
            label: install.server,
            wanted: ServerLayerMetadata {
                server: install.server.to_string(),
                lock_sha256: sha256_bytes(lock::LOCK.as_bytes()),
                python_version: install.python.python_version.clone(),
                python_prefix: install.python.prefix.clone(),
                app_packages_sha256: install.python.fingerprint(),
                pip_version: install.pip.version.clone(),
            },
            reasons: invalidation_reasons,
            reused: format!(
                "Reusing cached {} (lock, Python and the app's packages unchanged)",
                install.server
            ),
            pip: install.pip,
            index: install.index,
        },
        |root, pip| {
            install_server(root, install, pip)?;
            let dirs = prefix_install::dependency_dirs(root).map_err(WebError::Io)?;
            prefix_install::write_command(
                &program(root, install),
                &launcher_script(install.server, &dirs),
            )
            .map_err(WebError::Io)
        },
        sbom,
    )?;
    Ok(program(&root, install))
}

/// The server command, in the layer.
fn program(root: &Path, install: &ServerInstall<'_>) -> PathBuf {
    root.join("bin").join(install.server)
}

/// The constraints file: the app's installed distributions, then the locked ones it lacks.
pub(crate) fn constraints(python: &PythonEnv, locked: &[Locked]) -> String {
    prefix_install::constraints(
        "# Written by blacklodge/web: the app's installed packages, which the server must not replace.\n",
        python,
        "# The locked servers and their dependencies the app does not have (servers.lock).\n",
        locked,
    )
}

fn install_server(
    root: &Path,
    install: &ServerInstall<'_>,
    pip: &prefix_install::Pip,
) -> Result<(), WebError> {
    let locked = lock::missing_from(&install.python.names());
    prefix_install::install(&prefix_install::Install {
        layer: root,
        constraints: &constraints(install.python, &locked),
        constraints_file: "blacklodge-web-constraints.txt",
        heading: format!(
            "Installing {} from the buildpack's lock, hash-checked, next to the app's packages",
            install.server
        ),
        args: &[
            "--index-url".to_string(),
            install.index.to_string(),
            install.server.to_string(),
        ],
        pip,
    })
    .map_err(|error| match error {
        InstallError::Io(failure) => WebError::Io(failure),
        InstallError::Pip(error) => WebError::InstallServer {
            server: install.server,
            error,
        },
    })
}

fn sbom(root: &Path) -> Result<libcnb::sbom::Sbom, WebError> {
    Ok(sbom::cyclonedx(
        &prefix_install::distributions(root).map_err(WebError::Io)?,
    ))
}

/// The layer's command: runs the server's module with the layer's distributions appended to
/// the app's `sys.path`.
pub(crate) fn launcher_script(server: &str, dependency_dirs: &[PathBuf]) -> String {
    LAUNCHER_TEMPLATE
        .replace(
            "@DEPENDENCY_DIRS@",
            &prefix_install::python_list(dependency_dirs),
        )
        .replace("@PROGRAM@", server)
        .replace("@MODULE@", server)
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
