"""HTTP mode: the Flask application (``create_app`` is the factory).

Routes (answered by :class:`~blacklodge_harness.pipeline.Pipeline`, the app's ``wsgi_app``)
    ``POST /predict``  the handler; JSON in and out, raw bytes for other content types
    ``GET /healthz``   liveness (alias ``/livez``)
    ``GET /readyz``    readiness: 503 until every worker's ``load()`` finished, and while draining
    ``GET /metrics``   Prometheus text format, summed over all workers
    ``GET /statz``     app name, version, revision, harness and Python versions

Everything else is Flask's: the app's own routes and blueprints (added to the app this
factory returns), 404 and 405 answers and CORS preflights, with the harness's request id,
headers, metrics and access log added by the hooks below. ``blacklodge web``
(:mod:`blacklodge_harness.server`) builds the same pipeline over the same :func:`flask_app` in
each worker process (the Flask app made by the first request that needs it when the app adds
no routes of its own); tests use the Flask test client on :func:`create_app`, so both go
through the same pipeline.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from blacklodge_harness import logs
from blacklodge_harness.config import Settings, load_settings
from blacklodge_harness.core import Handler
from blacklodge_harness.entrypoint import import_module
from blacklodge_harness.errors import EntryPointError
from blacklodge_harness.pipeline import (
    CLOSE,
    PROBE_ROUTES,
    REQUEST_ID_HEADER,
    STATUS_LINES,
    ROUTES,
    Pipeline,
    accept_request_id,
    cors_headers,
    is_json_type,
)
from blacklodge_harness.metrics import MultiprocessStore
from blacklodge_harness.runtime import (
    LOAD_FAILED_MARKER,
    ReadyMarkers,
    WebRuntime,
    _log_load_failure,
    exit_on_load_failure,
)

log = logging.getLogger("blacklodge.http")

EXTENSION_KEY = "blacklodge"
_ERROR_TYPES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _request_id() -> str:
    return getattr(g, "request_id", None) or logs.current_request_id() or "-"


def error_response(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"type": error_type, "message": message, "request_id": _request_id()}}
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def create_app(
    settings: Settings | None = None,
    *,
    handler: Handler | None = None,
    start: bool = True,
    metrics_store: MultiprocessStore | None = None,
    ready_markers: ReadyMarkers | None = None,
    on_load_failure: Callable[[BaseException], None] | None = None,
) -> Flask:
    """Build the Flask app for the handler named by ``settings`` (default: from the environment).

    With ``start`` the entry point loads on a background thread, so the probes
    answer (``/readyz`` 503) while a slow ``load()`` runs. ``on_load_failure``
    defaults to logging and staying up unready; ``blacklodge web`` passes
    :func:`exit_on_load_failure` so a broken entry point stops the container.
    The harness's routes are answered by :class:`~blacklodge_harness.pipeline.Pipeline`
    (the app's ``wsgi_app``); routes added to the returned app are Flask's as usual.
    ``ready_markers`` (given by ``blacklodge web``) makes ``/readyz`` report the
    readiness of every worker.
    """
    settings = settings or load_settings()
    handler = handler or Handler(settings.entrypoint, settings.app_dir)
    runtime = WebRuntime(settings, handler, metrics_store=metrics_store, ready_markers=ready_markers)
    app = flask_app(runtime)
    app.wsgi_app = Pipeline(runtime, app.wsgi_app)  # type: ignore[method-assign] # Flask's own annotation is narrower than WSGI
    if start:
        runtime.start(on_load_failure or _log_load_failure)
    return app


def flask_app(runtime: WebRuntime) -> Flask:
    """The Flask app of ``runtime``: the harness's hooks and error answers, the app's setup
    (``BLACKLODGE_APP_SETUP``) run on it. Its ``wsgi_app`` is what the pipeline falls back to."""
    settings = runtime.settings
    app = Flask("blacklodge_harness")
    # /predict reads its body with pipeline.read_body, which enforces the limit
    # itself (also on chunked bodies); this bounds any other read through Flask.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_size + 1
    app.extensions[EXTENSION_KEY] = runtime
    _register_hooks(app, runtime)
    _register_errors(app, runtime)
    _register_pipeline_routes(app)
    if settings.app_setup:
        load_app_setup(settings.app_setup, settings.app_dir)(app)
    return app


def load_app_setup(spec: str, app_dir: Path) -> Callable[[Flask], Any]:
    """The function ``BLACKLODGE_APP_SETUP`` names (``module:function``), imported from ``app_dir``.

    It runs once per worker, before the app serves, with the Flask app as its argument.
    """
    module_name, _, attr = spec.partition(":")
    module = import_module(module_name, app_dir)
    setup = getattr(module, attr, None)
    if not callable(setup):
        module_file = getattr(module, "__file__", None) or module_name
        problem = "has no attribute" if setup is None else f"has a {type(setup).__name__}, not a function, named"
        raise EntryPointError(
            f"App setup '{spec}' not found",
            f"Module '{module_name}' ({module_file}) {problem} '{attr}'.",
            f"Define 'def {attr}(app): ...' in {module_name.replace('.', '/')}.py, or point BLACKLODGE_APP_SETUP at the function that adds your routes.",
            code="app_setup_missing",
        )
    return setup  # type: ignore[no-any-return] # checked callable above; its signature is the user's


def _register_pipeline_routes(app: Flask) -> None:
    """Rules for the pipeline's routes, so that Flask's routing answers 405 for their other methods.

    The pipeline answers these requests before Flask sees them; the view only runs when the
    Flask app is called without its ``wsgi_app`` (never by a server).
    """

    def answered_by_the_pipeline() -> Response:
        raise RuntimeError("this route is answered by blacklodge_harness.pipeline.Pipeline, the app's wsgi_app")

    for (method, path) in [("POST", "/predict"), *ROUTES]:
        app.add_url_rule(path, endpoint=f"blacklodge{path}", view_func=answered_by_the_pipeline, methods=[method])


def get_runtime(app: Flask) -> WebRuntime:
    return cast(WebRuntime, app.extensions[EXTENSION_KEY])


# --------------------------------------------------------------------------- hooks


def _register_hooks(app: Flask, runtime: WebRuntime) -> None:
    settings = runtime.settings

    @app.before_request
    def begin() -> None:
        g.started = time.monotonic()
        g.request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.log_token = logs.set_request_id(g.request_id)
        g.token = runtime.begin_request()

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = _request_id()
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        if settings.cors_origins:
            _apply_cors(response, settings.cors_origins)
        # Werkzeug writes reason phrases in capitals: the fast path's lines instead, so every
        # answer has the RFC 9110 phrase.
        response.status = STATUS_LINES.get(response.status_code) or response.status
        route = _route_of(app)
        elapsed = time.monotonic() - getattr(g, "started", time.monotonic())
        token = getattr(g, "token", None)
        g.token = None
        runtime.end_request(
            -1 if token is None else token, (route, request.method, str(response.status_code)), (route,), elapsed
        )
        if settings.access_log:
            level = logging.DEBUG if route in PROBE_ROUTES else logging.INFO
            runtime.access_log.write(level, request.method, request.path, response.status_code, elapsed, _request_id())
        return response

    @app.teardown_request
    def end(_exc: BaseException | None) -> None:
        token = getattr(g, "token", None)
        if token is not None:
            # after_request did not run (an error escaped): no longer in flight.
            runtime.active.pop(token, None)
            g.token = None
        token = getattr(g, "log_token", None)
        if token is not None:
            logs.reset_request_id(token)
            g.log_token = None


def _route_of(app: Flask) -> str:
    """The route pattern of the request, also when its method is not allowed (405); else ``unmatched``."""
    if request.url_rule is not None:
        return request.url_rule.rule
    refused = request.routing_exception
    if isinstance(refused, MethodNotAllowed) and refused.valid_methods:
        try:
            adapter = app.url_map.bind_to_environ(request.environ)
            rule, _ = adapter.match(method=next(iter(refused.valid_methods)), return_rule=True)
            return str(rule.rule)
        except HTTPException:
            pass
    return "unmatched"


def _apply_cors(response: Response, origins: tuple[str, ...]) -> None:
    origin = request.headers.get("Origin")
    allowed = cors_headers(origins, origin)
    if not allowed:
        return
    for key, value in allowed:
        if key == "Vary":
            response.headers.add(key, value)
        else:
            response.headers[key] = value
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", f"Content-Type, {REQUEST_ID_HEADER}"
        )
        response.headers["Access-Control-Max-Age"] = "600"


def _register_errors(app: Flask, runtime: WebRuntime) -> None:
    max_size = runtime.settings.max_body_size

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        error_type = _ERROR_TYPES.get(status, "http_error")
        headers: dict[str, str] = {}
        if status == 413:
            message = f"the request body is larger than the limit of {max_size} bytes (BLACKLODGE_MAX_BODY_SIZE)"
            headers[CLOSE[0]] = CLOSE[1]  # the rest of the body is never read
        elif status == 404:
            message = f"no route {request.path}; the handler is served at POST /predict"
        elif status == 405:
            allowed = sorted(getattr(exc, "valid_methods", None) or [])
            message = f"{request.method} is not allowed on {request.path}" + (
                f"; allowed: {', '.join(allowed)}" if allowed else ""
            )
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        else:
            message = exc.description or exc.name
        return error_response(status, error_type, message, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("internal error while handling the request")
        return error_response(500, "internal_error", "internal error in the harness; see the logs")


__all__ = [
    "LOAD_FAILED_MARKER",
    "ReadyMarkers",
    "WebRuntime",
    "create_app",
    "exit_on_load_failure",
    "flask_app",
    "get_runtime",
    "is_json_type",
]
