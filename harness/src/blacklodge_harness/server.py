"""``blacklodge web``: gunicorn serving :func:`blacklodge_harness.web.create_app`.

Uses gunicorn's custom-application pattern (``gunicorn.app.base.BaseApplication``):
the settings become gunicorn settings in :func:`gunicorn_options`, and each
worker process builds its own Flask app (no ``preload_app``: a model loaded in
the master and shared by fork does not survive copy-on-write, and some
libraries break across fork).

Worker model: ``gthread`` workers (``BLACKLODGE_WORKERS`` processes x
``BLACKLODGE_THREADS`` threads). The worker class is subclassed only to hear
SIGTERM: readiness turns 503 at once, requests are still taken for
``BLACKLODGE_DRAIN_DELAY`` seconds, then gunicorn stops accepting and gives
in-flight requests the rest of ``BLACKLODGE_GRACE_PERIOD``. The master exits 0.

Exit codes: 0 after SIGTERM/SIGINT, 4 when the entry point fails to load
(gunicorn's "App failed to load"), 1 when the port cannot be bound.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, Optional

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornBaseLogger
from gunicorn.workers.gthread import ThreadWorker

from blacklodge_harness.config import Settings
from blacklodge_harness.metrics import MultiprocessStore
from blacklodge_harness.fastpath import FastPath
from blacklodge_harness.web import ReadyMarkers, WebRuntime, create_app, exit_on_load_failure, get_runtime

log = logging.getLogger("blacklodge.server")


def writable_tmp_dir() -> str:
    """``/dev/shm`` when usable (tmpfs: heartbeat and metrics files never touch disk), else ``$TMPDIR``."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


class GunicornLogger(GunicornBaseLogger):
    """Sends gunicorn's own messages through the harness's log handler and format.

    gunicorn's access log stays off: the app logs each request itself, with the
    request id and without the query string.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
        self.error_log.propagate = True
        self.access_log.propagate = False
        self.access_log.disabled = True


def runtime_of(app: Any) -> Optional[WebRuntime]:
    """The runtime behind what :meth:`WebServer.load` gave gunicorn (None before it loaded)."""
    if isinstance(app, FastPath):
        return app.runtime
    if app is not None and hasattr(app, "extensions"):
        return get_runtime(app)
    return None


class HarnessWorker(ThreadWorker):
    """gthread worker that tells the app when SIGTERM arrives."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        runtime = runtime_of(getattr(self, "wsgi", None))
        delay = float(getattr(self.cfg, "blacklodge_drain_delay", 0.0) or 0.0)
        if runtime is not None:
            runtime.begin_stop()
        if runtime is None or delay <= 0:
            if runtime is not None:
                runtime.begin_drain()
            super().handle_exit(sig, frame)
            return
        if getattr(self, "_blacklodge_stop_timer", None) is not None:
            return

        def stop_accepting() -> None:
            runtime.begin_drain()
            super(HarnessWorker, self).handle_exit(sig, frame)

        # Keep accepting while the load balancer notices /readyz is failing.
        timer = threading.Timer(delay, stop_accepting)
        timer.daemon = True
        self._blacklodge_stop_timer = timer
        timer.start()


# --------------------------------------------------------------------------- hooks (run by gunicorn)


def _worker_exit(server: Any, worker: Any) -> None:
    """In the worker, after in-flight requests finished: run the handler's shutdown()."""
    runtime = runtime_of(getattr(worker, "wsgi", None))
    if runtime is None:
        return
    runtime.shutdown()
    if runtime.watchdog is not None and runtime.watchdog.overrunning > 0:
        # A call that overran its deadline (already answered 504) still holds a request
        # thread. gunicorn's request threads are not daemon threads, so a normal exit
        # would wait for that call; end the worker now, as the grace period is over.
        log.warning("exiting with %d overrunning call(s) still running", runtime.watchdog.overrunning)
        for handler in logging.getLogger().handlers:
            try:
                handler.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(0)


def gunicorn_options(settings: Settings, tmp_dir: str) -> Dict[str, Any]:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return {
        "bind": [f"{host}:{settings.port}"],
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": HarnessWorker,
        # gthread heartbeats from its own loop, so this only catches a worker
        # whose main thread is blocked (for example by a C extension holding the GIL).
        "timeout": max(30, math.ceil(settings.timeout) + 30),
        "graceful_timeout": math.ceil(settings.grace_period),
        "keepalive": math.ceil(settings.keepalive),
        "worker_tmp_dir": tmp_dir,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level,
        "logger_class": GunicornLogger,
        "preload_app": False,
        "proc_name": f"blacklodge-{settings.app_name}",
        "worker_exit": _worker_exit,
        # A read-only root filesystem has no room for it; the harness needs no
        # runtime control besides signals.
        "control_socket_disable": True,
    }


class WebServer(BaseApplication):
    """gunicorn application: settings in, one Flask app per worker."""

    def __init__(self, settings: Settings, tmp_dir: str, metrics_dir: Path, ready_dir: Path) -> None:
        self.settings = settings
        self.tmp_dir = tmp_dir
        self.store = MultiprocessStore(metrics_dir)
        self.ready_markers = ReadyMarkers(ready_dir, settings.workers)
        super().__init__()

    def load_config(self) -> None:
        options = gunicorn_options(self.settings, self.tmp_dir)
        store = self.store
        markers = self.ready_markers

        def child_exit(server: Any, worker: Any) -> None:
            store.archive(worker.pid)
            markers.unmark(worker.pid)

        options["child_exit"] = child_exit
        for key, value in options.items():
            if key in self.cfg.settings:  # older gunicorn releases lack some settings
                self.cfg.set(key, value)
        # Read by HarnessWorker; gunicorn's Config has no such setting.
        self.cfg.blacklodge_drain_delay = self.settings.drain_delay

    def load(self) -> Any:
        """The worker's WSGI application: the app's :class:`FastPath` itself.

        gunicorn calls it directly rather than through ``Flask.__call__`` (one call less per
        request); the Flask app stays behind it for every route the fast path does not answer.
        """
        app = create_app(
            self.settings, metrics_store=self.store, ready_markers=self.ready_markers, on_load_failure=exit_on_load_failure
        )
        return app.wsgi_app if isinstance(app.wsgi_app, FastPath) else app


def serve(settings: Settings) -> int:
    """Run gunicorn until it stops; returns the exit status."""
    tmp_dir = writable_tmp_dir()
    metrics_dir = Path(tempfile.mkdtemp(prefix="blacklodge-metrics-", dir=tmp_dir))
    ready_dir = Path(tempfile.mkdtemp(prefix="blacklodge-ready-", dir=tmp_dir))
    master_pid = os.getpid()
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
        WebServer(settings, tmp_dir, metrics_dir, ready_dir).run()
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        # Worker processes leave gunicorn through this same SystemExit path;
        # only the master owns the directory.
        if os.getpid() == master_pid:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            shutil.rmtree(ready_dir, ignore_errors=True)
    return 0
