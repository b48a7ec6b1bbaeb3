//! What a platform team runs, end to end against the bench's registry: `bench/publish` (every
//! stack's build image, run image and builder, and the composite buildpack), `pack build
//! --publish` and `pack rebase`, the steps of the Tekton catalog's `buildpacks` task, and the
//! lifecycle phases of a kpack build pod (from kpack's own pod generator), each app image
//! pulled from the registry and run.

use blacklodge_tests::{
    App, Container, Pulled, assert_contains, free_port, inspect_format, mirror_url, output_text,
    registry,
};
use std::collections::BTreeMap;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository")
}

/// The suites of the stacks every builder is published for (`BLACKLODGE_STACKS`).
fn stacks() -> Vec<String> {
    blacklodge_tests::stacks()
        .into_iter()
        .map(|stack| stack.suite)
        .collect()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), free_port())
}

/// Runs a command; (success, stdout+stderr).
fn run(command: &mut Command) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("could not run {command:?}: {error}"));
    (output.status.success(), output_text(&output))
}

fn run_ok(command: &mut Command) -> String {
    let description = format!("{command:?}");
    let (success, text) = run(command);
    assert!(success, "{description} failed:\n{text}");
    text
}

fn docker(args: &[&str]) -> String {
    run_ok(Command::new("docker").args(args))
}

fn platform_tool(args: &[&str]) -> String {
    run_ok(Command::new("blacklodge-platform").args(args))
        .trim()
        .to_string()
}

/// What `bench/publish` printed, and the prefix it published under.
struct Published {
    prefix: String,
    log: String,
}

impl Published {
    fn builder(&self) -> String {
        format!("{}/builder:{}", self.prefix, stacks()[0])
    }
}

/// Publishes once per test binary, under a prefix of its own in the bench's registry.
fn published() -> &'static Published {
    static PUBLISHED: OnceLock<Published> = OnceLock::new();
    PUBLISHED.get_or_init(|| {
        let prefix = format!("{}/platform/{}", registry(), unique("publish"));
        let log = run_ok(
            Command::new(repo().join("bench/publish"))
                .env("BLACKLODGE_PUBLISH_REGISTRY", &prefix)
                .env("NO_COLOR", "1"),
        );
        Published { prefix, log }
    })
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    chown(path, Some(uid), Some(gid)).expect("chown");
    if path.is_dir() && !path.is_symlink() {
        for entry in fs_err::read_dir(path).expect("readable") {
            chown_tree(&entry.expect("entry").path(), uid, gid);
        }
    }
}

fn copy_app(app: &App, dest: &Path) {
    blacklodge_tests::copy_dir(app.path(), dest);
}

/// Pulls an app image from the registry, runs it and checks the Flask example answers.
fn assert_registry_image_serves(reference: &str) {
    docker(&["pull", reference]);
    let container = Container::start(reference, None, &[]);
    container.wait_until_listening(Duration::from_mins(1));
    let response = container.request("GET", "/", &[], None);
    assert_eq!(response.status, 200, "{}", container.logs());
    assert_contains(&response.body, "Hello from a Blacklodge-built image!");
}

fn label(reference: &str, key: &str) -> String {
    inspect_format(
        reference,
        &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
    )
}

/// `bench/publish` pushes every stack's build image, run image and builder and the composite
/// buildpack, and prints for each the digest the registry serves; the `.cnb` file is a
/// buildpackage pack reads, with the composite and every component.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn publish_pushes_every_stack_and_the_composite_with_their_digests() {
    let published = published();
    let version = toml::from_str::<toml::Value>(
        &fs_err::read_to_string(repo().join("meta-buildpack/buildpack.toml")).expect("read"),
    )
    .expect("toml")["buildpack"]["version"]
        .as_str()
        .expect("version")
        .to_string();
    let mut names: Vec<String> = stacks()
        .iter()
        .flat_map(|stack| {
            ["build", "run", "builder"].map(|kind| format!("{}/{kind}:{stack}", published.prefix))
        })
        .collect();
    names.push(format!("{}/python-app:{version}", published.prefix));
    let (_, summary) = published
        .log
        .split_once("\nPublished:\n")
        .unwrap_or_else(|| panic!("no summary in:\n{}", published.log));
    for name in &names {
        let digest = platform_tool(&["digest", name]);
        assert!(digest.starts_with("sha256:"), "{digest}");
        assert_contains(summary, &format!("  {name}@{digest}\n"));
    }
    let cnb = repo().join(format!("packaged/blacklodge-python-app-{version}.cnb"));
    assert_contains(summary, &format!("  {} sha256:", cnb.display()));
    let inspect = run_ok(
        Command::new("pack")
            .args(["buildpack", "inspect"])
            .arg(&cnb),
    );
    for id in [
        "blacklodge/python-app",
        "blacklodge/python",
        "blacklodge/pip",
        "blacklodge/web",
    ] {
        assert_contains(&inspect, id);
    }
    // The builder's run image is the registry's, so apps built with it rebase from there.
    let builder = published.builder();
    let _pulled = Pulled(vec![builder.clone()]);
    docker(&["pull", &builder]);
    let metadata = label(&builder, "io.buildpacks.builder.metadata");
    assert_contains(
        &metadata,
        &format!("\"image\":\"{}/run:{}\"", published.prefix, stacks()[0]),
    );
}

/// An unreachable registry stops the publishing before anything is built, saying which
/// registry, why and how to fix it.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn publish_to_an_unreachable_registry_fails_clearly() {
    let port = free_port();
    let (success, log) = run(Command::new(repo().join("bench/publish"))
        .env(
            "BLACKLODGE_PUBLISH_REGISTRY",
            format!("127.0.0.1:{port}/team"),
        )
        .env("NO_COLOR", "1"));
    assert!(!success, "{log}");
    assert_contains(
        &log,
        &format!(
            "error: cannot push to 127.0.0.1:{port}/team/builder\n  why: the registry 127.0.0.1:{port} cannot be reached: "
        ),
    );
    assert_contains(
        &log,
        "connect: connection refused\n  fix: check the registry host and port (BLACKLODGE_PUBLISH_REGISTRY for bench/publish), that it is running and reachable from here, and that its TLS certificate is trusted (docs/platform.md, \"Registry CA\")\n",
    );
    assert!(!log.contains("Pushing"), "{log}");
}

/// A registry that requires a login refuses the publishing with the fix (`docker login`).
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn publish_without_credentials_fails_clearly() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    fs_err::copy(
        repo().join("tests/fixtures/registry-auth/htpasswd"),
        dir.path().join("htpasswd"),
    )
    .expect("htpasswd");
    fs_err::write(
        dir.path().join("config.yml"),
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}/data\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: blacklodge-test\n    path: {}/htpasswd\n",
            dir.path().display(),
            dir.path().display()
        ),
    )
    .expect("config");
    let mut server = Command::new("docker-registry")
        .args(["serve"])
        .arg(dir.path().join("config.yml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker-registry starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the registry did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // No credentials: an empty Docker configuration.
    let docker_config = tempfile::tempdir().expect("tempdir");
    let (success, log) = run(Command::new(repo().join("bench/publish"))
        .env(
            "BLACKLODGE_PUBLISH_REGISTRY",
            format!("127.0.0.1:{port}/team"),
        )
        .env("DOCKER_CONFIG", docker_config.path())
        .env("NO_COLOR", "1"));
    let _ = server.kill();
    let _ = server.wait();
    assert!(!success, "{log}");
    assert_contains(
        &log,
        &format!(
            "error: cannot push to 127.0.0.1:{port}/team/builder\n  why: the registry 127.0.0.1:{port} refused the credentials (HTTP 401): "
        ),
    );
    assert_contains(
        &log,
        &format!(
            "\n  fix: log in with an account that may do this: docker login 127.0.0.1:{port} (docker, pack and this tool read ~/.docker/config.json)\n"
        ),
    );
}

/// `pack build --publish` with the published builder writes the app to the registry; after
/// the run image is rebuilt (a security update), `pack rebase` puts the app on it without a
/// build: the app's layers are unchanged, the new base is in, and the app still serves.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pack_build_publish_then_rebase_onto_a_rebuilt_run_image() {
    let published = published();
    let tag = unique("rebase");
    // A run image of this test's own, so rebuilding it disturbs no other test.
    let run_image = format!("{}/platform/run-image:{tag}", registry());
    let app_image = format!("{}/platform/rebase-app:{tag}", registry());
    let stock_run = format!("{}/run:{}", published.prefix, stacks()[0]);
    let _pulled = Pulled(vec![
        run_image.clone(),
        app_image.clone(),
        stock_run.clone(),
        published.builder(),
    ]);
    docker(&["pull", &stock_run]);
    docker(&["tag", &stock_run, &run_image]);
    docker(&["push", &run_image]);

    let app = App::fixture("examples/flask-hello");
    let log = run_ok(
        Command::new("pack")
            .args(["build", &app_image, "--builder", &published.builder()])
            .args(["--run-image", &run_image, "--publish", "--path"])
            .arg(app.path())
            .args([
                "--network",
                "host",
                "--pull-policy",
                "always",
                "--trust-builder",
            ])
            .args([
                "--env",
                &format!("BP_PYTHON_MANIFEST_URL={}/manifest.json", mirror_url()),
            ])
            .env("NO_COLOR", "1"),
    );
    assert_contains(&log, &format!("Saving {app_image}..."));
    assert_registry_image_serves(&app_image);
    let before: Vec<String> =
        serde_json::from_str(&inspect_format(&app_image, "{{json .RootFS.Layers}}"))
            .expect("layers");
    let base_before: Vec<String> =
        serde_json::from_str(&inspect_format(&run_image, "{{json .RootFS.Layers}}"))
            .expect("layers");
    assert_eq!(before[..base_before.len()], base_before[..]);

    // The run image, rebuilt: one more layer (as a package update would add), committed from a
    // container so no intermediate image is left behind.
    let updater = unique("run-image-update");
    docker(&[
        "run",
        "--name",
        &updater,
        "--network",
        "none",
        "--user",
        "0",
        "--entrypoint",
        "sh",
        &run_image,
        "-c",
        &format!("echo {tag} > /etc/blacklodge-run-image-update"),
    ]);
    docker(&["commit", "--change", "USER 1000:1000", &updater, &run_image]);
    docker(&["rm", &updater]);
    docker(&["push", &run_image]);
    let base_after: Vec<String> =
        serde_json::from_str(&inspect_format(&run_image, "{{json .RootFS.Layers}}"))
            .expect("layers");

    let log = run_ok(
        Command::new("pack")
            .args(["rebase", &app_image, "--publish", "--pull-policy", "always"])
            .env("NO_COLOR", "1"),
    );
    assert_contains(
        &log,
        &format!("Rebasing '{app_image}' on run image '{run_image}'"),
    );
    docker(&["image", "rm", "-f", &app_image]);
    docker(&["pull", &app_image]);
    let after: Vec<String> =
        serde_json::from_str(&inspect_format(&app_image, "{{json .RootFS.Layers}}"))
            .expect("layers");
    assert_eq!(after[..base_after.len()], base_after[..], "new base");
    assert_eq!(
        after[base_after.len()..],
        before[base_before.len()..],
        "the app's layers are kept as they were"
    );
    let marker = run_ok(Command::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "cat",
        &app_image,
        "/etc/blacklodge-run-image-update",
    ]));
    assert_eq!(marker.trim(), tag);
    assert_registry_image_serves(&app_image);
}

/// A directory standing in for one of a pod's volumes.
struct Volumes {
    root: tempfile::TempDir,
}

impl Volumes {
    fn new() -> Self {
        Self {
            root: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        let path = self.root.path().join(name);
        fs_err::create_dir_all(&path).expect("volume dir");
        path
    }
}

/// Runs one container of a pod: `image` with `command` + `args`, as `uid:gid`, the given env
/// and volume mounts (mount path → host dir), on the host network (the registry is on
/// loopback).
fn run_step(
    image: &str,
    user: (u32, u32),
    command: &[String],
    args: &[String],
    env: &BTreeMap<String, String>,
    mounts: &[(String, PathBuf)],
) -> (bool, String) {
    let mut docker = Command::new("docker");
    docker
        .args(["run", "--rm", "--network", "host"])
        .args(["--user", &format!("{}:{}", user.0, user.1)]);
    for (path, host) in mounts {
        docker.args(["--volume", &format!("{}:{path}", host.display())]);
    }
    for (key, value) in env {
        docker.args(["--env", &format!("{key}={value}")]);
    }
    docker
        .args(["--entrypoint", &command[0]])
        .arg(image)
        .args(&command[1..])
        .args(args);
    run(&mut docker)
}

/// The app image's digest in the lifecycle's report.toml.
fn report_digest(report: &Path) -> String {
    let text = fs_err::read_to_string(report).expect("report.toml");
    let value: toml::Value = toml::from_str(&text).expect("report is TOML");
    value["image"]["digest"]
        .as_str()
        .expect("digest in the report")
        .to_string()
}

/// What the Tekton catalog's `buildpacks` task (0.6) does, step by step: `prepare` gives the
/// workspaces to the task's user and writes ENV_VARS as files in /platform/env; `create` runs
/// the lifecycle's creator in the builder image with the task's flags, as uid/gid 1000,
/// CNB_PLATFORM_API 0.9, the registry credentials from the dockerconfig workspace and the
/// cache in a registry image; `results` reads the digest from report.toml. The image is then
/// pulled from the registry and serves; a second run reuses the cache image.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn tekton_buildpacks_task_steps_build_and_push_to_the_registry() {
    let published = published();
    let tag = unique("tekton");
    let app_image = format!("{}/platform/tekton-app:{tag}", registry());
    let cache_image = format!("{}/platform/tekton-app-cache:{tag}", registry());
    let _pulled = Pulled(vec![app_image.clone(), published.builder()]);
    let source_repository = "https://github.com/pcdst/greeter";
    let revision = "0123456789abcdef0123456789abcdef01234567";
    let env_vars = [
        format!("BP_PYTHON_MANIFEST_URL={}/manifest.json", mirror_url()),
        format!("BP_OCI_SOURCE={source_repository}"),
        format!("BP_OCI_REVISION={revision}"),
    ];
    let (uid, gid) = (1000, 1000);

    let build = |volumes: &Volumes| {
        // prepare (the task runs it as root): ownership, then the env files.
        let source = volumes.path("source");
        for path in ["home", "layers"] {
            chown_tree(&volumes.path(path), uid, gid);
        }
        chown_tree(&source, uid, gid);
        let env_dir = volumes.path("platform").join("env");
        fs_err::create_dir_all(&env_dir).expect("env dir");
        for pair in &env_vars {
            let (key, value) = pair.split_once('=').expect("K=V");
            fs_err::write(env_dir.join(key), value).expect("env file");
        }
        let dockerconfig = volumes.path("dockerconfig");
        fs_err::write(dockerconfig.join("config.json"), "{}").expect("config.json");
        // create
        let args: Vec<String> = [
            "-app=/workspace/source/".to_string(),
            "-cache-dir=".to_string(),
            format!("-cache-image={cache_image}"),
            format!("-uid={uid}"),
            format!("-gid={gid}"),
            "-layers=/layers".to_string(),
            "-platform=/platform".to_string(),
            "-report=/layers/report.toml".to_string(),
            "-process-type=web".to_string(),
            "-skip-restore=false".to_string(),
            format!("-previous-image={app_image}"),
            "-run-image=".to_string(),
            app_image.clone(),
        ]
        .into();
        let env = BTreeMap::from([
            ("CNB_PLATFORM_API".to_string(), "0.9".to_string()),
            (
                "DOCKER_CONFIG".to_string(),
                "/workspace/dockerconfig".to_string(),
            ),
        ]);
        let mounts = vec![
            ("/workspace/source".to_string(), source),
            ("/workspace/dockerconfig".to_string(), dockerconfig),
            ("/layers".to_string(), volumes.path("layers")),
            ("/platform".to_string(), volumes.path("platform")),
            ("/tekton/home".to_string(), volumes.path("home")),
        ];
        docker(&["pull", &published.builder()]);
        let (success, log) = run_step(
            &published.builder(),
            (uid, gid),
            &["/cnb/lifecycle/creator".to_string()],
            &args,
            &env,
            &mounts,
        );
        assert!(success, "creator failed:\n{log}");
        // results
        (
            log,
            report_digest(&volumes.path("layers").join("report.toml")),
        )
    };

    let app = App::fixture("examples/flask-hello");
    let first = Volumes::new();
    copy_app(&app, &first.path("source"));
    let (log, digest) = build(&first);
    assert_contains(&log, "## Blacklodge pip");
    assert_contains(&log, &format!("Saving {app_image}..."));
    assert_eq!(digest, platform_tool(&["digest", &app_image]));
    assert!(platform_tool(&["digest", &cache_image]).starts_with("sha256:"));
    assert_registry_image_serves(&app_image);
    assert_eq!(
        label(&app_image, "org.opencontainers.image.source"),
        source_repository
    );
    assert_eq!(
        label(&app_image, "org.opencontainers.image.revision"),
        revision
    );

    // A new task run (fresh volumes, as a new pod has): the layers come from the cache image.
    let second = Volumes::new();
    copy_app(&app, &second.path("source"));
    let (log, _) = build(&second);
    assert_contains(
        &log,
        "Restoring data for \"blacklodge/pip:uv-cache\" from cache",
    );
}

/// One container of kpack's build pod, as `blacklodge-platform kpack-build-pod` prints it
/// (from kpack's own `Build.BuildPod`).
struct PodStep {
    name: String,
    image: String,
    command: Vec<String>,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    /// mount path -> volume name
    mounts: BTreeMap<String, String>,
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn string_map(value: &serde_json::Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// (uid, gid, steps) of the pod.
fn pod_steps(json: &str) -> (u32, u32, Vec<PodStep>) {
    let pod: serde_json::Value = serde_json::from_str(json).expect("pod JSON");
    let id = |key: &str| u32::try_from(pod[key].as_u64().expect("an id")).expect("fits");
    let steps = pod["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| PodStep {
            name: step["name"].as_str().expect("name").to_string(),
            image: step["image"].as_str().expect("image").to_string(),
            command: strings(&step["command"]),
            args: strings(&step["args"]),
            env: string_map(&step["env"]),
            mounts: string_map(&step["mounts"]),
        })
        .collect();
    (id("uid"), id("gid"), steps)
}

/// What kpack's `prepare` step (build-init) does before the lifecycle runs: the app's source
/// into the workspace, each `PLATFORM_ENV_<NAME>` of the step as /platform/env/<NAME>, and the
/// git source (`GIT_URL`, `GIT_REVISION`) as the project metadata.
fn kpack_prepare(prepare: &PodStep, volumes: &Volumes, app: &App) {
    let workspace = volumes.path(&prepare.mounts["/workspace"]);
    copy_app(app, &workspace);
    let platform = volumes.path(&prepare.mounts["/platform"]);
    fs_err::create_dir_all(platform.join("env")).expect("env dir");
    for (key, value) in &prepare.env {
        if let Some(name) = key.strip_prefix("PLATFORM_ENV_") {
            fs_err::write(platform.join("env").join(name), value).expect("env file");
        }
    }
    let project_metadata = volumes
        .path(&prepare.mounts["/projectMetadata"])
        .join("project-metadata.toml");
    fs_err::write(
        &project_metadata,
        format!(
            "[source]\ntype = \"git\"\n[source.metadata]\nrepository = \"{}\"\nrevision = \"{}\"\n[source.version]\ncommit = \"{}\"\n",
            prepare.env["GIT_URL"], prepare.env["GIT_REVISION"], prepare.env["GIT_REVISION"]
        ),
    )
    .expect("project metadata");
}

/// The lifecycle phases of the pod kpack makes for a build with our builder, each run as its
/// own container with kpack's flags, env and volumes, as kpack's user: kpack's `prepare`
/// (build-init: the source into /workspace, spec.build.env into /platform/env, the git source
/// into project-metadata.toml) is done here, its `completion` (signing, the report) is not a
/// lifecycle step. The stack images and the builder pass kpack's checks; the image is exported
/// to the registry and serves, with the source labels from kpack's project metadata.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn kpack_build_pod_phases_export_to_the_registry() {
    let published = published();
    let stack = &stacks()[0];
    let checked = platform_tool(&[
        "kpack-stack",
        &format!("{}/build:{stack}", published.prefix),
        &format!("{}/run:{stack}", published.prefix),
        &format!("io.blacklodge.stacks.{stack}"),
    ]);
    assert_eq!(
        checked,
        format!("stack io.blacklodge.stacks.{stack}: build image user 1000:1000")
    );

    let tag = unique("kpack");
    let app_image = format!("{}/platform/kpack-app:{tag}", registry());
    let cache_image = format!("{}/platform/kpack-app-cache:{tag}", registry());
    let _pulled = Pulled(vec![app_image.clone(), published.builder()]);
    let (uid, gid, steps) = pod_steps(&platform_tool(&[
        "kpack-build-pod",
        "--builder",
        &published.builder(),
        "--tag",
        &app_image,
        "--cache-image",
        &cache_image,
        "--env",
        &format!("BP_PYTHON_MANIFEST_URL={}/manifest.json", mirror_url()),
    ]));
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prepare",
            "analyze",
            "detect",
            "restore",
            "build",
            "export",
            "completion"
        ]
    );
    assert_eq!((uid, gid), (1000, 1000));

    let volumes = Volumes::new();
    kpack_prepare(&steps[0], &volumes, &App::fixture("examples/flask-hello"));
    for name in steps.iter().flat_map(|s| s.mounts.values()) {
        chown_tree(&volumes.path(name), uid, gid);
    }

    docker(&["pull", &published.builder()]);
    let mut logs = String::new();
    for step in &steps[1..6] {
        assert_eq!(step.image, published.builder(), "{}", step.name);
        let mounts: Vec<(String, PathBuf)> = step
            .mounts
            .iter()
            .map(|(path, name)| (path.clone(), volumes.path(name)))
            .collect();
        let (success, log) = run_step(
            &step.image,
            (uid, gid),
            &step.command,
            &step.args,
            &step.env,
            &mounts,
        );
        assert!(
            success,
            "{} ({:?} {:?}) failed:\n{log}",
            step.name, step.command, step.args
        );
        logs.push_str(&log);
    }
    assert_eq!(steps[6].image, "kpack/completion");
    assert_contains(&logs, "## Blacklodge pip");
    assert_contains(&logs, &format!("Saving {app_image}..."));
    let report = volumes
        .path(&steps[5].mounts["/var/report"])
        .join("report.toml");
    assert_eq!(
        report_digest(&report),
        platform_tool(&["digest", &app_image])
    );
    assert_registry_image_serves(&app_image);
    assert_eq!(
        label(&app_image, "org.opencontainers.image.source"),
        "https://git.invalid/app.git"
    );
    assert_eq!(
        label(&app_image, "org.opencontainers.image.revision"),
        "0".repeat(40)
    );
}
