//! The second stack (Debian 13, trixie) next to the default one (Debian 12, bookworm): apps
//! build and run with its builder, the buildpack binaries run on every stack, and the runtime
//! buildpack picks CPython archives by the stack's distribution (the manifest's `distros`),
//! with clear errors when a version or a whole distribution has no build, or when the build
//! and run images are of different releases.

use blacklodge_tests::{
    App, Image, Stack, assert_contains, assert_not_contains, mirror_archive, mirror_archives,
    output_text, stack, stacks,
};
use std::process::Command;
use std::time::Duration;

fn trixie() -> Stack {
    stack("trixie")
}

fn debian(version: &str) -> serde_json::Value {
    serde_json::json!({"name": "debian", "version": version})
}

/// `archive` for these Debian releases only, its URL tagged with `tag` (the mirror ignores
/// the query, the build log shows it).
fn for_releases(archive: &serde_json::Value, releases: &[&str], tag: &str) -> serde_json::Value {
    let mut entry = archive.clone();
    entry["distros"] = releases.iter().map(|release| debian(release)).collect();
    entry["url"] = format!("{}?{tag}", archive["url"].as_str().expect("url")).into();
    entry
}

/// Writes a manifest with `archives` into the app; returns its path in the build.
fn app_manifest(app: &App, archives: &[serde_json::Value]) -> String {
    app.write(
        ".python/manifest.json",
        &serde_json::json!({ "archives": archives }).to_string(),
    );
    "/workspace/.python/manifest.json".to_string()
}

/// The mirror checks every archive on every stack's run image (bench/steps/python.sh): the
/// Debian 12 builds run unchanged on Debian 13, so both are offered on both stacks.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn the_mirror_offers_each_archive_on_the_stacks_it_runs_on() {
    let every_stack: Vec<serde_json::Value> = stacks()
        .iter()
        .map(|stack| debian(&stack.version))
        .collect();
    let archives = mirror_archives();
    assert!(!archives.is_empty());
    for archive in archives {
        assert_eq!(
            archive["distros"].as_array().expect("distros"),
            &every_stack,
            "{archive}"
        );
    }
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pip_app_builds_and_serves_on_trixie() {
    let app = App::fixture("examples/flask-hello");
    let image = Image::new("trixie-pip").stack(&trixie());
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Python 3.11.2 (3.11 requested in .python-version)\n",
    );
    assert_contains(&log, "## Blacklodge pip\n");
    assert_contains(&log, " + flask==3.1.2\n");

    let container = image.start(None, &[]);
    let response = container.get("/");
    assert_eq!(response.status, 200, "{}", response.body);
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
    assert_eq!(body["message"], "Hello from a Blacklodge-built image!");
    // The app image is the trixie run image, and the CNB target said so to the buildpacks.
    assert_eq!(
        image
            .shell_ok(
                ". /etc/os-release; echo $VERSION_CODENAME $VERSION_ID; ldd --version | head -n 1"
            )
            .lines()
            .next(),
        Some("trixie 13")
    );
    assert_eq!(
        blacklodge_tests::inspect_format(
            &image.name,
            "{{index .Config.Labels \"io.buildpacks.base.distro.version\"}}"
        ),
        "13"
    );
    // The venv's compiled packages (markupsafe's speedups) load against trixie's libraries.
    assert_eq!(
        image
            .shell_ok("python -c 'import markupsafe._speedups, ssl, sqlite3; print(\"ok\")'")
            .trim(),
        "ok"
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn wrapped_function_serves_on_trixie_with_python_313() {
    let app = App::fixture("wrapper-function");
    app.write(".python-version", "3.13\n");
    let image = Image::new("trixie-wrapper").stack(&trixie());
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Python 3.13.5 (3.13 requested in .python-version)\n",
    );
    assert_contains(&log, "## Blacklodge wrapper\n");
    assert_contains(
        &log,
        "  - web: /layers/blacklodge_wrapper/harness/bin/blacklodge web (default)\n",
    );

    let container = image.start(None, &[]);
    container.wait_until_ready(Duration::from_mins(1));
    let response = container.request(
        "POST",
        "/predict",
        &[
            ("Content-Type", "application/json"),
            ("X-Request-ID", "t-1"),
        ],
        Some(br#"{"values": [1, 2, 3]}"#),
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
    assert_eq!(body, serde_json::json!({"sum": 6, "request_id": "t-1"}));
    assert_eq!(
        image
            .shell_ok("python -c 'import platform, sys; print(sys.version.split()[0], platform.freedesktop_os_release()[\"VERSION_ID\"])'")
            .trim(),
        "3.13.5 13"
    );
}

/// Every buildpack binary of every stack's builder starts on that stack (they are linked
/// dynamically against glibc, built on Debian 12; Debian 13's glibc is newer): run as
/// `detect` without arguments, each reaches libcnb's own usage message, and no shared object
/// under /cnb/buildpacks misses a library.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn buildpack_binaries_run_on_every_stack() {
    let script = r#"
        set -eu
        count=0
        for detect in /cnb/buildpacks/*/*/bin/detect; do
          dir="${detect%/bin/detect}"
          out="$(CNB_BUILDPACK_DIR="$dir" "$detect" 2>&1 || true)"
          echo "$dir: $out"
          count=$((count + 1))
        done
        echo "binaries: $count"
        find /cnb/buildpacks -type f -exec sh -c 'file=$1; head -c 4 "$file" | grep -q ELF && ldd "$file" | grep "not found" | sed "s|^|$file: |"' _ {} \;
    "#;
    for stack in stacks() {
        let output = Command::new("docker")
            .args(["run", "--rm", "--network", "none", "--entrypoint", "bash"])
            .arg(stack.builder())
            .args(["-c", script])
            .output()
            .expect("docker runs");
        let text = output_text(&output);
        assert!(output.status.success(), "{}: {text}", stack.suite);
        let components = text
            .lines()
            .filter(|line| line.starts_with("/cnb/buildpacks/"))
            .count();
        assert!(components >= 8, "{}: {text}", stack.suite);
        assert_eq!(
            text.matches(": Usage: detect <platform_dir> <buildplan>\n")
                .count(),
            components,
            "{}: every binary runs\n{text}",
            stack.suite
        );
        assert_contains(&text, &format!("binaries: {components}\n"));
        assert_not_contains(&text, "not found");
        assert_not_contains(&text, "GLIBC_");
    }
}

/// The same version built twice, once per release: each stack gets its own.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn each_stack_gets_the_archive_built_for_its_release() {
    let archive = mirror_archive("3.13.5");
    for stack in stacks() {
        let app = App::fixture("python-only");
        app.write(".python-version", "3.13\n");
        let manifest = app_manifest(
            &app,
            &stacks()
                .iter()
                .map(|other| {
                    for_releases(&archive, &[&other.version], &format!("for={}", other.suite))
                })
                .collect::<Vec<_>>(),
        );
        let image = Image::new("stack-pick")
            .stack(&stack)
            .env("BP_PYTHON_MANIFEST_URL", &manifest);
        let log = image.build_ok(&app);
        assert_contains(
            &log,
            &format!(
                "  - Downloading Python 3.13.5 from {}?for={} ... done",
                archive["url"].as_str().expect("url"),
                stack.suite
            ),
        );
        assert_eq!(log.matches("?for=").count(), 1, "{log}");
    }
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn a_version_without_a_build_for_the_stack_is_refused_with_the_way_out() {
    let app = App::fixture("python-only");
    let manifest = app_manifest(
        &app,
        &[
            for_releases(&mirror_archive("3.11.2"), &["12"], "only-12"),
            for_releases(&mirror_archive("3.13.5"), &["12", "13"], "both"),
        ],
    );
    let log = Image::new("stack-missing-version")
        .stack(&trixie())
        .env("BP_PYTHON_MANIFEST_URL", &manifest)
        .build_fails(&app);
    assert_contains(
        &log,
        "\
! ERROR: Python 3.11 is not built for debian 13
!
! .python-version asks for Python 3.11. The manifest
! (/workspace/.python/manifest.json) has it for debian 12 only, not for this
! stack's distribution, debian 13.
! Available on debian 13: 3.13.5.
!
! How to fix:
!   Build with the builder of a debian 12 stack (Blacklodge has one builder per
!   Debian release), or request a version available on debian 13 in
!   .python-version.
!   With your own manifest (BP_PYTHON_MANIFEST_URL), add a build of it for
!   debian 13.
",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn a_manifest_without_builds_for_the_stack_is_refused() {
    let app = App::fixture("python-only");
    let manifest = app_manifest(
        &app,
        &[for_releases(&mirror_archive("3.11.2"), &["12"], "only-12")],
    );
    let log = Image::new("stack-no-builds")
        .stack(&trixie())
        .env("BP_PYTHON_MANIFEST_URL", &manifest)
        .build_fails(&app);
    assert_contains(
        &log,
        "\
! ERROR: No Python builds for debian 13
!
! The manifest (/workspace/.python/manifest.json) has no CPython archive that
! runs on this stack's distribution, debian 13 (the run image's
! io.buildpacks.base.distro labels).
! Its archives are built for: debian 12.
!
! How to fix:
!   Build with the builder of a stack whose distribution the manifest has
!   archives for, or add archives built for debian 13 to your manifest
!   (BP_PYTHON_MANIFEST_URL); archives without \"distros\" run on any
!   distribution.
",
    );
}

/// A run image of another release than the builder's: refused before anything is installed.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn a_run_image_of_another_release_is_refused() {
    let default = &stacks()[0];
    let log = Image::new("stack-mismatch")
        .stack(&trixie())
        .run_image(&default.run_image())
        .build_fails(&App::fixture("python-only"));
    assert_contains(
        &log,
        &format!(
            "\
! ERROR: The build and run images are different distributions
!
! This build runs on debian 13 (the build image's /etc/os-release), but the app
! image will run on debian {v} (the run image's io.buildpacks.base.distro
! labels).
! Python would be chosen for debian {v} while packages are compiled against
! debian 13's libraries: the image could fail at start.
!
! How to fix:
!   Use the run image of the builder's own stack: drop the run image override
!   (`pack build --run-image`), or build with the builder of the stack you want
!   to run on (Blacklodge has one builder per Debian release).
",
            v = default.version
        ),
    );
    assert_not_contains(&log, "Installing Python");
}
