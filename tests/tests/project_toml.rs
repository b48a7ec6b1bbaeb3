//! The project descriptor (`project.toml`, CNB project spec 0.2) as pack applies it:
//! `[[io.buildpacks.build.env]]` reaches the buildpacks at build time only, and
//! `[io.buildpacks] exclude` / `include` decide which files of the app are in the image.

use blacklodge_tests::{App, Image, assert_contains};

/// What the fixture's server answers: the app's files in the image, its Python, and whether
/// the build-time variable reached the process.
fn served(image: &Image) -> serde_json::Value {
    let container = image.start(None, &[]);
    let response = container.get("/");
    assert_eq!(response.status, 200, "{}", container.logs());
    serde_json::from_str(&response.body).expect("JSON")
}

fn files(answer: &serde_json::Value) -> Vec<&str> {
    answer["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|file| file.as_str().expect("a path"))
        .collect()
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn project_toml_build_env_and_exclude_then_include() {
    let app = App::fixture("project-toml");
    let image = Image::new("project-toml");
    let log = image.build_ok(&app);
    // BP_PYTHON_VERSION from project.toml wins over .python-version (3.13), as documented.
    assert_contains(&log, "BP_PYTHON_VERSION");
    let answer = served(&image);
    assert!(
        answer["python"]
            .as_str()
            .expect("python")
            .starts_with("3.11."),
        "{answer}"
    );
    // A build-time variable is not in the image's environment.
    assert!(answer["build_marker"].is_null(), "{answer}");
    assert_eq!(
        files(&answer),
        [".python-version", "Procfile", "project.toml", "server.py"]
    );
    assert!(!image.contains_bytes("api-key-that-must-not-ship"));

    // `include` instead: only the listed files.
    app.replace(
        "project.toml",
        "exclude = [\"notes/\", \"*.secret\"]",
        "include = [\"server.py\", \"Procfile\", \"notes/\"]",
    );
    let image = Image::new("project-toml-include");
    let _ = image.build_ok(&app);
    let answer = served(&image);
    assert_eq!(files(&answer), ["Procfile", "notes/todo.md", "server.py"]);
    assert!(!image.contains_bytes("api-key-that-must-not-ship"));
}
