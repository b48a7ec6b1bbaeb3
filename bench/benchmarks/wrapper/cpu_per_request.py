"""CPU time per POST /predict inside one process, without a load generator or network.

Each request goes through gunicorn's own request parsing and response writing (its
``RequestParser``, ``wsgi.create`` and ``Response``, as a gthread worker calls them) over a
socket pair, then the WSGI app: the bare WSGI app and the harness's app (``create_app``, as a
gunicorn worker builds it, called where gunicorn calls it: its ``FastPath``, see
``WebServer.load``). So the numbers include what the harness costs inside gunicorn
(its extra response headers are validated and written there), free of the load generator and
of other work on the machine (CPU time, not wall). The environ carries the socket as
``gunicorn.socket``, so the harness takes the path it takes under gunicorn (the call on the
request thread, the deadline kept by the watchdog thread); ``harness-flask`` is the same app
with the Flask views answering ``POST /predict`` (``create_app(fast_path=False)``, the
harness before the plain-WSGI path), which hands every call to the handler thread pool.

Prints one ``name microseconds`` line per variant.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Callable, Dict

APP_DIR = os.environ["BENCH_APP_DIR"]
os.environ.update(BLACKLODGE_ENTRYPOINT="model:predict", BLACKLODGE_APP_DIR=APP_DIR)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bare_app  # noqa: E402
from blacklodge_harness.config import load_settings  # noqa: E402
from blacklodge_harness.logs import setup_logging  # noqa: E402
from blacklodge_harness.web import create_app, get_runtime  # noqa: E402

from gunicorn.config import Config  # noqa: E402
from gunicorn.http import RequestParser, wsgi  # noqa: E402

BODY = b'{"amount": 120.5, "items": 3, "new_customer": true}'
REQUEST = (
    b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)
CALLS = 1000
CONFIG = Config()
# The server's end of the connection and the client's, which sends requests and drains answers.
SERVER_SIDE, CLIENT_SIDE = socket.socketpair()
PEER = ("127.0.0.1", 40000)
LISTENER = ("127.0.0.1", 8080)


def caller(app: Callable) -> Callable[[], None]:
    """One request as gunicorn's gthread worker handles it: parse, call the app, write the answer."""

    def call() -> None:
        CLIENT_SIDE.sendall(REQUEST)
        request = next(RequestParser(CONFIG, SERVER_SIDE, PEER))
        response, environ = wsgi.create(request, SERVER_SIDE, PEER, LISTENER, CONFIG)
        environ["wsgi.multithread"] = True
        result = app(environ, response.start_response)
        for chunk in result:
            response.write(chunk)
        response.close()
        close = getattr(result, "close", None)
        if close:
            close()
        CLIENT_SIDE.recv(65536)

    return call


def cpu_us(variants: Dict[str, Callable[[], None]], repeats: int = 15) -> Dict[str, float]:
    """Per variant, the lowest of ``repeats`` batches: other work on the machine only ever adds time.

    The batches of all variants are interleaved, so a stretch of heavy load elsewhere hits every
    variant alike instead of one.
    """
    for call in variants.values():
        for _ in range(300):
            call()
    best = {name: float("inf") for name in variants}
    for _ in range(repeats):
        for name, call in variants.items():
            start = time.process_time()
            for _ in range(CALLS):
                call()
            best[name] = min(best[name], (time.process_time() - start) / CALLS * 1e6)
    return best


def harness(timeout: str, access_log: str, fast_path: bool = True) -> Callable[[], None]:
    os.environ["BLACKLODGE_TIMEOUT"] = timeout
    os.environ["BLACKLODGE_ACCESS_LOG"] = access_log
    app = create_app(load_settings(), fast_path=fast_path)
    runtime = get_runtime(app)
    deadline = time.monotonic() + 10
    while not runtime.handler.is_loaded() and time.monotonic() < deadline:
        time.sleep(0.01)
    # What WebServer.load gives gunicorn: the FastPath, or the Flask app without one.
    return caller(app.wsgi_app if fast_path else app)


def main() -> None:
    out = sys.__stdout__
    with open(os.devnull, "w") as devnull:
        setup_logging("http", log_format="json", level="info", capture_output=True, stream=devnull)
        variants = {
            "bare": caller(bare_app.app),
            "harness": harness("60", "true"),
            "harness-no-access-log": harness("60", "false"),
            "harness-timeout-0": harness("0", "true"),
            "harness-lean": harness("0", "false"),
            "harness-flask": harness("60", "true", fast_path=False),
        }
        for name, us in cpu_us(variants).items():
            print(f"{name} {us:.0f}", file=out, flush=True)


main()
