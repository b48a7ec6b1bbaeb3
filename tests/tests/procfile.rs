//! The Procfile buildpack through pack and the real lifecycle.

use blacklodge_tests::{App, Image, assert_contains, docker_run_offline};

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn procfile_processes_become_launch_processes_with_web_default() {
    let app = App::fixture("python-only");
    let image = Image::new("procfile");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge Procfile\n- Processes from the Procfile\n  - web: python3 server.py (default)\n  - hello: echo \"hello from $(python3 --version)\"\n",
    );
    assert_contains(&log, "Setting default process type 'web'");

    // A non-default process runs through bash with the launch environment.
    let output = docker_run_offline(&["--entrypoint", "/cnb/process/hello", &image.name]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hello from Python 3.11.2\n"
    );

    let config = image.inspect();
    assert_eq!(config["Config"]["User"], "1000:1000");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn malformed_procfile_names_the_line() {
    let app = App::fixture("python-only");
    app.write(
        "Procfile",
        "web: python3 server.py\nthis line has no separator\n",
    );
    let log = Image::new("procfile-bad").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid Procfile\n!\n! Line 2 is not of the form 'name: command': this line has no separator.",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn empty_procfile_is_an_error() {
    let app = App::fixture("python-only");
    app.write("Procfile", "# nothing yet\n");
    let log = Image::new("procfile-empty").build_fails(&app);
    assert_contains(&log, "! The Procfile defines no processes.");
}
