//! The runtime layer's SBOM: one CycloneDX (JSON) component for the installed CPython, with
//! the archive's canonical (manifest) URL and its sha256. Deterministic (no timestamp, no
//! random serial number, not the mirror it was fetched from) so an unchanged runtime gives
//! an unchanged SBOM.
//!
//! Hand-written with serde_json: one component does not justify a CycloneDX library.

use crate::manifest::Archive;
use libcnb::data::sbom::SbomFormat;
use libcnb::sbom::Sbom;
use serde_json::json;

/// Package URL (<https://github.com/package-url/purl-spec>) of the runtime: generic type, with
/// the archive location and checksum as qualifiers.
fn purl(archive: &Archive) -> String {
    format!(
        "pkg:generic/cpython@{}?checksum=sha256:{}&download_url={}",
        archive.version,
        archive.sha256,
        percent_encode(&archive.url)
    )
}

/// Percent-encodes a purl qualifier value (keeps unreserved characters, `:` and `/`).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~:/".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

pub(crate) fn runtime_sbom(archive: &Archive) -> Sbom {
    let purl = purl(archive);
    let document = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "blacklodge/python",
                    "version": env!("CARGO_PKG_VERSION"),
                }]
            },
            "component": {
                "type": "application",
                "name": "python runtime layer",
                "bom-ref": "blacklodge-python-layer",
            },
        },
        "components": [{
            "type": "application",
            "bom-ref": purl,
            "name": "cpython",
            "version": archive.version.to_string(),
            "description": "CPython interpreter and standard library",
            "licenses": [{"license": {"id": "PSF-2.0"}}],
            "purl": purl,
            "hashes": [{"alg": "SHA-256", "content": archive.sha256}],
            "externalReferences": [
                {"type": "distribution", "url": archive.url},
                {"type": "website", "url": "https://www.python.org/"},
            ],
            "properties": [{"name": "blacklodge:arch", "value": archive.arch}],
        }],
    });
    Sbom::from_bytes(SbomFormat::CycloneDxJson, format!("{document:#}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_installed_archive() {
        let archive = Archive {
            version: "3.11.2".parse().expect("valid"),
            arch: "x86_64".into(),
            url: "https://example.org/20260814/cpython-3.11.2%2B20260814.tar.gz".into(),
            sha256: "ab".repeat(32),
        };
        let sbom = runtime_sbom(&archive);
        assert_eq!(sbom.format, SbomFormat::CycloneDxJson);
        let document: serde_json::Value = serde_json::from_slice(&sbom.data).expect("JSON");
        assert_eq!(document["bomFormat"], "CycloneDX");
        let component = &document["components"][0];
        assert_eq!(component["name"], "cpython");
        assert_eq!(component["version"], "3.11.2");
        assert_eq!(component["hashes"][0]["content"], "ab".repeat(32));
        assert_eq!(
            component["purl"],
            format!(
                "pkg:generic/cpython@3.11.2?checksum=sha256:{}&download_url=https://example.org/20260814/cpython-3.11.2%252B20260814.tar.gz",
                "ab".repeat(32)
            )
        );
        // Same input, same bytes.
        assert_eq!(runtime_sbom(&archive).data, sbom.data);
    }
}
