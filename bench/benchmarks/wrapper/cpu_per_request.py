"""CPU time per POST /predict inside one process, without server or network.

Calls the bare WSGI app and the harness's app (``create_app``, as a gunicorn worker builds
it) directly with a WSGI environ, so the numbers show what each part of the harness costs,
free of the load generator and of other work on the machine (CPU time, not wall). The environ
carries a connected socket as ``gunicorn.socket``, as gunicorn's does, so the harness takes
the path it takes under gunicorn (the call on the request thread, the deadline kept by the
watchdog thread); ``harness-flask`` is the same app with the Flask views answering
``POST /predict`` (``create_app(fast_path=False)``, the harness before the plain-WSGI path),
which hands every call to the handler thread pool.

Prints one ``name microseconds`` line per variant.
"""

from __future__ import annotations

import io
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

BODY = b'{"amount": 120.5, "items": 3, "new_customer": true}'
CALLS = 1000
# Never written to: every call returns long before its deadline.
SOCKET, _PEER = socket.socketpair()


def environ() -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/predict",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(BODY)),
        "wsgi.input": io.BytesIO(BODY),
        "wsgi.input_terminated": True,
        "gunicorn.socket": SOCKET,
    }


def caller(app: Callable) -> Callable[[], None]:
    def call() -> None:
        result = app(environ(), lambda status, headers: None)
        b"".join(result)
        close = getattr(result, "close", None)
        if close:
            close()

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
    return caller(app)


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
