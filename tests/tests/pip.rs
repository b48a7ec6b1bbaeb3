//! The pip buildpack through pack and the real lifecycle, with real PyPI installs.

use blacklodge_tests::{App, Image, assert_contains, assert_not_contains};

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn flask_app_installs_serves_and_keeps_pip_out_of_the_image() {
    let app = App::fixture("examples/flask-hello");
    let image = Image::new("pip-flask");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge pip\n- Installing dependencies from requirements.txt\n",
    );
    assert_contains(&log, "  - Running pip install -r requirements.txt\n");
    assert_contains(&log, "Successfully installed ");
    assert_contains(&log, "flask-3.1.2");

    let container = image.start(None, &[]);
    let response = container.get("/");
    assert_eq!(response.status, 200, "{}", response.body);
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
    assert_eq!(body["message"], "Hello from a Blacklodge-built image!");
    assert_eq!(body["user"], 1000, "runs as the image's non-root user");

    // The venv comes first on PATH, then the runtime; VIRTUAL_ENV points at it.
    let env = image.shell_ok("echo \"$PATH\"; echo \"$VIRTUAL_ENV\"; command -v python gunicorn");
    let lines: Vec<&str> = env.lines().collect();
    let path = lines[0];
    let venv = path
        .find("/layers/blacklodge_pip/venv/bin")
        .expect("venv bin on PATH");
    let runtime = path
        .find("/layers/blacklodge_python/python/bin")
        .expect("runtime bin on PATH");
    assert!(venv < runtime, "venv before runtime: {path}");
    assert_eq!(lines[1], "/layers/blacklodge_pip/venv");
    assert_eq!(lines[2], "/layers/blacklodge_pip/venv/bin/python");
    assert_eq!(lines[3], "/layers/blacklodge_pip/venv/bin/gunicorn");

    // pip, its cache and build tools are not in the app image.
    let (has_pip, output) = image.run_shell("command -v pip || python -m pip --version");
    assert!(!has_pip, "pip leaked into the image: {output}");
    assert_contains(&output, "No module named pip");
    let (has_gcc, _) = image.run_shell("command -v gcc");
    assert!(!has_gcc, "the run image must not have a compiler");
    assert_not_contains(&image.shell_ok("ls /layers/blacklodge_pip"), "pip-cache");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unchanged_rebuild_reuses_every_layer() {
    let app = App::fixture("examples/flask-hello");
    let image = Image::new("pip-rebuild");
    let _ = image.build_ok(&app);
    let first = image.layer_digests();

    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Reusing cached Python 3.11.2 (unchanged version, architecture, distribution and archive)",
    );
    assert_not_contains(&log, "Fetching pip");
    assert_contains(
        &log,
        "  - Reusing cached virtual environment (requirements.txt, Python and pip unchanged)",
    );
    assert_not_contains(&log, "Running pip install");
    assert_contains(&log, "Reusing layer 'blacklodge/python:python'");
    assert_contains(&log, "Reusing layer 'blacklodge/pip:venv'");
    assert_eq!(
        first,
        image.layer_digests(),
        "an unchanged rebuild produces identical layers"
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn changed_requirements_produce_exactly_the_new_set() {
    let app = App::fixture("examples/flask-hello");
    let image = Image::new("pip-changed");
    let _ = image.build_ok(&app);

    // gunicorn removed, a new package added.
    app.write("requirements.txt", "flask==3.1.2\nsix==1.17.0\n");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Discarding cached virtual environment:\n    - requirements.txt (or a file it includes) changed\n",
    );
    assert_contains(&log, "  - Reusing cached Python 3.11.2");
    assert_contains(&log, "Running pip install -r requirements.txt");
    let output = image.shell_ok("python -c 'import six, flask; print(six.__version__)'; python -c 'import gunicorn' 2>&1 || echo gone");
    assert_contains(&output, "1.17.0\n");
    assert_contains(&output, "No module named 'gunicorn'");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn included_requirement_files_are_part_of_the_cache_key() {
    let app = App::fixture("examples/flask-hello");
    app.write("requirements.txt", "-r requirements/base.txt\n");
    app.write("requirements/base.txt", "flask==3.1.2\ngunicorn==23.0.0\n");
    let image = Image::new("pip-include");
    let _ = image.build_ok(&app);
    app.write(
        "requirements/base.txt",
        "flask==3.1.2\ngunicorn==23.0.0\nsix==1.17.0\n",
    );
    let log = image.build_ok(&app);
    assert_contains(&log, "requirements.txt (or a file it includes) changed");
    assert_contains(
        &image.shell_ok("python -c 'import six; print(six.__version__)'"),
        "1.17.0",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unknown_package_is_explained() {
    let app = App::fixture("examples/flask-hello");
    app.write(
        "requirements.txt",
        "flask==3.1.2\nblacklodge-no-such-package-xyz==1.0\n",
    );
    let log = Image::new("pip-unknown").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Could not install the packages in requirements.txt",
    );
    assert_contains(
        &log,
        "! A requirement cannot be satisfied by the package index:\n! ERROR: No matching distribution found for blacklodge-no-such-package-xyz==1.0",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn invalid_requirement_line_is_quoted() {
    let app = App::fixture("examples/flask-hello");
    app.write("requirements.txt", "flask==3.1.2\nflask=>3\n");
    let log = Image::new("pip-invalid").build_fails(&app);
    assert_contains(
        &log,
        "! requirements.txt has a line the installer cannot read:",
    );
    assert_contains(&log, "line 2 of requirements.txt");
}
