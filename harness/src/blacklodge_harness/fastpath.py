"""The request hot path: ``POST /predict`` and the probes as plain WSGI.

Flask's routing, request and response objects and its before/after/teardown
hooks cost about 140 µs per request, fourteen times what a bare WSGI app calling
the same function needs (bench/results/wrapper.md). :class:`FastPath` wraps the
Flask app's ``wsgi_app`` and answers ``POST /predict``, ``GET /healthz``,
``/livez`` and ``/readyz`` itself; every other request (``/metrics``,
``/statz``, 404, 405, CORS preflights) goes to Flask unchanged. Both paths
produce the same answers: the bodies come from the ``*_reply`` functions below,
which the Flask views use too, and the same request id, headers, metrics and
access log line.

Under gunicorn the handler runs on the request thread and a
:class:`~blacklodge_harness.watchdog.Watchdog` answers ``504`` at the deadline;
elsewhere (Flask's test client, other WSGI servers) calls go through the
:class:`~blacklodge_harness.core.Invoker` thread pool as before.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import socket
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

from gunicorn.http.wsgi import Response as GunicornResponse
from werkzeug.datastructures import EnvironHeaders

from blacklodge_harness import logs
from blacklodge_harness.core import (
    CallTimeout,
    Context,
    ENCODING_ERRORS,
    HandlerFailed,
    HandlerReportedError,
    HandlerState,
    NotReady,
    ResultNotSerializable,
    encode_json,
    json_text,
    new_request_id,
    not_serializable,
)
from blacklodge_harness.entrypoint import CallStyle
from blacklodge_harness.errors import BadInput
from blacklodge_harness.watchdog import Ticket, Watchdog

if TYPE_CHECKING:
    from blacklodge_harness.web import WebRuntime

log = logging.getLogger("blacklodge.http")

REQUEST_ID_HEADER = "X-Request-ID"
#: environ key of the request's in-flight token (``WebRuntime.begin_request``), for the watchdog.
FLIGHT_KEY = "blacklodge.flight"
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
STATUS_LINES: Dict[int, str] = {int(s): f"{int(s)} {_RFC9110_PHRASES.get(int(s), s.phrase)}" for s in HTTPStatus}
#: In a reply's headers: the connection closes after the answer (gunicorn drops the header itself,
#: hop-by-hop, so the fast path tells gunicorn's response object instead).
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

StartResponse = Callable[[str, List[Tuple[str, str]]], Any]
WsgiApp = Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]
Call = Callable[[Any, Optional[Context]], Any]


class Reply(NamedTuple):
    """An answer before it becomes a WSGI (fast path) or Flask response."""

    status: int
    content_type: str
    body: bytes
    headers: Tuple[Tuple[str, str], ...] = ()


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


_MIMETYPES: Dict[str, str] = {}


def accept_request_id(incoming: Optional[str]) -> str:
    """The client's ``X-Request-ID`` when acceptable, else a new id."""
    if incoming and REQUEST_ID_RE.match(incoming):
        return incoming
    return new_request_id()


def json_reply(body: Any, status: int = 200) -> Reply:
    return Reply(status, "application/json", json.dumps(body).encode("utf-8"))


def error_reply(
    status: int, error_type: str, message: str, request_id: str, headers: Tuple[Tuple[str, str], ...] = ()
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


def read_body(environ: Dict[str, Any], limit: int) -> Optional[bytes]:
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
    chunks: List[bytes] = []
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


def healthz_reply(runtime: "WebRuntime") -> Reply:
    return _STUCK if runtime.saturated() else _OK


def readyz_reply(runtime: "WebRuntime") -> Reply:
    """Ready when this worker is and (under gunicorn) every other worker has loaded too."""
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


def refusal_reply(runtime: "WebRuntime", request_id: str) -> Optional[Reply]:
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


def read_payload(runtime: "WebRuntime", environ: Dict[str, Any], mimetype: str, request_id: str) -> Any:
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
    raw: Optional[bytes] = None
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


def prepare_call(runtime: "WebRuntime", environ: Dict[str, Any], request_id: str) -> Tuple[Optional[Reply], Any, str]:
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


def call_context(runtime: "WebRuntime", environ: Dict[str, Any], mimetype: str, request_id: str, started: float) -> Optional[Context]:
    """The :class:`Context` for handlers that take one, else None."""
    handler = runtime.handler
    if not handler.wants_context:
        return None
    timeout = runtime.settings.timeout
    return handler.context(
        request_id,
        "http",
        headers=EnvironHeaders(environ),
        metadata={"method": environ.get("REQUEST_METHOD", "POST"), "path": environ.get("PATH_INFO", "/predict"), "content_type": mimetype},
        deadline=started + timeout if timeout > 0 else None,
    )


def failure_reply(runtime: "WebRuntime", exc: Exception, request_id: str) -> Reply:
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


def predict_reply(runtime: "WebRuntime", environ: Dict[str, Any], request_id: str, started: float, call: Call) -> Reply:
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


def cors_headers(origins: Tuple[str, ...], origin: Optional[str]) -> List[Tuple[str, str]]:
    """Headers for a (non-preflight) request from ``origin``; preflights are answered by Flask."""
    if not origin or ("*" not in origins and origin.rstrip("/") not in origins):
        return []
    return [
        ("Access-Control-Allow-Origin", "*" if "*" in origins else origin),
        ("Vary", "Origin"),
        ("Access-Control-Expose-Headers", REQUEST_ID_HEADER),
    ]


# --------------------------------------------------------------------------- WSGI


def _closing_aware(start_response: StartResponse, responder: GunicornResponse) -> StartResponse:
    """``start_response`` that makes gunicorn close the connection when Flask's answer says so."""

    def start(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
        if CLOSE in headers:
            responder.force_close()
        return start_response(status, headers, exc_info)  # type: ignore[call-arg]

    return start


class FastPath:
    """WSGI middleware answering the hot routes itself and passing the rest to ``fallback`` (Flask).

    ``POST /predict`` is served by :meth:`__call__` itself, with the common case (a JSON
    body, a loaded handler, gunicorn's socket) written out inline: at a few thousand
    requests per second, every function call and lookup on this path shows in the CPU
    time per request (bench/results/wrapper.md). Anything less common goes through the
    same functions the Flask views use.
    """

    def __init__(self, runtime: "WebRuntime", fallback: WsgiApp) -> None:
        self.runtime = runtime
        self.fallback = fallback
        settings = runtime.settings
        self.cors_origins = settings.cors_origins
        self.timeout = settings.timeout
        self.max_body_size = settings.max_body_size
        self.watchdog: Optional[Watchdog] = Watchdog(self._answer_overrun, settings.timeout) if settings.timeout > 0 else None
        runtime.watchdog = self.watchdog
        self._routes: Dict[Tuple[str, str], Tuple[str, Callable[[Dict[str, Any], str, float], Reply]]] = {
            ("GET", "/healthz"): ("/healthz", lambda environ, rid, started: healthz_reply(runtime)),
            ("GET", "/livez"): ("/livez", lambda environ, rid, started: healthz_reply(runtime)),
            ("GET", "/readyz"): ("/readyz", lambda environ, rid, started: readyz_reply(runtime)),
        }
        self._request_keys: Dict[Tuple[str, str, int], Tuple[str, str, str]] = {}
        self._route_keys: Dict[str, Tuple[str]] = {route: (route,) for route, _ in self._routes.values()}
        self._route_keys[_PREDICT] = _PREDICT_ROUTE
        #: Content-Type header value -> (mimetype, is JSON); clients send a handful of spellings.
        self._content_types: Dict[str, Tuple[str, bool]] = {}
        #: Status -> the request counter's label values for POST /predict.
        self._predict_keys: Dict[int, Tuple[str, str, str]] = {}
        self.access_log = settings.access_log

    # -- the WSGI entry

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != _PREDICT or environ.get("REQUEST_METHOD") != "POST":
            return self._other(environ, start_response)
        runtime = self.runtime
        started = _monotonic()
        incoming = environ.get("HTTP_X_REQUEST_ID")
        request_id = incoming if incoming and _valid_request_id(incoming) else new_request_id()
        id_token = _set_request_id(request_id)
        flight = next(runtime.flights)
        runtime.active[flight] = None
        environ[FLIGHT_KEY] = flight
        status = 500
        call: Optional[Tuple[Tuple[str], float]] = None
        finished = False
        try:
            try:
                reply, call = self._predict(environ, request_id, started)
            except AnsweredByWatchdog:
                # The watchdog wrote the 504, counted and logged the request, and shut the
                # socket for writing: gunicorn closes the connection on a broken pipe.
                finished = True
                raise BrokenPipeError(errno.EPIPE, "answered at the deadline") from None
            except Exception:  # noqa: BLE001 - a fault in the harness, never a stack trace to the client
                log.exception("internal error while handling the request")
                reply = error_reply(500, "internal_error", "internal error in the harness; see the logs", request_id)
            status = reply[0]  # reply.status (by index: a namedtuple's fields are properties)
            body = reply[2]
            headers = [("Content-Type", reply[1]), ("Content-Length", str(len(body))), *reply[3]]
            if self.cors_origins:
                headers.extend(cors_headers(self.cors_origins, environ.get("HTTP_ORIGIN")))
        finally:
            if not finished:
                elapsed = _monotonic() - started
                key = self._predict_keys.get(status) or self._predict_key(status)
                runtime.end_request(flight, key, _PREDICT_ROUTE, elapsed, call)
                if self.access_log:
                    runtime.access_log.write(logging.INFO, "POST", _PREDICT, status, round(elapsed * 1000, 2), request_id)
            _reset_request_id(id_token)
        # The harness's own headers are valid by construction (the request id matched
        # REQUEST_ID_RE or was made here), so under gunicorn they skip its per-header checks,
        # which were about a third of the CPU time the harness added to a request.
        own = [(REQUEST_ID_HEADER, request_id), _NOSNIFF, _NO_STORE]
        responder: Any = getattr(start_response, "__self__", None)
        if type(responder) is GunicornResponse:
            if reply[3] and CLOSE in reply[3]:
                responder.force_close()  # its Connection header then says close
            start_response(STATUS_LINES.get(status) or f"{status} Unknown", headers)
            responder.headers += own
        else:
            headers += own
            start_response(STATUS_LINES.get(status) or f"{status} Unknown", headers)
        return [body]

    def _other(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The probes; everything else goes to Flask."""
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        entry = self._routes.get((method, path))
        if entry is None:
            responder: Any = getattr(start_response, "__self__", None)
            if type(responder) is GunicornResponse:
                return self.fallback(environ, _closing_aware(start_response, responder))
            return self.fallback(environ, start_response)
        route, respond = entry
        runtime = self.runtime
        started = time.monotonic()
        request_id = accept_request_id(environ.get("HTTP_X_REQUEST_ID"))
        token = logs.set_request_id(request_id)
        environ[FLIGHT_KEY] = runtime.begin_request()
        status = 500
        try:
            try:
                reply = respond(environ, request_id, started)
            except Exception:  # noqa: BLE001 - a fault in the harness, never a stack trace to the client
                log.exception("internal error while handling the request")
                reply = error_reply(500, "internal_error", "internal error in the harness; see the logs", request_id)
            status = reply.status
            headers = self._headers(reply, request_id, environ)
        finally:
            self._finish(route, method, path, status, started, request_id, environ)
            logs.reset_request_id(token)
        start_response(STATUS_LINES.get(status) or f"{status} Unknown", headers)
        return [reply.body]

    def _headers(self, reply: Reply, request_id: str, environ: Dict[str, Any]) -> List[Tuple[str, str]]:
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

    def _request_key(self, route: str, method: str, status: int) -> Tuple[str, str, str]:
        """The counter's label values for (route, method, status), made once."""
        return self._request_keys.setdefault((route, method, status), (route, method, str(status)))

    def _predict_key(self, status: int) -> Tuple[str, str, str]:
        key = self._predict_keys[status] = self._request_key(_PREDICT, "POST", status)
        return key

    def _finish(
        self, route: str, method: str, path: str, status: int, started: float, request_id: str, environ: Dict[str, Any]
    ) -> None:
        runtime = self.runtime
        elapsed = time.monotonic() - started
        key = self._request_keys.get((route, method, status)) or self._request_key(route, method, status)
        runtime.end_request(environ[FLIGHT_KEY], key, self._route_keys[route], elapsed)
        if runtime.settings.access_log:
            level = logging.DEBUG if route in PROBE_ROUTES else logging.INFO
            runtime.access_log.write(level, method, path, status, round(elapsed * 1000, 2), request_id)

    # -- POST /predict

    def _content_type(self, content_type: str) -> Tuple[str, bool]:
        """(mimetype, is JSON) of a Content-Type header value."""
        known = self._content_types.get(content_type)
        if known is None:
            mimetype = mimetype_of(content_type)
            known = (mimetype, is_json_type(mimetype))
            if len(self._content_types) < 256:  # never grow without bound
                self._content_types[content_type] = known
        return known

    def _predict(
        self, environ: Dict[str, Any], request_id: str, started: float
    ) -> Tuple[Reply, Optional[Tuple[Tuple[str], float]]]:
        """The reply to ``POST /predict``, and the handler call's (outcome, seconds) when it returned in time.

        The common case (a loaded handler, a JSON body with a Content-Length, gunicorn's
        socket, a dict or list result) is written out here; the rest goes through the
        functions the Flask view uses.
        """
        runtime = self.runtime
        handler = runtime.handler
        watchdog = self.watchdog
        sock = environ.get("gunicorn.socket")
        if watchdog is not None and (type(sock) is not socket.socket or environ.get("SERVER_PROTOCOL") not in _HTTP1):
            # No socket to answer on at the deadline: the handler thread pool keeps it.
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
            payload = json_payload(environ["wsgi.input"].read(length), request_id)
        else:
            payload = read_payload(runtime, environ, mimetype, request_id)
        if type(payload) is Reply:
            return payload, None
        context = call_context(runtime, environ, mimetype, request_id, started) if handler.wants_context else None
        # The call runs on this (the request) thread; the watchdog answers at the deadline.
        ticket = None
        if watchdog is not None:  # then sock is gunicorn's socket (checked above)
            ticket = watchdog.watch(started + self.timeout, sock, request_id, started, environ)  # type: ignore[arg-type]
        call_started = _monotonic()
        try:
            try:
                result = handler.call(payload, context)
                outcome = _OK_OUTCOME
            except CALL_FAILURES as exc:
                result = exc
                outcome = _BAD_INPUT_OUTCOME if isinstance(exc, BadInput) else _ERROR_OUTCOME
            seconds = _monotonic() - call_started
        finally:
            if ticket is not None and not watchdog.release(ticket):  # type: ignore[union-attr]
                # Answered (504) and counted by the watchdog; the result is discarded.
                runtime.handler_metrics.abandoned.inc_key((), -1.0)
                log.warning("a call that overran its deadline has finished")
                raise AnsweredByWatchdog()
        # Counted with the request, under the same lock (WebRuntime.end_request).
        if outcome is not _OK_OUTCOME:
            return failure_reply(runtime, result, request_id), (outcome, seconds)
        if type(result) in _JSON_CONTAINERS:  # result_reply's usual case
            try:
                return Reply(200, "application/json", json_text(result).encode("utf-8")), (outcome, seconds)
            except ENCODING_ERRORS as exc:
                return not_serializable_reply(not_serializable(exc), request_id), (outcome, seconds)
        return result_reply(result, request_id), (outcome, seconds)

    def _answer_overrun(self, ticket: Ticket) -> None:
        """On the watchdog thread: answer 504 on the client socket, count and log the request."""
        runtime = self.runtime
        request_id = ticket.request_id
        with logs.bind(request_id=request_id):
            runtime.handler_metrics.calls.inc_key(("timeout",))
            runtime.handler_metrics.abandoned.inc_key(())
            log.error("handler call overran the %gs timeout; it keeps running in the background", self.timeout)
            reply = timeout_reply(self.timeout, request_id)
            headers = self._headers(reply, request_id, ticket.environ)
            headers.append(("Date", formatdate(usegmt=True)))
            headers.append(("Connection", "close"))
            head = f"HTTP/1.1 {STATUS_LINES[504]}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
            try:
                ticket.sock.sendall(head.encode("latin-1") + reply.body)
            except OSError as exc:
                log.info("could not send the timeout answer: %s", exc)
            self._finish(_PREDICT, "POST", _PREDICT, 504, ticket.started, request_id, ticket.environ)
