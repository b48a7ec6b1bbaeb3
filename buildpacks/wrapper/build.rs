//! Embeds the harness (harness/src/blacklodge_harness) in the buildpack binary and reads its
//! runtime dependencies (and its `kafka` extra) from harness/pyproject.toml and their lock from
//! harness/requirements.lock, so the Python package in this repository is the single source
//! of all three. `cargo libcnb package` ships only the binary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if name != "__pycache__" {
                collect(&path, root, out);
            }
        } else if path.extension().is_some_and(|ext| ext == "py") || name == "py.typed" {
            let relative = path
                .strip_prefix(root)
                .expect("below the root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, path));
        }
    }
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let harness = manifest_dir.join("../../harness");
    let package = harness.join("src/blacklodge_harness");
    let pyproject = harness.join("pyproject.toml");
    let lock = harness.join("requirements.lock");
    println!("cargo:rerun-if-changed={}", package.display());
    println!("cargo:rerun-if-changed={}", pyproject.display());
    println!("cargo:rerun-if-changed={}", lock.display());

    let mut files = Vec::new();
    collect(&package, &harness.join("src"), &mut files);
    assert!(
        files
            .iter()
            .any(|(name, _)| name == "blacklodge_harness/cli.py"),
        "the harness package is missing at {}",
        package.display()
    );

    let text = std::fs::read_to_string(&pyproject).expect("harness/pyproject.toml is readable");
    let document: toml::Table = text.parse().expect("harness/pyproject.toml is TOML");
    let dependencies: Vec<String> = document["project"]["dependencies"]
        .as_array()
        .expect("[project] dependencies is an array")
        .iter()
        .map(|value| value.as_str().expect("a requirement string").to_string())
        .collect();
    let kafka: Vec<String> = document["project"]["optional-dependencies"]["kafka"]
        .as_array()
        .expect("[project.optional-dependencies] kafka is an array")
        .iter()
        .map(|value| value.as_str().expect("a requirement string").to_string())
        .collect();

    let mut code =
        String::from("/// The harness package files: (path below site-packages, contents).\n");
    code.push_str("pub(crate) const FILES: &[(&str, &[u8])] = &[\n");
    for (relative, path) in &files {
        let canonical = path.canonicalize().expect("canonical path");
        writeln!(
            code,
            "    ({relative:?}, include_bytes!({:?})),",
            canonical.display().to_string()
        )
        .expect("write to string");
    }
    code.push_str("];\n\n/// `[project] dependencies` of harness/pyproject.toml.\n");
    code.push_str("pub(crate) const DEPENDENCIES: &[&str] = &[\n");
    for dependency in &dependencies {
        writeln!(code, "    {dependency:?},").expect("write to string");
    }
    code.push_str("];\n\n/// The `kafka` extra of harness/pyproject.toml (the worker mode).\n");
    code.push_str("pub(crate) const KAFKA_DEPENDENCIES: &[&str] = &[\n");
    for dependency in &kafka {
        writeln!(code, "    {dependency:?},").expect("write to string");
    }
    code.push_str("];\n");
    code.push_str(
        "\n/// harness/requirements.lock: the dependencies pinned with their sha256 hashes.\n",
    );
    writeln!(
        code,
        "pub(crate) const LOCK: &str = include_str!({:?});",
        lock.canonicalize()
            .expect("harness/requirements.lock exists (harness/scripts/lock.sh writes it)")
            .display()
            .to_string()
    )
    .expect("write to string");

    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("harness_files.rs");
    std::fs::write(out, code).expect("write generated code");
}
