//! The Pipenv buildpack through pack and the real lifecycle: `pipenv install --deploy`
//! semantics, installed by uv from Pipfile.lock without Pipenv.

use blacklodge_tests::git_remote::{GREETER_COMMIT, GitRemote, SourceServers};
use blacklodge_tests::private_index;
use blacklodge_tests::{
    App, Image, RUNTIME_INSTALLED_FOR_THE_INSTALL, UV_FROM_VENDOR, assert_contains,
    assert_not_contains, assert_sources_installed, assert_unchanged_rebuild_reuses_every_layer,
    assert_venv_reused, rebuild_after_code_change, rebuild_with_idna_added,
    rebuild_with_idna_removed,
};

/// The commit the fixture lock records for tests/fixtures/git-greeter.

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
    image.assert_serves();
    let output = image
        .shell_ok("python -c 'import six' 2>&1 || true; command -v pipenv uv pip || echo no-tools");
    assert_contains(&output, "No module named 'six'");
    assert_contains(&output, "no-tools");

    let log = image.build_ok(&app);
    assert_venv_reused(&log, "Pipfile.lock");

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
    let pipfile = app.replace(
        "Pipfile",
        "gunicorn = \"==23.0.0\"",
        "gunicorn = \"==23.0.0\"\nsix = \"*\"",
    );
    let log = Image::new("pipenv-out-of-date").build_fails(&app);
    // The whole message; the two hashes (64 hex digits each) fix where the lines break.
    assert_contains(
        &log,
        "! ERROR: Pipfile.lock is out of date\n!\n! Pipfile.lock was generated for a different Pipfile: it records the Pipfile\n! hash ",
    );
    assert_contains(
        &log,
        " (what\n! `pipenv install --deploy` refuses).\n!\n! How to fix:\n!   Run `pipenv lock` and commit Pipfile.lock.\n",
    );
    assert_not_contains(&log, "Running uv");

    app.write("Pipfile", &pipfile);
    app.remove("Pipfile.lock");
    let log = Image::new("pipenv-no-lock").build_fails(&app);
    assert_contains(&log, "! ERROR: No Pipfile.lock");
    assert_contains(&log, "!   Run `pipenv lock` and commit Pipfile.lock.");
}

/// Git (served on loopback over HTTP, at the locked commit), URL (the private index's file
/// server; Pipenv records no hash for it), local wheel, local directory and editable path
/// entries of one Pipfile.lock.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn git_url_and_path_entries_are_installed() {
    let _servers = SourceServers::start();
    let app = App::fixture("pipenv-sources");
    let image = Image::new("pipenv-sources");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        &format!(
            "  - Without a file hash in the lock (pinned by commit or part of the app): blacklodge-private (URL http://127.0.0.1:38772/files/blacklodge_private-1.0.0-py3-none-any.whl), greeter (git http://127.0.0.1:38773/greeter.git@{}), localpkg (directory ./libs/localpkg)\n",
            &GREETER_COMMIT[..12]
        ),
    );
    assert_contains(&log, "  - Running uv pip sync --verify-hashes");
    assert_contains(
        &log,
        "Installing ./libs/devpkg (editable, without dependencies)",
    );
    assert_sources_installed(&image, &log);
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn missing_path_and_unpinned_git_entries_are_explained() {
    let app = App::fixture("pipenv-sources");
    app.remove("vendor/vendored_tool-1.0.0-py3-none-any.whl");
    let log = Image::new("pipenv-path-missing").build_fails(&app);
    assert_contains(&log, "! ERROR: A path dependency is missing");
    assert_contains(
        &log,
        "! Pipfile.lock installs vendored-tool from the path\n! `./vendor/vendored_tool-1.0.0-py3-none-any.whl`, which does not exist in the\n! app.",
    );
    assert_not_contains(&log, "Running uv");

    let app = App::fixture("pipenv-sources");
    app.replace("Pipfile.lock", GREETER_COMMIT, "main");
    let log = Image::new("pipenv-git-unpinned").build_fails(&app);
    assert_contains(&log, "! ERROR: A git dependency has no locked commit");
    assert_contains(
        &log,
        "! Pipfile.lock installs greeter from the git repository\n! http://127.0.0.1:38773/greeter.git, but its `ref` is `main`, not a commit id.",
    );
    assert_contains(&log, "!   Run `pipenv lock` with access to the repository");
}

/// Offline: the locked wheels and the pinned uv in `vendor/`, uv pointed at them with
/// `UV_FIND_LINKS` and `UV_NO_INDEX` (the lock's hashes still checked: see the Poetry test
/// for a vendored wheel that does not match).
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn vendored_wheels_build_with_the_network_off() {
    let app = App::fixture("pipenv-flask");
    let lock: serde_json::Value = serde_json::from_str(&app.read("Pipfile.lock")).expect("JSON");
    let mut pins: Vec<String> = lock["default"]
        .as_object()
        .expect("default")
        .iter()
        .map(|(name, entry)| format!("{name}{}", entry["version"].as_str().expect("version")))
        .collect();
    assert_eq!(pins.len(), 9, "{pins:?}");
    pins.push("uv==0.13.9".to_string());
    app.pip_download("vendor", &pins, true);
    let manifest = app.vendor_python("3.11.2");

    let image = Image::new("pipenv-offline")
        .network("none")
        .env("BP_PYTHON_MANIFEST_URL", &manifest)
        .env("UV_FIND_LINKS", "/workspace/vendor")
        .env("UV_NO_INDEX", "true");
    let log = image.build_ok(&app);
    assert_contains(&log, UV_FROM_VENDOR);
    assert_contains(
        &log,
        "  - No package index (UV_NO_INDEX): the locked files come from the find-links locations (UV_FIND_LINKS) and the lock's direct references\n",
    );
    assert_contains(&log, " + flask==3.1.2\n");
    image.assert_serves();
}

/// The venv only the app needs (launch-only): an unchanged rebuild runs no Python (Pipenv
/// states its venv key at detection), so the runtime is kept by its metadata and every layer
/// is the previous image's; a changed lock installs the runtime again for uv and makes the
/// venv anew with exactly the new set.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unchanged_rebuild_reuses_every_layer_and_a_changed_lock_installs_the_new_set() {
    let app = App::fixture("pipenv-flask");
    let image = Image::new("pipenv-kept");
    let _ = image.build_ok(&app);
    let _ = assert_unchanged_rebuild_reuses_every_layer(&image, &app, "pipenv", "Pipfile.lock");

    // idna added to [packages] (Pipfile and Pipfile.lock, as `pipenv lock` wrote them).
    let files = ["Pipfile", "Pipfile.lock"];
    let change = "  - Discarding cached virtual environment:\n    - Pipfile.lock changed\n";
    let log = rebuild_with_idna_added(&image, &app, "pipenv", &files, change);
    assert_contains(&log, RUNTIME_INSTALLED_FOR_THE_INSTALL);
    let log = rebuild_with_idna_removed(&image, &app, "pipenv-flask", &files, change);
    assert_contains(&log, RUNTIME_INSTALLED_FOR_THE_INSTALL);
    image.assert_serves();
}

/// The venv a later buildpack needs while building (the wrapper imports the entry point in
/// it) is cached: a code-only rebuild reuses it without fetching or running uv, and a changed
/// lock syncs it in place: uv adds and removes exactly what differs.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn code_only_rebuild_reuses_the_venv_and_a_changed_lock_syncs_it_in_place() {
    let app = App::fixture("pipenv-flask");
    let image = Image::new("pipenv-rebuild")
        .env("BP_BLACKLODGE_ENTRYPOINT", "app:hello")
        .env("BP_BLACKLODGE_VALIDATE", "false");
    let log = image.build_ok(&app);
    assert_contains(&log, "## Blacklodge wrapper\n");

    let _ = rebuild_after_code_change(&image, &app, "Pipfile.lock");

    // idna added to [packages] (Pipfile and Pipfile.lock, as `pipenv lock` wrote them).
    let files = ["Pipfile", "Pipfile.lock"];
    let change = "  - Updating cached virtual environment:\n    - Pipfile.lock changed\n";
    let log = rebuild_with_idna_added(&image, &app, "pipenv", &files, change);
    assert_contains(&log, "  - Installing categories: default (10 packages)\n");
    assert_not_contains(&log, " + flask==");

    // And removed again: uninstalled from the cached venv, the rest untouched.
    let log = rebuild_with_idna_removed(&image, &app, "pipenv-flask", &files, change);
    assert_contains(&log, " - idna==3.10\n");
    assert_not_contains(&log, " + ");
}

/// `BP_PIPENV_CATEGORIES`: `all` adds every category of the lock; unset again, the venv is
/// exactly `[packages]`; an unknown category is an error naming the lock's categories.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn categories_are_selected_and_unknown_ones_are_explained() {
    let app = App::fixture("pipenv-flask");
    let mut image = Image::new("pipenv-categories").env("BP_PIPENV_CATEGORIES", "all");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Installing categories: default, develop (10 packages)\n",
    );
    assert_contains(
        &image.shell_ok("python -c 'import six; print(six.__version__)'"),
        "1.17.0",
    );

    image.unset_env("BP_PIPENV_CATEGORIES");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Discarding cached virtual environment:\n    - selection changed (categories: default, develop → categories: default)\n",
    );
    assert_contains(
        &image.shell_ok("python -c 'import six' 2>&1 || true"),
        "No module named 'six'",
    );

    let log = Image::new("pipenv-category-unknown")
        .env("BP_PIPENV_CATEGORIES", "docs")
        .build_fails(&app);
    assert_contains(&log, "! ERROR: Unknown package category `docs`");
    assert_contains(
        &log,
        "! BP_PIPENV_CATEGORIES names `docs`, but Pipfile.lock has only: default,\n! develop.",
    );
    assert_not_contains(&log, "Running uv");
}

/// A git dependency over HTTPS from a server whose certificate a test CA signed: git (run by
/// uv) trusts it only through the `ca-certificates` binding, which it gets as `GIT_SSL_CAINFO`.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn git_over_tls_trusts_the_ca_binding() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = private_index::make_ca(certs.path());
    // The fixture's Pipfile and lock name this port (the URL is part of the Pipfile hash).
    let remote = GitRemote::start_tls("git-greeter", "greeter", 38776, &cert, &key);
    assert_eq!(
        remote.commit, GREETER_COMMIT,
        "the fixture lock pins this commit"
    );
    let app = App::fixture("pipenv-git-tls");

    let log = Image::new("pipenv-git-tls-untrusted").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Could not install the packages in Pipfile.lock",
    );
    assert_contains(
        &log,
        "! A git dependency of Pipfile.lock could not be fetched:",
    );
    assert_contains(
        &log,
        "fatal: unable to access 'https://127.0.0.1:38776/greeter.git/': server certificate verification failed.",
    );
    assert_contains(&log, "a `ca-certificates` binding is given to git too");

    let binding = private_index::ca_binding(&ca);
    let image = Image::new("pipenv-git-tls").volume(&format!(
        "{}:/platform/bindings/test-ca:ro",
        binding.path().display()
    ));
    let log = image.build_ok(&app);
    assert_contains(&log, "Trusting the CA certificates of binding: test-ca");
    assert_contains(
        &log,
        " + greeter==0.3.0 (from git+https://127.0.0.1:38776/greeter.git@",
    );
    assert_contains(&image.shell_ok("python app.py"), "hello from git\n");
}

/// The Pipfile hash as each Pipenv computes it, by the host's Python (`tomllib`), so the
/// expected message does not come from the code under test: Pipenv 2026.4 and later spell
/// the package names of each category in their PEP 503 form, earlier versions as written.
fn pipfile_hashes(pipfile: &str) -> (String, String) {
    let script = r#"
import hashlib, json, re, sys, tomllib
p = tomllib.loads(sys.stdin.read())
skip = {"source", "packages", "dev-packages", "requires", "scripts", "pipfile", "pipenv", "default", "develop"}
def data(norm):
    n = (lambda s: {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in s.items()}) if norm else (lambda s: s)
    d = {"_meta": {"sources": p["source"], "requires": p.get("requires", {})},
         "default": n(p.get("packages", {})), "develop": n(p.get("dev-packages", {}))}
    d.update({k: n(v) for k, v in p.items() if k not in skip})
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
print(data(True), data(False))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), pipfile.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("python3 runs");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let mut hashes = text.split_whitespace().map(str::to_string);
    (
        hashes.next().expect("normalized"),
        hashes.next().expect("as written"),
    )
}

/// Locks made by real Pipenv releases (2025.0.4 and 2026.10.3) for a Pipfile that spells
/// `Flask` and `Gunicorn` capitalised: since Pipenv 2026.4 the recorded Pipfile hash is
/// computed over normalised names, so the two locks record different hashes for the same
/// Pipfile; each is accepted as its own Pipenv accepts it, and the app serves.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn locks_of_old_and_current_pipenv_are_both_accepted() {
    for (fixture, versions) in [
        ("pipenv-lock-2025", "Pipenv before 2026.4"),
        ("pipenv-lock-2026", "Pipenv 2026.4 and later"),
    ] {
        let app = App::fixture(fixture);
        let image = Image::new(fixture);
        let log = image.build_ok(&app);
        assert_contains(
            &log,
            &format!(
                "- Installing dependencies from Pipfile.lock\n  - Pipfile.lock matches the Pipfile (its recorded hash, as {versions} compute it)\n  - Installing categories: default (9 packages)\n"
            ),
        );
        image.assert_serves();
    }

    // A real change to the Pipfile is still refused, naming the hash of each Pipenv.
    let app = App::fixture("pipenv-lock-2026");
    app.replace(
        "Pipfile",
        "Gunicorn = \"==23.0.0\"",
        "Gunicorn = \"==23.0.0\"\nSix = \"*\"",
    );
    let (normalized, as_written) = pipfile_hashes(&app.read("Pipfile"));
    let log = Image::new("pipenv-lock-2026-changed").build_fails(&app);
    assert_contains(
        &log,
        &format!(
            "! ERROR: Pipfile.lock is out of date\n!\n! Pipfile.lock was generated for a different Pipfile: it records the Pipfile\n! hash 5218c4d65eae721923b255ca66cb7fae4a31db04efe0319bc7dc65e0c5a9baac, the\n! Pipfile now hashes to\n! {normalized} (Pipenv\n! 2026.4 and later) or\n! {as_written} (Pipenv\n! before 2026.4) (what `pipenv install --deploy` refuses).\n!\n! How to fix:\n!   Run `pipenv lock` and commit Pipfile.lock.\n"
        ),
    );
}

/// `PIPENV_PYPI_MIRROR` replaces a source Pipenv treats as PyPI however it is spelled: the
/// fixture's lock (made by Pipenv 2026.10.3) names `https://pypi.python.org/simple/`. The
/// mirror is the loopback private index behind basic auth: without credentials in the
/// mirror URL the install is refused by that index (so the mirror, not PyPI, was asked);
/// with them it installs and the app serves.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pypi_mirror_replaces_every_spelling_of_pypi() {
    let index = private_index::PrivateIndex::with_secret(None);
    let app = App::fixture("pipenv-pypi-spelling");
    let log = Image::new("pipenv-mirror-denied")
        .env("PIPENV_PYPI_MIRROR", &index.url(None))
        .build_fails(&app);
    assert_contains(
        &log,
        &format!(
            "! ERROR: Could not install the packages in Pipfile.lock\n!\n! The package index rejected the credentials:\n! hint: An index URL (http://127.0.0.1:{}/simple) could not be queried due to a lack of valid authentication credentials (401 Unauthorized)\n!\n! How to fix:\n!   Check the user name and password (or token) given to the build:\n!   PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / UV_INDEX_<NAME>_USERNAME and _PASSWORD\n!   / POETRY_HTTP_BASIC_<SOURCE>_USERNAME and _PASSWORD, or a netrc file. They\n!   are used at build time only.\n",
            index.port
        ),
    );

    let image = Image::new("pipenv-mirror").env(
        "PIPENV_PYPI_MIRROR",
        &index.url(Some((private_index::USER, private_index::SECRET))),
    );
    let log = image.build_ok(&app);
    assert_contains(&log, "Running uv pip sync --require-hashes");
    image.assert_serves();
}
