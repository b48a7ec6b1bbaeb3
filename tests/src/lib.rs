//! Support for the end-to-end tests: build fixture apps with the real `pack` and our
//! builder, run the images with the real Docker engine, and look inside them.
//!
//! Builds and containers use the host network: the bench's CPython mirror and any private
//! index a test starts listen on loopback only. Every image, container and cache volume a
//! test creates is removed when its handle drops.

// Test support: failing loudly (panicking with the log) is its purpose.
#![allow(clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod git_remote;
pub mod private_index;

/// Builder under test (`bench/setup` creates it from the working tree): the default stack's.
#[must_use]
pub fn builder() -> String {
    std::env::var("BLACKLODGE_BUILDER")
        .unwrap_or_else(|_| format!("blacklodge/builder:{}", stacks()[0].suite))
}

/// A stack of the bench: a Debian release with its build and run images and its builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// The Debian suite, e.g. `trixie`.
    pub suite: String,
    /// Its `VERSION_ID`, e.g. `13`.
    pub version: String,
}

impl Stack {
    #[must_use]
    pub fn build_image(&self) -> String {
        format!("blacklodge/build:{}", self.suite)
    }

    #[must_use]
    pub fn run_image(&self) -> String {
        format!("blacklodge/run:{}", self.suite)
    }

    #[must_use]
    pub fn stack_id(&self) -> String {
        format!("io.blacklodge.stacks.{}", self.suite)
    }

    /// The stack's builder, named as `bench/lib.sh` names it: [`builder`] for the default
    /// stack; `blacklodge/builder:<suite>`, or `<BLACKLODGE_BUILDER>-<suite>` when that is set,
    /// for the others.
    #[must_use]
    pub fn builder(&self) -> String {
        let default = &stacks()[0];
        if self == default {
            return builder();
        }
        match std::env::var("BLACKLODGE_BUILDER") {
            Ok(base) if base != format!("blacklodge/builder:{}", default.suite) => {
                format!("{base}-{}", self.suite)
            }
            _ => format!("blacklodge/builder:{}", self.suite),
        }
    }
}

/// The bench's stacks (`BLACKLODGE_STACKS` in `bench/versions.env`), the default first.
#[must_use]
pub fn stacks() -> Vec<Stack> {
    let file = repo_dir().join("bench/versions.env");
    let text = fs_err::read_to_string(&file).expect("bench/versions.env is readable");
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("BLACKLODGE_STACKS="))
        .expect("bench/versions.env has a BLACKLODGE_STACKS line");
    line.trim_matches('"')
        .split_whitespace()
        .map(|stack| {
            let (suite, version) = stack
                .split_once(':')
                .unwrap_or_else(|| panic!("BLACKLODGE_STACKS: {stack} is not SUITE:VERSION_ID"));
            Stack {
                suite: suite.to_string(),
                version: version.to_string(),
            }
        })
        .collect()
}

/// The stack of `suite` (panics, naming the stacks, when there is none).
#[must_use]
pub fn stack(suite: &str) -> Stack {
    let stacks = stacks();
    stacks
        .iter()
        .find(|stack| stack.suite == suite)
        .cloned()
        .unwrap_or_else(|| panic!("no stack {suite} in bench/versions.env: {stacks:?}"))
}

/// Base URL of the bench's CPython mirror (serves `manifest.json`).
#[must_use]
pub fn mirror_url() -> String {
    std::env::var("BLACKLODGE_MIRROR_URL").unwrap_or_else(|_| "http://127.0.0.1:8765".to_string())
}

/// The entries of the bench mirror's `manifest.json`.
#[must_use]
pub fn mirror_archives() -> Vec<serde_json::Value> {
    let manifest: serde_json::Value = ureq::get(&format!("{}/manifest.json", mirror_url()))
        .call()
        .expect("the bench mirror answers")
        .into_json()
        .expect("JSON");
    manifest["archives"].as_array().expect("archives").clone()
}

/// The bench mirror's manifest entry for `version`.
#[must_use]
pub fn mirror_archive(version: &str) -> serde_json::Value {
    mirror_archives()
        .into_iter()
        .find(|archive| archive["version"] == version)
        .unwrap_or_else(|| panic!("the bench mirror has no {version}: re-run bench/setup"))
}

/// The bench's OCI registry (`host:port`).
#[must_use]
pub fn registry() -> String {
    std::env::var("BLACKLODGE_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".to_string())
}

/// Removes the daemon's copies of registry images when dropped (the test passed or failed).
pub struct Pulled(pub Vec<String>);

impl Drop for Pulled {
    fn drop(&mut self) {
        for reference in &self.0 {
            let _ = Command::new("docker")
                .args(["image", "rm", "-f", reference])
                .output();
        }
    }
}

fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("could not run {command:?}: {error}"))
}

/// A command's stdout and stderr, one after the other.
#[must_use]
pub fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Copies the contents of `source` into the directory `dest` (`cp -a`: modes kept).
pub fn copy_dir(source: &Path, dest: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", source.display()))
        .arg(dest)
        .status()
        .expect("cp runs");
    assert!(status.success(), "copying {}", source.display());
}

/// `docker run --rm --network none` with `args` (options, the image, its command); the
/// output, whatever the exit status.
#[must_use]
pub fn docker_run_offline(args: &[&str]) -> Output {
    run(Command::new("docker")
        .args(["run", "--rm", "--network", "none"])
        .args(args))
}

/// `docker image inspect --format <format>` of any image reference, trimmed; panics unless
/// it succeeds.
#[must_use]
pub fn inspect_format(image: &str, format: &str) -> String {
    let output = run(Command::new("docker").args(["image", "inspect", "--format", format, image]));
    assert!(
        output.status.success(),
        "inspect {image}: {}",
        output_text(&output)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A copy of a fixture app in a temporary directory, free to modify.
pub struct App {
    dir: tempfile::TempDir,
}

impl App {
    /// Copies `tests/fixtures/<name>` (or `examples/<name>` when given as `examples/…`).
    #[must_use]
    pub fn fixture(name: &str) -> Self {
        let source = if let Some(example) = name.strip_prefix("examples/") {
            repo_dir().join("examples").join(example)
        } else {
            repo_dir().join("tests/fixtures").join(name)
        };
        assert!(source.is_dir(), "no fixture at {}", source.display());
        let dir = tempfile::tempdir().expect("temporary directory");
        copy_dir(&source, dir.path());
        Self { dir }
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes (or replaces) a file of the app.
    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).expect("create parent");
        }
        fs_err::write(path, contents).expect("write app file");
    }

    /// The contents of a file of the app.
    #[must_use]
    pub fn read(&self, relative: &str) -> String {
        fs_err::read_to_string(self.dir.path().join(relative)).expect("read app file")
    }

    /// Replaces `from` (which must occur) with `to` in a file of the app; returns the file as it
    /// was.
    #[allow(clippy::must_use_candidate)] // most callers only edit
    pub fn replace(&self, relative: &str, from: &str, to: &str) -> String {
        let before = self.read(relative);
        assert!(before.contains(from), "{relative} has no {from:?}");
        self.write(relative, &before.replace(from, to));
        before
    }

    /// Adds `text` at the end of a file of the app.
    pub fn append(&self, relative: &str, text: &str) {
        let before = self.read(relative);
        self.write(relative, &format!("{before}{text}"));
    }

    /// Copies `files` of `tests/fixtures/<fixture>` over the app's (e.g. a lock changed by the
    /// real tool, to change the app's dependencies).
    pub fn overlay(&self, fixture: &str, files: &[&str]) {
        let source = repo_dir().join("tests/fixtures").join(fixture);
        for file in files {
            fs_err::copy(source.join(file), self.dir.path().join(file)).expect("copy fixture file");
        }
    }

    pub fn remove(&self, relative: &str) {
        fs_err::remove_file(self.dir.path().join(relative)).expect("remove app file");
    }

    /// Downloads wheels for the stack's Python (3.11, manylinux x86_64) into `dest` of the app
    /// with the host's pip, as a user vendoring them would; `no_deps` for exact lists.
    pub fn pip_download(&self, dest: &str, requirements: &[String], no_deps: bool) {
        let mut command = Command::new("python3");
        command.args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--platform",
            "manylinux2014_x86_64",
        ]);
        if no_deps {
            command.arg("--no-deps");
        }
        let status = command
            .arg("--dest")
            .arg(self.path().join(dest))
            .args(requirements)
            .status()
            .expect("pip download runs");
        assert!(status.success(), "pip download {requirements:?}");
    }

    /// Puts the bench mirror's CPython `version` archive into the app (`.python/`) with a
    /// manifest pointing at it, and `.python-version`, for builds without network. Returns the
    /// value for `BP_PYTHON_MANIFEST_URL`.
    #[must_use]
    pub fn vendor_python(&self, version: &str) -> String {
        let archive = mirror_archive(version);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut ureq::get(archive["url"].as_str().expect("url"))
                .call()
                .expect("archive")
                .into_reader(),
            &mut bytes,
        )
        .expect("read archive");
        fs_err::create_dir_all(self.path().join(".python")).expect("mkdir");
        fs_err::write(self.path().join(".python/cpython.tar.gz"), bytes).expect("write");
        let mut local = archive.clone();
        local["url"] = "/workspace/.python/cpython.tar.gz".into();
        self.write(
            ".python/manifest.json",
            &serde_json::json!({"source": "vendored", "archives": [local]}).to_string(),
        );
        let minor: Vec<&str> = version.split('.').take(2).collect();
        self.write(".python-version", &format!("{}\n", minor.join(".")));
        "/workspace/.python/manifest.json".to_string()
    }
}

/// The outcome of one `pack build`.
#[derive(Debug)]
pub struct BuildResult {
    pub success: bool,
    /// Everything pack printed (build log of every buildpack included).
    pub log: String,
}

/// An app image and its build caches; rebuilding reuses both.
pub struct Image {
    pub name: String,
    builder: String,
    run_image_override: Option<String>,
    build_cache: String,
    launch_cache: String,
    env: BTreeMap<String, String>,
    buildpacks: Vec<String>,
    network: String,
    volumes: Vec<String>,
}

impl Image {
    /// A new image name with its own cache volumes. By default builds use the bench mirror's
    /// manifest (the upstream CPython downloads are not reachable here).
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        let name = unique_name(&format!("blacklodge-test-{prefix}"));
        let mut env = BTreeMap::new();
        env.insert(
            "BP_PYTHON_MANIFEST_URL".to_string(),
            format!("{}/manifest.json", mirror_url()),
        );
        Self {
            builder: builder(),
            run_image_override: None,
            build_cache: format!("{name}-build-cache"),
            launch_cache: format!("{name}-launch-cache"),
            name,
            env,
            buildpacks: Vec::new(),
            network: "host".to_string(),
            volumes: Vec::new(),
        }
    }

    /// Builds with `stack`'s builder (the default stack's otherwise).
    #[must_use]
    pub fn stack(mut self, stack: &Stack) -> Self {
        self.builder = stack.builder();
        self
    }

    /// Builds onto another run image than the builder's (`pack build --run-image`).
    #[must_use]
    pub fn run_image(mut self, image: &str) -> Self {
        self.run_image_override = Some(image.to_string());
        self
    }

    /// The build container's network (`host` by default; `none` for offline builds).
    #[must_use]
    pub fn network(mut self, network: &str) -> Self {
        self.network = network.to_string();
        self
    }

    /// Mounts a host directory into the build (`pack build --volume`), e.g. a binding:
    /// `volume("/tmp/ca:/platform/bindings/ca:ro")`.
    #[must_use]
    pub fn volume(mut self, spec: &str) -> Self {
        self.volumes.push(spec.to_string());
        self
    }

    /// The CycloneDX SBOM documents the buildpacks wrote for the image's launch layers
    /// (`pack sbom download`), by file path.
    #[must_use]
    pub fn launch_sboms(&self) -> BTreeMap<String, serde_json::Value> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let output = run(Command::new("pack")
            .args(["sbom", "download", &self.name, "--output-dir"])
            .arg(dir.path()));
        assert!(
            output.status.success(),
            "pack sbom download: {}",
            output_text(&output)
        );
        let mut found = BTreeMap::new();
        let mut queue = vec![dir.path().to_path_buf()];
        while let Some(path) = queue.pop() {
            if path.is_dir() {
                queue.extend(
                    fs_err::read_dir(&path)
                        .expect("readable")
                        .map(|e| e.expect("entry").path()),
                );
            } else if path.to_string_lossy().ends_with(".cdx.json") {
                let relative = path
                    .strip_prefix(dir.path())
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned();
                let json =
                    serde_json::from_slice(&fs_err::read(&path).expect("readable")).expect("JSON");
                found.insert(relative, json);
            }
        }
        found
    }

    /// The CycloneDX SBOM of the launch layer `layer` of `owner` (a buildpack's layers
    /// directory name, e.g. `blacklodge_wrapper`, or the lifecycle's `buildpacksio_lifecycle`).
    #[must_use]
    pub fn launch_sbom(&self, owner: &str, layer: &str) -> serde_json::Value {
        let mut sboms = self.launch_sboms();
        let Some(path) = sboms
            .keys()
            .find(|path| path.contains(owner) && path.contains(layer))
            .cloned()
        else {
            panic!("no {layer} SBOM in {:?}", sboms.keys());
        };
        sboms.remove(&path).expect("found")
    }

    /// The package URLs (purls) of the CycloneDX SBOM of the venv layer of `buildpack` (its
    /// layers directory name, e.g. `blacklodge_pip`).
    #[must_use]
    pub fn venv_purls(&self, buildpack: &str) -> Vec<String> {
        purls(&self.launch_sbom(buildpack, "venv"))
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// Whether `needle` occurs anywhere in the image: any layer's files, the config (env,
    /// labels, history). Reads `docker save`, whose layers are uncompressed tars.
    #[must_use]
    pub fn contains_bytes(&self, needle: &str) -> bool {
        let output = run(Command::new("docker").args(["save", &self.name]));
        assert!(
            output.status.success(),
            "docker save: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let needle = needle.as_bytes();
        output
            .stdout
            .windows(needle.len())
            .any(|window| window == needle)
    }

    /// Whether `needle` occurs in any file of the build cache (the cache layers kept between
    /// builds, such as the installers' download caches): read by `grep` in a throwaway
    /// container of the run image.
    #[must_use]
    pub fn build_cache_contains(&self, needle: &str) -> bool {
        let output = run(Command::new("docker")
            .args(["run", "--rm", "--network", "none", "--user", "0"])
            .args(["--volume", &format!("{}:/cache:ro", self.build_cache)])
            .args(["--entrypoint", "grep", &stacks()[0].run_image()])
            .args(["-r", "-l", "-F", "--", needle, "/cache"]));
        match output.status.code() {
            Some(0) => true,
            Some(1) => false,
            _ => panic!("grep in the build cache: {}", output_text(&output)),
        }
    }

    /// Builds with this buildpack (`pack build --buildpack`) instead of the builder's order.
    #[must_use]
    pub fn buildpack(mut self, reference: &str) -> Self {
        self.buildpacks.push(reference.to_string());
        self
    }

    /// Sets a build-time variable (`pack build --env`).
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    /// Sets a build-time variable for the following builds of this image (same caches).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.insert(key.to_string(), value.to_string());
    }

    /// Unsets a build-time variable for the following builds of this image.
    pub fn unset_env(&mut self, key: &str) {
        self.env.remove(key);
    }

    /// Sets the build-time credential variables of a private index: `user_variable` to
    /// [`private_index::USER`], `password_variable` to `password`.
    #[must_use]
    pub fn credentials(self, user_variable: &str, password_variable: &str, password: &str) -> Self {
        self.env(user_variable, private_index::USER)
            .env(password_variable, password)
    }

    /// Removes a build-time variable set by default.
    #[must_use]
    pub fn without_env(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    /// Runs `pack build` with our builder on `app`.
    #[must_use]
    pub fn build(&self, app: &App) -> BuildResult {
        let mut command = Command::new("pack");
        command
            .args(["build", &self.name, "--builder", &self.builder])
            .arg("--path")
            .arg(app.path())
            .args([
                "--network",
                &self.network,
                "--pull-policy",
                "if-not-present",
                "--trust-builder",
                "--trust-extra-buildpacks",
            ])
            .args([
                "--cache",
                &format!("type=build;format=volume;name={}", self.build_cache),
            ])
            .args([
                "--cache",
                &format!("type=launch;format=volume;name={}", self.launch_cache),
            ])
            .env("NO_COLOR", "1")
            // pack names one cache volume (for image extensions) after the image and this
            // key. Without it, pack running inside a container (as on the bench) warns on
            // the first build of every image name, so on every test build; the key only
            // makes that volume's name unguessable.
            .env("PACK_VOLUME_KEY", "blacklodge-tests");
        for (key, value) in &self.env {
            command.args(["--env", &format!("{key}={value}")]);
        }
        for buildpack in &self.buildpacks {
            command.args(["--buildpack", buildpack]);
        }
        for volume in &self.volumes {
            command.args(["--volume", volume]);
        }
        if let Some(run_image) = &self.run_image_override {
            command.args(["--run-image", run_image]);
        }
        let output = run(&mut command);
        BuildResult {
            success: output.status.success(),
            log: output_text(&output),
        }
    }

    /// Builds and panics with the log unless the build succeeds.
    #[must_use]
    pub fn build_ok(&self, app: &App) -> String {
        let result = self.build(app);
        assert!(result.success, "pack build failed:\n{}", result.log);
        result.log
    }

    /// Builds and panics with the log unless the build fails.
    #[must_use]
    pub fn build_fails(&self, app: &App) -> String {
        let result = self.build(app);
        assert!(
            !result.success,
            "pack build unexpectedly succeeded:\n{}",
            result.log
        );
        result.log
    }

    /// Runs a shell command in the image through the CNB launcher, so the environment is
    /// exactly the one processes get (`--`: run directly, not as a process type).
    /// Returns (success, stdout+stderr).
    #[must_use]
    pub fn run_shell(&self, script: &str) -> (bool, String) {
        let output = docker_run_offline(&[
            "--entrypoint",
            "launcher",
            &self.name,
            "--",
            "bash",
            "-c",
            script,
        ]);
        (output.status.success(), output_text(&output))
    }

    /// Like [`Image::run_shell`], panicking unless it succeeds; returns stdout+stderr.
    #[must_use]
    pub fn shell_ok(&self, script: &str) -> String {
        let (success, output) = self.run_shell(script);
        assert!(success, "`{script}` failed in {}:\n{output}", self.name);
        output
    }

    /// The image's layer digests, bottom to top.
    #[must_use]
    pub fn layer_digests(&self) -> Vec<String> {
        serde_json::from_str(&inspect_format(&self.name, "{{json .RootFS.Layers}}"))
            .expect("layer list is JSON")
    }

    /// The image config (`docker image inspect`, first element).
    #[must_use]
    pub fn inspect(&self) -> serde_json::Value {
        let output = run(Command::new("docker").args(["image", "inspect", &self.name]));
        assert!(
            output.status.success(),
            "inspect {}: {}",
            self.name,
            output_text(&output)
        );
        let list: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("inspect is JSON");
        list[0].clone()
    }

    /// Starts the default process and asserts `GET /` answers 200 (the container is removed
    /// again).
    pub fn assert_serves(&self) {
        let container = self.start(None, &[]);
        assert_eq!(container.get("/").status, 200);
    }

    /// Starts the default process (or `process` when given) with `PORT` set to a free
    /// loopback port, on the host network.
    #[must_use]
    pub fn start(&self, process: Option<&str>, env: &[(&str, &str)]) -> Container {
        Container::start(&self.name, process, env)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.name])
            .output();
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.build_cache, &self.launch_cache])
            .output();
    }
}

/// A running container of an app image.
pub struct Container {
    pub name: String,
    pub port: u16,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub headers: BTreeMap<String, String>,
}

impl Container {
    /// Runs `image` (any reference: a local name or a registry reference) detached, with
    /// `PORT` set to a free loopback port, on the host network; `process` picks a process
    /// type instead of the default one.
    #[must_use]
    pub fn start(image: &str, process: Option<&str>, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let name = unique_name("blacklodge-test-container");
        let mut command = Command::new("docker");
        command.args([
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "host",
            "-e",
            &format!("PORT={port}"),
        ]);
        for (key, value) in env {
            command.args(["-e", &format!("{key}={value}")]);
        }
        if let Some(process) = process {
            command.args(["--entrypoint", &format!("/cnb/process/{process}")]);
        }
        command.arg(image);
        let output = run(&mut command);
        assert!(
            output.status.success(),
            "docker run failed: {}",
            output_text(&output)
        );
        Self { name, port }
    }

    /// `http://127.0.0.1:<port><path>`
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until the service accepts connections (or panics with the container log).
    pub fn wait_until_listening(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                self.is_running(),
                "container {} exited:\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "container {} did not listen on {} in time:\n{}",
            self.name,
            self.port,
            self.logs()
        );
    }

    /// Waits until a wrapped function's harness answers `GET /readyz` with 200: it listens
    /// before the entry point is loaded, and `POST /predict` answers 503 until then (or panics
    /// with the last answer and the container log).
    pub fn wait_until_ready(&self, timeout: Duration) {
        self.wait_until_listening(timeout);
        let deadline = Instant::now() + timeout;
        loop {
            let response = self.request("GET", "/readyz", &[], None);
            if response.status == 200 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not ready in time: {} {}\n{}",
                response.status,
                response.body,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends a request; any status is returned (not only 2xx).
    #[must_use]
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let mut request = ureq::request(method, &self.url(path)).timeout(Duration::from_mins(1));
        for (key, value) in headers {
            request = request.set(key, value);
        }
        let result = match body {
            Some(bytes) => request.send_bytes(bytes),
            None => request.call(),
        };
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("{method} {path} failed: {error}\n{}", self.logs()),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|name| {
                response
                    .header(&name)
                    .map(|value| (name.to_ascii_lowercase(), value.to_string()))
            })
            .collect();
        let body = response.into_string().expect("UTF-8 body");
        Response {
            status,
            body,
            headers,
        }
    }

    /// `GET path`, after waiting for the service.
    #[must_use]
    pub fn get(&self, path: &str) -> Response {
        self.wait_until_listening(Duration::from_mins(1));
        self.request("GET", path, &[], None)
    }

    /// The harness's `/metrics` once every worker's finished requests are in it: the worker
    /// answering a scrape counts its own at once, another's within the 50 ms drain interval of
    /// `harness/src/blacklodge_harness/tally.py` (harness/README.md, "Metrics"); this waits
    /// three of them first.
    #[must_use]
    pub fn scrape(&self) -> String {
        std::thread::sleep(Duration::from_millis(150));
        self.get("/metrics").body
    }

    #[must_use]
    pub fn logs(&self) -> String {
        output_text(&run(Command::new("docker").args(["logs", &self.name])))
    }

    #[must_use]
    pub fn is_running(&self) -> bool {
        let output = run(Command::new("docker").args([
            "inspect",
            "--format",
            "{{.State.Running}}",
            &self.name,
        ]));
        String::from_utf8_lossy(&output.stdout).trim() == "true"
    }

    /// Runs a command inside the running container (no launcher environment).
    #[must_use]
    pub fn exec(&self, args: &[&str]) -> String {
        let output = run(Command::new("docker")
            .arg("exec")
            .arg(&self.name)
            .args(args));
        assert!(
            output.status.success(),
            "exec {args:?}: {}",
            output_text(&output)
        );
        output_text(&output)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// The fixed ports tests serve fixtures on (their lock files record the URLs).
pub const FIXTURE_PORTS: std::ops::RangeInclusive<u16> = 38770..=38779;

/// Holds `port`, when it is one of the [`FIXTURE_PORTS`], for as long as the returned file
/// lives: an exclusive lock on a file named after it, so two tests that serve a fixture on the
/// same fixed port (in one test binary or in two running side by side) take turns instead of
/// colliding. Blocks until the port is free. `None` for any other port.
#[must_use]
pub fn hold_fixture_port(port: u16) -> Option<std::fs::File> {
    if !FIXTURE_PORTS.contains(&port) {
        return None;
    }
    let path = std::env::temp_dir().join(format!("blacklodge-tests-port-{port}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|error| panic!("open {}: {error}", path.display()));
    file.lock()
        .unwrap_or_else(|error| panic!("lock {}: {error}", path.display()));
    Some(file)
}

/// A port nothing listens on right now (from the kernel's ephemeral range), never one of the
/// fixed ports 38770-38779 that tests serve fixtures on (their lock files record the URLs):
/// test binaries run in parallel, and one's free port must not be another's fixture server.
#[must_use]
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free loopback port");
        if !FIXTURE_PORTS.contains(&port) {
            return port;
        }
    }
}

/// Two consecutive free ports below the kernel's ephemeral range (32768 and up), for a server
/// that must keep its ports across a restart (a Kafka broker and its controller): no free port
/// another test takes meanwhile can be one of them.
#[must_use]
pub fn free_port_pair_below_ephemeral() -> u16 {
    let start = 20_000 + (std::process::id() % 6_000) * 2;
    (0..6_000u32)
        .map(|step| u16::try_from(20_000 + (start - 20_000 + step * 2) % 12_000).expect("a port"))
        .find(|&port| {
            TcpListener::bind(("127.0.0.1", port)).is_ok()
                && TcpListener::bind(("127.0.0.1", port + 1)).is_ok()
        })
        .expect("two free loopback ports below 32000")
}

/// The package URLs (purls) of the components of a CycloneDX SBOM document.
#[must_use]
pub fn purls(sbom: &serde_json::Value) -> Vec<&str> {
    sbom["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|component| component["purl"].as_str())
        .collect()
}

/// Asserts `haystack` contains `needle`, showing the whole haystack when it does not.
#[track_caller]
pub fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected to find:\n{needle}\n\nin:\n{haystack}"
    );
}

/// Asserts `haystack` does not contain `needle`.
#[track_caller]
pub fn assert_not_contains(haystack: &str, needle: &str) {
    assert!(
        !haystack.contains(needle),
        "expected NOT to find:\n{needle}\n\nin:\n{haystack}"
    );
}

/// Asserts the build of `image` kept `secret` (a credential it was given) out of everything
/// that outlives it: the build log, any layer of the image and the image config.
#[track_caller]
pub fn assert_secret_kept_out(image: &Image, build_log: &str, secret: &str) {
    assert_not_contains(build_log, secret);
    assert!(!image.contains_bytes(secret), "the secret is in the image");
    assert_not_contains(&image.inspect().to_string(), secret);
}

/// Asserts the installer of `lock_file` failed because the package index refused the
/// credentials, and the log does not show the wrong `password`.
#[track_caller]
pub fn assert_credentials_rejected(log: &str, lock_file: &str, password: &str) {
    assert_contains(
        log,
        &format!("! ERROR: Could not install the packages in {lock_file}"),
    );
    assert_contains(log, "! The package index rejected the credentials:");
    assert_not_contains(log, password);
}

/// Asserts no build output of a local package (`build/`, `*.egg-info`) is left in the app
/// directory of the image.
#[track_caller]
pub fn assert_no_build_output_in_app(image: &Image) {
    assert_eq!(
        image.shell_ok("cd /workspace && find . -name build -o -name '*.egg-info'"),
        ""
    );
}

/// Prints the `VALUE` of the `localpkg` package an app installs from `libs/localpkg`.
pub const LOCALPKG_PROBE: &str = "cd / && python -c 'import localpkg; print(localpkg.VALUE)'";

/// Sets `libs/localpkg`'s `VALUE` to `value` and rebuilds: asserts the log has `reason` (why
/// the environment was made again or updated) and the image imports the new value.
pub fn rebuild_with_localpkg_value(image: &Image, app: &App, value: &str, reason: &str) {
    app.write(
        "libs/localpkg/localpkg/__init__.py",
        &format!("VALUE = \"{value}\"\n"),
    );
    let log = image.build_ok(app);
    assert_contains(&log, reason);
    assert_eq!(image.shell_ok(LOCALPKG_PROBE), format!("{value}\n"));
}

/// What `python -c` prints in the image of a `*-sources` fixture (Poetry, Pipenv): each
/// kind of source of its lock imported.
pub const SOURCES_PROBE: &str = "cd / && python -c 'import greeter, localpkg, devpkg, vendored_tool, blacklodge_private as p; print(greeter.MESSAGE, localpkg.VALUE, vendored_tool.VALUE, p.VALUE, devpkg.__file__)'";

/// Asserts an image of a `*-sources` fixture (Poetry, Pipenv) imports the package of every
/// source (git, URL, vendored wheel, directory, editable), and setuptools' build output in the
/// local packages' source trees (it built localpkg and devpkg's editable wheel there) is not in
/// the image.
#[track_caller]
pub fn assert_sources_installed(image: &Image, log: &str) {
    assert_contains(
        &image.shell_ok(SOURCES_PROBE),
        "hello from git local-ok vendored-ok private-ok /workspace/libs/devpkg/devpkg/__init__.py\n",
    );
    assert_contains(
        log,
        "  - Removed the build output of local packages from the app: libs/devpkg/devpkg.egg-info, libs/localpkg/build, libs/localpkg/localpkg.egg-info\n",
    );
    assert_no_build_output_in_app(image);
}

/// The pinned uv (`buildpacks/python-deps/requirements/`), as the build log names it.
pub const UV: &str = "uv 0.13.9";

/// Where the build log says the pinned uv came from when the app vendors its wheel.
pub const UV_FROM_VENDOR: &str =
    "(from /workspace/vendor/uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl)";

/// Asserts the log says the venv was reused, its inputs (`inputs`, the lock, Python and the
/// pinned uv) unchanged.
#[track_caller]
pub fn assert_venv_reused(log: &str, inputs: &str) {
    assert_contains(
        log,
        &format!("  - Reusing cached virtual environment ({inputs}, Python and {UV} unchanged)\n"),
    );
}

/// A code-only change (a new file), rebuilt: the venv is reused, uv neither fetched nor run.
/// Returns the log.
#[must_use]
pub fn rebuild_after_code_change(image: &Image, app: &App, inputs: &str) -> String {
    app.write("extra.py", "X = 1\n");
    let log = image.build_ok(app);
    assert_venv_reused(&log, inputs);
    assert_not_contains(&log, "Fetching uv");
    assert_not_contains(&log, "Running uv");
    log
}

/// idna added to the app's dependencies (`files` from `tests/fixtures/changed-locks/<manager>`,
/// as the real tool wrote them), rebuilt: the log says `change` (how the venv layer follows) and
/// installs idna, which the image imports. Returns the log.
#[must_use]
pub fn rebuild_with_idna_added(
    image: &Image,
    app: &App,
    manager: &str,
    files: &[&str],
    change: &str,
) -> String {
    app.overlay(&format!("changed-locks/{manager}"), files);
    let log = image.build_ok(app);
    assert_contains(&log, change);
    assert_contains(&log, " + idna==3.10\n");
    assert_contains(
        &image.shell_ok("python -c 'import idna; print(idna.__version__)'"),
        "3.10\n",
    );
    log
}

/// The `files` of the fixture `fixture` back (idna not among the dependencies), rebuilt: the
/// log says `change`, idna is gone from the image, flask and gunicorn still import. Returns
/// the log.
#[must_use]
pub fn rebuild_with_idna_removed(
    image: &Image,
    app: &App,
    fixture: &str,
    files: &[&str],
    change: &str,
) -> String {
    app.overlay(fixture, files);
    let log = image.build_ok(app);
    assert_contains(&log, change);
    let output = image.shell_ok("python -c 'import flask, gunicorn; import idna' 2>&1 || true");
    assert_contains(&output, "No module named 'idna'");
    log
}

/// The log of a build whose dependencies changed while the runtime was kept by the previous
/// build: the python buildpack installs it again for the installer (Python 3.11.2, the
/// fixtures' and the default's).
pub const RUNTIME_INSTALLED_FOR_THE_INSTALL: &str = "- Installing Python\n  - Discarding cached Python:\n    - a build step runs Python this time (the dependencies to install changed)\n  - Downloading Python 3.11.2 from ";

/// An unchanged rebuild of `app`, already built into `image` by the dependency buildpack
/// `manager` (`pip`, `uv`, `poetry`, `pipenv`) with the venv only in the image: nothing of the
/// build runs Python, so the runtime is kept by its metadata (neither restored before the
/// build nor archived after it: the lifecycle's own lines), the venv is reused
/// (`inputs`, see [`assert_venv_reused`]), no installer is fetched or run, and every layer is
/// the previous image's, with its SBOM. The kept runtime runs, and the venv's bytecode is
/// the buildpack's (see [`assert_venv_bytecode_unchecked`]). Returns the log.
#[must_use]
pub fn assert_unchanged_rebuild_reuses_every_layer(
    image: &Image,
    app: &App,
    manager: &str,
    inputs: &str,
) -> String {
    let first = image.layer_digests();
    let log = image.build_ok(app);
    assert_contains(
        &log,
        "  - Keeping Python 3.11.2 of the previous image (unchanged version, architecture, distribution and archive; no build step runs Python): nothing restored\n",
    );
    assert_not_contains(&log, "Restoring data for \"blacklodge/python:python\"");
    assert_not_contains(&log, "cache layer 'blacklodge/python:python'");
    assert_not_contains(&log, "Downloading Python");
    assert_not_contains(&log, "Fetching uv");
    assert_venv_reused(&log, inputs);
    assert_not_contains(&log, "Running uv");
    assert_not_contains(&log, "Running pip");
    assert_contains(&log, "Reusing layer 'blacklodge/python:python'");
    assert_contains(&log, &format!("Reusing layer 'blacklodge/{manager}:venv'"));
    assert_eq!(
        first,
        image.layer_digests(),
        "an unchanged rebuild produces identical layers"
    );
    // The kept layers keep their SBOMs (the lifecycle carries them over from the previous image).
    let sboms = image.launch_sboms();
    for layer in [
        "blacklodge_python/python",
        &format!("blacklodge_{manager}/venv"),
    ] {
        assert!(
            sboms.contains_key(&format!("layers/sbom/launch/{layer}/sbom.cdx.json")),
            "no SBOM of {layer} in {:?}",
            sboms.keys()
        );
    }
    // The kept runtime is the previous image's, whole: it runs, with its launch environment.
    assert_eq!(
        image.shell_ok(
            "echo \"$PYTHONUNBUFFERED|$LANG\"; python -c 'import flask, ssl; print(flask.__name__)'"
        ),
        "1|C.UTF-8\nflask\n"
    );
    assert_venv_bytecode_unchecked(image);
    log
}

/// The venv's packages have unchecked-hash bytecode (PEP 552 flags `0b01`: Python does not
/// read their sources on import), and the app's own code none (it is read from source, so an
/// edit in a running container takes effect).
pub fn assert_venv_bytecode_unchecked(image: &Image) {
    assert_eq!(
        image.shell_ok(
            "python -c 'import flask, importlib.util as u; h = open(u.cache_from_source(flask.__file__), \"rb\").read(8); print(int.from_bytes(h[4:8], \"little\"))'; find /workspace -name '*.pyc' | wc -l"
        ),
        "1\n0\n",
        "flask's pyc flags, then the number of pycs under /workspace"
    );
}
