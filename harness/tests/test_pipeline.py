"""The pipeline as ``blacklodge web`` calls it: environ with the server's early answer
(``RESPOND_KEY``), the call on the request thread, the watchdog answering 504 through it;
and without one (the handler thread pool)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from flask import Flask

from blacklodge_harness import logs
from blacklodge_harness.config import Settings
from blacklodge_harness.core import new_request_id
from blacklodge_harness.pipeline import RESPOND_KEY, Pipeline, read_body
from blacklodge_harness.web import create_app, get_runtime

from conftest import wait_until


@pytest.fixture
def make_app(settings_for: Callable[..., Settings]) -> Iterator[Callable[..., Flask]]:
    apps: List[Flask] = []

    def make(spec: str, **env: str) -> Flask:
        app = create_app(settings_for(spec, **env))
        apps.append(app)
        wait_until(lambda: get_runtime(app).handler.is_loaded())
        return app

    yield make
    for app in apps:
        get_runtime(app).shutdown()


class Responder:
    """Stands in for the server's early answer (granian's ``proto.response_bytes``)."""

    def __init__(self) -> None:
        self.answers: List[Tuple[int, List[Tuple[str, str]], bytes]] = []
        self.answered = threading.Event()

    def __call__(self, status: int, headers: List[Tuple[str, str]], body: bytes) -> None:
        self.answers.append((status, headers, body))
        self.answered.set()


@pytest.fixture
def responder() -> Responder:
    return Responder()


def environ(body: bytes, respond: Optional[Responder] = None, **extra: Any) -> Dict[str, Any]:
    env: Dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/predict",
        "SERVER_NAME": "test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
    }
    if respond is not None:
        env[RESPOND_KEY] = respond
    env.update(extra)
    return env


def call(app: Flask, env: Dict[str, Any]) -> Tuple[str, Dict[str, str], bytes]:
    captured: Dict[str, Any] = {}

    def start_response(status: str, headers: List[Tuple[str, str]]) -> None:
        captured["status"] = status
        captured["headers"] = dict(headers)
        names = [name.lower() for name, _ in headers]
        assert len(names) == len(set(names)), f"a header is repeated: {headers}"

    body = b"".join(app.wsgi_app(env, start_response))
    return captured["status"], captured["headers"], body


def test_with_an_early_answer_the_call_runs_on_the_request_thread(make_app: Callable[..., Flask], responder: Responder) -> None:
    app = make_app("funcs:thread_name")
    assert isinstance(app.wsgi_app, Pipeline)
    status, headers, body = call(app, environ(b"{}", responder, HTTP_X_REQUEST_ID="rid-1"))
    assert status == "200 OK"
    assert json.loads(body) == {"thread": threading.current_thread().name}
    assert headers["X-Request-ID"] == "rid-1"
    assert headers["Content-Length"] == str(len(body))
    assert headers["Cache-Control"] == "no-store"
    assert responder.answers == []
    # Without one the deadline needs the handler thread pool.
    status, _, body = call(app, environ(b"{}"))
    assert json.loads(body)["thread"].startswith("blacklodge-call")


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{}", "200 OK"), (b"{not json", "400 Bad Request")],
)
def test_own_headers_once(make_app: Callable[..., Flask], responder: Responder, body: bytes, status: str) -> None:
    app = make_app("funcs:thread_name", BLACKLODGE_CORS_ORIGINS="https://ui.example")
    answer, headers, _ = call(app, environ(body, responder, HTTP_X_REQUEST_ID="rid-7", HTTP_ORIGIN="https://ui.example"))
    assert answer == status
    assert {k.lower(): v for k, v in headers.items()} == {
        "content-type": "application/json",
        "content-length": headers["Content-Length"],
        "x-request-id": "rid-7",
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
        "access-control-allow-origin": "https://ui.example",
        "vary": "Origin",
        "access-control-expose-headers": "X-Request-ID",
    }


def test_watchdog_answers_504_through_the_server(make_app: Callable[..., Flask], responder: Responder) -> None:
    app = make_app("funcs:slow", BLACKLODGE_TIMEOUT="0.2", BLACKLODGE_THREADS="1")
    runtime = get_runtime(app)
    outcome: Dict[str, Any] = {}

    def request() -> None:
        outcome["answer"] = call(app, environ(b'{"seconds": 1}', responder, HTTP_X_REQUEST_ID="slow-1"))

    started = time.monotonic()
    thread = threading.Thread(target=request)
    thread.start()
    assert responder.answered.wait(5)
    assert time.monotonic() - started < 0.8
    [(status, headers, body)] = responder.answers
    assert status == 504
    assert ("X-Request-ID", "slow-1") in headers
    assert ("Content-Length", str(len(body))) in headers
    error = json.loads(body)["error"]
    assert error == {
        "type": "timeout",
        "message": "the handler did not finish within 0.2s (BLACKLODGE_TIMEOUT)",
        "request_id": "slow-1",
    }
    metrics = runtime.render_metrics()
    assert 'blacklodge_http_requests_total{route="/predict",method="POST",status="504"} 1' in metrics
    assert 'blacklodge_handler_calls_total{outcome="timeout"} 1' in metrics
    assert "blacklodge_handler_calls_abandoned 1" in metrics
    assert "blacklodge_http_requests_in_flight 0" in metrics
    # One thread, held by the overrunning call: liveness reports it.
    assert call(app, environ(b"", REQUEST_METHOD="GET", PATH_INFO="/healthz"))[0] == "503 Service Unavailable"
    # When the call returns, its own answer (which the server drops) is not counted again.
    thread.join(timeout=5)
    assert outcome["answer"][0].startswith("504")
    assert len(responder.answers) == 1
    assert "blacklodge_handler_calls_abandoned 0" in runtime.render_metrics()
    assert 'status="200"' not in runtime.render_metrics()
    assert call(app, environ(b"", REQUEST_METHOD="GET", PATH_INFO="/healthz"))[0] == "200 OK"
    # The worker goes on serving.
    assert call(app, environ(b'{"seconds": 0}', Responder()))[0] == "200 OK"


def test_fast_calls_leave_no_watchdog_state(make_app: Callable[..., Flask], responder: Responder) -> None:
    app = make_app("funcs:echo", BLACKLODGE_TIMEOUT="5")
    for _ in range(20):
        assert call(app, environ(b"1", responder))[0] == "200 OK"
    watchdog = get_runtime(app).watchdog
    assert watchdog is not None and watchdog.overrunning == 0 and not watchdog.calls


def test_timeout_0_needs_no_watchdog(make_app: Callable[..., Flask], responder: Responder) -> None:
    app = make_app("funcs:thread_name", BLACKLODGE_TIMEOUT="0")
    assert get_runtime(app).watchdog is None
    status, _, body = call(app, environ(b"{}", responder))
    assert json.loads(body) == {"thread": threading.current_thread().name}


def test_chunked_body_limit(make_app: Callable[..., Flask]) -> None:
    app = make_app("funcs:describe", BLACKLODGE_MAX_BODY_SIZE="10")
    raw = {"CONTENT_TYPE": "application/octet-stream"}
    env = environ(b"x" * 10, **raw)
    del env["CONTENT_LENGTH"]
    assert json.loads(call(app, env)[2]) == {"type": "bytes", "length": 10}
    env = environ(b"x" * 11, **raw)
    del env["CONTENT_LENGTH"]
    status, _, body = call(app, env)
    assert status == "413 Content Too Large"
    assert json.loads(body)["error"]["type"] == "payload_too_large"


class _Trickle(io.RawIOBase):
    """A stream that returns at most 3 bytes per read, like a chunked body arriving in pieces."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        piece, self._data = self._data[: min(3, size if size >= 0 else 3)], self._data[min(3, size if size >= 0 else 3) :]
        return piece


def test_read_body_variants() -> None:
    assert read_body({"wsgi.input": _Trickle(b"abcdefgh"), "wsgi.input_terminated": True}, 8) == b"abcdefgh"
    assert read_body({"wsgi.input": _Trickle(b"abcdefghi"), "wsgi.input_terminated": True}, 8) is None
    # No length and no end marker: not safe to read.
    assert read_body({"wsgi.input": io.BytesIO(b"abc")}, 8) == b""
    assert read_body({"wsgi.input": io.BytesIO(b"abc"), "CONTENT_LENGTH": "3"}, 8) == b"abc"
    assert read_body({"wsgi.input": io.BytesIO(b"abc"), "CONTENT_LENGTH": "9"}, 8) is None


def test_internal_error_is_json(make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app("funcs:echo")
    runtime = get_runtime(app)

    def broken() -> Any:
        raise RuntimeError("bug in the harness")

    monkeypatch.setattr(runtime.handler, "readiness", broken)
    status, headers, body = call(app, environ(b"", REQUEST_METHOD="GET", PATH_INFO="/readyz"))
    assert status == "500 Internal Server Error"
    error = json.loads(body)["error"]
    assert error["type"] == "internal_error" and error["request_id"] == headers["X-Request-ID"]
    assert "bug in the harness" not in body.decode()


def test_cors_headers_on_predict(make_app: Callable[..., Flask], responder: Responder) -> None:
    app = make_app("funcs:echo", BLACKLODGE_CORS_ORIGINS="https://app.example.com")
    _, headers, _ = call(app, environ(b"1", responder, HTTP_ORIGIN="https://app.example.com"))
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Vary"] == "Origin"
    _, headers, _ = call(app, environ(b"1", responder, HTTP_ORIGIN="https://other.example.com"))
    assert "Access-Control-Allow-Origin" not in headers


def test_new_request_ids_are_32_hex_and_distinct() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


# ------------------------------------------------------------------ the access log line


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    setup = logs.setup_logging("http", log_format="json", level="info", capture_output=False, stream=stream)
    yield stream
    setup.restore()


@contextlib.contextmanager
def harness_handler_only() -> Iterator[None]:
    """pytest attaches its capture handlers to the root logger for the test body; set them aside."""
    root = logging.getLogger()
    saved = list(root.handlers)
    root.handlers = [h for h in saved if type(h).__name__ == "_HarnessHandler"]
    try:
        yield
    finally:
        root.handlers = saved


def _without_timestamp(line: str) -> str:
    return line[line.index('"level"') :]


@pytest.mark.parametrize("request_id", ["abc-123", 'needs "escaping"', None])
def test_access_line_written_directly_equals_the_logging_record(json_logs: io.StringIO, request_id: Optional[str]) -> None:
    access = logs.AccessLog()
    with harness_handler_only():
        assert access._direct_handler() is not None
        access.write(logging.INFO, "POST", "/predict", 200, 0.00125, request_id)
        token = logs.set_request_id(request_id)
        try:
            logging.getLogger("blacklodge.access").info(
                "%s %s %d", "POST", "/predict", 200, extra={"method": "POST", "path": "/predict", "status": 200, "duration_ms": 1.25}
            )
        finally:
            logs.reset_request_id(token)
    access.flush()
    direct, logged = json_logs.getvalue().splitlines()
    assert _without_timestamp(direct) == _without_timestamp(logged)
    assert json.loads(direct)["timestamp"].endswith("Z")


def test_access_lines_are_flushed_within_the_delay(tmp_path: Any) -> None:
    path = tmp_path / "out.log"
    with open(path, "w") as stream:  # block-buffered, as stdout into a pipe or a file
        setup = logs.setup_logging("http", log_format="json", level="info", capture_output=False, stream=stream)
        try:
            access = logs.AccessLog()
            with harness_handler_only():
                assert access._direct_handler() is not None
                access.write(logging.INFO, "POST", "/predict", 200, 0.001, "buffered-1")
            assert path.read_text() == ""  # no system call per request
            began = time.monotonic()
            wait_until(lambda: "buffered-1" in path.read_text(), timeout=2, interval=0.005)
            assert time.monotonic() - began < 10 * logs.FLUSH_DELAY
            # Any other log line flushes the ones before it: the order is kept.
            with harness_handler_only():
                access.write(logging.INFO, "POST", "/predict", 200, 0.001, "buffered-2")
                logging.getLogger("blacklodge.test").warning("after")
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            assert [line.get("request_id", line["message"]) for line in lines] == ["buffered-1", "buffered-2", "after"]
        finally:
            setup.restore()


def test_access_line_respects_level_and_other_handlers(json_logs: io.StringIO) -> None:
    access = logs.AccessLog()
    seen: List[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    with harness_handler_only():
        access.write(logging.DEBUG, "GET", "/healthz", 200, 0.0001, "r1")  # below the info level
        assert json_logs.getvalue() == ""
        extra = Collect()
        logging.getLogger("blacklodge").addHandler(extra)
        try:
            assert access._direct_handler() is None
            access.write(logging.INFO, "POST", "/predict", 200, 0.0005, "r2")
        finally:
            logging.getLogger("blacklodge").removeHandler(extra)
        assert [record.getMessage() for record in seen] == ["POST /predict 200"]
        assert json.loads(json_logs.getvalue())["request_id"] == "r2"
        with logs.bind(request_id="r3", topic="orders"):  # bound fields: through logging
            access.write(logging.INFO, "POST", "/predict", 200, 0.0005, "r3")
        assert json.loads(json_logs.getvalue().splitlines()[-1])["topic"] == "orders"


def test_in_flight_gauge_counts_a_running_call(make_app: Callable[..., Flask], responder: Responder, tmp_path: Any) -> None:
    app = make_app("funcs:slow")
    runtime = get_runtime(app)
    started = tmp_path / "started"
    body = json.dumps({"seconds": 0.5, "started_file": str(started)}).encode()
    thread = threading.Thread(target=call, args=(app, environ(body, responder)))
    thread.start()
    wait_until(started.exists)
    assert "blacklodge_http_requests_in_flight 1\n" in runtime.render_metrics()
    thread.join(timeout=5)
    metrics = runtime.render_metrics()
    assert "blacklodge_http_requests_in_flight 0\n" in metrics
    assert 'blacklodge_http_requests_total{route="/predict",method="POST",status="200"} 1' in metrics
    assert "blacklodge_handler_duration_seconds_count 1" in metrics


# ------------------------------------------------------------------ the inline POST /predict path


JSON = "application/json"
SAME_ANSWER_CASES = [
    ("funcs:echo", JSON, b'{"a": [1, 2]}', {}),
    ("funcs:echo", "application/json; charset=utf-8", b"[1, 2]", {}),
    ("funcs:echo", "application/vnd.api+json", b'"x"', {}),
    ("funcs:echo", JSON, b"", {}),
    ("funcs:echo", JSON, b"  \n", {}),
    ("funcs:echo", JSON, b"{nope", {}),
    ("funcs:echo", JSON, b'"\xff"', {}),
    ("funcs:echo", JSON, b"[" * 20 + b"]" * 20, {"BLACKLODGE_MAX_BODY_SIZE": "30"}),
    ("funcs:echo", JSON, b"[" * 20 + b"]" * 20, {"BLACKLODGE_MAX_BODY_SIZE": "39"}),
    ("funcs:describe", "text/plain", b"raw text", {}),
    ("funcs:describe", "", b"no type", {}),
    ("funcs:describe", "application/x-www-form-urlencoded", b"a=1", {}),
    ("funcs:describe", "text/plain", b"raw", {"BLACKLODGE_RAW_BODY": "false"}),
    ("funcs:text", JSON, b"1", {}),
    ("funcs:raw_bytes", JSON, b"1", {}),
    ("funcs:nan", JSON, b"1", {}),
    ("funcs:not_serializable", JSON, b"1", {}),
    ("funcs:rich", JSON, b"1", {}),
    ("funcs:fails", JSON, b"1", {}),
    ("funcs:rejects", JSON, b"1", {}),
    ("funcs:async_echo", JSON, b"1", {}),
    ("funcs:run", JSON, b'{"data": 1, "params": {"p": 2}}', {}),
    ("funcs:run", JSON, b'{"data": 1, "other": 2}', {}),
    ("funcs:run", "text/plain", b"1", {}),
    ("funcs:planqk_error", JSON, b'{"data": 1}', {}),
    ("funcs:with_context", JSON, b"1", {}),
]


def _answer(app: Flask, env: Dict[str, Any]) -> Tuple[str, Dict[str, str], Any]:
    status, headers, body = call(app, env)
    parsed: Any = body
    if headers.get("Content-Type") == JSON:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            parsed["error"].pop("request_id", None)
            parsed["error"]["message"] = parsed["error"]["message"].split(" under request id ")[0]
        if isinstance(parsed, dict):
            parsed.pop("request_id", None)  # funcs:with_context echoes it
    headers = {k: v for k, v in headers.items() if k != "X-Request-ID"}
    return status, headers, parsed


@pytest.mark.parametrize("spec, content_type, body, env", SAME_ANSWER_CASES)
def test_inline_predict_answers_as_the_thread_pool_path(
    make_app: Callable[..., Flask], responder: Responder, spec: str, content_type: str, body: bytes, env: Dict[str, str]
) -> None:
    """The inline case (an early answer in environ: the call on the request thread) answers
    exactly as the general path (none: the handler thread pool)."""
    app = make_app(spec, **env)
    extra = {"CONTENT_TYPE": content_type} if content_type else {}
    inline_env = environ(body, responder, **extra)
    general = environ(body, **extra)
    if not content_type:
        del inline_env["CONTENT_TYPE"]
        del general["CONTENT_TYPE"]
    assert _answer(app, inline_env) == _answer(app, general)
    assert responder.answers == []


def test_inline_predict_with_unusual_content_lengths(make_app: Callable[..., Flask], responder: Responder) -> None:
    app = make_app("funcs:echo", BLACKLODGE_MAX_BODY_SIZE="10")
    # Not digits: read as no body, as read_body does.
    status, _, body = call(app, environ(b"1", responder, CONTENT_LENGTH="1e3"))
    assert status.startswith("400") and json.loads(body)["error"]["type"] == "invalid_json"
    # No length on a terminated (chunked) body: read to the end, with the limit.
    env = environ(b"[1, 2]", responder)
    del env["CONTENT_LENGTH"]
    assert json.loads(call(app, env)[2]) == {"echo": [1, 2]}
    env = environ(b"[1, 2, 3, 4]", responder)
    del env["CONTENT_LENGTH"]
    assert call(app, env)[0].startswith("413")


def test_inline_predict_refuses_while_loading_and_draining(settings_for: Callable[..., Settings], responder: Responder) -> None:
    app = create_app(settings_for("funcs:echo"), start=False)
    runtime = get_runtime(app)
    status, headers, body = call(app, environ(b"1", responder))
    assert status.startswith("503") and json.loads(body)["error"]["type"] == "not_ready"
    assert headers["Retry-After"] == "5"
    runtime.handler.start()
    assert call(app, environ(b"1", responder))[0] == "200 OK"
    runtime.begin_drain()
    status, headers, body = call(app, environ(b"1", responder))
    assert status.startswith("503") and json.loads(body)["error"]["type"] == "draining"
    assert headers["Connection"] == "close"
    runtime.shutdown()
    metrics = runtime.render_metrics()
    assert 'blacklodge_http_requests_total{route="/predict",method="POST",status="503"} 2' in metrics
    assert 'blacklodge_handler_calls_total{outcome="ok"} 1' in metrics
