//! The Poetry buildpack through pack and the real lifecycle: poetry.lock installed by uv,
//! without Poetry, from a simple-index source (PyPI's JSON API is not needed).

use blacklodge_tests::git_remote::{GREETER_COMMIT, SourceServers};
use blacklodge_tests::private_index;
use blacklodge_tests::{
    App, Image, RUNTIME_INSTALLED_FOR_THE_INSTALL, SOURCES_PROBE, UV_FROM_VENDOR, assert_contains,
    assert_not_contains, assert_sources_installed, assert_unchanged_rebuild_reuses_every_layer,
    assert_venv_reused, rebuild_after_code_change, rebuild_with_idna_added,
    rebuild_with_idna_removed,
};

/// The commit the fixture locks record for tests/fixtures/git-greeter.

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
    image.assert_serves();
    let output = image.shell_ok("python -c 'import flask; print(flask.__version__)'; python -c 'import six' 2>&1 || true; command -v poetry uv pip || echo no-tools");
    assert_contains(&output, "3.1.2\n");
    assert_contains(&output, "No module named 'six'");
    assert_contains(&output, "no-tools");

    // Unchanged rebuild: nothing installed, the venv layer reused.
    let log = image.build_ok(&app);
    assert_venv_reused(&log, "poetry.lock");
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
    // package-mode is not part of the content hash: the lock stays valid.
    app.replace(
        "pyproject.toml",
        "package-mode = false\n",
        "packages = [{ include = \"app.py\" }]\n",
    );
    app.append(
        "pyproject.toml",
        "\n[build-system]\nrequires = [\"poetry-core>=2.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n",
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
    let pyproject = app.replace(
        "pyproject.toml",
        "\"gunicorn==23.0.0\"]",
        "\"gunicorn==23.0.0\", \"six==1.17.0\"]",
    );
    let log = Image::new("poetry-out-of-sync").build_fails(&app);
    assert_contains(&log, "! ERROR: poetry.lock is out of date");
    assert_contains(
        &log,
        "!   Run `poetry lock` (it keeps the locked versions where it can) and commit\n!   poetry.lock.",
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

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn extras_install_their_optional_packages_only_when_enabled() {
    let app = App::fixture("poetry-extras");
    let mut image = Image::new("poetry-extras");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Installing groups: main (1 package) (package-mode = false: not the project itself)\n",
    );
    assert_contains(
        &log,
        "  - 1 distribution in the virtual environment (SBOM: CycloneDX)\n",
    );
    assert_contains(
        &image.shell_ok("python -c 'import six' && python -c 'import requests' 2>&1 || true"),
        "No module named 'requests'",
    );

    // One extra: its packages (transitive ones and requests' own `socks` extra included);
    // colorama stays out (Windows only). The venv is launch-only (no later buildpack needs it
    // at build), so a changed selection recreates it.
    image.set_env("BP_POETRY_EXTRAS", "net");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Installing groups: main, extras: net (7 packages)",
    );
    assert_contains(
        &log,
        "  - Discarding cached virtual environment:\n    - selection changed (groups: main; root package: false → groups: main; extras: net; root package: false)\n",
    );
    let output = image.shell_ok(
        "python -c 'import requests, socks; print(requests.__version__)'; python -c 'import colorama' 2>&1 || true",
    );
    assert_contains(&output, "2.32.3\n");
    assert_contains(&output, "No module named 'colorama'");

    // All extras; then none again: the optional packages are really gone.
    image.set_env("BP_POETRY_EXTRAS", "all");
    let log = image.build_ok(&app);
    assert_contains(&log, "extras: color, net (8 packages)");
    image.unset_env("BP_POETRY_EXTRAS");
    let _ = image.build_ok(&app);
    assert_contains(
        &image.shell_ok("python -c 'import idna' 2>&1 || true"),
        "No module named 'idna'",
    );

    let log = Image::new("poetry-extras-unknown")
        .env("BP_POETRY_EXTRAS", "net,socks")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Unknown extra `socks`");
    assert_contains(
        &log,
        "! BP_POETRY_EXTRAS names `socks`, but poetry.lock has only: color, net.",
    );
    assert_contains(
        &log,
        "!   Set BP_POETRY_EXTRAS to extras declared in pyproject.toml",
    );
    assert_not_contains(&log, "Running uv");
}

/// Git (served on loopback over HTTP, at the locked commit), URL (the private index's file
/// server), local wheel, local directory and editable path dependencies, all from one lock.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn git_url_and_path_dependencies_are_installed() {
    let _servers = SourceServers::start();
    let app = App::fixture("poetry-sources");
    let image = Image::new("poetry-sources");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        &format!(
            "  - Without a file hash in the lock (pinned by commit or part of the app): greeter (git http://127.0.0.1:38773/greeter.git@{}), localpkg (directory libs/localpkg)\n",
            &GREETER_COMMIT[..12]
        ),
    );
    assert_contains(
        &log,
        "  - Running uv pip sync --verify-hashes (the locked set, exactly; every hash the lock records is checked)\n",
    );
    assert_contains(
        &log,
        "Installing libs/devpkg (editable, without dependencies)",
    );
    assert_sources_installed(&image, &log);

    // A changed local package (the lock does not change): the venv is made again with it.
    app.write(
        "libs/localpkg/localpkg/__init__.py",
        "VALUE = \"local-changed\"\n",
    );
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Discarding cached virtual environment:\n    - poetry.lock (+ local packages) changed\n",
    );
    assert_contains(
        &image.shell_ok(SOURCES_PROBE),
        "hello from git local-changed ",
    );
    let log = image.build_ok(&app);
    assert_venv_reused(&log, "poetry.lock (+ local packages)");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn missing_path_and_unpinned_git_dependencies_are_explained() {
    let app = App::fixture("poetry-sources");
    fs_err::remove_dir_all(app.path().join("libs/localpkg")).expect("remove");
    let log = Image::new("poetry-path-missing").build_fails(&app);
    assert_contains(&log, "! ERROR: A path dependency is missing");
    assert_contains(
        &log,
        "! poetry.lock installs localpkg from the path `libs/localpkg`, which does not\n! exist in the app. It is not in the app directory the build received (not\n! committed, or excluded from the build).",
    );
    assert_contains(&log, "!   Commit `libs/localpkg` with the app");
    assert_not_contains(&log, "Running uv");

    let app = App::fixture("poetry-sources");
    app.replace(
        "poetry.lock",
        &format!("resolved_reference = \"{GREETER_COMMIT}\"\n"),
        "",
    );
    let log = Image::new("poetry-git-unpinned").build_fails(&app);
    assert_contains(&log, "! ERROR: A git dependency has no locked commit");
    assert_contains(
        &log,
        "! poetry.lock installs greeter from the git repository\n! http://127.0.0.1:38773/greeter.git (reference `main`), but records no commit\n! id (`resolved_reference`).",
    );
    assert_contains(&log, "!   Run `poetry lock` with access to the repository");
}

/// `name==version` of every package in a poetry.lock (all groups: the wheels an app vendors).
fn locked_pins(lock: &str) -> Vec<String> {
    let mut pins = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        let quoted = || line.split('"').nth(1).unwrap_or_default().to_string();
        if line.starts_with("name = ") {
            name = Some(quoted());
        } else if line.starts_with("version = ")
            && let Some(name) = name.take()
        {
            pins.push(format!("{name}=={}", quoted()));
        }
    }
    pins
}

/// Offline: the locked wheels and the pinned uv in `vendor/`, uv pointed at them with its own
/// variables (`UV_FIND_LINKS`, `UV_NO_INDEX`); the lock's hashes are still checked, so a
/// vendored wheel that is not the locked file is refused.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn vendored_wheels_build_with_the_network_off() {
    let app = App::fixture("poetry-flask");
    let mut pins = locked_pins(&app.read("poetry.lock"));
    assert_eq!(pins.len(), 10, "{pins:?}");
    pins.push("uv==0.13.9".to_string());
    app.pip_download("vendor", &pins, true);
    let manifest = app.vendor_python("3.11.2");

    let offline = |name: &str| {
        Image::new(name)
            .network("none")
            .env("BP_PYTHON_MANIFEST_URL", &manifest)
            .env("UV_FIND_LINKS", "/workspace/vendor")
            .env("UV_NO_INDEX", "1")
    };
    let image = offline("poetry-offline");
    let log = image.build_ok(&app);
    assert_contains(&log, UV_FROM_VENDOR);
    assert_contains(
        &log,
        "  - Running uv pip sync --require-hashes (the locked set, exactly)\n",
    );
    assert_contains(&log, " + flask==3.1.2\n");
    image.assert_serves();

    // A vendored wheel that is not the file the lock pins (same name, other bytes).
    tamper_with_wheel(&app.path().join("vendor"), "itsdangerous-2.2.0-");
    let log = offline("poetry-offline-tampered").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Could not install the packages in poetry.lock",
    );
    assert_contains(
        &log,
        "! A downloaded file does not have the hash poetry.lock pins:",
    );
    assert_contains(&log, "Hash mismatch for `itsdangerous==2.2.0`");
}

/// Adds a file to the vendored wheel whose name starts with `prefix`: still a valid wheel,
/// but no longer the file whose hash the lock records.
fn tamper_with_wheel(vendor: &std::path::Path, prefix: &str) {
    let wheel = fs_err::read_dir(vendor)
        .expect("vendor/")
        .map(|entry| entry.expect("entry").path())
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no {prefix}* wheel in vendor/"));
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'a').writestr('tampered.txt', 'x')",
        ])
        .arg(&wheel)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "tampering with {}", wheel.display());
}

/// The venv only the app needs (launch-only): an unchanged rebuild runs no Python (Poetry
/// states its venv key at detection), so the runtime is kept by its metadata and every layer
/// is the previous image's; a code-only rebuild keeps the previous image's venv layer without
/// fetching or running uv; a changed lock installs the runtime again for uv and makes the venv
/// anew with exactly the new set, so a package removed from the lock is really gone.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn code_only_rebuild_reuses_the_venv_and_a_changed_lock_installs_exactly_the_new_set() {
    let app = App::fixture("poetry-flask");
    let image = Image::new("poetry-rebuild");
    let _ = image.build_ok(&app);
    let _ = assert_unchanged_rebuild_reuses_every_layer(&image, &app, "poetry", "poetry.lock");

    let log = rebuild_after_code_change(&image, &app, "poetry.lock");
    assert_contains(&log, "Reusing layer 'blacklodge/poetry:venv'");

    // idna added to the main group (pyproject.toml and poetry.lock, as `poetry lock` wrote them).
    let files = ["pyproject.toml", "poetry.lock"];
    let change = "  - Discarding cached virtual environment:\n    - poetry.lock changed\n";
    let log = rebuild_with_idna_added(&image, &app, "poetry", &files, change);
    assert_contains(&log, "  - Installing groups: main (10 packages)");
    assert_contains(&log, RUNTIME_INSTALLED_FOR_THE_INSTALL);

    // And removed again: idna is gone, the rest is still there.
    let log = rebuild_with_idna_removed(&image, &app, "poetry-flask", &files, change);
    assert_contains(&log, RUNTIME_INSTALLED_FOR_THE_INSTALL);
    image.assert_serves();
}

/// A `[[tool.poetry.source]]` behind basic auth, with Poetry's own credential variables: used
/// for the install, never in the log, any layer or the image config.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn private_source_credentials_are_used_and_never_persisted() {
    // The fixture's lock was made against this port (the source URL is part of the content
    // hash and of the lock).
    let log = private_index::credentials_used_and_kept_out(
        "poetry-private",
        "poetry-private",
        38774,
        [
            "POETRY_HTTP_BASIC_PRIVATE_USERNAME",
            "POETRY_HTTP_BASIC_PRIVATE_PASSWORD",
        ],
        "poetry.lock",
    );
    assert_contains(&log, "POETRY_HTTP_BASIC_<SOURCE>_USERNAME and _PASSWORD");
}
