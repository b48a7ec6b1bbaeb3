//! `pack sbom download` gives a CycloneDX document for every launch layer our buildpacks put in
//! an image that holds software (layers of launch variables only have nothing to list), across
//! apps that use the runtime, a dependency manager, the wrapper and the web buildpack.

use blacklodge_tests::{App, Image, inspect_format};
use std::collections::BTreeSet;

/// (buildpack id, layer name) of every launch layer of our buildpacks in the image, from the
/// lifecycle's metadata label.
fn our_launch_layers(image: &Image) -> BTreeSet<(String, String)> {
    let metadata: serde_json::Value = serde_json::from_str(&inspect_format(
        &image.name,
        "{{index .Config.Labels \"io.buildpacks.lifecycle.metadata\"}}",
    ))
    .expect("lifecycle metadata is JSON");
    let mut found = BTreeSet::new();
    for buildpack in metadata["buildpacks"].as_array().expect("buildpacks") {
        let id = buildpack["key"].as_str().expect("key");
        if !id.starts_with("blacklodge/") {
            continue;
        }
        for (layer, _) in buildpack["layers"].as_object().into_iter().flatten() {
            found.insert((id.to_string(), layer.clone()));
        }
    }
    found
}

fn assert_every_launch_layer_has_a_cyclonedx_sbom(image: &Image) -> BTreeSet<String> {
    let sboms = image.launch_sboms();
    let layers = our_launch_layers(image);
    assert!(
        !layers.is_empty(),
        "no launch layer of ours in {}",
        image.name
    );
    for (buildpack, layer) in &layers {
        let directory = buildpack.replace('/', "_");
        let path = format!("layers/sbom/launch/{directory}/{layer}/sbom.cdx.json");
        let Some(sbom) = sboms.get(&path) else {
            // A layer that holds only launch variables (env/, env.launch/) has no software
            // to list; any other layer without an SBOM fails.
            let files =
                image.shell_ok(&format!("cd /layers/{directory}/{layer} && find . -type f"));
            let software: Vec<&str> = files
                .lines()
                .filter(|file| !file.starts_with("./env/") && !file.starts_with("./env.launch/"))
                .collect();
            assert!(
                software.is_empty(),
                "{buildpack} layer {layer} has files but no CycloneDX SBOM ({path}): {software:?}; the SBOMs: {:?}",
                sboms.keys()
            );
            continue;
        };
        assert_eq!(sbom["bomFormat"], "CycloneDX", "{path}");
        assert!(
            sbom["components"]
                .as_array()
                .is_some_and(|components| !components.is_empty()),
            "{path} lists no component"
        );
    }
    layers.into_iter().map(|(buildpack, _)| buildpack).collect()
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn every_launch_layer_we_write_has_a_cyclonedx_sbom() {
    let mut buildpacks = BTreeSet::new();
    for (fixture, prefix) in [
        ("examples/flask-hello", "sbom-pip"),
        ("examples/wrapped-function", "sbom-wrapper"),
        ("web-flask", "sbom-web"),
    ] {
        let image = Image::new(prefix);
        let _ = image.build_ok(&App::fixture(fixture));
        buildpacks.extend(assert_every_launch_layer_has_a_cyclonedx_sbom(&image));
    }
    // The apps cover the runtime, a dependency manager, the wrapper and the web buildpack.
    for buildpack in [
        "blacklodge/python",
        "blacklodge/pip",
        "blacklodge/wrapper",
        "blacklodge/web",
    ] {
        assert!(buildpacks.contains(buildpack), "{buildpacks:?}");
    }
}
