//! The `harness` layer (launch): the harness package, the harness's dependencies that the
//! app does not already have, and the `blacklodge` command that puts both on `sys.path`.
//!
//! ```text
//! harness/
//!   bin/blacklodge          the command the processes run
//!   lib/blacklodge_harness  the harness (first on sys.path)
//!   deps/…/site-packages    e.g. granian, when the app did not install it (last on sys.path)
//! ```
//!
//! The harness's `kafka` extra (confluent-kafka) is installed the same way, from the same lock,
//! only when the worker mode is enabled; toggling the mode rebuilds the layer.
//!
//! The dependencies are installed as python-deps' `prefix_install` does it: pip with
//! `--prefix` (so packages already installed in the app's environment count as satisfied and
//! are never replaced) and with every installed distribution pinned as a constraint (so a
//! version the harness cannot use is a resolution error, not a silent upgrade). What the app
//! lacks comes from the harness's lock (`harness/requirements.lock`): its entries for the
//! distributions the app does not have are constraints too, with their sha256 hashes, and pip
//! runs with `--require-hashes`, so every file it downloads is the locked version and
//! byte-for-byte the locked file. Nothing is written to the app's venv, which belongs to the
//! dependency buildpack.
//!
//! Cached on the harness contents, the Python environment, the app's installed packages and
//! whether the worker mode is enabled.
//! The layer's CycloneDX SBOM lists the harness and every distribution installed in `deps/`
//! (the python-deps SBOM code), rewritten on every build so it matches a restored layer too.

use crate::errors::WrapperError;
use crate::{WrapperBuildpack, harness};
use blacklodge_common::error::io_failure;
use blacklodge_common::{cache, output};
use blacklodge_python_deps::bytecode;
use blacklodge_python_deps::pinned_lock::{self, Locked};
use blacklodge_python_deps::prefix_install::{self, InstallError};
use blacklodge_python_deps::python_env::PythonEnv;
use blacklodge_python_deps::sbom;
use blacklodge_python_deps::tool::PinnedWheel;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
const LAUNCHER_TEMPLATE: &str = include_str!("../python/launcher.py");

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HarnessLayerMetadata {
    pub(crate) harness_version: String,
    pub(crate) harness_sha256: String,
    pub(crate) python_version: String,
    pub(crate) python_prefix: String,
    pub(crate) app_packages_sha256: String,
    pub(crate) pip_version: String,
    /// The `kafka` extra is installed (the worker mode). Absent in layers written before the
    /// mode existed, which had no worker.
    #[serde(default)]
    pub(crate) worker: bool,
}

/// Why toggling the worker mode rebuilds the layer.
fn worker_reason(cached: bool, wanted: bool) -> Option<String> {
    let extra = harness::kafka_requirements().join(", ");
    match (cached, wanted) {
        (false, true) => Some(format!("the worker mode was enabled ({extra} is needed)")),
        (true, false) => Some(format!(
            "the worker mode was disabled ({extra} is no longer needed)"
        )),
        _ => None,
    }
}

fn invalidation_reasons(
    cached: &HarnessLayerMetadata,
    wanted: &HarnessLayerMetadata,
) -> Vec<String> {
    let HarnessLayerMetadata {
        harness_version,
        harness_sha256,
        python_version,
        python_prefix,
        app_packages_sha256,
        pip_version,
        worker,
    } = cached;
    let HarnessLayerMetadata {
        harness_version: new_harness_version,
        harness_sha256: new_harness_sha256,
        python_version: new_python_version,
        python_prefix: new_python_prefix,
        app_packages_sha256: new_app_packages_sha256,
        pip_version: new_pip_version,
        worker: new_worker,
    } = wanted;
    cache::reasons([
        cache::changed("harness version", harness_version, new_harness_version),
        (harness_version == new_harness_version && harness_sha256 != new_harness_sha256)
            .then(|| "harness files changed".to_string()),
        cache::changed("Python version", python_version, new_python_version),
        cache::changed("Python environment", python_prefix, new_python_prefix),
        (app_packages_sha256 != new_app_packages_sha256)
            .then(|| "the app's installed packages changed".to_string()),
        cache::changed("pip version", pip_version, new_pip_version),
        worker_reason(*worker, *new_worker),
    ])
}

pub(crate) struct HarnessInstall<'a> {
    pub(crate) python: &'a PythonEnv,
    pub(crate) pip: &'a PinnedWheel,
    pub(crate) index: &'a str,
    /// The worker mode is enabled: install the harness's `kafka` extra too.
    pub(crate) worker: bool,
}

/// Installs (or reuses) the layer; returns the path of the `blacklodge` command.
pub(crate) fn install(
    context: &BuildContext<WrapperBuildpack>,
    install: &HarnessInstall<'_>,
) -> libcnb::Result<PathBuf, WrapperError> {
    let root = prefix_install::make_layer(
        context,
        prefix_install::Layer {
            name: layer_name!("harness"),
            label: "harness",
            wanted: HarnessLayerMetadata {
                harness_version: harness::version().to_string(),
                harness_sha256: harness::fingerprint(),
                python_version: install.python.python_version.clone(),
                python_prefix: install.python.prefix.clone(),
                app_packages_sha256: install.python.fingerprint(),
                pip_version: install.pip.version.clone(),
                worker: install.worker,
            },
            reasons: invalidation_reasons,
            reused: format!(
                "Reusing cached harness {} (harness, Python and the app's packages unchanged)",
                harness::version()
            ),
            pip: install.pip,
            index: install.index,
        },
        |root, pip| {
            install_dependencies(root, install, pip)?;
            write_harness(root, &root.join(LAUNCHER))
        },
        sbom,
    )?;
    Ok(root.join(LAUNCHER))
}

/// The layer's command, in the layer.
const LAUNCHER: &str = "bin/blacklodge";

/// The layer's SBOM: the harness itself and the distributions pip installed into `deps/`.
fn sbom(root: &Path) -> Result<libcnb::sbom::Sbom, WrapperError> {
    let distributions = prefix_install::distributions(root).map_err(WrapperError::Io)?;
    output::detail(format!(
        "SBOM (CycloneDX): the harness {} and {} distribution{} in the layer",
        harness::version(),
        distributions.len(),
        if distributions.len() == 1 { "" } else { "s" }
    ));
    Ok(sbom::cyclonedx_with(
        &distributions,
        vec![harness_component(harness::version())],
    ))
}

/// The harness as a CycloneDX component (it ships inside the buildpack, not from PyPI).
fn harness_component(version: &str) -> serde_json::Value {
    let purl = format!("pkg:generic/blacklodge-harness@{version}");
    serde_json::json!({
        "type": "library",
        "bom-ref": purl,
        "name": "blacklodge-harness",
        "version": version,
        "purl": purl,
        "description": "The Blacklodge harness, shipped inside the blacklodge/wrapper buildpack",
    })
}

/// The constraints file: the app's installed distributions, then the locked ones it lacks.
pub(crate) fn constraints(python: &PythonEnv, locked: &[Locked]) -> String {
    prefix_install::constraints(
        "# Written by blacklodge/wrapper: the app's installed packages, which the harness's\n# dependencies must not replace.\n",
        python,
        "# The harness's locked dependencies the app does not have (harness/requirements.lock).\n",
        locked,
    )
}

/// `flask>=2.3, granian>=2.8,<2.9` and, with the worker mode, `and its kafka extra, confluent-kafka>=2.5`.
fn describe_requirements(worker: bool) -> String {
    let mut text = harness::requirements().join(", ");
    if worker {
        text.push_str(" and, for the worker, ");
        text.push_str(&harness::kafka_requirements().join(", "));
    }
    text
}

fn install_dependencies(
    root: &Path,
    install: &HarnessInstall<'_>,
    pip: &prefix_install::Pip,
) -> Result<(), WrapperError> {
    let python = install.python;
    let requirements = harness::requirements_for(install.worker);
    // The app's own copies are kept, and pinned by the other constraints.
    let (locked, kept) =
        pinned_lock::missing_from(&harness::lock_for(install.worker), &python.names());
    prefix_install::install(&prefix_install::Install {
        layer: root,
        constraints: &constraints(python, &locked),
        constraints_file: "blacklodge-app-constraints.txt",
        heading: format!(
            "Installing the harness's dependencies ({}) from its lock, hash-checked ({} locked distribution{} the app lacks; {kept} the app has are kept as installed)",
            describe_requirements(install.worker),
            locked.len(),
            if locked.len() == 1 { "" } else { "s" },
        ),
        args: &requirements,
        pip,
    })
    .map_err(|error| match error {
        InstallError::Io(failure) => WrapperError::Io(failure),
        InstallError::Pip(error) => WrapperError::InstallDependencies {
            requirements: requirements.clone(),
            app_pins: python.distributions.clone(),
            error,
        },
    })
}

/// The layer's dependency directories (what `bin/blacklodge` adds to `sys.path`), from the
/// path of `bin/blacklodge`.
pub(crate) fn dependency_dirs(launcher: &Path) -> Result<Vec<PathBuf>, WrapperError> {
    let layer = launcher.parent().and_then(Path::parent).unwrap_or(launcher);
    prefix_install::dependency_dirs(layer).map_err(WrapperError::Io)
}

pub(crate) fn launcher_script(harness_dir: &Path, dependency_dirs: &[PathBuf]) -> String {
    LAUNCHER_TEMPLATE
        .replace("@HARNESS_DIR@", &prefix_install::python_string(harness_dir))
        .replace(
            "@DEPENDENCY_DIRS@",
            &prefix_install::python_list(dependency_dirs),
        )
}

fn write_harness(root: &Path, launcher: &Path) -> Result<(), WrapperError> {
    let lib = root.join("lib");
    harness::write_package(&lib)
        .map_err(io_failure("write", &lib))
        .map_err(WrapperError::Io)?;
    // Unchecked-hash like its dependencies: only this buildpack writes the harness.
    bytecode::compile_with(Path::new("python3"), &lib).map_err(WrapperError::NoPython)?;

    let dependency_dirs = prefix_install::dependency_dirs(root).map_err(WrapperError::Io)?;
    prefix_install::write_command(launcher, &launcher_script(&lib, &dependency_dirs))
        .map_err(WrapperError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> HarnessLayerMetadata {
        HarnessLayerMetadata {
            harness_version: "0.1.0".into(),
            harness_sha256: "a".into(),
            python_version: "3.11.2".into(),
            python_prefix: "/layers/blacklodge_pip/venv".into(),
            app_packages_sha256: "p".into(),
            pip_version: "26.3".into(),
            worker: false,
        }
    }

    #[test]
    fn reasons_name_what_changed() {
        let cached = metadata();
        assert!(invalidation_reasons(&cached, &cached).is_empty());
        let wanted = HarnessLayerMetadata {
            harness_sha256: "b".into(),
            app_packages_sha256: "q".into(),
            ..metadata()
        };
        assert_eq!(
            invalidation_reasons(&cached, &wanted),
            vec![
                "harness files changed".to_string(),
                "the app's installed packages changed".to_string()
            ]
        );
        let worker = HarnessLayerMetadata {
            worker: true,
            ..metadata()
        };
        assert_eq!(
            invalidation_reasons(&cached, &worker),
            vec!["the worker mode was enabled (confluent-kafka>=2.5 is needed)".to_string()]
        );
        assert_eq!(
            invalidation_reasons(&worker, &cached),
            vec![
                "the worker mode was disabled (confluent-kafka>=2.5 is no longer needed)"
                    .to_string()
            ]
        );
    }

    #[test]
    fn metadata_written_before_the_worker_mode_reads_as_without_it() {
        let old: HarnessLayerMetadata = toml::from_str(
            "harness_version = \"0.1.0\"\nharness_sha256 = \"a\"\npython_version = \"3.11.2\"\npython_prefix = \"/layers/blacklodge_pip/venv\"\napp_packages_sha256 = \"p\"\npip_version = \"26.3\"\n",
        )
        .expect("old metadata");
        assert_eq!(old, metadata());
    }

    #[test]
    fn the_heading_names_the_kafka_extra_only_for_the_worker() {
        assert_eq!(
            describe_requirements(false),
            "flask>=2.3, granian>=2.8,<2.9"
        );
        assert_eq!(
            describe_requirements(true),
            "flask>=2.3, granian>=2.8,<2.9 and, for the worker, confluent-kafka>=2.5"
        );
    }

    #[test]
    fn the_apps_distributions_are_kept_and_the_rest_comes_from_the_lock() {
        let python = PythonEnv {
            python_version: "3.11.2".into(),
            prefix: "/layers/blacklodge_pip/venv".into(),
            distributions: vec!["Flask==3.1.2".into(), "Jinja2==3.1.6".into()],
        };
        let lock = vec![
            Locked {
                name: "flask".into(),
                version: "3.1.3".into(),
                requirement: "flask==3.1.3 \\\n    --hash=sha256:aa".into(),
            },
            Locked {
                name: "granian".into(),
                version: "27.0.1".into(),
                requirement: "granian==2.8.9 \\\n    --hash=sha256:bb".into(),
            },
            Locked {
                name: "jinja2".into(),
                version: "3.1.6".into(),
                requirement: "jinja2==3.1.6 \\\n    --hash=sha256:cc".into(),
            },
        ];
        let (locked, kept) = pinned_lock::missing_from(&lock, &python.names());
        assert_eq!(kept, 2);
        assert_eq!(
            locked.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            vec!["granian"]
        );
        let text = constraints(&python, &locked);
        assert!(
            text.ends_with("\nFlask==3.1.2\nJinja2==3.1.6\n# The harness's locked dependencies the app does not have (harness/requirements.lock).\ngranian==2.8.9 \\\n    --hash=sha256:bb\n"),
            "{text}"
        );
    }

    #[test]
    fn sbom_lists_the_harness_and_the_installed_distributions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = dir.path().join("deps/lib/python3.11/site-packages");
        for (name, version) in [("granian", "2.8.9"), ("Flask", "3.1.3")] {
            let info = site.join(format!("{name}-{version}.dist-info"));
            fs_err::create_dir_all(&info).expect("mkdir");
            fs_err::write(
                info.join("METADATA"),
                format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
            )
            .expect("write");
        }
        let document: serde_json::Value =
            serde_json::from_slice(&sbom(dir.path()).expect("sbom").data).expect("JSON");
        let purls: Vec<&str> = document["components"]
            .as_array()
            .expect("components")
            .iter()
            .filter_map(|component| component["purl"].as_str())
            .collect();
        assert_eq!(
            purls,
            vec![
                format!("pkg:generic/blacklodge-harness@{}", harness::version()).as_str(),
                "pkg:pypi/flask@3.1.3",
                "pkg:pypi/granian@2.8.9",
            ]
        );
    }

    #[test]
    fn launcher_puts_the_harness_first_and_dependencies_last() {
        let script = launcher_script(
            Path::new("/layers/w/harness/lib"),
            &[PathBuf::from(
                "/layers/w/harness/deps/lib/python3.11/site-packages",
            )],
        );
        assert!(script.contains("sys.path.insert(0, \"/layers/w/harness/lib\")"));
        assert!(script.contains(
            "for _directory in [\"/layers/w/harness/deps/lib/python3.11/site-packages\"]:"
        ));
        assert!(script.starts_with("#!/usr/bin/env python3\n"));
    }
}
