//! The Pipenv buildpack through pack and the real lifecycle: `pipenv install --deploy`
//! semantics, installed by uv from Pipfile.lock without Pipenv.

use blacklodge_tests::{App, Image, assert_contains, assert_not_contains};

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pipenv_app_installs_default_packages_and_serves() {
    let app = App::fixture("pipenv-flask");
    let mut image = Image::new("pipenv-flask");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge Pipenv\n- Installing dependencies from Pipfile.lock\n  - Pipfile.lock matches the Pipfile (its recorded hash)\n  - Installing categories: default (9 packages)\n",
    );
    let container = image.start(None, &[]);
    assert_eq!(container.get("/").status, 200);
    let output = image
        .shell_ok("python -c 'import six' 2>&1 || true; command -v pipenv uv pip || echo no-tools");
    assert_contains(&output, "No module named 'six'");
    assert_contains(&output, "no-tools");

    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Reusing cached virtual environment (Pipfile.lock, Python and uv 0.13.9 unchanged)",
    );

    image.set_env("BP_PIPENV_CATEGORIES", "dev-packages");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Installing categories: default, develop (10 packages)",
    );
    assert_contains(
        &image.shell_ok("python -c 'import six; print(six.__version__)'"),
        "1.17.0",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn out_of_date_or_missing_lock_is_explained() {
    let app = App::fixture("pipenv-flask");
    let pipfile = fs_err::read_to_string(app.path().join("Pipfile")).expect("read");
    app.write(
        "Pipfile",
        &pipfile.replace(
            "gunicorn = \"==23.0.0\"",
            "gunicorn = \"==23.0.0\"\nsix = \"*\"",
        ),
    );
    let log = Image::new("pipenv-out-of-date").build_fails(&app);
    assert_contains(&log, "! ERROR: Pipfile.lock is out of date");
    assert_contains(&log, "(what `pipenv install --deploy` refuses)");
    assert_contains(&log, "!   Run `pipenv lock` and commit Pipfile.lock.");
    assert_not_contains(&log, "Running uv");

    app.write("Pipfile", &pipfile);
    app.remove("Pipfile.lock");
    let log = Image::new("pipenv-no-lock").build_fails(&app);
    assert_contains(&log, "! ERROR: No Pipfile.lock");
    assert_contains(&log, "!   Run `pipenv lock` and commit Pipfile.lock.");
}
