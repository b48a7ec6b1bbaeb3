//! The Poetry buildpack through pack and the real lifecycle: poetry.lock installed by uv,
//! without Poetry, from a simple-index source (PyPI's JSON API is not needed).

use blacklodge_tests::{App, Image, assert_contains, assert_not_contains};

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn poetry_project_installs_main_group_and_serves() {
    let app = App::fixture("poetry-flask");
    let mut image = Image::new("poetry-flask");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge Poetry\n- Installing dependencies from poetry.lock\n  - poetry.lock matches pyproject.toml (content-hash)\n  - Installing groups: main (9 packages) (package-mode = false: not the project itself)\n",
    );
    assert_contains(
        &log,
        "  - Running uv pip sync --require-hashes (the locked set, exactly)\n",
    );
    let container = image.start(None, &[]);
    assert_eq!(container.get("/").status, 200);
    let output = image.shell_ok("python -c 'import flask; print(flask.__version__)'; python -c 'import six' 2>&1 || true; command -v poetry uv pip || echo no-tools");
    assert_contains(&output, "3.1.2\n");
    assert_contains(&output, "No module named 'six'");
    assert_contains(&output, "no-tools");

    // Unchanged rebuild: nothing installed, the venv layer reused.
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Reusing cached virtual environment (poetry.lock, Python and uv 0.13.9 unchanged)",
    );
    assert_contains(&log, "Reusing layer 'blacklodge/poetry:venv'");

    // The dev group on request: the venv (only in the image, not restored) is made anew.
    image.set_env("BP_POETRY_GROUPS", "dev");
    let log = image.build_ok(&app);
    assert_contains(&log, "  - Installing groups: dev, main (10 packages)");
    assert_contains(
        &log,
        "  - Discarding cached virtual environment:\n    - selection changed",
    );
    assert_contains(
        &image.shell_ok("python -c 'import six; print(six.__version__)'"),
        "1.17.0",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn root_package_is_installed_unless_package_mode_is_off() {
    let app = App::fixture("poetry-flask");
    let pyproject = fs_err::read_to_string(app.path().join("pyproject.toml")).expect("read");
    // package-mode is not part of the content hash: the lock stays valid.
    app.write(
        "pyproject.toml",
        &format!(
            "{}\n[build-system]\nrequires = [\"poetry-core>=2.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n",
            pyproject.replace("package-mode = false\n", "packages = [{ include = \"app.py\" }]\n")
        ),
    );
    let image = Image::new("poetry-root");
    let log = image.build_ok(&app);
    assert_contains(&log, "(9 packages), and the project itself");
    assert_contains(&log, "Installing . (editable, without dependencies)");
    assert_contains(
        &image.shell_ok("cd / && python -c 'import importlib.metadata as m; print(m.version(\"poetry-flask\"))'"),
        "0.1.0",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn out_of_sync_missing_lock_and_unknown_group_are_explained() {
    let app = App::fixture("poetry-flask");
    let pyproject = fs_err::read_to_string(app.path().join("pyproject.toml")).expect("read");
    app.write(
        "pyproject.toml",
        &pyproject.replace(
            "\"gunicorn==23.0.0\"]",
            "\"gunicorn==23.0.0\", \"six==1.17.0\"]",
        ),
    );
    let log = Image::new("poetry-out-of-sync").build_fails(&app);
    assert_contains(&log, "! ERROR: poetry.lock is out of date");
    assert_contains(
        &log,
        "!   Run `poetry lock` (it keeps the locked versions where it can) and commit poetry.lock.",
    );
    assert_not_contains(&log, "Running uv");

    app.write("pyproject.toml", &pyproject);
    let log = Image::new("poetry-group")
        .env("BP_POETRY_GROUPS", "docs")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Unknown dependency group `docs`");
    assert_contains(
        &log,
        "! BP_POETRY_GROUPS names `docs`, but poetry.lock has only: dev, main.",
    );

    app.remove("poetry.lock");
    let log = Image::new("poetry-no-lock").build_fails(&app);
    assert_contains(&log, "! ERROR: No poetry.lock");
    assert_contains(&log, "!   Run `poetry lock` and commit poetry.lock.");
}
