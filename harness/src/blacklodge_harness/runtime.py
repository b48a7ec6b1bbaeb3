"""Per-process state of the HTTP mode, without Flask: the handler, its invoker and watchdog,
the request metrics (:mod:`blacklodge_harness.tally`), readiness across workers and the
draining flags.

:class:`~blacklodge_harness.pipeline.Pipeline` serves the harness's routes from a
:class:`WebRuntime` alone; Flask (:mod:`blacklodge_harness.web`) is only needed for the app's
own routes and the answers Flask makes (404, 405, CORS preflights).
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable

from blacklodge_harness import logs
from blacklodge_harness.config import Settings
from blacklodge_harness.core import Handler, HandlerMetrics, Invoker
from blacklodge_harness.errors import HarnessError
from blacklodge_harness.metrics import MultiprocessStore, Registry, register_app_info, render
from blacklodge_harness.tally import RequestTally
from blacklodge_harness.watchdog import Watchdog

log = logging.getLogger("blacklodge.http")


class ReadyMarkers:
    """Readiness of the whole server: one marker file per ready worker, in a directory the server made.

    A worker of ``blacklodge web`` writes its marker (named after its pid) once its entry point has
    loaded, and removes it on SIGTERM; the marker of a worker that died is ignored
    (and removed) by the next count. ``/readyz``, whichever worker answers it, counts the markers of live workers
    against the configured number, so the server reports ready only when every worker
    is (a respawned worker still loading makes it not ready again).
    """

    def __init__(self, directory: Path, workers: int) -> None:
        self.directory = directory
        self.workers = workers

    def _path(self, pid: int) -> Path:
        return self.directory / str(pid)

    def mark(self) -> None:
        """This process is ready."""
        self._path(os.getpid()).touch()

    def unmark(self, pid: int | None = None) -> None:
        """This process (or the exited worker ``pid``) is no longer ready."""
        try:
            self._path(os.getpid() if pid is None else pid).unlink()
        except FileNotFoundError:
            pass

    def count(self) -> int:
        """Ready workers: markers of processes that are still alive."""
        ready = 0
        try:
            names = os.listdir(self.directory)
        except OSError:
            return 0
        for name in names:
            if not name.isdigit():
                continue
            try:
                os.kill(int(name), 0)
            except ProcessLookupError:
                self.unmark(int(name))  # died without removing it
                continue
            except PermissionError:
                pass  # alive, owned by another user (not the case under ``blacklodge web``)
            ready += 1
        return ready


class WebRuntime:
    """Per-process state of the HTTP mode: handler, invoker, metrics, draining flags."""

    def __init__(
        self,
        settings: Settings,
        handler: Handler,
        *,
        metrics_store: MultiprocessStore | None = None,
        ready_markers: ReadyMarkers | None = None,
    ) -> None:
        self.settings = settings
        self.handler = handler
        #: Readiness across the server's workers (None: this process alone decides).
        self.ready_markers = ready_markers
        #: Orders writing this worker's ready marker against removing it at SIGTERM.
        self._marker_lock = threading.Lock()
        self.started_at = datetime.now(timezone.utc)
        #: SIGTERM received: /readyz answers 503 (requests are still served during the drain delay).
        self.stopping = False
        #: No longer taking new work: /predict answers 503.
        self.draining = False
        #: With a store, this worker's values are in its files there (read by every scrape).
        self.registry = Registry(metrics_store.values() if metrics_store is not None else None)
        self.store = metrics_store
        self.handler_metrics = HandlerMetrics(self.registry)
        self.requests = self.registry.counter(
            "blacklodge_http_requests_total", "HTTP requests by route, method and status.", ["route", "method", "status"]
        )
        self.latency = self.registry.histogram(
            "blacklodge_http_request_duration_seconds", "HTTP request latency by route.", ["route"]
        )
        #: Requests being handled, by token: adding and removing a key are atomic, so the
        #: request path takes no lock; the in-flight gauge is their number (written by the tally).
        self.active: dict[int, None] = {}
        #: Tokens of requests in ``active`` (unique while in flight: also the watchdog's key).
        self.flights = itertools.count()
        in_flight = self.registry.gauge("blacklodge_http_requests_in_flight", "HTTP requests being handled.").slots_locked()
        register_app_info(self.registry, settings.app_name, settings.app_version, settings.revision)
        self.invoker = Invoker(
            handler, concurrency=settings.threads, timeout=settings.timeout, metrics=self.handler_metrics
        )
        #: Deadlines of calls on the request threads (set by FastPath when there is a timeout).
        self.watchdog: Watchdog | None = None
        self.access_log = logs.AccessLog()
        #: Counts finished requests into the metrics in batches (:mod:`blacklodge_harness.tally`).
        self.tally = RequestTally(
            self.registry,
            self.requests,
            self.latency,
            self.handler_metrics.calls,
            self.handler_metrics.duration,
            in_flight,
            self.active,
        )
        #: Where a finished request goes: ``finished.append((key, route, seconds, call))``.
        self.finished = self.tally.pending

    def begin_request(self) -> int:
        """Count a request as in flight; pass the token to :meth:`end_request`."""
        token = next(self.flights)
        self.active[token] = None
        return token

    def end_request(
        self,
        token: int,
        key: tuple[str, str, str],
        route: tuple[str],
        elapsed: float,
        call: tuple[tuple[str], float] | None = None,
    ) -> None:
        """Record a finished request: count (route, method, status), latency, no longer in flight.

        ``call`` is the handler call's outcome (a 1-tuple such as ``("ok",)``) and duration,
        when the request's thread made one. Counted by the tally's next drain.
        """
        self.active.pop(token, None)
        self.finished.append((key, route, elapsed, call))

    def saturated(self) -> bool:
        """Every handler thread is held by a call that overran its deadline (liveness fails)."""
        if self.invoker.saturated():
            return True
        return self.watchdog is not None and self.watchdog.overrunning >= self.settings.threads

    def start(self, on_failure: Callable[[BaseException], None]) -> None:
        """Load the entry point on a background thread (the probes answer meanwhile)."""

        def run() -> None:
            try:
                self.handler.start()
            except BaseException as exc:  # noqa: BLE001 - reported through on_failure
                on_failure(exc)
                return
            markers = self.ready_markers
            if markers is not None:
                with self._marker_lock:
                    if not self.stopping:
                        markers.mark()

        threading.Thread(target=run, name="blacklodge-load", daemon=True).start()

    def _unmark(self) -> None:
        markers = self.ready_markers
        if markers is not None:
            with self._marker_lock:
                markers.unmark()

    def begin_stop(self) -> None:
        """SIGTERM: report not ready so load balancers stop sending traffic."""
        if not self.stopping:
            log.info("stopping: readiness now reports 503")
        self.stopping = True
        self._unmark()

    def begin_drain(self) -> None:
        """Stop taking new work; in-flight calls finish."""
        self.stopping = True
        self.draining = True
        self._unmark()

    def shutdown(self) -> None:
        self._unmark()
        self.handler.shutdown()
        self.invoker.shutdown()
        if self.watchdog is not None:
            self.watchdog.stop()
        self.tally.close()

    def render_metrics(self) -> str:
        """This worker's metrics summed with every other worker's (and those of exited ones)."""
        self.tally.drain()
        if self.store is None:
            return self.registry.render()
        return render(self.store.collect(self.registry))


def _log_load_failure(exc: BaseException) -> None:
    if isinstance(exc, HarnessError):
        log.critical("cannot load the entry point: %s", exc.render())
    else:
        log.critical(
            "loading the entry point failed: %s: %s", type(exc).__name__, exc, exc_info=(type(exc), exc, exc.__traceback__)
        )


#: Written into the readiness directory by a worker whose entry point failed to load.
LOAD_FAILED_MARKER = "load-failed"


def exit_on_load_failure(ready_dir: Path, exc: BaseException) -> None:
    """Log, stop the whole server (a broken entry point does not get better by respawning) and exit 4.

    The marker tells the master why it stops (``blacklodge web`` then exits 4).
    """
    _log_load_failure(exc)
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - nothing left to report it to
            pass
    try:
        (ready_dir / LOAD_FAILED_MARKER).touch()
        os.kill(os.getppid(), signal.SIGTERM)
    except OSError:
        pass
    os._exit(4)
