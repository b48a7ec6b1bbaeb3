"""CPU time and instructions per POST /predict of the WSGI apps themselves, without a server.

Each request calls the WSGI app with the environ granian builds for it (the harness's variants
with the early answer granian's adapter adds, so the call takes the path it takes under
``blacklodge web``: on the request thread, the deadline kept by the watchdog thread). What the
server costs (HTTP parsing, sockets) is the same for both and is left out, so the difference
is exactly what the harness adds.

    cpu_per_request.py                   one "name microseconds" line per variant: the lowest of
                                         15 interleaved batches of 1000 requests (CPU time)
    cpu_per_request.py --only NAME N     N requests of one variant and nothing else; run under
                                         valgrind --tool=callgrind with 5N and with N, the
                                         difference of the instruction counts over 4N is the
                                         instructions per request (repeatable, unlike time)
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

APP_DIR = os.environ["BENCH_APP_DIR"]
os.environ.update(BLACKLODGE_ENTRYPOINT="model:predict", BLACKLODGE_APP_DIR=APP_DIR)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bare_app  # noqa: E402
from blacklodge_harness.config import load_settings  # noqa: E402
from blacklodge_harness.logs import setup_logging  # noqa: E402
from blacklodge_harness.pipeline import RESPOND_KEY  # noqa: E402
from blacklodge_harness.web import create_app, get_runtime  # noqa: E402

BODY = b'{"amount": 120.5, "items": 3, "new_customer": true}'
CALLS = 1000
#: What granian puts into every environ (its scope plus the WSGI keys of the call wrapper).
BASE_ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "POST",
    "PATH_INFO": "/predict",
    "QUERY_STRING": "",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8080",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "127.0.0.1:8080",
    "CONTENT_TYPE": "application/json",
    "CONTENT_LENGTH": str(len(BODY)),
    "wsgi.url_scheme": "http",
    "wsgi.input_terminated": True,
    "wsgi.multithread": True,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
    "wsgi.version": (1, 0),
}


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    pass


def _early_answer(status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    pass


def caller(app: Callable[..., Any], early_answer: bool) -> Callable[[], None]:
    """One request as granian's call wrapper makes it: environ, the app, the body joined."""

    def call() -> None:
        environ = dict(BASE_ENVIRON)
        environ["wsgi.input"] = io.BytesIO(BODY)
        if early_answer:
            environ[RESPOND_KEY] = _early_answer
        b"".join(app(environ, _start_response))

    return call


def harness(timeout: str, access_log: str) -> Callable[[], None]:
    os.environ["BLACKLODGE_TIMEOUT"] = timeout
    os.environ["BLACKLODGE_ACCESS_LOG"] = access_log
    app = create_app(load_settings())
    runtime = get_runtime(app)
    deadline = time.monotonic() + 10
    while not runtime.handler.is_loaded() and time.monotonic() < deadline:
        time.sleep(0.01)
    return caller(app.wsgi_app, early_answer=True)


VARIANTS: dict[str, Callable[[], Callable[[], None]]] = {
    "bare": lambda: caller(bare_app.app, early_answer=False),
    "harness": lambda: harness("60", "true"),
    "harness-no-access-log": lambda: harness("60", "false"),
    "harness-timeout-0": lambda: harness("0", "true"),
    "harness-lean": lambda: harness("0", "false"),
}


def cpu_us(variants: dict[str, Callable[[], None]], repeats: int = 15) -> dict[str, float]:
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


def main() -> None:
    out = sys.__stdout__
    assert out is not None
    with open(os.devnull, "w") as devnull:
        setup_logging("http", log_format="json", level="info", capture_output=True, stream=devnull)
        if sys.argv[1:2] == ["--only"]:
            call = VARIANTS[sys.argv[2]]()
            call()  # the first call builds the caches every later one finds
            for _ in range(int(sys.argv[3])):
                call()
            for handler in logging.getLogger().handlers:
                handler.flush()  # the access lines still queued are formatted and written too
            os._exit(0)  # no interpreter teardown in the count
        variants = {name: make() for name, make in VARIANTS.items()}
        for name, us in cpu_us(variants).items():
            print(f"{name} {us:.1f}", file=out, flush=True)


main()
