//! The SBOM of a virtual environment: every installed distribution (from its `*.dist-info`
//! METADATA) as a CycloneDX JSON component with a PyPI package URL.

use libcnb::sbom::Sbom;
use serde_json::json;
use std::path::Path;

/// A distribution installed in a venv.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Distribution {
    pub name: String,
    pub version: String,
}

fn metadata_field(metadata: &str, field: &str) -> Option<String> {
    metadata
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(|value| value.trim().to_string())
}

/// The distributions installed in `venv` (`lib/python*/site-packages/*.dist-info`), sorted.
///
/// # Errors
/// I/O errors reading the venv.
pub fn distributions(venv: &Path) -> std::io::Result<Vec<Distribution>> {
    let lib = venv.join("lib");
    let Ok(pythons) = fs_err::read_dir(&lib) else {
        return Ok(Vec::new());
    };
    let mut sites = Vec::new();
    for python in pythons {
        sites.push(python?.path().join("site-packages"));
    }
    distributions_in(&sites)
}

/// The distributions installed in these site directories (`*.dist-info`), sorted; a missing
/// directory has none. For prefixes that are not a venv (`pip install --prefix`).
///
/// # Errors
/// I/O errors reading a directory.
pub fn distributions_in(sites: &[std::path::PathBuf]) -> std::io::Result<Vec<Distribution>> {
    let mut found = Vec::new();
    for site in sites {
        let Ok(entries) = fs_err::read_dir(site) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_none_or(|ext| ext != "dist-info") {
                continue;
            }
            let Ok(metadata) = fs_err::read_to_string(path.join("METADATA")) else {
                continue;
            };
            if let (Some(name), Some(version)) = (
                metadata_field(&metadata, "Name"),
                metadata_field(&metadata, "Version"),
            ) {
                found.push(Distribution { name, version });
            }
        }
    }
    found.sort();
    Ok(found)
}

/// CycloneDX 1.4 JSON listing `distributions` (deterministic: no timestamp, no serial).
#[must_use]
pub fn cyclonedx(distributions: &[Distribution]) -> Sbom {
    cyclonedx_with(distributions, Vec::new())
}

/// [`cyclonedx`] with `others` (CycloneDX component objects of software that is not from
/// PyPI) listed first.
#[must_use]
pub fn cyclonedx_with(distributions: &[Distribution], others: Vec<serde_json::Value>) -> Sbom {
    let components: Vec<_> = others
        .into_iter()
        .chain(distributions.iter().map(|dist| {
            let purl_name = blacklodge_common::pypi::normalize(&dist.name);
            json!({
                "type": "library",
                "bom-ref": format!("pkg:pypi/{purl_name}@{}", dist.version),
                "name": dist.name,
                "version": dist.version,
                "purl": format!("pkg:pypi/{purl_name}@{}", dist.version),
            })
        }))
        .collect();
    blacklodge_common::sbom::cyclonedx(&components)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_dist_info_metadata() {
        let venv = tempfile::tempdir().expect("tempdir");
        let site = venv.path().join("lib/python3.11/site-packages");
        for (dir, metadata) in [
            (
                "Flask-3.1.2.dist-info",
                "Metadata-Version: 2.4\nName: Flask\nVersion: 3.1.2\n\nName: not-a-header\n",
            ),
            ("six-1.17.0.dist-info", "Name: six\nVersion: 1.17.0\n"),
            ("flask", "not metadata"),
        ] {
            fs_err::create_dir_all(site.join(dir)).expect("mkdir");
            fs_err::write(site.join(dir).join("METADATA"), metadata).expect("write");
        }
        let found = distributions(venv.path()).expect("readable");
        assert_eq!(
            found,
            vec![
                Distribution {
                    name: "Flask".into(),
                    version: "3.1.2".into()
                },
                Distribution {
                    name: "six".into(),
                    version: "1.17.0".into()
                },
            ]
        );
        let sbom = cyclonedx(&found);
        let json: serde_json::Value = serde_json::from_slice(&sbom.data).expect("JSON");
        assert_eq!(json["components"][0]["purl"], "pkg:pypi/flask@3.1.2");
    }
}
