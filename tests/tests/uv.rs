//! The uv buildpack through pack and the real lifecycle, with real PyPI installs.

use blacklodge_tests::private_index;
use blacklodge_tests::{
    App, Image, LOCALPKG_PROBE, RUNTIME_INSTALLED_FOR_THE_INSTALL, UV_FROM_VENDOR, assert_contains,
    assert_no_build_output_in_app, assert_not_contains,
    assert_unchanged_rebuild_reuses_every_layer, assert_venv_reused, rebuild_after_code_change,
    rebuild_with_idna_added, rebuild_with_idna_removed, rebuild_with_localpkg_value,
};

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn uv_project_installs_serves_and_keeps_uv_out_of_the_image() {
    let app = App::fixture("uv-flask");
    let image = Image::new("uv-flask");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge uv\n- Installing dependencies from uv.lock\n  - Installing dependency groups: none; extras: none\n",
    );
    assert_contains(&log, "  - Running uv sync --locked\n");
    assert_contains(&log, "+ flask==3.1.2");
    assert_not_contains(&log, "six==");

    let container = image.start(None, &[]);
    let response = container.get("/");
    assert_eq!(response.status, 200, "{}", response.body);

    let env = image.shell_ok(
        "echo \"$VIRTUAL_ENV\"; command -v python gunicorn; python -c 'import six' 2>&1 || true",
    );
    assert_contains(
        &env,
        "/layers/blacklodge_uv/venv\n/layers/blacklodge_uv/venv/bin/python\n/layers/blacklodge_uv/venv/bin/gunicorn\n",
    );
    assert_contains(&env, "No module named 'six'");
    let (has_uv, output) = image.run_shell("command -v uv || ls /layers/blacklodge_uv");
    assert!(has_uv, "{output}");
    assert_eq!(output.trim(), "venv", "only the venv layer is in the image");

    // The SBOM lists what is installed, with versions.
    let purls = image.venv_purls("blacklodge_uv");
    for purl in ["pkg:pypi/flask@3.1.2", "pkg:pypi/gunicorn@23.0.0"] {
        assert!(purls.iter().any(|p| p == purl), "{purl} not in {purls:?}");
    }
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn rebuild_reuses_the_venv_and_groups_sync_in_place() {
    let app = App::fixture("uv-flask");
    let mut image = Image::new("uv-rebuild");
    let _ = image.build_ok(&app);

    // Code-only change: uv is neither fetched nor run; the venv layer of the image is
    // reused (only the app needs it: it is not restored into the build), SBOM included.
    let log = rebuild_after_code_change(&image, &app, "uv.lock");
    assert_contains(&log, "Reusing layer 'blacklodge/uv:venv'");
    assert!(
        image
            .launch_sboms()
            .keys()
            .any(|path| path.contains("blacklodge_uv") && path.contains("venv")),
        "the reused venv keeps its SBOM"
    );

    // A group and an extra added: the venv is made anew with the new selection.
    image.set_env("BP_UV_GROUPS", "dev");
    image.set_env("BP_UV_EXTRAS", "idna");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Discarding cached virtual environment:\n    - selection changed (dependency groups: none; extras: none → dependency groups: dev; extras: idna)\n",
    );
    assert_contains(&log, "+ six==1.17.0");
    assert_contains(&log, "+ idna==3.10");
    assert_contains(
        &image.shell_ok("python -c 'import six, idna; print(six.__version__, idna.__version__)'"),
        "1.17.0 3.10",
    );

    // And removed again: exactly the new set, six and idna really gone.
    image.unset_env("BP_UV_GROUPS");
    image.unset_env("BP_UV_EXTRAS");
    let _ = image.build_ok(&app);
    let output =
        image.shell_ok("python -c 'import six' 2>&1 || python -c 'import idna' 2>&1 || true");
    assert_contains(&output, "No module named 'six'");

    // When a later buildpack needs the venv while building (the wrapper inspects and imports
    // in it), the venv is cached and a changed selection syncs it in place.
    image.set_env("BP_BLACKLODGE_ENTRYPOINT", "app:hello");
    image.set_env("BP_BLACKLODGE_VALIDATE", "false");
    let log = image.build_ok(&app);
    assert_contains(&log, "## Blacklodge wrapper\n");
    assert_contains(
        &log,
        "  - Python 3.11.2 at /layers/blacklodge_uv/venv with ",
    );
    image.set_env("BP_UV_GROUPS", "dev");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Updating cached virtual environment:\n    - selection changed (dependency groups: none; extras: none → dependency groups: dev; extras: none)\n",
    );
    assert_contains(&log, "+ six==1.17.0");
    assert_not_contains(&log, "+ flask==");
    image.unset_env("BP_UV_GROUPS");
    let log = image.build_ok(&app);
    assert_contains(&log, "- six==1.17.0");
    let output = image.shell_ok("python -c 'import six' 2>&1 || true");
    assert_contains(&output, "No module named 'six'");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn lock_out_of_sync_is_an_error() {
    let app = App::fixture("uv-flask");
    app.replace(
        "pyproject.toml",
        "\"gunicorn==23.0.0\"]",
        "\"gunicorn==23.0.0\", \"six==1.17.0\"]",
    );
    let log = Image::new("uv-out-of-sync").build_fails(&app);
    assert_contains(&log, "! ERROR: Could not install the packages in uv.lock");
    assert_contains(&log, "! uv.lock does not match pyproject.toml:");
    assert_contains(&log, "!   Run `uv lock` and commit the updated uv.lock.");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn frozen_is_refused_and_a_missing_lock_is_explained() {
    let app = App::fixture("uv-flask");
    let log = Image::new("uv-frozen")
        .env("UV_FROZEN", "1")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: UV_FROZEN is not supported");
    assert_contains(
        &log,
        "!   Unset UV_FROZEN. The build runs `uv sync --locked`",
    );

    app.remove("uv.lock");
    let log = Image::new("uv-no-lock")
        .env("BP_PYTHON_PACKAGE_MANAGER", "uv")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: No uv.lock");
    assert_contains(
        &log,
        "!   Run `uv lock` in the project and commit pyproject.toml and uv.lock.",
    );
}

/// The wheels a uv project vendors: uv locks them from `vendor/` itself (`[tool.uv]
/// find-links = ["vendor"]`, `no-index = true`), so `uv sync --locked` needs no index. The
/// test downloads exactly the locked versions, as the app would have committed them.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn vendored_wheels_build_with_the_network_off() {
    let app = App::fixture("uv-offline");
    let lock = app.read("uv.lock");
    let mut pins = Vec::new();
    let (mut name, mut version) = (String::new(), String::new());
    for line in lock.lines() {
        let quoted = |line: &str| line.split('"').nth(1).unwrap_or_default().to_string();
        if line.starts_with("name = ") {
            name = quoted(line);
        } else if line.starts_with("version = ") {
            version = quoted(line);
        } else if line == "source = { registry = \"vendor\" }" {
            pins.push(format!("{name}=={version}"));
        }
    }
    assert_eq!(pins.len(), 11, "{pins:?}");
    // The pinned uv too (the buildpack takes it from vendor/ by its hash).
    pins.push("uv==0.13.9".to_string());
    app.pip_download("vendor", &pins, true);
    let manifest = app.vendor_python("3.11.2");

    let image = Image::new("uv-offline")
        .network("none")
        .env("BP_PYTHON_MANIFEST_URL", &manifest);
    let log = image.build_ok(&app);
    assert_contains(&log, UV_FROM_VENDOR);
    assert_contains(&log, "  - Running uv sync --locked\n");
    assert_contains(&log, "+ flask==3.1.2");
    assert_not_contains(&log, "six==");
    image.assert_serves();
}

/// A named `[[tool.uv.index]]` behind basic auth, with uv's own credential variables
/// (`UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`): used for the install, never in the log, any
/// layer or the image config.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn named_index_credentials_are_used_and_never_persisted() {
    // The fixture's pyproject.toml and lock name this port.
    let log = private_index::credentials_used_and_kept_out(
        "uv-private",
        "uv-private",
        38775,
        ["UV_INDEX_PRIVATE_USERNAME", "UV_INDEX_PRIVATE_PASSWORD"],
        "uv.lock",
    );
    assert_contains(&log, "UV_INDEX_<NAME>_USERNAME and _PASSWORD");
}

/// A project with a build system is installed editable by `uv sync`; the build output
/// setuptools writes into the app while doing so (`*.egg-info`) is not in the image.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn project_package_is_installed_editable_without_its_build_output() {
    let app = App::fixture("uv-flask");
    app.append(
        "pyproject.toml",
        "\n[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[tool.setuptools]\npy-modules = [\"app\"]\n",
    );
    // What `uv lock` changes for a project that became a package.
    app.replace(
        "uv.lock",
        "source = { virtual = \".\" }",
        "source = { editable = \".\" }",
    );
    let image = Image::new("uv-package");
    let log = image.build_ok(&app);
    assert_contains(&log, " + uv-flask==0.1.0 (from file:///workspace)\n");
    assert_contains(
        &log,
        "  - Removed the build output of local packages from the app: uv_flask.egg-info\n",
    );
    assert_contains(
        &image.shell_ok("cd / && python -c 'import app, importlib.metadata as m; print(m.version(\"uv-flask\"), app.__file__)'"),
        "0.1.0 /workspace/app.py\n",
    );
    assert_no_build_output_in_app(&image);
}

/// A directory package (a `[tool.uv.sources]` path, not editable) is built and copied into
/// the venv. Its files are not in uv.lock, so they are in the venv's key: a change to them
/// makes the launch-only venv anew, and syncs a cached one (the wrapper needs the venv while
/// building) in place with that package rebuilt; an unchanged rebuild keeps the venv.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn a_changed_directory_package_is_installed_again() {
    let app = App::fixture("uv-local");
    let mut image = Image::new("uv-local");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        " + localpkg==1.2.0 (from file:///workspace/libs/localpkg)\n",
    );
    assert_eq!(image.shell_ok(LOCALPKG_PROBE), "local-ok\n");
    assert_no_build_output_in_app(&image);

    let reason = "uv.lock (+ local packages)";
    rebuild_with_localpkg_value(
        &image,
        &app,
        "local-changed",
        &format!("  - Discarding cached virtual environment:\n    - {reason} changed\n"),
    );
    assert_venv_reused(&image.build_ok(&app), reason);

    image.set_env("BP_BLACKLODGE_ENTRYPOINT", "app:hello");
    image.set_env("BP_BLACKLODGE_VALIDATE", "false");
    let _ = image.build_ok(&app);
    rebuild_with_localpkg_value(
        &image,
        &app,
        "synced-in-place",
        &format!("  - Updating cached virtual environment:\n    - {reason} changed\n"),
    );
    assert_no_build_output_in_app(&image);
}

/// Nothing of an unchanged rebuild runs Python (uv states its venv key at detection): the
/// runtime is kept by its metadata and every layer is the previous image's. A lock with a
/// package added, then removed again: the runtime is installed again for uv, and the venv
/// (launch-only here) is made anew with exactly the locked set each time.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn changed_lock_installs_exactly_the_new_set() {
    let app = App::fixture("uv-flask");
    let image = Image::new("uv-changed-lock");
    let _ = image.build_ok(&app);
    let _ = assert_unchanged_rebuild_reuses_every_layer(&image, &app, "uv", "uv.lock");

    // idna added to [project] dependencies (pyproject.toml and uv.lock, as `uv lock` wrote them).
    let files = ["pyproject.toml", "uv.lock"];
    let change = "  - Discarding cached virtual environment:\n    - uv.lock changed\n";
    let log = rebuild_with_idna_added(&image, &app, "uv", &files, change);
    assert_contains(&log, RUNTIME_INSTALLED_FOR_THE_INSTALL);
    let log = rebuild_with_idna_removed(&image, &app, "uv-flask", &files, change);
    assert_contains(&log, RUNTIME_INSTALLED_FOR_THE_INSTALL);
    image.assert_serves();
}

/// `BP_PYTHON_VERSION` overrides the app's files (with a warning); when the project's own
/// requires-python excludes that version, uv refuses the interpreter and the message says
/// so, with both ways out.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn python_version_override_outside_requires_python_is_explained() {
    let app = App::fixture("python-uv");
    let log = Image::new("uv-python-excluded")
        .env("BP_PYTHON_VERSION", "3.13")
        .build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Could not install the packages in uv.lock\n!\n! The build's Python is outside what the project accepts (its requires-python):\n! The requested interpreter resolved to Python 3.13.5, which is incompatible with the project's Python requirement: `==3.11.*` (from `project.requires-python`)\n! BP_PYTHON_VERSION chooses the Python over the app's own files (the Python buildpack warns above when they disagree), and the project refuses it.\n!\n! How to fix:\n!   Either build with a Python the project accepts (unset BP_PYTHON_VERSION, or\n!   set it to a version requires-python includes), or widen requires-python in\n!   pyproject.toml to include this version, then run `uv lock` and commit\n!   uv.lock.\n",
    );
}
