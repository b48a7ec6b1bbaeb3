//! The `packages` layer: the resolved `.deb`s unpacked under it as a file system tree
//! (`usr/bin`, `usr/lib/x86_64-linux-gnu`, …), for build and launch.
//!
//! Keyed on the requests, the release, the mirrors, the keyring and the run image's package
//! list: when none changed it is reused without reading the archive at all.

use crate::AptBuildpack;
use crate::errors::AptError;
use crate::index::Package;
use blacklodge_common::error::io_failure;
use blacklodge_common::{cache, command, output};
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer::LayerState;
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use libcnb::sbom::Sbom;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the layer was made from: a change of any of these makes a new layer.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Key {
    /// The requests as written (`name` or `name=version`), in file order.
    pub(crate) requests: Vec<String>,
    /// `Debian 12 (bookworm)`
    pub(crate) release: String,
    pub(crate) mirror: String,
    pub(crate) security_mirror: String,
    /// sha256 of the keyring file.
    pub(crate) keyring_sha256: String,
    /// sha256 of the run image's dpkg status.
    pub(crate) run_image_sha256: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PackagesMetadata {
    pub(crate) key: Key,
    /// `name version architecture`, for the SBOM of a reused layer.
    pub(crate) installed: Vec<String>,
}

pub(crate) fn invalidation_reasons(
    cached: &PackagesMetadata,
    wanted: &PackagesMetadata,
) -> Vec<String> {
    let (old, new) = (&cached.key, &wanted.key);
    let removed: Vec<&str> = old
        .requests
        .iter()
        .filter(|request| !new.requests.contains(request))
        .map(String::as_str)
        .collect();
    let added: Vec<&str> = new
        .requests
        .iter()
        .filter(|request| !old.requests.contains(request))
        .map(String::as_str)
        .collect();
    let list_changed = (!added.is_empty() || !removed.is_empty()).then(|| {
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("added {}", added.join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {}", removed.join(", ")));
        }
        format!("{} changed ({})", crate::aptfile::APTFILE, parts.join("; "))
    });
    cache::reasons([
        list_changed,
        cache::changed("Debian release", &old.release, &new.release),
        cache::changed("mirror", &old.mirror, &new.mirror),
        cache::changed(
            "security mirror",
            &old.security_mirror,
            &new.security_mirror,
        ),
        (old.keyring_sha256 != new.keyring_sha256)
            .then(|| "the archive keyring changed".to_string()),
        (old.run_image_sha256 != new.run_image_sha256)
            .then(|| "the run image's packages changed".to_string()),
    ])
}

/// Makes the layer: reused when the key is unchanged, otherwise filled by `resolve` (which
/// reads the archive) and the downloads.
pub(crate) fn install(
    context: &BuildContext<AptBuildpack>,
    key: Key,
    resolve: impl FnOnce() -> Result<Vec<Package>, AptError>,
) -> libcnb::Result<(), AptError> {
    let debs = crate::layers::debs::prepare(context)?;
    let wanted = PackagesMetadata {
        key,
        installed: Vec::new(),
    };
    let layer = cache::cached_layer(
        context,
        layer_name!("packages"),
        true,
        true,
        &wanted,
        |cached: &PackagesMetadata, wanted: &PackagesMetadata| invalidation_reasons(cached, wanted),
    )?;
    let path = layer.path();
    let installed = match &layer.state {
        LayerState::Restored { .. } => {
            let metadata = read_metadata(context)?;
            output::detail(format!(
                "Reusing {} ({}, release, mirrors and run image unchanged)",
                output::count(
                    metadata.installed.len(),
                    "cached OS package",
                    "cached OS packages"
                ),
                crate::aptfile::APTFILE
            ));
            metadata.installed
        }
        LayerState::Empty { .. } => {
            cache::log_if_discarded("OS packages", &layer.state);
            let packages = resolve()?;
            let downloads = crate::layers::debs::download_all(&debs, &packages)?;
            unpack(&path, &packages, &downloads)?;
            let installed: Vec<String> = packages
                .iter()
                .map(|package| {
                    format!(
                        "{} {} {}",
                        package.name, package.version, package.architecture
                    )
                })
                .collect();
            layer.write_metadata(PackagesMetadata {
                key: wanted.key.clone(),
                installed: installed.clone(),
            })?;
            installed
        }
    };
    layer.write_sboms(&[sbom(&installed, &wanted.key.release)])?;
    layer.write_env(environment(&path))?;
    Ok(())
}

/// The metadata of a restored layer, as the lifecycle restored it (`<layers>/packages.toml`).
fn read_metadata(
    context: &BuildContext<AptBuildpack>,
) -> libcnb::Result<PackagesMetadata, AptError> {
    #[derive(Deserialize)]
    struct LayerToml {
        metadata: PackagesMetadata,
    }
    let file = context.layers_dir.join("packages.toml");
    let text = fs_err::read_to_string(&file)
        .map_err(io_failure("read", &file))
        .map_err(AptError::from)?;
    toml::from_str::<LayerToml>(&text)
        .map(|layer| layer.metadata)
        .map_err(|error| {
            libcnb::Error::BuildpackError(AptError::from(blacklodge_common::error::IoFailure {
                action: "read",
                path: file,
                error: std::io::Error::new(std::io::ErrorKind::InvalidData, error.to_string()),
            }))
        })
}

/// Unpacks every package into `root` and makes the tree work where it is.
fn unpack(root: &Path, packages: &[Package], debs: &[PathBuf]) -> Result<(), AptError> {
    let mut with_scripts: Vec<(&str, Vec<String>)> = Vec::new();
    output::timed(
        format!(
            "Unpacking {}",
            output::count(packages.len(), "package", "packages")
        ),
        || {
            for (package, deb) in packages.iter().zip(debs) {
                command::run_captured(Command::new("dpkg-deb").arg("--extract").arg(deb).arg(root))
                    .map_err(|error| AptError::Extract {
                        package: package.name.clone(),
                        error,
                    })?;
                let scripts = maintainer_scripts(deb).map_err(|error| AptError::Extract {
                    package: package.name.clone(),
                    error,
                })?;
                if !scripts.is_empty() {
                    with_scripts.push((&package.name, scripts));
                }
            }
            crate::relocate::relocate(root)
        },
    )?;
    let installed: Vec<&str> = packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    let replaced = crate::fixups::run(root, &installed, &environment(root));
    let not_run: Vec<String> = with_scripts
        .iter()
        .filter(|(name, _)| !replaced.contains(name))
        .map(|(name, scripts)| format!("{name} ({})", scripts.join(", ")))
        .collect();
    if !not_run.is_empty() {
        output::warning("OS package scripts were not run", scripts_warning(&not_run));
    }
    Ok(())
}

pub(crate) fn scripts_warning(with_scripts: &[String]) -> String {
    format!(
        "These packages have maintainer scripts, which need root and are not run:\n- {}\nTheir files are unpacked as the .deb has them; what the scripts would do (users, alternatives, caches, configuration) is not done.\nMost libraries and tools work without it. If one does not, see docs/os-packages.md#maintainer-scripts.",
        with_scripts.join("\n- ")
    )
}

/// The maintainer scripts (`preinst`, `postinst`) a `.deb` has.
fn maintainer_scripts(deb: &Path) -> Result<Vec<String>, blacklodge_common::command::CommandError> {
    let output = command::run_captured(Command::new("dpkg-deb").arg("--ctrl-tarfile").arg(deb))?;
    let mut archive = tar::Archive::new(output.stdout.as_slice());
    let mut found = BTreeSet::new();
    if let Ok(entries) = archive.entries() {
        for entry in entries.flatten() {
            if let Ok(path) = entry.path() {
                let name = path.to_string_lossy().trim_start_matches("./").to_string();
                if matches!(name.as_str(), "preinst" | "postinst") {
                    found.insert(name);
                }
            }
        }
    }
    Ok(found.into_iter().collect())
}

/// The directories of the tree each variable gets, when they exist.
const LAUNCH_PATHS: [(&str, &[&str]); 2] = [
    (
        "PATH",
        &["usr/local/bin", "usr/bin", "bin", "usr/sbin", "sbin"],
    ),
    (
        "LD_LIBRARY_PATH",
        &[
            "usr/lib/x86_64-linux-gnu",
            "usr/lib",
            "lib/x86_64-linux-gnu",
            "lib",
        ],
    ),
];
const BUILD_PATHS: [(&str, &[&str]); 3] = [
    (
        "LIBRARY_PATH",
        &[
            "usr/lib/x86_64-linux-gnu",
            "usr/lib",
            "lib/x86_64-linux-gnu",
            "lib",
        ],
    ),
    ("CPATH", &["usr/include/x86_64-linux-gnu", "usr/include"]),
    (
        "PKG_CONFIG_PATH",
        &[
            "usr/lib/x86_64-linux-gnu/pkgconfig",
            "usr/lib/pkgconfig",
            "usr/share/pkgconfig",
        ],
    ),
];

/// PATH and LD_LIBRARY_PATH for build and launch; LIBRARY_PATH, CPATH and PKG_CONFIG_PATH
/// for the build only (compilers are not in the run image).
pub(crate) fn environment(root: &Path) -> LayerEnv {
    let mut env = LayerEnv::new();
    for (scope, variables) in [
        (Scope::All, &LAUNCH_PATHS[..]),
        (Scope::Build, &BUILD_PATHS[..]),
    ] {
        for (name, dirs) in variables {
            let existing: Vec<String> = dirs
                .iter()
                .map(|dir| root.join(dir))
                .filter(|dir| dir.is_dir())
                .map(|dir| dir.to_string_lossy().into_owned())
                .collect();
            if existing.is_empty() {
                continue;
            }
            env = env
                .chainable_insert(
                    scope.clone(),
                    ModificationBehavior::Prepend,
                    name,
                    existing.join(":"),
                )
                .chainable_insert(scope.clone(), ModificationBehavior::Delimiter, name, ":");
        }
    }
    env
}

/// CycloneDX 1.4 JSON of the installed packages, with Debian package URLs.
fn sbom(installed: &[String], release: &str) -> Sbom {
    let distro = release
        .split_whitespace()
        .nth(1)
        .map_or_else(String::new, |version| format!("&distro=debian-{version}"));
    let components: Vec<serde_json::Value> = installed
        .iter()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let (name, version, arch) = (parts.next()?, parts.next()?, parts.next()?);
            let purl_version = version.replace(':', "%3A").replace('+', "%2B");
            Some(json!({
                "type": "library",
                "name": name,
                "version": version,
                "purl": format!("pkg:deb/debian/{name}@{purl_version}?arch={arch}{distro}"),
            }))
        })
        .collect();
    blacklodge_common::sbom::cyclonedx(&components)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(requests: &[&str]) -> PackagesMetadata {
        PackagesMetadata {
            key: Key {
                requests: requests.iter().map(ToString::to_string).collect(),
                release: "Debian 12 (bookworm)".into(),
                mirror: "https://deb.debian.org/debian".into(),
                security_mirror: "https://deb.debian.org/debian-security".into(),
                keyring_sha256: "k".into(),
                run_image_sha256: "r".into(),
            },
            installed: vec![],
        }
    }

    #[test]
    fn reasons_name_the_list_release_and_mirror_changes() {
        let cached = metadata(&["libpq-dev", "graphviz"]);
        assert!(invalidation_reasons(&cached, &cached).is_empty());
        let mut wanted = metadata(&["libpq-dev", "curl"]);
        wanted.key.release = "Debian 13 (trixie)".into();
        wanted.key.mirror = "http://127.0.0.1:18200/debian".into();
        wanted.key.run_image_sha256 = "s".into();
        assert_eq!(
            invalidation_reasons(&cached, &wanted),
            [
                "Aptfile changed (added curl; removed graphviz)",
                "Debian release changed (Debian 12 (bookworm) → Debian 13 (trixie))",
                "mirror changed (https://deb.debian.org/debian → http://127.0.0.1:18200/debian)",
                "the run image's packages changed",
            ]
        );
    }

    #[test]
    fn environment_names_only_existing_directories() {
        let root = tempfile::tempdir().expect("tempdir");
        for dir in [
            "usr/bin",
            "usr/lib/x86_64-linux-gnu/pkgconfig",
            "usr/include",
        ] {
            fs_err::create_dir_all(root.path().join(dir)).expect("mkdir");
        }
        let env = environment(root.path());
        let build = env.apply(Scope::Build, &libcnb::Env::new());
        let launch = env.apply(Scope::Launch, &libcnb::Env::new());
        let at = |dir: &str| root.path().join(dir).to_string_lossy().into_owned();
        assert_eq!(build.get_string_lossy("PATH"), Some(at("usr/bin")));
        assert_eq!(build.get_string_lossy("CPATH"), Some(at("usr/include")));
        assert_eq!(
            build.get_string_lossy("PKG_CONFIG_PATH"),
            Some(at("usr/lib/x86_64-linux-gnu/pkgconfig"))
        );
        assert_eq!(
            launch.get_string_lossy("LD_LIBRARY_PATH"),
            Some(format!(
                "{}:{}",
                at("usr/lib/x86_64-linux-gnu"),
                at("usr/lib")
            ))
        );
        assert_eq!(launch.get_string_lossy("CPATH"), None);
        assert_eq!(launch.get_string_lossy("LIBRARY_PATH"), None);
    }

    #[test]
    fn sbom_has_debian_package_urls() {
        let sbom = sbom(
            &["libpq5 15.10-0+deb12u1 amd64".into()],
            "Debian 12 (bookworm)",
        );
        let document: serde_json::Value = serde_json::from_slice(&sbom.data).expect("json");
        assert_eq!(
            document["components"][0]["purl"],
            "pkg:deb/debian/libpq5@15.10-0%2Bdeb12u1?arch=amd64&distro=debian-12"
        );
    }

    #[test]
    fn scripts_warning_lists_the_packages() {
        assert_eq!(
            scripts_warning(&["libgvc6 (postinst)".into(), "fontconfig (postinst)".into()]),
            "These packages have maintainer scripts, which need root and are not run:\n- libgvc6 (postinst)\n- fontconfig (postinst)\nTheir files are unpacked as the .deb has them; what the scripts would do (users, alternatives, caches, configuration) is not done.\nMost libraries and tools work without it. If one does not, see docs/os-packages.md#maintainer-scripts."
        );
    }
}
