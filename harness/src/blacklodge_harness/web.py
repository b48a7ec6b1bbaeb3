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
(:mod:`blacklodge_harness.server`) calls :func:`create_app` once per worker process; tests
use the Flask test client on the same factory, so both go through the same pipeline.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from blacklodge_harness import logs
from blacklodge_harness.config import Settings, load_settings
from blacklodge_harness.core import Handler, HandlerMetrics, Invoker
from blacklodge_harness.entrypoint import import_module
from blacklodge_harness.errors import EntryPointError, HarnessError
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
from blacklodge_harness.metrics import MultiprocessStore, Registry, register_app_info, render
from blacklodge_harness.tally import RequestTally
from blacklodge_harness.watchdog import Watchdog

log = logging.getLogger("blacklodge.http")

EXTENSION_KEY = "blacklodge"
_ERROR_TYPES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ReadyMarkers:
    """Readiness of the whole server: one marker file per ready worker, in a directory the server made.

    A worker of ``blacklodge web`` writes its marker (named after its pid) once its entry point has
    loaded, and removes it on SIGTERM; the marker of a worker that died is ignored
    (and removed) by the next count. ``/readyz``, whichever worker answers it, counts the markers of live workers
    against the configured number, so the server reports ready only when every worker
    is (a respawned worker still loading makes it not ready again).
    """

    def __init__(self, directory: Path, workers: int) -> None:
        self.directory = directory
        self.workers = workers

    def _path(self, pid: int) -> Path:
        return self.directory / str(pid)

    def mark(self) -> None:
        """This process is ready."""
        self._path(os.getpid()).touch()

    def unmark(self, pid: int | None = None) -> None:
        """This process (or the exited worker ``pid``) is no longer ready."""
        try:
            self._path(os.getpid() if pid is None else pid).unlink()
        except FileNotFoundError:
            pass

    def count(self) -> int:
        """Ready workers: markers of processes that are still alive."""
        ready = 0
        try:
            names = os.listdir(self.directory)
        except OSError:
            return 0
        for name in names:
            if not name.isdigit():
                continue
            try:
                os.kill(int(name), 0)
            except ProcessLookupError:
                self.unmark(int(name))  # died without removing it
                continue
            except PermissionError:
                pass  # alive, owned by another user (not the case under ``blacklodge web``)
            ready += 1
        return ready


class WebRuntime:
    """Per-process state of the HTTP mode: handler, invoker, metrics, draining flags."""

    def __init__(
        self,
        settings: Settings,
        handler: Handler,
        *,
        metrics_store: MultiprocessStore | None = None,
        ready_markers: ReadyMarkers | None = None,
    ) -> None:
        self.settings = settings
        self.handler = handler
        #: Readiness across the server's workers (None: this process alone decides).
        self.ready_markers = ready_markers
        #: Orders writing this worker's ready marker against removing it at SIGTERM.
        self._marker_lock = threading.Lock()
        self.started_at = datetime.now(timezone.utc)
        #: SIGTERM received: /readyz answers 503 (requests are still served during the drain delay).
        self.stopping = False
        #: No longer taking new work: /predict answers 503.
        self.draining = False
        #: With a store, this worker's values are in its files there (read by every scrape).
        self.registry = Registry(metrics_store.values() if metrics_store is not None else None)
        self.store = metrics_store
        self.handler_metrics = HandlerMetrics(self.registry)
        self.requests = self.registry.counter(
            "blacklodge_http_requests_total", "HTTP requests by route, method and status.", ["route", "method", "status"]
        )
        self.latency = self.registry.histogram(
            "blacklodge_http_request_duration_seconds", "HTTP request latency by route.", ["route"]
        )
        #: Requests being handled, by token: adding and removing a key are atomic, so the
        #: request path takes no lock; the in-flight gauge is their number (written by the tally).
        self.active: dict[int, None] = {}
        #: Tokens of requests in ``active`` (unique while in flight: also the watchdog's key).
        self.flights = itertools.count()
        in_flight = self.registry.gauge("blacklodge_http_requests_in_flight", "HTTP requests being handled.").slots_locked()
        register_app_info(self.registry, settings.app_name, settings.app_version, settings.revision)
        self.invoker = Invoker(
            handler, concurrency=settings.threads, timeout=settings.timeout, metrics=self.handler_metrics
        )
        #: Deadlines of calls on the request threads (set by FastPath when there is a timeout).
        self.watchdog: Watchdog | None = None
        self.access_log = logs.AccessLog()
        #: Counts finished requests into the metrics in batches (:mod:`blacklodge_harness.tally`).
        self.tally = RequestTally(
            self.registry,
            self.requests,
            self.latency,
            self.handler_metrics.calls,
            self.handler_metrics.duration,
            in_flight,
            self.active,
        )
        #: Where a finished request goes: ``finished.append((key, route, seconds, call))``.
        self.finished = self.tally.pending

    def begin_request(self) -> int:
        """Count a request as in flight; pass the token to :meth:`end_request`."""
        token = next(self.flights)
        self.active[token] = None
        return token

    def end_request(
        self,
        token: int,
        key: tuple[str, str, str],
        route: tuple[str],
        elapsed: float,
        call: tuple[tuple[str], float] | None = None,
    ) -> None:
        """Record a finished request: count (route, method, status), latency, no longer in flight.

        ``call`` is the handler call's outcome (a 1-tuple such as ``("ok",)``) and duration,
        when the request's thread made one. Counted by the tally's next drain.
        """
        self.active.pop(token, None)
        self.finished.append((key, route, elapsed, call))

    def saturated(self) -> bool:
        """Every handler thread is held by a call that overran its deadline (liveness fails)."""
        if self.invoker.saturated():
            return True
        return self.watchdog is not None and self.watchdog.overrunning >= self.settings.threads

    def start(self, on_failure: Callable[[BaseException], None]) -> None:
        """Load the entry point on a background thread (the probes answer meanwhile)."""

        def run() -> None:
            try:
                self.handler.start()
            except BaseException as exc:  # noqa: BLE001 - reported through on_failure
                on_failure(exc)
                return
            markers = self.ready_markers
            if markers is not None:
                with self._marker_lock:
                    if not self.stopping:
                        markers.mark()

        threading.Thread(target=run, name="blacklodge-load", daemon=True).start()

    def _unmark(self) -> None:
        markers = self.ready_markers
        if markers is not None:
            with self._marker_lock:
                markers.unmark()

    def begin_stop(self) -> None:
        """SIGTERM: report not ready so load balancers stop sending traffic."""
        if not self.stopping:
            log.info("stopping: readiness now reports 503")
        self.stopping = True
        self._unmark()

    def begin_drain(self) -> None:
        """Stop taking new work; in-flight calls finish."""
        self.stopping = True
        self.draining = True
        self._unmark()

    def shutdown(self) -> None:
        self._unmark()
        self.handler.shutdown()
        self.invoker.shutdown()
        if self.watchdog is not None:
            self.watchdog.stop()
        self.tally.close()

    def render_metrics(self) -> str:
        """This worker's metrics summed with every other worker's (and those of exited ones)."""
        self.tally.drain()
        if self.store is None:
            return self.registry.render()
        return render(self.store.collect(self.registry))


def _log_load_failure(exc: BaseException) -> None:
    if isinstance(exc, HarnessError):
        log.critical("cannot load the entry point: %s", exc.render())
    else:
        log.critical(
            "loading the entry point failed: %s: %s", type(exc).__name__, exc, exc_info=(type(exc), exc, exc.__traceback__)
        )


#: Written into the readiness directory by a worker whose entry point failed to load.
LOAD_FAILED_MARKER = "load-failed"


def exit_on_load_failure(ready_dir: Path, exc: BaseException) -> None:
    """Log, stop the whole server (a broken entry point does not get better by respawning) and exit 4.

    The marker tells the master why it stops (``blacklodge web`` then exits 4).
    """
    _log_load_failure(exc)
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - nothing left to report it to
            pass
    try:
        (ready_dir / LOAD_FAILED_MARKER).touch()
        os.kill(os.getppid(), signal.SIGTERM)
    except OSError:
        pass
    os._exit(4)


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
    app.wsgi_app = Pipeline(runtime, app.wsgi_app)  # type: ignore[method-assign] # Flask's own annotation is narrower than WSGI
    if start:
        runtime.start(on_load_failure or _log_load_failure)
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


__all__ = ["create_app", "get_runtime", "WebRuntime", "exit_on_load_failure", "is_json_type"]
