"""HTTP mode: the Flask application (``create_app`` is the factory).

Routes
    ``POST /predict``  the handler; JSON in and out, raw bytes for other content types
    ``GET /healthz``   liveness (alias ``/livez``)
    ``GET /readyz``    readiness: 503 until ``load()`` finished, and while draining
    ``GET /metrics``   Prometheus text format, summed over all gunicorn workers
    ``GET /statz``     app name, version, revision, harness and Python versions

The production server is gunicorn (:mod:`blacklodge_harness.server`), which
calls :func:`create_app` once per worker process. Tests use the Flask test
client on the same factory.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional, Tuple

from flask import Flask, Response, g, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from blacklodge_harness import __version__, logs
from blacklodge_harness.config import Settings, load_settings
from blacklodge_harness.core import (
    CallTimeout,
    Handler,
    HandlerFailed,
    HandlerMetrics,
    HandlerReportedError,
    Invoker,
    NotReady,
    ResultNotSerializable,
    encode_json,
    new_request_id,
)
from blacklodge_harness.entrypoint import CallStyle
from blacklodge_harness.errors import BadInput, HarnessError
from blacklodge_harness.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from blacklodge_harness.metrics import MultiprocessStore, Registry, render

log = logging.getLogger("blacklodge.http")
access_log = logging.getLogger("blacklodge.access")

EXTENSION_KEY = "blacklodge"
REQUEST_ID_HEADER = "X-Request-ID"
#: Accepted incoming request ids: printable, no spaces, bounded (they go into logs and headers).
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
#: Longest delay before a worker's metrics reach the snapshot other workers read.
METRICS_FLUSH_INTERVAL = 0.1
_PROBE_ROUTES = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})
_ERROR_TYPES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def is_json_type(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


class WebRuntime:
    """Per-process state of the HTTP mode: handler, invoker, metrics, draining flags."""

    def __init__(
        self,
        settings: Settings,
        handler: Handler,
        *,
        metrics_store: Optional[MultiprocessStore] = None,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.started_at = datetime.now(timezone.utc)
        #: SIGTERM received: /readyz answers 503 (requests are still served during the drain delay).
        self.stopping = False
        #: No longer taking new work: /predict answers 503.
        self.draining = False
        self.registry = Registry()
        self.store = metrics_store
        self.handler_metrics = HandlerMetrics(self.registry)
        self.requests = self.registry.counter(
            "blacklodge_http_requests_total", "HTTP requests by route, method and status.", ["route", "method", "status"]
        )
        self.latency = self.registry.histogram(
            "blacklodge_http_request_duration_seconds", "HTTP request latency by route.", ["route"]
        )
        self.in_flight = self.registry.gauge("blacklodge_http_requests_in_flight", "HTTP requests being handled.")
        info = self.registry.gauge(
            "blacklodge_app_info",
            "Application and harness versions (value is always 1).",
            ["app", "version", "revision", "harness_version", "python_version"],
            aggregate="max",
        )
        info.set(
            1,
            app=settings.app_name,
            version=settings.app_version or "",
            revision=settings.revision or "",
            harness_version=__version__,
            python_version=platform.python_version(),
        )
        self.invoker = Invoker(
            handler, concurrency=settings.threads, timeout=settings.timeout, metrics=self.handler_metrics
        )
        self._metrics_dirty = threading.Event()
        self._flusher: Optional[threading.Thread] = None
        self._flusher_lock = threading.Lock()

    def start(self, on_failure: Callable[[BaseException], None]) -> None:
        self.handler.start_in_background(on_failure)

    def begin_stop(self) -> None:
        """SIGTERM: report not ready so load balancers stop sending traffic."""
        if not self.stopping:
            log.info("stopping: readiness now reports 503")
        self.stopping = True

    def begin_drain(self) -> None:
        """Stop taking new work; in-flight calls finish."""
        self.stopping = True
        self.draining = True

    def shutdown(self) -> None:
        self.handler.shutdown()
        self.invoker.shutdown()
        # The last requests' counts reach the snapshot the master archives.
        self._write_snapshot()

    def write_metrics(self) -> None:
        """Note that the metrics changed; a background thread writes the snapshot.

        Writing the file on every request cost more than the rest of the request
        (see bench/results/wrapper.md), so snapshots are written at most every
        METRICS_FLUSH_INTERVAL seconds: another worker's scrape sees this worker's
        counts at most that much later.
        """
        if self.store is None:
            return
        self._metrics_dirty.set()
        if self._flusher is None:
            with self._flusher_lock:
                if self._flusher is None:
                    self._flusher = threading.Thread(target=self._flush_loop, name="blacklodge-metrics", daemon=True)
                    self._flusher.start()

    def _flush_loop(self) -> None:
        while True:
            self._metrics_dirty.wait()
            self._metrics_dirty.clear()
            self._write_snapshot()
            time.sleep(METRICS_FLUSH_INTERVAL)

    def _write_snapshot(self) -> None:
        if self.store is not None:
            try:
                self.store.write(self.registry.snapshot())
            except OSError as exc:
                log.debug("could not write metrics snapshot: %s", exc)

    def render_metrics(self) -> str:
        if self.store is None:
            return self.registry.render()
        own = self.registry.snapshot()
        return render(self.store.collect(own))


def _log_load_failure(exc: BaseException) -> None:
    if isinstance(exc, HarnessError):
        log.critical("cannot load the entry point: %s", exc.render())
    else:
        log.critical(
            "loading the entry point failed: %s: %s", type(exc).__name__, exc, exc_info=(type(exc), exc, exc.__traceback__)
        )


def exit_on_load_failure(exc: BaseException) -> None:
    """Log and end the process with gunicorn's 'app failed to load' code, which stops the server."""
    _log_load_failure(exc)
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(4)


def _request_id() -> str:
    return getattr(g, "request_id", None) or logs.current_request_id() or "-"


def error_response(status: int, error_type: str, message: str, headers: Optional[Dict[str, str]] = None) -> Response:
    body = {"error": {"type": error_type, "message": message, "request_id": _request_id()}}
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def create_app(
    settings: Optional[Settings] = None,
    *,
    handler: Optional[Handler] = None,
    start: bool = True,
    metrics_store: Optional[MultiprocessStore] = None,
    on_load_failure: Optional[Callable[[BaseException], None]] = None,
) -> Flask:
    """Build the Flask app for the handler named by ``settings`` (default: from the environment).

    With ``start`` the entry point loads on a background thread, so the probes
    answer (``/readyz`` 503) while a slow ``load()`` runs. ``on_load_failure``
    defaults to logging and staying up unready; the gunicorn server passes
    :func:`exit_on_load_failure` so a broken entry point stops the container.
    """
    settings = settings or load_settings()
    handler = handler or Handler(settings.entrypoint, settings.app_dir)
    runtime = WebRuntime(settings, handler, metrics_store=metrics_store)

    app = Flask("blacklodge_harness")
    # One byte of headroom: on a chunked body Werkzeug stops reading at the limit
    # without telling whether more followed, so _read_body() reads up to
    # limit + 1 and refuses anything longer than the limit itself.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_size + 1
    app.extensions[EXTENSION_KEY] = runtime
    _register_hooks(app, runtime)
    _register_errors(app, runtime)
    _register_routes(app, runtime)
    if start:
        runtime.start(on_load_failure or _log_load_failure)
    return app


def get_runtime(app: Flask) -> WebRuntime:
    return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- hooks


def _register_hooks(app: Flask, runtime: WebRuntime) -> None:
    settings = runtime.settings

    @app.before_request
    def begin() -> None:
        g.started = time.monotonic()
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else new_request_id()
        g.log_token = logs.set_request_id(g.request_id)
        g.counted = True
        runtime.in_flight.inc()

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = _request_id()
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        if settings.cors_origins:
            _apply_cors(response, settings.cors_origins)
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        elapsed = time.monotonic() - getattr(g, "started", time.monotonic())
        runtime.requests.inc(route=route, method=request.method, status=str(response.status_code))
        runtime.latency.observe(elapsed, route=route)
        if settings.access_log:
            level = logging.DEBUG if route in _PROBE_ROUTES else logging.INFO
            access_log.log(
                level,
                "%s %s %d",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
        return response

    @app.teardown_request
    def end(_exc: Optional[BaseException]) -> None:
        if getattr(g, "counted", False):
            runtime.in_flight.dec()
            g.counted = False
        runtime.write_metrics()
        token = getattr(g, "log_token", None)
        if token is not None:
            logs.reset_request_id(token)
            g.log_token = None


def _apply_cors(response: Response, origins: Tuple[str, ...]) -> None:
    origin = request.headers.get("Origin")
    if not origin or ("*" not in origins and origin.rstrip("/") not in origins):
        return
    response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
    response.headers.add("Vary", "Origin")
    response.headers["Access-Control-Expose-Headers"] = REQUEST_ID_HEADER
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
        headers: Dict[str, str] = {}
        if status == 413:
            message = f"the request body is larger than the limit of {max_size} bytes (BLACKLODGE_MAX_BODY_SIZE)"
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


# --------------------------------------------------------------------------- routes


def _register_routes(app: Flask, runtime: WebRuntime) -> None:
    settings = runtime.settings
    handler = runtime.handler

    @app.get("/healthz")
    @app.get("/livez")
    def healthz() -> Response:
        if runtime.invoker.saturated():
            return _json_response({"status": "stuck", "reason": "every handler thread is held by an overrunning call"}, 503)
        return _json_response({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Response:
        if runtime.stopping:
            response = _json_response({"status": "not_ready", "reason": "draining"}, 503)
        else:
            ready, reason = handler.readiness()
            response = _json_response(
                {"status": "ready"} if ready else {"status": "not_ready", "reason": reason}, 200 if ready else 503
            )
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(runtime.render_metrics(), mimetype=None, content_type=METRICS_CONTENT_TYPE)

    @app.get("/statz")
    def statz() -> Response:
        entry = handler.entry
        now = datetime.now(timezone.utc)
        return _json_response(
            {
                "app": {
                    "name": settings.app_name,
                    "version": settings.app_version,
                    "revision": settings.revision,
                },
                "entrypoint": {
                    "spec": settings.entrypoint,
                    "kind": entry.kind if entry else None,
                    "call": entry.style.value if entry else None,
                },
                "state": handler.state.value,
                "harness": {"version": __version__},
                "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
                "started_at": runtime.started_at.isoformat().replace("+00:00", "Z"),
                "uptime_seconds": round((now - runtime.started_at).total_seconds(), 3),
            }
        )

    @app.post("/predict")
    def predict() -> Response:
        retry = {"Retry-After": "5"}
        if runtime.draining:
            return error_response(503, "draining", "the server is shutting down; retry on another instance", {**retry, "Connection": "close"})
        if not handler.is_loaded():
            reason = "failed to load; see the logs" if handler.failure is not None else "is still loading"
            return error_response(503, "not_ready", f"the handler {reason}", retry)

        mimetype = request.mimetype
        payload: Any
        if is_json_type(mimetype):
            body = _read_body(settings.max_body_size)
            if not body.strip():
                return error_response(400, "invalid_json", "the request body is empty; send a JSON document")
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                return error_response(400, "invalid_json", f"the request body is not valid JSON: {exc}")
        elif handler.style is CallStyle.DATA_PARAMS:
            return error_response(
                415,
                "unsupported_media_type",
                'this handler takes run(data, params): send Content-Type: application/json with {"data": ..., "params": {...}}',
            )
        elif mimetype in _FORM_TYPES or not settings.raw_body:
            accepted = "application/json" + (" or any non-form type as raw bytes" if settings.raw_body else "")
            return error_response(
                415, "unsupported_media_type", f"content type {mimetype or '(none)'} is not accepted; send {accepted}"
            )
        else:
            payload = _read_body(settings.max_body_size)

        started = g.started
        context = handler.context(
            g.request_id,
            "http",
            headers=Headers(request.headers),
            metadata={"method": request.method, "path": request.path, "content_type": mimetype},
            deadline=started + settings.timeout if settings.timeout > 0 else None,
        )
        try:
            result = runtime.invoker.call(payload, context)
        except BadInput as exc:
            return error_response(400, "bad_input", exc.message)
        except CallTimeout as exc:
            log.error("handler call overran the %gs timeout; it keeps running in the background", exc.timeout)
            return error_response(
                504,
                "timeout",
                f"the handler did not finish within {exc.timeout:g}s (BLACKLODGE_TIMEOUT)",
            )
        except HandlerReportedError as exc:
            log.error("handler returned an error response: %s", exc)
            return error_response(500, "handler_error", f"{exc.code}: {exc.detail}")
        except HandlerFailed as exc:
            log.error("handler raised %s", exc.type_name, exc_info=(type(exc.exc), exc.exc, exc.exc.__traceback__))
            if settings.error_details:
                message = f"{exc.type_name}: {exc.exc}"
            else:
                message = f"the handler raised {exc.type_name}; details are in the logs under request id {g.request_id}"
            return error_response(500, "handler_error", message)
        except NotReady:
            return error_response(503, "not_ready", "the handler is not loaded", retry)
        return _result_response(result)


def _read_body(limit: int) -> bytes:
    """The request body; raises 413 when it is longer than ``limit``, chunked or not."""
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def _result_response(result: Any) -> Response:
    if isinstance(result, (bytes, bytearray, memoryview)):
        return Response(bytes(result), mimetype="application/octet-stream")
    if isinstance(result, str):
        return Response(result, mimetype="text/plain")
    try:
        body = encode_json(result)
    except ResultNotSerializable as exc:
        log.error("handler result is not JSON-serializable: %s", exc)
        return error_response(500, "result_not_serializable", str(exc))
    return Response(body, mimetype="application/json")


__all__ = ["create_app", "get_runtime", "WebRuntime", "exit_on_load_failure", "is_json_type"]
