//! Apps whose dependencies are declared in a way no installer here takes as it is: conda
//! environments, and setuptools/pyproject projects without a lock or requirements file.

use blacklodge_tests::{App, Image, assert_contains};

/// A conda app (environment.yml, or package-list.txt) fails the build naming its file,
/// instead of building an image without its dependencies; the pip buildpack reports it.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn conda_environment_fails_naming_the_file() {
    let app = App::fixture("conda-environment");
    let message = |file: &str| {
        format!(
            "! ERROR: conda is not supported\n!\n! The app has {file}, the file of conda environments, but no Blacklodge buildpack installs with conda: building without it would give an image without the app's dependencies. Supported: uv, Poetry, Pipenv, pip.\n!\n! How to fix:\n!   Declare the dependencies for uv, Poetry, Pipenv, pip instead (for example the pip packages of {file} as requirements.txt) and remove {file}, or build with a builder that supports conda.\n"
        )
    };
    let log = Image::new("conda-environment").build_fails(&app);
    assert_contains(&log, "## Blacklodge pip\n");
    assert_contains(&log, &message("environment.yml"));

    let environment = app.read("environment.yml");
    app.remove("environment.yml");
    app.write(
        "package-list.txt",
        "# platform: linux-64\nflask=3.1.2=pyhd8ed1ab_0\n",
    );
    let log = Image::new("conda-package-list").build_fails(&app);
    assert_contains(&log, &message("package-list.txt"));

    // Chosen by BP_PYTHON_PACKAGE_MANAGER over a requirements.txt, it is the same error.
    app.remove("package-list.txt");
    app.write("environment.yaml", &environment);
    app.write("requirements.txt", "flask==3.1.2\ngunicorn==23.0.0\n");
    let log = Image::new("conda-chosen")
        .env("BP_PYTHON_PACKAGE_MANAGER", "conda")
        .build_fails(&app);
    assert_contains(&log, &message("environment.yaml"));
}

/// A setup.py project with `install_requires` and no requirements or lock file fails with
/// the fix (like Heroku's buildpack, unlike an image that starts without its
/// dependencies); the fix it names, a requirements.txt with `.`, installs the project and
/// its declared dependencies, and the app serves; a dependency added to setup.py later is
/// installed by the next build.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn setup_py_project_without_requirements_names_the_fix_that_works() {
    let app = App::fixture("setup-py-flask");
    let log = Image::new("setup-py-unlocked").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: No lockfile for the dependencies in setup.py\n!\n! setup.py declares dependencies, but no file pins the versions to install, so the image would lack them (the build installs locked or listed dependencies, never an unpinned resolution on its own). Each package manager needs:\n! - uv: pyproject.toml + uv.lock (`uv lock`)\n! - Poetry: pyproject.toml + poetry.lock (`poetry lock`)\n! - Pipenv: Pipfile + Pipfile.lock (`pipenv lock`)\n! - pip: requirements.txt\n!\n! How to fix:\n!   Lock the dependencies and commit the result: `uv lock` or `poetry lock` (pyproject.toml), or `uv pip compile setup.py -o requirements.txt`. To install the project with its dependencies unpinned, as `pip install .` does, commit a requirements.txt with the line `.`.\n",
    );

    app.write("requirements.txt", ".\n");
    let image = Image::new("setup-py-project");
    let log = image.build_ok(&app);
    assert_contains(&log, " + greeter-service==1.0.0");
    assert_contains(&log, " + flask==3.1");
    image.assert_serves();

    // The project is part of the venv's key: a dependency added to setup.py alone is
    // installed by the next build.
    app.replace(
        "setup.py",
        "\"gunicorn>=23,<24\"]",
        "\"gunicorn>=23,<24\", \"six==1.17.0\"]",
    );
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Discarding cached virtual environment:\n    - requirements.txt, a file it includes, a PIP_CONSTRAINT file or a local package they install changed\n",
    );
    assert_contains(
        &image.shell_ok("python -c 'import six; print(six.__version__)'"),
        "1.17.0",
    );
}
