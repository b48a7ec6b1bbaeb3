//! The daemon-less flow of kpack and the Tekton `buildpacks` task: the builder and run image
//! come from an OCI registry, the lifecycle's `creator` runs inside the builder image as the
//! CNB user (uid 1000), and the app image is exported straight to the registry.

use blacklodge_tests::{
    App, Container, Pulled, assert_contains, builder, free_port, mirror_url, registry,
};
use std::os::unix::fs::chown;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "docker {args:?} failed:\n{text}");
    text
}

/// Copies a local image into the registry and returns its registry reference.
fn push(local: &str, repository: &str) -> String {
    let reference = format!("{}/{repository}", registry());
    docker(&["tag", local, &reference]);
    docker(&["push", &reference]);
    docker(&["image", "rm", &reference]);
    reference
}

fn owned_by_cnb_user(path: &Path) {
    for entry in walk(path) {
        chown(&entry, Some(1000), Some(1000)).expect("chown to the CNB user");
    }
}

fn walk(path: &Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![path.to_path_buf()];
    if path.is_dir() {
        for entry in fs_err::read_dir(path).expect("readable") {
            found.extend(walk(&entry.expect("entry").path()));
        }
    }
    found
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn creator_in_the_builder_image_exports_to_a_registry() {
    let tag = format!("{}-{}", std::process::id(), free_port());
    let builder_ref = push(&builder(), &format!("blacklodge/builder:test-{tag}"));
    let run_ref = push(
        &blacklodge_tests::stacks()[0].run_image(),
        &format!("blacklodge/run:test-{tag}"),
    );
    let app_ref = format!("{}/blacklodge-test-tekton:{tag}", registry());
    let _cleanup = Pulled(vec![builder_ref.clone(), run_ref.clone(), app_ref.clone()]);

    let app = App::fixture("examples/flask-hello");
    let work = tempfile::tempdir().expect("tempdir");
    let layers = work.path().join("layers");
    let platform_env = work.path().join("platform/env");
    fs_err::create_dir_all(&layers).expect("layers dir");
    fs_err::create_dir_all(&platform_env).expect("platform env dir");
    // Build-time variables reach buildpacks as files in <platform>/env, as in Tekton.
    fs_err::write(
        platform_env.join("BP_PYTHON_MANIFEST_URL"),
        format!("{}/manifest.json", mirror_url()),
    )
    .expect("env file");
    owned_by_cnb_user(work.path());
    owned_by_cnb_user(app.path());

    let output = Command::new("docker")
        .args(["run", "--rm", "--network", "host", "--user", "1000:1000"])
        .args(["--volume", &format!("{}:/workspace", app.path().display())])
        .args(["--volume", &format!("{}:/layers", layers.display())])
        .args([
            "--volume",
            &format!("{}:/platform", work.path().join("platform").display()),
        ])
        .args(["--env", "CNB_PLATFORM_API=0.13", "--pull", "always"])
        .arg(&builder_ref)
        .args([
            "/cnb/lifecycle/creator",
            "-app=/workspace",
            "-layers=/layers",
            "-platform=/platform",
        ])
        .arg(format!("-run-image={run_ref}"))
        .arg(&app_ref)
        .output()
        .expect("docker runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "creator failed:\n{log}");
    assert_contains(&log, "## Blacklodge pip");
    assert_contains(&log, &format!("Saving {app_ref}..."));

    // The image is in the registry (not in the daemon): pull and run it.
    docker(&["pull", &app_ref]);
    let container = Container::start(&app_ref, None, &[]);
    container.wait_until_listening(Duration::from_mins(1));
    let response = container.request("GET", "/", &[], None);
    assert_eq!(response.status, 200);
    assert_contains(&response.body, "Hello from a Blacklodge-built image!");
    let metadata = docker(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"io.buildpacks.lifecycle.metadata\"}}",
        &app_ref,
    ]);
    // Rebase-ready: the run image is recorded by its registry digest.
    assert_contains(
        &metadata,
        &format!("\"reference\":\"{}/blacklodge/run@sha256:", registry()),
    );
}
