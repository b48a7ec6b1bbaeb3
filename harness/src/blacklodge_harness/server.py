"""``blacklodge web``: granian serving the harness's WSGI pipeline, one app per worker process.

Why granian: on the same core and the same function it serves about three times the
requests of gunicorn's gthread worker (its HTTP parsing and socket handling are Rust, not
Python); the comparison is in ``bench/results/wrapper.md``. Each worker process builds its own
app (:func:`load_worker`; nothing is loaded in the master, so a model is never shared across
fork) and serves it on ``BLACKLODGE_THREADS`` blocking threads.

The contract granian keeps by itself: worker respawn after a crash
(``respawn_failed_workers``), graceful stop with a deadline (``workers_kill_timeout`` =
``BLACKLODGE_GRACE_PERIOD``), the keep-alive idle timeout (HTTP/1 header read timeout),
backpressure (at most ``backpressure`` requests per worker in the application at once; the
rest wait in the socket backlog), recycling (``BLACKLODGE_WORKER_LIFETIME``).

The adapter (:func:`_adapt_granian`, the only code here that knows granian's internals):

* **deadlines**: granian hands the application a response sender (``proto``) that it calls
  once with the answer. The adapter puts ``proto.response_bytes`` into ``environ`` under
  :data:`~blacklodge_harness.pipeline.RESPOND_KEY`, so the deadline watchdog answers ``504``
  through it while the call keeps the request thread; the late answer of the call itself is
  then dropped by granian (a second call of the sender is ignored);
* **SIGTERM**: the worker's signal handler first turns readiness to 503, keeps serving for
  ``BLACKLODGE_DRAIN_DELAY``, then tells granian to stop accepting;
* **shutdown**: after granian's serve loop returns, in-flight calls get the rest of the grace
  period, then the class's ``shutdown()`` runs.

The names it replaces (``granian.server.mp._wsgi_call_wrap``, ``granian._signals.set_sync_signals``)
are checked at start, and ``tests/test_server.py`` runs against the granian version the lock
pins; ``pyproject.toml`` accepts only the minor versions tested.

Exit codes: 0 after SIGTERM/SIGINT, 4 when the entry point fails to load, 1 when the port
cannot be bound or a worker keeps crashing.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from blacklodge_harness.config import Settings, load_settings
from blacklodge_harness.core import Handler
from blacklodge_harness.metrics import MultiprocessStore
from blacklodge_harness.pipeline import RESPOND_KEY, Pipeline, WsgiApp
from blacklodge_harness.runtime import LOAD_FAILED_MARKER, ReadyMarkers, WebRuntime, exit_on_load_failure

log = logging.getLogger("blacklodge.server")

#: Exit code when the entry point failed to load (as with gunicorn's "App failed to load").
EXIT_LOAD_FAILED = 4


def writable_tmp_dir() -> str:
    """``/dev/shm`` when usable (tmpfs: readiness and metrics files never touch disk), else ``$TMPDIR``."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


#: granian's own log configuration, merged over its default: no handlers of its own, so its
#: messages (logger ``_granian``) reach the harness's handler on the root logger.
GRANIAN_LOGGING: dict[str, Any] = {
    "handlers": {},
    "loggers": {"_granian": {"handlers": [], "propagate": True}, "granian.access": {"handlers": [], "propagate": False}},
}


def granian_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``granian.Granian`` for ``settings``."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    keepalive_ms = math.ceil(settings.keepalive * 1000)
    return {
        "address": settings.host,
        "port": settings.port,
        "interface": Interfaces.WSGI,
        "workers": settings.workers,
        "blocking_threads": settings.threads,
        # Requests a worker takes into the application at once: its threads, and as many
        # queued behind them (a fast handler keeps every thread busy without waiting on
        # the event loop); the rest wait in the listen backlog for any worker.
        "backpressure": 2 * settings.threads,
        "http": HTTPModes.http1,
        # keep_alive=False closes each connection after its answer; otherwise an idle
        # connection is closed when no new request head arrived within the keep-alive time.
        "http1_settings": HTTP1Settings(keep_alive=keepalive_ms > 0, header_read_timeout=max(1, keepalive_ms)),
        "websockets": False,
        "log_enabled": True,
        "log_level": settings.log_level,
        "log_dictconfig": GRANIAN_LOGGING,
        "log_access": False,  # the pipeline logs each request itself, with its request id
        "respawn_failed_workers": True,
        "respawn_interval": 0.5,
        "workers_kill_timeout": max(1, math.ceil(settings.grace_period)),
        "workers_lifetime": math.ceil(settings.worker_lifetime) if settings.worker_lifetime > 0 else None,
    }


# --------------------------------------------------------------------------- the adapter (worker side)


def _call_wrapper(callback: Any, scope_opts: dict[str, Any], access_log_fmt: Any = None) -> Any:
    """granian's WSGI call wrapper, plus the response sender in ``environ`` (see the module doc)."""
    base: dict[str, Any] = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SCRIPT_NAME": "",
        "SERVER_SOFTWARE": "granian",
        "wsgi.errors": sys.stderr,
        "wsgi.input_terminated": True,
        "wsgi.multiprocess": True,
        "wsgi.multithread": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }

    def run(proto: Any, scope: dict[str, Any]) -> int:
        answer: list[Any] = [200, []]

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            answer[0] = int(status[:3])
            answer[1] = headers

        environ = base | scope
        environ[RESPOND_KEY] = proto.response_bytes
        body = callback(environ, start_response)
        status: int = answer[0]
        if type(body) is list:
            proto.response_bytes(status, answer[1], b"".join(body))
        else:
            proto.response_iter(status, answer[1], _Chunks(body))
        return status

    return run


class _Chunks:
    """A WSGI body iterable as the iterator (with ``close``) granian's streaming answer takes."""

    __slots__ = ("inner", "__next__")

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.__next__ = iter(inner).__next__

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def _signal_handling(runtime: WebRuntime) -> Any:
    """Replaces granian's worker signal setup: readiness off at once, stop after the drain delay."""
    from granian._granian import WorkerSignal

    stop_event = WorkerSignal()
    stopping = threading.Event()

    def stop() -> None:
        runtime.begin_drain()
        stop_event.set()

    def on_signal(signum: int, frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        runtime.begin_stop()
        delay = runtime.settings.drain_delay
        if delay > 0:
            # Keep accepting while the load balancer notices /readyz is failing.
            timer = threading.Timer(delay, stop)
            timer.daemon = True
            timer.start()
        else:
            stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return stop_event


def _finish(runtime: WebRuntime) -> None:
    """After granian stopped accepting: wait for in-flight requests (within the grace period), then shut down."""
    deadline = time.monotonic() + max(0.0, runtime.settings.grace_period - runtime.settings.drain_delay)
    while runtime.active and time.monotonic() < deadline:
        time.sleep(0.02)
    overrunning = runtime.watchdog.overrunning if runtime.watchdog is not None else 0
    runtime.shutdown()
    if runtime.active or overrunning:
        log.warning("exiting with %d call(s) still running", len(runtime.active) or overrunning)
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - nothing left to report it to
            pass


def _adapt_granian(runtime: WebRuntime) -> None:
    """Install the adapter in this worker process (before granian's worker code reads the names)."""
    import granian._signals as granian_signals
    import granian.server.mp as granian_mp

    missing = [name for module, name in ((granian_mp, "_wsgi_call_wrap"), (granian_signals, "set_sync_signals")) if not hasattr(module, name)]
    if missing:
        raise RuntimeError(f"this granian version has no {', '.join(missing)}; install the version harness/requirements.lock pins")
    granian_mp._wsgi_call_wrap = _call_wrapper  # type: ignore[attr-defined] # granian's private name, checked above
    granian_signals.set_sync_signals = partial(_signal_handling, runtime)
    # Runs when granian's worker function returns (multiprocessing's exit finalizers).
    from multiprocessing import util

    util.Finalize(runtime, _finish, args=(runtime,), exitpriority=10)


class _LazyFlask:
    """The pipeline's fallback in a worker whose app adds no routes (no ``BLACKLODGE_APP_SETUP``):
    the Flask app (:func:`blacklodge_harness.web.flask_app`) is made by the first request the
    pipeline does not answer itself (a 404, a 405, a CORS preflight), not before the worker
    serves. Importing Flask and what it imports (Werkzeug's server and test client, Jinja,
    Click) takes about 0.1 s of a container's start (bench/results/start.md)."""

    def __init__(self, runtime: WebRuntime) -> None:
        self._runtime = runtime
        self._app: WsgiApp | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        app = self._app
        if app is None:
            with self._lock:
                if self._app is None:
                    from blacklodge_harness.web import flask_app

                    self._app = flask_app(self._runtime).wsgi_app
                app = self._app
        return app(environ, start_response)


def load_worker(target: str, metrics_dir: str, ready_dir: str) -> Any:
    """granian's target loader, run in each worker process: the app it serves."""
    settings = load_settings()
    on_load_failure = partial(exit_on_load_failure, Path(ready_dir))
    try:
        runtime = WebRuntime(
            settings,
            Handler(settings.entrypoint, settings.app_dir),
            metrics_store=MultiprocessStore(Path(metrics_dir)),
            ready_markers=ReadyMarkers(Path(ready_dir), settings.workers),
        )
        fallback: WsgiApp = _LazyFlask(runtime)
        if settings.app_setup:
            # The app's own routes are added before serving (a failing setup stops the server).
            from blacklodge_harness.web import flask_app

            fallback = flask_app(runtime).wsgi_app
        app = Pipeline(runtime, fallback)
        runtime.start(on_load_failure)
    except Exception as exc:  # noqa: BLE001 - BLACKLODGE_APP_SETUP failed: as a broken entry point
        on_load_failure(exc)  # exits the worker
    _adapt_granian(runtime)
    return app


# --------------------------------------------------------------------------- the master


def serve(settings: Settings) -> int:
    """Run granian until it stops; returns the exit status."""
    from granian import Granian

    tmp_dir = writable_tmp_dir()
    metrics_dir = Path(tempfile.mkdtemp(prefix="blacklodge-metrics-", dir=tmp_dir))
    ready_dir = Path(tempfile.mkdtemp(prefix="blacklodge-ready-", dir=tmp_dir))
    master_pid = os.getpid()
    code = 0
    try:
        log.info(
            "starting HTTP server on %s:%d (%d workers x %d threads, timeout %gs, body limit %d bytes)",
            settings.host,
            settings.port,
            settings.workers,
            settings.threads,
            settings.timeout,
            settings.max_body_size,
        )
        server = Granian("blacklodge_harness", **granian_options(settings))
        server.serve(target_loader=partial(load_worker, metrics_dir=str(metrics_dir), ready_dir=str(ready_dir)))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if os.getpid() == master_pid:
            if (ready_dir / LOAD_FAILED_MARKER).exists():
                code = EXIT_LOAD_FAILED
            shutil.rmtree(metrics_dir, ignore_errors=True)
            shutil.rmtree(ready_dir, ignore_errors=True)
    return code
