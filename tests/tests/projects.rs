//! Apps whose dependencies are declared in a way no installer here takes as it is:
//! setuptools/pyproject projects without a lock or requirements file. (conda environments,
//! once refused here, are installed by the conda buildpack: tests/conda.rs.)

use blacklodge_tests::{App, Image, assert_contains};

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
        "! ERROR: No lockfile for the dependencies in setup.py\n!\n! setup.py declares dependencies, but no file pins the versions to install, so\n! the image would lack them (the build installs locked or listed dependencies,\n! never an unpinned resolution on its own). Each package manager needs:\n! - uv: pyproject.toml + uv.lock (`uv lock`)\n! - Poetry: pyproject.toml + poetry.lock (`poetry lock`)\n! - Pipenv: Pipfile + Pipfile.lock (`pipenv lock`)\n! - pip: requirements.txt\n! - conda: environment.yml (or package-list.txt / conda-lock.yml)\n!\n! How to fix:\n!   Lock the dependencies and commit the result: `uv lock` or `poetry lock`\n!   (pyproject.toml), or `uv pip compile setup.py -o requirements.txt`. To\n!   install the project with its dependencies unpinned, as `pip install .` does,\n!   commit a requirements.txt with the line `.`.\n",
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
