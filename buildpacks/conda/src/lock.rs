//! What was installed, written down: the explicit list a team commits as `package-list.txt`
//! to pin a solved environment, and the CycloneDX SBOM (conda packages with their URLs and
//! hashes, then the packages pip installed).

use blacklodge_python_deps::sbom::{self, Distribution};
use rattler_conda_types::RepoDataRecord;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;

/// Lower-case hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// `conda list --explicit --md5` of the packages: installing it gives the same environment.
pub(crate) fn explicit_list(records: &[RepoDataRecord]) -> String {
    let mut text = format!(
        "# platform: {}\n@EXPLICIT\n",
        crate::install::PLATFORM.as_str()
    );
    for record in records {
        let mut url = record.url.clone();
        url.set_fragment(None);
        let _ = url.set_password(None);
        let _ = url.set_username("");
        let hash = match (&record.package_record.md5, &record.package_record.sha256) {
            (Some(md5), _) => format!("#{}", hex(md5)),
            (None, Some(sha256)) => format!("#sha256:{}", hex(sha256)),
            (None, None) => String::new(),
        };
        text.push_str(url.as_str());
        text.push_str(&hash);
        text.push('\n');
    }
    text
}

fn component(record: &RepoDataRecord) -> serde_json::Value {
    let package = &record.package_record;
    let channel = record
        .channel
        .as_deref()
        .and_then(|channel| channel.trim_end_matches('/').rsplit('/').next())
        .unwrap_or("local");
    let purl = format!(
        "pkg:conda/{}@{}?build={}&channel={channel}&subdir={}",
        package.name.as_normalized(),
        package.version,
        package.build,
        package.subdir
    );
    let mut hashes = Vec::new();
    if let Some(md5) = &package.md5 {
        hashes.push(json!({"alg": "MD5", "content": hex(md5)}));
    }
    if let Some(sha256) = &package.sha256 {
        hashes.push(json!({"alg": "SHA-256", "content": hex(sha256)}));
    }
    let mut value = json!({
        "type": "library",
        "bom-ref": purl,
        "name": package.name.as_source(),
        "version": package.version.to_string(),
        "purl": purl,
        "hashes": hashes,
        "externalReferences": [{"type": "distribution", "url": crate::config::redact(&record.url)}],
    });
    if let Some(license) = &package.license {
        value["licenses"] = json!([{"license": {"name": license}}]);
    }
    value
}

/// The packages pip installed into the prefix: the distributions that no conda package of the
/// same name provides.
pub(crate) fn pip_distributions(
    prefix: &Path,
    records: &[RepoDataRecord],
) -> std::io::Result<Vec<Distribution>> {
    let conda: BTreeSet<String> = records
        .iter()
        .map(|record| {
            blacklodge_common::pypi::normalize(record.package_record.name.as_normalized())
        })
        .collect();
    Ok(sbom::distributions(prefix)?
        .into_iter()
        .filter(|dist| !conda.contains(&blacklodge_common::pypi::normalize(&dist.name)))
        .collect())
}

/// The CycloneDX SBOM of the environment.
pub(crate) fn sbom(records: &[RepoDataRecord], pip: &[Distribution]) -> libcnb::sbom::Sbom {
    sbom::cyclonedx_with(pip, records.iter().map(component).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rattler_conda_types::package::{BuildString, DistArchiveIdentifier};
    use rattler_conda_types::{PackageName, PackageRecord, Version};
    use std::str::FromStr;

    fn record() -> RepoDataRecord {
        let mut package = PackageRecord::new(
            PackageName::from_str("blgreet").expect("name"),
            Version::from_str("1.0").expect("version"),
            BuildString::from_str("py313_0").expect("build string"),
        );
        package.subdir = "linux-64".to_string();
        package.md5 = rattler_digest::parse_digest_from_hex::<rattler_digest::Md5>(
            "0123456789abcdef0123456789abcdef",
        );
        RepoDataRecord {
            package_record: package,
            identifier: DistArchiveIdentifier::try_from_filename("blgreet-1.0-py313_0.conda")
                .expect("file name"),
            url: url::Url::parse(
                "http://u:p@127.0.0.1:8766/conda-forge/linux-64/blgreet-1.0-py313_0.conda",
            )
            .expect("url"),
            channel: Some("http://127.0.0.1:8766/conda-forge/".to_string()),
        }
    }

    #[test]
    fn explicit_list_pins_urls_and_md5_without_credentials() {
        assert_eq!(
            explicit_list(&[record()]),
            "# platform: linux-64\n@EXPLICIT\nhttp://127.0.0.1:8766/conda-forge/linux-64/blgreet-1.0-py313_0.conda#0123456789abcdef0123456789abcdef\n"
        );
    }

    #[test]
    fn sbom_lists_conda_packages_with_purl_and_hash() {
        let document: serde_json::Value =
            serde_json::from_slice(&sbom(&[record()], &[]).data).expect("JSON");
        let component = &document["components"][0];
        assert_eq!(
            component["purl"],
            "pkg:conda/blgreet@1.0?build=py313_0&channel=conda-forge&subdir=linux-64"
        );
        assert_eq!(
            component["hashes"][0]["content"],
            "0123456789abcdef0123456789abcdef"
        );
    }
}
