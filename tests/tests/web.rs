//! The web buildpack through pack and the real lifecycle: the default `web` process of the
//! common app shapes, `PORT=8080` in every image, Django's collectstatic.

use blacklodge_tests::{
    App, Container, Image, assert_contains, assert_not_contains, free_port, output_text,
};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the image's default process as `docker run -p <port>:8080 <image>` would, without
/// setting `PORT`, and returns the container (its `port` is the published host port).
fn start_published(image: &Image) -> Container {
    let port = free_port();
    let name = format!("blacklodge-test-web-{}-{port}", std::process::id());
    let output = Command::new("docker")
        .args(["run", "-d", "--name", &name, "-p"])
        .arg(format!("127.0.0.1:{port}:8080"))
        .arg(&image.name)
        .output()
        .expect("docker runs");
    assert!(
        output.status.success(),
        "docker run: {}",
        output_text(&output)
    );
    Container { name, port }
}

/// `GET path` on a published port: docker's proxy accepts connections before the app
/// listens, so this retries until an HTTP answer comes (or the container stops).
fn get_published(container: &Container, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        match ureq::get(&container.url(path))
            .timeout(Duration::from_secs(10))
            .call()
        {
            Ok(response) | Err(ureq::Error::Status(_, response)) => {
                let status = response.status();
                return (status, response.into_string().expect("UTF-8 body"));
            }
            Err(error) => {
                assert!(
                    Instant::now() < deadline && container.is_running(),
                    "GET {path}: {error}\n{}",
                    container.logs()
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    }
}

/// Starts the image's default process and returns it with the body of its `GET /`, which
/// must answer 200.
fn serve_root(image: &Image) -> (Container, String) {
    let container = image.start(None, &[]);
    let response = container.get("/");
    assert_eq!(response.status, 200, "{}", response.body);
    (container, response.body)
}

/// A Flask `app.py` without a Procfile and without gunicorn: gunicorn comes from the
/// buildpack's lock into its own layer, serves on `$PORT`, and is reused by a rebuild.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn flask_app_py_is_served_by_gunicorn_the_buildpack_installs() {
    let app = App::fixture("web-flask");
    let image = Image::new("web-flask");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge web\n- Launch environment\n  - PORT=8080 unless the container sets it (docker run -e PORT=…)\n- Default process\n  - Found: app.py defines `app`, a WSGI app (it imports flask)\n  - The app does not install gunicorn: this buildpack adds it (add gunicorn to the app's dependencies to choose its version)\n",
    );
    assert_contains(
        &log,
        "  - Installing gunicorn from the buildpack's lock, hash-checked, next to the app's packages\n",
    );
    assert_contains(
        &log,
        "  - web: /layers/blacklodge_web/server/bin/gunicorn --bind 0.0.0.0:$PORT app:app (default)\n  - To run something else, add a Procfile with a web line (e.g. `web: gunicorn --bind 0.0.0.0:$PORT app:app`); BP_WEB_DEFAULT_PROCESS=false builds without this process\n",
    );
    assert_contains(&log, "Setting default process type 'web'");

    let (container, body) = serve_root(&image);
    assert_contains(&body, "\"framework\":\"flask\"");
    assert_contains(&body, "\"server\":\"gunicorn/");
    // The app's environment is untouched: gunicorn is only in the buildpack's layer.
    let (ok, output) = image.run_shell("python -c 'import gunicorn' 2>&1");
    assert!(!ok, "{output}");
    drop(container);

    app.write("extra.py", "X = 1\n");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Reusing cached gunicorn (lock, Python and the app's packages unchanged)\n",
    );
    image.assert_serves();
}

/// A FastAPI `main.py` with uvicorn among its dependencies: the app's uvicorn serves it;
/// without uvicorn, the one the buildpack installs does.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn fastapi_main_py_is_served_by_its_uvicorn_or_the_buildpacks() {
    let app = App::fixture("web-fastapi");
    let image = Image::new("web-fastapi");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "- Default process\n  - Found: main.py defines `app`, an ASGI app (it imports fastapi)\n  - web: uvicorn --host 0.0.0.0 --port $PORT main:app (default)\n",
    );
    assert_not_contains(&log, "this buildpack adds it");

    let (container, body) = serve_root(&image);
    assert_eq!(body, "{\"framework\":\"fastapi\",\"server\":\"uvicorn\"}");
    drop(container);

    app.replace("requirements.txt", "uvicorn==0.55.0\n", "");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - The app does not install uvicorn: this buildpack adds it (add uvicorn to the app's dependencies to choose its version)\n",
    );
    assert_contains(
        &log,
        "  - web: /layers/blacklodge_web/server/bin/uvicorn --host 0.0.0.0 --port $PORT main:app (default)\n",
    );
    let (_container, body) = serve_root(&image);
    assert_eq!(body, "{\"framework\":\"fastapi\",\"server\":\"uvicorn\"}");
}

/// A Django project: collectstatic at build time (its failure shows Django's message and the
/// opt-out, which works), gunicorn serving the project's WSGI application and WhiteNoise the
/// collected files.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn django_collects_static_files_and_is_served_by_gunicorn() {
    let app = App::fixture("web-django");
    let mut image = Image::new("web-django");
    let settings = app.replace(
        "mysite/settings.py",
        "STATIC_ROOT = BASE_DIR / \"staticfiles\"\n",
        "",
    );
    let log = image.build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Django's collectstatic failed\n!\n! The build collects static files because the app's settings include\n! django.contrib.staticfiles. `python3 manage.py collectstatic --noinput` exited\n! with code 1. Django said:\n",
    );
    assert_contains(
        &log,
        "! django.core.exceptions.ImproperlyConfigured: You're using the staticfiles app without having set the STATIC_ROOT setting to a filesystem path.\n!\n! How to fix:\n!   Fix what Django reports above (often STATIC_ROOT is not set, or the settings\n!   need a variable that only exists at run time: give it a build-time value\n!   with `pack build --env NAME=VALUE` or in project.toml).\n!   Or skip this step with BP_DJANGO_COLLECTSTATIC=false and collect the static\n!   files some other way.\n",
    );

    image.set_env("BP_DJANGO_COLLECTSTATIC", "false");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "- Django static files\n  - Skipped (BP_DJANGO_COLLECTSTATIC=false)\n",
    );

    image.unset_env("BP_DJANGO_COLLECTSTATIC");
    app.write("mysite/settings.py", &settings);
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Found: a Django project (settings mysite.settings; mysite.wsgi:application from WSGI_APPLICATION in mysite.settings)\n  - web: gunicorn --bind 0.0.0.0:$PORT mysite.wsgi:application (default)\n",
    );
    assert_contains(
        &log,
        "- Django static files\n  - Running python3 manage.py collectstatic --noinput\n",
    );
    assert_contains(&log, "1 static file copied to '/workspace/staticfiles'.");

    let (container, body) = serve_root(&image);
    assert_eq!(body, "{\"framework\": \"django\"}");
    let css = container.get("/static/site.css");
    assert_eq!(css.status, 200);
    assert_eq!(css.body, "body { color: #123456; }\n");
}

/// An app no shape fits gets a warning at build time, and an image without a default
/// process; with a Procfile using `$PORT`, the image serves on 8080 as `docker run -p
/// 8080:8080` expects, and on any `PORT` the container sets.
#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn no_default_process_is_a_warning_and_a_procfile_serves_on_port_8080() {
    let app = App::fixture("web-none");
    let image = Image::new("web-none");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "! WARNING: The image has no default process\n!\n! The app has no Procfile and no wrapper configuration, and none of the app\n! shapes this buildpack detects fits:\n! - main.py has no module-level `app` or `application`\n! Detected: a Django project (manage.py), a module-level `app` or `application`\n! in main.py, app.py, wsgi.py, asgi.py (WSGI with gunicorn, ASGI with uvicorn),\n! a Streamlit or Gradio script.\n! The image has no default process: `docker run <image>` fails until one is\n! given.\n! Give it one with a Procfile, e.g. `web: gunicorn --bind 0.0.0.0:$PORT app:app`\n! or `web: python server.py`, or wrap a function with blacklodge.toml\n! (docs/wrapper.md).\n",
    );
    let output = Command::new("docker")
        .args(["run", "--rm", "--network", "none", &image.name])
        .output()
        .expect("docker runs");
    assert!(!output.status.success(), "{}", output_text(&output));

    // Turned off: no warning, the log says why there is no process; a value that is not a
    // boolean is an error naming the variable.
    let off = Image::new("web-none-off").env("BP_WEB_DEFAULT_PROCESS", "false");
    let log = off.build_ok(&app);
    assert_contains(
        &log,
        "- Default process\n  - None added: BP_WEB_DEFAULT_PROCESS=false (the image has no default process unless another buildpack declares one)\n",
    );
    assert_not_contains(&log, "WARNING: The image has no default process");
    let log = Image::new("web-none-bad")
        .env("BP_WEB_DEFAULT_PROCESS", "maybe")
        .build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid value for BP_WEB_DEFAULT_PROCESS\n!\n! BP_WEB_DEFAULT_PROCESS='maybe' is not accepted.\n! Accepted: true or false.\n!\n! How to fix:\n!   Set BP_WEB_DEFAULT_PROCESS to an accepted value (in project.toml\n!   [[io.buildpacks.build.env]] or with `pack build --env`), or unset it.\n",
    );

    app.write(
        "Procfile",
        "web: python3 -m http.server --bind 0.0.0.0 $PORT\n",
    );
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "- Default process\n  - None added: the Procfile declares the processes\n",
    );
    assert_not_contains(&log, "WARNING: The image has no default process");
    assert_eq!(image.shell_ok("echo $PORT"), "8080\n");

    let published = start_published(&image);
    let (status, body) = get_published(&published, "/");
    assert_eq!(status, 200, "{body}");
    assert_contains(&body, "main.py");
    drop(published);

    // PORT set by the container wins.
    let container = image.start(None, &[]);
    assert_eq!(container.get("/").status, 200);
}
