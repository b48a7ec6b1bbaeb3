"""Deadlines for handler calls that run on the request thread (HTTP mode under gunicorn).

Handing every call to a pool thread so that the request thread can stop waiting
at the deadline costs two thread switches per request (about 35 µs of CPU, more
than everything else the harness does; see bench/results/wrapper.md). Under
gunicorn the call therefore runs on the request thread itself, and one
:class:`Watchdog` thread per worker keeps the deadlines: when a call is still
running at its deadline, the watchdog answers the request (``504``) on the
client socket, which gunicorn hands to the application in ``environ`` as
``gunicorn.socket``, and shuts the socket for writing. When the call finally
returns, its result is discarded and the request thread gives the connection
back to gunicorn as closed.

Registering a call is a dictionary insert under a lock. All calls of a worker
have the same timeout, so the order of registration is the order of the
deadlines and the watchdog only ever looks at the oldest call; it sleeps until
that one's deadline (or, with no call in flight, until woken by the next one).
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from typing import Any, Callable, Dict, Optional

log = logging.getLogger("blacklodge.http")


class Ticket:
    """One call being watched."""

    __slots__ = ("key", "deadline", "sock", "request_id", "started", "environ", "answered")

    def __init__(
        self, key: int, deadline: float, sock: socket.socket, request_id: str, started: float, environ: Dict[str, Any]
    ) -> None:
        self.key = key
        self.environ = environ
        self.deadline = deadline
        self.sock = sock
        self.request_id = request_id
        self.started = started
        #: Set (by the watchdog) once the timeout answer is on the wire; created when the deadline passes.
        self.answered: Optional[threading.Event] = None


class Watchdog:
    """Answers calls that overrun their deadline; ``on_expire`` writes the answer."""

    def __init__(self, on_expire: Callable[[Ticket], None], idle_wait: float = 60.0) -> None:
        self._on_expire = on_expire
        self._idle_wait = idle_wait
        self._lock = threading.Lock()
        self._tickets: Dict[int, Ticket] = {}
        self._keys = itertools.count()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._stopped = False
        #: Calls answered by the watchdog that have not returned yet.
        self.overrunning = 0

    def watch(
        self, deadline: float, sock: socket.socket, request_id: str, started: float, environ: Dict[str, Any]
    ) -> Ticket:
        """Start watching a call; pass the ticket to :meth:`release` when the call returns."""
        ticket = Ticket(next(self._keys), deadline, sock, request_id, started, environ)
        with self._lock:
            was_idle = not self._tickets
            self._tickets[ticket.key] = ticket
        if self._thread is None:
            self._start()
        if was_idle:
            self._wake.set()
        return ticket

    def release(self, ticket: Ticket) -> bool:
        """The call returned: True if in time, False if the watchdog already answered the request.

        In the second case this waits until the answer is completely written.
        """
        with self._lock:
            in_time = self._tickets.pop(ticket.key, None) is not None
        if in_time:
            return True
        if ticket.answered is not None:
            ticket.answered.wait()
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
            self._wake.clear()
            with self._lock:
                first = next(iter(self._tickets.values()), None)
            now = time.monotonic()
            if first is None:
                self._wake.wait(self._idle_wait)
                continue
            if first.deadline > now:
                # A call registered later has a later deadline (same timeout for all).
                time.sleep(first.deadline - now)
                continue
            expired = []
            with self._lock:
                for key, ticket in list(self._tickets.items()):
                    if ticket.deadline > now:
                        break
                    del self._tickets[key]
                    ticket.answered = threading.Event()
                    self.overrunning += 1
                    expired.append(ticket)
            for ticket in expired:
                try:
                    self._on_expire(ticket)
                except Exception:  # noqa: BLE001 - the watchdog must keep running
                    log.exception("could not answer a request that overran its deadline")
                finally:
                    try:
                        ticket.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    assert ticket.answered is not None
                    ticket.answered.set()
