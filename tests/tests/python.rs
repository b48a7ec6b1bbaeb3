//! The CPython runtime buildpack through pack and the real lifecycle.

use blacklodge_tests::{App, Image, assert_contains, mirror_url};

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
    // No dependency manager ran: the group without one was chosen.
    assert!(!log.contains("## Blacklodge pip"), "{log}");

    let container = image.start(None, &[]);
    let response = container.get("/");
    assert_eq!(response.status, 200);
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
    assert_eq!(body["python"], "3.11.2");
    assert_eq!(body["prefix"], "/layers/blacklodge_python/python");

    // Launch environment set by the runtime layer.
    let env = image.shell_ok("echo \"$PYTHONUNBUFFERED|$LANG|$(command -v python3)\"");
    assert_contains(
        &env,
        "1|C.UTF-8|/layers/blacklodge_python/python/bin/python3",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn bp_python_version_wins_over_the_version_file() {
    let app = App::fixture("python-only");
    let image = Image::new("python-variable").env("BP_PYTHON_VERSION", "3.11.2");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Python 3.11.2 (3.11.2 requested in BP_PYTHON_VERSION)",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unknown_version_lists_what_exists() {
    let app = App::fixture("python-only");
    app.write(".python-version", "3.9\n");
    let log = Image::new("python-unknown").build_fails(&app);
    assert_contains(&log, "! ERROR: Python 3.9 is not available");
    assert_contains(
        &log,
        "! Python 3.9 was requested in .python-version, but no build of it is available.\n! Available versions: 3.11.2.",
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
fn malformed_version_variable_is_an_error() {
    let app = App::fixture("python-only");
    let log = Image::new("python-bad-var")
        .env("BP_PYTHON_VERSION", "three")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Invalid BP_PYTHON_VERSION");
    assert_contains(&log, "! BP_PYTHON_VERSION='three' is not a CPython version");
}

/// A manifest override whose checksum is wrong: the archive is rejected and nothing is
/// installed.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn checksum_mismatch_fails_the_build() {
    let manifest: serde_json::Value = serde_json::from_str(
        &ureq::get(&format!("{}/manifest.json", mirror_url()))
            .call()
            .expect("bench mirror answers")
            .into_string()
            .expect("text"),
    )
    .expect("JSON");
    let mut tampered = manifest.clone();
    tampered["archives"][0]["sha256"] = serde_json::Value::String("0".repeat(64));
    let app = App::fixture("python-only");
    app.write("manifest.json", &tampered.to_string());
    // The app directory is /workspace in the build container: a file override.
    let log = Image::new("python-checksum")
        .env("BP_PYTHON_MANIFEST_URL", "/workspace/manifest.json")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Could not download Python");
    assert_contains(
        &log,
        "does not have the expected sha256 checksum (expected 0000000000000000000000000000000000000000000000000000000000000000, got ",
    );
    assert_contains(&log, "The archive was not used.");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unreachable_mirror_is_named() {
    let app = App::fixture("python-only");
    let log = Image::new("python-unreachable")
        .env("BP_PYTHON_MIRROR_URL", "http://127.0.0.1:9/mirror")
        .env("BP_PYTHON_MANIFEST_URL", "http://127.0.0.1:9/manifest.json")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Could not fetch the Python manifest");
    assert_contains(
        &log,
        "http://127.0.0.1:9/manifest.json could not be reached",
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
