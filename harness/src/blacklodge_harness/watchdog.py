"""Deadlines for handler calls that run on the request thread (HTTP mode under ``blacklodge web``).

Handing every call to a pool thread so that the request thread can stop waiting
at the deadline costs two thread switches per request (about a third of the throughput
of a cheap handler; see bench/results/wrapper.md). The call therefore runs on the request
thread itself, and one :class:`Watchdog` thread per worker keeps the deadlines: when a
call is still running at its deadline, the watchdog answers the request (``504``) through
the server's ``respond`` callable (see :data:`blacklodge_harness.pipeline.RESPOND_KEY`).
When the call finally returns, its result is discarded.

Registering a call is one dictionary insert and one comparison, releasing it one
``dict.pop``, both without a lock: ``dict`` operations are atomic, and whichever of the
release and the watchdog's expiry pops the call first owns it. The thread is not woken
unless a new deadline comes before the time it plans to wake up. With no call in flight
it sleeps for one timeout, otherwise until the earliest deadline; a call starting later
has a later deadline, so in the steady state no request wakes it.

Why no registration is missed without a lock: before each scan the thread sets its planned
wake-up to infinity (every registration meanwhile wakes it again), and only after the scan
to the earliest deadline it found; a call registered after that compares its deadline with
the new time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, NamedTuple
from collections.abc import Callable

log = logging.getLogger("blacklodge.http")

#: What the server's early answer looks like: ``respond(status, headers, body)``.
Respond = Callable[[int, list[tuple[str, str]], bytes], Any]


class Ticket(NamedTuple):
    """A call that overran its deadline, as :class:`Watchdog` hands it to ``on_expire``."""

    key: int
    deadline: float
    respond: Respond
    request_id: str
    started: float
    environ: dict[str, Any]


class Watchdog:
    """Answers calls that overrun their deadline; ``on_expire`` writes the answer."""

    def __init__(self, on_expire: Callable[[Ticket], None], timeout: float) -> None:
        self._on_expire = on_expire
        #: Every call's deadline is its start plus this; also the idle sleep.
        self._timeout = timeout
        #: Calls being watched: key -> (deadline, respond, request_id, started, environ).
        self.calls: dict[int, tuple[float, Respond, str, float, dict[str, Any]]] = {}
        #: Set by the thread before it takes a call away (see :meth:`release`).
        self._answered: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        #: When the thread will look at the deadlines next (monotonic clock); infinity while
        #: it scans, so that a registration during the scan wakes it again.
        self.wake_at = 0.0
        self.thread: threading.Thread | None = None
        self._stopped = False
        #: Calls answered by the watchdog that have not returned yet.
        self.overrunning = 0

    def watch(self, key: int, deadline: float, respond: Respond, request_id: str, started: float, environ: dict[str, Any]) -> None:
        """Start watching the call ``key`` (unique among the calls in flight); :meth:`release` it when it returns."""
        self.calls[key] = (deadline, respond, request_id, started, environ)
        if deadline < self.wake_at:
            self._wake.set()
        if self.thread is None:
            self._start()

    def release(self, key: int) -> bool:
        """The call returned: True if in time, False if the watchdog already answered the request.

        In the second case this waits until the answer is completely written.
        """
        if self.calls.pop(key, None) is not None:
            return True
        with self._lock:
            answered = self._answered.pop(key)
        answered.wait()
        with self._lock:
            self.overrunning -= 1
        return False

    def _start(self) -> None:
        with self._lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=self._run, name="blacklodge-deadlines", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def _expired(self, now: float) -> tuple[list[tuple[Ticket, threading.Event]], float]:
        """Takes the calls past their deadline away (each with the event its release waits
        for); the earliest deadline of the others."""
        calls = self.calls
        expired: list[tuple[Ticket, threading.Event]] = []
        earliest = now + self._timeout
        # list() of a dict's items is atomic: requests keep adding and popping meanwhile.
        for key, call in list(calls.items()):
            deadline = call[0]
            if deadline > now:
                earliest = min(earliest, deadline)
                continue
            answered = threading.Event()
            with self._lock:
                # Before the pop: a release() that finds the call gone has an answer to wait for.
                self._answered[key] = answered
                if calls.pop(key, None) is None:  # released since the copy
                    del self._answered[key]
                    continue
                self.overrunning += 1
            expired.append((Ticket(key, *call), answered))
        return expired, earliest

    def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()
            self.wake_at = math.inf
            now = time.monotonic()
            expired, earliest = self._expired(now)
            self.wake_at = earliest
            if not expired:
                self._wake.wait(earliest - now)
                continue
            for ticket, answered in expired:
                try:
                    self._on_expire(ticket)
                except Exception:  # noqa: BLE001 - the watchdog must keep running
                    log.exception("could not answer a request that overran its deadline")
                finally:
                    answered.set()
