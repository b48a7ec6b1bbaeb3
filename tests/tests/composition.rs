//! The composition is written in five files: the workspace members, the component buildpacks'
//! `buildpack.toml`, the composite's `meta-buildpack/buildpack.toml` (order groups) and
//! `meta-buildpack/package.toml`, the top-level `package.toml` and `builder/builder.toml`.
//! These tests read all of them and fail, naming the file and the buildpack, when they
//! disagree. Every stack's builder configuration (`builder/stack-config <suite>`, derived
//! from `builder/builder.toml`, for each stack of `bench/versions.env`) is checked the same way,
//! and must name that stack's images only. They need no Docker and run with the unit tests.

use blacklodge_tests::stacks;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read_toml(relative: &str) -> Value {
    let path = repo().join(relative);
    let text = fs_err::read_to_string(&path).expect("composition file is readable");
    toml::from_str(&text).unwrap_or_else(|error| panic!("{relative} is not valid TOML: {error}"))
}

fn table_array<'a>(value: &'a Value, key: &str, file: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or_else(|| panic!("{file} has no [[{key}]]"), Vec::as_slice)
}

fn string<'a>(value: &'a Value, key: &str, file: &str) -> &'a str {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{file}: an entry has no string `{key}`: {value}"))
}

/// The component buildpacks: id → (version, crate directory), from every workspace member
/// that has a `buildpack.toml`.
fn components() -> BTreeMap<String, (String, String)> {
    let workspace = read_toml("Cargo.toml");
    let members = workspace["workspace"]["members"]
        .as_array()
        .expect("Cargo.toml lists [workspace] members");
    let mut found = BTreeMap::new();
    for member in members {
        let member = member.as_str().expect("members are strings");
        let descriptor = format!("{member}/buildpack.toml");
        if !repo().join(&descriptor).exists() {
            continue;
        }
        let buildpack = &read_toml(&descriptor)["buildpack"];
        let id = string(buildpack, "id", &descriptor).to_string();
        let version = string(buildpack, "version", &descriptor).to_string();
        let previous = found.insert(id.clone(), (version, member.to_string()));
        assert!(
            previous.is_none(),
            "two workspace members declare the buildpack id {id}"
        );
    }
    assert!(
        !found.is_empty(),
        "no workspace member has a buildpack.toml"
    );
    found
}

/// `cargo libcnb package` names a buildpack's output directory after its id.
fn packaged_uri(prefix: &str, id: &str) -> String {
    format!(
        "{prefix}packaged/x86_64-unknown-linux-gnu/release/{}",
        id.replace('/', "_")
    )
}

fn meta() -> (String, String) {
    let descriptor = &read_toml("meta-buildpack/buildpack.toml")["buildpack"];
    (
        string(descriptor, "id", "meta-buildpack/buildpack.toml").to_string(),
        string(descriptor, "version", "meta-buildpack/buildpack.toml").to_string(),
    )
}

#[test]
fn every_buildpack_directory_is_a_workspace_member() {
    let members: BTreeSet<String> = components().into_values().map(|(_, dir)| dir).collect();
    for entry in fs_err::read_dir(repo().join("buildpacks")).expect("buildpacks/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.join("buildpack.toml").exists() {
            let name = format!(
                "buildpacks/{}",
                path.file_name().expect("a name").to_string_lossy()
            );
            assert!(
                members.contains(&name),
                "{name} has a buildpack.toml but is not in Cargo.toml's [workspace] members"
            );
        }
    }
}

#[test]
fn order_groups_name_each_component_at_its_version() {
    let components = components();
    let file = "meta-buildpack/buildpack.toml";
    let mut used = BTreeSet::new();
    for order in table_array(&read_toml(file), "order", file) {
        for entry in table_array(order, "group", file) {
            let id = string(entry, "id", file);
            let version = string(entry, "version", file);
            let Some((declared, _)) = components.get(id) else {
                panic!("{file}: an order group names {id}, which no workspace member declares");
            };
            assert_eq!(
                version, declared,
                "{file}: an order group wants {id} {version}, its buildpack.toml says {declared}"
            );
            used.insert(id.to_string());
        }
    }
    for id in components.keys() {
        assert!(
            used.contains(id),
            "{id} is a workspace buildpack but no order group in {file} uses it"
        );
    }
}

#[test]
fn meta_package_lists_exactly_the_components() {
    let file = "meta-buildpack/package.toml";
    let listed: BTreeSet<String> = table_array(&read_toml(file), "dependencies", file)
        .iter()
        .map(|dependency| {
            let uri = string(dependency, "uri", file);
            uri.strip_prefix("libcnb:")
                .unwrap_or_else(|| panic!("{file}: dependency {uri} is not a libcnb: uri"))
                .to_string()
        })
        .collect();
    let wanted: BTreeSet<String> = components().into_keys().collect();
    assert_eq!(
        listed, wanted,
        "{file}: the dependencies differ from the workspace's buildpacks"
    );
}

#[test]
fn top_level_package_lists_the_composite_and_every_component() {
    let file = "package.toml";
    let package = read_toml(file);
    let (meta_id, _) = meta();
    assert_eq!(
        string(&package["buildpack"], "uri", file),
        packaged_uri("", &meta_id),
        "{file}: [buildpack] uri is not the packaged composite {meta_id}"
    );
    let listed: BTreeSet<String> = table_array(&package, "dependencies", file)
        .iter()
        .map(|dependency| string(dependency, "uri", file).to_string())
        .collect();
    let wanted: BTreeSet<String> = components().keys().map(|id| packaged_uri("", id)).collect();
    assert_eq!(
        listed, wanted,
        "{file}: the dependencies differ from the workspace's buildpacks"
    );
}

/// Checks one builder configuration: the composite and every component, the composite alone
/// in the order, and `suite`'s build image, run image and stack id.
fn check_builder(file: &str, builder: &Value, suite: &str) {
    let (meta_id, _) = meta();
    let listed: BTreeMap<String, String> = table_array(builder, "buildpacks", file)
        .iter()
        .map(|buildpack| {
            (
                string(buildpack, "id", file).to_string(),
                string(buildpack, "uri", file).to_string(),
            )
        })
        .collect();
    let mut wanted: BTreeMap<String, String> = components()
        .into_keys()
        .map(|id| {
            let uri = packaged_uri("../", &id);
            (id, uri)
        })
        .collect();
    wanted.insert(meta_id.clone(), packaged_uri("../", &meta_id));
    assert_eq!(
        listed, wanted,
        "{file}: [[buildpacks]] differ from the workspace's buildpacks and the composite"
    );
    let order = table_array(builder, "order", file);
    let groups: Vec<&str> = order
        .iter()
        .flat_map(|order| table_array(order, "group", file))
        .map(|entry| string(entry, "id", file))
        .collect();
    assert_eq!(
        groups,
        [meta_id.as_str()],
        "{file}: the builder's order should be the composite alone"
    );
    let build_image = format!("blacklodge/build:{suite}");
    let run_image = format!("blacklodge/run:{suite}");
    assert_eq!(
        string(&builder["build"], "image", file),
        build_image,
        "{file}: [build] image"
    );
    let run_images: Vec<&str> = table_array(&builder["run"], "images", file)
        .iter()
        .map(|image| string(image, "image", file))
        .collect();
    assert_eq!(run_images, [run_image.as_str()], "{file}: [[run.images]]");
    let stack = &builder["stack"];
    assert_eq!(
        [
            string(stack, "id", file),
            string(stack, "build-image", file),
            string(stack, "run-image", file),
        ],
        [
            format!("io.blacklodge.stacks.{suite}").as_str(),
            &build_image,
            &run_image,
        ],
        "{file}: [stack]"
    );
}

/// `builder/stack-config SUITE`: the stack's builder configuration, as text.
fn stack_config(suite: &str) -> std::process::Output {
    std::process::Command::new("bash")
        .arg(repo().join("builder/stack-config"))
        .arg(suite)
        .output()
        .expect("bash runs builder/stack-config")
}

#[test]
fn builder_carries_the_composite_and_every_component() {
    check_builder(
        "builder/builder.toml",
        &read_toml("builder/builder.toml"),
        &stacks()[0].suite,
    );
}

#[test]
fn every_stack_builder_is_derived_from_builder_toml() {
    let source = fs_err::read_to_string(repo().join("builder/builder.toml")).expect("readable");
    let stacks = stacks();
    assert!(stacks.len() >= 2, "two stacks at least: {stacks:?}");
    for (index, stack) in stacks.iter().enumerate() {
        let (suite, version) = (&stack.suite, &stack.version);
        let output = stack_config(suite);
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "builder/stack-config {suite}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let file = format!("builder/stack-config {suite}");
        let config: Value =
            toml::from_str(&text).unwrap_or_else(|error| panic!("{file}: not TOML: {error}"));
        check_builder(&file, &config, suite);
        assert!(
            string(&config, "description", &file).ends_with(&format!(" on Debian {version}")),
            "{file}: the description names another release"
        );
        if index == 0 {
            assert_eq!(
                text, source,
                "{file}: the default stack's is builder.toml itself"
            );
        }
        for other in stacks.iter().filter(|other| other.suite != *suite) {
            assert!(!text.contains(&other.suite), "{file} names {}", other.suite);
        }
    }
}

#[test]
fn an_unknown_stack_has_no_builder_config() {
    let output = stack_config("sid");
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "ERROR: unknown stack 'sid'\n  why: the stacks are: {} (BLACKLODGE_STACKS in bench/versions.env)\n  fix: use one of them, or add the stack to bench/versions.env\n",
            stacks()
                .iter()
                .map(|stack| stack.suite.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        )
    );
}
