//! The CPython runtime buildpack through pack and the real lifecycle, against the bench's
//! loopback mirror (CPython 3.11.2 and 3.13.5, see bench/steps/python.sh).

use blacklodge_tests::{App, Image, assert_contains, assert_not_contains, mirror_url};
use std::process::Command;

/// These fixtures carry another manager's files without a lock (they only state a Python
/// version), so they are built with the runtime buildpack alone, as `pack build --buildpack`.
const RUNTIME_ONLY: &str = "blacklodge/python";

const PYTHON_311: &str = "3.11.2";
const PYTHON_313: &str = "3.13.5";

fn mirror_manifest(name: &str) -> serde_json::Value {
    let text = ureq::get(&format!("{}/{name}", mirror_url()))
        .call()
        .expect("bench mirror answers")
        .into_string()
        .expect("text");
    serde_json::from_str(&text).expect("JSON")
}

/// The mirror's manifest entry for `version`.
fn mirror_archive(version: &str) -> serde_json::Value {
    let manifest = mirror_manifest("manifest.json");
    manifest["archives"]
        .as_array()
        .expect("archives")
        .iter()
        .find(|archive| archive["version"] == version)
        .unwrap_or_else(|| panic!("the bench mirror has no {version}: re-run bench/setup"))
        .clone()
}

/// The bytes of a manifest entry's archive, from the mirror.
fn archive_bytes(archive: &serde_json::Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut ureq::get(archive["url"].as_str().expect("url"))
            .call()
            .expect("mirror serves the archive")
            .into_reader(),
        &mut bytes,
    )
    .expect("archive body");
    bytes
}

/// The build tag of the mirror's archive of `version` (e.g. `debian12.3`): part of every URL.
fn mirror_build(version: &str) -> String {
    mirror_archive(version)["build"]
        .as_str()
        .expect("build")
        .to_string()
}

/// The Python the image runs, through the launcher (so with the launch environment).
fn image_python(image: &Image) -> String {
    image
        .shell_ok("python3 -c 'import sys; print(sys.version.split()[0], sys.prefix)'")
        .trim()
        .to_string()
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn python_only_app_gets_the_requested_runtime_and_serves() {
    let app = App::fixture("python-only");
    let image = Image::new("python-only");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge Python\n- Selecting Python version\n  - Python 3.11.2 (3.11 requested in .python-version)\n- Installing Python\n",
    );
    assert_contains(
        &log,
        "  - Python 3.11.2 at /layers/blacklodge_python/python/bin/python3",
    );
    // The bench's archives carry the standard library's bytecode, so it is not compiled again.
    assert_contains(
        &log,
        "  - The archive carries the standard library's bytecode (unchecked-hash pycs): not compiling it again\n",
    );
    assert_not_contains(&log, "Compiling the standard library");
    // No dependency manager ran: the group without one was chosen.
    assert_not_contains(&log, "## Blacklodge pip");

    let container = image.start(None, &[]);
    let response = container.get("/");
    assert_eq!(response.status, 200);
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
    assert_eq!(body["python"], PYTHON_311);
    assert_eq!(body["prefix"], "/layers/blacklodge_python/python");

    // Launch environment set by the runtime layer; nothing of the download in the image.
    let env = image.shell_ok(
        "echo \"$PYTHONUNBUFFERED|$LANG|$(command -v python3)\"; ls /tmp /layers/blacklodge_python/python",
    );
    assert_contains(
        &env,
        "1|C.UTF-8|/layers/blacklodge_python/python/bin/python3",
    );
    assert_not_contains(&env, ".tar.gz");
    assert_not_contains(&env, "blacklodge-python-");
}

/// Unchanged rebuild: the layer is kept (nothing of the build runs Python). Version change:
/// discarded with the reason and the new version installed.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn runtime_is_reused_on_rebuild_and_replaced_on_version_change() {
    let app = App::fixture("python-only");
    let image = Image::new("python-cache");
    let first = image.build_ok(&app);
    assert_contains(
        &first,
        "  - Downloading Python 3.11.2 from http://127.0.0.1:8765/",
    );

    // No build step of this app runs Python (a Procfile, no dependencies): kept by metadata.
    let second = image.build_ok(&app);
    assert_contains(
        &second,
        "- Installing Python\n  - Keeping Python 3.11.2 of the previous image (unchanged version, architecture, distribution and archive; no build step runs Python): nothing restored\n",
    );
    assert_not_contains(&second, "Restoring data for \"blacklodge/python:python\"");
    assert_not_contains(&second, "Downloading Python");

    app.write(".python-version", "3.13\n");
    let third = image.build_ok(&app);
    assert_contains(
        &third,
        "  - Python 3.13.5 (3.13 requested in .python-version)\n- Installing Python\n  - Discarding cached Python:\n    - Python version changed (3.11.2 → 3.13.5)\n",
    );
    assert_contains(&third, "    - archive checksum changed (");
    assert_contains(
        &third,
        "  - Downloading Python 3.13.5 from http://127.0.0.1:8765/",
    );
    assert_eq!(
        image_python(&image),
        format!("{PYTHON_313} /layers/blacklodge_python/python")
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn runtime_layer_has_a_cyclonedx_sbom() {
    let app = App::fixture("python-only");
    let image = Image::new("python-sbom");
    let _ = image.build_ok(&app);
    let sboms = image.launch_sboms();
    let sbom = sboms
        .get("layers/sbom/launch/blacklodge_python/python/sbom.cdx.json")
        .unwrap_or_else(|| panic!("no runtime layer SBOM in {:?}", sboms.keys()));
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let component = &sbom["components"][0];
    assert_eq!(component["name"], "cpython");
    assert_eq!(component["version"], PYTHON_311);
    assert_eq!(
        component["hashes"][0]["content"],
        mirror_archive(PYTHON_311)["sha256"]
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn without_any_version_the_newest_is_installed() {
    let app = App::fixture("python-only");
    app.remove(".python-version");
    let image = Image::new("python-default");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Python 3.13.5 (no version requested: the newest available; pin one in .python-version)\n",
    );
    assert_eq!(
        image_python(&image),
        format!("{PYTHON_313} /layers/blacklodge_python/python")
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn bp_python_version_overrides_the_version_file_with_a_warning() {
    let app = App::fixture("python-only");
    let image = Image::new("python-variable").env("BP_PYTHON_VERSION", PYTHON_313);
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Python 3.13.5 (3.13.5 requested in BP_PYTHON_VERSION)",
    );
    assert_contains(
        &log,
        "! WARNING: BP_PYTHON_VERSION overrides the app's version files\n!\n! Building with Python 3.13.5, although:\n! .python-version asks for 3.11\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn runtime_txt_is_accepted_with_a_warning() {
    let app = App::fixture("python-only");
    app.remove(".python-version");
    app.write("runtime.txt", "python-3.11.2\n");
    let log = Image::new("python-runtime-txt").build_ok(&app);
    assert_contains(&log, "  - Python 3.11.2 (3.11.2 requested in runtime.txt)");
    assert_contains(
        &log,
        "! WARNING: runtime.txt is deprecated\n!\n! runtime.txt is a legacy format. Replace it with a .python-version file\n! containing only the version (3.11.2), the format pyenv, uv and other tools\n! read.\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pyproject_requires_python_selects_the_newest_match() {
    let app = App::fixture("python-pyproject");
    let image = Image::new("python-pyproject");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Python 3.13.5 (>=3.12 requested in pyproject.toml requires-python)",
    );
    assert_eq!(
        image_python(&image),
        format!("{PYTHON_313} /layers/blacklodge_python/python")
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn poetry_python_constraint_is_honoured() {
    let app = App::fixture("python-poetry");
    let log = Image::new("python-poetry")
        .buildpack(RUNTIME_ONLY)
        .build_ok(&app);
    // ~3.11 excludes the newer 3.13.5.
    assert_contains(
        &log,
        "  - Python 3.11.2 (>=3.11, <3.12 requested in pyproject.toml [tool.poetry.dependencies] python)",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pipfile_python_version_is_honoured() {
    let app = App::fixture("python-pipfile");
    let log = Image::new("python-pipfile")
        .buildpack(RUNTIME_ONLY)
        .build_ok(&app);
    assert_contains(
        &log,
        "  - Python 3.13.5 (3.13 requested in Pipfile python_version)",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn uv_lock_requires_python_is_honoured() {
    let app = App::fixture("python-uv");
    let log = Image::new("python-uv-project")
        .buildpack(RUNTIME_ONLY)
        .build_ok(&app);
    // pyproject.toml comes first; uv.lock agrees.
    assert_contains(
        &log,
        "  - Python 3.11.2 (>=3.11, <3.12 requested in pyproject.toml requires-python)\n  - Also accepted by uv.lock requires-python (>=3.11, <3.12)\n",
    );
    // Without requires-python in pyproject.toml, uv.lock decides.
    app.write(
        "pyproject.toml",
        "[project]\nname = \"uv-project\"\nversion = \"0.1.0\"\ndependencies = []\n",
    );
    let log = Image::new("python-uv-lock")
        .buildpack(RUNTIME_ONLY)
        .build_ok(&app);
    assert_contains(
        &log,
        "  - Python 3.11.2 (>=3.11, <3.12 requested in uv.lock requires-python)",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn version_file_takes_precedence_and_agreeing_files_are_listed() {
    let app = App::fixture("python-uv");
    app.write(".python-version", "3.11.2\n");
    app.write("runtime.txt", "python-3.11\n");
    let log = Image::new("python-precedence").build_ok(&app);
    assert_contains(
        &log,
        "  - Python 3.11.2 (3.11.2 requested in .python-version)\n  - Also accepted by runtime.txt (3.11), pyproject.toml requires-python (>=3.11, <3.12), uv.lock requires-python (>=3.11, <3.12)\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn conflicting_version_files_fail_naming_both() {
    let app = App::fixture("python-pyproject");
    app.write(".python-version", "3.11\n");
    let log = Image::new("python-conflict").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Conflicting Python versions\n!\n! .python-version asks for 3.11, which selects Python 3.11.2, but other files of\n! the app exclude it:\n! - pyproject.toml requires-python asks for >=3.12\n! .python-version takes precedence (order: BP_PYTHON_VERSION, .python-version,\n! runtime.txt, pyproject.toml, Pipfile, uv.lock), but an image has one Python\n! and every file must accept it.\n",
    );
    assert_contains(
        &log,
        "!   Make the files agree: change .python-version or the files listed above to\n!   versions that accept each other.\n!   To build with another version regardless, set BP_PYTHON_VERSION.\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn end_of_life_version_names_the_supported_range() {
    let app = App::fixture("python-only");
    app.write(".python-version", "3.8\n");
    let log = Image::new("python-eol").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Python 3.8 has reached end of life\n!\n! Python 3.8 was requested in .python-version, but it is end-of-life: it gets no\n! security fixes.\n! Supported versions: 3.10 to 3.13.\n",
    );
    assert_contains(
        &log,
        "!   Change .python-version to a supported version such as 3.13, and test the app\n!   on it.",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unknown_version_lists_what_exists() {
    let app = App::fixture("python-only");
    app.write(".python-version", "3.12\n");
    let log = Image::new("python-unknown").build_fails(&app);
    assert_contains(&log, "! ERROR: Python 3.12 is not available");
    assert_contains(
        &log,
        "! Python 3.12 was requested in .python-version, but no build of it is available.\n! Available versions: 3.13.5, 3.11.2.",
    );
    assert_contains(
        &log,
        "!   Request one of the available versions in .python-version.",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn malformed_version_file_names_the_line() {
    let app = App::fixture("python-only");
    app.write(".python-version", "# comment\nlatest\n");
    let log = Image::new("python-malformed").build_fails(&app);
    assert_contains(&log, "! ERROR: Invalid .python-version");
    assert_contains(
        &log,
        "! Line 2 of .python-version is 'latest', which is not a CPython version",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn malformed_runtime_txt_names_the_line_and_the_fix() {
    let app = App::fixture("python-only");
    app.remove(".python-version");
    app.write("runtime.txt", "python3.11\n");
    let log = Image::new("python-bad-runtime-txt").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid runtime.txt\n!\n! Line 1 of runtime.txt is 'python3.11', which is not python-MAJOR.MINOR or\n! python-MAJOR.MINOR.PATCH (e.g. python-3.12.4).\n",
    );
    assert_contains(
        &log,
        "!   runtime.txt is a legacy format: replace it with a .python-version file\n!   containing only the version, e.g. 3.12 (or fix the line to read\n!   python-3.12).",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn malformed_requires_python_names_file_and_line() {
    let app = App::fixture("python-pyproject");
    app.write(
        "pyproject.toml",
        "[project]\nname = \"x\"\nversion = \"0.1.0\"\nrequires-python = \">=3.x\"\n",
    );
    let log = Image::new("python-bad-requires").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid Python version in pyproject.toml\n!\n! Line 4 of pyproject.toml: requires-python = \">=3.x\" is not valid:\n! Failed to parse version:",
    );
    assert_contains(
        &log,
        "!   Change that line to a valid constraint, for example requires-python =\n!   \">=3.12\" (PEP 440 version specifiers).",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn malformed_version_variable_is_an_error() {
    let app = App::fixture("python-only");
    let log = Image::new("python-bad-var")
        .env("BP_PYTHON_VERSION", "three")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Invalid BP_PYTHON_VERSION");
    assert_contains(&log, "! BP_PYTHON_VERSION='three' is not a CPython version");
}

/// The shipped manifest's shape (upstream release URLs) with BP_PYTHON_MIRROR_URL: the
/// archive comes from the mirror, under the upstream `<build>/<file>` layout.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn mirror_url_rewrites_upstream_release_urls() {
    let app = App::fixture("python-only");
    let image = Image::new("python-mirror")
        .env(
            "BP_PYTHON_MANIFEST_URL",
            &format!("{}/manifest-upstream.json", mirror_url()),
        )
        .env("BP_PYTHON_MIRROR_URL", &format!("{}/", mirror_url()));
    let log = image.build_ok(&app);
    let build = mirror_build(PYTHON_311);
    assert_contains(
        &log,
        &format!(
            "  - Downloading Python 3.11.2 from {}/{build}/cpython-3.11.2%2B{build}-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz ... done",
            mirror_url()
        ),
    );
    assert_eq!(
        image_python(&image),
        format!("{PYTHON_311} /layers/blacklodge_python/python")
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unreachable_mirror_is_named() {
    let app = App::fixture("python-only");
    let log = Image::new("python-unreachable")
        .env(
            "BP_PYTHON_MANIFEST_URL",
            &format!("{}/manifest-upstream.json", mirror_url()),
        )
        .env("BP_PYTHON_MIRROR_URL", "http://127.0.0.1:9/python")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Could not download Python");
    let build = mirror_build(PYTHON_311);
    assert_contains(
        &log,
        &format!(
            "! http://127.0.0.1:9/python/{build}/cpython-3.11.2%2B{build}-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz\n! could not be reached"
        ),
    );
    assert_contains(&log, "(attempt 2 failed: ");
    assert_contains(&log, "!   Check the network, or set BP_PYTHON_MIRROR_URL");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unreachable_manifest_is_named() {
    let app = App::fixture("python-only");
    let log = Image::new("python-unreachable-manifest")
        .env("BP_PYTHON_MANIFEST_URL", "http://127.0.0.1:9/manifest.json")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Could not fetch the Python manifest");
    assert_contains(
        &log,
        "http://127.0.0.1:9/manifest.json could not be reached",
    );
}

/// A manifest override whose checksum is wrong: the archive is rejected and nothing is
/// installed.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn checksum_mismatch_fails_the_build() {
    let mut tampered = mirror_manifest("manifest.json");
    for archive in tampered["archives"].as_array_mut().expect("archives") {
        archive["sha256"] = serde_json::Value::String("0".repeat(64));
    }
    let app = App::fixture("python-only");
    app.write("manifest.json", &tampered.to_string());
    // The app directory is /workspace in the build container: a file override.
    let log = Image::new("python-checksum")
        .env("BP_PYTHON_MANIFEST_URL", "/workspace/manifest.json")
        .build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Could not download Python\n!\n! http://127.0.0.1:",
    );
    assert_contains(
        &log,
        "install_only_stripped.tar.gz\n! does not have the expected sha256 checksum (expected\n! 0000000000000000000000000000000000000000000000000000000000000000, got\n! ",
    );
    assert_contains(
        &log,
        ")\n!\n! How to fix:\n!   The archive was not used. If you host a mirror, re-upload the archive; if\n!   you use a manifest override, correct its sha256.\n",
    );
}

/// A truncated archive whose (wrong) checksum a manifest vouches for: extraction fails,
/// the error names the archive, and the build stops.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn truncated_archive_never_becomes_a_runtime() {
    let archive = mirror_archive(PYTHON_311);
    let bytes = archive_bytes(&archive);
    let truncated = &bytes[..bytes.len() / 2];
    let app = App::fixture("python-only");
    fs_err::write(app.path().join("truncated.tar.gz"), truncated).expect("write");
    let sha256 = {
        let output = Command::new("sha256sum")
            .arg(app.path().join("truncated.tar.gz"))
            .output()
            .expect("sha256sum");
        String::from_utf8_lossy(&output.stdout)[..64].to_string()
    };
    let manifest = serde_json::json!({"archives": [{
        "version": PYTHON_311, "arch": "x86_64", "libc": "gnu", "build": "truncated",
        "url": "file:///workspace/truncated.tar.gz", "sha256": sha256,
    }]});
    app.write("manifest.json", &manifest.to_string());
    let log = Image::new("python-truncated")
        .env("BP_PYTHON_MANIFEST_URL", "/workspace/manifest.json")
        .build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Could not unpack Python\n!\n! The archive file:///workspace/truncated.tar.gz passed its checksum but could\n! not be extracted:",
    );
    assert_not_contains(&log, "Compiling the standard library");
}

/// An archive without the standard library's bytecode (python-build-standalone's carry
/// timestamp pycs, which the lifecycle's normalised mtimes would make stale) is compiled at
/// build time to unchecked-hash pycs, which the image then uses.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn archive_without_bytecode_is_compiled_at_build() {
    let archive = mirror_archive(PYTHON_311);
    let app = App::fixture("python-only");
    let unpacked = app.path().join("unpacked");
    fs_err::create_dir_all(&unpacked).expect("mkdir");
    let bytes = archive_bytes(&archive);
    fs_err::write(app.path().join("mirror.tar.gz"), &bytes).expect("write");
    let repack = format!(
        "set -e; cd {unpacked}; tar -xzf ../mirror.tar.gz; find python -name __pycache__ -prune -exec rm -rf {{}} +; \
         tar -czf ../plain.tar.gz python; cd ..; rm -rf unpacked mirror.tar.gz; sha256sum plain.tar.gz",
        unpacked = unpacked.display()
    );
    let output = Command::new("bash")
        .args(["-c", &repack])
        .output()
        .expect("bash");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sha256 = String::from_utf8_lossy(&output.stdout)[..64].to_string();
    let manifest = serde_json::json!({"archives": [{
        "version": PYTHON_311, "arch": "x86_64", "libc": "gnu", "build": "plain",
        "url": "file:///workspace/plain.tar.gz", "sha256": sha256,
    }]});
    app.write("manifest.json", &manifest.to_string());
    let image = Image::new("python-plain-archive")
        .env("BP_PYTHON_MANIFEST_URL", "/workspace/manifest.json");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Compiling the standard library to bytecode ... done",
    );
    assert_not_contains(&log, "The archive carries the standard library's bytecode");
    // Hash-based and never checked against the source (PEP 552 flags = 1), where Python looks.
    let flags = image.shell_ok(
        "python3 -c 'import json, importlib.util as u; print(open(u.cache_from_source(json.__file__), \"rb\").read(8)[4:].hex())'",
    );
    assert_eq!(flags.trim(), "01000000");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn architecture_without_a_build_is_an_error() {
    let mut manifest = mirror_manifest("manifest.json");
    for archive in manifest["archives"].as_array_mut().expect("archives") {
        archive["arch"] = serde_json::Value::String("aarch64".into());
    }
    let app = App::fixture("python-only");
    app.write("manifest.json", &manifest.to_string());
    let log = Image::new("python-arch")
        .env("BP_PYTHON_MANIFEST_URL", "/workspace/manifest.json")
        .build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: No Python builds for x86_64\n!\n! The manifest (/workspace/manifest.json) has no CPython archive for this\n! build's architecture, x86_64 (glibc).\n! It has archives for: aarch64.\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn non_python_app_fails_detection() {
    let app = App::fixture("no-python");
    let log = Image::new("no-python").build_fails(&app);
    assert_contains(
        &log,
        "No Python project files found (looked for requirements.txt, pyproject.toml",
    );
    assert_contains(&log, "No buildpack groups passed detection.");
}

/// A version file with an invisible character (here an escape left by a terminal) is shown
/// escaped, and the message says what it is.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn invisible_character_in_version_file_is_shown_escaped() {
    let app = App::fixture("python-only");
    app.write(".python-version", "3.12.0\u{1b}\n");
    let log = Image::new("python-invisible").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid .python-version\n!\n! Line 1 of .python-version is '3.12.0\\x1b', which is not a CPython version:\n! either MAJOR.MINOR (e.g. 3.12, newest patch) or MAJOR.MINOR.PATCH (e.g.\n! 3.12.4). It contains an invisible character (shown escaped, e.g. \\x1b): delete\n! it and retype the value.\n!\n! How to fix:\n!   Change that line to a version such as 3.12. Only CPython is supported.\n",
    );

    app.remove(".python-version");
    let log = Image::new("python-invisible-var")
        .env("BP_PYTHON_VERSION", "\u{200b}3.11")
        .build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid BP_PYTHON_VERSION\n!\n! BP_PYTHON_VERSION='\\u200b3.11' is not a CPython version: either MAJOR.MINOR\n! (e.g. 3.12, newest patch) or MAJOR.MINOR.PATCH (e.g. 3.12.4). It contains an\n! invisible character (shown escaped, e.g. \\x1b): delete it and retype the\n! value.\n!\n! How to fix:\n!   Set BP_PYTHON_VERSION to a version such as 3.12, or unset it to use the\n!   app's version files.\n",
    );
}

/// `requires-python = "3.11.*"` (no operator: Poetry accepts it, PEP 440 does not) is the
/// 3.11 line, as Poetry reads it.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn bare_wildcard_requires_python_is_the_release_line() {
    let app = App::fixture("python-pyproject");
    app.replace("pyproject.toml", "\">=3.12\"", "\"3.11.*\"");
    let image = Image::new("python-bare-wildcard");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        &format!(
            "  - Python {PYTHON_311} (==3.11.* requested in pyproject.toml requires-python)\n"
        ),
    );
    assert_eq!(
        image_python(&image),
        format!("{PYTHON_311} /layers/blacklodge_python/python")
    );
}
