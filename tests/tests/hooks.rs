//! Build hooks (`bin/pre_compile`, `bin/post_compile`) and S2I repos (`.s2i/bin/assemble`,
//! `.s2i/bin/run`, `.s2i/environment`) through pack and the real lifecycle.

use blacklodge_tests::{App, Image, assert_contains, assert_not_contains, assert_venv_reused};
use std::os::unix::fs::PermissionsExt;

/// Writes an app script with `mode` (0o755 for a runnable one).
fn write_script(app: &App, relative: &str, text: &str, mode: u32) {
    app.write(relative, text);
    fs_err::set_permissions(
        app.path().join(relative),
        std::fs::Permissions::from_mode(mode),
    )
    .expect("chmod");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn s2i_repo_builds_unchanged_and_serves() {
    let app = App::fixture("s2i-flask");
    let image = Image::new("s2i-flask");
    let log = image.build_ok(&app);

    // .s2i/environment reaches the build (the assemble script prints it) ...
    assert_contains(
        &log,
        "## Blacklodge hooks (before the dependencies)\n- Checked .s2i/bin/assemble, .s2i/bin/run\n- Setting 1 variable from .s2i/environment for the build and the image\n  - GREETING\n",
    );
    // ... the assemble runs after the dependency install, calls the stock assemble, and its
    // own steps see the installed packages.
    assert_contains(
        &log,
        "- Stock S2I scripts in $STI_SCRIPTS_PATH\n  - assemble: the buildpacks' build, already done\n  - run: APP_SCRIPT or APP_FILE when set, else the web process: bash -c /layers/blacklodge_web/server/bin/gunicorn --bind 0.0.0.0:$PORT app:app\n",
    );
    // (The repo pins no Python version: the newest on the mirror.)
    assert_contains(
        &log,
        "- Running .s2i/bin/assemble\n      ---> The Blacklodge buildpacks already assembled the app in /workspace\n      ---> Python 3.",
    );
    assert_contains(
        &log,
        ", dependencies in /layers/blacklodge_pip/venv\n      ---> Adding assembled.txt (GREETING=hello from .s2i/environment)\n  - .s2i/bin/assemble finished (",
    );
    assert_contains(&log, "- .s2i/bin/run is the web process (default)\n");
    assert_contains(&log, "Setting default process type 'web'");
    // The assemble wrote nothing to its layer: no empty layer in the image.
    assert_not_contains(&log, "Adding layer 'blacklodge/hooks-post:hook'");

    // The run script prints its line, then the stock run starts the app the buildpacks chose.
    let container = image.start(None, &[]);
    let response = container.get("/");
    assert_eq!(response.status, 200, "{}", response.body);
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
    assert_eq!(body["greeting"], "hello from .s2i/environment");
    assert_eq!(body["assembled"], "flask 3.1.2");
    let logs = container.logs();
    assert_contains(
        &logs,
        "---> Starting the app from .s2i/bin/run (GREETING=hello from .s2i/environment)\n",
    );
    assert_contains(&logs, "gunicorn");

    // The environment and the stock scripts are there for every process of the image.
    assert_eq!(
        image.shell_ok("echo \"$GREETING\"; cat \"$STI_SCRIPTS_PATH/run\" | tail -n 2"),
        "hello from .s2i/environment\n# The web process of the buildpacks.\nexec 'bash' '-c' '/layers/blacklodge_web/server/bin/gunicorn --bind 0.0.0.0:$PORT app:app'\n"
    );
    // The stock run honours the S2I Python images' APP_FILE and APP_SCRIPT.
    assert_eq!(
        image.shell_ok(
            "cd /tmp && echo 'print(\"from APP_FILE\")' > main.py && printf '#!/bin/sh\\necho from APP_SCRIPT\\n' > start.sh && chmod +x start.sh && APP_FILE=main.py \"$STI_SCRIPTS_PATH/run\" && APP_SCRIPT=start.sh \"$STI_SCRIPTS_PATH/run\""
        ),
        "from APP_FILE\nfrom APP_SCRIPT\n"
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn hooks_run_before_and_after_the_dependency_install() {
    let app = App::fixture("hooks-pip");
    let image = Image::new("hooks-pip");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge hooks (before the dependencies)\n- Checked bin/pre_compile, bin/post_compile\n- Running bin/pre_compile\n      pre_compile: Python 3.11.2 in /workspace, VIRTUAL_ENV=unset\n  - bin/pre_compile finished (",
    );
    assert_contains(
        &log,
        "## Blacklodge hooks (after the build)\n- Running bin/post_compile\n      post_compile: six 1.17.0 in /layers/blacklodge_pip/venv\n      greetings from the pre_compile layer\n      BUILD_DIR=/workspace BLACKLODGE_APP_DIR=/workspace\n  - bin/post_compile finished (",
    );
    // The pre hook ran before the install: its header comes before pip's.
    let pre = log.find("- Running bin/pre_compile").expect("pre hook ran");
    let pip = log.find("## Blacklodge pip").expect("pip ran");
    let post = log
        .find("- Running bin/post_compile")
        .expect("post hook ran");
    assert!(pre < pip && pip < post, "hooks out of order:\n{log}");
    assert_contains(&log, "Adding layer 'blacklodge/hooks-pre:hook'");
    assert_not_contains(&log, "Adding layer 'blacklodge/hooks-post:hook'");

    // What the hooks wrote is in the image: the pre hook's tool on PATH, the post hook's file.
    assert_eq!(
        image.shell_ok("greet && cat built.txt"),
        "greetings from the pre_compile layer\nwritten by post_compile\n"
    );
    image.assert_serves();

    // Hooks are not cached: a rebuild runs both again (the dependencies are reused).
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "- Running bin/pre_compile\n      pre_compile: Python 3.11.2 in /workspace, VIRTUAL_ENV=unset\n",
    );
    assert_contains(&log, "      greetings from the pre_compile layer\n");
    assert_venv_reused(&log, "requirements.txt");
    assert_eq!(
        image.shell_ok("greet"),
        "greetings from the pre_compile layer\n"
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn a_failing_hook_fails_the_build_with_its_name_and_exit_code() {
    let app = App::fixture("python-only");
    write_script(
        &app,
        "bin/post_compile",
        "#!/bin/sh\necho 'compressing assets'\necho 'no such file: assets/' >&2\nexit 3\n",
        0o755,
    );
    let log = Image::new("hooks-fail").build_fails(&app);
    assert_contains(
        &log,
        "- Running bin/post_compile\n      compressing assets\n      no such file: assets/\n",
    );
    assert_contains(
        &log,
        "\n! ERROR: The hook bin/post_compile failed\n!\n! bin/post_compile exited with code 3. Its output is above, under\n! 'Running bin/post_compile'.\n!\n! How to fix:\n!   Fix bin/post_compile so that it succeeds (exit code 0); try it from the app\n!   root with `bin/post_compile`. Its environment is described in docs/hooks.md.\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn scripts_that_cannot_run_are_refused_before_the_install() {
    // Not executable: refused by the first hook buildpack, before any dependency install.
    let app = App::fixture("hooks-pip");
    write_script(&app, "bin/post_compile", "#!/bin/sh\necho never\n", 0o644);
    let log = Image::new("hooks-mode").build_fails(&app);
    assert_contains(
        &log,
        "\n! ERROR: The hook bin/post_compile is not executable\n!\n! bin/post_compile has mode 644: the build runs it as a program, which needs the\n! executable bit.\n!\n! How to fix:\n!   Make it executable and commit the mode:\n!     chmod +x bin/post_compile\n!     git update-index --chmod=+x bin/post_compile\n",
    );
    assert_not_contains(&log, "## Blacklodge pip");
    assert_not_contains(&log, "- Running bin/pre_compile");

    // A script that installs system packages needs root, which no build step has.
    let app = App::fixture("python-only");
    write_script(
        &app,
        ".s2i/bin/assemble",
        "#!/bin/bash\nset -e\n${STI_SCRIPTS_PATH}/assemble\napt-get install -y libpq5\n",
        0o755,
    );
    let log = Image::new("hooks-root").build_fails(&app);
    assert_contains(
        &log,
        "\n! ERROR: The S2I script .s2i/bin/assemble needs root\n!\n! Line 4 of .s2i/bin/assemble runs apt-get: 'apt-get install -y libpq5'\n! Build steps run as the image's non-root user (uid 1000): they cannot install\n! system packages, use sudo or change users.\n!\n! How to fix:\n!   Remove that command from .s2i/bin/assemble. List the Debian packages the app\n!   needs in an Aptfile instead (installed without root), and Python packages in\n!   the app's dependency file; see docs/hooks.md ('Which tool for which need').\n",
    );

    // Incremental S2I builds are refused.
    let app = App::fixture("python-only");
    write_script(
        &app,
        ".s2i/bin/save-artifacts",
        "#!/bin/sh\ntar cf - .cache\n",
        0o755,
    );
    let log = Image::new("hooks-artifacts").build_fails(&app);
    assert_contains(
        &log,
        "\n! ERROR: S2I incremental builds are not supported\n!\n! .s2i/bin/save-artifacts exists. S2I runs it to keep files for the next build's\n! assemble in /tmp/artifacts; the buildpacks keep Python, the dependencies and\n! the installers' downloads in cached layers instead, and provide no\n! /tmp/artifacts.\n!\n! How to fix:\n!   Delete .s2i/bin/save-artifacts (and any use of /tmp/artifacts in\n!   .s2i/bin/assemble).\n",
    );

    // A line of .s2i/environment that is not NAME=value.
    let app = App::fixture("python-only");
    app.write(".s2i/environment", "APP_FILE=server.py\nexport DEBUG=1\n");
    let log = Image::new("hooks-environment").build_fails(&app);
    assert_contains(
        &log,
        "\n! ERROR: Invalid line in .s2i/environment\n!\n! Line 2 is 'export DEBUG=1': 'export DEBUG' is not a variable name (letters,\n! digits and _, not starting with a digit).\n!\n! How to fix:\n!   Write each variable as NAME=value on its own line (no `export`, no spaces\n!   around '='), or remove the line. To add programs or libraries, have a hook\n!   put them in $BLACKLODGE_HOOK_LAYER/bin or /lib.\n",
    );
}
