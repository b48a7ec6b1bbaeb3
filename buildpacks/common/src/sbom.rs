//! CycloneDX SBOM documents: every buildpack's layer SBOM has the same envelope.

use libcnb::data::sbom::SbomFormat;
use libcnb::sbom::Sbom;
use serde_json::json;

/// A CycloneDX 1.4 JSON document listing `components` (CycloneDX component objects),
/// deterministic: no timestamp, no serial number.
#[must_use]
pub fn cyclonedx(components: &[serde_json::Value]) -> Sbom {
    let document = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "version": 1,
        "components": components,
    });
    Sbom::from_bytes(SbomFormat::CycloneDxJson, document.to_string())
}
