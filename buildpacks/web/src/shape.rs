//! Which default `web` process fits the app, read from its files (never imported) and the
//! distributions installed in its environment.
//!
//! Tried in order; the first that fits wins:
//!
//! 1. Django: `manage.py` names the settings module (`DJANGO_SETTINGS_MODULE`), whose
//!    `WSGI_APPLICATION` (else `<project>/wsgi.py`) is served by gunicorn.
//! 2. Streamlit: `streamlit` installed and `streamlit_app.py`, `app.py` or `main.py` imports
//!    it: `streamlit run`.
//! 3. A module-level `app` or `application` (assigned, imported or defined) in `main.py`,
//!    `app.py`, `wsgi.py` or `asgi.py`: an ASGI app (the module imports FastAPI, Starlette,
//!    Quart or Litestar, or is `asgi.py`, or only such a framework is installed) is served by
//!    uvicorn (by gunicorn with uvicorn workers when the app has both `gunicorn` and
//!    `uvicorn-worker`), any other by gunicorn.
//! 4. Gradio: `gradio` installed and `app.py` or `main.py` imports it: the script itself,
//!    told to listen on `$PORT`.

use std::collections::BTreeSet;

pub(crate) const MANAGE_PY: &str = "manage.py";
/// Modules looked at for a module-level `app` or `application`, in this order.
pub(crate) const APP_MODULES: &[&str] = &["main.py", "app.py", "wsgi.py", "asgi.py"];
const APP_ATTRIBUTES: &[&str] = &["app", "application"];
const STREAMLIT_SCRIPTS: &[&str] = &["streamlit_app.py", "app.py", "main.py"];
const GRADIO_SCRIPTS: &[&str] = &["app.py", "main.py"];
/// Frameworks whose apps are ASGI applications.
const ASGI_FRAMEWORKS: &[&str] = &["fastapi", "starlette", "quart", "litestar"];
/// Frameworks whose apps are WSGI applications.
const WSGI_FRAMEWORKS: &[&str] = &["flask", "django", "bottle", "falcon", "pyramid"];

/// What a module's source says at its top level.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    /// `app` / `application` bound at module level (assignment, import or `def`), in the
    /// order of [`APP_ATTRIBUTES`].
    pub(crate) attributes: Vec<String>,
    /// Top-level packages imported anywhere in the module (`import a.b` → `a`).
    pub(crate) imports: BTreeSet<String>,
    /// `async def app(` / `async def application(`: a raw ASGI callable.
    pub(crate) async_callable: bool,
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The name a line binds when it starts (column 0) with `name` followed by `=` or an
/// annotated assignment (`name: T = …`).
fn assigns(line: &str, name: &str) -> bool {
    let Some(rest) = line.strip_prefix(name) else {
        return false;
    };
    if rest.starts_with(is_identifier_char) {
        return false;
    }
    let rest = rest.trim_start();
    (rest.starts_with('=') && !rest.starts_with("=="))
        || (rest.starts_with(':') && rest.contains('='))
}

/// The names an import statement binds (`from x import a, b as c` → `a`, `c`).
fn imported_names(names: &str) -> Vec<String> {
    names
        .trim_matches(|c| c == '(' || c == ')' || c == ' ')
        .split(',')
        .filter_map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            match words.as_slice() {
                [name] => Some((*name).to_string()),
                [_, "as", alias] => Some((*alias).to_string()),
                _ => None,
            }
        })
        .collect()
}

/// Reads the top level of a module: the app attributes it binds and what it imports.
pub(crate) fn scan(text: &str) -> Source {
    let mut source = Source::default();
    let mut bound: BTreeSet<&str> = BTreeSet::new();
    for raw in text.lines() {
        let top_level = !raw.starts_with(char::is_whitespace);
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        let statement = trimmed.split('#').next().unwrap_or_default().trim_end();
        if let Some(modules) = statement.strip_prefix("import ") {
            for module in modules.split(',') {
                if let Some(package) = module.split_whitespace().next() {
                    let package = package.split('.').next().unwrap_or_default();
                    if !package.is_empty() {
                        source.imports.insert(package.to_string());
                    }
                }
                if top_level {
                    for name in imported_names(module) {
                        if let Some(attribute) = APP_ATTRIBUTES.iter().find(|a| **a == name) {
                            bound.insert(attribute);
                        }
                    }
                }
            }
        } else if let Some(rest) = statement.strip_prefix("from ") {
            let Some((module, names)) = rest.split_once(" import ") else {
                continue;
            };
            let package = module.trim().split('.').next().unwrap_or_default();
            if !package.is_empty() {
                source.imports.insert(package.to_string());
            }
            if top_level {
                for name in imported_names(names) {
                    if let Some(attribute) = APP_ATTRIBUTES.iter().find(|a| **a == name) {
                        bound.insert(attribute);
                    }
                }
            }
        } else if top_level {
            for attribute in APP_ATTRIBUTES {
                let defined = [
                    format!("def {attribute}("),
                    format!("async def {attribute}("),
                ];
                if assigns(statement, attribute)
                    || defined.iter().any(|prefix| statement.starts_with(prefix))
                {
                    bound.insert(attribute);
                }
                if statement.starts_with(&format!("async def {attribute}(")) {
                    source.async_callable = true;
                }
            }
        }
    }
    source.attributes = APP_ATTRIBUTES
        .iter()
        .filter(|attribute| bound.contains(*attribute))
        .map(|attribute| (*attribute).to_string())
        .collect();
    source
}

/// The server of the default process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Server {
    /// A WSGI app under gunicorn.
    Gunicorn,
    /// An ASGI app under gunicorn with uvicorn's workers (`uvicorn-worker`).
    GunicornUvicornWorker,
    /// An ASGI app under uvicorn.
    Uvicorn,
    /// `streamlit run <script>`.
    Streamlit,
    /// `python <script>` with Gradio told where to listen.
    Gradio,
}

impl Server {
    /// The distribution that provides the command, when this buildpack can install it.
    pub(crate) fn installable(self) -> Option<&'static str> {
        match self {
            Self::Gunicorn => Some("gunicorn"),
            Self::Uvicorn => Some("uvicorn"),
            Self::GunicornUvicornWorker | Self::Streamlit | Self::Gradio => None,
        }
    }
}

/// The chosen default process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    /// What was found, for the log (e.g. "main.py defines `app`, an ASGI app (it imports fastapi)").
    pub(crate) found: String,
    pub(crate) server: Server,
    /// `module:attribute` for gunicorn and uvicorn, the script for Streamlit and Gradio.
    pub(crate) target: String,
    /// The app lacks the server: this buildpack installs it (gunicorn or uvicorn).
    pub(crate) install: bool,
}

impl Choice {
    /// The process command, run by bash (so `$PORT` expands at start); `program` is the
    /// server command (its name, or the path of the copy this buildpack installed).
    pub(crate) fn command(&self, program: &str) -> String {
        let target = &self.target;
        match self.server {
            Server::Gunicorn => format!("{program} --bind 0.0.0.0:$PORT {target}"),
            Server::GunicornUvicornWorker => format!(
                "{program} --bind 0.0.0.0:$PORT --worker-class uvicorn_worker.UvicornWorker {target}"
            ),
            Server::Uvicorn => format!("{program} --host 0.0.0.0 --port $PORT {target}"),
            Server::Streamlit => format!(
                "{program} run {target} --server.port $PORT --server.address 0.0.0.0 --server.headless true"
            ),
            Server::Gradio => {
                format!("GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=$PORT {program} {target}")
            }
        }
    }

    /// The server command's name.
    pub(crate) fn program(&self) -> &'static str {
        match self.server {
            Server::Gunicorn | Server::GunicornUvicornWorker => "gunicorn",
            Server::Uvicorn => "uvicorn",
            Server::Streamlit => "streamlit",
            Server::Gradio => "python",
        }
    }
}

/// The outcome of the detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Process(Choice),
    /// Nothing fits; each note says what was looked at and why it did not fit.
    Nothing(Vec<String>),
}

/// What the detection reads: the app's files (by path relative to the app root) and the
/// normalized names of the installed distributions.
pub(crate) struct AppView<'a> {
    pub(crate) read: &'a dyn Fn(&str) -> Option<String>,
    pub(crate) installed: &'a BTreeSet<String>,
}

impl AppView<'_> {
    fn has(&self, distribution: &str) -> bool {
        self.installed.contains(distribution)
    }
}

/// Whether the app's files could give a default process (checked at detect time, before the
/// environment exists): then the build needs the app's packages to decide.
pub(crate) fn might_fit(read: &dyn Fn(&str) -> Option<String>) -> bool {
    if read(MANAGE_PY).is_some() {
        return true;
    }
    let scripts = APP_MODULES.iter().chain(STREAMLIT_SCRIPTS);
    scripts.filter_map(|file| read(file)).any(|text| {
        let source = scan(&text);
        !source.attributes.is_empty()
            || source.imports.contains("streamlit")
            || source.imports.contains("gradio")
    })
}

/// Decides the default process.
pub(crate) fn decide(app: &AppView<'_>) -> Decision {
    let mut notes = Vec::new();
    match django(app) {
        Ok(Some(choice)) => return Decision::Process(choice),
        Ok(None) => {}
        Err(note) => notes.push(note),
    }
    if app.has("streamlit") {
        for script in STREAMLIT_SCRIPTS {
            if (app.read)(script).is_some_and(|text| scan(&text).imports.contains("streamlit")) {
                return Decision::Process(Choice {
                    found: format!("{script} imports streamlit, a Streamlit app"),
                    server: Server::Streamlit,
                    target: (*script).to_string(),
                    install: false,
                });
            }
        }
    }
    let mut modules_found = false;
    for file in APP_MODULES {
        let Some(text) = (app.read)(file) else {
            continue;
        };
        modules_found = true;
        let source = scan(&text);
        let Some(attribute) = source.attributes.first() else {
            notes.push(format!("{file} has no module-level `app` or `application`"));
            continue;
        };
        let module = file.trim_end_matches(".py");
        return Decision::Process(module_app(app, file, module, attribute, &source));
    }
    if !modules_found {
        notes.push(format!("no {}", or_list(APP_MODULES)));
    }
    if app.has("gradio") {
        for script in GRADIO_SCRIPTS {
            if (app.read)(script).is_some_and(|text| scan(&text).imports.contains("gradio")) {
                return Decision::Process(Choice {
                    found: format!("{script} imports gradio, a Gradio app"),
                    server: Server::Gradio,
                    target: (*script).to_string(),
                    install: false,
                });
            }
        }
    }
    Decision::Nothing(notes)
}

fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// An `app`/`application` of a module: ASGI or WSGI, and the server for it.
fn module_app(
    app: &AppView<'_>,
    file: &str,
    module: &str,
    attribute: &str,
    source: &Source,
) -> Choice {
    let imported = |frameworks: &[&'static str]| -> Option<&'static str> {
        frameworks
            .iter()
            .find(|framework| source.imports.contains(**framework))
            .copied()
    };
    let installed = |frameworks: &[&'static str]| -> Vec<&'static str> {
        frameworks
            .iter()
            .filter(|framework| app.has(framework))
            .copied()
            .collect()
    };
    let (asgi, why) = if let Some(framework) = imported(ASGI_FRAMEWORKS) {
        (true, format!("it imports {framework}"))
    } else if let Some(framework) = imported(WSGI_FRAMEWORKS) {
        (false, format!("it imports {framework}"))
    } else if file == "asgi.py" || source.async_callable {
        (true, format!("{file} is an ASGI module"))
    } else if file == "wsgi.py" {
        (false, format!("{file} is a WSGI module"))
    } else if let ([framework, ..], []) = (
        installed(ASGI_FRAMEWORKS).as_slice(),
        installed(WSGI_FRAMEWORKS).as_slice(),
    ) {
        (true, format!("{framework} is installed"))
    } else {
        (
            false,
            "WSGI unless it imports an ASGI framework".to_string(),
        )
    };
    let target = format!("{module}:{attribute}");
    let kind = if asgi { "an ASGI" } else { "a WSGI" };
    let found = format!("{file} defines `{attribute}`, {kind} app ({why})");
    let (server, install) = if !asgi {
        (Server::Gunicorn, !app.has("gunicorn"))
    } else if app.has("gunicorn") && app.has("uvicorn-worker") {
        (Server::GunicornUvicornWorker, false)
    } else {
        (Server::Uvicorn, !app.has("uvicorn"))
    };
    Choice {
        found,
        server,
        target,
        install,
    }
}

/// The first string literal after `key` in `text` (`setdefault("KEY", "value")`,
/// `KEY = 'value'`).
fn literal_after(text: &str, key: &str) -> Option<String> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    // Skip the quote closing `key` itself when it is a string literal.
    let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
    let open = rest.find(['"', '\''])?;
    // Only separators between the key and its value (`", "`, `" = "`, `"] = "`).
    if !rest[..open]
        .chars()
        .all(|c| c.is_whitespace() || matches!(c, ',' | '=' | ']' | ':'))
    {
        return None;
    }
    let quote = rest[open..].chars().next()?;
    let value = &rest[open + 1..];
    let end = value.find(quote)?;
    Some(value[..end].to_string())
}

fn dotted_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(is_identifier_char)
                && !part.starts_with(|c: char| c.is_ascii_digit())
        })
}

/// The Django project's settings module, from `manage.py`.
pub(crate) fn django_settings_module(manage_py: &str) -> Option<String> {
    literal_after(manage_py, "DJANGO_SETTINGS_MODULE").filter(|module| dotted_identifier(module))
}

/// A Django project served by gunicorn; `Err` explains a `manage.py` that does not lead to a
/// WSGI application.
fn django(app: &AppView<'_>) -> Result<Option<Choice>, String> {
    let Some(manage_py) = (app.read)(MANAGE_PY) else {
        return Ok(None);
    };
    if !app.has("django") {
        return Err(format!("{MANAGE_PY} found, but Django is not installed"));
    }
    let Some(settings) = django_settings_module(&manage_py) else {
        return Err(format!(
            "{MANAGE_PY} does not set DJANGO_SETTINGS_MODULE to a module name"
        ));
    };
    let settings_path = settings.replace('.', "/");
    let settings_text = (app.read)(&format!("{settings_path}.py"))
        .or_else(|| (app.read)(&format!("{settings_path}/__init__.py")));
    let declared = settings_text
        .as_deref()
        .and_then(|text| {
            text.lines()
                .find(|line| assigns(line, "WSGI_APPLICATION"))
                .and_then(|line| literal_after(line, "WSGI_APPLICATION"))
        })
        .filter(|value| dotted_identifier(value))
        .and_then(|value| {
            let (module, attribute) = value.rsplit_once('.')?;
            Some((module.to_string(), attribute.to_string()))
        })
        .filter(|(module, _)| (app.read)(&format!("{}.py", module.replace('.', "/"))).is_some());
    let project = settings.split('.').next().unwrap_or_default();
    let (module, attribute, from) = if let Some((module, attribute)) = declared {
        let from = format!("WSGI_APPLICATION in {settings}");
        (module, attribute, from)
    } else if (app.read)(&format!("{project}/wsgi.py")).is_some() {
        (
            format!("{project}.wsgi"),
            "application".to_string(),
            format!("{project}/wsgi.py"),
        )
    } else {
        return Err(format!(
            "{MANAGE_PY} names the settings {settings}, but neither its WSGI_APPLICATION nor {project}/wsgi.py is a module of the app"
        ));
    };
    Ok(Some(Choice {
        found: format!("a Django project (settings {settings}; {module}:{attribute} from {from})"),
        server: Server::Gunicorn,
        target: format!("{module}:{attribute}"),
        install: !app.has("gunicorn"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn decide_for(files: &[(&str, &str)], installed: &[&str]) -> Decision {
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(path, text)| ((*path).to_string(), (*text).to_string()))
            .collect();
        let installed: BTreeSet<String> =
            installed.iter().map(|name| (*name).to_string()).collect();
        let read = |path: &str| files.get(path).cloned();
        decide(&AppView {
            read: &read,
            installed: &installed,
        })
    }

    fn choice(files: &[(&str, &str)], installed: &[&str]) -> Choice {
        match decide_for(files, installed) {
            Decision::Process(choice) => choice,
            Decision::Nothing(notes) => panic!("nothing fits: {notes:?}"),
        }
    }

    const FLASK: &str = "from flask import Flask\n\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return 'hi'\n\nif __name__ == '__main__':\n    app.run()\n";
    const FASTAPI: &str = "import os\nfrom fastapi import FastAPI\n\napp: FastAPI = FastAPI()  # the API\n\n@app.get('/')\nasync def root():\n    return {}\n\nif __name__ == '__main__':\n    import uvicorn\n    uvicorn.run(app)\n";

    #[test]
    fn scan_finds_module_level_bindings_and_imports() {
        let source = scan(FASTAPI);
        assert_eq!(source.attributes, vec!["app"]);
        assert_eq!(
            source.imports,
            ["fastapi", "os", "uvicorn"]
                .into_iter()
                .map(String::from)
                .collect()
        );
        // Imported, defined, or nested (not module level), compared (not assigned).
        assert_eq!(
            scan("from myproject import create_app as application\n").attributes,
            vec!["application"]
        );
        assert_eq!(
            scan("def application(environ, start_response):\n    pass\n").attributes,
            vec!["application"]
        );
        let raw = scan("async def app(scope, receive, send):\n    pass\n");
        assert!(raw.async_callable);
        assert!(
            scan("def main():\n    app = make()\n")
                .attributes
                .is_empty()
        );
        assert!(
            scan("if app == 1:\n    pass\napples = 3\napp.run()\n")
                .attributes
                .is_empty()
        );
        assert!(
            scan("import app.views, os.path as p\n")
                .attributes
                .is_empty()
        );
    }

    #[test]
    fn flask_app_py_is_served_by_gunicorn_installed_when_missing() {
        let choice = choice(&[("app.py", FLASK)], &["flask"]);
        assert_eq!(
            choice,
            Choice {
                found: "app.py defines `app`, a WSGI app (it imports flask)".into(),
                server: Server::Gunicorn,
                target: "app:app".into(),
                install: true,
            }
        );
        assert_eq!(
            choice.command("gunicorn"),
            "gunicorn --bind 0.0.0.0:$PORT app:app"
        );
        assert!(!self::choice(&[("app.py", FLASK)], &["flask", "gunicorn"]).install);
    }

    #[test]
    fn fastapi_main_py_is_served_by_uvicorn_or_gunicorn_with_uvicorn_workers() {
        let with_uvicorn = choice(&[("main.py", FASTAPI)], &["fastapi", "uvicorn"]);
        assert_eq!(with_uvicorn.server, Server::Uvicorn);
        assert!(!with_uvicorn.install);
        assert_eq!(
            with_uvicorn.command("uvicorn"),
            "uvicorn --host 0.0.0.0 --port $PORT main:app"
        );
        assert_eq!(
            with_uvicorn.found,
            "main.py defines `app`, an ASGI app (it imports fastapi)"
        );
        assert!(choice(&[("main.py", FASTAPI)], &["fastapi"]).install);
        let workers = choice(
            &[("main.py", FASTAPI)],
            &["fastapi", "gunicorn", "uvicorn", "uvicorn-worker"],
        );
        assert_eq!(
            workers.command(workers.program()),
            "gunicorn --bind 0.0.0.0:$PORT --worker-class uvicorn_worker.UvicornWorker main:app"
        );
    }

    #[test]
    fn the_kind_of_a_factory_app_comes_from_the_module_name_or_the_installed_framework() {
        let factory = "from service import create_app\n\napp = create_app()\n";
        assert_eq!(
            choice(&[("main.py", factory)], &["starlette"]).server,
            Server::Uvicorn
        );
        assert_eq!(
            choice(&[("main.py", factory)], &["starlette", "flask"]).server,
            Server::Gunicorn
        );
        assert_eq!(choice(&[("asgi.py", factory)], &[]).server, Server::Uvicorn);
        let wsgi = choice(
            &[("wsgi.py", "from service import application\n")],
            &["flask"],
        );
        assert_eq!(wsgi.target, "wsgi:application");
        assert_eq!(
            wsgi.found,
            "wsgi.py defines `application`, a WSGI app (wsgi.py is a WSGI module)"
        );
        // main.py comes first; a module without an app is passed over.
        let first = choice(
            &[("main.py", "print('hi')\n"), ("app.py", FLASK)],
            &["flask"],
        );
        assert_eq!(first.target, "app:app");
    }

    const MANAGE: &str = "#!/usr/bin/env python\nimport os\nimport sys\n\ndef main():\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n    from django.core.management import execute_from_command_line\n    execute_from_command_line(sys.argv)\n";

    #[test]
    fn django_is_served_from_its_wsgi_application() {
        assert_eq!(
            django_settings_module(MANAGE).as_deref(),
            Some("mysite.settings")
        );
        assert_eq!(
            django_settings_module(
                "os.environ[\"DJANGO_SETTINGS_MODULE\"] = \"config.settings.prod\"\n"
            )
            .as_deref(),
            Some("config.settings.prod")
        );
        let files = [
            ("manage.py", MANAGE),
            (
                "mysite/settings.py",
                "INSTALLED_APPS = []\nWSGI_APPLICATION = 'mysite.wsgi.application'\n",
            ),
            ("mysite/wsgi.py", "application = get_wsgi_application()\n"),
            ("app.py", FLASK),
        ];
        let choice = choice(&files, &["django", "gunicorn"]);
        assert_eq!(
            choice,
            Choice {
                found: "a Django project (settings mysite.settings; mysite.wsgi:application from WSGI_APPLICATION in mysite.settings)".into(),
                server: Server::Gunicorn,
                target: "mysite.wsgi:application".into(),
                install: false,
            }
        );
        // A settings package without WSGI_APPLICATION: the project's wsgi.py.
        let files = [
            (
                "manage.py",
                MANAGE
                    .replace("mysite.settings", "mysite.settings.production")
                    .as_str(),
            ),
            ("mysite/settings/__init__.py", ""),
            ("mysite/wsgi.py", ""),
        ]
        .map(|(path, text)| (path, text.to_string()));
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        assert_eq!(
            self::choice(&files, &["django"]).target,
            "mysite.wsgi:application"
        );
    }

    #[test]
    fn django_without_django_or_a_wsgi_module_is_explained() {
        assert_eq!(
            decide_for(&[("manage.py", MANAGE)], &[]),
            Decision::Nothing(vec![
                "manage.py found, but Django is not installed".into(),
                "no main.py, app.py, wsgi.py or asgi.py".into(),
            ])
        );
        assert_eq!(
            decide_for(&[("manage.py", MANAGE), ("mysite/settings.py", "")], &["django"]),
            Decision::Nothing(vec![
                "manage.py names the settings mysite.settings, but neither its WSGI_APPLICATION nor mysite/wsgi.py is a module of the app".into(),
                "no main.py, app.py, wsgi.py or asgi.py".into(),
            ])
        );
    }

    #[test]
    fn streamlit_and_gradio_scripts_run_on_port() {
        let streamlit = choice(
            &[(
                "streamlit_app.py",
                "import streamlit as st\nst.write('hi')\n",
            )],
            &["streamlit"],
        );
        assert_eq!(
            streamlit.command(streamlit.program()),
            "streamlit run streamlit_app.py --server.port $PORT --server.address 0.0.0.0 --server.headless true"
        );
        let gradio = choice(
            &[(
                "app.py",
                "import gradio as gr\ndemo = gr.Interface(fn=str, inputs='text', outputs='text')\ndemo.launch()\n",
            )],
            &["gradio"],
        );
        assert_eq!(
            gradio.command(gradio.program()),
            "GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=$PORT python app.py"
        );
        // Not installed: not chosen.
        assert!(matches!(
            decide_for(&[("app.py", "import gradio as gr\n")], &[]),
            Decision::Nothing(_)
        ));
    }

    #[test]
    fn nothing_fits_says_what_was_looked_at() {
        assert_eq!(
            decide_for(&[("main.py", "print('batch job')\n")], &["requests"]),
            Decision::Nothing(vec![
                "main.py has no module-level `app` or `application`".into()
            ])
        );
        assert_eq!(
            decide_for(&[], &[]),
            Decision::Nothing(vec!["no main.py, app.py, wsgi.py or asgi.py".into()])
        );
    }

    #[test]
    fn only_files_that_could_fit_need_the_apps_environment() {
        let files: BTreeMap<&str, &str> =
            [("app.py", "print(1)\n"), ("server.py", "app = 1\n")].into();
        let read = |path: &str| files.get(path).map(|text| (*text).to_string());
        assert!(!might_fit(&read));
        let read = |path: &str| (path == "main.py").then(|| FASTAPI.to_string());
        assert!(might_fit(&read));
        let read = |path: &str| (path == "manage.py").then(String::new);
        assert!(might_fit(&read));
    }
}
