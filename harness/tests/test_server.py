"""The real ``blacklodge web`` (granian) on a loopback port."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest

from blacklodge_harness.tally import DRAIN_INTERVAL
from conftest import APPS, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    def request(
        self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
    ) -> Tuple[int, Dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            # Case-insensitive, as HTTP header names are (granian sends them in lower case).
            return response.status, response.headers, response.read()  # type: ignore[return-value]
        finally:
            connection.close()

    def chunked(self, data: bytes) -> Tuple[int, bytes]:
        """POST a raw body with Transfer-Encoding: chunked (no Content-Length)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            pieces = iter([data[i : i + 300] for i in range(0, len(data), 300)])
            connection.request(
                "POST", "/predict", body=pieces, encode_chunked=True, headers={"Content-Type": "application/octet-stream"}
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def predict(self, payload: Any, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], Any]:
        status, response_headers, body = self.request(
            "POST", "/predict", json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}
        )
        return status, response_headers, json.loads(body)

    def log_lines(self) -> list:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]


def start_server(tmp_path: Path, entrypoint: str, **env: str) -> Server:
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BLACKLODGE_")}
    full_env.update(
        {
            "PORT": str(port),
            "BLACKLODGE_HOST": "127.0.0.1",
            "BLACKLODGE_ENTRYPOINT": entrypoint,
            "BLACKLODGE_APP_DIR": str(APPS),
            "BLACKLODGE_WORKERS": "2",
            "BLACKLODGE_THREADS": "2",
            "BLACKLODGE_GRACE_PERIOD": "15",
            **env,
        }
    )
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "blacklodge_harness", "web"], stdout=log_file, stderr=subprocess.STDOUT, env=full_env
        )
    return Server(process, port, log_path)


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)  # lets the master remove its metrics directory
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path, "funcs:slow", BLACKLODGE_MAX_BODY_SIZE="1KiB")

    def ready() -> bool:
        assert running.process.poll() is None, running.log_path.read_text()
        try:
            return running.request("GET", "/readyz")[0] == 200
        except OSError:
            return False

    wait_until(ready, timeout=30, interval=0.1)
    # Both workers load independently: wait for each one's "entry point ... loaded" line. (Probing
    # /readyz cannot tell: the kernel may hand every probe to the worker that is already loaded.)
    wait_until(lambda: running.log_path.read_text().count("entry point funcs:slow loaded") >= 2, timeout=30)
    yield running
    stop(running)


def scrape_all(server: Server) -> str:
    """/metrics once every worker's finished requests are in it: another worker's reach a scrape
    within the tally's drain interval (the answering worker's own are always there)."""
    time.sleep(3 * DRAIN_INTERVAL)
    return server.request("GET", "/metrics")[2].decode()


def test_serves_requests_with_metrics_summed_over_workers(server: Server) -> None:
    status, headers, body = server.predict({"seconds": 0}, {"X-Request-ID": "it-works-1"})
    assert (status, body) == (200, {"slept": 0})
    assert headers["X-Request-ID"] == "it-works-1"
    assert (headers["X-Content-Type-Options"], headers["Cache-Control"]) == ("nosniff", "no-store")
    status, headers, _ = server.predict({"seconds": 0}, {"X-Request-ID": "not valid: has spaces"})
    assert status == 200
    assert headers["X-Request-ID"] != "not valid: has spaces" and " " not in headers["X-Request-ID"]
    for _ in range(5):
        assert server.predict({"seconds": 0})[0] == 200
    status, _, _ = server.request("POST", "/predict", b"x" * 2048, {"Content-Type": "application/json"})
    assert status == 413
    assert server.chunked(b"a" * 1024)[0] == 200  # exactly the 1 KiB limit
    status, body = server.chunked(b"a" * 1025)
    assert status == 413, body
    assert json.loads(body)["error"]["type"] == "payload_too_large"
    for _ in range(4):  # every scrape, whichever worker answers, sees all requests
        text = scrape_all(server)
        assert 'blacklodge_http_requests_total{route="/predict",method="POST",status="200"} 8' in text
        assert 'blacklodge_http_requests_total{route="/predict",method="POST",status="413"} 2' in text
    statz = json.loads(server.request("GET", "/statz")[2])
    assert statz["entrypoint"]["spec"] == "funcs:slow"
    # Access lines reach the output within logs.FLUSH_DELAY.
    wait_until(lambda: _access_lines(server, "it-works-1"), timeout=5)
    access = _access_lines(server, "it-works-1")
    assert access[0]["status"] == 200 and access[0]["mode"] == "http"
    # granian's own messages go through the harness's log format.
    assert any(e["logger"] == "_granian" and e["message"].startswith("Listening at") for e in server.log_lines())


def test_sigterm_finishes_in_flight_request_and_exits_0(server: Server, tmp_path: Path) -> None:
    started_file = tmp_path / "started"
    outcome: Dict[str, Any] = {}

    def slow_request() -> None:
        outcome["response"] = server.predict({"seconds": 2, "started_file": str(started_file)})

    thread = threading.Thread(target=slow_request)
    thread.start()
    wait_until(started_file.exists, timeout=10)
    began = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    thread.join(timeout=20)
    status, _, body = outcome["response"]
    assert (status, body) == (200, {"slept": 2})
    assert server.process.wait(timeout=20) == 0
    assert time.monotonic() - began < 15
    messages = [e["message"] for e in server.log_lines()]
    assert "stopping: readiness now reports 503" in messages
    assert all(isinstance(e, dict) for e in server.log_lines())  # every line is JSON


def test_drain_delay_keeps_serving_while_readiness_fails(tmp_path: Path) -> None:
    server = start_server(tmp_path, "funcs:echo", BLACKLODGE_WORKERS="1", BLACKLODGE_DRAIN_DELAY="1.5")
    try:
        wait_until(lambda: _ready(server), timeout=30, interval=0.1)
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: server.request("GET", "/readyz")[0] == 503, timeout=5)
        assert server.predict(1)[:1] == (200,)
        assert server.process.wait(timeout=20) == 0
    finally:
        stop(server)


def test_class_shutdown_runs_on_sigterm(tmp_path: Path) -> None:
    marker = tmp_path / "shutdown"
    server = start_server(tmp_path, "models:Model", BLACKLODGE_WORKERS="1", MODEL_SHUTDOWN_FILE=str(marker))
    try:
        wait_until(lambda: _ready(server), timeout=30, interval=0.1)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0
        assert marker.read_text() == "shutdown"
    finally:
        stop(server)


def test_broken_entry_point_stops_the_server(tmp_path: Path) -> None:
    server = start_server(tmp_path, "funcs:does_not_exist", BLACKLODGE_WORKERS="1")
    try:
        assert server.process.wait(timeout=30) == 4
        text = server.log_path.read_text()
        assert "Entry point 'funcs:does_not_exist' not found" in text
    finally:
        stop(server)


def test_app_setup_routes_are_served(tmp_path: Path) -> None:
    server = start_server(tmp_path, "funcs:echo", BLACKLODGE_WORKERS="1", BLACKLODGE_APP_SETUP="routes:setup")
    try:
        wait_until(lambda: _ready(server), timeout=30, interval=0.1)
        status, headers, body = server.request("GET", "/hello/granian", headers={"X-Caller": "it"})
        assert (status, json.loads(body)) == (200, {"hello": "granian", "caller": "it"})
        assert headers["X-Served-By"] == "routes.setup"
    finally:
        stop(server)


def test_broken_app_setup_stops_the_server(tmp_path: Path) -> None:
    server = start_server(tmp_path, "funcs:echo", BLACKLODGE_WORKERS="1", BLACKLODGE_APP_SETUP="routes:setpu")
    try:
        assert server.process.wait(timeout=30) == 4
        assert "App setup 'routes:setpu' not found" in server.log_path.read_text()
    finally:
        stop(server)


def _access_lines(server: Server, request_id: str) -> list[dict[str, Any]]:
    return [e for e in server.log_lines() if e.get("logger") == "blacklodge.access" and e.get("request_id") == request_id]


def _ready(server: Server) -> bool:
    assert server.process.poll() is None, server.log_path.read_text()
    try:
        return server.request("GET", "/readyz")[0] == 200
    except OSError:
        return False


def test_timeout_answered_by_the_watchdog_under_granian(tmp_path: Path) -> None:
    server = start_server(
        tmp_path, "funcs:slow", BLACKLODGE_WORKERS="1", BLACKLODGE_TIMEOUT="0.5", BLACKLODGE_GRACE_PERIOD="3"
    )
    try:
        wait_until(lambda: _ready(server), timeout=30, interval=0.1)
        began = time.monotonic()
        status, headers, body = server.predict({"seconds": 30}, {"X-Request-ID": "overrun-1"})
        assert time.monotonic() - began < 2
        assert status == 504
        assert headers["X-Request-ID"] == "overrun-1"
        assert body["error"] == {
            "type": "timeout",
            "message": "the handler did not finish within 0.5s (BLACKLODGE_TIMEOUT)",
            "request_id": "overrun-1",
        }
        # The other request threads keep serving.
        assert server.predict({"seconds": 0})[:1] == (200,)
        text = server.request("GET", "/metrics")[2].decode()
        assert 'blacklodge_handler_calls_total{outcome="timeout"} 1' in text
        assert "blacklodge_handler_calls_abandoned 1" in text
        wait_until(lambda: _access_lines(server, "overrun-1"), timeout=5)
        assert _access_lines(server, "overrun-1")[0]["status"] == 504
        # SIGTERM: the overrunning call does not keep the worker alive past the grace period.
        began = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0
        assert time.monotonic() - began < 10
    finally:
        stop(server)


def test_the_worker_serves_the_pipeline(settings_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load_worker (granian's target loader, run in each worker) gives granian the pipeline and
    installs the adapter: the call wrapper that puts the early answer into environ."""
    import granian._signals
    import granian.server.mp

    from blacklodge_harness.pipeline import RESPOND_KEY, Pipeline
    from blacklodge_harness.server import _call_wrapper, load_worker

    for name in list(os.environ):
        if name.startswith("BLACKLODGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BLACKLODGE_ENTRYPOINT", "funcs:echo")
    monkeypatch.setenv("BLACKLODGE_APP_DIR", str(APPS))
    monkeypatch.setattr(granian.server.mp, "_wsgi_call_wrap", granian.server.mp._wsgi_call_wrap)
    monkeypatch.setattr(granian._signals, "set_sync_signals", granian._signals.set_sync_signals)
    (tmp_path / "metrics").mkdir()
    wsgi = load_worker("target", metrics_dir=str(tmp_path / "metrics"), ready_dir=str(tmp_path))
    try:
        assert isinstance(wsgi, Pipeline)
        assert granian.server.mp._wsgi_call_wrap is _call_wrapper
        wait_until(wsgi.runtime.handler.is_loaded)

        class Proto:
            answers: list = []

            def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
                self.answers.append((status, body))

        seen: Dict[str, Any] = {}

        def app(environ: Dict[str, Any], start_response: Any) -> Any:
            seen.update(environ)
            return wsgi(environ, start_response)

        proto = Proto()
        scope = {"REQUEST_METHOD": "GET", "PATH_INFO": "/statz", "SERVER_NAME": "t", "SERVER_PORT": "80",
                 "wsgi.url_scheme": "http", "wsgi.input": None}
        assert _call_wrapper(app, {})(proto, scope) == 200
        [(status, body)] = proto.answers
        assert status == 200 and json.loads(body)["entrypoint"]["spec"] == "funcs:echo"
        assert seen[RESPOND_KEY] == proto.response_bytes
    finally:
        wsgi.runtime.shutdown()


# ------------------------------------------------------------------ on the wire


def raw_exchange(server: Server, request: bytes, timeout: float = 10.0) -> Tuple[str, Dict[str, str], bytes]:
    """Send ``request`` on a new connection and read until the server closes it.

    Returns the status line, the headers (names lower-cased) and the body. Raises when the
    server keeps the connection open past ``timeout`` (the socket read times out).
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return status_line, headers, body


def test_413_says_connection_close_and_closes(server: Server) -> None:
    """The body over the limit is not read, so the connection cannot be reused: the answer says so."""
    for content_type in ("application/json", "application/octet-stream", "text/plain"):
        request = (
            f"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\nContent-Length: 2048\r\n\r\n".encode()
            + b"x" * 2048
        )
        status_line, headers, body = raw_exchange(server, request)
        # The reason phrase is granian's (hyper's canonical one), not the harness's.
        assert status_line == "HTTP/1.1 413 Payload Too Large", content_type
        assert headers["connection"] == "close", content_type
        assert json.loads(body)["error"]["type"] == "payload_too_large"
    # Chunked, over the limit.
    chunk = b"x" * 1500
    request = (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
    )
    status_line, headers, _ = raw_exchange(server, request)
    assert (status_line, headers["connection"]) == ("HTTP/1.1 413 Payload Too Large", "close")


def test_a_request_that_fits_keeps_the_connection(server: Server) -> None:
    """The counterpart of the 413 test: the same server keeps a normal request's connection open."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(b'POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{"seconds": 0}')
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b'{"slept":0}'), answer
            assert b"connection: close" not in answer.lower()


def test_idle_keep_alive_connections_are_closed_after_the_keepalive_time(tmp_path: Path) -> None:
    server = start_server(tmp_path, "funcs:echo", BLACKLODGE_WORKERS="1", BLACKLODGE_KEEPALIVE="1")
    try:
        wait_until(lambda: _ready(server), timeout=30, interval=0.1)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n1")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
            idle_since = time.monotonic()
            assert sock.recv(65536) == b""  # closed by the server
            assert 0.5 < time.monotonic() - idle_since < 5
    finally:
        stop(server)


def test_a_worker_that_dies_is_replaced_and_readiness_waits_for_it(tmp_path: Path) -> None:
    server = start_server(tmp_path, "funcs:echo", BLACKLODGE_WORKERS="1")
    try:
        wait_until(lambda: _ready(server), timeout=30, interval=0.1)
        first = json.loads(server.request("GET", "/statz")[2])
        for _ in range(3):
            assert server.predict(1)[:1] == (200,)
        worker = _worker_pids(server)
        assert len(worker) == 1
        # A worker killed outright loses the requests of its last drain interval from the counts
        # (blacklodge_harness.tally); these three are older.
        time.sleep(3 * DRAIN_INTERVAL)
        os.kill(worker[0], signal.SIGKILL)
        wait_until(lambda: _worker_pids(server) not in ([], worker), timeout=20)
        wait_until(lambda: _ready(server), timeout=30, interval=0.1)
        assert server.predict(1)[:1] == (200,)
        assert json.loads(server.request("GET", "/statz")[2])["started_at"] != first["started_at"]
        assert server.process.poll() is None
        # The dead worker's counts are kept, once: 3 before it died, 1 by its replacement.
        for _ in range(2):
            text = server.request("GET", "/metrics")[2].decode()
            assert 'blacklodge_http_requests_total{route="/predict",method="POST",status="200"} 4\n' in text
            assert "blacklodge_http_requests_in_flight 1\n" in text  # the scrape itself, the dead worker's gauge dropped
    finally:
        stop(server)


def test_requests_beyond_the_threads_wait_their_turn(tmp_path: Path) -> None:
    """Backpressure: one worker with one thread takes 2 requests into the application at once;
    the others wait (in granian and the listen backlog) and are served in turn, none refused or dropped."""
    server = start_server(tmp_path, "funcs:slow", BLACKLODGE_WORKERS="1", BLACKLODGE_THREADS="1")
    try:
        wait_until(lambda: _ready(server), timeout=30, interval=0.1)
        results: list = []
        began = time.monotonic()

        def call() -> None:
            status, _, body = server.predict({"seconds": 0.4})
            results.append((status, body, time.monotonic() - began))

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(r[:2] for r in results) == [(200, {"slept": 0.4})] * 6
        # One call at a time: the last answer comes after six calls' time.
        finished = sorted(r[2] for r in results)
        assert finished[-1] >= 6 * 0.4 - 0.05, finished
        assert finished[0] < 2 * 0.4 + 0.3, finished
        text = server.request("GET", "/metrics")[2].decode()
        assert 'blacklodge_http_requests_total{route="/predict",method="POST",status="200"} 6\n' in text
        assert 'route="/predict",method="POST",status="503"' not in text
    finally:
        stop(server)


def _worker_pids(server: Server) -> list[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def test_text_plain_json_reaches_the_handler_parsed(server: Server) -> None:
    status, _, body = server.request("POST", "/predict", b'{"seconds": 0}', {"Content-Type": "text/plain;charset=UTF-8"})
    assert (status, json.loads(body)) == (200, {"slept": 0})


def test_405_is_counted_under_its_route_with_rfc_9110_status_lines(server: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/predict")
        response = connection.getresponse()
        assert (response.status, response.reason) == (405, "Method Not Allowed")
        assert json.loads(response.read())["error"]["type"] == "method_not_allowed"
        connection.request("GET", "/readyz")
        response = connection.getresponse()
        assert (response.status, response.reason) == (200, "OK")
        response.read()
    finally:
        connection.close()
    text = scrape_all(server)
    assert 'blacklodge_http_requests_total{route="/predict",method="GET",status="405"} 1' in text
    assert 'route="unmatched"' not in text


def test_statz_describes_the_call_as_validate_does(tmp_path: Path) -> None:
    server = start_server(tmp_path, "models:Model", BLACKLODGE_WORKERS="1")
    try:
        wait_until(lambda: _ready(server), timeout=30, interval=0.1)
        statz = json.loads(server.request("GET", "/statz")[2])
    finally:
        stop(server)
    validated = subprocess.run(
        [sys.executable, "-m", "blacklodge_harness", "validate", "--json", "--entrypoint", "models:Model", "--app-dir", str(APPS)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert statz["entrypoint"]["call"] == json.loads(validated.stdout)["call"] == "Model.predict(payload)"


# ------------------------------------------------------------------ readiness of every worker


def _readyz(server: Server) -> Tuple[int, Dict[str, Any]]:
    status, _, body = server.request("GET", "/readyz")
    return status, json.loads(body)


def _probe_until_the_loaded_worker_answers(server: Server, workers_ready: int) -> None:
    """Probe /readyz (new connections) until the loaded worker has answered; every answer must be 503.

    A loading worker answers ``{"reason": "loading"}``; a loaded one that counts the others
    adds ``workers_ready``: seeing that answer shows the probe did reach a loaded worker.
    """
    seen = []

    def answered_by_loaded_worker() -> bool:
        status, body = _readyz(server)
        seen.append((status, body))
        assert status == 503, seen
        assert body["status"] == "not_ready" and body["reason"] == "loading", seen
        return body.get("workers_ready") == workers_ready and body.get("workers") == 2

    wait_until(answered_by_loaded_worker, timeout=30, interval=0.01)


def test_readiness_waits_for_every_worker(tmp_path: Path) -> None:
    turn = tmp_path / "turn"
    turn.mkdir()
    server = start_server(
        tmp_path, "models:LoadsInTurn", BLACKLODGE_WORKERS="2", BLACKLODGE_DRAIN_DELAY="3", LOAD_TURN_DIR=str(turn)
    )
    loaded_line = "entry point models:LoadsInTurn loaded"
    try:
        # One worker loaded, the other waits in load().
        wait_until(lambda: server.log_path.read_text().count(loaded_line) == 1, timeout=30)
        wait_until(lambda: any(p.name.startswith("waiting-") for p in turn.iterdir()), timeout=30)
        _probe_until_the_loaded_worker_answers(server, workers_ready=1)

        # The second worker finishes loading: ready, whichever worker answers.
        (turn / "release").touch()
        wait_until(lambda: server.log_path.read_text().count(loaded_line) == 2, timeout=30)
        wait_until(lambda: _readyz(server)[0] == 200, timeout=5)
        pids = set()
        for _ in range(20):
            assert _readyz(server) == (200, {"status": "ready"})
            pids.add(server.predict({})[2]["pid"])

        # A worker dies; its replacement loads slowly: not ready again until it has loaded.
        (turn / "release").unlink()
        victim = sorted(pids)[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: any(p.name.startswith("waiting-") for p in turn.iterdir()), timeout=30)
        _probe_until_the_loaded_worker_answers(server, workers_ready=1)
        (turn / "release").touch()
        wait_until(lambda: _readyz(server)[0] == 200, timeout=30)
        wait_until(lambda: server.log_path.read_text().count(loaded_line) == 3, timeout=30)

        # SIGTERM: not ready at once, on every worker, while requests are still served (drain delay).
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        for _ in range(20):
            assert _readyz(server) == (503, {"status": "not_ready", "reason": "draining"})
        assert server.predict({})[0] == 200
        assert server.process.wait(timeout=20) == 0
    finally:
        stop(server)


LAZY_FLASK_SCRIPT = """
import io, json, sys
from blacklodge_harness import server

app = server.load_worker("blacklodge_harness", sys.argv[1], sys.argv[2])
runtime = app.runtime
while not runtime.handler.is_loaded():
    pass

def call(method, path, body=b""):
    answer = []
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "t", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "QUERY_STRING": "",
               "blacklodge.respond": lambda *a: None}
    body = b"".join(app(environ, lambda status, headers, exc_info=None: answer.append(status)))
    return answer[0], body

served = [call("POST", "/predict", b'{"x": 1}')[0], call("GET", "/healthz")[0], call("GET", "/metrics")[0]]
before = "flask" in sys.modules
status, body = call("GET", "/nope")
print(json.dumps({"served": served, "flask_before": before, "flask_after": "flask" in sys.modules,
                  "fallback": [status, json.loads(body)["error"]["type"]]}))
"""


def test_a_worker_without_routes_of_its_own_imports_flask_only_when_a_request_needs_it(tmp_path: Path) -> None:
    """Start time: Flask is made by the first request the pipeline does not answer (a 404 here),
    not before the worker serves; /predict, the probes and /metrics never need it."""
    (tmp_path / "metrics").mkdir()
    (tmp_path / "ready").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLACKLODGE_")}
    env.update({"BLACKLODGE_ENTRYPOINT": "funcs:echo", "BLACKLODGE_APP_DIR": str(APPS)})
    result = subprocess.run(
        [sys.executable, "-c", LAZY_FLASK_SCRIPT, str(tmp_path / "metrics"), str(tmp_path / "ready")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {
        "served": ["200 OK", "200 OK", "200 OK"],
        "flask_before": False,
        "flask_after": True,
        "fallback": ["404 Not Found", "not_found"],
    }
