"""The one request pipeline: every route the harness answers, as plain WSGI.

:class:`Pipeline` is the Flask app's ``wsgi_app``: it answers ``POST /predict``, ``GET
/healthz``, ``/livez``, ``/readyz``, ``/metrics`` and ``/statz`` itself, in production and in
tests alike (the Flask test client calls it as every server does), and hands every other
request to Flask: the app's own routes and blueprints, 404, 405 and CORS preflights. Flask's
routing, request and response objects and its hooks cost about 140 µs per request, several
times what the harness itself adds (bench/results/wrapper.md), which is why the hot routes
do not go through them.

Deadlines: the handler runs on the request thread. When the server gives the pipeline a way
to answer early (``environ[RESPOND_KEY]``, a ``respond(status, headers, body)`` callable: the
granian adapter in :mod:`blacklodge_harness.server` does), a
:class:`~blacklodge_harness.watchdog.Watchdog` thread answers ``504`` through it at the
deadline while the call goes on. Without one (Flask's test client, another WSGI server),
calls with a deadline go through the :class:`~blacklodge_harness.core.Invoker` thread pool
and the request thread stops waiting at the deadline.
"""

from __future__ import annotations

import json
import logging
import platform
import re
import time
from datetime import datetime, timezone
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from collections.abc import Callable, Iterable

from blacklodge_harness import __version__, logs
from blacklodge_harness.core import (
    CallTimeout,
    Context,
    ENCODING_ERRORS,
    HandlerFailed,
    HandlerReportedError,
    HandlerState,
    NotReady,
    PLAIN_RESULTS,
    ResultNotSerializable,
    encode_json,
    json_text,
    new_request_id,
    not_serializable,
)
from blacklodge_harness.entrypoint import CallStyle
from blacklodge_harness.errors import BadInput
from blacklodge_harness.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from blacklodge_harness.watchdog import Ticket, Watchdog

if TYPE_CHECKING:
    from blacklodge_harness.runtime import WebRuntime

log = logging.getLogger("blacklodge.http")

REQUEST_ID_HEADER = "X-Request-ID"
#: environ key of the server's early answer: ``respond(status, headers, body)``, callable from any
#: thread, once; a later answer to the same request (the call's own) is dropped by the server.
RESPOND_KEY = "blacklodge.respond"
#: Accepted incoming request ids: printable, no spaces, bounded (they go into logs and headers).
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}\Z")
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
#: Routes whose access log lines are debug level (probes and scrapes).
PROBE_ROUTES = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})
_RETRY = (("Retry-After", "5"),)
#: RFC 9110 renamed some reason phrases; Python's ``HTTPStatus`` has the new ones only from 3.13.
_RFC9110_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}
#: ``"405 Method Not Allowed"``: the status line of every answer, from the harness or from Flask,
#: with the RFC 9110 reason phrase whatever the Python version.
STATUS_LINES: dict[int, str] = {int(s): f"{int(s)} {_RFC9110_PHRASES.get(int(s), s.phrase)}" for s in HTTPStatus}
#: In a reply's headers: the connection closes after the answer.
CLOSE = ("Connection", "close")
_OK_OUTCOME, _BAD_INPUT_OUTCOME, _ERROR_OUTCOME = ("ok",), ("bad_input",), ("error",)
_HTTP1 = frozenset({"HTTP/1.0", "HTTP/1.1"})
_PREDICT = "/predict"
_PREDICT_ROUTE = (_PREDICT,)
_NOSNIFF = ("X-Content-Type-Options", "nosniff")
_NO_STORE = ("Cache-Control", "no-store")
#: Results encoded inline on the hot path (anything else goes through result_reply).
_JSON_CONTAINERS = frozenset({dict, list})
_LOADED = HandlerState.READY
# Bound once: module attribute lookups on every request add up.
_monotonic = time.monotonic
_json_loads = json.loads
_valid_request_id = REQUEST_ID_RE.match
_set_request_id = logs.set_request_id
_reset_request_id = logs.reset_request_id

#: PEP 3333's ``start_response`` (``wsgiref.types.StartResponse`` from Python 3.11 on).
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Call = Callable[[Any, Context | None], Any]


class Reply(NamedTuple):
    """An answer before it becomes a WSGI response."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


#: A :class:`Reply`, or a plain tuple of its four fields (the hot path's: no ``Reply`` to make).
Answer = tuple[int, str, bytes, tuple[tuple[str, str], ...]]


class AnsweredByWatchdog(Exception):
    """The call overran its deadline and the watchdog has answered the request."""


def is_json_type(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def mimetype_of(content_type: str) -> str:
    """``application/json; charset=utf-8`` -> ``application/json`` (as Werkzeug's ``request.mimetype``)."""
    mimetype = _MIMETYPES.get(content_type)
    if mimetype is None:
        mimetype = content_type.split(";", 1)[0].strip().lower()
        if len(_MIMETYPES) < 256:  # clients send a handful of spellings; never grow without bound
            _MIMETYPES[content_type] = mimetype
    return mimetype


_MIMETYPES: dict[str, str] = {}


def accept_request_id(incoming: str | None) -> str:
    """The client's ``X-Request-ID`` when acceptable, else a new id."""
    if incoming and REQUEST_ID_RE.match(incoming):
        return incoming
    return new_request_id()


def json_reply(body: Any, status: int = 200) -> Reply:
    return Reply(status, "application/json", json.dumps(body).encode("utf-8"))


def error_reply(
    status: int, error_type: str, message: str, request_id: str, headers: tuple[tuple[str, str], ...] = ()
) -> Reply:
    body = {"error": {"type": error_type, "message": message, "request_id": request_id}}
    return Reply(status, "application/json", json.dumps(body).encode("utf-8"), headers)


def too_large_reply(limit: int, request_id: str) -> Reply:
    """413, closing the connection: the rest of the body is never read, so the connection
    cannot carry another request (draining it would mean reading what the limit refused)."""
    return error_reply(
        413,
        "payload_too_large",
        f"the request body is larger than the limit of {limit} bytes (BLACKLODGE_MAX_BODY_SIZE)",
        request_id,
        (CLOSE,),
    )


def read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or None when it is longer than ``limit`` (with or without Content-Length)."""
    stream = environ["wsgi.input"]
    length_text = environ.get("CONTENT_LENGTH")
    if length_text:
        try:
            length = max(0, int(length_text))
        except ValueError:
            length = 0
        if length > limit:
            return None
        return bytes(stream.read(length)) if length else b""
    if not environ.get("wsgi.input_terminated"):
        # No length and a server that does not mark the end of the body: nothing safe to read.
        return b""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = stream.read(limit + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        return None
    return b"".join(chunks)


# --------------------------------------------------------------------------- replies


_OK = Reply(200, "application/json", b'{"status": "ok"}')
_READY = Reply(200, "application/json", b'{"status": "ready"}')
_DRAINING = json_reply({"status": "not_ready", "reason": "draining"}, 503)
_STUCK = json_reply({"status": "stuck", "reason": "every handler thread is held by an overrunning call"}, 503)


def healthz_reply(runtime: WebRuntime) -> Reply:
    return _STUCK if runtime.saturated() else _OK


def readyz_reply(runtime: WebRuntime) -> Reply:
    """Ready when this worker is and (under ``blacklodge web``) every other worker has loaded too."""
    if runtime.stopping:
        return _DRAINING
    ready, reason = runtime.handler.readiness()
    if not ready:
        return json_reply({"status": "not_ready", "reason": reason}, 503)
    markers = runtime.ready_markers
    if markers is not None:
        count = markers.count()
        if count < markers.workers:
            return json_reply({"status": "not_ready", "reason": "loading", "workers_ready": count, "workers": markers.workers}, 503)
    return _READY


def result_reply(result: Any, request_id: str) -> Reply:
    if isinstance(result, (bytes, bytearray, memoryview)):
        return Reply(200, "application/octet-stream", bytes(result))
    if isinstance(result, str):
        return Reply(200, "text/plain; charset=utf-8", result.encode("utf-8"))
    try:
        body = encode_json(result)
    except ResultNotSerializable as exc:
        return not_serializable_reply(exc, request_id)
    return Reply(200, "application/json", body)


def not_serializable_reply(exc: ResultNotSerializable, request_id: str) -> Reply:
    log.error("handler result is not JSON-serializable: %s", exc)
    return error_reply(500, "result_not_serializable", str(exc), request_id)


def refusal_reply(runtime: WebRuntime, request_id: str) -> Reply | None:
    """503 while draining or while the handler is not loaded; None when calls are taken."""
    if runtime.draining:
        return error_reply(
            503,
            "draining",
            "the server is shutting down; retry on another instance",
            request_id,
            _RETRY + (CLOSE,),
        )
    handler = runtime.handler
    if not handler.is_loaded():
        reason = "failed to load; see the logs" if handler.failure is not None else "is still loading"
        return error_reply(503, "not_ready", f"the handler {reason}", request_id, _RETRY)
    return None


def json_payload(body: bytes, request_id: str) -> Any:
    """A JSON body's document, or the ``400 invalid_json`` :class:`Reply`."""
    if not body or body.isspace():
        return error_reply(400, "invalid_json", "the request body is empty; send a JSON document", request_id)
    try:
        return _json_loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return error_reply(400, "invalid_json", f"the request body is not valid JSON: {exc}", request_id)


def read_payload(runtime: WebRuntime, environ: dict[str, Any], mimetype: str, request_id: str) -> Any:
    """The handler's payload from the request body, or the error :class:`Reply` that answers the request.

    The one place a body becomes a payload (the fast path reads a JSON body with a
    Content-Length itself, and decodes it with :func:`json_payload` as this does):

    * a JSON type: the parsed document (400 when empty or invalid);
    * ``text/plain`` whose body is a JSON object or array: the parsed document. Browsers
      send a string body as ``text/plain`` (it needs no CORS preflight), and so do many
      HTTP clients; a handler written for JSON would otherwise get ``bytes``. Any other
      ``text/plain`` body (including JSON scalars such as ``42``) stays raw bytes;
    * a form type: 415; anything else: the raw bytes (415 with ``BLACKLODGE_RAW_BODY=false``).
    """
    settings = runtime.settings
    if is_json_type(mimetype):
        body = read_body(environ, settings.max_body_size)
        if body is None:
            return too_large_reply(settings.max_body_size, request_id)
        return json_payload(body, request_id)
    raw: bytes | None = None
    if mimetype == "text/plain":
        raw = read_body(environ, settings.max_body_size)
        if raw is None:
            return too_large_reply(settings.max_body_size, request_id)
        if raw.lstrip()[:1] in _JSON_STRUCTURE_STARTS:
            try:
                return _json_loads(raw)
            except (ValueError, UnicodeDecodeError):
                pass  # text that merely starts like JSON: the handler gets it as bytes
    if runtime.handler.style is CallStyle.DATA_PARAMS:
        return error_reply(
            415,
            "unsupported_media_type",
            'this handler takes run(data, params): send Content-Type: application/json with {"data": ..., "params": {...}}',
            request_id,
        )
    if mimetype in FORM_TYPES or not settings.raw_body:
        accepted = "application/json" + (" or any non-form type as raw bytes" if settings.raw_body else "")
        return error_reply(
            415,
            "unsupported_media_type",
            f"content type {mimetype or '(none)'} is not accepted; send {accepted}",
            request_id,
        )
    if raw is None:
        raw = read_body(environ, settings.max_body_size)
        if raw is None:
            return too_large_reply(settings.max_body_size, request_id)
    return raw


#: First non-blank byte of a ``text/plain`` body that is tried as JSON (an object or an array).
_JSON_STRUCTURE_STARTS = (b"{", b"[")


def prepare_call(runtime: WebRuntime, environ: dict[str, Any], request_id: str) -> tuple[Reply | None, Any, str]:
    """(answer, payload, mimetype) of a ``POST /predict``: when ``answer`` is not None it is
    the reply (503, 400, 413, 415) and the handler is not called."""
    refused = refusal_reply(runtime, request_id)
    if refused is not None:
        return refused, None, ""
    mimetype = mimetype_of(environ.get("CONTENT_TYPE") or "")
    payload = read_payload(runtime, environ, mimetype, request_id)
    if type(payload) is Reply:
        return payload, None, mimetype
    return None, payload, mimetype


def call_context(runtime: WebRuntime, environ: dict[str, Any], mimetype: str, request_id: str, started: float) -> Context | None:
    """The :class:`Context` for handlers that take one, else None."""
    handler = runtime.handler
    if not handler.wants_context:
        return None
    timeout = runtime.settings.timeout
    from werkzeug.datastructures import EnvironHeaders  # imported by the first call that wants it

    return handler.context(
        request_id,
        "http",
        headers=EnvironHeaders(environ),
        metadata={"method": environ.get("REQUEST_METHOD", "POST"), "path": environ.get("PATH_INFO", "/predict"), "content_type": mimetype},
        deadline=started + timeout if timeout > 0 else None,
    )


def failure_reply(runtime: WebRuntime, exc: Exception, request_id: str) -> Reply:
    """The answer for a call that raised one of the handler call's exceptions; re-raises anything else."""
    if isinstance(exc, BadInput):
        return error_reply(400, "bad_input", exc.message, request_id)
    if isinstance(exc, CallTimeout):
        log.error("handler call overran the %gs timeout; it keeps running in the background", exc.timeout)
        return error_reply(504, "timeout", f"the handler did not finish within {exc.timeout:g}s (BLACKLODGE_TIMEOUT)", request_id)
    if isinstance(exc, HandlerReportedError):
        log.error("handler returned an error response: %s", exc)
        return error_reply(500, "handler_error", f"{exc.code}: {exc.detail}", request_id)
    if isinstance(exc, HandlerFailed):
        log.error("handler raised %s", exc.type_name, exc_info=(type(exc.exc), exc.exc, exc.exc.__traceback__))
        if runtime.settings.error_details:
            message = f"{exc.type_name}: {exc.exc}"
        else:
            message = f"the handler raised {exc.type_name}; details are in the logs under request id {request_id}"
        return error_reply(500, "handler_error", message, request_id)
    if isinstance(exc, NotReady):
        return error_reply(503, "not_ready", "the handler is not loaded", request_id, _RETRY)
    raise exc


#: What a handler call may raise, each answered by :func:`failure_reply`.
CALL_FAILURES = (BadInput, CallTimeout, HandlerReportedError, HandlerFailed, NotReady)


def predict_reply(runtime: WebRuntime, environ: dict[str, Any], request_id: str, started: float, call: Call) -> Reply:
    """Everything ``POST /predict`` does between reading the request and writing the answer.

    ``call(payload, context)`` runs the handler (directly or on the pool).
    """
    answer, payload, mimetype = prepare_call(runtime, environ, request_id)
    if answer is not None:
        return answer
    try:
        result = call(payload, call_context(runtime, environ, mimetype, request_id, started))
    except CALL_FAILURES as exc:
        return failure_reply(runtime, exc, request_id)
    return result_reply(result, request_id)


def timeout_reply(timeout: float, request_id: str) -> Reply:
    return error_reply(504, "timeout", f"the handler did not finish within {timeout:g}s (BLACKLODGE_TIMEOUT)", request_id)


def cors_headers(origins: tuple[str, ...], origin: str | None) -> list[tuple[str, str]]:
    """Headers for a (non-preflight) request from ``origin``; preflights are answered by Flask."""
    if not origin or ("*" not in origins and origin.rstrip("/") not in origins):
        return []
    return [
        ("Access-Control-Allow-Origin", "*" if "*" in origins else origin),
        ("Vary", "Origin"),
        ("Access-Control-Expose-Headers", REQUEST_ID_HEADER),
    ]


# --------------------------------------------------------------------------- WSGI




def statz_reply(runtime: WebRuntime) -> Reply:
    settings = runtime.settings
    handler = runtime.handler
    entry = handler.entry
    now = datetime.now(timezone.utc)
    return json_reply(
        {
            "app": {"name": settings.app_name, "version": settings.app_version, "revision": settings.revision},
            "entrypoint": {
                "spec": settings.entrypoint,
                "kind": entry.kind if entry else None,
                "call": entry.call if entry else None,
            },
            "state": handler.state.value,
            "harness": {"version": __version__},
            "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
            "started_at": runtime.started_at.isoformat().replace("+00:00", "Z"),
            "uptime_seconds": round((now - runtime.started_at).total_seconds(), 3),
        }
    )


def metrics_reply(runtime: WebRuntime) -> Reply:
    return Reply(200, METRICS_CONTENT_TYPE, runtime.render_metrics().encode("utf-8"))


Responder = Callable[["WebRuntime"], Reply]
#: The routes other than ``POST /predict`` that the pipeline answers: (method, path) -> reply.
ROUTES: dict[tuple[str, str], Responder] = {
    ("GET", "/healthz"): healthz_reply,
    ("GET", "/livez"): healthz_reply,
    ("GET", "/readyz"): readyz_reply,
    ("GET", "/metrics"): metrics_reply,
    ("GET", "/statz"): statz_reply,
}
#: Every path the pipeline answers (any other method on them goes to Flask, which answers 405).
OWN_PATHS = frozenset({_PREDICT} | {path for _, path in ROUTES})


class Pipeline:
    """The WSGI application every server calls: the harness's routes, and ``fallback`` (Flask) for the rest.

    ``POST /predict`` is served by :meth:`__call__` itself, with the common case (a JSON
    body with a Content-Length, a loaded handler, a dict or list result) written out inline:
    at tens of thousands of requests per second, every function call and lookup on this
    path shows in the CPU time per request (bench/results/wrapper.md). Anything less common
    goes through the ``*_reply`` functions above.
    """

    def __init__(self, runtime: WebRuntime, fallback: WsgiApp) -> None:
        self.runtime = runtime
        self.fallback = fallback
        settings = runtime.settings
        self.cors_origins = settings.cors_origins
        self.timeout = settings.timeout
        self.max_body_size = settings.max_body_size
        self.watchdog: Watchdog | None = Watchdog(self._answer_overrun, settings.timeout) if settings.timeout > 0 else None
        runtime.watchdog = self.watchdog
        self._request_keys: dict[tuple[str, str, int], tuple[str, str, str]] = {}
        self._route_keys: dict[str, tuple[str]] = {path: (path,) for path in OWN_PATHS}
        #: Content-Type header value -> (mimetype, is JSON); clients send a handful of spellings.
        self._content_types: dict[str, tuple[str, bool]] = {}
        #: Status -> the request counter's label values for POST /predict.
        self._predict_keys: dict[int, tuple[str, str, str]] = {}
        self.access_log = settings.access_log
        #: The loaded entry point when the pipeline may call it directly (see _direct_call).
        self._direct: Callable[[Any], Any] | Literal[False] | None = None

    # -- the WSGI entry

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != _PREDICT or environ.get("REQUEST_METHOD") != "POST":
            return self._other(environ, start_response)
        runtime = self.runtime
        started = _monotonic()
        incoming = environ.get("HTTP_X_REQUEST_ID")
        request_id = incoming if incoming and _valid_request_id(incoming) else new_request_id()
        id_token = _set_request_id(request_id)
        flight = next(runtime.flights)
        active = runtime.active
        active[flight] = None
        status = 500
        call: tuple[tuple[str], float] | None = None
        try:
            try:
                reply, call = self._predict(environ, request_id, started, flight)
            except AnsweredByWatchdog:
                # The watchdog answered (504), counted and logged the request; the server
                # drops this second answer.
                start_response(STATUS_LINES[504], [])
                return []
            except Exception:  # noqa: BLE001 - a fault in the harness, never a stack trace to the client
                log.exception("internal error while handling the request")
                reply = error_reply(500, "internal_error", "internal error in the harness; see the logs", request_id)
            status = reply[0]  # reply.status (by index: a namedtuple's fields are properties)
            body = reply[2]
            headers = [
                ("Content-Type", reply[1]),
                ("Content-Length", str(len(body))),
                *reply[3],
                (REQUEST_ID_HEADER, request_id),
                _NOSNIFF,
                _NO_STORE,
            ]
            if self.cors_origins:
                headers.extend(cors_headers(self.cors_origins, environ.get("HTTP_ORIGIN")))
            elapsed = _monotonic() - started
            # WebRuntime.end_request written out: counted by the tally's next drain.
            runtime.finished.append((self._predict_keys.get(status) or self._predict_key(status), _PREDICT_ROUTE, elapsed, call))
            if self.access_log:
                runtime.access_log.write(logging.INFO, "POST", _PREDICT, status, elapsed, request_id)
        finally:
            active.pop(flight, None)
            _reset_request_id(id_token)
        start_response(STATUS_LINES.get(status) or f"{status} Unknown", headers)
        return [body]

    def _other(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The probes, /metrics and /statz; everything else goes to Flask."""
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        respond = ROUTES.get((method, path))
        if respond is None:
            return self.fallback(environ, start_response)
        runtime = self.runtime
        started = _monotonic()
        request_id = accept_request_id(environ.get("HTTP_X_REQUEST_ID"))
        token = _set_request_id(request_id)
        flight = runtime.begin_request()
        status = 500
        try:
            try:
                reply = respond(runtime)
            except Exception:  # noqa: BLE001 - a fault in the harness, never a stack trace to the client
                log.exception("internal error while handling the request")
                reply = error_reply(500, "internal_error", "internal error in the harness; see the logs", request_id)
            status = reply.status
            headers = self._headers(reply, request_id, environ)
        finally:
            self._finish(flight, path, method, status, started, request_id)
            _reset_request_id(token)
        start_response(STATUS_LINES.get(status) or f"{status} Unknown", headers)
        return [reply.body]

    def _headers(self, reply: Reply, request_id: str, environ: dict[str, Any]) -> list[tuple[str, str]]:
        headers = [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(reply.body))),
            *reply.headers,
            (REQUEST_ID_HEADER, request_id),
            _NOSNIFF,
            _NO_STORE,
        ]
        if self.cors_origins:
            headers.extend(cors_headers(self.cors_origins, environ.get("HTTP_ORIGIN")))
        return headers

    def _request_key(self, route: str, method: str, status: int) -> tuple[str, str, str]:
        """The counter's label values for (route, method, status), made once."""
        return self._request_keys.setdefault((route, method, status), (route, method, str(status)))

    def _predict_key(self, status: int) -> tuple[str, str, str]:
        key = self._predict_keys[status] = self._request_key(_PREDICT, "POST", status)
        return key

    def _finish(self, flight: int, route: str, method: str, status: int, started: float, request_id: str) -> None:
        runtime = self.runtime
        elapsed = _monotonic() - started
        key = self._request_keys.get((route, method, status)) or self._request_key(route, method, status)
        runtime.end_request(flight, key, self._route_keys[route], elapsed)
        if self.access_log:
            level = logging.DEBUG if route in PROBE_ROUTES else logging.INFO
            runtime.access_log.write(level, method, route, status, elapsed, request_id)

    # -- POST /predict

    def _content_type(self, content_type: str) -> tuple[str, bool]:
        """(mimetype, is JSON) of a Content-Type header value."""
        known = self._content_types.get(content_type)
        if known is None:
            mimetype = mimetype_of(content_type)
            known = (mimetype, is_json_type(mimetype))
            if len(self._content_types) < 256:  # never grow without bound
                self._content_types[content_type] = known
        return known

    def _predict(
        self, environ: dict[str, Any], request_id: str, started: float, flight: int
    ) -> tuple[Answer, tuple[tuple[str], float] | None]:
        """The reply to ``POST /predict``, and the handler call's (outcome, seconds) when it returned in time.

        ``flight`` is the request's in-flight token (the watchdog's key for the call)."""
        runtime = self.runtime
        handler = runtime.handler
        watchdog = self.watchdog
        respond = environ.get(RESPOND_KEY)
        if watchdog is not None and respond is None:
            # No way to answer at the deadline from another thread: the handler thread pool keeps it.
            return predict_reply(runtime, environ, request_id, started, runtime.invoker.call), None
        if runtime.draining or handler.state is not _LOADED:
            refused = refusal_reply(runtime, request_id)
            if refused is not None:
                return refused, None
        content_type = environ.get("CONTENT_TYPE") or ""
        mimetype, is_json = self._content_types.get(content_type) or self._content_type(content_type)
        length_text = environ.get("CONTENT_LENGTH")
        if is_json and length_text and length_text.isdigit() and length_text.isascii():
            # read_payload's JSON case, for a body with a Content-Length.
            length = int(length_text)
            if length > self.max_body_size:
                return too_large_reply(self.max_body_size, request_id), None
            body = environ["wsgi.input"].read(length)
            try:
                payload = _json_loads(body)
            except (ValueError, UnicodeDecodeError):
                payload = json_payload(body, request_id)  # the 400 answer: empty, blank or invalid
        else:
            payload = read_payload(runtime, environ, mimetype, request_id)
        if type(payload) is Reply:
            return payload, None
        # The entry point itself when Handler.call would only pass it the payload.
        direct = self._direct if self._direct is not None else self._direct_call()
        context = call_context(runtime, environ, mimetype, request_id, started) if handler.wants_context else None
        # The call runs on this (the request) thread; the watchdog answers at the deadline.
        if watchdog is not None and respond is not None:  # always both or neither here (checked above)
            watchdog.watch(flight, started + self.timeout, respond, request_id, started, environ)
        call_started = _monotonic()
        try:
            try:
                if direct:
                    # Handler.call's payload style, written out.
                    try:
                        result = direct(payload)
                    except BadInput:
                        raise
                    except Exception as exc:  # noqa: BLE001 - any user exception is a handler failure
                        raise HandlerFailed(exc) from exc
                    if type(result) not in PLAIN_RESULTS:
                        result = handler.finish(result)
                else:
                    result = handler.call(payload, context)
                outcome = _OK_OUTCOME
            except CALL_FAILURES as exc:
                result = exc
                outcome = _BAD_INPUT_OUTCOME if isinstance(exc, BadInput) else _ERROR_OUTCOME
            seconds = _monotonic() - call_started
        finally:
            if watchdog is not None and not watchdog.release(flight):
                # Answered (504) and counted by the watchdog; the result is discarded.
                runtime.handler_metrics.abandoned.inc_key((), -1.0)
                log.warning("a call that overran its deadline has finished")
                raise AnsweredByWatchdog()
        # Counted with the request (WebRuntime.end_request).
        if outcome is not _OK_OUTCOME:
            return failure_reply(runtime, result, request_id), (outcome, seconds)
        if type(result) in _JSON_CONTAINERS:  # result_reply's usual case
            try:
                # A plain tuple: a Reply's fields without the cost of making one.
                return (200, "application/json", json_text(result).encode("utf-8"), ()), (outcome, seconds)
            except ENCODING_ERRORS as exc:
                return not_serializable_reply(not_serializable(exc), request_id), (outcome, seconds)
        return result_reply(result, request_id), (outcome, seconds)

    def _direct_call(self) -> Callable[[Any], Any] | Literal[False]:
        """``Handler.direct()`` once the handler is loaded (False: it takes more than the payload)."""
        direct = self.runtime.handler.direct()
        self._direct = direct if direct is not None else False
        return self._direct

    def _answer_overrun(self, ticket: Ticket) -> None:
        """On the watchdog thread: answer 504 through the server, count and log the request."""
        runtime = self.runtime
        request_id = ticket.request_id
        with logs.bind(request_id=request_id):
            runtime.handler_metrics.calls.inc_key(("timeout",))
            runtime.handler_metrics.abandoned.inc_key(())
            log.error("handler call overran the %gs timeout; it keeps running in the background", self.timeout)
            reply = timeout_reply(self.timeout, request_id)
            try:
                ticket.respond(504, self._headers(reply, request_id, ticket.environ), reply.body)
            except Exception as exc:  # noqa: BLE001 - the client may be gone
                log.info("could not send the timeout answer: %s", exc)
            self._finish(ticket.key, _PREDICT, "POST", 504, ticket.started, request_id)
