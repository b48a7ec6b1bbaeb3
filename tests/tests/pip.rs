//! The pip buildpack through pack and the real lifecycle, with real PyPI installs: uv by
//! default, pip with `BP_PIP_INSTALLER=pip`.

use blacklodge_tests::{
    App, Image, RUNTIME_INSTALLED_FOR_THE_INSTALL, UV, assert_contains, assert_not_contains,
    assert_unchanged_rebuild_reuses_every_layer, assert_venv_reused,
};

/// The pinned pip (`buildpacks/python-deps/requirements/`).
const PIP: &str = "pip 26.3";
/// sha256 of six-1.17.0-py2.py3-none-any.whl on PyPI.
const SIX_SHA256: &str = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274";

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn flask_app_installs_serves_and_keeps_pip_out_of_the_image() {
    let app = App::fixture("examples/flask-hello");
    let image = Image::new("pip-flask");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        &format!(
            "## Blacklodge pip\n- Installing dependencies from requirements.txt\n  - Installer: {UV} (the default; BP_PIP_INSTALLER=pip installs with pip)\n"
        ),
    );
    assert_contains(&log, "  - Running uv pip install -r requirements.txt\n");
    assert_contains(&log, " + flask==3.1.2\n");
    assert_contains(&log, " + gunicorn==23.0.0\n");

    // The SBOM lists what uv installed.
    let purls = image.venv_purls("blacklodge_pip");
    for purl in ["pkg:pypi/flask@3.1.2", "pkg:pypi/gunicorn@23.0.0"] {
        assert!(purls.iter().any(|p| p == purl), "{purl} not in {purls:?}");
    }

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

    // pip, uv, their caches and build tools are not in the app image.
    let (has_pip, output) = image.run_shell("command -v pip || python -m pip --version");
    assert!(!has_pip, "pip leaked into the image: {output}");
    assert_contains(&output, "No module named pip");
    let (has_uv, output) = image.run_shell("command -v uv || ls /layers/blacklodge_pip/uv");
    assert!(!has_uv, "uv leaked into the image: {output}");
    assert_contains(
        &image.shell_ok("cat /layers/blacklodge_pip/venv/lib/python3.11/site-packages/flask-3.1.2.dist-info/INSTALLER"),
        "uv",
    );
    let (has_gcc, _) = image.run_shell("command -v gcc");
    assert!(!has_gcc, "the run image must not have a compiler");
    let layers = image.shell_ok("ls /layers/blacklodge_pip");
    assert_not_contains(&layers, "pip-cache");
    assert_not_contains(&layers, "uv-cache");
}

/// Nothing of an unchanged rebuild runs Python: the runtime is kept by its metadata and every
/// layer is the previous image's.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unchanged_rebuild_reuses_every_layer() {
    let app = App::fixture("examples/flask-hello");
    let image = Image::new("pip-rebuild");
    let _ = image.build_ok(&app);
    let _ = assert_unchanged_rebuild_reuses_every_layer(&image, &app, "pip", "requirements.txt");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn cold_builds_of_the_same_app_give_identical_layers() {
    // Two images with caches of their own: uv fetches, unpacks and installs twice.
    let app = App::fixture("examples/flask-hello");
    let first = Image::new("pip-reproducible-a");
    let second = Image::new("pip-reproducible-b");
    let _ = first.build_ok(&app);
    let log = second.build_ok(&app);
    assert_contains(&log, "  - Running uv pip install -r requirements.txt\n");
    assert_eq!(
        first.layer_digests(),
        second.layer_digests(),
        "the same input gives the same layers"
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
        "  - Discarding cached virtual environment:\n    - requirements.txt, a file it includes, a PIP_CONSTRAINT file or a local package they install changed\n",
    );
    // uv runs Python this time: the kept runtime is installed again for it.
    assert_contains(&log, RUNTIME_INSTALLED_FOR_THE_INSTALL);
    assert_contains(&log, "Running uv pip install -r requirements.txt");
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
    assert_contains(
        &log,
        "requirements.txt, a file it includes, a PIP_CONSTRAINT file or a local package they install changed",
    );
    assert_contains(
        &image.shell_ok("python -c 'import six; print(six.__version__)'"),
        "1.17.0",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unknown_package_and_conflicts_are_explained() {
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
        "! A requirement cannot be satisfied by the package index:\n! Because blacklodge-no-such-package-xyz was not found in the package registry and you require blacklodge-no-such-package-xyz==1.0",
    );

    app.write("requirements.txt", "flask==3.1.2\nwerkzeug==2.0.0\n");
    let log = Image::new("pip-conflict").build_fails(&app);
    assert_contains(&log, "! The requirements conflict with each other:\n");
    assert_contains(&log, "you require werkzeug==2.0.0");
    assert_contains(
        &log,
        "! How to fix:\n!   Relax or align the versions listed above so one set satisfies every\n!   requirement.\n",
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
    assert_contains(&log, "! line 2 of requirements.txt: `flask=>3`\n");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pip_installs_on_request_and_switching_installer_recreates_the_venv() {
    let app = App::fixture("examples/flask-hello");
    let log = Image::new("pip-installer-unknown")
        .env("BP_PIP_INSTALLER", "poetry")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Invalid value for BP_PIP_INSTALLER\n");
    assert_contains(
        &log,
        "! BP_PIP_INSTALLER='poetry' is not accepted.\n! Accepted: uv (the default) or pip.\n",
    );

    let mut image = Image::new("pip-installer").env("BP_PIP_INSTALLER", "pip");
    let log = image.build_ok(&app);
    assert_contains(&log, &format!("  - Installer: {PIP} (BP_PIP_INSTALLER)\n"));
    assert_contains(&log, "  - Running pip install -r requirements.txt\n");
    assert_contains(&log, "Successfully installed ");
    assert_not_contains(&log, "uv pip install");
    assert_contains(
        &image.shell_ok("cat /layers/blacklodge_pip/venv/lib/python3.11/site-packages/flask-3.1.2.dist-info/INSTALLER"),
        "pip",
    );
    image.assert_serves();

    image.unset_env("BP_PIP_INSTALLER");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        &format!(
            "  - Discarding cached virtual environment:\n    - installer changed ({PIP} → {UV})\n"
        ),
    );
    assert_contains(&log, "  - Running uv pip install -r requirements.txt\n");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn options_uv_cannot_honour_fail_with_the_way_out() {
    let app = App::fixture("examples/flask-hello");
    app.write(
        "requirements.txt",
        "flask==3.1.2\n--prefer-binary\ngunicorn==23.0.0\n",
    );
    let log = Image::new("pip-unsupported").build_fails(&app);
    assert_contains(&log, "! ERROR: A pip setting uv cannot honour\n");
    assert_contains(
        &log,
        "! - line 2 of requirements.txt: `--prefer-binary`\n!   uv has no such preference:",
    );
    assert_contains(&log, "set BP_PIP_INSTALLER=pip");

    // The way out the message gives works.
    let log = Image::new("pip-unsupported-pip")
        .env("BP_PIP_INSTALLER", "pip")
        .build_ok(&app);
    assert_contains(&log, "Successfully installed ");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn a_hash_in_an_included_file_requires_every_requirement_hashed() {
    let app = App::fixture("examples/flask-hello");
    app.write(
        "requirements.txt",
        "-r requirements/locked.txt\nidna==3.10\n",
    );
    app.write(
        "requirements/locked.txt",
        &format!(
            "six==1.17.0 \\
    --hash=sha256:{SIX_SHA256}\n"
        ),
    );
    let log = Image::new("pip-hashes").build_fails(&app);
    assert_contains(
        &log,
        "  - Hash-checking mode (--hash on line 1 of requirements/locked.txt): every requirement must be pinned and hashed\n",
    );
    assert_contains(
        &log,
        "! requirements.txt is in hash-checking mode, where every requirement,\n! dependencies included, must be pinned with == and carry --hash:\n! In `--require-hashes` mode, all requirements must have a hash, but none were provided for: idna==3.10\n! Hash-checking mode is on because of --hash on line 1 of requirements/locked.txt.\n",
    );
    assert_contains(&log, "pip-compile --generate-hashes");

    // Hashed and complete: installed, each file checked.
    app.write("requirements.txt", "-r requirements/locked.txt\n");
    let image = Image::new("pip-hashes-ok");
    let _ = image.build_ok(&app);
    assert_contains(
        &image.shell_ok("python -c 'import six; print(six.__version__)'"),
        "1.17.0",
    );
}

/// After a build (`log`) with `pins.txt` (idna==3.7) as the constraint file: idna 3.7 was
/// installed and the app serves; the pins file is part of the requirements set, so changing
/// it replaces the venv with idna 3.8.
fn assert_pins_followed(image: &Image, app: &App, log: &str) {
    assert_contains(log, " + idna==3.7\n");
    image.assert_serves();
    app.write("pins.txt", "idna==3.8\n");
    let log = image.build_ok(app);
    assert_contains(
        &log,
        "    - requirements.txt, a file it includes, a PIP_CONSTRAINT file or a local package they install changed\n",
    );
    assert_contains(&log, " + idna==3.8\n");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pip_constraint_and_no_build_isolation_work_as_with_pip() {
    let app = App::fixture("examples/flask-hello");
    app.append("requirements.txt", "idna\n");
    app.write("pins.txt", "idna==3.7\n");
    let image = Image::new("pip-constraint")
        .env("PIP_CONSTRAINT", "pins.txt")
        .env("PIP_NO_BUILD_ISOLATION", "false");
    let log = image.build_ok(&app);
    assert_contains(&log, "PIP_CONSTRAINT → UV_CONSTRAINT");
    assert_contains(
        &log,
        "PIP_NO_BUILD_ISOLATION=false → --no-build-isolation (pip reads a false value here as turning isolation off)",
    );
    assert_pins_followed(&image, &app, &log);

    // pip itself reads the same variables to the same result.
    let log = Image::new("pip-constraint-pip")
        .env("BP_PIP_INSTALLER", "pip")
        .env("PIP_CONSTRAINT", "pins.txt")
        .build_ok(&app);
    assert_contains(&log, "idna-3.8");

    // A URL is refused with the way out; a missing file names the variable.
    let log = Image::new("pip-constraint-url")
        .env("PIP_CONSTRAINT", "https://example.com/pins.txt")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: A pip setting uv cannot honour\n");
    assert_contains(&log, "! - PIP_CONSTRAINT\n!   The build reads constraints");
    assert_contains(&log, "Save the file in the app");
    let log = Image::new("pip-constraint-missing")
        .env("PIP_CONSTRAINT", "missing.txt")
        .build_fails(&app);
    assert_contains(&log, "missing.txt");
    assert_contains(
        &log,
        "!   Check that requirements.txt, the files it includes with -r/-c and the files\n!   PIP_CONSTRAINT names (relative to the app directory) exist and are readable.\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn changing_an_install_setting_replaces_the_venv() {
    let app = App::fixture("examples/flask-hello");
    let mut image = Image::new("pip-settings-key");
    let _ = image.build_ok(&app);

    // Same requirements, a setting that changes what may be installed: a new venv.
    image.set_env("PIP_ONLY_BINARY", ":all:");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Discarding cached virtual environment:\n    - install settings changed: PIP_ONLY_BINARY\n",
    );
    assert_contains(&log, "  - Running uv pip install -r requirements.txt\n");

    // Unchanged again, and a setting with no effect on the install (pip's progress bar)
    // keeps the venv.
    image.set_env("PIP_PROGRESS_BAR", "off");
    let log = image.build_ok(&app);
    assert_venv_reused(&log, "requirements.txt");

    // Removing the setting is a change too.
    image.unset_env("PIP_ONLY_BINARY");
    let log = image.build_ok(&app);
    assert_contains(&log, "    - install settings changed: PIP_ONLY_BINARY\n");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pip_configuration_file_is_read_as_pip_reads_it() {
    let app = App::fixture("examples/flask-hello");
    app.append("requirements.txt", "idna\n");
    app.write("pins.txt", "idna==3.7\n");
    app.write(
        "pip.conf",
        "[global]\nonly-binary = :all:\nconstraint = pins.txt\n[install]\nconstraint = pins.txt\n",
    );
    let mut image = Image::new("pip-conf").env("PIP_CONFIG_FILE", "pip.conf");
    let log = image.build_ok(&app);
    assert_contains(&log, "pip.conf [install] constraint → UV_CONSTRAINT");
    assert_contains(&log, "pip.conf [global] only-binary → --only-binary");
    assert_pins_followed(&image, &app, &log);

    // A variable of the build wins over the file, as with pip.
    app.write("other-pins.txt", "idna==3.7\n");
    image.set_env("PIP_CONSTRAINT", "other-pins.txt");
    let log = image.build_ok(&app);
    assert_contains(&log, "PIP_CONSTRAINT → UV_CONSTRAINT");
    assert_contains(&log, " + idna==3.7\n");

    // What uv cannot honour is named by file, section and key.
    app.write("pip.conf", "[install]\nprefer-binary = true\n");
    let log = Image::new("pip-conf-unsupported")
        .env("PIP_CONFIG_FILE", "pip.conf")
        .build_fails(&app);
    assert_contains(
        &log,
        "! - pip.conf [install] prefer-binary\n!   uv has no such preference",
    );
    assert_contains(&log, "uv has no such preference");
}

/// A git requirement whose repository cannot be fetched (the loopback git server has no
/// such repository) is "a git dependency could not be fetched" with pip as with uv, quoting
/// git's own reason, not a failed build from source with compiler advice.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unfetchable_git_requirement_is_a_git_failure_with_either_installer() {
    let remote = blacklodge_tests::git_remote::GitRemote::start(
        "git-greeter",
        "greeter",
        blacklodge_tests::free_port(),
    );
    let missing = remote.url().replace("greeter.git", "missing.git");
    let app = App::fixture("examples/flask-hello");
    app.write(
        "requirements.txt",
        &format!("flask==3.1.2\ngreeter @ git+{missing}\n"),
    );
    let fix = "! How to fix:\n!   Check that the repository URL in requirements.txt is reachable from the\n!   build (network, TLS: a `ca-certificates` binding is given to git too) and\n!   that the locked commit still exists there (a force-push can remove it: then\n!   run `pip-compile --generate-hashes` again).\n";
    for (installer, image) in [("pip", "pip-git-missing"), ("uv", "pip-git-missing-uv")] {
        let log = Image::new(image)
            .env("BP_PIP_INSTALLER", installer)
            .build_fails(&app);
        assert_contains(
            &log,
            "! ERROR: Could not install the packages in requirements.txt\n!\n! A git dependency of requirements.txt could not be fetched:\n",
        );
        assert_contains(&log, &format!("fatal: repository '{missing}/' not found\n"));
        assert_contains(&log, fix);
        assert_not_contains(&log, "had to be built from source");
    }
}

/// An editable git requirement (`-e git+…#egg=…`, which uv refuses as such) is installed
/// by the default installer without `-e`: the same code at the same commit, with the log
/// saying so; requirements.txt in the image is the app's own, unchanged.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn editable_git_requirement_is_installed_by_uv_without_e() {
    let remote = blacklodge_tests::git_remote::GitRemote::start(
        "git-greeter",
        "greeter",
        blacklodge_tests::free_port(),
    );
    let app = App::fixture("examples/flask-hello");
    let requirements = format!(
        "flask==3.1.2\ngunicorn==23.0.0\n-e git+{}#egg=greeter  # checked out by pip\n",
        remote.url()
    );
    app.write("requirements.txt", &requirements);
    let image = Image::new("pip-editable-git");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - pip settings for uv: -e git+… → non-editable (line 3 of requirements.txt)\n",
    );
    assert_contains(
        &log,
        &format!(
            " + greeter==0.3.0 (from git+{}@{})",
            remote.url(),
            remote.commit
        ),
    );
    assert_contains(
        &image.shell_ok("python -c 'import greeter; print(greeter.MESSAGE)'"),
        "hello from git\n",
    );
    assert_contains(
        &image.shell_ok("cat /workspace/requirements.txt"),
        &requirements,
    );
    image.assert_serves();
}
