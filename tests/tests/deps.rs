//! What every dependency buildpack shares, through pack: package manager selection, private
//! indexes with credentials (never persisted), CA certificate bindings, offline builds from
//! vendored wheels, and the installer failures the user must be told about.

use blacklodge_tests::private_index::{self, Options, PrivateIndex, SECRET, USER};
use blacklodge_tests::{
    App, Image, UV_FROM_VENDOR, assert_contains, assert_credentials_rejected, assert_not_contains,
    assert_secret_kept_out,
};

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn several_managers_are_a_conflict_until_one_is_chosen() {
    let app = App::fixture("pipenv-flask");
    app.write("requirements.txt", "flask==3.1.2\ngunicorn==23.0.0\n");
    app.write(
        "environment.yml",
        "name: app\ndependencies: [python=3.11]\n",
    );
    let log = Image::new("deps-conflict").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: More than one package manager\n!\n! The app has files of several package managers:\n! - Pipenv: Pipfile.lock, Pipfile\n! - pip: requirements.txt\n! - conda: environment.yml\n",
    );
    assert_contains(
        &log,
        "!\n! Only one may install the dependencies, and guessing could install the wrong\n! set.\n!\n! How to fix:\n!   Remove the files of the managers you do not use, or choose one with\n!   BP_PYTHON_PACKAGE_MANAGER (one of: pipenv, pip, conda), e.g.\n!   `pack build --env BP_PYTHON_PACKAGE_MANAGER=pipenv`.\n",
    );

    let log = Image::new("deps-chosen")
        .env("BP_PYTHON_PACKAGE_MANAGER", "pip")
        .build_ok(&app);
    assert_contains(&log, "## Blacklodge pip\n");
    assert_not_contains(&log, "## Blacklodge Pipenv");

    let log = Image::new("deps-bad-choice")
        .env("BP_PYTHON_PACKAGE_MANAGER", "npm")
        .build_fails(&app);
    assert_contains(&log, "BP_PYTHON_PACKAGE_MANAGER='npm' is not accepted.");
    assert_contains(&log, "Accepted: uv, poetry, pipenv, pip, conda.");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn dependencies_without_a_lock_are_an_error_and_plain_apps_build() {
    let app = App::fixture("python-only");
    app.write(
        "pyproject.toml",
        "[project]\nname = \"svc\"\nversion = \"1\"\ndependencies = [\"flask\"]\n",
    );
    let log = Image::new("deps-unlocked").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: No lockfile for the dependencies in pyproject.toml",
    );
    assert_contains(
        &log,
        "! - uv: pyproject.toml + uv.lock (`uv lock`)\n! - Poetry: pyproject.toml + poetry.lock (`poetry lock`)\n! - Pipenv: Pipfile + Pipfile.lock (`pipenv lock`)\n! - pip: requirements.txt\n! - conda: environment.yml (or package-list.txt / conda-lock.yml)\n",
    );

    // No dependencies declared: the python-only group builds it.
    app.write(
        "pyproject.toml",
        "[project]\nname = \"svc\"\nversion = \"1\"\n",
    );
    let log = Image::new("deps-plain").build_ok(&app);
    assert_contains(&log, "## Blacklodge Python\n");
    assert_not_contains(&log, "## Blacklodge pip");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn private_index_credentials_are_used_and_never_persisted() {
    let index = PrivateIndex::with_secret(None);
    // requirements.txt: PIP_INDEX_URL with user:password, translated for uv (which is
    // fetched through it too).
    let app = App::fixture("examples/flask-hello");
    app.write(
        "requirements.txt",
        "flask==3.1.2\ngunicorn==23.0.0\nblacklodge-private==1.0.0\n",
    );
    let image =
        Image::new("deps-private-pip").env("PIP_INDEX_URL", &index.url(Some((USER, SECRET))));
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - pip settings for uv: PIP_INDEX_URL → UV_INDEX_URL\n",
    );
    assert_contains(&log, "Running uv pip install -r requirements.txt");
    assert_contains(
        &image.shell_ok("python -c 'import blacklodge_private as p; print(p.VALUE)'"),
        "private-ok",
    );
    assert_secret_kept_out(&image, &log, SECRET);
    assert!(
        !image.build_cache_contains(SECRET),
        "the secret is in the build cache (uv's download cache)"
    );

    // The same with pip itself.
    let image = Image::new("deps-private-pip-pip")
        .env("PIP_INDEX_URL", &index.url(Some((USER, SECRET))))
        .env("BP_PIP_INSTALLER", "pip");
    let log = image.build_ok(&app);
    assert_contains(&log, "Running pip install -r requirements.txt");
    assert_secret_kept_out(&image, &log, SECRET);

    // Wrong password: the 401 is explained (uv looks past an index that refuses it and
    // would only report the package missing).
    let log = Image::new("deps-private-pip-wrong")
        .env("PIP_EXTRA_INDEX_URL", &index.url(Some((USER, "wrong"))))
        .build_fails(&app);
    assert_credentials_rejected(&log, "requirements.txt", "ci-user:wrong@");
    assert_contains(
        &log,
        "! The package index rejected the credentials:\n! http://127.0.0.1:",
    );
    assert_contains(&log, "/simple/ answered 401 Unauthorized");
    assert_contains(
        &log,
        "! uv then looked for the packages on the other indexes only:\n! Because blacklodge-private was not found in the package registry",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pipenv_source_credentials_from_variables() {
    // The fixture's lock was made against this port (the URL is part of the Pipfile hash).
    let _ = private_index::credentials_used_and_kept_out(
        "pipenv-private",
        "deps-private-pipenv",
        38771,
        ["PRIVATE_INDEX_USER", "PRIVATE_INDEX_PASSWORD"],
        "Pipfile.lock",
    );

    let app = App::fixture("pipenv-private");
    let log = Image::new("deps-private-pipenv-unset").build_fails(&app);
    assert_contains(&log, "! ERROR: PRIVATE_INDEX_USER is not set");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn ca_certificate_binding_is_trusted() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = private_index::make_ca(certs.path());
    let index = PrivateIndex::start(&Options {
        tls: Some((cert, key)),
        ..Options::default()
    });
    let app = App::fixture("examples/flask-hello");
    app.write(
        "requirements.txt",
        &format!(
            "--extra-index-url {}\nflask==3.1.2\ngunicorn==23.0.0\nblacklodge-private==1.0.0\n",
            index.url(None)
        ),
    );

    let log = Image::new("deps-ca-missing").build_fails(&app);
    assert_contains(
        &log,
        "! The package index's TLS certificate is not trusted:",
    );
    assert_contains(&log, "binding of type `ca-certificates`");

    let binding = private_index::ca_binding(&ca);
    let image = Image::new("deps-ca").volume(&format!(
        "{}:/platform/bindings/test-ca:ro",
        binding.path().display()
    ));
    let log = image.build_ok(&app);
    assert_contains(&log, "Trusting the CA certificates of binding: test-ca");
    assert_contains(
        &image.shell_ok("python -c 'import blacklodge_private as p; print(p.VALUE)'"),
        "private-ok",
    );
}

/// The `ca-certificates` binding for the uv-based managers. uv, Poetry and Pipenv share one
/// code path for it: each build calls `blacklodge_python_deps::setup::uv`, which reads the
/// bindings into one bundle, and every uv command they run is made by `Uv::command`, which
/// sets `UV_SYSTEM_CERTS`, `SSL_CERT_FILE` (and `GIT_SSL_CAINFO` for git) from it. So this
/// one build, whose index is a TLS private index signed by a test CA
/// (`PIPENV_PYPI_MIRROR`), proves uv honours the binding for all three.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn ca_certificate_binding_is_trusted_by_uv() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = private_index::make_ca(certs.path());
    let index = PrivateIndex::start(&Options {
        tls: Some((cert, key)),
        ..Options::default()
    });
    let app = App::fixture("pipenv-flask");

    let log = Image::new("deps-uv-ca-missing")
        .env("PIPENV_PYPI_MIRROR", &index.url(None))
        .build_fails(&app);
    assert_contains(
        &log,
        "! The package index's TLS certificate is not trusted:",
    );
    assert_contains(&log, "binding of type `ca-certificates`");

    let binding = private_index::ca_binding(&ca);
    let image = Image::new("deps-uv-ca")
        .env("PIPENV_PYPI_MIRROR", &index.url(None))
        .volume(&format!(
            "{}:/platform/bindings/test-ca:ro",
            binding.path().display()
        ));
    let log = image.build_ok(&app);
    assert_contains(&log, "Trusting the CA certificates of binding: test-ca");
    assert_contains(&log, "Running uv pip sync --require-hashes");
    assert_contains(
        &image.shell_ok("python -c 'import flask; print(flask.__version__)'"),
        "3.1.2",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn vendored_wheels_build_with_the_network_off() {
    let app = App::fixture("examples/flask-hello");
    // The wheels (and the pinned pip) in vendor/, the interpreter archive from a file.
    app.pip_download(
        "vendor",
        &[
            "flask==3.1.2".into(),
            "gunicorn==23.0.0".into(),
            "pip==26.3".into(),
        ],
        false,
    );
    app.write(
        "requirements.txt",
        "--no-index\n--find-links vendor\nflask==3.1.2\ngunicorn==23.0.0\n",
    );
    let manifest = app.vendor_python("3.11.2");

    let image = Image::new("deps-offline")
        .network("none")
        .env("BP_PYTHON_MANIFEST_URL", &manifest);
    // Prepared for pip (its pinned wheel in vendor/, not uv's): pip installs.
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Installer: pip 26.3 (vendor/ has its wheel but not uv 0.13.9's: add that to vendor/ to install with uv)\n",
    );
    assert_contains(&log, "(from /workspace/vendor/pip-26.3-py3-none-any.whl)");
    assert_contains(&log, "Successfully installed ");
    image.assert_serves();

    // With uv's pinned wheel there too, uv installs, still without network.
    app.pip_download("vendor", &["uv==0.13.9".into()], true);
    let log = image.build_ok(&app);
    assert_contains(&log, UV_FROM_VENDOR);
    assert_contains(
        &log,
        "  - Discarding cached virtual environment:\n    - installer changed (pip 26.3 → uv 0.13.9)\n",
    );
    assert_contains(&log, " + flask==3.1.2\n");
    image.assert_serves();
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pip_variables_for_offline_builds_are_translated_for_uv() {
    let app = App::fixture("examples/flask-hello");
    app.pip_download(
        "vendor",
        &[
            "flask==3.1.2".into(),
            "gunicorn==23.0.0".into(),
            "uv==0.13.9".into(),
        ],
        false,
    );
    // No index option in the file: only the variables keep uv off the network.
    app.write("requirements.txt", "flask==3.1.2\ngunicorn==23.0.0\n");
    let manifest = app.vendor_python("3.11.2");
    let image = Image::new("deps-offline-variables")
        .network("none")
        .env("BP_PYTHON_MANIFEST_URL", &manifest)
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", "/workspace/vendor");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - pip settings for uv: PIP_FIND_LINKS → UV_FIND_LINKS, PIP_NO_INDEX → --no-index\n",
    );
    assert_contains(&log, " + gunicorn==23.0.0\n");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn sdist_needing_missing_headers_and_unreachable_index_are_explained() {
    let app = App::fixture("examples/flask-hello");
    app.write("requirements.txt", "psycopg2==2.9.10\n");
    let log = Image::new("deps-sdist").build_fails(&app);
    assert_contains(
        &log,
        "! The package psycopg2==2.9.10 has no wheel for this Python and had to be built\n! from source, which failed:\n! Failed to build `psycopg2==2.9.10`\n! Error: pg_config executable not found.\n",
    );
    assert_contains(
        &log,
        "!   It needs `pg_config`, which the build image lacks: add the Debian package\n!   libpq-dev to the build image",
    );

    app.write(
        "requirements.txt",
        "--index-url http://127.0.0.1:9/simple\nflask==3.1.2\n",
    );
    let log = Image::new("deps-unreachable").build_fails(&app);
    assert_contains(&log, "! The package index could not be reached:");
    assert_contains(&log, "Connection refused");
}
