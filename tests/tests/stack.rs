//! The stack: base images and builder as the platform spec and kpack need them.

use blacklodge_tests::{
    App, Image, assert_contains, assert_not_contains, docker_run_offline,
    inspect_format as inspect, output_text, purls, stacks,
};
use std::process::Command;

/// Every buildpack the builder and the packaged composite carry.
const ALL_BUILDPACKS: [&str; 9] = [
    "blacklodge/python-app",
    "blacklodge/python",
    "blacklodge/uv",
    "blacklodge/poetry",
    "blacklodge/pipenv",
    "blacklodge/pip",
    "blacklodge/web",
    "blacklodge/wrapper",
    "blacklodge/procfile",
];

/// A bash script in `image` itself (no launcher), offline: (success, stdout+stderr).
fn shell(image: &str, script: &str) -> (bool, String) {
    let output = docker_run_offline(&[image, "bash", "-c", script]);
    (output.status.success(), output_text(&output))
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn build_images_have_the_cnb_user_and_env() {
    for stack in stacks() {
        let image = &stack.build_image();
        let env = inspect(image, "{{json .Config.Env}}");
        for expected in [
            "CNB_USER_ID=1000",
            "CNB_GROUP_ID=1000",
            &format!("CNB_STACK_ID={}", stack.stack_id()),
            "PATH=/usr/local/sbin:",
        ] {
            assert_contains(&env, expected);
        }
        assert_eq!(
            inspect(image, "{{index .Config.Labels \"io.buildpacks.stack.id\"}}"),
            stack.stack_id()
        );
        let (ok, output) = shell(
            image,
            "id -u; id -g; echo $HOME; test -w $HOME && echo writable; command -v gcc; . /etc/os-release; echo $VERSION_ID",
        );
        assert!(ok, "{output}");
        assert_eq!(
            output,
            format!(
                "1000\n1000\n/home/cnb\nwritable\n/usr/bin/gcc\n{}\n",
                stack.version
            ),
            "{image}"
        );
    }
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn run_images_are_small_non_root_and_labelled() {
    for stack in stacks() {
        let image = &stack.run_image();
        assert_eq!(inspect(image, "{{.Config.User}}"), "1000:1000");
        let labels = inspect(image, "{{json .Config.Labels}}");
        for expected in [
            "\"io.buildpacks.base.distro.name\":\"debian\"".to_string(),
            format!(
                "\"io.buildpacks.base.distro.version\":\"{}\"",
                stack.version
            ),
            "\"io.buildpacks.rebasable\":\"true\"".to_string(),
            format!("\"io.buildpacks.stack.id\":\"{}\"", stack.stack_id()),
        ] {
            assert_contains(&labels, &expected);
        }
        // The distro labels match os-release, as the platform spec asks.
        let (_, os_release) = shell(image, "grep -E '^(ID|VERSION_ID)=' /etc/os-release | sort");
        assert_eq!(
            os_release,
            format!("ID=debian\nVERSION_ID=\"{}\"\n", stack.version)
        );
        let (has_compiler, _) = shell(image, "command -v gcc || command -v cc || command -v make");
        assert!(!has_compiler, "no compilers in {image}");
        // Host CA certificates (a TLS-intercepting proxy's, for instance) are trusted.
        let (ok, _) = shell(image, "test -s /etc/ssl/certs/ca-certificates.crt");
        assert!(ok);
    }
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn builders_compose_our_buildpacks_on_their_stack() {
    for stack in stacks() {
        let builder = stack.builder();
        let metadata = inspect(
            &builder,
            "{{index .Config.Labels \"io.buildpacks.builder.metadata\"}}",
        );
        for id in ALL_BUILDPACKS {
            assert_contains(&metadata, &format!("\"id\":\"{id}\""));
        }
        assert_contains(&metadata, &format!("\"{}\"", stack.run_image()));
        assert_eq!(
            inspect(
                &builder,
                "{{index .Config.Labels \"io.buildpacks.stack.id\"}}"
            ),
            stack.stack_id()
        );
        assert_contains(
            &inspect(&builder, "{{json .Config.Env}}"),
            &format!("CNB_STACK_ID={}", stack.stack_id()),
        );
        for other in stacks().iter().filter(|other| **other != stack) {
            assert_not_contains(&metadata, &other.run_image());
        }
    }
}

/// `package.toml` packages the composite into one `.cnb` that pack can build with.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn package_toml_makes_a_usable_buildpack_file() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = tempfile::tempdir().expect("tempdir");
    let cnb = work.path().join("blacklodge-python-app.cnb");
    let output = Command::new("pack")
        .current_dir(&repo)
        .args(["buildpack", "package"])
        .arg(&cnb)
        .args(["--config", "package.toml", "--format", "file"])
        .output()
        .expect("pack runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let inspect = Command::new("pack")
        .args(["buildpack", "inspect"])
        .arg(&cnb)
        .output()
        .expect("pack runs");
    let listing = String::from_utf8_lossy(&inspect.stdout);
    for id in ALL_BUILDPACKS {
        assert_contains(&listing, id);
    }

    let app = blacklodge_tests::App::fixture("python-only");
    let image =
        blacklodge_tests::Image::new("cnb-file").buildpack(cnb.to_str().expect("utf-8 path"));
    let log = image.build_ok(&app);
    assert_contains(&log, "## Blacklodge Python");
    assert_contains(&log, "## Blacklodge Procfile");
}

/// The lifecycle the bench builds from source carries its own SBOM files, as release
/// tarballs do: the exporter finds them (no "Did not find SBOM" warnings, six per build
/// without them) and puts the launcher's into the image. pack gets a volume key, so it
/// does not warn that PACK_VOLUME_KEY is unset. (pack's warning about running in a
/// container without `--pull-policy=always` stays: the bench cannot pull; docs/bench.md.)
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn build_log_has_no_lifecycle_sbom_or_volume_key_warnings() {
    let app = App::fixture("python-only");
    let image = Image::new("stack-quiet-log");
    let log = image.build_ok(&app);
    assert_not_contains(&log, "Did not find SBOM");
    assert_not_contains(&log, "PACK_VOLUME_KEY");
    let launcher = image.launch_sbom("buildpacksio_lifecycle", "launcher");
    assert_eq!(launcher["bomFormat"], "CycloneDX");
    assert_eq!(launcher["metadata"]["component"]["name"], "launcher");
    let purls = purls(&launcher);
    assert!(
        purls
            .iter()
            .any(|purl| purl.starts_with("pkg:golang/github.com/BurntSushi/toml@v")),
        "{purls:?}"
    );
}
