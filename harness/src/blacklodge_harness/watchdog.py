"""Deadlines for handler calls that run on the request thread (HTTP mode under ``blacklodge web``).

Handing every call to a pool thread so that the request thread can stop waiting
at the deadline costs two thread switches per request (about a third of the throughput
of a cheap handler; see bench/results/wrapper.md). The call therefore runs on the request
thread itself, and one :class:`Watchdog` thread per worker keeps the deadlines: when a
call is still running at its deadline, the watchdog answers the request (``504``) through
the server's ``respond`` callable (see :data:`blacklodge_harness.pipeline.RESPOND_KEY`).
When the call finally returns, its result is discarded.

Registering a call is a dictionary insert under a lock (releasing it, a lock-free
``dict.pop``) and does not wake the
watchdog thread unless the new deadline comes before the time the thread
already plans to wake up. (Waking it whenever no other call was in flight cost
a thread switch and a GIL hand-off per request at low concurrency.) With no call in flight the thread
sleeps for one timeout, and otherwise until the earliest deadline; a call
starting later has a later deadline, so in the steady state no request wakes it.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, cast
from collections.abc import Callable

log = logging.getLogger("blacklodge.http")


class Ticket(list[Any]):
    """One call being watched: ``[key, deadline, respond, request_id, started, environ, answered]``.

    A list with named accessors rather than a class with ``__init__``: :meth:`Watchdog.watch`
    makes one per request, and building a list takes no Python frame.
    """

    __slots__ = ()

    @property
    def key(self) -> int:
        return cast("int", self[0])

    @property
    def deadline(self) -> float:
        return cast("float", self[1])

    @property
    def respond(self) -> Callable[[int, list[tuple[str, str]], bytes], Any]:
        """The server's early answer for this request."""
        return cast("Callable[[int, list[tuple[str, str]], bytes], Any]", self[2])

    @property
    def request_id(self) -> str:
        return cast("str", self[3])

    @property
    def started(self) -> float:
        return cast("float", self[4])

    @property
    def environ(self) -> dict[str, Any]:
        return cast("dict[str, Any]", self[5])

    @property
    def answered(self) -> threading.Event | None:
        """Set (by the watchdog) once the timeout answer is on the wire; created when the deadline passes."""
        return cast("threading.Event | None", self[6])

    @answered.setter
    def answered(self, event: threading.Event) -> None:
        self[6] = event


class Watchdog:
    """Answers calls that overrun their deadline; ``on_expire`` writes the answer."""

    def __init__(self, on_expire: Callable[[Ticket], None], timeout: float) -> None:
        self._on_expire = on_expire
        #: Every call's deadline is its start plus this; also the idle sleep.
        self._timeout = timeout
        self._lock = threading.Lock()
        self._tickets: dict[int, Ticket] = {}
        self._keys = itertools.count()
        self._wake = threading.Event()
        #: When the watchdog thread will look at the deadlines next (monotonic clock).
        self._wake_at = 0.0
        self._thread: threading.Thread | None = None
        self._stopped = False
        #: Calls answered by the watchdog that have not returned yet.
        self.overrunning = 0

    def watch(
        self,
        deadline: float,
        respond: Callable[[int, list[tuple[str, str]], bytes], Any],
        request_id: str,
        started: float,
        environ: dict[str, Any],
    ) -> Ticket:
        """Start watching a call; pass the ticket to :meth:`release` when the call returns."""
        key = next(self._keys)
        ticket = Ticket((key, deadline, respond, request_id, started, environ, None))
        with self._lock:
            self._tickets[key] = ticket
            early = deadline < self._wake_at
        if self._thread is None:
            self._start()
        elif early:
            self._wake.set()
        return ticket

    def release(self, ticket: Ticket) -> bool:
        """The call returned: True if in time, False if the watchdog already answered the request.

        In the second case this waits until the answer is completely written.
        """
        # dict.pop is atomic: either this or the watchdog's expiry removes the ticket, never both.
        if self._tickets.pop(ticket[0], None) is not None:
            return True
        answered = ticket.answered
        if answered is not None:
            answered.wait()
        with self._lock:
            self.overrunning -= 1
        return False

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="blacklodge-deadlines", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped:
            with self._lock:
                self._wake.clear()
                now = time.monotonic()
                # At most one call per request thread (plus overrunning ones): a scan is cheap.
                # release() does not take the lock: scan a copy (list() of a dict is atomic).
                tickets = list(self._tickets.values())
                earliest = min((ticket.deadline for ticket in tickets), default=now + self._timeout)
                self._wake_at = earliest
                expired = []
                if earliest <= now:
                    for key, ticket in list(self._tickets.items()):
                        if ticket.deadline > now:
                            continue
                        # The event exists before the ticket leaves the dict, so a release()
                        # that finds the ticket gone always has an answer to wait for. pop,
                        # not del: the call may have been released since the copy.
                        ticket.answered = threading.Event()
                        if self._tickets.pop(key, None) is not None:
                            self.overrunning += 1
                            expired.append(ticket)
            if not expired:
                self._wake.wait(earliest - now)
                continue
            for ticket in expired:
                try:
                    self._on_expire(ticket)
                except Exception:  # noqa: BLE001 - the watchdog must keep running
                    log.exception("could not answer a request that overran its deadline")
                finally:
                    assert ticket.answered is not None
                    ticket.answered.set()
