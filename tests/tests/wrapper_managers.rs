//! The wrapper on top of each lockfile-based dependency manager: the entry point imports a
//! locked package, and the harness serves it with the versions the lock pins (the harness's
//! own Flask requirement is met by the app's pin, never replaced; granian, which the apps do not
//! install, comes from the harness's lock).

use std::time::Duration;

use blacklodge_tests::{App, Image, assert_contains};

const MODEL: &str = r#""""Answers with the versions the app's lock installed."""
import flask
import gunicorn


def predict(payload):
    return {"flask": flask.__version__, "gunicorn": gunicorn.__version__, "echo": payload}
"#;

/// Builds `fixture` (a Flask app locked by one manager) as a wrapped function and checks
/// that `POST /predict` answers from the locked packages.
fn wrapped_function_uses_the_locked_packages(fixture: &str, manager_header: &str) {
    let app = App::fixture(fixture);
    // The fixture's own web process would win over the wrapper's: it is not wanted here.
    app.remove("Procfile");
    app.remove("app.py");
    app.write("model.py", MODEL);
    app.write("blacklodge.toml", "entrypoint = \"model:predict\"\n");
    let image = Image::new(&format!("wrapped-{fixture}"));
    let log = image.build_ok(&app);
    assert_contains(&log, manager_header);
    assert_contains(&log, "## Blacklodge wrapper\n");
    assert_contains(&log, "  - Calls predict(payload) (function)\n");

    let container = image.start(None, &[]);
    container.wait_until_ready(Duration::from_mins(1));
    let answer = container.request(
        "POST",
        "/predict",
        &[("Content-Type", "application/json")],
        Some(br#"{"order": 7}"#),
    );
    assert_eq!(answer.status, 200, "{}\n{}", answer.body, container.logs());
    let body: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON answer");
    assert_eq!(
        body,
        serde_json::json!({"flask": "3.1.2", "gunicorn": "23.0.0", "echo": {"order": 7}}),
        "the lock pins flask 3.1.2 and gunicorn 23.0.0"
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn wrapped_function_on_uv() {
    wrapped_function_uses_the_locked_packages("uv-flask", "## Blacklodge uv");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn wrapped_function_on_poetry() {
    wrapped_function_uses_the_locked_packages("poetry-flask", "## Blacklodge Poetry");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn wrapped_function_on_pipenv() {
    wrapped_function_uses_the_locked_packages("pipenv-flask", "## Blacklodge Pipenv");
}
