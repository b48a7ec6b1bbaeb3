//! conda environments through pack, against the bench's real local channel (served as
//! `conda-forge`; `BP_CONDA_CHANNEL_ALIAS` points the unchanged name at it): solved
//! environment.yml with a pip section, exact package lists, a wrapped function, reuse and
//! in-place updates, the native extension whose prefix placeholder the install rewrote, and
//! each bad input's whole message.

use blacklodge_tests::{
    App, Image, LOCALPKG_PROBE, assert_contains, assert_no_build_output_in_app,
    assert_not_contains, rebuild_with_localpkg_value,
};

/// The prefix of the environment in the image.
const PREFIX: &str = "/layers/blacklodge_conda/env/prefix";

/// The bench's conda channel (bench/steps/conda-channel.sh), as a channel alias.
fn alias() -> String {
    std::env::var("BLACKLODGE_CONDA_CHANNEL_ALIAS")
        .unwrap_or_else(|_| "http://127.0.0.1:8766/".to_string())
}

fn conda_image(prefix: &str) -> Image {
    Image::new(prefix).env("BP_CONDA_CHANNEL_ALIAS", &alias())
}

/// A file the channel's build wrote next to it (the lock fixtures name the served URLs).
fn channel_fixture(name: &str) -> String {
    ureq::get(&format!("{}fixtures/{name}", alias()))
        .call()
        .unwrap_or_else(|error| panic!("the bench's conda channel serves {name}: {error}"))
        .into_string()
        .expect("text")
}

fn json(image: &Image) -> serde_json::Value {
    let container = image.start(None, &[]);
    let response = container.get("/");
    assert_eq!(response.status, 200, "{}", container.logs());
    serde_json::from_str(&response.body).expect("the app answers JSON")
}

/// The environment.yml app: solved (the constraint forces flask 3.0.3), its pip section
/// installed with the environment's Python, the native extension loading from the rewritten
/// prefix, activation's variables in the image, the lock in the log and the SBOM; an
/// unchanged rebuild reuses the environment (same layers), a spec change updates it in place.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn environment_yml_app_serves_and_is_reused_then_updated() {
    let app = App::fixture("conda-flask");
    let image = conda_image("conda-flask");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge conda\n- Reading environment.yml\n  - 6 package specs: python 3.13.*, flask, werkzeug <3.1, gunicorn, blgreet, pip\n",
    );
    assert_contains(
        &log,
        &format!(
            "  - Channels (strict priority): conda-forge ({}conda-forge/)\n",
            alias()
        ),
    );
    assert_contains(&log, "  - pip: 1 requirement\n");
    assert_contains(
        &log,
        " (commit this as package-list.txt to pin it):\n    # platform: linux-64\n    @EXPLICIT\n",
    );
    assert_contains(
        &log,
        &format!("    {}conda-forge/noarch/flask-3.0.3-", alias()),
    );
    assert_contains(&log, "- Installing the pip packages of environment.yml\n");
    assert_contains(&log, "Successfully installed six-1.17.0");
    // The environment provides Python: the CPython runtime buildpack is not in the group.
    assert_not_contains(&log, "## Blacklodge Python\n");

    let answer = json(&image);
    assert_eq!(answer["python"], "3.13.5");
    assert_eq!(answer["prefix"], PREFIX);
    assert_eq!(answer["flask"], "3.0.3");
    assert_eq!(answer["greeting"], "hello from libblgreet");
    assert_eq!(answer["greet_prefix"], PREFIX);
    assert_eq!(answer["blgreet_home"], format!("{PREFIX}/share/blgreet"));

    let shell = image.shell_ok(
        "echo \"prefix=$CONDA_PREFIX\"; echo \"ld=${LD_LIBRARY_PATH:-}\"; command -v python; python -c 'import six; print(six.__version__)'; ls \"$CONDA_PREFIX/lib/python3.13/site-packages/flask/__pycache__\" | grep -c cpython-313.pyc; ls \"$CONDA_PREFIX/conda-meta\" | grep -c history || true; grep -l /layers/blacklodge_conda/pkgs \"$CONDA_PREFIX\"/conda-meta/*.json | wc -l",
    );
    let lines: Vec<&str> = shell.lines().collect();
    assert_eq!(lines[0], format!("prefix={PREFIX}"));
    // The environment's lib/ is not on the library path of every program of the image.
    assert!(!lines[1].contains(PREFIX), "{shell}");
    assert_eq!(lines[2], format!("{PREFIX}/bin/python"));
    assert_eq!(lines[3], "1.17.0");
    assert_ne!(lines[4], "0", "flask has bytecode: {shell}");
    assert_eq!(lines[5], "0", "no conda-meta/history: {shell}");
    assert_eq!(lines[6], "0", "no cache paths in conda-meta: {shell}");

    let sboms = serde_json::to_string(&image.launch_sboms()).expect("JSON");
    assert_contains(&sboms, "pkg:conda/flask@3.0.3?build=pyh");
    assert_contains(&sboms, "&channel=conda-forge&subdir=noarch");
    assert_contains(&sboms, "pkg:pypi/six@1.17.0");

    // Unchanged: reused, nothing solved or downloaded, the same layers.
    let layers = image.layer_digests();
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Reusing the cached environment (environment.yml, channels, platform and virtual packages unchanged)\n",
    );
    assert_not_contains(&log, "Solving");
    assert_eq!(image.layer_digests(), layers);

    // A changed spec updates the environment in place, changing only what it must: the
    // installed flask 3.0.3 also fits werkzeug 3.1, so it stays.
    app.replace("environment.yml", "werkzeug <3.1", "werkzeug >=3.1");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Updating the cached environment in place:\n    - environment.yml changed\n",
    );
    assert_contains(&log, "  - Packages: 0 installed, 1 changed, 0 removed\n");
    let answer = json(&image);
    assert_eq!(answer["werkzeug"], "3.1.3");
    assert_eq!(answer["flask"], "3.0.3");
}

/// A local package in the pip section (`./libs/localpkg`) is installed from the app: its files
/// are part of the environment's key with the pip lines, so a change to them makes the
/// environment again with the new package (pip's packages are not conda's to update).
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn a_changed_local_pip_package_is_installed_again() {
    let app = App::fixture("conda-flask");
    app.write(
        "libs/localpkg/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"localpkg\"\nversion = \"1.2.0\"\n",
    );
    app.write(
        "libs/localpkg/localpkg/__init__.py",
        "VALUE = \"local-ok\"\n",
    );
    app.replace(
        "environment.yml",
        "      - six==1.17.0",
        "      - six==1.17.0\n      - ./libs/localpkg",
    );
    let image = conda_image("conda-local-pip");
    let log = image.build_ok(&app);
    assert_contains(&log, "  - pip: 2 requirements\n");
    assert_contains(&log, "Successfully installed localpkg-1.2.0");
    assert_contains(
        &log,
        "  - Removed the build output of local packages from the app: libs/localpkg/build, libs/localpkg/localpkg.egg-info\n",
    );
    assert_eq!(image.shell_ok(LOCALPKG_PROBE), "local-ok\n");
    assert_no_build_output_in_app(&image);

    rebuild_with_localpkg_value(
        &image,
        &app,
        "local-changed",
        "    - the pip packages of environment.yml (or the app files they install) changed\n",
    );
    assert_contains(
        &image.build_ok(&app),
        "  - Reusing the cached environment (environment.yml, channels, platform and virtual packages unchanged)\n",
    );
}

/// The digest of the layer `layer` of `buildpack` in the image (lifecycle metadata label).
fn layer_sha(image: &Image, buildpack: &str, layer: &str) -> String {
    let labels = &image.inspect()["Config"]["Labels"];
    let metadata: serde_json::Value = serde_json::from_str(
        labels["io.buildpacks.lifecycle.metadata"]
            .as_str()
            .expect("lifecycle metadata label"),
    )
    .expect("JSON");
    metadata["buildpacks"]
        .as_array()
        .expect("buildpacks")
        .iter()
        .find(|entry| entry["key"] == buildpack)
        .and_then(|entry| entry["layers"][layer]["sha"].as_str())
        .unwrap_or_else(|| panic!("no layer {layer} of {buildpack}: {metadata}"))
        .to_string()
}

/// package-list.txt (`conda list --explicit --md5`) and conda-lock.yml are installed exactly,
/// nothing solved; the same packages give the same `env` layer from two fresh caches and two
/// input files (no cache paths, no history); a package whose md5 differs from its line fails
/// with the whole story.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn locks_are_installed_exactly_and_checked() {
    let app = App::fixture("conda-flask");
    app.remove("environment.yml");
    let list = channel_fixture("explicit-linux-64.txt");
    app.write("package-list.txt", &list);
    let image = conda_image("conda-list");
    let log = image.build_ok(&app);
    assert_contains(&log, "## Blacklodge conda\n- Reading package-list.txt\n");
    assert_contains(&log, "  - Downloading and checking ");
    assert_not_contains(&log, "Solving");
    assert_eq!(json(&image)["flask"], "3.0.3");

    let locked = App::fixture("conda-flask");
    locked.remove("environment.yml");
    locked.write("conda-lock.yml", &channel_fixture("conda-lock.yml"));
    let from_lock = conda_image("conda-lock");
    let log = from_lock.build_ok(&locked);
    assert_contains(&log, "- Reading conda-lock.yml\n");
    assert_eq!(
        layer_sha(&from_lock, "blacklodge/conda", "env"),
        layer_sha(&image, "blacklodge/conda", "env")
    );

    let line = list
        .lines()
        .find(|line| line.contains("/flask-3.0.3-"))
        .expect("the list has flask");
    let (url, md5) = line.split_once('#').expect("md5 after #");
    let wrong = "0".repeat(32);
    app.replace("package-list.txt", line, &format!("{url}#{wrong}"));
    let log = conda_image("conda-list-tampered").build_fails(&app);
    assert_contains(
        &log,
        &format!(
            "! ERROR: A package of package-list.txt does not match its hash\n!\n! {url}\n! has the md5 {md5}, but package-list.txt lists\n! {wrong}. The channel serves a different file than the\n! one locked: it was rebuilt, replaced or tampered with, or the list was edited.\n!\n! How to fix:\n!   If the new file is trusted, regenerate package-list.txt\n!   (`conda list --explicit --md5`, or `conda-lock`) and commit it; otherwise\n!   find out why the channel changed.\n"
        ),
    );
}

/// A wrapped function in a conda environment: the wrapper runs on top with the
/// environment's Python.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn wrapped_function_runs_in_the_conda_environment() {
    let app = App::fixture("wrapper-function");
    app.write(
        "environment.yml",
        "channels: [conda-forge]\ndependencies:\n  - python=3.13\n  - blgreet\n",
    );
    app.write(
        "model.py",
        "import blgreet\n\n\ndef predict(payload, context):\n    return {\"greeting\": blgreet.message(), \"sum\": sum(payload[\"values\"])}\n",
    );
    let image = conda_image("conda-wrapper");
    let log = image.build_ok(&app);
    assert_contains(&log, "## Blacklodge conda\n");
    assert_contains(&log, "## Blacklodge wrapper\n");
    let container = image.start(None, &[]);
    container.wait_until_ready(std::time::Duration::from_mins(1));
    let response = container.request(
        "POST",
        "/predict",
        &[("Content-Type", "application/json")],
        Some(b"{\"values\": [1, 2]}"),
    );
    assert_eq!(response.status, 200, "{}", container.logs());
    assert_contains(&response.body, "\"greeting\":\"hello from libblgreet\"");
    assert_contains(&response.body, "\"sum\":3");
}

/// Each bad input fails with its whole message.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn bad_input_is_explained() {
    let app = App::fixture("conda-flask");
    let fails = |name: &str, app: &App| conda_image(name).build_fails(app);

    app.write(
        "environment.yml",
        "channels: [conda-forge]\ndependencies:\n  - python=3.13\n - flask\n",
    );
    assert_contains(
        &fails("conda-bad-yaml", &app),
        "! ERROR: Invalid environment.yml\n!\n! environment.yml is not a valid conda environment file: did not find expected\n! key at line 4 column 2, while parsing a block mapping.\n!\n! How to fix:\n!   Fix environment.yml at the place named (YAML: `dependencies:` is a list of\n!   package specs such as `python=3.13` and at most one `pip:` list; `channels:`\n!   a list of names or URLs). `conda env create --dry-run -f environment.yml`\n!   checks it locally.\n",
    );

    app.write(
        "environment.yml",
        "channels: [conda-forge]\ndependencies:\n  - python=3.13\n  - flaskk\n",
    );
    assert_contains(
        &fails("conda-unknown", &app),
        &format!(
            "! ERROR: Package not found\n!\n! environment.yml asks for 'flaskk', which no channel has. Channels searched:\n! - conda-forge ({}conda-forge/)\n!\n! How to fix:\n!   Check the spelling of the package names in environment.yml, or add the\n!   channel that has them to `channels:`. Packages only on PyPI go in the `pip:`\n!   section.\n",
            alias()
        ),
    );

    app.write(
        "environment.yml",
        "channels: [conda-forge]\ndependencies:\n  - python=3.13\n  - flask >=3.1\n  - werkzeug <3.1\n",
    );
    assert_contains(
        &fails("conda-unsat", &app),
        "! ERROR: The packages in environment.yml cannot be installed together\n!\n! No set of packages satisfies environment.yml:\n! flask >=3.1 cannot be installed because there are no viable options:\n! └─ flask 3.1.1 would require\n!    └─ werkzeug >=3.1.0, for which no candidates were found.\n!\n! How to fix:\n!   Loosen or change the version constraints named above in environment.yml (or\n!   add a channel that has versions that fit).\n",
    );

    // Channel priority, in the solved list: bench-extra has a newer `packaging`; strict
    // priority keeps conda-forge's, disabled takes the newest.
    app.write(
        "environment.yml",
        "channels: [conda-forge, bench-extra]\ndependencies:\n  - packaging\n",
    );
    let log = conda_image("conda-strict").build_ok(&app);
    assert_contains(&log, "/conda-forge/noarch/packaging-24.2-");
    let log = conda_image("conda-disabled")
        .env("BP_CONDA_CHANNEL_PRIORITY", "disabled")
        .build_ok(&app);
    assert_contains(&log, "  - Channels (disabled priority): ");
    assert_contains(&log, "/bench-extra/noarch/packaging-25.0-");

    app.write(
        "environment.yml",
        "channels: [conda-forge]\ndependencies:\n  - libblgreet\n",
    );
    assert_contains(
        &fails("conda-no-python", &app),
        "! ERROR: The conda environment has no Python\n!\n! The packages of environment.yml do not include `python`, which runs the app\n! (and pip, the wrapper and the web server).\n!\n! How to fix:\n!   Add `python` (e.g. `python=3.13`) to the packages of environment.yml.\n",
    );

    app.write(
        "environment.yml",
        "channels: [conda-forge]\ndependencies:\n  - python=3.13\n  - pip\n  - pip:\n    - blacklodge-no-such-package==1.0\n",
    );
    assert_contains(
        &fails("conda-pip", &app),
        "! ERROR: Could not install the pip package blacklodge-no-such-package==1.0\n!\n! pip, installing the pip packages of environment.yml into the conda\n! environment, exited with code 1:\n! ERROR: Could not find a version that satisfies the requirement blacklodge-no-such-package==1.0 (from versions: none)\n! ERROR: No matching distribution found for blacklodge-no-such-package==1.0\n!\n! How to fix:\n!   Check the name and version of blacklodge-no-such-package==1.0 in the pip\n!   section of environment.yml against the index (PIP_INDEX_URL, default PyPI);\n!   a package that needs compiling may need its conda package instead.\n",
    );

    app.write(
        "environment.yml",
        "channels: [conda-forge]\ndependencies:\n  - python=3.13\n",
    );
    let log = Image::new("conda-unreachable")
        .env("BP_CONDA_CHANNEL_ALIAS", "http://127.0.0.1:9/")
        .build_fails(&app);
    // The two subdirectories are fetched at once: whichever fails first is named.
    let unreachable = |subdir: &str| {
        format!(
            "! ERROR: Could not read the conda channels\n!\n! The package index of the channels could not be read:\n! - conda-forge (http://127.0.0.1:9/conda-forge/)\n!\n! error sending request for url\n! (http://127.0.0.1:9/conda-forge/{subdir}/repodata_shards.msgpack.zst): client\n! error (Connect): tcp connect error: Connection refused (os error 111)\n!\n! How to fix:\n!   Check the channel names and URLs (the environment file's `channels:`,\n!   BP_CONDA_CHANNELS, BP_CONDA_CHANNEL_ALIAS or .condarc's channel_alias), that\n!   the server is reachable from the build, and its credentials\n!   (BP_CONDA_AUTH_FILE). For builds without network, vendor a channel directory\n!   in the app and name it as a channel (e.g. ./vendor/conda-channel).\n"
        )
    };
    assert!(
        log.contains(&unreachable("noarch")) || log.contains(&unreachable("linux-64")),
        "expected the unreachable channel's message in:\n{log}"
    );

    app.write(
        "environment.yml",
        "channels: [./broken-channel]\ndependencies:\n  - python=3.13\n",
    );
    app.write("broken-channel/noarch/repodata.json", "{\"packages\": [\n");
    app.write(
        "broken-channel/linux-64/repodata.json",
        "{\"packages\": {}}\n",
    );
    assert_contains(
        &fails("conda-broken-index", &app),
        "! ERROR: Could not read the conda channels\n!\n! The package index of the channels could not be read:\n! - ./broken-channel (file:///workspace/broken-channel/)\n!\n! failed to parse repodata.json: invalid type: sequence, expected a map at line\n! 1 column 13\n!\n! How to fix:\n!   Check the channel names and URLs (the environment file's `channels:`,\n!   BP_CONDA_CHANNELS, BP_CONDA_CHANNEL_ALIAS or .condarc's channel_alias), that\n!   the server is reachable from the build, and its credentials\n!   (BP_CONDA_AUTH_FILE). For builds without network, vendor a channel directory\n!   in the app and name it as a channel (e.g. ./vendor/conda-channel).\n",
    );
}

/// Copies the bench channel's `conda-forge` into the app (`vendor/conda-channel`).
fn vendor_channel(app: &App) {
    for subdir in ["noarch", "linux-64"] {
        let base = format!("{}conda-forge/{subdir}/", alias());
        let index = ureq::get(&format!("{base}repodata.json"))
            .call()
            .expect("the channel serves its index")
            .into_string()
            .expect("text");
        let repodata: serde_json::Value = serde_json::from_str(&index).expect("JSON");
        let dir = app.path().join("vendor/conda-channel").join(subdir);
        fs_err::create_dir_all(&dir).expect("mkdir");
        fs_err::write(dir.join("repodata.json"), &index).expect("write");
        for file in repodata["packages.conda"]
            .as_object()
            .expect("packages.conda")
            .keys()
        {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut ureq::get(&format!("{base}{file}"))
                    .call()
                    .expect("the channel serves its packages")
                    .into_reader(),
                &mut bytes,
            )
            .expect("package bytes");
            fs_err::write(dir.join(file), bytes).expect("write");
        }
    }
}

/// A channel vendored in the app builds without any network.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn offline_build_from_a_vendored_channel() {
    let app = App::fixture("conda-flask");
    vendor_channel(&app);
    app.write(
        "environment.yml",
        "channels:\n  - ./vendor/conda-channel\ndependencies:\n  - python=3.13\n  - flask\n  - gunicorn\n  - blgreet\n",
    );
    let image = Image::new("conda-offline").network("none");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Channels (strict priority): ./vendor/conda-channel (file:///workspace/vendor/conda-channel/)\n",
    );
    assert_eq!(json(&image)["flask"], "3.1.1");
}

/// Each `.condarc` mistake fails the build with its whole message: the file is not YAML, a
/// key has a value of the wrong type, the channel alias is no URL.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn condarc_mistakes_are_explained() {
    let app = App::fixture("conda-flask");
    let fails = |name: &str, condarc: &str| {
        app.write(".condarc", condarc);
        conda_image(name).build_fails(&app)
    };

    assert_contains(
        &fails(
            "conda-condarc-yaml",
            "channels:\n  - conda-forge\n\tchannel_priority: strict\n",
        ),
        "! ERROR: Invalid .condarc\n!\n! .condarc in the app is not valid YAML: found a tab character that violates\n! indentation at line 3 column 1, while scanning a plain scalar at line 2 column\n! 5.\n!\n! How to fix:\n!   Fix .condarc at the place named: one `key: value` setting a line, nested\n!   lines indented with spaces (not tabs), e.g. `channels: [conda-forge]`. This\n!   buildpack reads its channels, channel_alias and channel_priority; delete\n!   .condarc if the build needs none of them.\n",
    );

    assert_contains(
        &fails("conda-condarc-type", "# mirror settings\nchannels: 5\n"),
        "! ERROR: Invalid .condarc\n!\n! channels in .condarc (line 2) is the number 5: it must be a list of channel\n! names or URLs.\n!\n! How to fix:\n!   In .condarc, set channels to a list of channel names or URLs, e.g.\n!   `channels: [conda-forge]`, or delete it.\n",
    );

    assert_contains(
        &fails("conda-condarc-alias", "channel_alias: conda.example.com\n"),
        "! ERROR: Invalid .condarc\n!\n! channel_alias in .condarc (line 1) is 'conda.example.com': it must be an http,\n! https or file URL.\n!\n! How to fix:\n!   In .condarc, set channel_alias to an http, https or file URL, e.g.\n!   `channel_alias: https://conda.example.com/`, or delete it.\n",
    );
}

/// `.condarc` keys the buildpack does not read are named in a warning and the build goes on;
/// the keys it reads apply (the alias and the priority come from the file: no variable is
/// set, and the environment file names no channel).
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn condarc_keys_it_does_not_read_are_a_warning() {
    let app = App::fixture("conda-flask");
    app.write(
        "environment.yml",
        "dependencies:\n  - python=3.13\n  - flask\n",
    );
    app.write(
        ".condarc",
        &format!(
            "channel_alias: {}\nchannels: [conda-forge]\nchannel_priority: flexible\nalways_yes: true\nssl_verify: false\n",
            alias()
        ),
    );
    let log = Image::new("conda-condarc-ignored").build_ok(&app);
    assert_contains(
        &log,
        "! WARNING: .condarc settings are ignored\n!\n! .condarc sets always_yes, ssl_verify, which this buildpack does not read (it\n! reads channels, channel_alias and channel_priority): the build goes on without\n! them.\n! Delete them from .condarc to silence this warning. docs/conda.md lists the\n! build variables for channels, mirrors and credentials.\n",
    );
    assert_contains(
        &log,
        &format!(
            "  - Channels (flexible priority): conda-forge ({}conda-forge/)\n",
            alias()
        ),
    );
    assert_contains(&log, "  - Packages: ");
}
