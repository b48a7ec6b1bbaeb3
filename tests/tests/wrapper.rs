//! The wrapper buildpack through pack and the real lifecycle: fixture apps with a plain
//! function, a model class and a PlanQK `run(data, params)` become images whose `web` process
//! answers HTTP and whose `job` process runs once; broken apps fail the build with the fix.

use blacklodge_tests::{
    App, Container, Image, Response, assert_contains, assert_not_contains, copy_dir,
    docker_run_offline, purls,
};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn post(container: &Container, body: &str, headers: &[(&str, &str)]) -> Response {
    let mut all = vec![JSON];
    all.extend_from_slice(headers);
    container.request("POST", "/predict", &all, Some(body.as_bytes()))
}

fn json(response: &Response) -> serde_json::Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", response.body))
}

/// `docker run --rm` of a process type, with extra `docker run` arguments; returns the output.
fn run_process(image: &Image, process: &str, docker_args: &[&str]) -> Output {
    let entrypoint = format!("/cnb/process/{process}");
    docker_run_offline(&[docker_args, &["--entrypoint", &entrypoint, &image.name]].concat())
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A directory the container user (uid 1000) can read (and write when `writable`).
fn shared_dir(source: Option<&Path>, writable: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(source) = source {
        copy_dir(source, dir.path());
    }
    let mode = if writable { "a+rwX" } else { "a+rX" };
    let status = Command::new("chmod")
        .args(["-R", mode])
        .arg(dir.path())
        .status()
        .expect("chmod runs");
    assert!(status.success());
    dir
}

fn mount(dir: &Path, target: &str) -> String {
    format!("{}:{target}", dir.display())
}

fn base64(text: &str) -> String {
    let output = Command::new("base64")
        .args(["-w", "0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("base64 runs");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Details of the running service from harness/README.md: a `413` closes the connection
/// and says so, JSON sent as `text/plain` is parsed, and a `405` is counted under its route.
fn assert_closes_and_decodes_as_documented(container: &Container, oversized: &Response) {
    // The rest of the body is not read: the connection closes, and the answer says so.
    assert_eq!(
        oversized.headers["connection"], "close",
        "{:?}",
        oversized.headers
    );

    // JSON sent as text/plain (a browser's fetch with a string body) reaches the handler parsed.
    let as_text = container.request(
        "POST",
        "/predict",
        &[("Content-Type", "text/plain;charset=UTF-8")],
        Some(br#"{"values": [2, 3]}"#),
    );
    assert_eq!(as_text.status, 200, "{}", as_text.body);
    assert_eq!(json(&as_text)["sum"], 5, "{}", as_text.body);

    // A method the route does not take: 405, counted under the route.
    let wrong_method = container.request("GET", "/predict", &[], None);
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.body);
    assert_eq!(wrong_method.headers["allow"], "OPTIONS, POST");
    assert_contains(
        &container.scrape(),
        "blacklodge_http_requests_total{route=\"/predict\",method=\"GET\",status=\"405\"} 1\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn plain_function_without_dependencies_serves_http() {
    let app = App::fixture("wrapper-function");
    let image = Image::new("wrapper-function");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge wrapper\n- Reading the wrapper configuration\n  - Entry point model:predict (from blacklodge.toml)\n  - Modes: web (default), job\n  - No source revision (no BP_BLACKLODGE_REVISION, CI variable, platform project metadata or .git)\n- Installing the Blacklodge harness 0.1.0\n",
    );
    assert_contains(&log, "Successfully installed ");
    assert_contains(&log, "  - Calls predict(payload, context) (function)\n");
    assert_contains(
        &log,
        "- Processes\n  - web: /layers/blacklodge_wrapper/harness/bin/blacklodge web (default)\n  - job: /layers/blacklodge_wrapper/harness/bin/blacklodge job\n",
    );
    assert_contains(&log, "Setting default process type 'web'");
    assert_not_contains(&log, "## Blacklodge pip");
    // The web buildpack finds the same declaration and leaves the processes to the wrapper.
    assert_contains(
        &log,
        "- Default process\n  - None added: blacklodge.toml: blacklodge/wrapper declares the processes\n",
    );

    // Small limits so 413 and 504 are quick to provoke.
    let container = image.start(
        None,
        &[
            ("BLACKLODGE_MAX_BODY_SIZE", "1KiB"),
            ("BLACKLODGE_TIMEOUT", "2"),
        ],
    );
    container.wait_until_ready(Duration::from_mins(1));

    let ok = post(
        &container,
        r#"{"values": [1, 2, 3]}"#,
        &[("X-Request-ID", "test-request-1")],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        json(&ok),
        serde_json::json!({"sum": 6, "request_id": "test-request-1"})
    );
    assert_eq!(ok.headers["x-request-id"], "test-request-1");

    let malformed = post(&container, "{not json", &[]);
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert_eq!(json(&malformed)["error"]["type"], "invalid_json");

    let oversized = post(
        &container,
        &format!(r#"{{"values": [{}1]}}"#, "1, ".repeat(600)),
        &[],
    );
    assert_eq!(oversized.status, 413, "{}", oversized.body);
    assert_eq!(json(&oversized)["error"]["type"], "payload_too_large");
    assert_closes_and_decodes_as_documented(&container, &oversized);

    let failed = post(&container, r#"{"fail": true}"#, &[]);
    assert_eq!(failed.status, 500, "{}", failed.body);
    assert_eq!(json(&failed)["error"]["type"], "handler_error");
    assert_contains(&failed.body, "RuntimeError");
    assert_not_contains(&failed.body, "the model exploded");
    assert_not_contains(&failed.body, "Traceback");

    let slow = post(&container, r#"{"sleep": 4}"#, &[]);
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert_eq!(json(&slow)["error"]["type"], "timeout");

    // The service is still up after all of that.
    let again = post(&container, r#"{"values": [5]}"#, &[]);
    assert_eq!(again.status, 200, "{}", again.body);
    let statz = json(&container.get("/statz"));
    assert_eq!(statz["entrypoint"]["spec"], "model:predict");
    // The call as the build log above shows it.
    assert_eq!(statz["entrypoint"]["call"], "predict(payload, context)");
    assert_eq!(statz["app"]["name"], "model");
    assert!(statz["app"]["revision"].is_null(), "{statz}");

    // JSON log lines carry the request id, for the harness's lines and the handler's own.
    let logs = container.logs();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let of_request: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["request_id"] == "test-request-1")
        .collect();
    let messages: Vec<&str> = of_request
        .iter()
        .filter_map(|line| line["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"scoring 3 values")
            && messages.contains(&"print() output is captured as a log line")
            && messages.contains(&"POST /predict 200"),
        "request log lines: {messages:?}\n{logs}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line["level"] == "error" && line["exception"].is_string()),
        "the handler's traceback is logged:\n{logs}"
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn sigterm_lets_the_request_in_flight_finish_and_exits_zero() {
    let app = App::fixture("wrapper-function");
    let image = Image::new("wrapper-drain");
    let _ = image.build_ok(&app);
    let container = image.start(None, &[]);
    container.wait_until_ready(Duration::from_mins(1));

    let url = container.url("/predict");
    let in_flight = std::thread::spawn(move || {
        ureq::post(&url)
            .set("Content-Type", "application/json")
            .timeout(Duration::from_secs(30))
            .send_string(r#"{"values": [7], "sleep": 3}"#)
            .map(|response| {
                (
                    response.status(),
                    response.into_string().unwrap_or_default(),
                )
            })
            .map_err(|error| error.to_string())
    });
    std::thread::sleep(Duration::from_secs(1));
    let stop = Command::new("docker")
        .args(["stop", "--time", "20", &container.name])
        .output()
        .expect("docker stop runs");
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );

    let (status, body) = in_flight
        .join()
        .expect("request thread")
        .unwrap_or_else(|error| {
            panic!(
                "the request in flight failed: {error}\n{}",
                container.logs()
            )
        });
    assert_eq!(status, 200, "{body}");
    assert_contains(&body, r#""sum":7"#);
    let exit_code = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{.State.ExitCode}}",
            &container.name,
        ])
        .output()
        .expect("docker inspect runs");
    assert_eq!(
        stdout(&exit_code).trim(),
        "0",
        "exit code after SIGTERM\n{}",
        container.logs()
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn model_class_with_pip_keeps_the_apps_pins_and_waits_for_load() {
    let app = App::fixture("wrapper-class");
    let image = Image::new("wrapper-class");
    let log = image.build_ok(&app);
    assert_contains(&log, "## Blacklodge pip\n");
    assert_contains(
        &log,
        "  - Entry point sentiment.model:Model (from [tool.blacklodge] in pyproject.toml)\n",
    );
    assert_contains(
        &log,
        "  - Python 3.11.2 at /layers/blacklodge_pip/venv with ",
    );
    // Flask comes from the app's venv; only what it lacks is installed for the harness.
    assert_contains(
        &log,
        "Requirement already satisfied: flask>=2.3 in /layers/blacklodge_pip/venv/lib/python3.11/site-packages (3.1.2)",
    );
    assert_contains(
        &log,
        "  - Calls Model.predict(payload) (class; load() before traffic)\n",
    );

    let where_from = image.shell_ok(
        "/layers/blacklodge_wrapper/harness/bin/blacklodge --version; python -c 'import flask; print(flask.__file__)'; ls /layers/blacklodge_wrapper/harness/deps/lib/python3.11/site-packages",
    );
    assert_contains(&where_from, "blacklodge-harness 0.1.0\n");
    assert_contains(
        &where_from,
        "/layers/blacklodge_pip/venv/lib/python3.11/site-packages/flask/__init__.py\n",
    );
    assert_contains(&where_from, "granian\n");
    assert_not_contains(&where_from, "flask-");

    let container = image.start(None, &[("MODEL_LOAD_SECONDS", "6")]);
    container.wait_until_listening(Duration::from_mins(1));
    let loading = container.request("GET", "/readyz", &[], None);
    assert_eq!(loading.status, 503, "{}", loading.body);
    assert_eq!(json(&loading)["reason"], "loading");
    let early = post(&container, r#"{"text": "good"}"#, &[]);
    assert_eq!(early.status, 503, "{}", early.body);
    assert_eq!(json(&early)["error"]["type"], "not_ready");
    assert_eq!(container.get("/healthz").status, 200, "alive while loading");

    container.wait_until_ready(Duration::from_mins(1));
    let scored = post(&container, r#"{"text": "a great and good day"}"#, &[]);
    assert_eq!(scored.status, 200, "{}", scored.body);
    assert_eq!(
        json(&scored),
        serde_json::json!({"score": 3, "label": "positive", "flask": "3.1.2"})
    );
    let statz = json(&container.get("/statz"));
    assert_eq!(statz["app"]["name"], "sentiment");
    assert_eq!(statz["app"]["version"], "1.2.0");
    assert_eq!(statz["entrypoint"]["call"], "Model.predict(payload)");
    // Whichever worker answers a scrape, every scrape counts the call (once the other
    // worker's drain interval has passed: Container::scrape).
    for _ in 0..4 {
        assert_contains(
            &container.scrape(),
            "blacklodge_handler_calls_total{outcome=\"ok\"} 1",
        );
    }

    // Rebuilding the unchanged app reuses the harness.
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Reusing cached harness 0.1.0 (harness, Python and the app's packages unchanged)\n",
    );
    assert_contains(&log, "Reusing layer 'blacklodge/wrapper:harness'");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn planqk_job_reads_mounted_inputs_and_base64_variables() {
    let app = App::fixture("wrapper-planqk");
    let image = Image::new("wrapper-planqk");
    let log = image.build_ok(&app);
    assert_contains(&log, "  - Modes: job (default), web\n");
    assert_contains(&log, "  - Calls run(data, params) (planqk-run)\n");
    assert_contains(&log, "Setting default process type 'job'");

    // The PlanQK layout, mounted read-only, and a writable output directory.
    let input = shared_dir(Some(&app.path().join("input")), false);
    let output_dir = shared_dir(None, true);
    let result = run_process(
        &image,
        "job",
        &[
            "-v",
            &format!("{}:ro", mount(input.path(), "/var/input")),
            "-v",
            &mount(output_dir.path(), "/var/output"),
        ],
    );
    let printed = stdout(&result);
    assert_eq!(
        result.status.code(),
        Some(0),
        "{printed}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_contains(
        &printed,
        "PlanQK:Job:Result: {\"scaled\":[2,4,6],\"count\":3}\n",
    );
    let written =
        fs_err::read_to_string(output_dir.path().join("result.json")).expect("result file");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&written).expect("JSON"),
        serde_json::json!({"scaled": [2, 4, 6], "count": 3})
    );

    // PlanQK's BASE64_ENCODED convention.
    let data = format!("DATA_VALUE={}", base64(r#"{"values": [10, 20]}"#));
    let params = format!("PARAMS_VALUE={}", base64(r#"{"factor": 3}"#));
    let result = run_process(
        &image,
        "job",
        &["-e", "BASE64_ENCODED=true", "-e", &data, "-e", &params],
    );
    assert_eq!(result.status.code(), Some(0), "{}", stdout(&result));
    assert_contains(
        &stdout(&result),
        "PlanQK:Job:Result: {\"scaled\":[30,60],\"count\":2}\n",
    );

    // No input at all: exit code 2 (bad input) with the error in the marker line.
    let result = run_process(&image, "job", &[]);
    assert_eq!(result.status.code(), Some(2), "{}", stdout(&result));
    assert_contains(
        &stdout(&result),
        "PlanQK:Job:Result: {\"error\": {\"type\": ",
    );

    // The same image also serves HTTP.
    let container = image.start(Some("web"), &[]);
    container.wait_until_ready(Duration::from_mins(1));
    let response = post(
        &container,
        r#"{"data": {"values": [1]}, "params": {"factor": 5}}"#,
        &[],
    );
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        json(&response),
        serde_json::json!({"scaled": [5], "count": 1})
    );
    let statz = json(&container.get("/statz"));
    assert_eq!(statz["app"]["name"], "planqk-sample");
    assert_eq!(statz["app"]["version"], "0.3.0");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn procfile_wins_for_the_processes_it_defines() {
    let app = App::fixture("wrapper-function");
    app.write("Procfile", "web: python3 -c 'print(\"procfile web\")'\n");
    let image = Image::new("wrapper-procfile");
    let log = image.build_ok(&app);
    assert_contains(&log, "## Blacklodge wrapper\n");
    assert_contains(&log, "## Blacklodge Procfile\n");
    assert_contains(&log, "Setting default process type 'web'");

    let web = run_process(&image, "web", &[]);
    assert_eq!(stdout(&web), "procfile web\n");
    // The wrapper's job process stays, with the launch environment the wrapper set.
    let job = run_process(
        &image,
        "job",
        &[
            "-e",
            "BLACKLODGE_JOB_INPUT=none",
            "-e",
            "BLACKLODGE_RESULT_MARKER=true",
        ],
    );
    assert_eq!(job.status.code(), Some(1), "{}", stdout(&job));
    assert_contains(
        &stdout(&job),
        "PlanQK:Job:Result: {\"error\": {\"type\": \"handler_error\"",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn entry_point_variable_overrides_and_typos_list_the_names_that_exist() {
    let app = App::fixture("wrapper-function");
    let log = Image::new("wrapper-typo")
        .env("BP_BLACKLODGE_ENTRYPOINT", "model:predcit")
        .build_fails(&app);
    assert_contains(
        &log,
        "  - Entry point model:predcit (from BP_BLACKLODGE_ENTRYPOINT overrides blacklodge.toml)\n",
    );
    assert_contains(&log, "! ERROR: Entry point 'model:predcit' not found\n");
    assert_contains(&log, "predict (function)");
    assert_contains(&log, "Set the entry point to 'model:predict'.");
    assert_not_contains(&log, "BP_BLACKLODGE_VALIDATE");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn missing_module_syntax_error_and_missing_dependency_fail_the_build() {
    let app = App::fixture("wrapper-function");
    app.write("blacklodge.toml", "entrypoint = \"models:predict\"\n");
    let log = Image::new("wrapper-module").build_fails(&app);
    assert_contains(&log, "! ERROR: Module 'models' not found\n");
    assert_contains(&log, "! Modules and packages there: model");
    assert_contains(
        &log,
        "!   Did you mean module 'model'? Set the entry point to 'model:...'.",
    );

    let app = App::fixture("wrapper-function");
    app.write(
        "model.py",
        "def predict(payload):\n    return {\"ok\": True\n\n\nx = 1\n",
    );
    let log = Image::new("wrapper-syntax").build_fails(&app);
    assert_contains(&log, "! ERROR: Syntax error in model.py at line 2\n");
    assert_contains(&log, "!   File model.py, line 2\n");

    let app = App::fixture("wrapper-function");
    app.write(
        "model.py",
        "import numpy\n\ndef predict(payload):\n    return 1\n",
    );
    let log = Image::new("wrapper-dependency").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Module 'model' imports 'numpy', which is not installed\n",
    );
    assert_contains(&log, "(model.py, line 1)");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn invalid_configuration_is_explained() {
    let app = App::fixture("wrapper-function");
    app.write("blacklodge.toml", "modes = [\"web\"]\n");
    let log = Image::new("wrapper-no-entrypoint").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: No entry point declared\n!\n! blacklodge.toml configures the wrapper but has no `entrypoint`.\n",
    );

    app.write(
        "blacklodge.toml",
        "entrypoint = \"model:predict\"\nport = 8080\n",
    );
    let log = Image::new("wrapper-unknown-key").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid wrapper configuration in blacklodge.toml\n!\n! blacklodge.toml: line 2: unknown field `port`, expected one of `entrypoint`,\n! `modes`, `default-mode`, `name`, `version`, `kafka`\n",
    );

    app.write(
        "blacklodge.toml",
        "entrypoint = \"model:predict\"\nmodes = [\"web\", \"batch\"]\n",
    );
    let log = Image::new("wrapper-bad-mode").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Unknown mode\n!\n! modes in blacklodge.toml contains 'batch'.",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn pinned_dependency_that_conflicts_with_the_harness_fails_clearly() {
    let app = App::fixture("wrapper-class");
    app.write("requirements.txt", "flask==2.2.5\nwerkzeug==2.3.8\n");
    let log = Image::new("wrapper-conflict").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: The app's packages conflict with the harness's dependencies\n",
    );
    assert_contains(&log, "flask==2.2.5");
    assert_contains(&log, "The user requested (constraint) flask==2.2.5");
    assert_contains(
        &log,
        "! How to fix:\n!   Change the version of flask==2.2.5",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn example_runs_as_documented() {
    let app = App::fixture("examples/wrapped-function");
    let image = Image::new("wrapper-example");
    let _ = image.build_ok(&app);

    // docs/wrapper.md and the example's README: the job reads stdin and writes the result.
    let mut child = Command::new("docker")
        .args([
            "run",
            "--rm",
            "-i",
            "--network",
            "none",
            "--entrypoint",
            "job",
        ])
        .arg(&image.name)
        .args(["--input", "-", "--output", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("docker runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(br#"{"amount": 20, "items": 1}"#)
            .expect("write stdin");
    }
    let output = child.wait_with_output().expect("docker finishes");
    assert_eq!(
        stdout(&output),
        "{\"risk\":0.13,\"review\":false}\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let container = image.start(None, &[]);
    container.wait_until_ready(Duration::from_mins(1));
    let response = post(&container, r#"{"amount": 120, "items": 3}"#, &[]);
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body, r#"{"risk":0.63,"review":true}"#);
    let missing = post(&container, r#"{"amount": 120}"#, &[]);
    assert_eq!(missing.status, 500, "{}", missing.body);
    let statz = json(&container.get("/statz"));
    assert_eq!(statz["app"]["name"], "order-scorer");
    assert_eq!(statz["app"]["version"], "1.0.0");

    // The harness and its packages have unchecked-hash bytecode (PEP 552 flags 0b01), every
    // module of them: their sources are not read on import.
    assert_eq!(
        image.shell_ok(
            "python3 -c 'import glob; p = glob.glob(\"/layers/blacklodge_wrapper/harness/**/*.pyc\", recursive=True); \
             print(len(p) > 100, sorted({int.from_bytes(open(f, \"rb\").read(8)[4:8], \"little\") for f in p}))'"
        ),
        "True [1]\n",
        "whether the harness layer has its pycs, then their flags"
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn an_import_that_hangs_fails_the_build_at_the_limit_with_its_stack() {
    let app = App::fixture("wrapper-function");
    app.write(
        "model.py",
        "import time\n\n\ndef connect():\n    time.sleep(10**6)\n\n\nconnect()\n\n\ndef predict(payload):\n    return payload\n",
    );
    let log = Image::new("wrapper-hang")
        .env("BP_BLACKLODGE_VALIDATE_TIMEOUT", "3")
        .build_fails(&app);
    // Stopped at the limit by Python's own watchdog (the stack below shows it), not by the
    // buildpack's kill 5 s after it: between 3 and 8 s, however loaded the machine is.
    let seconds: f64 = log
        .split("  - Importing model:predict ... failed (")
        .nth(1)
        .and_then(|rest| rest.split("s)").next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no import time in:\n{log}"));
    assert!(
        (3.0..8.0).contains(&seconds),
        "stopped after {seconds} s:\n{log}"
    );
    assert_contains(
        &log,
        "! ERROR: Importing the entry point 'model:predict' did not finish within 3 seconds\n",
    );
    assert_contains(
        &log,
        "! The build imports module 'model' to check the entry point, and the import was\n! still running after 3 seconds (the limit, BP_BLACKLODGE_VALIDATE_TIMEOUT). It\n! was stopped, with every process it started.\n",
    );
    assert_contains(
        &log,
        "! It was running (most recent call last):\n!   File \"model.py\", line 8, in <module>\n!     connect()\n!   File \"model.py\", line 5, in connect\n!     time.sleep(10**6)\n",
    );
    assert_contains(
        &log,
        "!   If the import really needs longer, raise BP_BLACKLODGE_VALIDATE_TIMEOUT\n!   (seconds, default 120); to skip the check, set BP_BLACKLODGE_VALIDATE=false.\n",
    );

    let log = Image::new("wrapper-bad-timeout")
        .env("BP_BLACKLODGE_VALIDATE_TIMEOUT", "2m")
        .build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid value for BP_BLACKLODGE_VALIDATE_TIMEOUT\n!\n! BP_BLACKLODGE_VALIDATE_TIMEOUT='2m' is not accepted.\n! Accepted: a whole number of seconds from 1 to 86400 (default 120)",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn processes_the_import_starts_end_with_the_check() {
    let app = App::fixture("wrapper-function");
    // A module that starts a helper process when imported. Were the helper left running, it
    // would see the wrapper's next layer appear and leave a file in the exported app.
    let model = fs_err::read_to_string(app.path().join("model.py")).expect("model.py");
    app.write(
        "model.py",
        &format!(
            "import subprocess\n_helper = subprocess.Popen(['sh', '-c', 'while [ ! -e /layers/blacklodge_wrapper/entrypoint ]; do sleep 0.05; done; touch /workspace/helper-survived'])\n{model}"
        ),
    );
    let image = Image::new("wrapper-helper");
    let log = image.build_ok(&app);
    assert_contains(&log, "  - Importing model:predict ... done (");
    let files = image.shell_ok("ls -a /workspace");
    assert_contains(&files, "model.py\n");
    assert_not_contains(&files, "helper-survived");
}

/// `(name, version)` of every distribution in harness/requirements.lock an app without the
/// worker mode gets: all but those only the kafka extra needs (named on the lock's second line).
fn locked_distributions() -> Vec<(String, String)> {
    let lock = fs_err::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../harness/requirements.lock"),
    )
    .expect("harness/requirements.lock");
    let kafka_only: Vec<&str> = lock
        .lines()
        .find_map(|line| line.split_once("; distributions only it needs: "))
        .map(|(_, names)| names.split(", ").collect())
        .expect("the lock names what only the kafka extra needs");
    assert!(kafka_only.contains(&"confluent-kafka"), "{kafka_only:?}");
    lock.lines()
        .filter(|line| !line.starts_with(|c: char| c.is_whitespace() || c == '#'))
        .filter_map(|line| {
            let (name, rest) = line.split_once("==")?;
            let version = rest.split([' ', ';']).next()?;
            Some((name.to_string(), version.to_string()))
        })
        .filter(|(name, _)| !kafka_only.contains(&name.as_str()))
        .collect()
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn harness_dependencies_come_from_the_lock_and_are_in_the_sbom() {
    let app = App::fixture("wrapper-function");
    let image = Image::new("wrapper-lock");
    let log = image.build_ok(&app);
    let locked = locked_distributions();
    assert!(
        locked.iter().any(|(name, _)| name == "granian"),
        "{locked:?}"
    );
    assert_contains(
        &log,
        &format!(
            "Installing the harness's dependencies (flask>=2.3, granian>=2.8,<2.9) from its lock, hash-checked ({} locked distributions the app lacks; 0 the app has are kept as installed)",
            locked.len()
        ),
    );
    assert_contains(
        &log,
        &format!(
            "  - SBOM (CycloneDX): the harness 0.1.0 and {} distributions in the layer\n",
            locked.len()
        ),
    );

    // Exactly the locked versions are installed.
    let installed = image
        .shell_ok(
            "ls /layers/blacklodge_wrapper/harness/deps/lib/python3.11/site-packages | grep dist-info",
        )
        .to_lowercase();
    for (name, version) in &locked {
        let wheel_name = name.replace('-', "_");
        assert_contains(&installed, &format!("{wheel_name}-{version}.dist-info\n"));
    }

    // The harness layer's SBOM lists the harness and each of them.
    let sbom = image.launch_sbom("blacklodge_wrapper", "harness");
    let purls = purls(&sbom);
    assert!(
        purls.contains(&"pkg:generic/blacklodge-harness@0.1.0"),
        "{purls:?}"
    );
    for (name, version) in &locked {
        let purl = format!("pkg:pypi/{name}@{version}");
        assert!(purls.contains(&purl.as_str()), "{purl} missing: {purls:?}");
    }
    assert_eq!(purls.len(), locked.len() + 1, "{purls:?}");

    // A rebuild restores the layer and still exports its SBOM.
    let log = image.build_ok(&app);
    assert_contains(&log, "Reusing cached harness 0.1.0");
    let sboms = image.launch_sboms();
    assert!(
        sboms
            .keys()
            .any(|path| path.contains("blacklodge_wrapper") && path.contains("harness")),
        "{:?}",
        sboms.keys()
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn a_harness_dependency_that_does_not_match_the_lock_fails_the_build() {
    let (name, version) = locked_distributions()
        .into_iter()
        .find(|(name, _)| name == "granian")
        .expect("granian is locked");
    let port = blacklodge_tests::free_port();
    let mut server = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/wrapper-forged-index/server.py"))
        .args([
            "--port",
            &port.to_string(),
            "--forge",
            &format!("{name}=={version}"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 runs the index");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the forged index did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let app = App::fixture("wrapper-function");
    let log = Image::new("wrapper-forged")
        .env("PIP_INDEX_URL", &format!("http://127.0.0.1:{port}/simple"))
        .build_fails(&app);
    let _ = server.kill();
    let _ = server.wait();
    assert_contains(
        &log,
        "! ERROR: A harness dependency does not match its locked hash\n",
    );
    assert_contains(
        &log,
        &format!("{name}=={version} from http://127.0.0.1:{port}/files/"),
    );
    assert_contains(&log, "Expected sha256 ");
    assert_contains(&log, "!   Check the package index (PIP_INDEX_URL)");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn the_source_revision_is_recorded_at_build_time() {
    let app = App::fixture("wrapper-function");
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args([
                "-c",
                "user.name=Blacklodge Tests",
                "-c",
                "user.email=tests@blacklodge.invalid",
            ])
            .args(args)
            .current_dir(app.path())
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?}: {output:?}");
        stdout(&output).trim().to_string()
    };
    git(&["init", "-q", "-b", "release"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "The wrapped function"]);
    git(&["pack-refs", "--all"]);
    let commit = git(&["rev-parse", "HEAD"]);

    // From the app's .git (pack copies it), read without git: no git in the image.
    let mut image = Image::new("wrapper-revision");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        &format!("  - Source revision {commit} (from .git, branch release)\n"),
    );
    let container = image.start(None, &[]);
    container.wait_until_ready(Duration::from_mins(1));
    let statz = json(&container.get("/statz"));
    assert_eq!(statz["app"]["revision"], commit.as_str(), "{statz}");
    drop(container);

    // A CI variable passed to the build wins over .git, and BP_BLACKLODGE_REVISION over both.
    image.set_env("GIT_COMMIT", "ci-build-4711");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Source revision ci-build-4711 (from GIT_COMMIT)\n",
    );
    image.set_env("BP_BLACKLODGE_REVISION", "v1.4.0-rc.2");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Source revision v1.4.0-rc.2 (from BP_BLACKLODGE_REVISION)\n",
    );
    let container = image.start(None, &[]);
    container.wait_until_ready(Duration::from_mins(1));
    let statz = json(&container.get("/statz"));
    assert_eq!(statz["app"]["revision"], "v1.4.0-rc.2", "{statz}");
    drop(container);
    // The recorded revision is a default: the container's own variable wins.
    let container = image.start(None, &[("BLACKLODGE_REVISION", "hotfix-1")]);
    container.wait_until_ready(Duration::from_mins(1));
    assert_eq!(
        json(&container.get("/statz"))["app"]["revision"],
        "hotfix-1"
    );
    drop(container);

    image.set_env("BP_BLACKLODGE_REVISION", &"x".repeat(201));
    let log = image.build_fails(&app);
    assert_contains(&log, "! ERROR: Invalid value for BP_BLACKLODGE_REVISION\n");
    assert_contains(
        &log,
        "! Accepted: printable text of at most 200 characters (a commit hash, a tag, a\n! build id).\n",
    );
}

/// `/readyz` is the container's readiness: while the second worker still runs `load()`,
/// every probe fails, those the loaded worker answers included (harness/README.md).
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn readiness_waits_for_every_worker() {
    let app = App::fixture("wrapper-slow-worker");
    let image = Image::new("wrapper-slow-worker");
    let _ = image.build_ok(&app);
    let container = image.start(None, &[("BLACKLODGE_WORKERS", "2")]);
    container.wait_until_listening(Duration::from_mins(1));
    // A new connection per probe, so the kernel hands probes to either worker.
    let probe = || container.request("GET", "/readyz", &[("Connection", "close")], None);
    let deadline = Instant::now() + Duration::from_mins(1);
    let mut answers = Vec::new();
    loop {
        let answer = probe();
        assert_eq!(answer.status, 503, "{} after {answers:?}", answer.body);
        let body = json(&answer);
        answers.push(body.clone());
        if body["workers_ready"] == 1 && body["workers"] == 2 {
            break; // the loaded worker answered, and counted the other as not ready
        }
        assert!(
            Instant::now() < deadline,
            "no answer from the loaded worker: {answers:?}\n{}",
            container.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(answers.last().expect("an answer")["reason"], "loading");

    let _ = container.exec(&["touch", "/tmp/release"]);
    container.wait_until_ready(Duration::from_mins(1));
    for _ in 0..10 {
        let answer = probe();
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
}
